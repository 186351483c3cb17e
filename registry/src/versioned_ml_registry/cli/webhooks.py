"""``webhooks list`` (what waits in the outbox) and ``webhooks deliver`` (send it now).

``deliver`` exits 0 when nothing is left to send, 1 when events stay in the outbox after the
retries, 2 for a malformed ``registry/webhooks.yaml``."""

from __future__ import annotations

import argparse

from .. import api
from . import Parser
from .output import print_json


def add_webhooks(sub):
    p = sub.add_parser("webhooks", help="stage-change webhooks: list what waits in the outbox, deliver it")
    actions = p.add_subparsers(dest="action", metavar="ACTION", parser_class=Parser)
    actions.required = True
    shown = actions.add_parser("list", help="the events waiting in the outbox, with their attempts")
    shown.add_argument("--json", action="store_true")
    shown.set_defaults(_handler=cmd_list)
    send = actions.add_parser("deliver", help="send the waiting events now, with the configured retries "
                                              "(waits for events another process is sending)")
    send.add_argument("--attempts", type=int, default=None, help="attempts per event and endpoint "
                                                                 "(default: retry.attempts of the webhooks file)")
    send.add_argument("--json", action="store_true")
    # the detached process a stage change starts: sends the events it names, skips those another
    # process holds, prints nothing
    send.add_argument("--background", action="store_true", help=argparse.SUPPRESS)
    send.add_argument("ids", nargs="*", help=argparse.SUPPRESS)
    send.set_defaults(_handler=cmd_deliver)
    for action in (shown, send):
        action.add_argument("--repo", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _event_line(row: dict) -> str:
    change = f"{row['family']} {row['stage']} := {row['version']}"
    if row.get("previous"):
        change += f" (was {row['previous']})"
    line = f"{row['id'][:16]}  {row['timestamp']}  {row['tag']}  {row['event']}: {change}"
    if row.get("owed") is not None:
        line += f"; owed to {', '.join(row['owed']) or 'nobody (removed at the next deliver)'}"
    last = row.get("last")
    if last:
        line += f"; {row['attempts']} attempt(s), last: {last.get('answer')} from {last.get('url')}"
    return line


def cmd_list(args) -> int:
    found = api.webhooks_pending(args.repo)
    if args.json:
        print_json(found)
        return 0
    if found["config"] is None:
        print("no registry/webhooks.yaml: stage changes are not announced")
    if not found["events"]:
        print("no event waits in the outbox")
    for row in found["events"]:
        print(_event_line(row))
    return 0


def cmd_deliver(args) -> int:
    report = api.webhooks_deliver(args.repo, args.attempts, wait=not args.background, only=args.ids or None)
    if args.background:
        return 0
    if args.json:
        print_json(report)
    else:
        for outcome in ("delivered", "dropped", "pending"):
            if report[outcome]:
                print(f"{outcome}: {len(report[outcome])} event(s)")
        if report["pending"]:
            print("what stays is in the outbox: `model-registry webhooks list`; attempts in .git/model-registry/webhooks.log")
        if not any(report.values()):
            print("no event waits in the outbox")
    return 1 if report["pending"] else 0


COMMANDS = {"webhooks": (add_webhooks, None)}  # each action sets its own handler
