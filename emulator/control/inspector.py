"""Read-only views the dashboard draws: masked requests, the token timeline, conversations, namespaces."""

from __future__ import annotations

import re
from collections.abc import Callable

import jwt
from flask import Response, request

from ..core.clock import format_instant
from ..core.journal import JournalEntry
from ..web import REASON_HEADER, json_response, runtime
from .base import ControlError, blueprint, namespace_arg
from .masking import masked_entry

REQUEST_ROWS = 200  # the most entries one call answers (the newest), unless `limit` says fewer
_STATUS = re.compile(r"[0-9]{1,3}|[0-9]xx")


@blueprint.get("/namespaces")
def namespaces() -> Response:
    return json_response({"namespaces": runtime().store.names()})


@blueprint.get("/requests")
def requests_view() -> Response:
    """The journal as the dashboard shows it: masked (see masking.py), with each answer's refusal reason and
    the tokens it used or issued. Filters: provider, path (a substring), status (`401` or `4xx`), fault (a
    kind, or `any`), after (a sequence number), limit."""
    name = namespace_arg()
    status = request.args.get("status", "")
    if status and not _STATUS.fullmatch(status):
        raise ControlError(400, "invalid_filter", "status is a code such as 401 or a class such as 4xx", "status")
    limit = _count_arg("limit", REQUEST_ROWS)
    state = runtime()
    entries = state.journal.query(
        namespace=name, provider=request.args.get("provider") or None, after=_count_arg("after", 0)
    )
    path, fault = request.args.get("path", ""), request.args.get("fault", "")
    selected = [e for e in entries if path in e.path and _status_is(e.status, status) and _has_fault(e, fault)][-limit:]
    known = state.store.view(name).tokens.knows_fingerprint
    rows = [_inspected(entry, known) for entry in selected]
    return json_response({"entries": rows, "last_seq": state.journal.last_seq})


def _count_arg(name: str, default: int) -> int:
    value = request.args.get(name, "")
    if not value:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise ControlError(400, "invalid_filter", f"{name} is a whole number", name)
    return int(value)


def _status_is(status: int, wanted: str) -> bool:
    if not wanted:
        return True
    return str(status).startswith(wanted[0]) if wanted.endswith("xx") else status == int(wanted)


def _has_fault(entry: JournalEntry, wanted: str) -> bool:
    if not wanted:
        return True
    return bool(entry.faults) if wanted == "any" else any(fault.get("kind") == wanted for fault in entry.faults)


def _inspected(entry: JournalEntry, known: Callable[[str], bool]) -> dict:
    row = masked_entry(dict(vars(entry)), known)  # a shallow copy: masking makes new headers and bodies
    row["reason"] = entry.response_headers.get(REASON_HEADER)
    return row


@blueprint.get("/timeline")
def timeline() -> Response:
    """Live tokens (by fingerprint, with issue time and effective expiry) and provider sessions, on the
    namespace's clock, for the dashboard's timeline."""
    name = namespace_arg()
    state = runtime()
    namespace = state.store.view(name)
    with namespace.lock:
        now = namespace.clock.now()
        tokens = namespace.tokens.live(now)
        sessions = [row for provider_state in namespace.states.values() for row in provider_state.live_credentials(now)]
        frozen = namespace.clock.frozen
    return json_response(
        {"now": format_instant(now), "now_epoch": now, "frozen": frozen, "tokens": tokens, "sessions": sessions}
    )


@blueprint.get("/timeline/tokens/<key>")
def token_details(key: str) -> Response:
    """One token of the timeline: subjects, times, whether revoked, and its claims while the namespace still
    holds it whole (the newest tokens only). Never the token itself."""
    namespace = runtime().store.view(namespace_arg())
    details = namespace.tokens.details(key)
    if details is None:
        raise ControlError(
            404, "unknown_token", "this namespace did not issue that token (or has forgotten it)", "fingerprint"
        )
    token = namespace.tokens.recent_token(key)
    details["header"], details["claims"] = _decoded(token) if token else (None, None)
    return json_response(details)


def _decoded(token: str) -> tuple[dict | None, dict | None]:
    """A JWT's header and claims, unverified (the emulator signed it); (None, None) for an opaque token."""
    try:
        return jwt.get_unverified_header(token), jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None, None


@blueprint.get("/conversations")
def conversations() -> Response:
    """Every provider's conversations in the namespace, in the neutral shape of `ProviderSpec.conversations`."""
    state = runtime()
    namespace = state.store.view(namespace_arg())
    with namespace.lock:
        rows = [
            view
            for spec in state.providers.values()
            if spec.conversations is not None
            for view in spec.conversations(namespace.state(spec.name))
        ]
    return json_response({"conversations": rows})
