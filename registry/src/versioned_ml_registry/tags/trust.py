"""Who wrote a registry tag, and whether the authority policy let them.

The policy (:mod:`..rules.authority`) is read from the ref the team protects: ``modelRegistry.policyRef``
when set, else the git remote's main branch (``refs/remotes/origin/main``), else the local
``main`` in a repository without a remote. It is never read from the commit a tag points at,
so a tag on a branch someone else wrote cannot bring its own policy.
"""

from __future__ import annotations

from ..errors import RegistryError
from ..rules.authority import POLICY_FILE, Policy, action_of, parse_policy
from . import refs as gitrefs
from . import signing
from .annotation import STAGE_SUBJECT, safe_body
from .names import parse_tag

DEFAULT_REFS = ("refs/remotes/origin/main", "refs/heads/main")
ROUTED = ("production", "canary", "shadow")  # the stages a server answers with


def policy_ref(toplevel: str) -> str | None:
    """The ref the policy is read from, or None when there is none yet."""
    configured = gitrefs.git(toplevel, "config", "--get", "modelregistry.policyref", check=False)
    name = configured.stdout.decode().strip()
    if name:
        if gitrefs.rev_parse_commit(toplevel, name) is None:
            raise RegistryError(f"git config modelRegistry.policyRef names {name!r}, which is not a commit here: "
                                "fix it, or `git fetch` that ref")
        return name
    for ref in DEFAULT_REFS:
        if gitrefs.rev_parse_commit(toplevel, ref):
            return ref
    return None


def where_policy(toplevel: str) -> str:
    """Where the policy was looked for, for a report: one line."""
    ref = policy_ref(toplevel)
    if ref is None:
        return f"no authority policy: neither {' nor '.join(DEFAULT_REFS)} exists"
    short = ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    found = gitrefs.read_blob(toplevel, ref, POLICY_FILE) is not None
    return f"{POLICY_FILE} at {short}" if found else f"no authority policy: {short} has no {POLICY_FILE}"


def fetch_policy(toplevel: str, remote: str) -> None:
    """Bring the remote's main branch (where the policy lives) up to date, as ``git fetch`` does."""
    gitrefs.git(toplevel, "fetch", "--quiet", remote, f"+refs/heads/main:refs/remotes/{remote}/main")


def load_policy(toplevel: str) -> Policy | None:
    """The authority policy at :func:`policy_ref`, None when that ref has no policy file."""
    ref = policy_ref(toplevel)
    if ref is None:
        return None
    text = gitrefs.read_blob(toplevel, ref, POLICY_FILE)
    if text is None:
        return None
    short = ref.removeprefix("refs/remotes/").removeprefix("refs/heads/")
    where = f"{POLICY_FILE} at {short}"
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{where} does not parse ({str(exc).splitlines()[0]}): fix it on {short}") from None

    def read_signers(path: str) -> str:
        full = "/".join([*POLICY_FILE.split("/")[:-1], path]) if not path.startswith("/") else path.lstrip("/")
        signers = gitrefs.read_blob(toplevel, ref, full)
        if signers is None:
            raise RegistryError(f"{where}: signers names {full}, which is not on {short}")
        return signers

    return parse_policy(data, where, read_signers)


def current_judge(toplevel: str, judge: "Judge | None", require_signed: bool) -> "Judge":
    """``judge`` while the policy is unchanged, else a new one for the policy now on the ref."""
    policy = load_policy(toplevel)
    if judge is not None and judge.policy == policy:
        return judge
    return Judge(toplevel, policy, require_signed)


