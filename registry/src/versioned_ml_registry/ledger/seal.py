"""Anchoring the ledger's head outside the ledger file: ``decisions seal``.

The hash chain (:mod:`.store`) shows an edited or deleted row, but not a ledger file rewritten
whole with a new, consistent chain. A seal is a signed git tag ``ledger-seal/<name>/<seq>``
(``name`` is ``default`` unless one repository has several servers' ledgers) whose message
records the head row ``seq`` and its ``hash``, signed with the key git signs tags with. Pushed
to the git remote, it is out of reach of whoever can write the ledger's disk.
``decisions verify`` then checks, for each seal of the name, that its signature verifies and
that the ledger's row ``seq`` still has that hash.
"""

from __future__ import annotations

import time
from contextlib import closing

from ..errors import RegistryError
from ..tags import refs as gitrefs
from ..tags import signing
from ..tags.refs import NewTag
from ..tags.trust import load_policy, signers_of
from .queries import verify as verify_chain
from .store import connect

PREFIX = "ledger-seal"
SUBJECT = "Sealing the decision ledger"


def _check_name(name: str) -> str:
    if not name or not name.replace("-", "").replace("_", "").isalnum():
        raise RegistryError(f"invalid seal name {name!r}: letters, digits, - and _ only")
    return name


def seal(toplevel: str, ledger, name: str = "default") -> dict:
    """Sign the ledger's head as the tag ``ledger-seal/<name>/<seq>``; refused when the chain is
    broken (a seal vouches for what it seals) or git is not configured to sign."""
    _check_name(name)
    chain = verify_chain(ledger)
    if chain["problems"]:
        raise RegistryError(f"the ledger's chain is broken ({chain['problems'][0]}): nothing sealed")
    if chain["rows"] == 0:
        raise RegistryError(f"{ledger} has no decisions yet: nothing to seal")
    who = gitrefs.identity(toplevel)
    signer = signing.configured(toplevel, who[1])
    if signer is None:
        raise RegistryError("decisions seal signs with git's key: `git config gpg.format ssh` and "
                            "`git config user.signingKey KEY` (docs/TEAM.md); nothing sealed")
    with closing(connect(ledger, readonly=True)) as conn:
        seq, sealed = conn.execute("SELECT seq, hash FROM head WHERE id = 1").fetchone()  # one pair, one read
    tag = f"{PREFIX}/{name}/{seq}"
    head = gitrefs.rev_parse_commit(toplevel, "HEAD")
    message = f"{SUBJECT} {name} at row {seq}\n\nseq: {seq}\nhash: {sealed}\n"
    payload = gitrefs.tag_object_bytes(NewTag(tag, head, message, int(time.time())), *who)
    oid = gitrefs.write_objects(toplevel, [payload + signer.sign(payload)])[0]
    gitrefs.create_refs(toplevel, [(tag, oid)])
    return {"tag": tag, "seq": seq, "head": sealed}


def _fields(message: str) -> dict:
    found = {}
    for line in message.splitlines()[1:]:
        key, sep, value = line.partition(": ")
        if sep and key in ("seq", "hash"):
            found[key] = value.strip()
    return found


def seal_problems(toplevel: str, ledger, name: str = "default") -> tuple[int, list[str]]:
    """(how many seals of ``name`` were checked, what is wrong): a seal whose signature does not
    verify or whose key the authority policy does not know, or whose row the ledger no longer
    has with the sealed hash."""
    records = gitrefs.read_tags(toplevel, [f"refs/tags/{PREFIX}/{_check_name(name)}/"])
    if not records:
        return 0, []
    policy = load_policy(toplevel)
    raw = gitrefs.raw_objects(toplevel, [rec.oid for rec in records])
    problems = []
    with closing(connect(ledger, readonly=True)) as conn:
        for rec in records:
            payload, signature = signing.split(raw.get(rec.oid, b""))
            sealed = _fields(rec.message)
            if signature is None or not signature.startswith(signing.SSH_BEGIN):
                problems.append(f"{rec.name}: not signed with an ssh key: it anchors nothing")
                continue
            checked, principals = signers_of(policy, payload, signature, rec.time)
            if checked.problem or (policy is not None and policy.signers is not None and not principals):
                problems.append(f"{rec.name}: {checked.problem or 'signed by a key the authority policy does not know'}")
                continue
            if not sealed.get("seq", "").isdigit():
                problems.append(f"{rec.name}: not a ledger seal (no seq)")
                continue
            row = conn.execute("SELECT hash FROM decisions WHERE seq = ?", (int(sealed["seq"]),)).fetchone()
            if row is None:
                problems.append(f"{rec.name}: the ledger has no row {sealed['seq']} any more: rows sealed on "
                                f"{time.strftime('%Y-%m-%d %H:%M', time.gmtime(rec.time))} UTC were deleted")
            elif row[0] != sealed.get("hash"):
                problems.append(f"{rec.name}: row {sealed['seq']} has hash {row[0][:16]}..., the seal says "
                                f"{str(sealed.get('hash'))[:16]}...: the ledger was rewritten since it was sealed")
    return len(records), problems
