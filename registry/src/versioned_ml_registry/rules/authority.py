"""The authority policy: which principals may write each stage, and rollback separately.

It lives in ``registry/authority.yaml`` (:data:`POLICY_FILE`) on the ref the team protects; the
ssh keys are in git's allowed-signers format in the file ``signers`` names, openpgp keys by
fingerprint::

    signers: allowed_signers          # relative to this file
    openpgp: {carol@example.com: 0123ABCD...}
    groups:
      release-managers: [alice@example.com]
      on-call: [bob@example.com]
      team: ["*@example.com"]
    allow:
      production: [release-managers]
      rollback: [release-managers, on-call]
      staging: [team]

An entry of ``allow`` is a group or a principal pattern (``fnmatch``). An action the policy
does not name is open to anyone, signed or not. ``release`` names who may write version tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from ..errors import RegistryError

POLICY_FILE = "registry/authority.yaml"
ACTIONS = ("release", "rollback", "candidate", "staging", "canary", "shadow", "production",
           "deprecated", "archived")
_KEYS = {"signers", "openpgp", "groups", "allow"}


@dataclass
class Policy:
    where: str  # e.g. "registry/authority.yaml at origin/main"
    signers: str | None = None  # the allowed-signers text
    openpgp: dict = field(default_factory=dict)  # principal -> fingerprint (upper case)
    groups: dict = field(default_factory=dict)  # group -> [principal patterns]
    allow: dict = field(default_factory=dict)  # action -> [groups or patterns]

    def restricts(self, action: str) -> bool:
        return action in self.allow

    def entry(self, action: str) -> str:
        return f"{self.where}: allow.{action} is [{', '.join(self.allow[action])}]"

    def permits(self, action: str, principals) -> bool:
        """Whether any of ``principals`` may write ``action``."""
        patterns = [p for name in self.allow.get(action, ()) for p in self.groups.get(name, [name])]
        return any(fnmatchcase(who, pattern) for who in principals for pattern in patterns)

    def openpgp_principals(self, fingerprint: str) -> list[str]:
        return [who for who, fpr in self.openpgp.items() if fpr == fingerprint.upper()]


def _names(value, where: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RegistryError(f"{where} must be a list of names")
    return [v.strip() for v in value]


def parse_policy(data, where: str, read_signers) -> Policy:
    """The policy in ``data`` (parsed YAML); ``read_signers(path)`` returns the allowed-signers
    text the policy names. RegistryError (one line) for anything malformed."""
    if data is None:  # only comments: a policy that restricts nothing
        data = {}
    if not isinstance(data, dict):
        raise RegistryError(f"{where} is not a mapping: see docs/TEAM.md for the policy's shape")
    unknown = sorted(set(map(str, data)) - _KEYS)
    if unknown:
        raise RegistryError(f"{where}: unknown key {unknown[0]!r} (expected {', '.join(sorted(_KEYS))})")
    policy = Policy(where)
    groups = data.get("groups") or {}
    if not isinstance(groups, dict):
        raise RegistryError(f"{where}: groups must map a group name to a list of principals")
    policy.groups = {str(name): _names(members, f"{where}: groups.{name}") for name, members in groups.items()}
    allow = data.get("allow") or {}
    if not isinstance(allow, dict):
        raise RegistryError(f"{where}: allow must map an action to a list of groups or principals")
    for action, entries in allow.items():
        if action not in ACTIONS:
            raise RegistryError(f"{where}: allow.{action} is not an action (expected one of {', '.join(ACTIONS)})")
        names = _names(entries, f"{where}: allow.{action}")
        for name in names:
            if name not in policy.groups and "@" not in name and "*" not in name:
                raise RegistryError(f"{where}: allow.{action} names {name!r}, which is neither a group "
                                    "nor a principal (principals look like name@example.com)")
        policy.allow[action] = names
    openpgp = data.get("openpgp") or {}
    if not isinstance(openpgp, dict):
        raise RegistryError(f"{where}: openpgp must map a principal to a key fingerprint")
    policy.openpgp = {str(who): str(fpr).replace(" ", "").upper() for who, fpr in openpgp.items()}
    if data.get("signers") is not None:
        if not isinstance(data["signers"], str):
            raise RegistryError(f"{where}: signers must be the path of an allowed-signers file")
        policy.signers = read_signers(data["signers"])
    return policy


def action_of(tag_name: str, event: str | None, returning: bool = True) -> str:
    """What a registry tag did, as the policy names it: ``release`` for a version tag;
    ``rollback`` for a rollback's tags, except a production or canary tag whose version never
    held production before (``returning`` false): that is a promotion, whatever its body says;
    else the stage it assigned."""
    if "@" in tag_name:
        return "release"
    stage = tag_name.split("#")[1]
    if event == "rollback" and (returning or stage not in ("production", "canary")):
        return "rollback"
    return stage
