"""Where things are: the template (this repository), the test venv's executables, the cache."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# testkit/src/vml_testkit/paths.py: the repository is three folders up (an editable install)
TEMPLATE = Path(__file__).resolve().parents[3]
if not (TEMPLATE / "cookiecutter.json").is_file():
    raise ImportError(f"vml_testkit must be installed editable from the template (pip install -e ./testkit), "
                      f"not copied: {TEMPLATE} holds no cookiecutter.json")

BIN = Path(sys.executable).parent
# the registry distribution's console script, installed in the test venv (registry/)
MODEL_REGISTRY = BIN / "model-registry"


def cache_dir() -> Path:
    """Helper venvs and files kept between runs (``MODEL_REGISTRY_TEST_CACHE`` moves it)."""
    return Path(os.environ.get("MODEL_REGISTRY_TEST_CACHE", TEMPLATE / ".cache"))
