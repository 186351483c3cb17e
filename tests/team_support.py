"""Helpers for the team tests (push, concurrent promotions, the S3 flow): released projects,
bare git origins, clones, the registry CLI as a real subprocess.

Everything runs real commands (cookiecutter, dvc, git, the installed ``model-registry``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from baking import MODEL_REGISTRY, git, project_env, run

FAMILY = "cultivar"


def registry(project: Path, *args: str, check: bool = True, env: dict | None = None,
             timeout: float = 120) -> subprocess.CompletedProcess:
    """``model-registry <args>`` in ``project``, as a user runs it."""
    done = subprocess.run([str(MODEL_REGISTRY), *args], cwd=project,
                          env=env or project_env(project), capture_output=True, text=True,
                          timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"model-registry {' '.join(args)} exited {done.returncode}\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


def new_version(project: Path, n: int, env: dict | None = None) -> str:
    """Change the model card (a `feat:` commit raises the bump to MINOR), repro, commit,
    release; return the version written."""
    card = project / "conf" / "families" / f"{FAMILY}.yaml"
    lines = [f"  intended_use: Classify the cultivar of a wine (edition {n})." if line.startswith("  intended_use:")
             else line for line in card.read_text().splitlines()]
    card.write_text("\n".join(lines) + "\n")
    run(project, "dvc", "repro", env=env)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", f"feat(card): edition {n}")
    out = registry(project, "release", FAMILY, env=env).stdout
    return out.split()[2]  # "released cultivar v0.2.0 (minor) at ..."


def first_release(project: Path, env: dict | None = None) -> str:
    """Commit what `dvc repro` produced and release it (v0.1.0)."""
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "feat: first model")
    return registry(project, "release", FAMILY, env=env).stdout.split()[2]


def copy_project(source: Path, dest: Path, storage: Path) -> Path:
    """A copy of a local-remote project (cache included) whose DVC remote is ``storage``.

    The committed `.dvc/config` keeps its url; the copy points elsewhere through the
    git-ignored `.dvc/config.local`, so copies never share a remote by accident."""
    shutil.copytree(source, dest, symlinks=True)
    storage.mkdir(parents=True, exist_ok=True)
    run(dest, "dvc", "remote", "modify", "--local", "local", "url", str(storage))
    return dest


def bare_origin(path: Path) -> Path:
    subprocess.run(["git", "init", "-q", "--bare", "--initial-branch=main", str(path)], check=True,
                   capture_output=True)
    return path


def add_origin(project: Path, origin: Path) -> None:
    git(project, "remote", "add", "origin", str(origin))
    git(project, "push", "-q", "origin", "main")


def origin_tags(origin: Path) -> dict[str, str]:
    """``{tag: object id}`` on the bare origin."""
    out = subprocess.run(["git", "for-each-ref", "--format=%(objectname) %(refname:strip=2)", "refs/tags"],
                         cwd=origin, capture_output=True, text=True, check=True).stdout
    return {name: oid for oid, _, name in (line.partition(" ") for line in out.splitlines())}


def newest_stage_tag(repo: Path, stage: str, family: str = FAMILY) -> str:
    """The newest `<family>#<stage>#N` by tagger date (ties: the name that sorts last), as DVC
    reads it: works on bare repositories too."""
    out = subprocess.run(["git", "for-each-ref", "--sort=taggerdate", "--sort=refname",
                          "--format=%(taggerdate:unix) %(refname:strip=2)", f"refs/tags/{family}#{stage}#*"],
                         cwd=repo, capture_output=True, text=True, check=True).stdout
    rows = [(int(t), name) for t, _, name in (line.partition(" ") for line in out.splitlines())]
    return max(rows)[1] if rows else ""


def clone(origin: Path, dest: Path, who: str, storage: Path | None = None) -> tuple[Path, dict]:
    """A fresh clone of ``origin`` (tags included, empty DVC cache) and the environment of
    the person ``who`` working in it; ``storage``: the local DVC remote to use."""
    subprocess.run(["git", "clone", "-q", str(origin), str(dest)], check=True, capture_output=True)
    env = project_env(dest, GIT_AUTHOR_NAME=who, GIT_COMMITTER_NAME=who,
                      GIT_AUTHOR_EMAIL=f"{who.lower()}@example.com",
                      GIT_COMMITTER_EMAIL=f"{who.lower()}@example.com")
    if storage is not None:
        run(dest, "dvc", "remote", "modify", "--local", "local", "url", str(storage), env=env)
    return dest, env


def storage_objects(storage: Path) -> set[str]:
    """md5s (``.dir`` included) present in a local DVC remote."""
    root = storage / "files" / "md5"
    if not root.is_dir():
        return set()
    return {p.parent.name + p.name for p in root.glob("*/*")}


def clean_git_env(env: dict) -> dict:
    """``env`` without the variables git sets for hooks (GIT_DIR, ...), so a hook can run
    commands in another repository."""
    keep = ("GIT_AUTHOR_", "GIT_COMMITTER_", "GIT_CONFIG_NOSYSTEM", "GIT_TERMINAL_PROMPT")
    return {k: v for k, v in env.items() if not k.startswith("GIT_") or k.startswith(keep)}


def tag_body(repo: Path, tag: str) -> dict:
    """The YAML of a registry tag's annotation."""
    import yaml

    text = git(repo, "tag", "-l", "--format=%(contents)", tag)
    return yaml.safe_load(text.partition("\n")[2]) or {}


def write_hook(repo_git_dir: Path, name: str, body: str) -> Path:
    """A git hook written in Python (this interpreter), executable."""
    hook = repo_git_dir / "hooks" / name
    hook.parent.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!{sys.executable}\n{body}")
    hook.chmod(0o755)
    return hook
