"""The state registry: namespaces -> clock, keys and provider state, under one lock."""

from __future__ import annotations

import re
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Protocol

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


class Namespace:
    """Tenants created together, with their own clock and signing keys."""

    def __init__(self, name: str, state_types: Iterable[StateType]) -> None:
        types = list(state_types)
        self.name = name
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


class Store:
    """All namespaces, the index from tenant ids to namespaces, and the one lock that guards them."""

    def __init__(self, state_types: Iterable[StateType]) -> None:
        self._types = {t.provider: t for t in state_types}
        self.lock = threading.RLock()
        self._namespaces: dict[str, Namespace] = {}
        self._tenants: dict[tuple[str, str], str] = {}
        self._owned: dict[str, set[tuple[str, str]]] = {}  # namespace -> the index keys it holds
        self._blank = Namespace(DEFAULT_NAMESPACE, self._types.values())

    def view(self, name: str) -> Namespace:
        """The namespace called `name` if it exists, else an empty one that is not kept: a request can
        read through it (and find no tenant) without creating state."""
        return self._namespaces.get(name) or self._blank

    def namespace(self, name: str = DEFAULT_NAMESPACE) -> Namespace:
        """The namespace called `name`, created empty on first use."""
        found = self._namespaces.get(name)
        if found is not None:
            return found
        with self.lock:
            return self._namespaces.setdefault(name, Namespace(check_namespace_name(name), self._types.values()))

    def names(self) -> list[str]:
        return sorted(self._namespaces)

    def namespace_of(self, provider: str, tenant_id: str) -> str | None:
        return self._tenants.get((provider, tenant_id))

    def seed(self, name: str, parts: Mapping[str, SeedPart]) -> Namespace:
        """Add the tenants of `parts` (provider -> seed part) to a namespace, all or nothing."""
        with self.lock:
            for provider, part in parts.items():
                self._check_free(name, provider, part.tenant_ids())
            namespace = self.namespace(name)
            for provider, part in parts.items():
                namespace.state(provider).apply_seed(part)
            self._index(namespace)  # a re-seeded tenant may have let go of ids it held
            return namespace

    def reindex(self, name: str) -> None:
        """After a change of a namespace's tenant keys (e.g. a rotated management token)."""
        with self.lock:
            if name in self._namespaces:
                self._index(self._namespaces[name])
            else:
                self._forget(name)

    def reset(self, name: str | None = None) -> None:
        """Drop one namespace wholesale (or every namespace when `name` is None)."""
        with self.lock:
            if name is None:
                for namespace in self._namespaces.values():
                    namespace.faults.clear()
                self._namespaces.clear()
                self._tenants.clear()
                self._owned.clear()
                return
            namespace = self._namespaces.pop(name, None)
            if namespace is not None:
                namespace.faults.clear()  # let go of requests its rules hold hanging
            self._forget(name)

    def export(self, name: str | None = None) -> dict:
        """One namespace, or all of them, as JSON-ready data."""
        with self.lock:
            names = self.names() if name is None else [name]
            return {"namespaces": {n: self.namespace(n).export() for n in names}}

    def import_state(self, document: Mapping[str, Any]) -> list[str]:
        """Replace the namespaces named in an exported document; nothing changes if any part is bad."""
        namespaces = document.get("namespaces") if isinstance(document, Mapping) else None
        if not isinstance(namespaces, Mapping):
            raise ValueError("state: expected an object with a 'namespaces' object")
        restored = {name: self._restore(name, data) for name, data in namespaces.items()}
        with self.lock:
            for name, namespace in restored.items():
                for provider, ids in namespace.index_keys().items():
                    self._check_free(name, provider, ids, ignoring=set(restored))
            for name, namespace in restored.items():
                self.reset(name)
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
        namespace = Namespace(name, self._types.values())
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

    def _check_free(self, name: str, provider: str, ids: Iterable[str], ignoring: set[str] = frozenset()) -> None:
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
