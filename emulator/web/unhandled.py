"""The tracebacks of the exceptions no handler answered (emulator bugs), kept per namespace until taken."""

from __future__ import annotations

import threading
import traceback
from collections import deque

KEPT = 100  # the latest bugs of a long-running server; older ones are dropped


class UnhandledErrors:
    """What `app._answer_unhandled` saw: the pytest plugin takes a test's own and fails the test with them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: deque[tuple[str | None, str]] = deque(maxlen=KEPT)

    def record(self, namespace: str | None, error: BaseException, where: str) -> None:
        """Keep the formatted traceback of `error`, raised while answering `where` (e.g. `GET /path`)."""
        text = f"{where}\n" + "".join(traceback.format_exception(error))
        with self._lock:
            self._kept.append((namespace, text))

    def take(self, namespace: str | None) -> list[str]:
        """The tracebacks recorded for `namespace` (oldest first), forgotten once taken."""
        with self._lock:
            taken = [text for owner, text in self._kept if owner == namespace]
            remaining = [(owner, text) for owner, text in self._kept if owner != namespace]
            self._kept.clear()
            self._kept.extend(remaining)
        return taken
