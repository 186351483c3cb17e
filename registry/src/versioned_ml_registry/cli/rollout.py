"""``model-registry rollout``: decide a live canary on a server's evidence."""

from __future__ import annotations

from .. import api
from .output import print_result


def add_rollout(sub):
    p = sub.add_parser("rollout", help="promote or abort a live canary on the evidence a server measured, "
                                       "by the family's rollout: policy; exit 0 promoted, 3 aborted, 4 waiting")
    p.add_argument("family")
    p.add_argument("--server", required=True, help="the model-registry server's URL, e.g. http://127.0.0.1:8000 "
                                                    "(a token from MODEL_REGISTRY_TOKEN)")
    p.add_argument("--dry-run", action="store_true", help="print the decision and its evidence; write nothing")
    p.add_argument("--watch", action="store_true", help="repeat until the decision is promote or abort")
    p.add_argument("--every", type=float, default=30.0, help="with --watch: seconds between two looks (default 30)")
    p.add_argument("--timeout", type=float, default=3600.0, help="with --watch: give up waiting after this many "
                                                                 "seconds (default 3600)")
    p.add_argument("--json", action="store_true")


def cmd_rollout(args) -> int:
    res = api.rollout(args.repo, args.family, args.server, args.dry_run, args.watch, args.every, args.timeout)
    print_result(res, args.json)
    return res.data["exit_code"]


COMMANDS = {"rollout": (add_rollout, cmd_rollout)}
