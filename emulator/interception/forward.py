"""One intercepted request, whichever client made it, sent on to the emulator."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from ..client import HttpTransport, Reply, Transport
from ..web import NAMESPACE_HEADER

# Hop-by-hop headers of the caller's connection, not of the request: the transport sets its own.
_REQUEST_HOP_HEADERS = frozenset({"connection", "keep-alive", "content-length", "transfer-encoding", "host"})
_REPLY_HOP_HEADERS = frozenset({"connection", "keep-alive", "transfer-encoding"})


class Forwarder:
    """Sends a provider request to `transport` (in `namespace`, if given) and answers the emulator's reply.

    A dropped connection (an injected fault) raises what `requests` raises; each client's adapter turns
    it into its own client's error."""

    def __init__(self, transport: Transport, namespace: str | None) -> None:
        self.transport = transport
        self.namespace = namespace

    def send(self, method: str, url: str, headers: Iterable[tuple[str, str]], body: bytes | None) -> Reply:
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")  # the raw query, repeats and order kept
        sent = {k: v for k, v in headers if k.lower() not in _REQUEST_HOP_HEADERS}
        sent["Host"] = parts.netloc.rpartition("@")[2]  # baseURI answers then name the host the client called
        if self.namespace is not None and not any(k.lower() == NAMESPACE_HEADER.lower() for k in sent):
            sent[NAMESPACE_HEADER] = self.namespace
        return self.transport.send(method.upper(), path, data=body, headers=sent)


def reply_headers(reply: Reply) -> list[tuple[str, str]]:
    """The reply's headers for the caller, repeated ones (Set-Cookie) kept, hop-by-hop ones dropped."""
    return [(k, v) for k, v in reply.headers.items() if k.lower() not in _REPLY_HOP_HEADERS]


def resolve(target: Any, namespace: str | None) -> Forwarder:
    """A Forwarder for an EmulatorHandle, a Transport or a server's base URL."""
    if isinstance(target, str):
        return Forwarder(HttpTransport(target), namespace)
    if hasattr(target, "transport") and hasattr(target, "namespace"):  # an EmulatorHandle (no pytest import here)
        return Forwarder(target.transport, namespace if namespace is not None else target.namespace)
    if callable(getattr(target, "send", None)):
        return Forwarder(target, namespace)
    raise TypeError(f"intercept() takes an EmulatorHandle, a Transport or a base URL, not {type(target).__name__}")


def body_bytes(body: Any) -> bytes | None:
    """A request body as bytes: text, bytes, or the chunks of a streamed upload."""
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    if isinstance(body, (bytes, bytearray, memoryview)):
        return bytes(body)
    if hasattr(body, "read"):
        return body_bytes(body.read())
    return b"".join(c.encode("utf-8") if isinstance(c, str) else bytes(c) for c in body)
