"""/__emulator/tokens: expire, revoke, fail, rotate keys, change lifetimes, on any token the emulator issued.

A call names a token (`{"token": "..."}`, or `{"fingerprint": "<sha256 hex of it>"}` as the dashboard
lists it) or a selector of provider keys (`{"account": "123"}`,
`{"account": "123", "consumer": "..."}`); a selector reaches the tokens issued before the call.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Response
from pydantic import ValidationError

from ..core.clock import parse_duration, parse_instant
from ..core.lifecycle import fingerprint
from ..core.store import Namespace
from ..core.validation import first_error
from ..web import json_response, runtime
from ..web.spec import ProviderSpec
from .base import ControlError, blueprint, json_object, namespace_arg

_CALL_KEYS = {"token", "fingerprint", "provider", "at", "times", "grace"}
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


def _text(body: dict, key: str) -> str:
    value = body[key]
    if not isinstance(value, str) or not value:
        raise ControlError(400, "invalid_body", f"{key} is a non-empty string", key)
    return value


def _provider(body: dict, selector: dict) -> ProviderSpec:
    """The provider a selector speaks of: named by `provider`, else the only one that knows its keys."""
    providers = runtime().providers
    if "provider" in body:
        name = _text(body, "provider")
        if name not in providers:
            raise ControlError(400, "invalid_body", f"unknown provider {name!r}", "provider")
        candidates = [providers[name]]
    else:
        candidates = list(providers.values())
    fitting = [p for p in candidates if selector and set(selector) <= p.selector_keys]
    if len(fitting) != 1:
        keys = sorted({key for p in candidates for key in p.selector_keys})
        raise ControlError(400, "invalid_selector", f"name a token, or select with {', '.join(keys)} (and provider)")
    return fitting[0]


def _selector(body: dict) -> dict[str, str]:
    selector = {key: value for key, value in body.items() if key not in _CALL_KEYS}
    for key in selector:
        _text(selector, key)
    return selector


def _namespace_of_selector(provider: ProviderSpec, selector: dict) -> Namespace:
    """The tenant's own namespace when the selector names a tenant, else the call's."""
    store = runtime().store
    tenant = selector.get(provider.tenant_key)
    owner = store.namespace_of(provider.name, tenant) if tenant else None
    if tenant and owner is None:
        raise ControlError(
            404, "unknown_tenant", f"no {provider.name} {provider.tenant_key} {tenant!r}", provider.tenant_key
        )
    return store.namespace(owner or namespace_arg())


def _namespace_of_token(key: str) -> Namespace:
    """The namespace that issued the token of this fingerprint: the call's first, then any other."""
    store = runtime().store
    names = [namespace_arg(), *store.names()]
    for name in names:
        namespace = store.view(name)
        if namespace.tokens.knows_fingerprint(key):
            return namespace
    raise ControlError(404, "unknown_token", "this emulator did not issue that token (or has forgotten it)", "token")


def _at(body: dict) -> float | None:
    """The `at` of the call, checked before anything is created; None: now, on the namespace's clock."""
    if "at" not in body:
        return None
    try:
        return parse_instant(body["at"])
    except ValueError as exc:
        raise ControlError(400, "invalid_body", str(exc), "at") from None


def _token_key(body: dict) -> str | None:
    """The fingerprint of the token the call names, by itself or by its fingerprint; None: it names none."""
    if "token" in body:
        return fingerprint(_text(body, "token"))
    if "fingerprint" in body:
        key = _text(body, "fingerprint")
        if not _FINGERPRINT.fullmatch(key):
            raise ControlError(
                400, "invalid_body", "fingerprint is the token's SHA-256 in lowercase hex", "fingerprint"
            )
        return key
    return None


def _target(body: dict) -> tuple[Namespace, str | None, list[str]]:
    """The namespace a call acts in, and what it names: a token's fingerprint, or the subjects of a selector."""
    key = _token_key(body)
    if key is not None:
        return _namespace_of_token(key), key, []
    selector = _selector(body)
    provider = _provider(body, selector)
    try:
        subjects = provider.token_subjects(selector)
    except ValueError as exc:
        raise ControlError(400, "invalid_selector", str(exc)) from None
    return _namespace_of_selector(provider, selector), None, subjects


