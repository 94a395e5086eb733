"""The bounded request journal: every provider request, recorded before its response leaves."""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache

from .clock import format_instant
from .patterns import path_matches

BODY_LIMIT = 4096


def clip(text: str, limit: int = BODY_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + f"...[{len(text) - limit} more characters]"


@dataclass(frozen=True)
class JournalEntry:
    seq: int
    time: str
    namespace: str
    provider: str
    method: str
    path: str
    query: str
    status: int
    request_headers: dict = field(default_factory=dict)
    request_body: str = ""
    response_headers: dict = field(default_factory=dict)
    response_body: str = ""
    faults: list = field(default_factory=list)  # the fault rules that acted on this request
    direction: str = "incoming"  # "outgoing": a webhook delivery attempt the emulator made

    def to_dict(self) -> dict:
        return asdict(self)


def _held_body(body: bytes) -> bytes | str:
    """A body as the ring holds it: bytes that `clip` would leave whole (UTF-8 never makes more characters
    than bytes) wait to be decoded; a longer body is decoded and clipped at once, so memory stays bounded."""
    return body if len(body) <= BODY_LIMIT else clip(body.decode("utf-8", "replace"))


def _text(body: bytes | str) -> str:
    return body if isinstance(body, str) else clip(body.decode("utf-8", "replace"))


_CONTENT_KEYS = ("CONTENT_TYPE", "CONTENT_LENGTH")
_HEADER_KEYS = ("HTTP_", *_CONTENT_KEYS)  # the environ keys that hold headers
_SHADOWED_KEYS = ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH")  # a server's copies of the two above


def request_header_items(environ: dict) -> tuple[tuple[str, str], ...]:
    """The header items of a WSGI environ, as they are (`HTTP_USER_AGENT`): `record_request` names them
    when the entry is first read. Pairs of strings in a tuple: nothing the garbage collector must walk, so
    10,000 journal entries do not lengthen its full collections, and the environ itself is not kept."""
    return tuple([(key, value) for key, value in environ.items() if key.startswith(_HEADER_KEYS)])


def _named_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """`request_header_items` as the request's headers (`User-Agent`), as Werkzeug's `request.headers` has them."""
    return {
        _header_name(key): value
        for key, value in items
        if key not in _SHADOWED_KEYS and (value or key not in _CONTENT_KEYS)
    }


@lru_cache(maxsize=1024)
def _header_name(environ_key: str) -> str:
    """`HTTP_USER_AGENT` -> `User-Agent`, `CONTENT_TYPE` -> `Content-Type`."""
    return environ_key.removeprefix("HTTP_").replace("_", "-").title()


class _Incoming:
    """An incoming request as `Journal.record_request` took it: what queries filter on, plus the raw parts
    of the rest (epoch, headers, bytes), made into its JournalEntry the first time it is read. Most entries
    are never read, so a request does not pay for formatting, decoding and clipping them."""

    __slots__ = ("seq", "namespace", "provider", "method", "path", "status", "_raw", "_entry")

    def __init__(
        self, seq: int, namespace: str, provider: str, method: str, path: str, status: int, raw: tuple
    ) -> None:
        self.seq, self.namespace, self.provider, self.method, self.path, self.status = (
            seq,
            namespace,
            provider,
            method,
            path,
            status,
        )
        self._raw: tuple | None = raw
        self._entry: JournalEntry | None = None

    def entry(self) -> JournalEntry:
        entry = self._entry
        if entry is None:
            raw = self._raw
            if raw is None:  # made by another thread in the meantime
                return self._entry  # type: ignore[return-value]
            at, query, headers, request_body, response_headers, response_body, faults = raw
            entry = JournalEntry(
                seq=self.seq,
                time=format_instant(at),
                namespace=self.namespace,
                provider=self.provider,
                method=self.method,
                path=self.path,
                query=query.decode("latin-1"),
                status=self.status,
                request_headers=_named_headers(headers),
                request_body=_text(request_body),
                response_headers=dict(response_headers),
                response_body=_text(response_body),
                faults=list(faults),
            )
            self._entry, self._raw = entry, None
        return entry


class Journal:
    """A ring buffer: memory stays bounded however long the emulator runs."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._entries: deque[JournalEntry | _Incoming] = deque(maxlen=capacity)
        self._seq = itertools.count(1)
        self._last_seq = 0
        self._held: dict[str, int] = {}  # namespace -> entries of it still in the ring
        self._cleared_through: dict[str, int] = {}  # namespace -> last seq it cleared, so clearing is O(1)
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        return self._entries.maxlen or 0

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest entry ever recorded, in any namespace (0 before the first)."""
        return self._last_seq

    def record(self, **fields: object) -> JournalEntry:
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self._evicted(self._entries[0].namespace)
            self._last_seq = next(self._seq)
            entry = JournalEntry(seq=self._last_seq, **fields)  # type: ignore[arg-type]
            self._entries.append(entry)
            self._held[entry.namespace] = self._held.get(entry.namespace, 0) + 1
        return entry

    def record_request(
        self,
        at: float,
        namespace: str,
        provider: str,
        method: str,
        path: str,
        query: bytes,
        status: int,
        headers: tuple[tuple[str, str], ...],
        request_body: bytes,
        response_body: bytes,
        faults: Sequence,
        response_headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """An incoming request, as `record` with `time=format_instant(at)`, `query` decoded as Latin-1,
        `request_headers` named from `headers` (`request_header_items`) and each body decoded as UTF-8 and
        clipped: all that is done when the entry is first read, not on the request's path."""
        raw = (at, query, headers, _held_body(request_body), response_headers, _held_body(response_body), faults)
        with self._lock:
            if len(self._entries) == self._entries.maxlen:
                self._evicted(self._entries[0].namespace)
            self._last_seq = next(self._seq)
            self._entries.append(_Incoming(self._last_seq, namespace, provider, method, path, status, raw))
            self._held[namespace] = self._held.get(namespace, 0) + 1

    def query(
        self,
        namespace: str | None = None,
        provider: str | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        limit: int | None = None,
        after: int = 0,
    ) -> list[JournalEntry]:
        """Entries oldest first; `None` filters match anything, `path` is a glob, `after` a sequence number."""
        with self._lock:
            # entries are in sequence order: what came after `after` is read from the newest end only
            entries = (
                list(itertools.takewhile(lambda e: e.seq > after, reversed(self._entries)))[::-1]
                if after
                else list(self._entries)
            )
            cleared = dict(self._cleared_through)
        selected = [
            e
            for e in entries
            if e.seq > after
            and e.seq > cleared.get(e.namespace, 0)
            and (namespace is None or e.namespace == namespace)
            and (provider is None or e.provider == provider)
            and (method is None or e.method == method.upper())
            and (path is None or path_matches(path, e.path))
            and (status is None or e.status == status)
        ]
        selected = selected[-limit:] if limit else selected
        return [e.entry() if isinstance(e, _Incoming) else e for e in selected]

    def clear(self, namespace: str | None = None) -> None:
        """Forget the entries of one namespace (or all of them)."""
        with self._lock:
            if namespace is None:
                self._entries.clear()
                self._held.clear()
                self._cleared_through.clear()
            elif namespace in self._held:
                self._cleared_through[namespace] = self._last_seq

    def _evicted(self, namespace: str) -> None:
        """Count out an entry leaving the ring; a namespace with none left needs no clear marker."""
        left = self._held[namespace] - 1
        if left:
            self._held[namespace] = left
        else:
            del self._held[namespace]
            self._cleared_through.pop(namespace, None)
