"""``model-registry`` command line (argparse), thin over :mod:`.api`.

One ``cmd_<name>(args) -> int`` function per subcommand, registered in ``COMMANDS`` by
``add_<name>(subparsers)``. Seams for the rest of the package:

* ``release``: :func:`derive_proposal` builds the proposal (bundle comparison, bump rules);
  :func:`release_preflight` adds the DVC checks. Both are looked up lazily.
* ``promote ... production``: :func:`artifacts_check` (DVC remote presence), lazily.
* ``push`` and ``promote --push``: :mod:`.publish` (git remote + DVC remote).
* ``propose``/``verify``/``diff``/``serve``: add ``add_<name>`` + ``cmd_<name>``
  and list them in ``COMMANDS``.

Tag commands import neither DVC nor hydra. Errors print one line ``error: <msg>`` on
stderr and exit 2; ``resolve`` exits 1 when the stage is empty.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Callable, Dict, List, Optional

from . import api
from .errors import RegistryError

PROG = "model-registry"


class _Parser(argparse.ArgumentParser):
    """argparse, but usage errors are one line and exit 2 like every other bad input."""

    def error(self, message):  # noqa: D401
        raise RegistryError(f"{message} (see `{self.prog} --help`)")


def _print_json(data) -> None:
    print(json.dumps(data, indent=2, sort_keys=False, default=str))


def _print_result(res, as_json: bool = False) -> None:
    if as_json:
        _print_json(res.as_dict())
        return
    for line in res.messages:
        print(line)
    if res.tags:
        print("tags: " + " ".join(res.tags))


# ---- seams (filled by the rest of the package; looked up lazily) ----------------------

def derive_proposal(r: "api.Repo", family: str):
    """The proposal (bump, reasons, provenance, gates) for ``family`` at HEAD, compared
    with the family's highest released version in the tag state ``r`` was opened with."""
    from .proposal import propose  # bundle comparison + bump rules: reads through DVC

    fam = r.state.family(family)
    return propose(r.toplevel, family, released=fam.highest() if fam else None)


def release_preflight() -> Callable:
    """Before release: `dvc status` must be clean, so the tags pin what dvc.lock says."""
    from .checks import require_lock_matches_workspace

    return require_lock_matches_workspace


def artifacts_check(args: argparse.Namespace):
    """Before production: the version's artifacts must be in the DVC remote."""
    from .checks import artifacts_in_remote

    dvc_remote = getattr(args, "dvc_remote", None)
    if dvc_remote:
        return lambda toplevel, family, info: artifacts_in_remote(toplevel, family, info, remote=dvc_remote)
    return artifacts_in_remote


# ---- read commands --------------------------------------------------------------------

def _stage_line(name: str, value) -> str:
    if isinstance(value, list):
        value = ", ".join(value) if value else "-"
    return f"  {name:<11} {value or '-'}"


def add_show(sub):
    p = sub.add_parser("show", help="families, stage holders and version lists")
    p.add_argument("family", nargs="?")
    p.add_argument("--json", action="store_true")
    return p


def cmd_show(args) -> int:
    data = api.show(args.repo, args.family)
    if args.json:
        _print_json(data)
        return 0
    if not data["families"]:
        print("no model families registered yet (no <family>@v<semver> tags)")
        return 0
    for name, s in data["families"].items():
        print(f"{name}  latest {s['latest'] or '-'}  ({len(s['versions'])} versions)")
        for stage in ("production", "canary", "staging"):
            if stage in s["holders"]:
                value = s["holders"][stage]
                if stage == "canary" and s["canary_live"]:
                    value = f"{value} (live)"
                print(_stage_line(stage, value))
        for stage, versions in s["lists"].items():
            print(_stage_line(stage, versions))
    return 0


def add_history(sub):
    p = sub.add_parser("history", help="every event of a family: who, when, why")
    p.add_argument("family")
    p.add_argument("--json", action="store_true")
    return p


def cmd_history(args) -> int:
    rows = api.history(args.repo, args.family)
    if args.json:
        _print_json(rows)
        return 0
    print(f"{'when':<20}  {'event':<12} {'version':<10} {'stage':<11} {'from':<11} by / why")
    for r in rows:
        why = r.get("reason") or ""
        if r["event"] == "release" and r.get("bump"):
            why = f"{r['bump']}: {why}" if why else r["bump"]
        if r.get("forced"):
            why += " [forced]"
        print(f"{r['when']:<20}  {r['event']:<12} {r['version']:<10} {r['stage'] or '-':<11} "
              f"{r['from_stage'] or '-':<11} {r['by']}" + (f" / {why}" if why else ""))
    return 0


