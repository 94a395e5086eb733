"""The TLS socket a WebSocket shares between its reader thread and the handler's writes
(emulator/serving/serialized_socket.py): both directions at once, nothing lost or garbled, close ends the reader."""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from emulator.serving.serialized_socket import SerializedTlsSocket
from emulator.serving.tls import server_context, write_self_signed

CHUNKS = 2000  # without the lock, this many chunks each way failed 1 run in ~15 (SSLEOFError)
CHUNK = bytes(range(256)) * 8  # 2 KiB, so records interleave with reads under way
JOIN_SECONDS = 10.0


def _tls_pair(tmp_path: Path) -> tuple[ssl.SSLSocket, ssl.SSLSocket]:
    cert, key, ca = write_self_signed(tmp_path)
    plain_server, plain_client = socket.socketpair()
    server_side = server_context(cert, key).wrap_socket(plain_server, server_side=True, do_handshake_on_connect=False)
    client_side = ssl.create_default_context(cafile=str(ca)).wrap_socket(
        plain_client, server_hostname="localhost", do_handshake_on_connect=False
    )
    handshake = threading.Thread(target=server_side.do_handshake)
    handshake.start()
    client_side.do_handshake()
    handshake.join(JOIN_SECONDS)
    return server_side, client_side


def _read_exactly(read, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = read(min(65536, size - len(data)))
        if not chunk:
            break
        data += chunk
    return bytes(data)


def test_one_thread_reads_while_another_writes_and_both_streams_arrive_whole(tmp_path: Path) -> None:
    server_side, client_side = _tls_pair(tmp_path)
    shared = SerializedTlsSocket(server_side)
    total = CHUNKS * len(CHUNK)
    received: list[bytes] = []
    echoed: list[bytes] = []

    server_reader = threading.Thread(target=lambda: received.append(_read_exactly(shared.recv, total)))
    client_writer = threading.Thread(target=lambda: [client_side.sendall(CHUNK) for _ in range(CHUNKS)])
    client_reader = threading.Thread(target=lambda: echoed.append(_read_exactly(client_side.recv, total)))
    for thread in (server_reader, client_reader, client_writer):
        thread.start()
    for _ in range(CHUNKS):  # the handler's writes, while the reader thread is inside recv
        shared.send(CHUNK)
    for thread in (client_writer, server_reader, client_reader):
        thread.join(JOIN_SECONDS)

    assert received == [CHUNK * CHUNKS]
    assert echoed == [CHUNK * CHUNKS]
    client_side.close()
    server_side.close()


def test_a_reader_waiting_on_a_closed_socket_ends_with_an_os_error(tmp_path: Path) -> None:
    server_side, client_side = _tls_pair(tmp_path)
    shared = SerializedTlsSocket(server_side)
    outcome: list[object] = []

    def read() -> None:
        try:
            outcome.append(shared.recv(1024))
        except OSError as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    server_side.close()  # as Werkzeug does when the handler returns; the reader notices within a wait
    reader.join(JOIN_SECONDS)
    client_side.close()

    assert not reader.is_alive()
    assert len(outcome) == 1 and (outcome[0] == b"" or isinstance(outcome[0], OSError))


def test_other_attributes_pass_through_to_the_tls_socket(tmp_path: Path) -> None:
    server_side, client_side = _tls_pair(tmp_path)
    shared = SerializedTlsSocket(server_side)
    assert shared.fileno() == server_side.fileno()
    assert shared.version() == server_side.version()
    client_side.close()
    server_side.close()
