"""Request plumbing shared by the provider blueprints and the control API."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from flask import Blueprint, Flask, Response, current_app, g, request

from .core.journal import Journal
from .core.store import Namespace, StateType, Store

if TYPE_CHECKING:
    from .config import EmulatorConfig

NAMESPACE_HEADER = "X-Emulator-Namespace"
UNHANDLED_HEADER = "X-Emulator-Unhandled"


class MalformedJson(ValueError):
    """A request body that should be JSON is not; each provider answers it in its own shape."""


@dataclass(frozen=True)
class ProviderSpec:
    """Everything the app needs to mount one provider."""

    name: str
    blueprint: Blueprint
    tenant_arg: str  # the URL variable that names the tenant (account, app, channel)
    path_prefixes: tuple[str, ...]  # for routing errors (404/405) answered in the provider's shape
    http_error: Callable[[int, str], Response]
    state_type: StateType
    tenant_key: str  # the key that names a tenant in control calls, e.g. {"account": "123"}
    selector_keys: frozenset[str]  # every key a token selector of this provider may use
    token_subjects: Callable[[Mapping[str, str]], list[str]]  # selector -> lifecycle subjects


@dataclass
class Runtime:
    """The emulator behind one Flask app."""

    config: "EmulatorConfig"
    store: Store
    journal: Journal
    providers: dict[str, ProviderSpec] = field(default_factory=dict)


def runtime(app: Flask | None = None) -> Runtime:
    return (app or current_app).extensions["emulator"]


def current_namespace() -> Namespace:
    """The namespace of the request under way (resolved by the app's request hook); a request never
    creates a namespace, so one that does not exist reads as empty."""
    return runtime().store.view(g.namespace)


def read_json_body(empty: Any = None) -> Any:
    """The request's JSON body, `empty` when there is none; MalformedJson when it does not parse."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        return empty
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # RecursionError: nesting deeper than Python's stack
        raise MalformedJson(str(exc)) from None


def json_response(body: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def public_host() -> str:
    """The `host[:port]` clients should call back: the configured public host, else the request's."""
    return runtime().config.public_host or request.host
