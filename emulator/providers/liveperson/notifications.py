"""Pushes to connected LivePerson sockets: who listens to which account, and handing them each change.

A socket registers a listener for its namespace and account; a surface that changed conversations calls
`dispatch(changes)` after it released the store lock. Each listener decides what it shows (the consumer
socket: its own conversations; the agent socket: the account's) and sends on its own socket.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Protocol

from flask import current_app

from .conversations import Change

EXTENSION_KEY = "liveperson.listeners"


class Listener(Protocol):
    def notify(self, change: Change) -> None:
        """Send what this socket should see of `change`; never raises (a dead socket just stops listening)."""


class Listeners:
    """The listeners of one app, by (namespace, account)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_account: dict[tuple[str, str], list[Listener]] = {}

    def add(self, namespace: str, account_id: str, listener: Listener) -> None:
        with self._lock:
            self._by_account.setdefault((namespace, account_id), []).append(listener)

    def remove(self, namespace: str, account_id: str, listener: Listener) -> None:
        with self._lock:
            listeners = self._by_account.get((namespace, account_id), [])
            if listener in listeners:
                listeners.remove(listener)
            if not listeners:
                self._by_account.pop((namespace, account_id), None)

    def of(self, namespace: str, account_id: str) -> list[Listener]:
        with self._lock:
            return list(self._by_account.get((namespace, account_id), ()))


def listeners() -> Listeners:
    """The app's listeners (created on first use)."""
    return current_app.extensions.setdefault(EXTENSION_KEY, Listeners())


_EVERY_ACCOUNT: list[Listener] = []  # listeners of every account of every app (the webhooks), added at import


def listen_to_every_account(listener: Listener) -> None:
    """Hand `listener` every change of every account (it reads the app it runs in from `current_app`)."""
    _EVERY_ACCOUNT.append(listener)


def dispatch(changes: Iterable[Change]) -> None:
    """Hand every change to the listeners of every account and of its own account, in order. Call it
    outside the store lock."""
    registry = listeners()
    for change in changes:
        for listener in (*_EVERY_ACCOUNT, *registry.of(change.namespace, change.account_id)):
            listener.notify(change)
