"""/__emulator/ui: a read-only page per namespace, refreshed by the browser every few seconds."""

from __future__ import annotations

from flask import Response, render_template, request

from .. import __version__
from ..core.clock import format_instant
from ..web import runtime
from .base import blueprint, namespace_arg

REFRESH_SECONDS = 2
JOURNAL_ROWS = 25


@blueprint.get("/ui")
def dashboard() -> Response:
    """Tenants, live tokens and sessions with their expiry, fault rules and the latest journal entries."""
    name = namespace_arg()
    state = runtime()
    namespace = state.store.view(name)
    with namespace.lock:
        now = namespace.clock.now()
        credentials = [
            {"kind": "JWT", "subject": ", ".join(row["subjects"]), "expires_at": row["expires_at"]}
            for row in namespace.tokens.live(now)
        ]
        for provider_state in namespace.states.values():
            credentials += provider_state.live_credentials(now)
        page = {
            "namespace": name,
            "namespaces": sorted({*state.store.names(), name}),
            "clock": namespace.clock.snapshot(),
            "tenants": namespace.tenants(),
            "faults": namespace.faults.list(),
        }
    for row in credentials:
        row["expires"] = format_instant(row["expires_at"]) if row["expires_at"] is not None else None
    journal = [entry.to_dict() for entry in reversed(state.journal.query(namespace=name, limit=JOURNAL_ROWS))]
    html = render_template(
        "dashboard.html",
        credentials=credentials,
        journal=journal,
        version=__version__,
        refresh=REFRESH_SECONDS,
        token=request.args.get("token"),  # kept in the links, so a token-protected page can be browsed
        **page,
    )
    return Response(html, mimetype="text/html")
