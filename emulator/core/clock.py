"""The injected clock: the only place in the package that reads the wall clock."""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone

_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*")
MAX_DURATION = 1000 * 365 * 86400.0  # a thousand years: longer than any lifetime a test could mean
LATEST = datetime(9999, 12, 31, tzinfo=timezone.utc).timestamp()  # the clock stays where ISO 8601 can say it
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: object) -> float:
    """Seconds in `value`: a number of seconds or a string such as `300ms`, `90s`, `11m`, `8h`, `2d`."""
    seconds: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value) if -MAX_DURATION <= value <= MAX_DURATION else math.inf
    elif isinstance(value, str):
        match = _DURATION.fullmatch(value)
        if match:
            seconds = float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    if seconds is None or math.isnan(seconds):
        raise ValueError(f"not a duration: {value!r} (use 300ms, 90s, 11m, 8h, 730h, 2d or seconds)")
    if not 0 <= seconds <= MAX_DURATION:
        raise ValueError(f"a duration lies between 0 and {MAX_DURATION:.0f} seconds, not {value!r}")
    return seconds


def parse_instant(value: object) -> float:
    """Epoch seconds of an ISO 8601 timestamp; a naive one is taken as UTC."""
    if not isinstance(value, str):
        raise ValueError("a time is an ISO 8601 string such as 2026-01-01T00:00:00Z")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return check_instant(parsed.timestamp())


def check_instant(epoch: float) -> float:
    """`epoch` if the clock may stand there: from 1970 to the end of year 9999."""
    if not 0 <= epoch <= LATEST:
        raise ValueError("the clock runs from 1970-01-01 to 9999-12-31")
    return epoch


def format_instant(epoch: float) -> str:
    """ISO 8601 UTC with milliseconds and a `Z`."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def wall_monotonic() -> float:
    """Real seconds from an arbitrary start, never moved: for limits that no emulated clock may lift."""
    return time.monotonic()


def wall_now() -> float:
    """Real epoch seconds: when something happened, for a log line (never the emulated clock)."""
    return time.time()


def wall_sleep(seconds: float) -> None:
    """Spend real time (injected latency, a watchdog's period), never the emulated clock."""
    time.sleep(seconds)


def wall_timer() -> float:
    """Seconds on a monotonic wall clock, to measure how long real work took (never emulated time)."""
    return time.perf_counter()


class Clock:
    """A clock that follows the wall clock plus an offset, or stands still when frozen."""

    def __init__(self, source: Callable[[], float] = time.time) -> None:
        self._source = source
        self._offset = 0.0
        self._frozen_at: float | None = None
        self._lock = threading.Lock()

    def now(self) -> float:
        """Current emulated time in epoch seconds."""
        frozen_at = self._frozen_at
        return frozen_at if frozen_at is not None else self._source() + self._offset

    @property
    def frozen(self) -> bool:
        return self._frozen_at is not None

    def freeze(self) -> None:
        with self._lock:
            if self._frozen_at is None:
                self._frozen_at = self._source() + self._offset

    def unfreeze(self) -> None:
        """Let time run again from where it stood."""
        with self._lock:
            if self._frozen_at is not None:
                self._offset = self._frozen_at - self._source()
                self._frozen_at = None

    def set(self, epoch: float) -> None:
        check_instant(epoch)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at = epoch
            else:
                self._offset = epoch - self._source()

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the clock only moves forward; use set to go back")
        check_instant(self.now() + seconds)
        with self._lock:
            if self._frozen_at is not None:
                self._frozen_at += seconds
            else:
                self._offset += seconds

    def snapshot(self) -> dict:
        return {"now": format_instant(self.now()), "frozen": self.frozen}

    def export(self) -> dict:
        return {"offset": self._offset, "frozen_at": self._frozen_at}

    def restore(self, data: dict) -> None:
        offset = float(data.get("offset", 0.0))
        frozen_at = data.get("frozen_at")
        frozen_at = None if frozen_at is None else check_instant(float(frozen_at))
        check_instant(self._source() + offset)
        with self._lock:
            self._offset, self._frozen_at = offset, frozen_at
