"""Commands about model files: untrusted-types."""

from __future__ import annotations

from .. import api
from .output import print_json


def add_untrusted_types(sub):
    p = sub.add_parser("untrusted-types", help="list the skops types in a model file or folder that loading "
                                               "would refuse, for review")
    p.add_argument("path", help="a .skops file, a model folder or a bundle folder (models/<family>)")
    p.add_argument("--json", action="store_true")


def cmd_untrusted_types(args) -> int:
    found = api.untrusted_types(args.path)
    if args.json:
        print_json({"path": args.path, "untrusted_types": found})
        return 0
    if not found:
        print(f"{args.path}: every type is trusted (skops' defaults and the registry's reviewed list)")
        return 0
    print(f"{args.path}: {len(found)} type(s) loading refuses; review each, then list the ones you trust "
          "under trusted_types in the family's conf:")
    for name in found:
        print(f"  - {name}")
    return 0


COMMANDS = {"untrusted-types": (add_untrusted_types, cmd_untrusted_types)}
