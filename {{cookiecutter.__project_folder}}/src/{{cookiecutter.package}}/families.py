"""Which families exist, for DVC: families.yaml and the families block of dvc.yaml.

A family is configuration: conf/families/<name>.yaml. DVC, though, parses dvc.yaml (and the
lists its `foreach` stages run over) before any stage runs, so the family list cannot be an
output of a stage: it is families.yaml, committed, which dvc.yaml reads through `vars:`. It
names every family and its raw data file, so each family's stages depend on exactly its data.

DVC cannot generate top-level sections with `foreach`, so each family's `artifacts:` entry
(how GTO, `dvc artifacts get` and the registry find its bundle) and its `plots:` entry live in
one marked block at the end of dvc.yaml.

Both are written only by tools (the bake, `add-family` and `sync-families`, from
conf/families/), and the `config` stage refuses to run when they disagree with conf/families/.
"""

from pathlib import Path

import yaml

from .files import PLOT_FILES
from .yaml_scalars import quoted, scalar

CONF_DIR = "conf/families"
FAMILIES_FILE = "families.yaml"
LIST_KEY = "family_list"  # not `families`: params.yaml, which DVC also reads as vars, holds that key
DVC_YAML = "dvc.yaml"
BEGIN = "# >>> families:"
END = "# <<< families"
FIX = f"run `python -m {__package__} sync-families` and commit {FAMILIES_FILE} and {DVC_YAML}"

PLOTS = {  # task -> how DVC draws its plot file (files.PLOT_FILES)
    "classification": {"template": "confusion", "title": "confusion matrix on the test split"},
    "regression": {"template": "scatter", "title": "predicted vs actual on the test split"},
}


def conf_names(conf_dir: str = CONF_DIR) -> list[str]:
    """The families configured in conf/families/ (one <name>.yaml each)."""
    return sorted(path.stem for path in Path(conf_dir).glob("*.yaml"))


def entries_from(composed: dict) -> dict:
    """name -> {"data": raw data file, "task": task} from the composed families."""
    return {name: {"data": conf["data"]["raw"], "task": conf["task"]} for name, conf in sorted(composed.items())}


def families_text(entries: dict) -> str:
    lines = [
        "# The model families `dvc repro` runs its per-family stages for, and each family's raw data.",
        "# dvc.yaml reads this file (vars:) before any stage runs. Written from conf/families/ by",
        f"# `python -m {__package__} add-family` and `python -m {__package__} sync-families`: do not edit.",
        f"{LIST_KEY}:",
    ]
    for name, entry in entries.items():
        lines += [f"  {name}:", f"    data: {scalar(entry['data'])}"]
    if not entries:
        lines[-1] += " {}"
    return "\n".join(lines) + "\n"


def block_text(entries: dict) -> str:
    """The families block of dvc.yaml: one plots entry and one artifact per family."""
    lines = [
        f"{BEGIN} written from conf/families/ by `python -m {__package__} add-family` or `sync-families`.",
        "# DVC cannot generate these sections with foreach: one entry per family, never edited by hand.",
    ]
    if entries:
        lines.append("plots:")
        for name, entry in entries.items():
            plot = PLOTS[entry["task"]]
            lines += [f"  - plots/{name}/{PLOT_FILES[entry['task']]}:",
                      f"      template: {plot['template']}",
                      "      x: actual",
                      "      y: predicted",
                      f"      title: {quoted(name + ': ' + plot['title'])}"]
        lines.append("artifacts:")
        for name, entry in entries.items():
            desc = f"the {name} model bundle ({entry['task']}): see docs/BUNDLE.md"
            lines += [f"  {name}:",
                      f"    path: models/{name}",
                      "    type: model",
                      f"    desc: {quoted(desc)}",
                      "    labels:",
                      "      - scikit-learn",
                      "      - tabular",
                      f"      - {entry['task']}"]
    lines.append(END)
    return "\n".join(lines) + "\n"


def split_dvc_yaml(text: str) -> tuple[str, str | None, str]:
    """(before, block or None, after) of dvc.yaml's text."""
    start = text.find(BEGIN)
    if start == -1 or (start and text[start - 1] != "\n"):
        return text, None, ""
    end = text.find(END, start)
    if end == -1:
        return text, None, ""
    end += len(END)
    if text[end:end + 1] == "\n":
        end += 1
    return text[:start], text[start:end], text[end:]


def registered(path: str = FAMILIES_FILE) -> dict:
    """name -> data file, as families.yaml lists them."""
    try:
        listed = (yaml.safe_load(Path(path).read_text()) or {}).get(LIST_KEY) or {}
    except FileNotFoundError:
        return {}
    return {str(name): (entry or {}).get("data") for name, entry in listed.items()}


def mismatch(entries: dict, root: str = ".") -> str | None:
    """What in families.yaml or dvc.yaml disagrees with ``entries`` (from conf/families/)."""
    listed = registered(str(Path(root) / FAMILIES_FILE))
    missing = sorted(set(entries) - set(listed))
    if missing:
        return f"{FAMILIES_FILE} does not list the famil{'ies' if len(missing) > 1 else 'y'} {', '.join(missing)} of {CONF_DIR}/"
    extra = sorted(set(listed) - set(entries))
    if extra:
        return f"{FAMILIES_FILE} lists {', '.join(extra)}, which has no {CONF_DIR}/<name>.yaml"
    for name, entry in entries.items():
        if listed[name] != entry["data"]:
            return (f"{FAMILIES_FILE} gives {listed[name]} as the data of {name}, "
                    f"{CONF_DIR}/{name}.yaml says {entry['data']}")
    dvc_yaml = Path(root) / DVC_YAML
    _, block, _ = split_dvc_yaml(dvc_yaml.read_text()) if dvc_yaml.exists() else ("", None, "")
    if block is None:
        return f"{DVC_YAML} has no families block ('{BEGIN}' ... '{END}')"
    if block != block_text(entries):
        return f"the families block of {DVC_YAML} (plots and artifacts) does not match {CONF_DIR}/"
    return None


def write(entries: dict, root: str = ".") -> list[str]:
    """Write families.yaml and the families block of dvc.yaml; return the files changed."""
    changed = []
    families = Path(root) / FAMILIES_FILE
    text = families_text(entries)
    if not families.exists() or families.read_text() != text:
        families.write_text(text)
        changed.append(FAMILIES_FILE)
    dvc_yaml = Path(root) / DVC_YAML
    before, block, after = split_dvc_yaml(dvc_yaml.read_text())
    if block is None:  # no block yet: append one
        before = before if before.endswith("\n") or not before else before + "\n"
        before += "\n" if before and not before.endswith("\n\n") else ""
    new = before + block_text(entries) + after
    if new != dvc_yaml.read_text():
        dvc_yaml.write_text(new)
        changed.append(DVC_YAML)
    return changed
