"""The control API under /__emulator: health, reset, seed, state, clock, journal. Always JSON."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, request

from .. import __version__
from ..config import SeedError, parse_seed, parse_seed_text
from ..core.clock import parse_duration, parse_instant
from ..core.store import DEFAULT_NAMESPACE, TenantConflict, check_namespace_name
from ..web import MalformedJson, json_response, read_json_body, runtime

CONTROL_PREFIX = "/__emulator"
ALL_NAMESPACES = "*"
blueprint = Blueprint("control", __name__, url_prefix=CONTROL_PREFIX)


class ControlError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


def control_error(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return json_response({"error": error}, status)


@blueprint.errorhandler(ControlError)
def _answer_control_error(error: ControlError) -> Response:
    return control_error(error.status, error.code, error.message, error.field)


@blueprint.errorhandler(MalformedJson)
def _answer_malformed(error: MalformedJson) -> Response:
    return control_error(400, "malformed_json", f"request body is not valid JSON: {error}")


def _namespace(allow_all: bool = False) -> str | None:
    """The `?namespace=` of the call (default `default`); None stands for every namespace."""
    name = request.args.get("namespace", DEFAULT_NAMESPACE)
    if name == ALL_NAMESPACES:
        if not allow_all:
            raise ControlError(400, "invalid_namespace", "this call acts on one namespace, not '*'", "namespace")
        return None
    try:
        return check_namespace_name(name)
    except ValueError as exc:
        raise ControlError(400, "invalid_namespace", str(exc), "namespace") from None


def _json_object() -> dict:
    body = read_json_body(empty={})
    if not isinstance(body, dict):
        raise ControlError(400, "invalid_body", "expected a JSON object")
    return body


@blueprint.get("/health")
def health() -> Response:
    return json_response({"status": "ok", "version": __version__})


@blueprint.post("/reset")
def reset() -> Response:
    """Drop a namespace's tenants, clock and keys wholesale, and forget its journal."""
    name = _namespace(allow_all=True)
    state = runtime()
    state.store.reset(name)
    state.journal.clear(name)
    return json_response({"reset": name or ALL_NAMESPACES})


@blueprint.post("/seed")
def seed() -> Response:
    """Add tenants from a seed given as JSON or YAML; 400 names the bad field, 409 a taken tenant id."""
    name = _namespace()
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
    return json_response(runtime().store.export(_namespace(allow_all=True)))


@blueprint.post("/state")
def import_state() -> Response:
    try:
        names = runtime().store.import_state(_json_object())
    except TenantConflict as exc:
        raise ControlError(409, "tenant_conflict", str(exc)) from None
    except ValueError as exc:
        raise ControlError(400, "invalid_state", str(exc)) from None
    return json_response({"imported": names})


@blueprint.get("/clock")
def get_clock() -> Response:
    return json_response(runtime().store.namespace(_namespace()).clock.snapshot())


@blueprint.post("/clock")
def move_clock() -> Response:
    """`{"set": time}`, `{"advance": duration}`, `{"freeze": bool}`, applied in that order."""
    body = _json_object()
    unknown = sorted(set(body) - {"set", "advance", "freeze"})
    if unknown or not body:
        field = unknown[0] if unknown else None
        raise ControlError(400, "invalid_clock", "expected one or more of set, advance, freeze", field)
    epoch = _clock_field(body, "set", parse_instant)
    step = _clock_field(body, "advance", parse_duration)
    freeze = body.get("freeze")
    if freeze is not None and not isinstance(freeze, bool):
        raise ControlError(400, "invalid_clock", "freeze is true or false", "freeze")
    clock = runtime().store.namespace(_namespace()).clock
    if epoch is not None:
        clock.set(epoch)
    if step is not None:
        clock.advance(step)
    if freeze is True:
        clock.freeze()
    elif freeze is False:
        clock.unfreeze()
    return json_response(clock.snapshot())


def _clock_field(body: dict, key: str, parse: Any) -> float | None:
    if key not in body:
        return None
    try:
        return parse(body[key])
    except ValueError as exc:
        raise ControlError(400, "invalid_clock", str(exc), key) from None


def _journal_filters() -> dict:
    limit = request.args.get("limit")
    if limit is not None and not re.fullmatch(r"[0-9]{1,9}", limit):
        raise ControlError(400, "invalid_filter", "limit is a whole number", "limit")
    return {
        "namespace": _namespace(allow_all=True),
        "provider": request.args.get("provider"),
        "method": request.args.get("method"),
        "path": request.args.get("path"),
        "limit": int(limit) if limit else None,
    }


@blueprint.get("/journal")
def journal() -> Response:
    entries = runtime().journal.query(**_journal_filters())
    return json_response({"entries": [e.to_dict() for e in entries]})


@blueprint.delete("/journal")
def clear_journal() -> Response:
    name = _namespace(allow_all=True)
    runtime().journal.clear(name)
    return json_response({"cleared": name or ALL_NAMESPACES})
