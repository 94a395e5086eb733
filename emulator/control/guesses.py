"""Failed control-token guesses: counted per client address, and slowed once there are too many.

[I] Counted on the wall clock (a monotonic one), not the emulated one: a guesser is outside every
namespace, and an emulated clock can be frozen or moved by whoever holds the token. An address past
FREE_GUESSES failures in a row is refused outright (429, Retry-After) for a wait that doubles with each
further failure, up to MAX_WAIT_SECONDS; nothing sleeps, so no worker is held. A right token resets the
count, and a call that presents no token is no guess: a test suite that uses its token is never slowed.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Callable

from ..core.clock import wall_monotonic

FREE_GUESSES = 10
FIRST_WAIT_SECONDS = 1.0
MAX_WAIT_SECONDS = 60.0
MAX_ADDRESSES = 10_000  # the addresses remembered; the least recently failing ones are forgotten first


class GuessCounter:
    """Failed guesses per address: `wait_left` before comparing, `failed` or `succeeded` after."""

    def __init__(self, now: Callable[[], float] = wall_monotonic) -> None:
        self._now = now
        self._lock = threading.Lock()
        self._by_address: OrderedDict[str, tuple[int, float]] = OrderedDict()  # address -> (failures, blocked until)

    def wait_left(self, address: str) -> int:
        """Whole seconds before `address` may guess again (0: now)."""
        with self._lock:
            _, until = self._by_address.get(address, (0, 0.0))
        return max(0, math.ceil(until - self._now()))

    def failed(self, address: str) -> None:
        with self._lock:
            failures = self._by_address.pop(address, (0, 0.0))[0] + 1
            excess = failures - FREE_GUESSES
            until = self._now() + min(FIRST_WAIT_SECONDS * 2 ** (excess - 1), MAX_WAIT_SECONDS) if excess > 0 else 0.0
            self._by_address[address] = (failures, until)
            while len(self._by_address) > MAX_ADDRESSES:
                self._by_address.popitem(last=False)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._by_address.pop(address, None)
