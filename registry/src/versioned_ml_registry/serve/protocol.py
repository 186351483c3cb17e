"""HTTP/1.1 as uvicorn speaks it over httptools, with two changes for a server on a network:

- a request's headers must all arrive within ``header_seconds`` of its first byte (or of the
  connection, for its first request), and take at most ``header_bytes``: a client that
  trickles them, or connects and says nothing, gets a 408, one that sends more gets a 431, and
  the connection is closed. uvicorn bounds only the idle time between
  two requests (its keep-alive timeout) and the app bounds the body (``body_timeout``);
- the 400 uvicorn answers itself for a request it cannot parse (a malformed request line or
  ``Content-Length``, a TLS hello on the plain port) is JSON
  ``{"error": ...}``, as every other error of the server.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Optional

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 2.0  # how long a refused connection still reads (and drops) what its client sends


class BoundedHttpProtocol(HttpToolsProtocol):
    header_seconds = 10.0
    header_bytes = 64 * 1024  # as nginx's and Go's limits, a few times what real clients send
    _header_timer: Optional[object] = None
    _header_received = 0
    _refused = False

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: what the client still sends is dropped
        pending = self._header_timer is not None
        super().data_received(data)
        if pending and self._header_timer is not None and not self.transport.is_closing():
            self._header_received += len(data)
            if self._header_received > self.header_bytes:
                self.send_error(431, f"the request headers are over {self.header_bytes} bytes")

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._await_headers()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._await_headers()

    def on_headers_complete(self) -> None:
        self._headers_arrived()
        super().on_headers_complete()

    def connection_lost(self, exc) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        self.send_error(400, f"{msg.rstrip('.')}: send a well-formed HTTP/1.1 request")

    def send_error(self, status: int, message: str) -> None:
        """Answer ``status`` with ``{"error": message}`` and close the connection: after the
        answer, as nginx's lingering close does, so that a client still sending gets the
        answer rather than a reset."""
        self._headers_arrived()
        body = orjson.dumps({"error": message})
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("ascii")]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                 b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        idle = self.cycle is None or self.cycle.response_complete
        if idle and self.transport.can_write_eof():
            self._refused = True
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _await_headers(self) -> None:
        if self._header_timer is None:
            self._header_received = 0
            self._header_timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.send_error(408, f"the request headers did not arrive within {self.header_seconds:g} s")


def bounded(header_seconds: float) -> type:
    """The protocol class for ``uvicorn.Config(http=...)``, with this header timeout."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,), {"header_seconds": header_seconds})
