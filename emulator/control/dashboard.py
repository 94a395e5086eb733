"""/__emulator/ui: the dashboard's page and its assets (plain JS and CSS shipped in the package).

The page holds no state: its script asks for the control token (kept in the tab's sessionStorage), sends
it in the X-Emulator-Token header, and reads and acts through the control API like any other client.
"""

from __future__ import annotations

from pathlib import Path

from flask import Response, render_template, send_from_directory

from .. import __version__
from .base import CONTROL_PREFIX, blueprint

ASSETS = Path(__file__).resolve().parent.parent / "static"
POLL_MILLISECONDS = 1000  # how often an open page asks for what changed


@blueprint.get("/ui")
def dashboard() -> Response:
    html = render_template("dashboard.html", version=__version__, control=CONTROL_PREFIX, poll=POLL_MILLISECONDS)
    response = Response(html, mimetype="text/html")
    # the page runs only its own script and talks only to this emulator; it is never framed
    response.headers["Content-Security-Policy"] = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    return response


@blueprint.get("/ui/assets/<name>")
def dashboard_asset(name: str) -> Response:
    return send_from_directory(ASSETS, name, max_age=0)
