"""A TLS socket two threads can share: one reading, one writing.

A WebSocket on Werkzeug (simple_websocket) reads its connection on a thread of its own while the handler
writes on the request's thread. An `ssl.SSLSocket` must not be used by two threads at once (OpenSSL's
state is shared by reads and writes): a write during a blocked read fails now and then with
`SSLEOFError` or corrupts the stream. Here every read, write and the close hold one lock, and a read never
blocks while holding it: it reads what TLS has already decrypted, else waits for the descriptor outside the
lock. Once closed, no TLS call is made again: OpenSSL keeps the descriptor's number, and a read after the
close could consume (and answer with an alert) the handshake of a new connection given the same number.
"""

from __future__ import annotations

import select
import ssl
import threading
from typing import Any

READ_WAIT_SECONDS = 1.0  # a waiting reader re-checks this often whether the socket was closed


class SerializedTlsSocket:
    """Wraps an `ssl.SSLSocket`; `recv`, `send` and `sendall` never overlap. Other attributes pass through."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self._sock = sock
        self._lock = threading.Lock()
        self._closed = False

    def recv(self, size: int) -> bytes:
        while True:
            wait_for_write = False
            with self._lock:
                self._check_open()
                timeout = self._sock.gettimeout()
                self._sock.settimeout(0)
                try:
                    return self._sock.recv(size)
                except ssl.SSLWantReadError:
                    pass
                except ssl.SSLWantWriteError:  # a TLS read that must write first (key update)
                    wait_for_write = True
                finally:
                    self._sock.settimeout(timeout)
            self._wait(wait_for_write)

    def send(self, data: bytes) -> int:
        with self._lock:
            self._check_open()
            return self._sock.send(data)

    def sendall(self, data: bytes) -> None:
        with self._lock:
            self._check_open()
            self._sock.sendall(data)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._sock.close()

    def _check_open(self) -> None:
        if self._closed:
            raise OSError("the socket is closed")

    def _wait(self, for_write: bool) -> None:
        """Until the descriptor is ready (or a bounded while); OSError once the socket is closed."""
        descriptor = self._sock.fileno()  # may be reused once closed: the next read checks `_closed` first
        if descriptor < 0:
            raise OSError("the socket is closed")
        watched = [descriptor]
        select.select([] if for_write else watched, watched if for_write else [], [], READ_WAIT_SECONDS)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)
