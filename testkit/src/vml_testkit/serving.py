"""A real registry to serve, and the real server as a subprocess on 127.0.0.1.

``build_registry`` makes a git + DVC repository (with a local DVC remote and a bare git remote)
holding two families released through the registry's own release engine:

| family | task | versions |
| --- | --- | --- |
| ``cultivar`` | classification | v0.1.0 production; v0.2.0, v0.3.0 (behaviour changed) and v0.4.0 (its fingerprint does not match its model) in staging |
| ``price`` | regression | v0.1.0 production; v0.2.0 in staging |

It is built once per test session (the ``serving_base`` fixture); every test serves its own
copy (``evidence.copy_registry``). ``Server``
starts ``python -m versioned_ml_registry serve`` on a free port and talks HTTP to it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from . import evidence
from .evidence import copy_registry, init_repo, lock_md5, record
from .git import git
from .net import free_port, poll
from .registry import FakeProposal, write_release

FAMILY, REGRESSION = "cultivar", "price"

DVC_YAML = """\
stages:
  package:
    cmd: python src/pkg/package.py
    deps: [src/pkg/package.py]
    outs: [models/cultivar]
  package_price:
    cmd: python src/pkg/package.py price
    deps: [src/pkg/package.py]
    outs: [models/price]
"""


def write_bundle(root: Path, family: str, **options) -> Path:
    """``evidence.write_bundle`` with its profile.json: every served bundle has a profile."""
    return evidence.write_bundle(root, family, profile=True, **options)


def release_bundle(root: Path, family: str) -> str:
    """Tag HEAD as the family's next version, provenance recorded as `release` records it."""
    from versioned_ml_registry.bundle.digests import folder_sha256

    path = f"models/{family}"
    signature = json.loads((root / path / "signature.json").read_text())
    fake = FakeProposal(family, provenance={"path": path, "md5": {path: lock_md5(root, path)},
                                            "sha256": folder_sha256(root / path),
                                            "signature": signature, "metrics": {"accuracy": 0.95}})
    return write_release(str(root), family, fake).version


def spoil_fingerprint(root: Path, family: str) -> None:
    """Record a fingerprint its model does not reproduce (the first probe's label moved)."""
    path = root / "models" / family / "fingerprint.json"
    data = json.loads(path.read_text())
    labels = sorted(set(data["predictions"]))
    data["predictions"][0] = labels[(labels.index(data["predictions"][0]) + 1) % len(labels)]
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def build_registry(base: Path) -> Path:
    import versioned_ml_registry as reg

    root = init_repo(base)
    (root / "dvc.yaml").write_text(DVC_YAML)
    git(base, "init", "-q", "--bare", "origin.git")
    git(root, "remote", "add", "origin", "../origin.git")
    write_bundle(root, FAMILY, C=1.0)
    write_bundle(root, REGRESSION, C=1.0, task="regression")
    record(root, "feat: first models")
    release_bundle(root, FAMILY), release_bundle(root, REGRESSION)
    write_bundle(root, FAMILY, C=1.0, flip=3)
    write_bundle(root, REGRESSION, C=30.0, task="regression")
    record(root, "feat: second models")
    release_bundle(root, FAMILY), release_bundle(root, REGRESSION)
    write_bundle(root, FAMILY, C=1.0, flip=6)
    record(root, "feat: third cultivar model")
    release_bundle(root, FAMILY)
    write_bundle(root, FAMILY, C=0.5)
    spoil_fingerprint(root, FAMILY)
    record(root, "feat: a cultivar model whose fingerprint lies")
    release_bundle(root, FAMILY)
    for family, versions in ((FAMILY, ["v0.1.0", "v0.2.0", "v0.3.0", "v0.4.0"]), (REGRESSION, ["v0.1.0", "v0.2.0"])):
        for version in versions:
            reg.promote(str(root), family, version, "staging")
        reg.promote(str(root), family, "v0.1.0", "production")
    git(root, "push", "-q", "origin", "main", "--tags")
    return root


class Client:
    """One keep-alive HTTP connection to the server."""

    def __init__(self, port: int, timeout: float = 60.0):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method: str, path: str, body=None, headers=None, raw: bytes | None = None):
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json", **(headers or {})}
        reused = self.conn.sock is not None
        try:
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
            if not reused:
                raise
            # the server closed this idle keep-alive connection before reading the request (as
            # any HTTP client does, send it once more on a new connection)
            self.conn.close()
            self.conn.request(method, path, body=data, headers=headers)
            response = self.conn.getresponse()
        text = response.read()
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = text.decode("utf-8", "replace")
        return response.status, {k.lower(): v for k, v in response.getheaders()}, payload

    def predict(self, family: str, records, key: str | None = None):
        return self.request("POST", f"/v1/models/{family}/predict", {"records": records},
                            {"X-Request-Key": key} if key is not None else None)

    def close(self):
        self.conn.close()


class Server:
    """``model-registry serve`` on 127.0.0.1 as a subprocess of the test."""

    def __init__(self, root: Path, *options: str, ledger: Path | None = None):
        self.root = root
        self.port = free_port()
        self.ledger = ledger or root.parent / "ledger.sqlite"
        self.log_path = root.parent / f"server-{self.port}.log"
        command = [sys.executable, "-m", "versioned_ml_registry", "--repo", str(root), "serve",
                   "--port", str(self.port), "--ledger", str(self.ledger), *options]
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=root,
                                         env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.client = Client(self.port)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str):
        status, _, body = Client(self.port).request("GET", path)
        return status, body

    def models(self) -> dict:
        return self.get("/v1/models")[1]["families"]

    def serving(self, family: str, route: str = "production"):
        return self.models()[family]["serving"][route]

    def reload(self) -> dict:
        status, _, body = Client(self.port).request("POST", "/v1/reload")
        assert status == 200, body
        return body["families"]

    def health(self):
        """(status, body) of /healthz, or None while the server is not listening yet."""
        if self.proc.poll() is not None:
            raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
        try:
            return self.get("/healthz")
        except OSError:
            return None

    def wait_healthy(self, timeout: float = 60.0) -> dict:
        def healthy():
            answer = self.health()
            return answer[1] if answer and answer[0] == 200 else None
        return poll(healthy, timeout, "the server to be healthy")

    def wait_serving(self, family: str, version, route: str = "production", timeout: float = 30.0) -> None:
        poll(lambda: self.serving(family, route) == version, timeout, f"{family} {route} to serve {version}")

    def stop(self, sig=signal.SIGTERM, timeout: float = 60.0) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError(f"the server did not stop within {timeout} s:\n{self.log()}") from None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.stop()


@contextlib.contextmanager
def serving_copy(base: Path, folder: Path, *options: str):
    """A healthy ``Server`` on a copy (in ``folder``) of the registry ``build_registry`` made in
    ``base``; stopped on exit."""
    with Server(copy_registry(base, folder / "copy"), *options) as running:
        running.wait_healthy()
        yield running


def probe(root: Path, family: str, n: int = 5) -> list:
    return json.loads((root / "models" / family / "fingerprint.json").read_text())["probe"][:n]
