"""Sending the outbox: every waiting event to every endpoint it goes to and has not had yet.

An event is tried in rounds: each round posts it to the endpoints still owed (so a healthy
endpoint never waits for a broken one), then waits ``backoff`` seconds, doubled after every
round up to ``max_backoff`` (up to a quarter less at random, so clients that failed together do
not retry together; a longer ``Retry-After`` is honoured within ``max_backoff``), for at most
``attempts`` rounds. A 2xx is a delivery; anything else (a redirect, which is not followed, a
timeout, a refused connection) is a failure. A ``410 Gone`` stops the retries of that endpoint
for this run. Each attempt is one line of ``<git dir>/model-registry/webhooks.log``. What is
still owed after the last round stays in the outbox for the next ``model-registry webhooks
deliver``.
"""

from __future__ import annotations

import http.client
import random
import time
import urllib.error
import urllib.request
from pathlib import Path

from .._version import __version__
from ..errors import RegistryError
from .config import Endpoint, Webhooks
from .outbox import Claim, Outbox
from .signature import headers, signing_key

LOG_FILE = "webhooks.log"
LOG_LIMIT = 1 << 20  # bytes: past this the log moves to webhooks.log.1 (one old log is kept)


class Log:
    def __init__(self, git_dir: str):
        self.path = Path(git_dir) / "model-registry" / LOG_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self.path.stat().st_size > LOG_LIMIT:
                self.path.replace(self.path.with_name(LOG_FILE + ".1"))
        except FileNotFoundError:
            pass

    def __call__(self, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(f"{stamp} {line}\n")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # the 3xx becomes an HTTPError: a failed attempt


_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: bytes, signed: dict, timeout: float) -> tuple[bool, str, float | None]:
    """(whether the answer was a 2xx, the answer in a few words, its Retry-After in seconds)."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json", "user-agent": f"model-registry/{__version__}", **signed})
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read(1 << 16)
            return 200 <= response.status < 300, f"HTTP {response.status}", None
    except urllib.error.HTTPError as exc:
        after = exc.headers.get("retry-after", "") if exc.headers else ""
        exc.close()
        return False, f"HTTP {exc.code}", float(after) if after.strip().isdigit() else None
    except urllib.error.URLError as exc:
        return False, str(getattr(exc.reason, "strerror", None) or exc.reason), None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return False, str(exc) or type(exc).__name__, None


class Sender:
    """Delivers claimed events with one configuration, logging every attempt."""

    def __init__(self, toplevel: str, webhooks: Webhooks, log: Log, rounds: int | None = None):
        self.toplevel, self.webhooks, self.log = toplevel, webhooks, log
        self.retry = webhooks.retry
        self.rounds = rounds or self.retry.attempts

    def _keys(self, claim: Claim, label: str, owed: list[Endpoint]) -> dict[str, bytes]:
        keys = {}
        for endpoint in owed:
            try:
                keys[endpoint.key] = signing_key(endpoint.secret(self.toplevel))
            except RegistryError as exc:
                claim.record(endpoint.key, endpoint.shown, 0, False, f"not sent: {exc}")
                self.log(f"{label} -> {endpoint.shown}: not sent: {exc}")
        return keys

    def send(self, claim: Claim) -> str:
        """Deliver one claimed event: ``delivered`` (it left the outbox), ``dropped`` (no endpoint
        wants it any more) or ``pending``."""
        p = claim.payload
        if p is None:
            self.log(f"{claim.id}: not a JSON object; left in the outbox")
            return "pending"
        label = f"{claim.id} {p.get('tag')}"
        targets = self.webhooks.targets(str(p.get("family")), str(p.get("stage")))
        if not targets:
            self.log(f"{label}: no endpoint of the webhooks file wants it; removed from the outbox")
        done = claim.delivered()
        owed = [endpoint for endpoint in targets if endpoint.key not in done]
        keys = self._keys(claim, label, owed)
        sendable = [endpoint for endpoint in owed if endpoint.key in keys]
        for attempt in range(1, self.rounds + 1):
            if not sendable:
                break
            waits = [self._attempt(claim, label, endpoint, keys[endpoint.key], attempt, sendable)
                     for endpoint in list(sendable)]
            if sendable and attempt < self.rounds:
                delay = self.retry.delay(attempt) * random.uniform(0.75, 1.0)
                delay = min(max([delay, *(w for w in waits if w)]), self.retry.max_backoff)
                self.log(f"{label}: next attempt in {delay:.1f} s")
                time.sleep(delay)
        for endpoint in sendable:
            self.log(f"{label} -> {endpoint.shown}: gave up after {self.rounds} attempt(s); it stays in the "
                     "outbox: `model-registry webhooks deliver` sends it again")
        delivered = claim.delivered()
        if all(endpoint.key in delivered for endpoint in targets):
            claim.remove()
            return "delivered" if targets else "dropped"
        return "pending"

    def _attempt(self, claim, label, endpoint, key, attempt, sendable) -> float | None:
        ok, answer, retry_after = post(endpoint.url, claim.body, headers(key, claim.id, int(time.time()), claim.body),
                                       self.retry.timeout)
        claim.record(endpoint.key, endpoint.shown, attempt, ok, answer)
        self.log(f"{label} -> {endpoint.shown} attempt {attempt}/{self.rounds}: {answer}"
                 + (": delivered" if ok else ""))
        if ok:
            sendable.remove(endpoint)
        elif answer == "HTTP 410":
            self.log(f"{label} -> {endpoint.shown}: 410 Gone: no more attempts in this run")
            sendable.remove(endpoint)
        return retry_after


def deliver(toplevel: str, git_dir: str, webhooks: Webhooks, wait: bool = True, rounds: int | None = None,
            only: list[str] | None = None) -> dict:
    """Send every waiting event (``only``: those of these ids): ``{"delivered", "dropped",
    "pending", "busy"}`` lists of ids. ``wait``: wait for an event another process is sending,
    then send what it left; without it, such an event is ``busy`` and skipped (what the
    background process does)."""
    outbox = Outbox(git_dir)
    sender = Sender(toplevel, webhooks, Log(git_dir), rounds)
    report = {"delivered": [], "dropped": [], "pending": [], "busy": []}
    for item in outbox.pending():
        if only is not None and item.id not in only:
            continue
        with outbox.claim(item.id, wait) as claim:
            if claim is not None:
                report[sender.send(claim)].append(item.id)
            elif not wait and item.path.exists():
                report["busy"].append(item.id)
    return report