def _answer(namespace: Namespace, token: str | None, subjects: list[str]) -> Response:
    return json_response({"namespace": namespace.name, "target": "token" if token else subjects})


@blueprint.post("/tokens/expire")
def expire_tokens() -> Response:
    """Expire a token, or every token of a tenant/consumer, now or `at` a given time (still refreshable)."""
    body = json_object()
    requested = _at(body)
    namespace, token, subjects = _target(body)
    with namespace.lock:
        at = namespace.clock.now() if requested is None else requested
        if token:
            namespace.tokens.expire_fingerprint(token, at)
        else:
            namespace.tokens.expire_subjects(subjects, at)
    return _answer(namespace, token, subjects)


@blueprint.post("/tokens/revoke")
def revoke_tokens() -> Response:
    """Revoke a token, or every token of a tenant/consumer issued so far: no refresh brings them back."""
    body = json_object()
    namespace, token, subjects = _target(body)
    with namespace.lock:
        if token:
            namespace.tokens.revoke_fingerprint(token)
        else:
            namespace.tokens.revoke_subjects(subjects)
    return _answer(namespace, token, subjects)


@blueprint.post("/tokens/fail")
def fail_token() -> Response:
    """`{"token", "times": N}`: the next N validations of this token fail, for testing retry logic."""
    body = json_object()
    if "token" not in body:
        raise ControlError(400, "invalid_body", "name the token", "token")
    times = body.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or not 1 <= times <= 1_000_000:
        raise ControlError(400, "invalid_body", "times is a whole number from 1", "times")
    token = _text(body, "token")
    namespace = _namespace_of_token(fingerprint(token))
    with namespace.lock:
        namespace.tokens.fail_next(token, times)
    return json_response({"failing": times, "namespace": namespace.name})


@blueprint.post("/tokens/rotate")
def rotate_keys() -> Response:
    """Sign with new keys from now on; old tokens keep verifying for `grace` (omitted: forever, "0s": not at all)."""
    body = json_object()
    grace = body.get("grace")
    try:
        grace_seconds = None if grace is None else parse_duration(grace)
    except ValueError as exc:
        raise ControlError(400, "invalid_body", str(exc), "grace") from None
    selector = _selector(body)
    provider = _provider(body, selector) if selector or "provider" in body else None
    namespace = _namespace_of_selector(provider, selector) if provider else runtime().store.namespace(namespace_arg())
    with namespace.lock:
        slots = [slot.name for slot in provider.state_type.key_slots] if provider else namespace.keys.slots()
        retire_at = None if grace_seconds is None else namespace.clock.now() + grace_seconds
        rotated = [{"slot": slot, "kid": namespace.keys.rotate(slot, retire_at).kid} for slot in slots]
    return json_response({"rotated": rotated, "namespace": namespace.name})


@blueprint.post("/tokens/ttl")
def change_lifetimes() -> Response:
    """Change a tenant's token lifetimes at run time: `{"account": "123", "ext_jwt_ttl": "30s"}`."""
    body = json_object()
    providers = runtime().providers
    provider = _provider(body, {k: v for k, v in body.items() if k in {p.tenant_key for p in providers.values()}})
    tenant = _text(body, provider.tenant_key)
    changes: dict[str, Any] = {k: v for k, v in body.items() if k not in {provider.tenant_key, "provider"}}
    namespace = _namespace_of_selector(provider, {provider.tenant_key: tenant})
    with namespace.lock:
        try:
            settings = namespace.state(provider.name).update_settings(tenant, changes)
        except KeyError:
            raise ControlError(
                404, "unknown_tenant", f"no {provider.name} {provider.tenant_key} {tenant!r}", provider.tenant_key
            ) from None
        except ValidationError as exc:
            field, message = first_error(exc)
            raise ControlError(400, "invalid_settings", message, field) from None
        except ValueError as exc:
            raise ControlError(400, "invalid_settings", str(exc)) from None
    return json_response({"settings": settings, "namespace": namespace.name})
