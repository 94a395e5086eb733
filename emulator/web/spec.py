"""`ProviderSpec`: what a provider declares, in its own folder, for the rest of the emulator to use."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Blueprint, Response
    from pydantic import BaseModel

    from ..core.store import StateType

Shown = Callable[[str | None], str | None]  # a secret as the banner prints it: itself, or masked


@dataclass(frozen=True)
class Host:
    """A host the provider serves from, for interception and the proxy."""

    pattern: str  # a regular expression of the host name
    name: str  # as people read it, e.g. `*.liveperson.net`
    path: str = ""  # the provider's path on a host it shares with others, e.g. `/sc` on `*.zendesk.com`


@dataclass(frozen=True)
class ExportedFields:
    """Which fields of a model Record writes into a seed, and which it leaves out: each field is one or the
    other (a test checks it), so state a model gains is not exported before someone decides it should be."""

    model: type[BaseModel]
    exported: frozenset[str]
    left_out: frozenset[str]  # run-time state (consumers, sessions, ...), not seed

    def dump(self, item: BaseModel) -> dict:
        """The item's exported fields, defaults left out."""
        return item.model_dump(mode="json", include=set(self.exported), exclude_defaults=True)


@dataclass(frozen=True)
class SeedExporter:
    """How Record writes one provider's state as a seed part: tenants that hold children, all named by `id`."""

    export: Callable[[Any], dict | None]  # the state's tenants as a seed part; None when it has none
    fields: tuple[ExportedFields, ...]  # the models `export` reads, their fields classified
    tenants: str  # the part's list of tenants, e.g. "accounts"
    children: str  # each tenant's list of children, e.g. "connectors"
    kinds: tuple[str, str]  # the variable names Record's `fresh_ids` gives them, e.g. ("account", "connector")
    digits: tuple[int, int]  # how long their fresh ids are

    def named(self, part: dict) -> Iterable[tuple[dict, str, int]]:
        """(item, kind, digits) of every tenant and child of the part."""
        for tenant in part[self.tenants]:
            yield tenant, self.kinds[0], self.digits[0]
            for child in tenant.get(self.children, []):
                yield child, self.kinds[1], self.digits[1]

    def ids(self, part: dict) -> list[str]:
        """Every id a request may name (tenants and children)."""
        return [item["id"] for item, _, _ in self.named(part)]


def no_lines(*_: Any) -> list[str]:
    return []


@dataclass(frozen=True)
class Banner:
    """What `serve` prints about the provider's part of the seed; secrets go through `shown`."""

    tenants: Callable[[Any, Shown], list[str]] = no_lines  # (seed part, shown) -> the tenants and their credentials
    walkthrough: Callable[[Any, str, Shown], list[str]] = no_lines  # (seed part, base URL, shown) -> curl lines
    walkthrough_rank: int = 0  # walk-throughs print by rank (then registry order): the highest closes the banner


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the emulator needs to know about one provider."""

    name: str  # also its key in seed files, state files and control calls
    blueprint: Blueprint
    route_modules: tuple[ModuleType, ...]  # every module that adds routes or handlers to `blueprint`
    tenants_of_request: Callable[[], Iterable[str]]  # the tenant ids a request names, most specific first
    tenant_variables: tuple[str, ...]  # the URL variables `tenants_of_request` reads, e.g. ("account_id",)
    path_prefixes: tuple[str, ...]  # for routing errors (404/405) answered in the provider's shape
    http_error: Callable[[int, str], Response]
    state_type: StateType
    seed_model: type[BaseModel]  # its part of a seed file
    seed_exporter: SeedExporter | None  # None: Record refuses a namespace that has its tenants
    hosts: tuple[Host, ...]
    banner: Banner
    credential_headers: tuple[str, ...]  # the request headers that carry its credentials (Record keeps them)
    tenant_key: str  # the key that names a tenant in control calls, e.g. {"account": "123"}
    selector_keys: frozenset[str]  # every key a token selector of this provider may use
    token_subjects: Callable[[dict[str, str]], list[str]]  # selector -> lifecycle subjects
    raw_segments: bool = False  # path variables may hold an encoded `/` (see raw_path.py)
    max_body_bytes: int | None = None  # the provider's published body limit; None: the config's `max_body_bytes`
    conversations: Callable[[Any], list[dict]] | None = None  # its state -> conversations, neutral (dashboard)
    upload_limits: tuple[tuple[str, int], ...] = ()  # (path suffix, limit): upload routes with a larger published limit
