"""``model-registry``: argparse over :mod:`.api`. Each handler parses, makes one API call and
prints. Errors print one line ``error: <msg>`` on stderr and exit 2; ``resolve`` exits 1 when
the stage is empty; ``verify`` and ``decisions verify`` exit 1 when they find a problem;
``serve`` runs until SIGINT or SIGTERM and exits 0 after a clean shutdown."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Dict, List, Optional

from . import api, textview
from ._version import __version__
from .errors import RegistryError

PROG = "model-registry"


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message):
        raise RegistryError(f"{message} (see `{self.prog} --help`)")


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, default=str))


def _print_result(res, as_json: bool = False) -> int:
    if as_json:
        _print_json(res.as_dict())
        return 0
    for line in res.messages:
        print(line)
    if res.tags:
        print("tags: " + " ".join(res.tags))
    return 0


# ---- read commands --------------------------------------------------------------------

def add_show(sub):
    p = sub.add_parser("show", help="families, the holder of every stage, versions")
    p.add_argument("family", nargs="?")
    p.add_argument("--json", action="store_true")


def cmd_show(args) -> int:
    data = api.show(args.repo, args.family)
    if args.json:
        _print_json(data)
        return 0
    if not data["families"]:
        print("no model families registered yet (no <family>@v<semver> tags)")
    for name, s in data["families"].items():
        print(f"{name}  latest {s['latest'] or '-'}  ({len(s['versions'])} versions)")
        for stage, holder in s["holders"].items():
            live = " (live)" if stage == "canary" and s["canary_live"] else ""
            print(f"  {stage:<11} {holder or '-'}{live}")
    return 0


def add_history(sub):
    p = sub.add_parser("history", help="every event: who, when, why (all families without FAMILY)")
    p.add_argument("family", nargs="?")
    p.add_argument("--json", action="store_true")


def cmd_history(args) -> int:
    rows = api.history(args.repo, args.family)
    if args.json:
        _print_json(rows)
        return 0
    print(textview.history_header())
    for row in rows:
        print(textview.history_line(row))
    return 0


def add_resolve(sub):
    p = sub.add_parser("resolve", help="print the version holding a stage")
    p.add_argument("family")
    p.add_argument("--stage", required=True)
    p.add_argument("--json", action="store_true")


def cmd_resolve(args) -> int:
    version = api.resolve(args.repo, args.family, args.stage)
    if args.json:
        _print_json({"family": args.family, "stage": args.stage, "version": version})
    elif version is None:
        print(f"{args.family}: stage {args.stage} is empty", file=sys.stderr)
    else:
        print(version)
    return 0 if version else 1


def add_propose(sub):
    p = sub.add_parser("propose", help="print the bump the evidence derives for HEAD (writes nothing)")
    p.add_argument("family")
    p.add_argument("--json", action="store_true")


def cmd_propose(args) -> int:
    from .proposal import format_report

    proposal = api.propose(args.repo, args.family)
    if args.json:
        _print_json(proposal.to_dict())
    else:
        print(format_report(proposal))
    return 0


def add_verify(sub):
    p = sub.add_parser("verify", help="check version and stage tags (and, with --remote, the DVC remote)")
    p.add_argument("family", nargs="?")
    p.add_argument("--remote", action="store_true", help="also check every version's artifacts are in the DVC remote")
    p.add_argument("--json", action="store_true")


def cmd_verify(args) -> int:
    report = api.verify(args.repo, args.family, remote=args.remote)
    if args.json:
        _print_json(report)
    else:
        print(f"checked {report['checked']} version tags" + (" and the DVC remote" if report["checked_remote"] else ""))
        if args.remote and not report["checked_remote"]:
            print("  no DVC remote checked: this is not a DVC repository")
        for line in report["problems"]:
            print(f"  problem: {line}")
        for line in report["missing"]:
            print(f"  missing in remote: {line}")
    return 1 if report["problems"] or report["missing"] else 0


def add_diff(sub):
    p = sub.add_parser("diff", help="params, metrics and bump reasons between two versions")
    p.add_argument("family")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--json", action="store_true")


def cmd_diff(args) -> int:
    report = api.diff(args.repo, args.family, args.old, args.new)
    if args.json:
        _print_json(report)
        return 0
    print("\n".join(textview.diff_lines(report)))
    return 0


def add_changelog(sub):
    p = sub.add_parser("changelog", help="release notes in Markdown, newest version first")
    p.add_argument("family")
    p.add_argument("--since", help="only versions after this one (e.g. v1.2.0)")


def cmd_changelog(args) -> int:
    print(api.changelog(args.repo, args.family, since=args.since), end="")
    return 0


def add_report(sub):
    p = sub.add_parser("report", help="write a static HTML report: stage timelines, metric charts, versions")
    p.add_argument("-o", "--output", required=True, help="directory to write (created if missing)")
    p.add_argument("--ledger", default=None, help="a decision ledger: list decisions per version")


def cmd_report(args) -> int:
    print(api.report(args.repo, args.output, ledger=args.ledger))
    return 0


def add_serve(sub):
    p = sub.add_parser("serve", help="HTTP server answering with the versions the tags name (see docs/SERVING.md)",
                       description="Serve every family's production holder over HTTP, with canary and shadow "
                                   "routes from the tags, switching when the tags change; each decision goes to "
                                   "the ledger. Options not given come from params.yaml's serving: section.")
    p.add_argument("--family", action="append", default=None,
                   help="a family to serve (repeatable; default: every family in the repository)")
    p.add_argument("--host", default=None, help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="TCP port (default: 8000)")
    p.add_argument("--follow", choices=["local", "remote"], default=None,
                   help="read the local tags, or `git fetch` them from --remote first (default: local)")
    p.add_argument("--remote", default=None, help="git remote for --follow remote (default: origin)")
    p.add_argument("--interval", type=float, default=None, help="seconds between two reads of the tags (default: 1)")
    p.add_argument("--ledger", default=None,
                   help="the decision ledger, SQLite (default: .model-registry/ledger.sqlite in the repository)")
    inputs = p.add_mutually_exclusive_group()
    inputs.add_argument("--store-inputs", dest="store_inputs", action="store_const", const=True, default=None,
                        help="keep each request's input in the ledger (the default)")
    inputs.add_argument("--hash-inputs-only", dest="store_inputs", action="store_const", const=False,
                        help="keep only the sha256 of each request's input")
    p.add_argument("--canary-percent", action="append", default=None, metavar="[FAMILY=]N",
                   help="share of requests a live canary gets (repeatable; default: 10)")


def cmd_serve(args) -> int:
    api.serve(args.repo, families=args.family, host=args.host, port=args.port, follow=args.follow,
              remote=args.remote, interval=args.interval, ledger=args.ledger, store_inputs=args.store_inputs,
              canary_percent=args.canary_percent)
    return 0


def add_decisions(sub):
    p = sub.add_parser("decisions", help="the decision ledger: which version decided what (show, list, verify)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    actions.required = True
    show = actions.add_parser("show", help="which version decided a request, on what")
    show.add_argument("request_id")
    show.set_defaults(_handler=cmd_decisions_show)
    listing = actions.add_parser("list", help="decisions filtered by family, version, route and time")
    listing.add_argument("--family")
    listing.add_argument("--version")
    listing.add_argument("--route", choices=["production", "canary", "shadow"])
    listing.add_argument("--since", help="unix seconds or ISO 8601 (UTC unless it says otherwise)")
    listing.add_argument("--until", help="unix seconds or ISO 8601")
    listing.add_argument("--limit", type=int, default=100, help="the newest N matching (default: 100)")
    listing.set_defaults(_handler=cmd_decisions_list)
    check = actions.add_parser("verify", help="check the hash chain: exit 1 if a row was edited or deleted")
    check.set_defaults(_handler=cmd_decisions_verify)
    for action in (show, listing, check):
        action.add_argument("--ledger", default=None,
                            help="the ledger (default: the one `serve` writes for this repository)")
        action.add_argument("--json", action="store_true")
        action.add_argument("--repo", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _short(value, width: int = 60) -> str:
    text = json.dumps(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def cmd_decisions_show(args) -> int:
    rows = api.decision(args.request_id, args.ledger, args.repo)
    if args.json:
        _print_json(rows)
        return 0
    for row in rows:
        print(f"request {row['request_id']}  {row['when']}  route {row['route']}")
        print(f"  decided by {row['family']} {row['version']} (commit {row['commit'] or '-'}) "
              f"in {row['latency_ms']:.2f} ms")
        print(f"  input sha256 {row['input_sha256']}")
        print(f"  input  {json.dumps(row['input']) if row['input'] is not None else '(only its hash is kept)'}")
        print(f"  output {json.dumps(row['output'])}")
    return 0


def cmd_decisions_list(args) -> int:
    rows = api.decisions(args.ledger, args.repo, args.family, args.version, args.route, args.since,
                         args.until, args.limit)
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'when':<24}  {'request':<32}  {'family':<12} {'version':<10} {'route':<10} {'ms':>7}  output")
    for r in rows:
        print(f"{r['when']:<24}  {r['request_id']:<32}  {r['family']:<12} {r['version']:<10} {r['route']:<10} "
              f"{r['latency_ms']:>7.2f}  {_short(r['output'])}")
    return 0


def cmd_decisions_verify(args) -> int:
    report = api.verify_decisions(args.ledger, args.repo)
    if args.json:
        _print_json(report)
    else:
        print(f"{report['path']}: {report['rows']} rows, head {report['head']}")
        for line in report["problems"]:
            print(f"  problem: {line}")
        if not report["problems"]:
            print("  the hash chain is intact")
    return 1 if report["problems"] else 0


# ---- write commands -------------------------------------------------------------------

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
    return _print_result(api.release(args.repo, args.family, args.bump, args.force, args.reason,
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
    return _print_result(api.promote(args.repo, args.family, args.version, args.stage, args.reason, args.force,
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
    return _print_result(api.push(args.repo, args.remote, args.dvc_remote, args.family), args.json)


def add_rollback(sub):
    p = sub.add_parser("rollback", help="production := the previous holder; deprecate the current")
    p.add_argument("family")
    p.add_argument("--to")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    p.add_argument("--json", action="store_true")


def cmd_rollback(args) -> int:
    return _print_result(api.rollback(args.repo, args.family, args.to, args.reason, args.force), args.json)


def add_drill(sub):
    p = sub.add_parser("drill", help="roll back, verify, roll forward, verify (timed)")
    p.add_argument("family")
    p.add_argument("--reason")
    p.add_argument("--json", action="store_true")


def cmd_drill(args) -> int:
    return _print_result(api.drill(args.repo, args.family, args.reason), args.json)


def add_abort_canary(sub):
    p = sub.add_parser("abort-canary", help="end a live canary: canary := production")
    p.add_argument("family")
    p.add_argument("--reason", required=True)
    p.add_argument("--json", action="store_true")


def cmd_abort_canary(args) -> int:
    return _print_result(api.abort_canary(args.repo, args.family, args.reason), args.json)


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
    return _print_result(api.deprecate(args.repo, args.family, args.version, args.reason, args.force), args.json)


def add_archive(sub):
    _add_retire(sub, "archive", "mark a version archived")


def cmd_archive(args) -> int:
    return _print_result(api.archive(args.repo, args.family, args.version, args.reason, args.force), args.json)


# name -> (add_parser, handler)
COMMANDS: Dict[str, tuple] = {
    "propose": (add_propose, cmd_propose),
    "release": (add_release, cmd_release),
    "promote": (add_promote, cmd_promote),
    "rollback": (add_rollback, cmd_rollback),
    "drill": (add_drill, cmd_drill),
    "abort-canary": (add_abort_canary, cmd_abort_canary),
    "deprecate": (add_deprecate, cmd_deprecate),
    "archive": (add_archive, cmd_archive),
    "show": (add_show, cmd_show),
    "history": (add_history, cmd_history),
    "resolve": (add_resolve, cmd_resolve),
    "diff": (add_diff, cmd_diff),
    "changelog": (add_changelog, cmd_changelog),
    "report": (add_report, cmd_report),
    "verify": (add_verify, cmd_verify),
    "push": (add_push, cmd_push),
    "serve": (add_serve, cmd_serve),
    "decisions": (add_decisions, None),  # each action sets its own handler
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Git-tag model registry (GTO/DVC compatible).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    parser.add_argument("--repo", default=None, help="path inside the git repository (default: current directory)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (add, handler) in COMMANDS.items():
        add(sub)
        p = sub.choices[name]
        p.add_argument("--repo", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        if handler is not None:
            p.set_defaults(_handler=handler)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    try:
        args = build_parser().parse_args(argv)
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
