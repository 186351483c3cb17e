"""A real S3-compatible server on 127.0.0.1 for the test suite: moto's standalone `moto_server`.

moto runs in its OWN virtual environment (``.cache/moto-venv``, see ``vml_testkit.venvs``). The
server keeps its data in memory, so the bucket is created after every start.

Usable without pytest::

    from vml_testkit.s3 import MotoServer
    with MotoServer(bucket="dvc-store") as s3:
        env = s3.environ()          # os.environ + AWS_ENDPOINT_URL and test credentials
        subprocess.run(["dvc", "push"], env=env, check=True)

or as a script (prints the variables to export, serves until Ctrl-C)::

    python -m vml_testkit.s3 [--bucket NAME] [--port N]

and from pytest through the fixture factory::

    from vml_testkit.s3 import s3_server_fixture
    s3 = s3_server_fixture(scope="module")      # a fixture named `s3` yielding a MotoServer
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET

from .net import HOST, free_port
from .paths import cache_dir
from .venvs import ServerError, moto_server_executable

ACCESS_KEY = "testing"
SECRET_KEY = "testing"
REGION = "us-east-1"

# Variables that would make botocore look elsewhere than the test server (a developer's profile,
# a session token, a real endpoint) are removed from the environments built here.
_AWS_VARS_TO_DROP = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_MAX_ATTEMPTS",
    "AWS_RETRY_MODE",
)


def _empty_aws_file() -> str:
    path = cache_dir() / "aws-empty-config"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    return str(path)


def s3_environ(
    endpoint_url: str | None,
    base: dict[str, str] | None = None,
    *,
    credentials: bool = True,
) -> dict[str, str]:
    """A full environment for dvc-s3: ``base`` (default os.environ) without stray AWS settings,
    plus the endpoint (when given), the test credentials (when ``credentials``), the region and
    ``AWS_MAX_ATTEMPTS=1`` (an unreachable remote then fails in about a second, not ten)."""
    env = dict(os.environ if base is None else base)
    for key in _AWS_VARS_TO_DROP:
        env.pop(key, None)
    # Never read a developer's ~/.aws files (botocore refuses /dev/null: use an empty file).
    empty = _empty_aws_file()
    env["AWS_CONFIG_FILE"] = empty
    env["AWS_SHARED_CREDENTIALS_FILE"] = empty
    env["AWS_MAX_ATTEMPTS"] = "1"
    env["AWS_DEFAULT_REGION"] = REGION
    if credentials:
        env["AWS_ACCESS_KEY_ID"] = ACCESS_KEY
        env["AWS_SECRET_ACCESS_KEY"] = SECRET_KEY
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    return env


# --------------------------------------------------------------------------- the server


class MotoServer:
    """``moto_server -H 127.0.0.1 -p <port>`` as a subprocess, with one bucket created."""

    def __init__(self, bucket: str = "dvc-store", *, port: int | None = None,
                 start_timeout: float = 30.0) -> None:
        self.bucket = bucket
        self.port = port
        self.start_timeout = start_timeout
        self.proc: subprocess.Popen | None = None
        self._log = None
        self.startup_seconds: float | None = None

    # -- lifecycle
    @property
    def endpoint_url(self) -> str:
        if self.port is None:
            raise ServerError("server not started")
        return f"http://{HOST}:{self.port}"

    def start(self) -> "MotoServer":
        exe = moto_server_executable()
        started = time.monotonic()
        last_error = ""
        fixed = self.port
        for _attempt in range(1 if fixed else 3):  # a free port may be taken before moto binds
            port = fixed or free_port()
            self._log = tempfile.TemporaryFile(mode="w+")
            self.proc = subprocess.Popen(
                [str(exe), "-H", HOST, "-p", str(port)],
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            )
            self.port = port
            try:
                self._wait_until_ready()
                break
            except ServerError as exc:
                last_error = str(exc)
                self.stop()
                self.port = fixed
        else:
            raise ServerError(f"moto_server did not start: {last_error}")
        self.create_bucket(self.bucket)
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerError(
                    f"moto_server exited with {self.proc.returncode}: {self.log_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.endpoint_url + "/", timeout=1) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                pass
            time.sleep(0.05)  # poll interval of a bounded wait
        raise ServerError(f"moto_server not answering after {self.start_timeout}s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "MotoServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def log_text(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    # -- S3 over plain HTTP (moto does not check signatures)
    def _request(self, method: str, path: str, data: bytes | None = None) -> bytes:
        req = urllib.request.Request(self.endpoint_url + path, data=data, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.read()

    def create_bucket(self, name: str) -> None:
        self._request("PUT", "/" + urllib.parse.quote(name))

    def reset(self) -> None:
        """Drop every bucket and object, then create the bucket again."""
        self._request("POST", "/moto-api/reset")
        self.create_bucket(self.bucket)

    def list_keys(self, prefix: str = "", bucket: str | None = None) -> list[str]:
        """Keys under ``prefix`` (ListObjectsV2, following continuation tokens)."""
        bucket = bucket or self.bucket
        keys: list[str] = []
        token = None
        while True:
            query = {"list-type": "2", "prefix": prefix}
            if token:
                query["continuation-token"] = token
            body = self._request(
                "GET", f"/{urllib.parse.quote(bucket)}?{urllib.parse.urlencode(query)}"
            )
            root = ET.fromstring(body)
            ns = root.tag.split("}")[0] + "}" if root.tag.startswith("{") else ""
            keys += [el.text for el in root.iter(f"{ns}Key")]
            truncated = root.findtext(f"{ns}IsTruncated") == "true"
            token = root.findtext(f"{ns}NextContinuationToken")
            if not truncated or not token:
                return keys

    # -- for clients
    def url(self, prefix: str = "") -> str:
        """``s3://<bucket>/<prefix>``: the remote URL to give dvc."""
        return f"s3://{self.bucket}/{prefix}".rstrip("/")

    def env(self) -> dict[str, str]:
        """Only the variables dvc-s3 needs for this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_MAX_ATTEMPTS": "1",
        }

    def environ(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """A full environment (``base`` or os.environ, cleaned) pointing dvc-s3 here."""
        return s3_environ(self.endpoint_url, base)


# --------------------------------------------------------------------------- pytest


def s3_server_fixture(scope: str = "module", bucket: str = "dvc-store", name: str | None = None):
    """Build a pytest fixture that starts one MotoServer per ``scope`` and stops it after.

    Assign it at module level in a test file or conftest.py: ``s3 = s3_server_fixture()``.
    """
    import pytest  # only needed here: the rest of this module works without pytest

    @pytest.fixture(scope=scope, name=name)
    def _s3_server():
        server = MotoServer(bucket=bucket)
        try:
            server.start()
        except ServerError as exc:
            pytest.fail(f"could not start the S3 test server: {exc}")
        try:
            yield server
        finally:
            server.stop()

    return _s3_server


# --------------------------------------------------------------------------- script


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Serve S3 on 127.0.0.1 with moto (Ctrl-C stops).")
    parser.add_argument("--bucket", default="dvc-store")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the server on `kill` too
    t0 = time.monotonic()
    with MotoServer(bucket=args.bucket, port=args.port) as server:
        print(f"# moto_server ready in {time.monotonic() - t0:.1f}s; bucket {server.url()}")
        for key, value in server.env().items():
            print(f"export {key}={value}")
        sys.stdout.flush()
        try:
            while server.proc.poll() is None:
                time.sleep(1)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
