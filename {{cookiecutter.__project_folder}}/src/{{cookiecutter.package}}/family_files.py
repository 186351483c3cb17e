"""Where a family lives in the project, and the checks `add-family` and `remove-family` make
before they touch it. Nothing here writes, except ``Undo`` restoring what a command wrote and
the removal helpers `remove-family` and `add-family --replace` call once every check passed."""

import shutil
import subprocess
from pathlib import Path

import yaml

from . import families, files
from .config import CONF_DIR
from .errors import ProjectError

LOCK_FILE = "dvc.lock"
RAW_DIR = Path("data/raw")


def conf_path(name: str) -> Path:
    return Path(CONF_DIR) / "families" / f"{name}.yaml"


def check_project() -> None:
    """Refuse outside the project's root folder."""
    for path in (families.DVC_YAML, families.FAMILIES_FILE, f"{CONF_DIR}/config.yaml"):
        if not Path(path).exists():
            raise ProjectError(f"no {path} here: run this in the project's root folder")


def tags_of(name: str) -> list[str]:
    """The registry's tags of ``name``: its versions and its stage assignments."""
    done = subprocess.run(["git", "tag", "-l", f"{name}@v*", f"{name}#*"], capture_output=True, text=True)
    return done.stdout.split() if done.returncode == 0 else []


def check_unreleased(name: str, instead: str) -> None:
    tags = sorted(tags_of(name), key=lambda tag: "@v" not in tag)  # a version first, as the example
    if tags:
        raise ProjectError(f"{name!r} has versions in the registry (e.g. {tags[0]}), which are immutable: {instead}")


def check_known(name: str, fix: str) -> Path:
    """The raw data file family ``name`` trains on (families.yaml); ProjectError when there is no such family."""
    if not conf_path(name).exists():
        known = ", ".join(families.conf_names()) or "none"
        raise ProjectError(f"no family {name!r} in {CONF_DIR}/families/ (families: {known}): {fix}")
    data = families.registered().get(name)
    if not data:
        raise ProjectError(f"{families.FAMILIES_FILE} does not list {name!r}: {families.FIX}")
    return Path(data)


def outputs_of(name: str) -> list[Path]:
    """What the family's stages write (dvc.yaml's outs), and its bundle."""
    return [Path(path) for path in (files.prepared_dir(name), f"build/{name}", files.metrics_file(name),
                                    files.plots_dir(name), files.bundle_dir(name))]


class Undo:
    """Remembers files a command is about to write, to put them back if a later step fails."""

    def __init__(self, *paths: str | Path):
        self.saved = {Path(path): (Path(path).read_bytes() if Path(path).exists() else None) for path in paths}
        self.created: list[Path] = []

    def __call__(self) -> None:
        for path in reversed(self.created):
            path.unlink(missing_ok=True)
        for path, data in self.saved.items():
            if data is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(data)


def delete(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def unignore(path: Path) -> None:
    """Drop the entry DVC wrote for ``path`` in its folder's .gitignore (and the file, once empty)."""
    ignore = path.parent / ".gitignore"
    if not ignore.exists():
        return
    kept = [line for line in ignore.read_text().splitlines() if line.strip() != f"/{path.name}"]
    if any(line.strip() for line in kept):
        ignore.write_text("\n".join(kept) + "\n")
    else:
        ignore.unlink()


def remove_data(raw: Path) -> None:
    """A raw data file, its .dvc file and its .gitignore entry."""
    delete(raw)
    delete(Path(f"{raw}.dvc"))
    unignore(raw)


def remove_outputs(name: str) -> None:
    """The family's stage outputs, their .gitignore entries and its `<stage>@<name>` entries in
    dvc.lock (DVC keeps the entries of stages gone from dvc.yaml)."""
    for path in outputs_of(name):
        delete(path)
        unignore(path)
    lock_file = Path(LOCK_FILE)
    if lock_file.exists():
        lock = yaml.safe_load(lock_file.read_text()) or {}
        stages = lock.get("stages") or {}
        lock["stages"] = {stage: entry for stage, entry in stages.items() if stage.rpartition("@")[2] != name}
        lock_file.write_text(yaml.safe_dump(lock, sort_keys=False))
