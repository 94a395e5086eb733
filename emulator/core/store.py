"""The state registry: namespaces -> clock, keys and provider state, each namespace under its own lock.

Everything a caller does to a namespace goes through a name: `lock_of(name)`, `namespace(name)`,
`seed`, `reset`, `export`, `import_state`. A store shared by several processes could sit behind the same
calls (a lock per name, state per name); nothing outside this module reaches into its dictionaries."""

from __future__ import annotations

import re
import threading
import weakref
from collections import deque
from collections.abc import Callable, Collection, Iterable, Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any, Protocol

from .clock import Clock
from .deliveries import Outbox
from .faults import FaultRules
from .keys import KeyRing, KeySlot
from .lifecycle import TokenLifecycle

DEFAULT_NAMESPACE = "default"
_NAMESPACE_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
CLOCK_LOG_SIZE = 1_000  # clock moves a namespace remembers for Record


class ProviderState(Protocol):
    """What the store needs of one provider's state in one namespace."""

    def tenant_ids(self) -> Iterable[str]: ...

    def lookup_keys(self) -> Iterable[str]:
        """More keys that find a tenant's namespace (e.g. a credential), never shown as tenants."""
        ...

    def live_credentials(self, now: float) -> list[dict]:
        """Opaque credentials the state holds (`kind`, `subject`, `expires_at`), for the dashboard."""
        ...

    def apply_seed(self, part: Any) -> None: ...

    def update_settings(self, tenant_id: str, changes: dict) -> dict: ...

    def export(self) -> dict: ...


class SeedPart(Protocol):
    def tenant_ids(self) -> Iterable[str]: ...


@dataclass(frozen=True)
class StateType:
    """How to make, restore and key one provider's state."""

    provider: str
    create: Callable[[], ProviderState]
    restore: Callable[[dict], ProviderState]
    key_slots: tuple[KeySlot, ...] = ()


class TenantConflict(ValueError):
    """A tenant id already belongs to another namespace."""


def check_namespace_name(name: str) -> str:
    if not isinstance(name, str) or not _NAMESPACE_NAME.fullmatch(name):
        raise ValueError(f"invalid namespace name {name!r}: 1-64 letters, digits, '.', '_' or '-'")
    return name


class NamespaceLock:
    """The reentrant lock of one namespace: what changes the namespace's state holds it, crypto and I/O never."""

    __slots__ = ("_lock", "__weakref__")

    def __init__(self) -> None:
        self._lock = threading.RLock()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        return self._lock.acquire(blocking, timeout)

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> bool:
        return self._lock.acquire()

    def __exit__(self, *exc: object) -> None:
        self._lock.release()


class Namespace:
    """Tenants created together, with their own clock, signing keys and lock."""

    def __init__(self, name: str, state_types: Iterable[StateType], lock: NamespaceLock | None = None) -> None:
        types = list(state_types)
        self.name = name
        self.lock = lock or NamespaceLock()
        self.clock = Clock()
        self.keys = KeyRing(slot for t in types for slot in t.key_slots)
        self.faults = FaultRules()  # test set-up, not state: never exported
        self.outbox = Outbox()  # outgoing webhook deliveries
        self.tokens = TokenLifecycle(self.clock.now)
        # (journal seq at the time, control body) of each clock move, newest last: Record replays them
        # between the requests they fell between. Not state: never exported.
        self.clock_log: deque[tuple[int, dict]] = deque(maxlen=CLOCK_LOG_SIZE)
        self.states: dict[str, ProviderState] = {t.provider: t.create() for t in types}

    def state(self, provider: str) -> Any:
        return self.states[provider]

    def tenants(self) -> dict[str, list[str]]:
        return {provider: sorted(state.tenant_ids()) for provider, state in self.states.items()}

    def index_keys(self) -> dict[str, list[str]]:
        """Every key that routes a request here: tenant ids and lookup keys."""
        return {p: [*state.tenant_ids(), *state.lookup_keys()] for p, state in self.states.items()}

    def export(self) -> dict:
        return {
            "clock": self.clock.export(),
            "keys": self.keys.export(),
            "tokens": self.tokens.export(),
            "providers": {provider: state.export() for provider, state in self.states.items()},
        }


