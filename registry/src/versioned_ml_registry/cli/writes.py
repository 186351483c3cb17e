"""Write commands: release, promote, push, rollback, drill, abort-canary, deprecate, archive.
Each prints the API's :class:`Result`: its lines and the tags written (``--json``: all of it)."""

from __future__ import annotations

from .. import api
from .output import print_result


def add_release(sub):
    p = sub.add_parser("release", help="tag HEAD as the next version (+ candidate if the gates pass)")
    p.add_argument("family")
    p.add_argument("--bump", choices=["major", "minor", "patch"])
    p.add_argument("--force", action="store_true")
    p.add_argument("--reason")
    p.add_argument("--if-changed", action="store_true",
                   help="exit 0, writing nothing, when the bundle is identical to a released version")
    p.add_argument("--offline", action="store_true",
                   help="do not ask the git remote whether the version number was ever used there")
    p.add_argument("--json", action="store_true")


def cmd_release(args) -> int:
    return print_result(api.release(args.repo, args.family, args.bump, args.force, args.reason,
                                     if_changed=args.if_changed, offline=args.offline), args.json)


def add_promote(sub):
    p = sub.add_parser("promote", help="assign a stage to a version, through every gate")
    p.add_argument("family")
    p.add_argument("version")
    p.add_argument("stage")
    p.add_argument("--reason")
    p.add_argument("--force", action="store_true", help="override the order and metric gates (needs --reason)")
    p.add_argument("--skip-staging", action="store_true", help="production straight from candidate (needs --reason)")
    p.add_argument("--breaking", action="store_true",
                   help="allow a signature that breaks production's callers (needs --reason)")
    p.add_argument("--push", action="store_true",
                   help="promote on the git remote's tags and publish atomically; retry after a lost race")
    p.add_argument("--remote", default="origin", help="git remote for --push (default: origin)")
    p.add_argument("--dvc-remote", default=None, help="DVC remote (default: the project's default remote)")
    p.add_argument("--json", action="store_true")


def cmd_promote(args) -> int:
    return print_result(api.promote(args.repo, args.family, args.version, args.stage, args.reason, args.force,
                                     args.skip_staging, args.breaking, args.dvc_remote, args.push, args.remote),
                         args.json)


def add_push(sub):
    p = sub.add_parser("push", help="publish: DVC artifacts of unpublished versions, then every registry "
                                    "tag the git remote lacks (git push --atomic)")
    p.add_argument("--remote", default="origin", help="git remote (default: origin)")
    p.add_argument("--dvc-remote", default=None, help="DVC remote (default: the project's default remote)")
    p.add_argument("--family", default=None, help="publish only this family's tags")
    p.add_argument("--json", action="store_true")


def cmd_push(args) -> int:
    return print_result(api.push(args.repo, args.remote, args.dvc_remote, args.family), args.json)


def add_rollback(sub):
    p = sub.add_parser("rollback", help="production := the previous holder; deprecate the current")
    p.add_argument("family")
    p.add_argument("--to")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")


def cmd_rollback(args) -> int:
    return print_result(api.rollback(args.repo, args.family, args.to, args.reason, args.force), args.json)


def add_drill(sub):
    p = sub.add_parser("drill", help="roll back, verify, roll forward, verify (timed)")
    p.add_argument("family")
    p.add_argument("--reason")
    p.add_argument("--json", action="store_true")


def cmd_drill(args) -> int:
    return print_result(api.drill(args.repo, args.family, args.reason), args.json)


def add_abort_canary(sub):
    p = sub.add_parser("abort-canary", help="end a live canary: canary := production")
    p.add_argument("family")
    p.add_argument("--reason", required=True)
    p.add_argument("--json", action="store_true")


def cmd_abort_canary(args) -> int:
    return print_result(api.abort_canary(args.repo, args.family, args.reason), args.json)


def _add_retire(sub, name, help_):
    p = sub.add_parser(name, help=help_)
    p.add_argument("family")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")


def add_deprecate(sub):
    _add_retire(sub, "deprecate", "mark a version deprecated")


def cmd_deprecate(args) -> int:
    return print_result(api.deprecate(args.repo, args.family, args.version, args.reason, args.force), args.json)


def add_archive(sub):
    _add_retire(sub, "archive", "mark a version archived")


def cmd_archive(args) -> int:
    return print_result(api.archive(args.repo, args.family, args.version, args.reason, args.force), args.json)


COMMANDS = {
    "release": (add_release, cmd_release),
    "promote": (add_promote, cmd_promote),
    "push": (add_push, cmd_push),
    "rollback": (add_rollback, cmd_rollback),
    "drill": (add_drill, cmd_drill),
    "abort-canary": (add_abort_canary, cmd_abort_canary),
    "deprecate": (add_deprecate, cmd_deprecate),
    "archive": (add_archive, cmd_archive),
}
