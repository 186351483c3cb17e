"""Several people on one origin: new versions of a baked project, teammates' clones, what an
origin and a DVC remote hold. Everything runs real commands (dvc, git, ``model-registry``)."""

from __future__ import annotations

from pathlib import Path

from .env import project_env
from .git import clone, commit_all, git, run
from .registry import registry

FAMILY = "cultivar"


def first_release(project: Path, env: dict | None = None) -> str:
    """Commit what `dvc repro` produced and release it (v0.1.0)."""
    commit_all(project, "feat: first model")
    return registry(project, "release", FAMILY, env=env).stdout.split()[2]


def new_version(project: Path, n: int, env: dict | None = None) -> str:
    """Change the model card (a `feat:` commit raises the bump to MINOR), repro, commit,
    release; return the version written."""
    card = project / "conf" / "families" / f"{FAMILY}.yaml"
    lines = [f"  intended_use: Classify the cultivar of a wine (edition {n})." if line.startswith("  intended_use:")
             else line for line in card.read_text().splitlines()]
    card.write_text("\n".join(lines) + "\n")
    run(project, "dvc", "repro", env=env)
    commit_all(project, f"feat(card): edition {n}")
    out = registry(project, "release", FAMILY, env=env).stdout
    return out.split()[2]  # "released cultivar v0.2.0 (minor) at ..."


def teammate(origin: Path, dest: Path, who: str, storage: Path | None = None) -> tuple[Path, dict]:
    """A fresh clone of ``origin`` (tags included, empty DVC cache) and the environment of
    the person ``who`` working in it; ``storage``: the local DVC remote to use."""
    clone(origin, dest, who)
    env = project_env(dest, GIT_AUTHOR_NAME=who, GIT_COMMITTER_NAME=who,
                      GIT_AUTHOR_EMAIL=f"{who.lower()}@example.com",
                      GIT_COMMITTER_EMAIL=f"{who.lower()}@example.com")
    if storage is not None:
        run(dest, "dvc", "remote", "modify", "--local", "local", "url", str(storage), env=env)
    return dest, env


def newest_stage_tag(repo: Path, stage: str, family: str = FAMILY) -> str:
    """The newest `<family>#<stage>#N` by tagger date (ties: the name that sorts last), as DVC
    reads it: works on bare repositories too."""
    out = git(repo, "for-each-ref", "--sort=taggerdate", "--sort=refname",
              "--format=%(taggerdate:unix) %(refname:strip=2)", f"refs/tags/{family}#{stage}#*")
    rows = [(int(t), name) for t, _, name in (line.partition(" ") for line in out.splitlines())]
    return max(rows)[1] if rows else ""


def storage_objects(storage: Path) -> set[str]:
    """md5s (``.dir`` included) present in a local DVC remote."""
    root = storage / "files" / "md5"
    if not root.is_dir():
        return set()
    return {p.parent.name + p.name for p in root.glob("*/*")}
