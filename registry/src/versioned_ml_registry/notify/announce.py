"""What a registry command calls once its tags are written or published: the events of the stage
tags the team can now see go to the outbox, and a detached process starts sending them.

The team sees the tags a push published (``push``, ``promote --push``) and, in a repository with
no git remote, every tag written; a local write in a clone that has a remote is announced by the
push that publishes it. Nothing here fails the command, whose tags are already written: a
webhooks file that does not parse or a secret that is not set is a warning line, and the events
wait in the outbox until ``model-registry webhooks deliver`` runs with the file fixed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ..errors import RegistryError
from ..tags import refs as gitrefs
from .config import CONFIG_FILE, configured, load
from .delivery import LOG_FILE
from .events import stage_events
from .outbox import Outbox, outbox_dir

_started: list[subprocess.Popen] = []  # held, so an API caller's interpreter reaps them quietly


def has_remote(toplevel: str) -> bool:
    return bool(gitrefs.git(toplevel, "remote").stdout.strip())


def start_delivery(toplevel: str, git_dir: str, ids: list[str]) -> None:
    """``model-registry webhooks deliver --background <ids>`` in its own session: it outlives
    this command and a terminal closed after it; its stderr goes to the webhooks log. It sends
    only these events, so its run stays bounded by one retry schedule per event; older ones wait
    for a ``deliver`` by hand or in CI."""
    _started[:] = [proc for proc in _started if proc.poll() is None]
    log = Path(git_dir) / "model-registry" / LOG_FILE
    with open(log, "ab") as stderr:
        _started.append(subprocess.Popen(
            [sys.executable, "-m", "versioned_ml_registry", "--repo", toplevel, "webhooks", "deliver", "--background", *ids],
            cwd=toplevel, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr,
            start_new_session=True, close_fds=True))


def queue(toplevel: str, git_dir: str, names: list[str]) -> list[str]:
    """Queue the events of the stage tags among ``names``, start their delivery; lines for the user."""
    try:
        webhooks, problem = load(toplevel), None
    except RegistryError as exc:
        webhooks, problem = None, str(exc)
    events = stage_events(toplevel, names)
    if webhooks is not None:
        events = [e for e in events if webhooks.targets(e.payload["family"], e.payload["stage"])]
    if not events:
        return []
    added = Outbox(git_dir).add(events)
    where = os.path.relpath(outbox_dir(git_dir), toplevel)
    if problem is not None:
        return [f"warning: webhooks not sent: {problem}; {len(events)} event(s) wait in {where}: "
                "fix the file, then run `model-registry webhooks deliver`"]
    lines = []
    endpoints = {e.url: e for ev in events for e in webhooks.targets(ev.payload["family"], ev.payload["stage"])}
    for endpoint in endpoints.values():
        try:
            endpoint.secret(toplevel)
        except RegistryError as exc:
            lines.append(f"warning: webhooks: {exc}; its events wait in {where} for `model-registry webhooks deliver`")
    if added:
        start_delivery(toplevel, git_dir, added)
        lines.insert(0, f"webhooks: {len(added)} event(s) to {len(endpoints)} endpoint(s), sent in the background "
                        "(`model-registry webhooks list` shows what waits)")
    return lines


def announce(repo, res, published: bool = False) -> None:
    """Announce the stage tags ``res`` wrote (``published``: those it pushed) when the team can
    see them; adds lines to ``res.messages``, never raises."""
    if not configured(repo.toplevel):
        return
    names = list(res.data.get("published") or res.tags) if published else list(res.tags)
    if not names:
        return
    try:
        if not published and has_remote(repo.toplevel):
            return
        res.messages += queue(repo.toplevel, repo.git_dir, names)
    except Exception as exc:  # noqa: BLE001 - the tags are written: nothing may fail the command now
        res.messages.append(f"warning: webhooks not queued ({CONFIG_FILE}): {exc}")
