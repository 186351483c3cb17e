"""127.0.0.1 only: free ports, an endpoint nothing listens on, and bounded polling."""

from __future__ import annotations

import socket
import time

HOST = "127.0.0.1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def unreachable_endpoint() -> str:
    """An http URL on 127.0.0.1 whose port has no listener: connections are refused at once."""
    return f"http://{HOST}:{free_port()}"


def poll(condition, timeout: float = 30.0, what: str = "the condition", every: float = 0.02):
    """``condition()``'s first truthy value, trying until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
