"""/__emulator/faults: the namespace's fault rules."""

from __future__ import annotations

from flask import Response
from pydantic import ValidationError

from ..core.faults import FaultSpec
from ..core.validation import first_error
from ..web import json_response, runtime
from .base import ControlError, blueprint, json_object, namespace_arg


@blueprint.post("/faults")
def add_fault() -> Response:
    """Add a rule; answers `{"id"}`. It acts on requests of this namespace only."""
    try:
        spec = FaultSpec.model_validate(json_object())
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ControlError(400, "invalid_fault", message, field or None) from None
    if spec.match.provider is not None and spec.match.provider not in runtime().providers:
        known = ", ".join(sorted(runtime().providers))
        raise ControlError(400, "invalid_fault", f"unknown provider (known: {known})", "match.provider")
    rule = runtime().store.namespace(namespace_arg()).faults.add(spec)
    return json_response({"id": rule.id}, 201)


@blueprint.get("/faults")
def list_faults() -> Response:
    """Every rule with how many requests it `matched` and how many times it `fired`."""
    return json_response({"faults": runtime().store.namespace(namespace_arg()).faults.list()})


@blueprint.delete("/faults")
def clear_faults() -> Response:
    runtime().store.namespace(namespace_arg()).faults.clear()
    return json_response({"cleared": True})


@blueprint.delete("/faults/<rule_id>")
def remove_fault(rule_id: str) -> Response:
    if not runtime().store.namespace(namespace_arg()).faults.remove(rule_id):
        raise ControlError(404, "unknown_fault", f"no fault rule {rule_id!r} in this namespace")
    return json_response({"removed": rule_id})
