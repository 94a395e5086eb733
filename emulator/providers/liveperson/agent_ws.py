"""LivePerson's agent WebSocket (the messaging UMS): `/ws_api/account/{a}/messaging/brand/{bearer}?v=2.1`.

Reference: liveperson.md sections 3.4 (the bearer in the path; close codes 4401/4407/1011), 6.6 (frames)
and 10.1 (what node-agent-sdk sends). Served with flask-sock, so only Werkzeug's server (plain or TLS)
can upgrade; under waitress or the Flask test client the route answers 400 in LivePerson's envelope.

The bearer is checked against the emulator's clock before each frame and on an idle tick of one second
of wall time, so a session that expires (clock moved), is logged out, or is expired/revoked through the
control API closes the socket: 4401 when the bearer is unknown or revoked, 4407 when it expired. [I]
"""

from __future__ import annotations

import json
import uuid

from flask import Response, request
from flask_sock import Sock

from ...core.keys import TokenError
from ...web import current_namespace, runtime
from .errors import LivePersonError
from .login import session_of_bearer
from .models import LivePersonState
from .routes import PROVIDER, blueprint

PATH = "/ws_api/account/<account_id>/messaging/brand/<bearer>"
ENDPOINT = f"{PROVIDER}.agent_socket"
VERSIONS = ("2", "2.1")  # [C] lp-shell tutorial v=2; [O] node-agent-sdk 1.2.0 v=2.1
CLOSE_INVALID = 4401  # [C] an authentication problem; [I] the emulator's code for unknown, logged out, revoked
CLOSE_EXPIRED = 4407  # [C] an authentication problem; [I] the emulator's code for a session past its lifetime
IDLE_TICK_SECONDS = 1.0  # wall time between re-checks of an idle socket's bearer
CLOSE_HANDSHAKE_SECONDS = 2.0  # wall time a closing socket waits for the client's close frame
NO_UPGRADE = "WebSocket upgrade not supported by this server"  # [I] waitress and the Flask test client
# [O]/[CC] request types seen in node-agent-sdk; those without a body below answer `{}` with code 200 [I]
KNOWN_TYPES = (
    ".GetClock", ".ams.aam.SubscribeExConversations", ".ams.aam.UnsubscribeExConversations",
    ".ams.routing.SetAgentState", ".ams.routing.SubscribeRoutingTasks", ".ams.routing.UpdateRingState",
    ".ams.cm.UpdateConversationField", ".ams.ms.PublishEvent", "ms.SubscribeMessagingEvents",
    ".ams.userprofile.GetUserProfile",
)  # fmt: skip

sock = Sock()


@blueprint.before_request
def _upgrade_possible() -> None:
    """Refuse, before any upgrade, a version other than 2 / 2.1 and a server that cannot upgrade."""
    if request.endpoint != ENDPOINT:
        return
    if request.args.get("v") not in VERSIONS:
        raise LivePersonError(400, "unsupported version: use v=2.1", "unsupported_version")  # [I]
    if "werkzeug.socket" not in request.environ:
        raise LivePersonError(400, NO_UPGRADE, "websocket_not_supported")


@blueprint.get(PATH)
def agent_socket_without_upgrade(account_id: str, bearer: str) -> Response:
    """A plain GET (no `Upgrade: websocket`) on the socket's path. [I]"""
    raise LivePersonError(400, "a WebSocket upgrade is required", "websocket_required")


def close_code(account_id: str, bearer: str) -> int | None:
    """None while the bearer's session is live on the namespace's clock, else the close code."""
    with runtime().store.lock:
        namespace = current_namespace()
        state: LivePersonState = namespace.state(PROVIDER)
        account = state.accounts.get(account_id)
        if account is None:
            return CLOSE_INVALID
        now = namespace.clock.now()
        if session_of_bearer(account, bearer, now, namespace.tokens) is not None:
            return None
        session = next((s for s in account.sessions.values() if s.bearer == bearer), None)
        if session is None:
            return CLOSE_INVALID
        if not session.live(now):
            return CLOSE_EXPIRED
        try:
            namespace.tokens.check(bearer, now)
        except TokenError as error:
            return CLOSE_EXPIRED if error.reason == TokenError.EXPIRED else CLOSE_INVALID
        return CLOSE_INVALID


def _clock_ms() -> int:
    return int(current_namespace().clock.now() * 1000)


def answer(frame: str) -> dict:
    """The `resp` frame for one text frame."""
    try:
        message = json.loads(frame)
    except ValueError:
        message = None
    if not isinstance(message, dict) or message.get("kind") != "req":
        req_id = message.get("id") if isinstance(message, dict) else None
        return _resp(req_id, 400, {"msg": "a frame must be a JSON object with kind req"})  # [I]
    req_id, kind = message.get("id"), message.get("type")
    if kind == ".GetClock":
        return _resp(req_id, 200, {"currentTime": _clock_ms()})
    if kind == ".ams.aam.SubscribeExConversations":
        return _resp(req_id, 200, {"subscriptionId": str(uuid.uuid4())})  # [I] the id's format is not public
    if kind in KNOWN_TYPES:
        return _resp(req_id, 200, {})
    return _resp(req_id, 400, {"msg": f"unknown request type: {kind}"})  # [I]


def _resp(req_id: object, code: int, body: dict) -> dict:
    return {"kind": "resp", "reqId": req_id, "code": code, "body": body}  # [O] section 6.6


@sock.route(PATH, bp=blueprint)
def agent_socket(ws, account_id: str, bearer: str) -> None:
    """Accept the upgrade; close with 4401/4407 as soon as the bearer is no longer good."""
    while True:
        code = close_code(account_id, bearer)
        if code is not None:
            _close(ws, code)
            return
        frame = ws.receive(timeout=IDLE_TICK_SECONDS)
        if frame is None:
            continue
        code = close_code(account_id, bearer)
        if code is not None:
            _close(ws, code)
            return
        if isinstance(frame, bytes):
            frame = frame.decode("utf-8", "replace")
        try:
            ws.send(json.dumps(answer(frame)))
        except OSError:  # the peer went away mid-send (ssl.SSLEOFError and kin): nothing left to answer
            return


def _close(ws, code: int) -> None:
    """Send the close frame, then wait (bounded) for the client's: the socket's reader thread must be done
    with the connection before Werkzeug closes it, or its last read could land on a reused descriptor."""
    ws.close(reason=code, message="expired" if code == CLOSE_EXPIRED else "unauthorized")
    ws.thread.join(CLOSE_HANDSHAKE_SECONDS)
