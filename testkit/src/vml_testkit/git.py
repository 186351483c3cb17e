"""Commands as real subprocesses, and git: repositories, commits, tags, clones, bare origins, hooks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .env import project_env


def run(cwd: Path, *command: str, check: bool = True, env: dict | None = None, timeout: float | None = None,
        input: str | None = None) -> subprocess.CompletedProcess:
    """``command`` in ``cwd`` (environment: ``project_env(cwd)`` unless given); a failure raises an
    AssertionError holding both outputs, unless ``check`` is false."""
    done = subprocess.run([str(part) for part in command], cwd=cwd, env=env or project_env(cwd),
                          capture_output=True, text=True, timeout=timeout, input=input)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, command))} exited {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def output(cwd: Path, *command: str, check: bool = True, env: dict | None = None) -> str:
    """The standard output of ``run(cwd, *command)``."""
    return run(cwd, *command, check=check, env=env).stdout


def git(repo: Path, *args: str, check: bool = True, env: dict | None = None) -> str:
    """``git <args>`` in ``repo``; its output without the surrounding whitespace."""
    return run(repo, "git", *args, check=check, env=env).stdout.strip()


def commit(repo: Path, message: str = "change", files: dict | None = None) -> str:
    """Write ``files`` (``{path: text}``; default: a new file), commit everything; return the commit."""
    files = files or {f"f{len(git(repo, 'log', '--oneline').splitlines())}.txt": message}
    for name, text in files.items():
        path = Path(repo) / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return commit_all(repo, message)


def commit_all(repo: Path, message: str) -> str:
    """`git add -A && git commit -m <message>`; returns the new commit."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def tag_refs(repo: Path) -> str:
    """Every tag with its object, target and tagger date: anything a registry command could change."""
    return git(repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname) %(taggerdate:raw)",
               "refs/tags")


def tag_yaml(repo: Path, tag: str) -> dict:
    """The YAML after the first line of a registry tag's annotation."""
    import yaml

    text = git(repo, "tag", "-l", "--format=%(contents)", tag)
    return yaml.safe_load(text.partition("\n")[2]) or {}


def bare_origin(path: Path) -> Path:
    """An empty bare repository whose default branch is main."""
    git(Path(path).parent, "init", "-q", "--bare", "--initial-branch=main", str(path))
    return path


def add_origin(repo: Path, origin: Path) -> None:
    """``origin`` as the remote `origin` of ``repo``, with main pushed to it."""
    git(repo, "remote", "add", "origin", str(origin))
    git(repo, "push", "-q", "origin", "main")


def origin_tags(origin: Path) -> dict[str, str]:
    """``{tag: object id}`` of a (bare) repository."""
    out = git(origin, "for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/tags")
    return {name: oid for oid, _, name in (line.partition(" ") for line in out.splitlines())}


def clone(origin: Path, dest: Path, who: str | None = None) -> Path:
    """``git clone`` of ``origin`` (tags included); with ``who``, the clone commits and tags as
    that person (``user.name``, ``user.email`` in its config)."""
    git(Path(dest).parent, "clone", "-q", str(origin), str(dest))
    if who is not None:
        git(dest, "config", "user.name", who)
        git(dest, "config", "user.email", f"{who.lower()}@example.com")
    return dest


def clean_git_env(env: dict) -> dict:
    """``env`` without the variables git sets for hooks (GIT_DIR, ...), so a hook can run
    commands in another repository."""
    keep = ("GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT")
    return {k: v for k, v in env.items() if not k.startswith("GIT_") or k.startswith(keep)}


def write_hook(git_dir: Path, name: str, body: str) -> Path:
    """An executable git hook ``name`` in ``git_dir``, written in Python (this interpreter)."""
    hook = Path(git_dir) / "hooks" / name
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!{sys.executable}\n{body}")
    hook.chmod(0o755)
    return hook
