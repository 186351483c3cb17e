"""Signing and checking registry tags with git's own signing setup.

A signed tag object is the unsigned object's bytes (the payload) followed by a detached
signature, exactly what ``git tag -s`` writes, so ``git verify-tag``, GTO and DVC read it. The
registry signs the payload itself (``ssh-keygen -Y sign -n git`` for ssh keys, ``gpg -bsa`` for
openpgp keys) and writes the object in the same ref transaction as an unsigned one.

Signing is on when ``modelRegistry.sign`` is true, or (unset) when ``user.signingKey`` is set
or ``tag.gpgSign`` is true; ``modelRegistry.sign false`` turns it off.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time as _time
from collections import namedtuple

from ..errors import RegistryError
from .refs import SIGNATURE_MARKERS, git

SSH_BEGIN, PGP_BEGIN = (marker.encode() for marker in SIGNATURE_MARKERS)
_KEYS = ("user.signingkey", "gpg.format", "gpg.ssh.program", "gpg.program", "gpg.openpgp.program",
         "tag.gpgsign", "modelregistry.sign")

# What checking one signature found: ``key`` (the ssh key's fingerprint, or the openpgp primary
# key's), ``problem`` (None when the signature verifies) and, for openpgp, the signing ``subkey``.
Checked = namedtuple("Checked", "key problem subkey", defaults=(None,))


def _git_config(toplevel: str) -> dict:
    pattern = "^(" + "|".join(key.replace(".", r"\.") for key in _KEYS) + ")$"
    out = git(toplevel, "config", "--get-regexp", pattern, check=False).stdout.decode("utf-8", "replace")
    conf = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        conf[key.lower()] = value
    return conf


def _truthy(value: str | None) -> bool | None:
    if value is None:
        return None
    return value.strip().lower() in ("true", "yes", "on", "1")


def _run(argv: list[str], data: bytes, what: str, key: str) -> bytes:
    try:
        proc = subprocess.run(argv, input=data, capture_output=True)
    except FileNotFoundError:
        raise RegistryError(f"cannot sign: the signing program {argv[0]!r} is not installed "
                            f"({what}): install it, or point git at it; nothing written") from None
    if proc.returncode != 0:
        lines = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = next((line for line in reversed(lines) if "standard input" not in line), f"exit {proc.returncode}")
        raise RegistryError(f"cannot sign with {key}: {detail}; nothing written")
    return proc.stdout


class Signer:
    """The configured signing key of one repository (``None`` from :func:`configured` when off)."""

    def __init__(self, fmt: str, key: str, program: str):
        self.format, self.key, self.program = fmt, key, program

    def sign(self, payload: bytes) -> bytes:
        """The detached signature of ``payload``, ASCII armored and ending in a newline."""
        if self.format == "ssh":
            return self._sign_ssh(payload)
        return _run([self.program, "--batch", "--status-fd=2", "-bsau", self.key], payload, "gpg.program", self.key)

    def _sign_ssh(self, payload: bytes) -> bytes:
        if self.key.startswith("key::"):  # a literal public key: the private half is in ssh-agent
            with tempfile.NamedTemporaryFile("w", suffix=".pub", delete=False) as handle:
                handle.write(self.key[5:] + "\n")
            try:
                return _run([self.program, "-Y", "sign", "-n", "git", "-U", "-f", handle.name], payload, "gpg.ssh.program",
                            self.key)
            finally:
                os.unlink(handle.name)
        key = os.path.expanduser(self.key)
        if not os.path.exists(key):
            raise RegistryError(f"cannot sign: the signing key {self.key} (user.signingKey) does not exist; "
                                "nothing written")
        return _run([self.program, "-Y", "sign", "-n", "git", "-f", key], payload, "gpg.ssh.program", self.key)


def configured(toplevel: str, identity_email: str | None = None) -> Signer | None:
    """The repository's signer, or None when git is not configured to sign."""
    conf = _git_config(toplevel)
    wanted = _truthy(conf.get("modelregistry.sign"))
    key = conf.get("user.signingkey")
    if wanted is False or (wanted is None and not key and not _truthy(conf.get("tag.gpgsign"))):
        return None
    fmt = (conf.get("gpg.format") or "openpgp").lower()
    if fmt == "ssh":
        if not key:
            raise RegistryError("signing is on but user.signingKey is not set: "
                                "`git config user.signingKey ~/.ssh/id_ed25519.pub`")
        return Signer("ssh", key, conf.get("gpg.ssh.program") or "ssh-keygen")
    if fmt == "openpgp":
        program = conf.get("gpg.openpgp.program") or conf.get("gpg.program") or "gpg"
        return Signer("openpgp", key or identity_email or "", program)
    raise RegistryError(f"gpg.format {fmt!r} is not supported for registry tags: use ssh or openpgp")


