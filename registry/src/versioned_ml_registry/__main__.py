"""``python -m versioned_ml_registry``: the same as ``model-registry``."""

import sys

from .cli import main

sys.exit(main())
