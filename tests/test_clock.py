"""The injected clock and the duration/time formats of the control API."""

import pytest

from emulator.core.clock import Clock, format_instant, parse_duration, parse_instant


class FakeWall:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("300ms", 0.3),
        ("90s", 90),
        ("11m", 660),
        ("8h", 28_800),
        ("730h", 2_628_000),
        ("2d", 172_800),
        (45, 45),
        (1.5, 1.5),
        ("12", 12),
    ],
)
def test_durations_in_every_documented_unit(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("bad", ["", "11x", "-5s", "m11", None, [], True, -3, "1e3h"])
def test_bad_durations_are_refused(bad):
    with pytest.raises(ValueError):
        parse_duration(bad)


def test_instants_round_trip_in_utc():
    epoch = parse_instant("2026-01-01T00:00:00Z")
    assert epoch == 1_767_225_600
    assert parse_instant("2026-01-01T01:00:00+01:00") == epoch
    assert parse_instant("2026-01-01T00:00:00") == epoch  # naive means UTC
    assert format_instant(epoch) == "2026-01-01T00:00:00.000Z"


@pytest.mark.parametrize("bad", ["yesterday", "", 5, None])
def test_bad_instants_are_refused(bad):
    with pytest.raises(ValueError):
        parse_instant(bad)


def test_unfrozen_clock_follows_the_wall_clock_plus_offset():
    wall = FakeWall()
    clock = Clock(wall)
    clock.advance(60)
    wall.now += 5
    assert clock.now() == 1_065
    assert not clock.frozen


def test_frozen_clock_stands_still_and_moves_only_when_told():
    wall = FakeWall()
    clock = Clock(wall)
    clock.freeze()
    wall.now += 100
    assert clock.now() == 1_000
    clock.advance(30)
    assert clock.now() == 1_030
    clock.set(5_000)
    assert clock.now() == 5_000


def test_unfreezing_resumes_from_where_time_stood():
    wall = FakeWall()
    clock = Clock(wall)
    clock.freeze()
    clock.advance(600)
    clock.unfreeze()
    wall.now += 1
    assert clock.now() == 1_601


def test_clock_never_moves_backwards_by_advance():
    with pytest.raises(ValueError):
        Clock(FakeWall()).advance(-1)


def test_export_and_restore_keep_offset_and_freeze():
    wall = FakeWall()
    clock = Clock(wall)
    clock.set(9_000)
    clock.freeze()
    restored = Clock(wall)
    restored.restore(clock.export())
    assert restored.now() == 9_000 and restored.frozen


def test_no_module_outside_the_clock_reads_the_wall_clock():
    """Time is injected: only emulator/core/clock.py may call time.time or datetime.now."""
    import re
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "emulator"
    readers = re.compile(r"time\.time\(|datetime\.now\(|datetime\.utcnow\(|time\.monotonic\(|date\.today\(")
    offenders = [
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if path.name != "clock.py" and readers.search(path.read_text())
    ]
    assert offenders == []
