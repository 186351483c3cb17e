"""Reading and writing registry tags with plain git (no GitPython, no DVC).

* :func:`read_tags` reads every tag with ONE ``git for-each-ref refs/tags`` call.
* :func:`write_tags` creates annotated tag objects (one ``git hash-object`` call for all of
  them) and then creates all refs in ONE ``git update-ref --stdin`` transaction using
  ``create``: if any ref already exists, the transaction fails and no ref is written.
"""

from __future__ import annotations

import os
import subprocess
import time as _time
from collections import namedtuple
from collections.abc import Iterable, Sequence

from ..errors import RegistryError

_FIELDS = (
    "%(refname)",
    "%(objecttype)",
    "%(objectname)",
    "%(*objecttype)",
    "%(*objectname)",
    "%(taggername)",
    "%(taggeremail)",
    "%(taggerdate:unix)",
    "%(contents)",
)
# Fields are separated by NUL and each record ends with NUL: a NUL cannot appear in a
# tag message written through git, so the split is unambiguous.
FOR_EACH_REF_FORMAT = "%00".join(_FIELDS) + "%00"


# One annotated tag as read from ``git for-each-ref``: its name without refs/tags/, the tag
# object, the peeled target commit, the tagger, the tagger date (unix seconds) and the message.
TagRecord = namedtuple("TagRecord", "name oid commit tagger_name tagger_email time message")


class NewTag:
    """An annotated tag to create. ``time`` is filled in by the writer (:meth:`.repo.Repo.write_steps`)."""

    __slots__ = ("name", "commit", "message", "time")

    def __init__(self, name: str, commit: str, message: str, time: int | None = None):
        self.name, self.commit, self.message, self.time = name, commit, message, time


def git(cwd: str, *args: str, input: bytes | None = None, check: bool = True,
        env: dict | None = None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, env=env
        )
    except FileNotFoundError:
        raise RegistryError("git is not installed or not on PATH") from None
    except NotADirectoryError:
        raise RegistryError(f"not a directory: {cwd}") from None
    if check and proc.returncode != 0:
        msg = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RegistryError(
            f"git {args[0]} failed: {msg[-1] if msg else 'exit ' + str(proc.returncode)}"
        )
    return proc


def find_repository(path: str | None = None) -> tuple[str, str]:
    """(work tree top level, the git directory holding the refs) of the repository at ``path``."""
    path = os.path.abspath(path or os.getcwd())
    if not os.path.isdir(path):
        raise RegistryError(f"no such directory: {path}")
    proc = git(path, "rev-parse", "--show-toplevel", "--git-common-dir", check=False)
    if proc.returncode != 0:
        raise RegistryError(f"not a git repository: {path}")
    toplevel, git_dir = proc.stdout.decode().strip().splitlines()[:2]
    return toplevel, os.path.join(path, git_dir)


def find_toplevel(path: str | None = None) -> str:
    return find_repository(path)[0]


def read_tags(toplevel: str, patterns: Sequence[str] = ("refs/tags",), messages: bool = True) -> list[TagRecord]:
    """The annotated tags matching ``patterns`` that point (directly) at commits, in one
    ``for-each-ref`` call. Lightweight tags and tags of tags are skipped. Without
    ``messages`` the tag bodies are not read (their records hold "")."""
    fmt = FOR_EACH_REF_FORMAT if messages else FOR_EACH_REF_FORMAT.replace("%(contents)", "")
    parts = git(toplevel, "for-each-ref", "--format", fmt, *patterns).stdout.decode("utf-8", "replace").split("\0")
    n = len(_FIELDS)
    records = []
    for i in range(0, len(parts) - n + 1, n):
        ref, objecttype, oid, peeledtype, commit, tagger_name, tagger_email, when, message = parts[i:i + n]
        if objecttype != "tag" or peeledtype != "commit":
            continue
        ref = ref.lstrip("\n")
        records.append(TagRecord(ref[10:] if ref.startswith("refs/tags/") else ref, oid, commit, tagger_name,
                                 tagger_email.strip("<>"), int(when) if when.isdigit() else 0,
                                 without_signature(message)))
    return records


SIGNATURE_MARKERS = ("-----BEGIN SSH SIGNATURE-----", "-----BEGIN PGP SIGNATURE-----")


def without_signature(message: str) -> str:
    """A tag message without the signature block a signed tag ends with."""
    for marker in SIGNATURE_MARKERS:
        if message.startswith(marker):
            return ""
        at = message.rfind("\n" + marker)
        if at >= 0:
            return message[:at + 1]
    return message


def raw_objects(toplevel: str, oids: Sequence[str]) -> dict[str, bytes]:
    """The bytes of the objects ``oids`` (one ``git cat-file --batch`` call)."""
    if not oids:
        return {}
    out = git(toplevel, "cat-file", "--batch", input=("\n".join(oids) + "\n").encode()).stdout
    objects, at = {}, 0
    for oid in oids:
        header_end = out.index(b"\n", at)
        header = out[at:header_end].split()
        if len(header) < 3:  # "<oid> missing"
            at = header_end + 1
            continue
        size = int(header[2])
        objects[oid] = out[header_end + 1:header_end + 1 + size]
        at = header_end + 1 + size + 1
    return objects


def tag_names(toplevel: str) -> list[str]:
    """Every tag name (without refs/tags/), objects not read."""
    out = git(toplevel, "for-each-ref", "--format=%(refname:lstrip=2)", "refs/tags").stdout
    return out.decode("utf-8", "replace").splitlines()


