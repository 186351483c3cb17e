"""The repository's ``.gto``, which GTO refuses to work without when it does not parse.

The registry's stages are its own fixed list; a ``.gto`` may list more stages for GTO, never
fewer. Every registry command checks the file, so a broken ``.gto`` stops ``show`` as it stops
``gto show``. The check is remembered by the file's content (``<git dir>/model-registry/gto``):
``resolve``, which deploy jobs call often, parses YAML only after the file changed.
"""

from __future__ import annotations

import os

from ..errors import RegistryError
from .names import DEFAULT_STAGES

FIX = "fix or delete it; gto reads it too"


def load_stages(toplevel: str | None) -> tuple:
    """The stages a ``.gto`` lists (``stages: [..]``), else the registry's; RegistryError when the
    file does not parse or lacks a stage the registry needs."""
    path = os.path.join(toplevel, ".gto") if toplevel else None
    if path is None or not os.path.isfile(path):
        return DEFAULT_STAGES
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1}, column {where.column + 1})" if where is not None else ""
        raise RegistryError(f".gto is not valid YAML{at}: {FIX}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RegistryError(f"cannot read .gto: {exc}") from None
    if data is None:
        return DEFAULT_STAGES
    if not isinstance(data, dict):
        raise RegistryError(f".gto must be a mapping such as 'stages: [...]': {FIX}")
    stages = data.get("stages")
    if not stages:
        return DEFAULT_STAGES
    if not isinstance(stages, list):
        raise RegistryError(f".gto: stages must be a list: {FIX}")
    stages = tuple(str(stage) for stage in stages)
    missing = [stage for stage in DEFAULT_STAGES if stage not in stages]
    if missing:
        raise RegistryError(f".gto lacks the stages the registry needs: {', '.join(missing)}")
    return stages


def check(toplevel: str, git_dir: str) -> None:
    """Refuse a ``.gto`` that GTO or the registry cannot use; parse it only when it changed."""
    try:
        with open(os.path.join(toplevel, ".gto"), "rb") as handle:
            content = handle.read()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RegistryError(f"cannot read .gto: {exc.strerror or exc}") from None
    stamp = os.path.join(git_dir, "model-registry", "gto")
    try:
        with open(stamp, "rb") as handle:
            if handle.read() == content:
                return
    except OSError:
        pass
    load_stages(toplevel)
    try:
        os.makedirs(os.path.dirname(stamp), exist_ok=True)
        with open(stamp + ".tmp", "wb") as handle:
            handle.write(content)
        os.replace(stamp + ".tmp", stamp)
    except OSError:
        pass  # a read-only clone checks again next time
