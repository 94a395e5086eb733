"""/__emulator/record: a namespace's journal, clock moves and tenants as a scenario document."""

from __future__ import annotations

from flask import Response, request

from ..client import RECORD_PATH
from ..web import json_response, runtime
from .base import ControlError, blueprint, namespace_arg

_FLAGS = {"true": True, "1": True, "false": False, "0": False}


def _flag_arg(name: str) -> bool:
    value = request.args.get(name, "false").lower()
    if value not in _FLAGS:
        raise ControlError(400, "invalid_argument", f"{name} is true or false", name)
    return _FLAGS[value]


@blueprint.get(RECORD_PATH)
def record() -> Response:
    """`{"name", "seed", "steps"}` (and `vars` with `?fresh_ids=true`): see emulator.scenarios.record;
    with `?format=yaml`, the scenario file itself, as a download.

    An empty journal answers 409 `empty_journal` rather than a scenario without steps, which no
    scenario runner would accept. The namespace is read, never created.
    """
    from ..scenarios.record import (  # the scenario package, on first use
        RecordError,
        build_scenario,
        dump_scenario,
        export_seed,
    )

    name = namespace_arg()
    fresh_ids = _flag_arg("fresh_ids")
    as_yaml = _format_arg() == "yaml"
    state = runtime()
    # the requests clients made; webhook attempts and events are what the emulator did in answer
    entries = [entry for entry in state.journal.query(namespace=name) if entry.direction == "incoming"]
    if not entries:
        raise ControlError(409, "empty_journal", f"namespace {name!r} has no journaled request to record")
    namespace = state.store.view(name)
    with namespace.lock:
        try:
            seed, variables, ids = export_seed(namespace, fresh_ids)
        except RecordError as exc:
            raise ControlError(501, "cannot_record", str(exc)) from None
        clock_moves = list(namespace.clock_log)
        rules = {rule["id"]: rule for rule in namespace.faults.list()}
    document = build_scenario(
        f"recorded from namespace {name}",
        entries,
        seed=seed,
        variables=variables,
        ids=ids,
        clock_moves=clock_moves,
        fault_rules=rules,
    )
    if not as_yaml:
        return json_response(document)
    download = f'attachment; filename="scenario-{name}.yaml"'  # namespace names are safe in a header
    return Response(dump_scenario(document), mimetype="application/yaml", headers={"Content-Disposition": download})


def _format_arg() -> str:
    value = request.args.get("format", "json")
    if value not in ("json", "yaml"):
        raise ControlError(400, "invalid_argument", "format is json or yaml", "format")
    return value