def tag_objects_named(toplevel: str, prefix: str) -> list[str]:
    """The names recorded in every tag object of the object store that start with ``prefix``,
    including tags since deleted (git deletes a tag's reflog with it; its object stays until
    garbage collection)."""
    listing = git(toplevel, "cat-file", "--batch-all-objects", "--unordered",
                  "--batch-check=%(objecttype) %(objectname)").stdout.decode().split("\n")
    oids = [line.split()[1] for line in listing if line.startswith("tag ")]
    if not oids:
        return []
    out = git(toplevel, "cat-file", "--batch", input=("\n".join(oids) + "\n").encode()).stdout
    names = []
    for line in out.split(b"\n"):
        if line.startswith(b"tag "):
            name = line[4:].decode("utf-8", "replace")
            if name.startswith(prefix):
                names.append(name)
    return names


def identity(toplevel: str) -> tuple[str, str]:
    """(name, email) the way git picks the committer: env first, then ``git config``."""
    name = os.environ.get("GIT_COMMITTER_NAME")
    email = os.environ.get("GIT_COMMITTER_EMAIL")
    if not (name and email):
        proc = git(toplevel, "config", "--get-regexp", r"^user\.(name|email)$", check=False)
        conf = {}
        for line in proc.stdout.decode("utf-8", "replace").splitlines():
            key, _, value = line.partition(" ")
            conf[key] = value
        name = name or conf.get("user.name")
        email = email or conf.get("user.email")
    if not name or not email:
        raise RegistryError(
            "git identity unknown: run `git config user.name \"Your Name\"` and "
            "`git config user.email you@example.com` (or set GIT_COMMITTER_NAME/EMAIL)"
        )
    for ch in "<>\n":
        if ch in name or ch in email:
            raise RegistryError(f"invalid git identity {name!r} <{email}>")
    return name, email


def _tz_offset(when: int) -> str:
    off = _time.localtime(when).tm_gmtoff or 0
    sign = "+" if off >= 0 else "-"
    off = abs(off) // 60
    return f"{sign}{off // 60:02d}{off % 60:02d}"


def tag_object_bytes(tag: NewTag, name: str, email: str) -> bytes:
    message = tag.message if tag.message.endswith("\n") else tag.message + "\n"
    return (
        f"object {tag.commit}\n"
        f"type commit\n"
        f"tag {tag.name}\n"
        f"tagger {name} <{email}> {int(tag.time)} {_tz_offset(int(tag.time))}\n"
        f"\n{message}"
    ).encode("utf-8")


def write_objects(toplevel: str, objects: Sequence[bytes]) -> list[str]:
    """Write tag objects (their bytes) into the object store in one git call; their ids."""
    if not objects:
        return []
    import tempfile

    with tempfile.TemporaryDirectory(prefix="registry-tags-") as tmp:
        paths = []
        for i, data in enumerate(objects):
            p = os.path.join(tmp, str(i))
            with open(p, "wb") as fh:
                fh.write(data)
            paths.append(p)
        out = git(
            toplevel, "hash-object", "-t", "tag", "-w", "--stdin-paths",
            input=("\n".join(paths) + "\n").encode(),
        ).stdout.decode().split()
    if len(out) != len(objects):
        raise RegistryError("git hash-object returned an unexpected number of objects")
    return out


def create_tag_objects(toplevel: str, tags: Sequence[NewTag], who: tuple[str, str]) -> list[str]:
    """Write unsigned tag objects into the object store (one git call); return their ids."""
    for tag in tags:
        if tag.time is None:
            raise ValueError(f"tag {tag.name} has no time")
    return write_objects(toplevel, [tag_object_bytes(tag, *who) for tag in tags])


def _transaction(toplevel: str, commands: list[str]) -> None:
    if not commands:
        return
    lines = ["start", *commands, "prepare", "commit", ""]
    proc = git(toplevel, "update-ref", "--stdin", input="\n".join(lines).encode(), check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = err[-1] if err else f"exit {proc.returncode}"
        if "exists" in detail:
            raise RegistryError(f"a tag already exists ({detail.removeprefix('fatal: ')}); nothing written")
        raise RegistryError(f"writing tags failed ({detail}); nothing written")


def create_refs(toplevel: str, refs: Iterable[tuple[str, str]]) -> None:
    """Create ``refs/tags/<name>`` -> sha for all pairs in one transaction, or none."""
    _transaction(toplevel, [f"create refs/tags/{name} {sha}" for name, sha in refs])


def delete_refs(toplevel: str, refs: Iterable[tuple[str, str]]) -> None:
    """Delete ``refs/tags/<name>`` for all pairs, each only while it still points at sha."""
    _transaction(toplevel, [f"delete refs/tags/{name} {sha}" for name, sha in refs])


def write_tags(toplevel: str, tags: Sequence[NewTag], who: tuple[str, str]) -> list[str]:
    """Create annotated tags atomically, with no crash journal (see :mod:`.journal` for the
    registry's writes). Returns the tag object ids."""
    shas = create_tag_objects(toplevel, tags, who)
    create_refs(toplevel, [(t.name, s) for t, s in zip(tags, shas)])
    return shas


def rev_parse_commit(toplevel: str, rev: str) -> str | None:
    proc = git(toplevel, "rev-parse", "--verify", "--quiet", rev + "^{commit}", check=False)
    return proc.stdout.decode().strip() or None if proc.returncode == 0 else None


def read_blob(toplevel: str, commit: str, path: str) -> str | None:
    """Content of ``path`` at ``commit`` (``git show commit:path``), None if absent."""
    proc = git(toplevel, "show", f"{commit}:{path}", check=False)
    if proc.returncode != 0:
        return None
    return proc.stdout.decode("utf-8", "replace")


def porcelain_status(toplevel: str) -> str:
    return git(toplevel, "status", "--porcelain").stdout.decode("utf-8", "replace")