class EveryNamespace:
    """The locks of every namespace that exists when it is entered, taken in name order (as `import_state`
    takes several): for code outside a request that changes state directly (tests, benchmarks, snapshots)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._held = ExitStack()

    def __enter__(self) -> None:
        for name in self._store.names():
            self._held.enter_context(self._store.lock_of(name))

    def __exit__(self, *exc: object) -> None:
        self._held.close()


class Store:
    """All namespaces, each with its own lock, and the index from tenant ids to namespaces.

    Lock order: namespace locks (several only in name order), then the index mutex; the mutex is held
    only for changes to the namespace table and the tenant index, never for a provider's work."""

    def __init__(self, state_types: Iterable[StateType], binding: Callable[[], str | None] = lambda: None) -> None:
        self._types = {t.provider: t for t in state_types}
        self._binding = binding  # the namespace the caller (a request under way) is bound to, if any
        self._mutex = threading.Lock()  # the namespace table and the tenant index
        self._locks_mutex = threading.Lock()  # the table of locks
        self._locks: weakref.WeakValueDictionary[str, NamespaceLock] = weakref.WeakValueDictionary()
        self._namespaces: dict[str, Namespace] = {}
        self._tenants: dict[tuple[str, str], str] = {}
        self._owned: dict[str, set[tuple[str, str]]] = {}  # namespace -> the index keys it holds
        self._blank = Namespace(DEFAULT_NAMESPACE, self._types.values())

    @property
    def lock(self) -> NamespaceLock | EveryNamespace:
        """`with store.lock:` holds the lock of the namespace the request under way is bound to; outside a
        request, the locks of every namespace (`EveryNamespace`). Prefer `namespace.lock` / `lock_of(name)`."""
        name = self._binding()
        if name is None:
            return EveryNamespace(self)
        found = self._namespaces.get(name)
        return found.lock if found is not None else self.lock_of(name)

    def lock_of(self, name: str) -> NamespaceLock:
        """The lock of the namespace called `name` (whether or not it exists yet); the same object for as
        long as anyone holds it or the namespace exists, so a reset waits for the requests under way."""
        found = self._locks.get(name)
        if found is not None:
            return found
        with self._locks_mutex:
            found = self._locks.get(name)
            if found is None:
                found = self._locks[name] = NamespaceLock()
            return found

    def view(self, name: str) -> Namespace:
        """The namespace called `name` if it exists, else an empty one that is not kept: a request can
        read through it (and find no tenant) without creating state."""
        return self._namespaces.get(name) or self._blank

    def namespace(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        """The namespace called `name`, created empty on first use."""
        found = self._namespaces.get(name)
        if found is not None:
            return found
        check_namespace_name(name)
        lock = self.lock_of(name)
        with self._mutex:
            found = self._namespaces.get(name)
            if found is None:
                found = self._namespaces[name] = Namespace(name, self._types.values(), lock)
            return found

    def names(self) -> list[str]:
        return sorted(self._namespaces.copy())  # a copy: other namespaces may come and go meanwhile

    def namespace_of(self, provider: str, tenant_id: str) -> str | None:
        return self._tenants.get((provider, tenant_id))

    def seed(self, name: str, parts: Mapping[str, SeedPart]) -> Namespace:
        """Add the tenants of `parts` (provider -> seed part) to a namespace, all or nothing."""
        with self.lock_of(check_namespace_name(name)):
            with self._mutex:
                for provider, part in parts.items():
                    self._check_free(name, provider, part.tenant_ids())
                namespace = self._namespaces.get(name)
                if namespace is None:
                    namespace = self._namespaces[name] = Namespace(name, self._types.values(), self.lock_of(name))
                for provider, part in parts.items():
                    namespace.state(provider).apply_seed(part)
                self._index(namespace)  # a re-seeded tenant may have let go of ids it held
            return namespace

    def reindex(self, name: str) -> None:
        """After a change of a namespace's tenant keys (e.g. a rotated management token)."""
        with self.lock_of(name), self._mutex:
            if name in self._namespaces:
                self._index(self._namespaces[name])
            else:
                self._forget(name)

    def reset(self, name: str | None = None) -> None:
        """Drop one namespace wholesale (or every namespace, one after the other, when `name` is None).

        It waits for the requests under way in that namespace only; the others go on meanwhile."""
        for each in self.names() if name is None else [name]:
            with self.lock_of(each):
                with self._mutex:
                    namespace = self._namespaces.pop(each, None)
                    self._forget(each)
                if namespace is not None:
                    namespace.faults.clear()  # let go of requests its rules hold hanging

    def export(self, name: str | None = None) -> dict:
        """One namespace, or all of them (each a consistent snapshot under its own lock), as JSON-ready data."""
        exported = {}
        for each in self.names() if name is None else [name]:
            with self.lock_of(each):
                exported[each] = self.namespace(each).export()
        return {"namespaces": exported}

    def import_state(self, document: Mapping[str, Any]) -> list[str]:
        """Replace the namespaces named in an exported document; nothing changes if any part is bad."""
        namespaces = document.get("namespaces") if isinstance(document, Mapping) else None
        if not isinstance(namespaces, Mapping):
            raise ValueError("state: expected an object with a 'namespaces' object")
        restored = {name: self._restore(name, data) for name, data in namespaces.items()}
        with ExitStack() as held:
            for name in sorted(restored):
                held.enter_context(self.lock_of(name))
            with self._mutex:
                for name, namespace in restored.items():
                    for provider, ids in namespace.index_keys().items():
                        self._check_free(name, provider, ids, ignoring=set(restored))
                for name, namespace in restored.items():
                    replaced = self._namespaces.get(name)
                    if replaced is not None:
                        replaced.faults.clear()
                    self._namespaces[name] = namespace
                    self._index(namespace)
        return sorted(restored)

    def _restore(self, name: str, data: Any) -> Namespace:
        check_namespace_name(name)
        if not isinstance(data, Mapping):
            raise ValueError(f"state.namespaces.{name}: expected an object")
        unknown = sorted(set(data) - {"clock", "keys", "tokens", "providers"})
        if unknown:
            raise ValueError(f"state.namespaces.{name}.{unknown[0]}: unknown field")
        namespace = Namespace(name, self._types.values(), self.lock_of(name))
        try:
            namespace.clock.restore(data.get("clock", {}))
            namespace.keys.restore(data.get("keys", {}))
            namespace.tokens.restore(data.get("tokens", {}))
            for provider, state in data.get("providers", {}).items():
                if provider not in self._types:
                    raise ValueError(f"unknown provider {provider!r}")
                namespace.states[provider] = self._types[provider].restore(state)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise ValueError(f"state.namespaces.{name}: {exc}") from None
        return namespace

    def _check_free(self, name: str, provider: str, ids: Iterable[str], ignoring: Collection[str] = ()) -> None:
        for tenant_id in ids:
            owner = self._tenants.get((provider, tenant_id))
            if owner is not None and owner != name and owner not in ignoring:
                raise TenantConflict(f"{provider} tenant {tenant_id!r} already belongs to namespace {owner!r}")

    def _index(self, namespace: Namespace) -> None:
        """Point the namespace's current keys at it, and let go of the keys it no longer has."""
        self._forget(namespace.name)
        keys = {(provider, key) for provider, ids in namespace.index_keys().items() for key in ids}
        for key in keys:
            self._tenants[key] = namespace.name
        self._owned[namespace.name] = keys

    def _forget(self, name: str) -> None:
        for key in self._owned.pop(name, ()):
            if self._tenants.get(key) == name:
                del self._tenants[key]