def add_resolve(sub):
    p = sub.add_parser("resolve", help="print the version holding a stage")
    p.add_argument("family")
    p.add_argument("--stage", required=True)
    p.add_argument("--json", action="store_true")
    return p


def cmd_resolve(args) -> int:
    version = api.resolve(args.repo, args.family, args.stage)
    if args.json:
        _print_json({"family": args.family, "stage": args.stage, "version": version})
        return 0 if version else 1
    if version is None:
        print(f"{args.family}: stage {args.stage} is empty", file=sys.stderr)
        return 1
    print(version)
    return 0


# ---- write commands -------------------------------------------------------------------

def add_release(sub):
    p = sub.add_parser("release", help="tag HEAD as the next version (+ candidate if gates pass)")
    p.add_argument("family")
    p.add_argument("--bump", choices=["major", "minor", "patch"])
    p.add_argument("--force", action="store_true")
    p.add_argument("--reason")
    p.add_argument("--if-changed", action="store_true",
                   help="exit 0, writing nothing, when the bundle is identical to a released version (CI on every merge)")
    return p


def cmd_release(args) -> int:
    r = api.open_repo(args.repo)  # one tag snapshot for the proposal and the release
    proposal = derive_proposal(r, args.family)
    res = api.release(r, args.family, proposal, args.bump, args.force, args.reason,
                      preflight=release_preflight(), if_changed=args.if_changed)
    _print_result(res)
    return 0


def add_promote(sub):
    p = sub.add_parser("promote", help="assign a stage to a version")
    p.add_argument("family")
    p.add_argument("version")
    p.add_argument("stage")
    p.add_argument("--reason")
    p.add_argument("--force", action="store_true")
    p.add_argument("--skip-staging", action="store_true")
    p.add_argument("--push", action="store_true",
                   help="fetch the tags first, then publish the new tag(s) with git push --atomic; "
                        "retry if another clone published first and the promotion is still valid")
    p.add_argument("--remote", default="origin", help="git remote for --push (default: origin)")
    p.add_argument("--dvc-remote", default=None, help="DVC remote (default: the project's default remote)")
    return p


def cmd_promote(args) -> int:
    check = artifacts_check(args) if args.stage == "production" else None
    if args.push:
        from .publish import promote_and_push

        res = promote_and_push(args.repo, args.family, args.version, args.stage, args.reason,
                               args.force, args.skip_staging, artifacts_check=check,
                               remote=args.remote, dvc_remote=args.dvc_remote)
    else:
        res = api.promote(args.repo, args.family, args.version, args.stage, args.reason,
                          args.force, args.skip_staging, artifacts_check=check)
    _print_result(res)
    return 0


def add_push(sub):
    p = sub.add_parser("push", help="publish: DVC artifacts of unpublished versions first, then "
                                    "every registry tag the git remote lacks (git push --atomic)")
    p.add_argument("--remote", default="origin", help="git remote (default: origin)")
    p.add_argument("--dvc-remote", default=None, help="DVC remote (default: the project's default remote)")
    p.add_argument("--family", default=None, help="publish only this family's tags")
    p.add_argument("--json", action="store_true")
    return p


def cmd_push(args) -> int:
    from .publish import push

    res = push(api.open_repo(args.repo), args.remote, args.dvc_remote, args.family)
    _print_result(res, args.json)
    return 0


def add_rollback(sub):
    p = sub.add_parser("rollback", help="production := previous holder; deprecate the current")
    p.add_argument("family")
    p.add_argument("--to")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    return p


def cmd_rollback(args) -> int:
    _print_result(api.rollback(args.repo, args.family, args.to, args.reason, args.force))
    return 0


def add_drill(sub):
    p = sub.add_parser("drill", help="roll back, verify, roll forward, verify (timed)")
    p.add_argument("family")
    p.add_argument("--reason")
    return p


def cmd_drill(args) -> int:
    _print_result(api.drill(args.repo, args.family, args.reason))
    return 0


def add_abort_canary(sub):
    p = sub.add_parser("abort-canary", help="end a live canary: canary := production")
    p.add_argument("family")
    p.add_argument("--reason", required=True)
    return p


def cmd_abort_canary(args) -> int:
    _print_result(api.abort_canary(args.repo, args.family, args.reason))
    return 0


def _add_retire(sub, name, help_):
    p = sub.add_parser(name, help=help_)
    p.add_argument("family")
    p.add_argument("version")
    p.add_argument("--reason", required=True)
    p.add_argument("--force", action="store_true")
    return p


