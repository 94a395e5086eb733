"""The state file in-process: its version, what is refused (and why, in one line), and saves that write
nothing when nothing changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from emulator import DEMO_SEED_PATH
from emulator.app import create_app
from emulator.config import EmulatorConfig, load_seed_file
from emulator.serving.persistence import VERSION, StateFileError, remove_stale_temp_files, restore_state, save_state


@pytest.fixture
def app():
    return create_app(EmulatorConfig(seed=load_seed_file(DEMO_SEED_PATH)))


def test_a_saved_file_names_its_version_and_restores(app, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    save_state(app, state)
    document = json.loads(state.read_text())
    assert document["version"] == VERSION == 1 and "default" in document["namespaces"]
    restored = create_app()
    assert restore_state(restored, state) == ["default"]
    assert restored.extensions["emulator"].store.export() == app.extensions["emulator"].store.export()


@pytest.mark.parametrize("version", [2, 0, "1", None, True, 1.5])
def test_another_version_is_refused_whole(app, tmp_path: Path, version: object) -> None:
    state = tmp_path / "state.json"
    save_state(app, state)
    state.write_text(json.dumps({**json.loads(state.read_text()), "version": version}))
    fresh = create_app()
    with pytest.raises(StateFileError, match="is not one this emulator reads"):
        restore_state(fresh, state)
    assert fresh.extensions["emulator"].store.names() == []


@pytest.mark.parametrize("cut", [1, 2, 10, 0.5, -1])
def test_a_file_cut_short_is_refused_whole(app, tmp_path: Path, cut: float) -> None:
    state = tmp_path / "state.json"
    save_state(app, state)
    content = state.read_bytes()
    state.write_bytes(
        content[: int(len(content) * cut) if isinstance(cut, float) else (cut if cut > 0 else len(content) + cut)]
    )
    fresh = create_app()
    with pytest.raises(StateFileError, match="ends early|not valid JSON"):
        restore_state(fresh, state)
    assert fresh.extensions["emulator"].store.names() == []


def test_an_unknown_top_level_field_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"version": 1, "namespaces": {}, "extra": 1}')
    with pytest.raises(StateFileError, match="unknown field 'extra'"):
        restore_state(create_app(), state)


def test_a_save_with_nothing_changed_writes_nothing(app, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    save_state(app, state)
    written = state.stat()
    assert save_state(app, state) == 1
    again = state.stat()
    assert (again.st_ino, again.st_mtime_ns) == (written.st_ino, written.st_mtime_ns), (
        "an unchanged state was rewritten"
    )
    app.extensions["emulator"].store.namespace("default").clock.advance(60)
    save_state(app, state)
    assert state.stat().st_ino != written.st_ino, "a changed state was not saved"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_only_the_temp_files_of_that_state_file_are_removed(tmp_path: Path) -> None:
    state = tmp_path / "st[a]te.json"  # glob characters in the name are literal
    stale = tmp_path / ".st[a]te.json.abc123.tmp"
    others = [tmp_path / ".state.json.abc123.tmp", tmp_path / ".st[a]te.json.abc123.bak", tmp_path / "st[a]te.json"]
    for path in [stale, *others]:
        path.write_text("{")
    assert remove_stale_temp_files(state) == [stale]
    assert not stale.exists() and all(path.exists() for path in others)
