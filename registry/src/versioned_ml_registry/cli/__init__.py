"""``model-registry``: argparse over :mod:`..api`. Each handler parses, makes one API call and
prints. Errors print one line ``error: <msg>`` on stderr and exit 2; ``resolve`` exits 1 when
the stage is empty; ``verify`` and ``decisions verify`` exit 1 when they find a problem;
``serve`` runs until SIGINT or SIGTERM and exits 0 after a clean shutdown.

The commands live in :mod:`.reads`, :mod:`.writes`, :mod:`.rollout` and :mod:`.serving`. A call that names a
command builds only that command's parser and imports only its module: argparse spends about
as long building 18 subcommands as ``resolve`` spends reading a family's tags.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib import import_module

from .._version import __version__
from ..errors import RegistryError

PROG = "model-registry"

# command -> the module of this package that defines it, in the order `--help` lists them
WHERE = {
    "propose": "reads", "release": "writes", "promote": "writes", "rollback": "writes",
    "drill": "writes", "abort-canary": "writes", "deprecate": "writes", "archive": "writes",
    "show": "reads", "history": "reads", "resolve": "reads", "diff": "reads",
    "changelog": "reads", "report": "reads", "verify": "reads", "push": "writes",
    "rollout": "rollout", "serve": "serving", "decisions": "serving", "untrusted-types": "models",
    "webhooks": "webhooks",
}


class Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message):
        raise RegistryError(f"{message} (see `{self.prog} --help`)")


def command_named(argv: list[str]) -> str | None:
    """The command ``argv`` names after the global ``--repo``, if it is one of ours; None when
    anything else comes first (``--help``, ``--version``, a typo), which needs every command."""
    args = iter(argv)
    for arg in args:
        if arg == "--repo":
            next(args, None)
        elif not arg.startswith("--repo="):
            return arg if arg in WHERE else None
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line, or (``only``) the global options and that one command."""
    parser = Parser(prog=PROG, description="Git-tag model registry (GTO/DVC compatible).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--repo", default=None, help="path inside the git repository (default: current directory)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for name in [only] if only else WHERE:
        add, handler = import_module(f".{WHERE[name]}", __name__).COMMANDS[name]
        add(sub)
        p = sub.choices[name]
        p.add_argument("--repo", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if handler is not None:
            p.set_defaults(_handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(command_named(argv)).parse_args(argv)
        if args.repo is not None:
            args.repo = os.path.abspath(args.repo)
        return int(args._handler(args) or 0)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