def add_deprecate(sub):
    return _add_retire(sub, "deprecate", "mark a version deprecated")


def cmd_deprecate(args) -> int:
    _print_result(api.deprecate(args.repo, args.family, args.version, args.reason, args.force))
    return 0


def add_archive(sub):
    return _add_retire(sub, "archive", "mark a version archived")


def cmd_archive(args) -> int:
    _print_result(api.archive(args.repo, args.family, args.version, args.reason, args.force))
    return 0


def add_propose(sub):
    p = sub.add_parser("propose", help="print the bump the evidence derives for HEAD (writes nothing)")
    p.add_argument("family")
    p.add_argument("--json", action="store_true")
    return p


def cmd_propose(args) -> int:
    r = api.open_repo(args.repo)
    proposal = derive_proposal(r, args.family)
    fam = r.state.family(args.family)
    current = fam.highest() if fam else None
    upcoming = None
    if proposal.bump or current is None:
        upcoming = "v" + str(api.lifecycle.next_version(current.version if current else None, proposal.bump))
    if args.json:
        _print_json({**proposal.to_dict(), "next_version": upcoming})
        return 0
    from .proposal import format_report

    print(format_report(proposal, upcoming))
    return 0


def add_verify(sub):
    p = sub.add_parser("verify", help="check version tags against dvc.lock (and the DVC remote)")
    p.add_argument("family", nargs="?")
    p.add_argument("--remote", action="store_true", help="also check every version's artifacts are in the DVC remote")
    p.add_argument("--json", action="store_true")
    return p


def cmd_verify(args) -> int:
    report = api.verify(args.repo, args.family, remote=args.remote)
    if args.json:
        _print_json(report)
    else:
        print(f"checked {report['checked']} version tags" + (" and the DVC remote" if args.remote else ""))
        for line in report["problems"]:
            print(f"  problem: {line}")
        for line in report["missing"]:
            print(f"  missing in remote: {line}")
    return 1 if report["problems"] or report["missing"] else 0


def add_diff(sub):
    p = sub.add_parser("diff", help="params, metrics, signature and bump reasons between two versions")
    p.add_argument("family")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--json", action="store_true")
    return p


def cmd_diff(args) -> int:
    report = api.diff(args.repo, args.family, args.old, args.new)
    if args.json:
        _print_json(report)
        return 0
    print(f"{args.family} {report['old']} -> {report['new']}: {report['bump'] or 'identical bundles'}")
    for section in ("params", "metrics"):
        for key, (before, after) in report[section].items():
            print(f"  {section[:-1] if section == 'params' else 'metric'} {key}: {before} -> {after}")
    for reason in report["reasons"]:
        print(f"  - {reason}")
    return 0


def add_serve(sub):
    p = sub.add_parser("serve", help="predict JSON records from stdin with the version a tag names")
    p.add_argument("family")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--stage", default="production")
    which.add_argument("--version")
    return p


def cmd_serve(args) -> int:
    try:
        records = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        raise RegistryError(f"stdin is not JSON ({exc}): give a list of records, one object per input")
    if isinstance(records, dict):
        records = [records]
    model = api.load_model(args.family, stage=args.stage, version=args.version, repo=args.repo)
    _print_json({"family": args.family, "version": model.version, "predictions": model.predict(records)})
    return 0


# name -> (add_parser, handler)
COMMANDS: Dict[str, tuple] = {
    "serve": (add_serve, cmd_serve),
    "propose": (add_propose, cmd_propose),
    "verify": (add_verify, cmd_verify),
    "diff": (add_diff, cmd_diff),
    "show": (add_show, cmd_show),
    "history": (add_history, cmd_history),
    "resolve": (add_resolve, cmd_resolve),
    "release": (add_release, cmd_release),
    "promote": (add_promote, cmd_promote),
    "push": (add_push, cmd_push),
    "rollback": (add_rollback, cmd_rollback),
    "drill": (add_drill, cmd_drill),
    "abort-canary": (add_abort_canary, cmd_abort_canary),
    "deprecate": (add_deprecate, cmd_deprecate),
    "archive": (add_archive, cmd_archive),
}


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=PROG, description="Git-tag model registry (GTO/DVC compatible).")
    parser.add_argument("--repo", default=None,
                        help="path inside the git repository (default: current directory)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name, (add, _handler) in COMMANDS.items():
        p = add(sub)
        p.add_argument("--repo", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        p.set_defaults(_handler=_handler)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
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
