"""Saving and restoring an emulator's whole state (every namespace, clock, keys, token lifecycle) to a file.

The file is the document of `Store.export()`, as JSON. It is written atomically (a temp file in the same
directory, fsync, `os.replace`), so a reader, or a restart after a crash, sees the old state or the new
one, never half of one. A file that does not restore is refused whole: nothing of it is loaded.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from .web import runtime

log = logging.getLogger("emulator.persistence")


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
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise StateFileError(path, f"not valid JSON: {_one_line(exc)}") from None
    if not isinstance(document, dict):
        raise StateFileError(path, "expected a JSON object with a 'namespaces' object")
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
    """The app's whole state: each namespace a consistent snapshot taken under its own lock, serialised
    outside every lock (the other namespaces go on meanwhile)."""
    return json.dumps(runtime(app).store.export(), separators=(",", ":"))


def write_atomically(path: str | Path, text: str) -> None:
    """Write a file so that it holds the old content or the new one, whatever happens meanwhile."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
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
    """Save the app's whole state to `path` atomically; the number of namespaces saved."""
    text = state_document(app)
    write_atomically(path, text)
    return len(json.loads(text)["namespaces"])


class PeriodicSaver:
    """Saves the state every `interval` seconds from a daemon thread, until `stop()`."""

    def __init__(self, app: Flask, path: str | Path, interval: float) -> None:
        self._app = app
        self._path = path
        self._interval = interval
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emulator-state-saver", daemon=True)

    def start(self) -> "PeriodicSaver":
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
