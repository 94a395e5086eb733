"""What a LivePerson socket sends, queued and written by a thread of its own.

A push (`notifications.dispatch`) or an answer only queues its frames, so a peer that stops reading never
blocks anyone else. That peer is dropped (its connection shut down, its backlog discarded) once MAX_BACKLOG
frames wait for it, or once a write to it has not finished for STALL_SECONDS of wall time: a watchdog
thread, one for every socket, checks the writes under way. [I] LivePerson publishes neither bound.
"""

from __future__ import annotations

import os
import socket
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager

from ...core.clock import wall_monotonic, wall_sleep

MAX_BACKLOG = 1_000  # frames queued for one socket
STALL_SECONDS = 10.0  # a write that has not finished by then drops the peer
WATCH_SECONDS = 1.0  # how often the watchdog looks
DRAIN_SECONDS = 2.0  # how long a closing socket waits for its queue to be written


class Outbound:
    """The frames waiting for one socket (`ws`, a simple_websocket connection), and their writer thread
    (started by the first frame; it ends once the socket is closed and nothing is left to write)."""

    def __init__(self, ws) -> None:
        self._ws = ws
        self._frames: deque[str] = deque()
        self._changed = threading.Condition()
        self._write_lock = threading.Lock()  # held by the writer around each write, and by a closing socket
        self._writing_since: float | None = None
        self.dropped = False
        self._writer: threading.Thread | None = None

    def put(self, text: str) -> bool:
        """Queue one frame; False once the peer is gone or was dropped (now, for a backlog past MAX_BACKLOG)."""
        with self._changed:
            if self.dropped or not self._ws.connected:
                return False
            if len(self._frames) >= MAX_BACKLOG:
                self._drop()
                return False
            self._frames.append(text)
            self._changed.notify_all()
            if self._writer is None:
                self._writer = threading.Thread(target=self._write, name="liveperson-socket-writer", daemon=True)
                self._writer.start()
                _watchdog.watch(self)
        return True

    @contextmanager
    def drained(self) -> Iterator[None]:
        """Wait (at most DRAIN_SECONDS) for the queue to be written, then hold off the writer: a close frame
        goes after every frame queued before it, never in the middle of one."""
        with self._changed:
            self._changed.wait_for(
                lambda: not self._frames and self._writing_since is None or self.dropped, DRAIN_SECONDS
            )
        with self._write_lock:
            yield

    def stalled(self, now: float) -> bool:
        """Whether a write has been under way for more than STALL_SECONDS."""
        since = self._writing_since
        return since is not None and now - since > STALL_SECONDS

    def drop(self) -> None:
        with self._changed:
            self._drop()

    def _drop(self) -> None:
        """Discard the backlog and shut the connection down (hold `_changed`): a blocked write fails, the
        socket's reader sees the end, and its handler returns."""
        if self.dropped:
            return
        self.dropped = True
        self._frames.clear()
        self._changed.notify_all()
        try:
            with socket.socket(fileno=os.dup(self._ws.sock.fileno())) as duplicate:  # TLS or not: the connection itself
                duplicate.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed

    def _write(self) -> None:
        from simple_websocket import ConnectionClosed  # loaded by then: the socket is one of its
        from wsproto.utilities import LocalProtocolError

        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._frames or self.dropped or not self._ws.connected, WATCH_SECONDS)
                if self.dropped or (not self._frames and not self._ws.connected):
                    return
                if not self._frames:
                    continue
                text = self._frames.popleft()
                self._writing_since = wall_monotonic()
            try:
                with self._write_lock:
                    self._ws.send(text)
            except (OSError, ConnectionClosed, LocalProtocolError):  # the peer went away, or was dropped
                self.drop()
            finally:
                with self._changed:
                    self._writing_since = None
                    self._changed.notify_all()


class _Watchdog:
    """One thread that drops every peer whose write has stalled."""

    def __init__(self) -> None:
        self._watched: weakref.WeakSet[Outbound] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, outbound: Outbound) -> None:
        with self._lock:
            self._watched.add(outbound)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="liveperson-socket-watchdog", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            wall_sleep(WATCH_SECONDS)
            now = wall_monotonic()
            with self._lock:
                watched = list(self._watched)
            for outbound in watched:
                if outbound.stalled(now):
                    outbound.drop()


_watchdog = _Watchdog()
