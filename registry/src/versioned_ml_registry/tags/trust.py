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
from .annotation import safe_body
from .names import parse_tag

DEFAULT_REFS = ("refs/remotes/origin/main", "refs/heads/main")
ROUTED = ("production", "canary", "shadow")  # the stages a server answers with


def policy_ref(toplevel: str) -> str | None:
    """The ref the policy is read from, or None when there is none yet."""
    configured = gitrefs.git(toplevel, "config", "--get", "modelregistry.policyref", check=False)
    name = configured.stdout.decode().strip()
    if name:
        return name
    for ref in DEFAULT_REFS:
        if gitrefs.rev_parse_commit(toplevel, ref):
            return ref
    return None


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
        self._seen: dict[str, str | None] = {}

    def _judged(self, parsed) -> bool:
        if parsed is None:
            return False
        return not self.require_signed or str(getattr(parsed, "stage", "")) in ROUTED

    def problem(self, name: str, message: str, raw: bytes, when: int) -> str | None:
        """What is wrong with the tag ``name`` (its message without signature, its object's bytes,
        its tagger time), or None."""
        payload, signature = signing.split(raw)
        policy = self.policy
        action = action_of(name, safe_body(message).get("event"))
        restricted = policy is not None and policy.restricts(action)
        required = restricted or self.require_signed
        if signature is None:
            if restricted:
                return f"unsigned, but {policy.entry(action)} needs a signed tag"
            return "unsigned, and serving requires signed tags" if required else None
        if signature.startswith(signing.SSH_BEGIN):
            checked, principals = signing.check_ssh(payload, signature, policy.signers if policy else None, when)
        else:
            checked = signing.check_openpgp(payload, signature)
            principals = policy.openpgp_principals(checked.key) if policy and checked.key else []
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
        records = [rec for rec in records if self._judged(parse_tag(rec.name))]
        fresh = [rec for rec in records if rec.oid not in self._seen]
        raw = gitrefs.raw_objects(self.toplevel, [rec.oid for rec in fresh])
        for rec in fresh:
            self._seen[rec.oid] = self.problem(rec.name, rec.message, raw.get(rec.oid, b""), rec.time)
        return {rec.name: self._seen[rec.oid] for rec in records if self._seen[rec.oid]}


def refusal(policy: Policy | None, name: str, message: str, raw: bytes, when: int) -> str | None:
    """Why the tag the command is about to write would break the policy (one line), or None."""
    if policy is None:
        return None
    problem = Judge("", policy).problem(name, message, raw, when)
    if problem is None:
        return None
    if problem.startswith("unsigned"):
        return (f"cannot write {name}: {problem}; configure git to sign "
                "(git config gpg.format ssh; git config user.signingKey KEY); nothing written")
    return f"cannot write {name}: {problem}; nothing written"
