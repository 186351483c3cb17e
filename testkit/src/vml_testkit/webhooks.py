"""A Standard Webhooks receiver for the tests: a real HTTP server on 127.0.0.1, in a thread, that
checks every request with the independent ``standardwebhooks`` package (not the registry's code),
answers 204 (or what it is told) to a valid signature and 401 to anything else, and remembers
what it got."""

from __future__ import annotations

import base64
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .net import HOST, free_port, poll


def new_secret() -> str:
    """A secret in the spec's form: ``whsec_`` + base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


@dataclass
class Delivery:
    headers: dict
    body: bytes
    verified: bool
    error: str | None
    status: int

    @property
    def id(self) -> str | None:
        return self.headers.get("webhook-id")

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class Receiver:
    """``with Receiver(secret) as hook:`` serves ``hook.url`` until the block ends; ``start`` and
    ``stop`` bring it up and down on the same port (a receiver that is down, then up). A plain
    secret is checked as its UTF-8 bytes, a ``whsec_`` one as the package decodes it."""

    def __init__(self, secret: str, port: int | None = None, fail_first: int = 0, answer: int = 204):
        from standardwebhooks import Webhook

        self.verifier = Webhook(secret if secret.startswith("whsec_") else secret.encode())
        self.port = port or free_port()
        self.fail_first = fail_first  # answer 503 to this many valid requests first
        self.answer = answer  # then this to a valid request
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/hook"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    receiver.verifier.verify(body, headers)
                    verified, error = True, None
                except Exception as exc:  # the package's WebhookVerificationError, or a malformed header
                    verified, error = False, str(exc)
                with receiver.lock:
                    failing = verified and receiver.fail_first > 0
                    receiver.fail_first -= failing
                    status = 503 if failing else receiver.answer if verified else 401
                    receiver.deliveries.append(Delivery(headers, body, verified, error, status))
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((HOST, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def __enter__(self) -> Receiver:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def got(self) -> list[Delivery]:
        with self.lock:
            return list(self.deliveries)

    def accepted(self) -> Counter:
        """How many times each webhook-id was answered 204 (verified, and not failed on purpose)."""
        return Counter(d.id for d in self.got() if d.status == 204)

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Delivery]:
        """The deliveries once there are at least ``count`` of them (bounded poll)."""
        return poll(lambda: len(self.got()) >= count and self.got(), timeout, f"{count} webhook deliveries")


def configure(repo: Path, *endpoints: dict, retry: dict | None = None) -> Path:
    """Write ``registry/webhooks.yaml`` in ``repo``: ``endpoints`` as given, ``retry`` settings."""
    import yaml

    path = Path(repo) / "registry" / "webhooks.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"endpoints": list(endpoints)}
    if retry is not None:
        data["retry"] = retry
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def outbox(repo: Path) -> list[str]:
    """The ids of the events waiting in ``repo``'s outbox."""
    folder = Path(repo) / ".git" / "model-registry" / "outbox"
    return sorted(p.name.removesuffix(".json") for p in folder.glob("msg_*.json")) if folder.is_dir() else []


def log_text(repo: Path) -> str:
    path = Path(repo) / ".git" / "model-registry" / "webhooks.log"
    return path.read_text() if path.exists() else ""
