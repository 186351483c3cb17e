"""`python -m {{ cookiecutter.package }} add-family NAME --data FILE --target COLUMN [--task ...] [--replace]`:
a new model family from a CSV or Parquet file, in one command, all or nothing.

Everything is checked before anything is written: the project (run in its root), the name (the
registry's family-name rule; not taken by a conf, a data file or tags) and the table
(csv_inspection.py). A problem is one `error: ...` line and exit status 2, with nothing written.

Then the file is copied to data/raw/<name>.csv (or .parquet) and put under DVC (`dvc add`), the family's
conf (family_conf.py) is written to conf/families/<name>.yaml, and families.yaml and dvc.yaml's
families block are rewritten (families.py). If any of that fails, what was written is removed
again.

`--replace` puts your data under the name of an existing family that has no released version,
e.g. the example the bake ships under the `model_family` you answered: its conf is written
afresh from your table, its old data file (and its .dvc file) goes, and its stage outputs go too,
so `dvc repro` trains it from scratch.
"""

import shutil
import subprocess
import sys
from pathlib import Path

from versioned_ml_registry.rules.names import family_problem

from . import families
from .config import sync
from .csv_inspection import inspect
from .errors import ProjectError
from .family_conf import conf_text
from .family_files import (RAW_DIR, Undo, check_known, check_project, check_unreleased, conf_path, delete,
                           remove_data, remove_outputs, tags_of)
from .tables import is_parquet

SUFFIXES = (".csv", ".parquet")


def raw_path(name: str, source: Path) -> Path:
    """Where the family's data goes: data/raw/<name>.parquet for a Parquet file, else .csv."""
    parquet = source.is_file() and is_parquet(source)
    return RAW_DIR / f"{name}{SUFFIXES[1] if parquet else SUFFIXES[0]}"


def check_name(name: str, data: Path) -> None:
    problem = family_problem(name)
    if problem:
        raise ProjectError(problem)
    if conf_path(name).exists() or name in families.registered():
        raise ProjectError(f"family {name!r} exists already ({conf_path(name)}): choose another name, "
                           "or add --replace to put this data under it")
    for raw in (RAW_DIR / f"{name}{suffix}" for suffix in SUFFIXES):
        if Path(f"{raw}.dvc").exists() or (raw.exists() and raw.resolve() != data.resolve()):
            raise ProjectError(f"{raw} exists already: choose another name or remove it")
    tags = tags_of(name)
    if tags:
        raise ProjectError(f"the registry has tags of {name!r} already (e.g. {tags[0]}): choose another name")


def check_replaceable(name: str, data: Path) -> Path:
    """The data file the family trains on now, to be replaced by ``data``."""
    old = check_known(name, "drop --replace to add it as a new family")
    check_unreleased(name, "add your data as a new family under another name")
    if old.resolve() == data.resolve():
        raise ProjectError(f"{data} is {name}'s data already: give the file to put in its place")
    return old


def dvc_add(path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "dvc", "add", "--quiet", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise ProjectError(f"dvc add {path} failed: {detail[-1] if detail else 'no output'}")


def add_family(name: str, data: str, target: str, task: str | None = None, replace: bool = False) -> list[str]:
    """Add the family (``replace``: in place of the one of that name); return what to tell the
    user. ProjectError: nothing was written."""
    check_project()
    source = Path(data)
    old = check_replaceable(name, source) if replace else None
    if not replace:
        check_name(name, source)
    found = inspect(source, target, task)
    raw = raw_path(name, source)
    conf = conf_path(name)
    text = conf_text(name, source, target, found, raw)

    undo = Undo(families.FAMILIES_FILE, families.DVC_YAML, RAW_DIR / ".gitignore", conf)
    aside = None
    try:
        if old is not None:
            aside = set_aside(old, undo)
        if raw.resolve() != source.resolve():
            raw.parent.mkdir(parents=True, exist_ok=True)
            undo.created.append(raw)
            shutil.copyfile(source, raw)
        undo.created.append(Path(f"{raw}.dvc"))
        dvc_add(raw)
        conf.parent.mkdir(parents=True, exist_ok=True)
        conf.write_text(text)
        sync()
    except BaseException:
        undo()
        if aside is not None:
            aside.replace(old)
        raise
    if aside is not None:
        delete(aside)
        remove_outputs(name)
    return summary(name, target, found, raw, conf, replaced=old)


def set_aside(old: Path, undo: Undo) -> Path:
    """Move the replaced family's data file out of the way (back if a later step fails), and
    drop its .dvc file and .gitignore entry (kept by ``undo``)."""
    aside = old.with_name(f".{old.name}.replaced")
    undo.saved.setdefault(Path(f"{old}.dvc"), Path(f"{old}.dvc").read_bytes() if Path(f"{old}.dvc").exists() else None)
    old.replace(aside)
    remove_data(old)
    return aside


def summary(name: str, target: str, found: dict, raw: Path, conf: Path, replaced: Path | None = None) -> list[str]:
    """What add-family tells the user: what it wrote, and what to do next."""
    kinds = [spec["type"] for spec in found["features"].values()]
    missing = [column for column, spec in found["features"].items() if not spec["required"]]
    counts = [f"{kinds.count(kind)} {kind}" for kind in ("numeric", "categorical", "text") if kind in kinds]
    gone = [f"  replaced: {replaced} and its .dvc file, and {name}'s stage outputs"] if replaced else []
    return [
        f"{'replaced' if replaced else 'added'} family {name}: {found['task']} of {target!r} from {found['rows']} rows, "
        f"{', '.join(counts)} feature{'s' if len(kinds) > 1 else ''}"
        + (f" ({len(missing)} with missing values, imputed)" if missing else ""),
        *found["notes"],
        *gone,
        f"  {raw} (tracked by DVC: {raw}.dvc)",
        f"  {conf}: task, feature types, model, metrics, gates, card; review and edit it",
        f"  {families.FAMILIES_FILE}, {families.DVC_YAML}: the family list and its plots and artifact",
        "Next:",
        f"  dvc repro            # trains {name} (and nothing else that is up to date)",
        "  git add -A" if replaced else
        f"  git add {raw}.dvc {RAW_DIR}/.gitignore {conf} {families.FAMILIES_FILE} {families.DVC_YAML} dvc.lock",
        f"  git commit -m \"feat: {'put our data under' if replaced else 'add'} the {name} family\"",
        f"  dvc push && model-registry release {name}",
    ]
