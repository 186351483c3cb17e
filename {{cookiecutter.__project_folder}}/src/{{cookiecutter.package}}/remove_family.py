"""`python -m {{ cookiecutter.package }} remove-family NAME`: take a family out of the project,
e.g. the example the bake ships, once your own family is in.

It refuses, writing nothing, when the family is unknown, is the only one (add yours first, or
put your data under its name: `add-family NAME ... --replace`), or has versions in the
registry: versions are immutable, so a released family stays.

It removes the family's conf, then rewrites families.yaml and dvc.yaml's families block, then
removes its raw data and that data's .dvc file, the outputs its stages wrote and their dvc.lock
entries.
"""

from . import families
from .config import sync
from .errors import ProjectError
from .family_files import Undo, check_known, check_project, check_unreleased, conf_path, remove_data, remove_outputs


def remove_family(name: str) -> list[str]:
    """Remove the family; return what to tell the user. ProjectError: nothing was removed."""
    check_project()
    raw = check_known(name, f"`python -m {__package__} families` lists them")
    if families.conf_names() == [name]:
        raise ProjectError(f"{name!r} is the only family: add yours first (add-family NAME --data FILE "
                           f"--target COLUMN), or put your data under its name: add-family {name} "
                           "--data FILE --target COLUMN --replace")
    check_unreleased(name, "keep the family; `model-registry deprecate` retires a version")

    conf = conf_path(name)
    undo = Undo(conf, families.FAMILIES_FILE, families.DVC_YAML)
    try:
        conf.unlink()
        sync()
    except BaseException:
        undo()
        raise
    remove_data(raw)
    remove_outputs(name)
    return [
        f"removed family {name}: {conf}, {raw} and {raw}.dvc, its outputs and its dvc.lock entries",
        "Next:",
        "  git add -A",
        f"  git commit -m \"feat: remove the {name} family\"",
    ]
