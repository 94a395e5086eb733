"""Applying a fault rule's decision to one HTTP exchange (the rules themselves live in core/faults.py).

Faults that need the raw connection (reset, empty, hang) are handed to the server through the WSGI
environ: waitress (server.py) drops the connection before a byte is written. The in-process transport
(client.py) gets a copy of the environ, so the same order also rides on a header it reads, and it
raises what `requests` would raise.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http import HTTPStatus

from flask import Response, request

from ..core.faults import ABORT_HEADER, Fault
from ..core.server_contract import ABORT_KEY
from . import current_namespace
from .spec import ProviderSpec

RETRY_AFTER_DEFAULT = "1"  # seconds, on 429 and 503 when the rule names none
FAULT_HEADER = "X-Emulator-Fault"  # emulator-only: which rule answered


@dataclass(frozen=True)
class Abort:
    """Drop the connection instead of answering: `reset` (RST), `empty` (close, no bytes), `hang` (hold, then RST)."""

    kind: str
    hold_seconds: float = 0.0
    released: threading.Event | None = None


def replacing_response(fault: Fault, provider: ProviderSpec) -> Response:
    """The answer a fault gives instead of the provider's handler."""
    spec = fault.spec
    if spec.kind == "status":
        status = spec.status or 503
        response = provider.http_error(status, _phrase(status))
        if status in (429, 503) and not any(name.lower() == "retry-after" for name in spec.headers):
            response.headers["Retry-After"] = RETRY_AFTER_DEFAULT
        response.headers.update(spec.headers)
    else:
        request.environ[ABORT_KEY] = Abort(spec.kind, spec.duration, _released_event(fault))
        response = Response(b"", 200, headers={ABORT_HEADER: spec.kind})
    response.headers[FAULT_HEADER] = fault.rule_id
    return response


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _released_event(fault: Fault) -> threading.Event | None:
    return current_namespace().faults.released if fault.kind == "hang" else None


def spoil(response: Response, fault: Fault) -> Response:
    """Damage the provider's real answer on its way out."""
    body = response.get_data()
    if fault.kind == "malformed":
        response.set_data(body[: len(body) // 2] if len(body) > 1 else b"{")  # cut JSON never parses
    elif fault.kind == "truncated":
        response.set_data(body[: len(body) // 2])
        response.headers["Content-Length"] = str(len(body))  # promises more than it sends, then closes
    elif fault.kind == "content_type":
        response.headers["Content-Type"] = fault.spec.content_type
    response.headers[FAULT_HEADER] = fault.rule_id
    return response
