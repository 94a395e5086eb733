"""A LivePerson socket's outbound queue (outbound.py): a push only queues, so a peer that stops reading
blocks no one; that peer is dropped once its backlog or a stalled write passes its bound."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from emulator.providers.liveperson import outbound
from emulator.providers.liveperson.outbound import Outbound

WAIT_SECONDS = 5.0  # bounds every wait below; each ends on an event first


class StuckPeer:
    """A stand-in for a simple_websocket connection whose peer reads only when told to (`reading`)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.connected = True
        self.reading = threading.Event()
        self.written: list[str] = []
        self.blocked = threading.Event()  # set once a write waits for the peer

    def send(self, text: str) -> None:
        self.blocked.set()
        self.reading.wait()
        self.sock.sendall(text.encode())  # BrokenPipeError once the connection was shut down
        self.written.append(text)


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    server_end, client_end = socket.socketpair()
    client_end.settimeout(WAIT_SECONDS)
    yield server_end, client_end
    server_end.close()
    client_end.close()


def test_frames_are_written_in_order_by_the_writer(pair) -> None:
    peer = StuckPeer(pair[0])
    peer.reading.set()
    queue = Outbound(peer)
    assert all(queue.put(f"frame {n}") for n in range(50))
    with queue.drained():
        assert peer.written == [f"frame {n}" for n in range(50)]


def test_a_peer_that_stops_reading_is_dropped_past_the_backlog_and_blocks_no_put(pair, monkeypatch) -> None:
    monkeypatch.setattr(outbound, "MAX_BACKLOG", 5)
    peer = StuckPeer(pair[0])
    queue = Outbound(peer)
    assert queue.put("first")  # taken by the writer, which now waits for the peer
    assert peer.blocked.wait(WAIT_SECONDS)
    assert all(queue.put(f"queued {n}") for n in range(5))  # returns at once: nothing waits for the peer
    assert queue.put("one too many") is False and queue.dropped
    assert pair[1].recv(1) == b"", "the connection of a dropped peer stays up"
    assert queue.put("after") is False
    peer.reading.set()  # the blocked write now fails: nothing more is written
    with queue.drained():
        assert peer.written == []


def test_a_write_stalled_past_its_time_drops_the_peer_without_further_pushes(pair, monkeypatch) -> None:
    monkeypatch.setattr(outbound, "STALL_SECONDS", 0.0)  # any write under way counts as stalled at the next look
    peer = StuckPeer(pair[0])
    queue = Outbound(peer)
    assert queue.put("never read")
    assert peer.blocked.wait(WAIT_SECONDS)
    assert pair[1].recv(1) == b"", "the watchdog never dropped the stalled peer"
    assert queue.dropped and queue.put("after") is False
    peer.reading.set()


def test_a_closed_socket_takes_no_frames(pair) -> None:
    peer = StuckPeer(pair[0])
    peer.connected = False
    assert Outbound(peer).put("late") is False
