"""The published spec's webhook event schemas (`components.schemas.<trigger>Event`), for tests that pin the
payloads the emulator delivers. The spec is read from where test_schemathesis_sunshine.py reads it; OpenAPI's
`nullable` becomes JSON Schema's `null`. Never copied into the project."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema_rs  # schemathesis's own validator
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(os.environ.get("SUNSHINE_OPENAPI") or ROOT.parent / "shared" / "reference" / "sunshine-openapi.yaml")


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0 to JSON Schema: `nullable: true` admits null; a `oneOf` told apart by its discriminator
    (message contents) is an `anyOf`; everything else as it is."""
    if isinstance(node, list):
        return [_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {
        key: _json_schema(value)
        for key, value in node.items()
        if key not in ("nullable", "example", "examples", "discriminator")
    }
    if (
        "discriminator" in node and "oneOf" in out
    ):  # the discriminator picks one branch; JSON Schema would demand exactly one match
        out["anyOf"] = out.pop("oneOf")
    if node.get("nullable") is True:
        return {"anyOf": [out, {"type": "null"}]}
    return out


@lru_cache(maxsize=1)
def _document() -> dict:
    if not SPEC.is_file():
        pytest.skip(f"the Sunshine OpenAPI spec is not at {SPEC} (set SUNSHINE_OPENAPI to its path)")
    spec = yaml.load(SPEC.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return {"components": {"schemas": _json_schema(spec["components"]["schemas"])}}


def schema_name(trigger: str) -> str:
    """`conversation:message:delivery:user` -> `conversationMessageDeliveryUserEvent`."""
    head, *rest = trigger.split(":")
    return head + "".join(part[:1].upper() + part[1:] for part in rest) + "Event"


def check_event(event: dict) -> None:
    """Fail unless `event` (`{id, type, createdAt, payload}`) conforms to its trigger's schema in the spec."""
    document = _document()
    name = schema_name(event["type"])
    assert name in document["components"]["schemas"], f"the spec has no schema {name}"
    validator = jsonschema_rs.Draft7Validator({**document, "$ref": f"#/components/schemas/{name}"})
    errors = [f"{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(event)]
    assert not errors, f"{event['type']} does not conform to {name}: {errors}"
