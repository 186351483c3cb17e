"""Serving commands: ``serve`` and ``decisions show|list|verify`` (the decision ledger)."""

from __future__ import annotations

import argparse
import json

from .. import api
from . import Parser
from .output import print_json


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
    durable = p.add_mutually_exclusive_group()
    durable.add_argument("--durable-ledger", dest="durable_ledger", action="store_const", const=True, default=None,
                         help="answer only after the decision's ledger row is committed to disk, with group "
                              "commit")
    durable.add_argument("--fast-ledger", dest="durable_ledger", action="store_const", const=False,
                         help="answer at once; rows are committed within 50 ms, a crash can lose the last ones "
                              "(the default)")
    p.add_argument("--require-signed", dest="require_signed", action="store_const", const=True, default=None,
                   help="never serve a holder whose stage tag is unsigned or fails the authority policy "
                        "(registry/authority.yaml on the protected ref; params.yaml serving.require_signed)")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="decide bodies of params.yaml serving.worker_min_bytes or more (default 64 KiB) in N "
                        "worker processes, so they never slow small requests (default: 0, one process)")
    p.add_argument("--canary-percent", action="append", default=None, metavar="[FAMILY=]N",
                   help="share of requests a live canary gets (repeatable; default: 10)")
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="local: one process (the default); ray: Ray Serve, a deployment of --replicas per family "
                        "(the ray extra)")
    p.add_argument("--replicas", type=int, default=1, help="with --engine ray: replicas per family (default: 1)")
    p.add_argument("--address", default=None,
                   help="with --engine ray: the Ray cluster to join (default: start a local Ray instance)")
    p.add_argument("--insecure", action="store_true",
                   help="listen beyond loopback without a token. The token is never an option: set "
                        "MODEL_REGISTRY_TOKEN, or MODEL_REGISTRY_TOKEN_FILE naming a file that holds it; "
                        "then /v1/reload and /v2/repository/* need `Authorization: Bearer <token>` "
                        "(predict and infer too with params.yaml serving.auth.predict: true)")


def cmd_serve(args) -> int:
    api.serve(args.repo, families=args.family, host=args.host, port=args.port, follow=args.follow,
              remote=args.remote, interval=args.interval, ledger=args.ledger, store_inputs=args.store_inputs,
              canary_percent=args.canary_percent, insecure=args.insecure,
              durable_ledger=args.durable_ledger, require_signed=args.require_signed, workers=args.workers,
              engine=args.engine, replicas=args.replicas, address=args.address)
    return 0


def add_decisions(sub):
    p = sub.add_parser("decisions", help="the decision ledger: which version decided what (show, list, verify)")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    show = actions.add_parser("show", help="which version decided a request, on what")
    show.add_argument("request_id")
    show.set_defaults(_handler=cmd_decisions_show)
    listing = actions.add_parser("list", help="decisions filtered by family, version, route and time")
    listing.add_argument("--family")
    listing.add_argument("--version")
    listing.add_argument("--route", choices=["production", "canary", "shadow", "pinned"])
    listing.add_argument("--since", help="unix seconds or ISO 8601 (UTC unless it says otherwise)")
    listing.add_argument("--until", help="unix seconds or ISO 8601")
    listing.add_argument("--limit", type=int, default=100, help="the newest N matching (default: 100)")
    listing.set_defaults(_handler=cmd_decisions_list)
    check = actions.add_parser("verify", help="check the hash chain: exit 1 if a row was edited or deleted")
    check.set_defaults(_handler=cmd_decisions_verify)
    sealing = actions.add_parser("seal", help="sign the ledger's head as a git tag ledger-seal/NAME/SEQ, "
                                              "so `verify` detects a ledger rewritten whole (push the tag)")
    sealing.set_defaults(_handler=cmd_decisions_seal)
    for action in (check, sealing):
        action.add_argument("--name", default="default", help="the seals' name, for a repository with several "
                                                                "ledgers (default: default)")
    for action in (show, listing, check, sealing):
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
        print_json(rows)
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
        print_json(rows)
        return 0
    print(f"{'when':<24}  {'request':<32}  {'family':<12} {'version':<10} {'route':<10} {'ms':>7}  output")
    for r in rows:
        print(f"{r['when']:<24}  {r['request_id']:<32}  {r['family']:<12} {r['version']:<10} {r['route']:<10} "
              f"{r['latency_ms']:>7.2f}  {_short(r['output'])}")
    return 0


def cmd_decisions_seal(args) -> int:
    sealed = api.seal_decisions(args.ledger, args.repo, args.name)
    if args.json:
        print_json(sealed)
    else:
        print(f"sealed row {sealed['seq']} (head {sealed['head']}) as {sealed['tag']}: "
              f"`git push origin {sealed['tag']}` to anchor it")
    return 0


def cmd_decisions_verify(args) -> int:
    report = api.verify_decisions(args.ledger, args.repo, args.name)
    if args.json:
        print_json(report)
    else:
        print(f"{report['path']}: {report['rows']} rows, head {report['head']}, {report['seals']} seal(s)")
        for line in report["problems"]:
            print(f"  problem: {line}")
        if not report["problems"]:
            print("  the hash chain is intact")
    return 1 if report["problems"] else 0


COMMANDS = {
    "serve": (add_serve, cmd_serve),
    "decisions": (add_decisions, None),  # each action sets its own handler
}
