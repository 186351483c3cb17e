"""HTTP/1.1 as uvicorn speaks it over httptools, bounded for a server on a network:

- **time:** a request's headers must all arrive within ``header_seconds`` of the moment the
  connection is ready for them (opened, or its previous request answered and read): a client
  that trickles them gets a 408; one that sends nothing at all, only the blank lines HTTP lets
  a client send between requests, or the rest of a body the server answered without reading,
  is closed without an answer, as an idle keep-alive connection. uvicorn itself bounds only a
  silent idle connection, and the app bounds the body it reads (``body_timeout``);
- **size:** the request line, the headers and a chunked body's trailers may take at most
  ``header_bytes``, else 431;
- **JSON:** the 400 uvicorn answers itself for a request it cannot parse (a malformed request
  line or ``Content-Length``, a TLS hello on the plain port) is ``{"error": ...}``, as every
  other error of the server;
- **closing:** after such a refusal the connection stops reading and closes once the client
  has had the answer (nginx's lingering close), so a client still sending gets the answer, not
  a reset. A refusal that comes while an earlier request on the connection is still being
  answered lets that answer finish, then closes without answering the refused one.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Optional

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

LINGER_SECONDS = 2.0  # how long a refused connection still reads (and drops) what its client sends


class HeadersTooLarge(Exception):
    pass


class BoundedHttpProtocol(HttpToolsProtocol):
    header_seconds = 10.0
    header_bytes = 64 * 1024  # as nginx's and Go's limits, a few times what real clients send
    _header_timer: Optional[object] = None
    _begun = False  # a request's first byte has arrived, its headers have not all
    _raw = 0  # bytes that arrived while a request's headers were arriving (one httptools still buffers counts)
    _parsed = 0  # bytes of this request's line, headers and trailers, as httptools hands them over
    _refused = False

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._await_headers()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # lingering after a refusal: what the client still sends is dropped
        begun = self._begun
        super().data_received(data)
        if begun and self._begun:  # the same request's headers, before and after: all of it is theirs
            self._raw += len(data)
        if self._over() and not self._refused and not self.transport.is_closing():
            self.send_error(431, f"the request headers are over {self.header_bytes} bytes")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._raw = self._parsed = 0
        self._begun = True
        self._await_headers()

    def on_url(self, url: bytes) -> None:
        self._parsed += len(url)
        self._stop_if_over()
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:  # headers, and a chunked body's trailers
        self._parsed += len(name) + len(value)
        self._stop_if_over()
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_if_over()
        self._begun = False
        self._headers_arrived()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        if self.cycle is None or self.cycle.response_complete:  # answered before its body was read
            self._headers_arrived()
            self._await_headers()  # the next request's headers get the whole time

    def on_response_complete(self) -> None:
        super().on_response_complete()
        idle = self.cycle is None or self.cycle.response_complete  # not answering a pipelined request
        if idle and not self.transport.is_closing():
            self._await_headers()

    def connection_lost(self, exc) -> None:
        self._headers_arrived()
        super().connection_lost(exc)

    def send_400_response(self, msg: str) -> None:
        if self._over():  # the parser was stopped by _stop_if_over
            self.send_error(431, f"the request headers are over {self.header_bytes} bytes")
        else:
            self.send_error(400, f"{msg.rstrip('.')}: send a well-formed HTTP/1.1 request")

    def send_error(self, status: int, message: str) -> None:
        """Answer ``status`` with ``{"error": message}`` and close the connection (see above)."""
        answering = self.cycle is not None and not self.cycle.response_complete
        self._headers_arrived()
        self._refused = True
        if answering and self._begun:  # the refused request came after the one being answered
            self.flow.pause_reading()
            self.cycle.keep_alive = False  # uvicorn closes the connection once that answer is sent
            return
        if answering:  # the request being answered is the refused one: its app sees a disconnect
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        body = orjson.dumps({"error": message})
        head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode("ascii")]
        head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
        head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body),
                 b"connection: close\r\n\r\n"]
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
        else:
            self.transport.close()

    def _over(self) -> bool:
        return max(self._raw, self._parsed) > self.header_bytes

    def _stop_if_over(self) -> None:
        """Stop httptools in the middle of the data: it raises HttpParserError, and uvicorn
        answers that with :meth:`send_400_response`."""
        if self._over():
            raise HeadersTooLarge(self.header_bytes)

    def _await_headers(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_seconds, self._headers_late)

    def _headers_arrived(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_late(self) -> None:
        self._header_timer = None
        if self.transport.is_closing() or self._refused:
            return
        if self._begun:
            self.send_error(408, f"the request headers did not arrive within {self.header_seconds:g} s")
        else:
            self.transport.close()  # nothing asked: an idle connection, closed as uvicorn closes one


def bounded(header_seconds: float) -> type:
    """The protocol class for ``uvicorn.Config(http=...)``, with this header timeout."""
    return type("BoundedHttpProtocol", (BoundedHttpProtocol,), {"header_seconds": header_seconds})