class Judge:
    """Checks tags against one policy, each tag object once (tag objects never change)."""

    def __init__(self, toplevel: str, policy: Policy | None, require_signed: bool = False):
        self.toplevel, self.policy, self.require_signed = toplevel, policy, require_signed
        self._seen: dict[tuple, str | None] = {}

    def _judged(self, parsed) -> bool:
        if parsed is None:
            return False
        return not self.require_signed or str(getattr(parsed, "stage", "")) in ROUTED

    def problem(self, name: str, message: str, raw: bytes, when: int, returning: bool = True) -> str | None:
        """What is wrong with the tag ``name`` (its message without signature, its object's bytes,
        its tagger time; ``returning``: the version it assigns held production before), or None."""
        payload, signature = signing.split(raw)
        inner = named_in(payload)
        if inner != name:
            return f"its tag object is {inner or 'unnamed'}, not {name}: a copy of another tag's object"
        policy = self.policy
        action = action_of(name, safe_body(message).get("event"), returning)
        restricted = policy is not None and policy.restricts(action)
        required = restricted or self.require_signed
        if signature is None:
            if restricted:
                return f"unsigned, but {policy.entry(action)} needs a signed tag"
            return "unsigned, and serving requires signed tags" if required else None
        checked, principals = signers_of(policy, payload, signature, when)
        if checked.problem:
            return checked.problem
        if required and not principals:
            where = policy.where if policy else "the authority policy"
            return f"signed by a key {where} does not know ({checked.key})"
        if restricted and not policy.permits(action, principals):
            return f"signed by {', '.join(principals)}, who may not write {action} ({policy.entry(action)})"
        return None

    def records(self, records) -> dict[str, str]:
        """{tag name: problem} of the registry tags among ``records`` (``refs.TagRecord``) that
        fail; under ``require_signed``, of the tags of the stages a server serves."""
        returning = returning_versions(records)
        records = [rec for rec in records if self._judged(parse_tag(rec.name))]
        keys = {rec.name: (rec.oid, rec.name, returning.get(rec.name, True)) for rec in records}
        fresh = [rec for rec in records if keys[rec.name] not in self._seen]
        raw = gitrefs.raw_objects(self.toplevel, [rec.oid for rec in fresh])
        for rec in fresh:
            self._seen[keys[rec.name]] = self.problem(rec.name, rec.message, raw.get(rec.oid, b""), rec.time,
                                                      keys[rec.name][2])
        return {rec.name: self._seen[keys[rec.name]] for rec in records if self._seen[keys[rec.name]]}


def signers_of(policy: Policy | None, payload: bytes, signature: bytes, when: int) -> tuple:
    """(what checking ``signature`` found, the principals ``policy`` gives its key at ``when``)."""
    if signature.startswith(signing.SSH_BEGIN):
        return signing.check_ssh(payload, signature, policy.signers if policy else None, when)
    checked = signing.check_openpgp(payload, signature)
    return checked, sorted({who for key in (checked.key, checked.subkey) if policy and key
                            for who in policy.openpgp_principals(key)})


def named_in(payload: bytes) -> str | None:
    """The ``tag`` header of a tag object: the name its tagger signed."""
    for line in payload.split(b"\n"):
        if not line:
            return None
        if line.startswith(b"tag "):
            return line[4:].decode("utf-8", "replace")
    return None


def assigned_version(message: str) -> str | None:
    found = STAGE_SUBJECT.fullmatch(message.partition("\n")[0].strip())
    return found["version"] if found else None


def returning_versions(records) -> dict[str, bool]:
    """For each production and canary tag among ``records``: whether the version it assigns
    held production before it (by tagger time, then name, as the holders are read)."""
    held, returning = set(), {}
    for rec in sorted(records, key=lambda r: (r.time, r.name)):
        parsed = parse_tag(rec.name)
        stage = str(getattr(parsed, "stage", ""))
        if stage in ("production", "canary"):
            version = assigned_version(rec.message)
            returning[rec.name] = version in held
            if stage == "production" and version:
                held.add(version)
    return returning


def refusal(policy: Policy | None, name: str, message: str, raw: bytes, when: int,
            returning: bool = True) -> str | None:
    """Why the tag the command is about to write would break the policy (one line), or None."""
    if policy is None:
        return None
    problem = Judge("", policy).problem(name, message, raw, when, returning)
    if problem is None:
        return None
    if problem.startswith("unsigned"):
        return (f"cannot write {name}: {problem}; configure git to sign "
                "(git config gpg.format ssh; git config user.signingKey KEY); nothing written")
    return f"cannot write {name}: {problem}; nothing written"
