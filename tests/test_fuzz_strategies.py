"""The fuzz modules' shared strategies hand out a fresh object at every draw, so a strategy (or a test)
that edits what it drew never edits a pick that a later example draws again."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import test_fuzz
import test_fuzz_control
import test_fuzz_liveperson_connector
import test_fuzz_sunshine
from hypothesis import given, settings
from hypothesis import strategies as st

SHARED: dict[str, st.SearchStrategy[Any]] = {
    "nasty": test_fuzz.nasty,
    "json_values": test_fuzz.json_values,
    "sunshine bad_values": test_fuzz_sunshine.bad_values,
    "control lifecycle_values": test_fuzz_control.lifecycle_values,
    "connector junk": test_fuzz_liveperson_connector.junk,
}


def containers(value: Any) -> Iterator[list | dict]:
    """Every list and dict inside a drawn value, the value included."""
    if isinstance(value, (list, dict)):
        yield value
        for item in value.values() if isinstance(value, dict) else value:
            yield from containers(item)


@pytest.mark.parametrize("name", SHARED)
def test_no_two_draws_share_a_container(name: str) -> None:
    handed_out: dict[int, object] = {}  # id -> the object, kept alive so that ids stay unique

    @settings(max_examples=150, derandomize=True)
    @given(st.data())
    def draw(data: st.DataObject) -> None:
        for container in containers(data.draw(SHARED[name])):
            assert id(container) not in handed_out, f"{name} handed out {container!r} twice"
            handed_out[id(container)] = container

    draw()
