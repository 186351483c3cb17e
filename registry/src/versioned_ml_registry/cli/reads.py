"""Read commands: show, history, resolve, propose, verify, diff, changelog, report."""

from __future__ import annotations

import sys

from .. import api
from ..report import text as textview
from .output import print_json


def add_show(sub):
    p = sub.add_parser("show", help="families, the holder of every stage, versions")
    p.add_argument("family", nargs="?")
    p.add_argument("--json", action="store_true")


def cmd_show(args) -> int:
    data = api.show(args.repo, args.family)
    if args.json:
        print_json(data)
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
        print_json(rows)
        return 0
    width = textview.WIDTH if sys.stdout.isatty() else None  # a script or a file gets whole names
    print(textview.history_header())
    for row in rows:
        print(textview.history_line(row, width))
    return 0


def add_resolve(sub):
    p = sub.add_parser("resolve", help="print the version holding a stage")
    p.add_argument("family")
    p.add_argument("--stage", required=True)
    p.add_argument("--json", action="store_true")


def cmd_resolve(args) -> int:
    found = api.resolution(args.repo, args.family, args.stage)
    version = found["version"]
    if args.json:
        print_json({"family": args.family, "stage": args.stage, **found})
        return 0 if version else 1
    for problem in found["problems"]:
        print(f"warning: {problem}", file=sys.stderr)
    if version is None:
        print(f"{args.family}: stage {args.stage} is empty", file=sys.stderr)
    else:
        print(version)
    return 0 if version else 1


def add_propose(sub):
    p = sub.add_parser("propose", help="print the bump the evidence derives for HEAD (writes nothing)")
    p.add_argument("family")
    p.add_argument("--json", action="store_true")


def cmd_propose(args) -> int:
    from ..lifecycle.propose import format_report

    proposal = api.propose(args.repo, args.family)
    if args.json:
        print_json(proposal.to_dict())
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
        print_json(report)
    else:
        print(f"checked {report['checked']} version tags" + (" and the DVC remote" if report["checked_remote"] else "")
              + f"; authority: {report['policy']}")
        if args.remote and not report["checked_remote"]:
            print("  no DVC remote checked: this is not a DVC repository")
        for line in report["problems"]:
            print(f"  problem: {line}")
        for line in report["missing"]:
            print(f"  missing in remote: {line}")
        for line in report.get("warnings", []):
            print(f"  warning: {line}")
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
        print_json(report)
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
    p.add_argument("--ledger", default=None, help="a decision ledger: list decisions per version "
                                                  "(default: the one `serve` writes here, when it exists)")


def cmd_report(args) -> int:
    print(api.report(args.repo, args.output, ledger=args.ledger))
    return 0


COMMANDS = {
    "show": (add_show, cmd_show),
    "history": (add_history, cmd_history),
    "resolve": (add_resolve, cmd_resolve),
    "propose": (add_propose, cmd_propose),
    "verify": (add_verify, cmd_verify),
    "diff": (add_diff, cmd_diff),
    "changelog": (add_changelog, cmd_changelog),
    "report": (add_report, cmd_report),
}
