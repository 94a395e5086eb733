"""The control API under /__emulator: health, reset, seed, state, clock, journal. Always JSON."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from .. import __version__
from ..config import SeedError, parse_seed, parse_seed_text
from ..core.clock import parse_duration, parse_instant
from ..core.store import TenantConflict
from ..web import json_response, pump_deliveries, read_json_body, runtime
from .base import ALL_NAMESPACES, ControlError, blueprint, json_object, namespace_arg
from .masking import masked_delivery


@blueprint.get("/health")
def health() -> Response:
    return json_response({"status": "ok", "version": __version__})


@blueprint.post("/reset")
def reset() -> Response:
    """Drop a namespace's tenants, clock and keys wholesale, and forget its journal."""
    name = namespace_arg(allow_all=True)
    state = runtime()
    state.store.reset(name)
    state.journal.clear(name)
    return json_response({"reset": name or ALL_NAMESPACES})


@blueprint.post("/seed")
def seed() -> Response:
    """Add tenants from a seed given as JSON or YAML; 400 names the bad field, 409 a taken tenant id."""
    name = namespace_arg()
    try:
        if request.mimetype in ("application/json", ""):
            parsed = parse_seed(read_json_body(empty={}))
        else:
            parsed = parse_seed_text(request.get_data())
    except SeedError as exc:
        raise ControlError(400, "invalid_seed", exc.message, exc.field or None) from None
    try:
        namespace = runtime().store.seed(name, parsed.parts())
    except TenantConflict as exc:
        raise ControlError(409, "tenant_conflict", str(exc)) from None
    return json_response({"namespace": namespace.name, "tenants": namespace.tenants()})


@blueprint.get("/state")
def export_state() -> Response:
    return json_response(runtime().store.export(namespace_arg(allow_all=True)))


@blueprint.post("/state")
def import_state() -> Response:
    try:
        names = runtime().store.import_state(json_object())
    except TenantConflict as exc:
        raise ControlError(409, "tenant_conflict", str(exc)) from None
    except ValueError as exc:
        raise ControlError(400, "invalid_state", str(exc)) from None
    return json_response({"imported": names})


@blueprint.get("/clock")
def get_clock() -> Response:
    return json_response(runtime().store.namespace(namespace_arg()).clock.snapshot())


@blueprint.post("/clock")
def move_clock() -> Response:
    """`{"set": time}`, `{"advance": duration}`, `{"freeze": bool}`: freeze first, then set, advance, unfreeze."""
    body = json_object()
    unknown = sorted(set(body) - {"set", "advance", "freeze"})
    if unknown or not body:
        field = unknown[0] if unknown else None
        raise ControlError(400, "invalid_clock", "expected one or more of set, advance, freeze", field)
    epoch = _clock_field(body, "set", parse_instant)
    step = _clock_field(body, "advance", parse_duration)
    freeze = body.get("freeze")
    if freeze is not None and not isinstance(freeze, bool):
        raise ControlError(400, "invalid_clock", "freeze is true or false", "freeze")
    state = runtime()
    namespace = state.store.namespace(namespace_arg())
    clock = namespace.clock
    if freeze is True:
        clock.freeze()  # first, so that a frozen clock stands exactly where `set` and `advance` put it
    if epoch is not None:
        clock.set(epoch)
    if step is not None:
        clock.advance(step)
    if freeze is False:
        clock.unfreeze()
    namespace.clock_log.append((state.journal.last_seq, dict(body)))  # for Record (control/record.py)
    pump_deliveries(namespace, wait=True)  # webhook retries that the new time has made due, before answering
    return json_response(clock.snapshot())


@blueprint.get("/deliveries")
def list_deliveries() -> Response:
    """Outgoing webhook deliveries of the namespace: state, attempts, next attempt (emulated time)."""
    return _deliveries(runtime().store.namespace(namespace_arg()))


@blueprint.post("/deliveries/flush")
def flush_deliveries() -> Response:
    """Attempt every delivery due now on the namespace's clock, and wait for every attempt under way."""
    namespace = runtime().store.namespace(namespace_arg())
    pump_deliveries(namespace, wait=True)
    return _deliveries(namespace)


@blueprint.post("/deliveries/hold")
def hold_deliveries() -> Response:
    """Attempt nothing in the namespace until a release (attempts under way end as they will)."""
    namespace = runtime().store.namespace(namespace_arg())
    namespace.outbox.hold()
    return _deliveries(namespace)


@blueprint.post("/deliveries/release")
def release_deliveries() -> Response:
    """Attempt again: what is due now goes before the answer."""
    namespace = runtime().store.namespace(namespace_arg())
    namespace.outbox.release()
    pump_deliveries(namespace, wait=True)
    return _deliveries(namespace)


def _deliveries(namespace: Any) -> Response:
    """The namespace's deliveries; with `?masked=true` (the dashboard) their secrets masked (masking.py)."""
    deliveries = namespace.outbox.list()
    if request.args.get("masked") == "true":
        deliveries = [masked_delivery(delivery) for delivery in deliveries]
    return json_response({"held": namespace.outbox.held, "deliveries": deliveries})


def _clock_field(body: dict, key: str, parse: Any) -> float | None:
    if key not in body:
        return None
    try:
        return parse(body[key])
    except ValueError as exc:
        raise ControlError(400, "invalid_clock", str(exc), key) from None


def _whole_number_arg(name: str) -> int | None:
    value = request.args.get(name)
    if value is not None and not re.fullmatch(r"[0-9]{1,9}", value):
        raise ControlError(400, "invalid_filter", f"{name} is a whole number", name)
    return int(value) if value else None


def _journal_filters() -> dict:
    return {
        "namespace": namespace_arg(allow_all=True),
        "provider": request.args.get("provider"),
        "method": request.args.get("method"),
        "path": request.args.get("path"),
        "status": _whole_number_arg("status"),
        "limit": _whole_number_arg("limit"),
    }


@blueprint.get("/journal")
def journal() -> Response:
    entries = runtime().journal.query(**_journal_filters())
    return json_response({"entries": [e.to_dict() for e in entries]})


@blueprint.delete("/journal")
def clear_journal() -> Response:
    name = namespace_arg(allow_all=True)
    runtime().journal.clear(name)
    return json_response({"cleared": name or ALL_NAMESPACES})
