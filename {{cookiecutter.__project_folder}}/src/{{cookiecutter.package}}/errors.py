"""The project's one error, and the one place that reports it.

Every stage and command raises ProjectError for bad input (a bad conf, bad data, a wrong
command line) with one line saying what is wrong and how to fix it. ``run`` turns it, and the
registry's own one-line error (RegistryError, raised by the bundle contract the stages call),
into ``error: <line>`` on stderr and exit status 2: never a traceback.
"""

import sys
from collections.abc import Callable

from versioned_ml_registry.errors import RegistryError

EXIT_STATUS = 2


class ProjectError(Exception):
    """Bad input: one line saying what is wrong and how to fix it."""

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).splitlines()))


def run(main: Callable[[], int | None]) -> None:
    """Run ``main()`` as a command and exit: with its status, or 2 after one `error: ...` line."""
    try:
        status = main()
    except (ProjectError, RegistryError) as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(EXIT_STATUS)
    sys.exit(status or 0)


def run_stage(main: Callable[[str], None], argv: list[str] | None = None) -> None:
    """A family stage's command line, `python -m <package>.<stage> FAMILY` (dvc.yaml runs it
    once per family), through ``run``."""
    args = sys.argv[1:] if argv is None else argv
    spec = sys.modules[main.__module__].__spec__  # under `python -m`, main's module is __main__

    def stage() -> None:
        if len(args) != 1:
            module = spec.name if spec else main.__module__
            raise ProjectError(f"usage: python -m {module} FAMILY (got {len(args)} arguments)")
        main(args[0])

    run(stage)
