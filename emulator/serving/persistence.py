"""Saving and restoring an emulator's whole state (every namespace, clock, keys, token lifecycle) to a file.

The file is the document of `Store.export()`, as JSON, with the format's `version`. It is written
atomically (a temp file in the same directory, fsync, `os.replace`), so a reader, or a restart after a
crash, sees the old state or the new one, never half of one; a save that would write what the file already
holds writes nothing, and temp files a killed save left behind are removed at start. A file that does not
restore (empty, cut short, of another version) is refused whole: nothing of it is loaded.
"""

from __future__ import annotations

import glob
import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from ..web import runtime

log = logging.getLogger("emulator.serving.persistence")

VERSION = 1  # the state file's format; [I] a file without `version` was saved before it existed: version 1


class StateFileError(ValueError):
    """A state file that cannot be read or restored; the message names the file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def read_state_file(path: str | Path) -> dict[str, Any]:
    """The document in a state file; StateFileError when it cannot be read or is not a JSON object."""
    try:
        text = Path(path).read_bytes()
    except OSError as exc:
        raise StateFileError(path, f"cannot read it: {exc.strerror or exc}") from None
    if not text.strip():
        raise StateFileError(path, "the file is empty (a save that never finished?): remove it to start from the seed")
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(exc.doc.rstrip()):
            raise StateFileError(path, "not valid JSON: the document ends early (a save cut short?)") from None
        raise StateFileError(path, f"not valid JSON: {_one_line(exc)}") from None
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise StateFileError(path, f"not valid JSON: {_one_line(exc)}") from None
    if not isinstance(document, dict):
        raise StateFileError(path, "expected a JSON object with a 'namespaces' object")
    version = document.pop("version", VERSION)
    if version != VERSION or isinstance(version, bool):
        raise StateFileError(
            path, f"version {json.dumps(version)} is not one this emulator reads (it reads version {VERSION})"
        )
    if "namespaces" not in document:
        raise StateFileError(path, "no 'namespaces' object: not a whole saved state")
    unknown = sorted(set(document) - {"namespaces"})
    if unknown:
        raise StateFileError(path, f"unknown field {unknown[0]!r}: not a saved emulator state")
    return document


def restore_state(app: Flask, path: str | Path) -> list[str]:
    """Replace the app's state with the file's; the namespaces restored. All or nothing."""
    document = read_state_file(path)
    store = runtime(app).store
    try:
        with store.lock:
            return store.import_state(document)
    except (ValueError, TypeError, RecursionError) as exc:
        raise StateFileError(path, f"not a saved emulator state: {_one_line(exc)}") from None


def state_document(app: Flask) -> str:
    """The app's whole state, with the format's version: each namespace a consistent snapshot taken under its
    own lock, serialised outside every lock (the other namespaces go on meanwhile)."""
    return json.dumps({"version": VERSION, **runtime(app).store.export()}, separators=(",", ":"))


def _temp_prefix(target: Path) -> str:
    return f".{target.name}."


TEMP_SUFFIX = ".tmp"


def remove_stale_temp_files(path: str | Path) -> list[Path]:
    """Delete the temp files that saves of `path` left behind (a save killed mid-way); the ones deleted.
    Call it before any save starts."""
    target = Path(path)
    stale = [p for p in target.parent.glob(f"{glob.escape(_temp_prefix(target))}*{TEMP_SUFFIX}") if p.is_file()]
    for temp in stale:
        temp.unlink(missing_ok=True)
    return stale


def write_atomically(path: str | Path, text: str) -> None:
    """Write a file so that it holds the old content or the new one, whatever happens meanwhile."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=_temp_prefix(target), suffix=TEMP_SUFFIX, dir=target.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as temp:
            temp.write(text)
            temp.flush()
            os.fsync(temp.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_directory(target.parent)


def save_state(app: Flask, path: str | Path) -> int:
    """Save the app's whole state to `path` atomically, unless the file already holds it (then nothing is
    written); the number of namespaces saved."""
    text = state_document(app)
    if not _holds(Path(path), text.encode("utf-8")):
        write_atomically(path, text)
    return len(json.loads(text)["namespaces"])


def _holds(path: Path, content: bytes) -> bool:
    """Whether the file at `path` holds exactly `content` (its size is compared first)."""
    try:
        return path.stat().st_size == len(content) and path.read_bytes() == content
    except OSError:
        return False


class PeriodicSaver:
    """Saves the state every `interval` seconds from a daemon thread, until `stop()`."""

    def __init__(self, app: Flask, path: str | Path, interval: float) -> None:
        self._app = app
        self._path = path
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-state-saver", daemon=True)

    def start(self) -> PeriodicSaver:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop saving; returns once a save under way is done (so a final save comes after it)."""
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval):
            try:
                save_state(self._app, self._path)
            except (OSError, ValueError, TypeError) as exc:
                log.error("could not save state to %s: %s", self._path, exc)
            else:
                log.debug("state saved to %s", self._path)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not possible everywhere (Windows), so best effort."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