# ---- reading signatures back ------------------------------------------------------------
def split(raw: bytes) -> tuple[bytes, bytes | None]:
    """(payload, signature) of a tag object's bytes; signature None when unsigned."""
    for marker in (SSH_BEGIN, PGP_BEGIN):
        at = raw.rfind(b"\n" + marker)
        if at >= 0:
            return raw[:at + 1], raw[at + 1:]
    return raw, None


def _ssh_time(when: int) -> str:
    return _time.strftime("%Y%m%d%H%M%S", _time.gmtime(when)) + "Z"


def check_ssh(payload: bytes, signature: bytes, allowed_signers: str | None, when: int,
              program: str = "ssh-keygen") -> tuple[Checked, list[str]]:
    """Check an ssh signature: (what it is, the principals the ``allowed_signers`` text gives its
    key at ``when``). A signature that is not valid has a problem and no principals."""
    with tempfile.TemporaryDirectory(prefix="registry-sig-") as tmp:
        sig, signers = os.path.join(tmp, "sig"), os.path.join(tmp, "allowed_signers")
        with open(sig, "wb") as handle:
            handle.write(signature)
        with open(signers, "w", encoding="utf-8") as handle:
            handle.write(allowed_signers or "")
        try:
            proc = subprocess.run([program, "-Y", "check-novalidate", "-n", "git", "-s", sig],
                                  input=payload, capture_output=True)
        except FileNotFoundError:
            raise RegistryError(f"cannot check signatures: {program!r} is not installed (openssh-client)") from None
        out = proc.stdout.decode("utf-8", "replace")
        if proc.returncode != 0 or "Good" not in out:
            return Checked(None, "its signature does not verify (malformed or not over this tag)"), []
        key = out.rsplit(" ", 1)[-1].strip()
        if allowed_signers is None:
            return Checked(key, None), []
        found = subprocess.run([program, "-Y", "find-principals", "-s", sig, "-f", signers,
                                f"-Overify-time={_ssh_time(when)}"], capture_output=True)
        if found.returncode != 0:
            err = found.stderr.decode("utf-8", "replace")
            if "expired" in err or "not yet valid" in err:
                return Checked(key, f"signed by a key that was not valid at {_ssh_time(when)} "
                                    "(valid-before/valid-after in the allowed signers)"), []
            return Checked(key, None), []
        principals = [p for line in found.stdout.decode().splitlines() for p in line.split(",") if p]
        return Checked(key, None), principals


def check_openpgp(payload: bytes, signature: bytes, program: str = "gpg") -> Checked:
    """Check an openpgp signature against the local keyring: the signing key's fingerprint."""
    with tempfile.TemporaryDirectory(prefix="registry-sig-") as tmp:
        sig = os.path.join(tmp, "sig.asc")
        with open(sig, "wb") as handle:
            handle.write(signature)
        try:
            proc = subprocess.run([program, "--batch", "--status-fd=1", "--verify", sig, "-"],
                                  input=payload, capture_output=True)
        except FileNotFoundError:
            raise RegistryError(f"cannot check signatures: {program!r} is not installed (gnupg)") from None
    status = [line.split() for line in proc.stdout.decode("utf-8", "replace").splitlines()
              if line.startswith("[GNUPG:] ")]
    seen = {fields[1] for fields in status if len(fields) > 1}
    if seen & {"REVKEYSIG", "EXPKEYSIG", "EXPSIG", "BADSIG", "ERRSIG"} or "GOODSIG" not in seen:
        return Checked(None, "its signature does not verify: bad, or by a revoked or expired key, or a key "
                             "not in this keyring")
    valid = next(fields for fields in status if fields[1] == "VALIDSIG")
    return Checked(valid[-1].upper(), None, valid[2].upper())
