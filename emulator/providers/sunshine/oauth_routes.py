"""The OAuth endpoints (`/oauth/*`, also under `/sc`: the spec's base `oauth-bridge.zendesk.com/sc`) and the
media URLs of uploaded attachments. Registered on the Sunshine blueprint; `GET /v2/tokenInfo` is a v2 route
(routes.py)."""

from __future__ import annotations

import base64
from collections.abc import Callable

from flask import Response, request

from ...web import current_namespace, json_response, read_json_body, runtime
from . import oauth
from .auth import INTEGRATION, authenticate, authorize
from .bodies import parse_body
from .call import Call
from .errors import SunshineError
from .http import blueprint, request_url
from .models import PROVIDER

OAUTH_PREFIXES = ("", "/sc")


def _route(method: str, rule: str) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a view at `/oauth/...` and `/sc/oauth/...`."""

    def register(view: Callable[..., Response]) -> Callable[..., Response]:
        for prefix in OAUTH_PREFIXES:
            blueprint.add_url_rule(prefix + rule, f"oauth {method} {prefix}{rule}", view, methods=[method])
        return view

    return register


@_route("GET", "/oauth/authorize")
def authorize_client() -> Response:
    """302 to the integration's redirect URI with `code` (and `state`) [C]."""
    namespace = current_namespace()
    with runtime().store.lock:
        location = oauth.authorize(namespace.state(PROVIDER), request.args, namespace.clock.now())
    return Response(
        f"Found. Redirecting to {location}", status=302, headers={"Location": location}, mimetype="text/plain"
    )  # [C] the spec's body


@_route("POST", "/oauth/token")
def exchange_code() -> Response:
    """`{"access_token", "token_type": "Bearer"}` [C]; [I] a form-encoded body is taken too."""
    data = read_json_body(empty=None) if not request.form else request.form.to_dict()
    body = parse_body(oauth.TokenBody, data)
    namespace = current_namespace()
    store = runtime().store
    with store.lock:
        now = namespace.clock.now()
        token, app = oauth.exchange(namespace.state(PROVIDER), body, now)
        namespace.tokens.issued(token, [f"{PROVIDER}:app:{app.id}"])  # revocable with its app
        store.reindex(namespace.name)
    return json_response({"access_token": token, "token_type": oauth.TOKEN_TYPE})


@_route("DELETE", "/oauth/authorization")
def revoke_access() -> Response:
    """200 `{}` [C]: the calling marketplace integration is removed from its app, webhooks and all."""
    namespace = current_namespace()
    store = runtime().store
    header = request.headers.get("Authorization")
    with store.lock:
        state = namespace.state(PROVIDER)
        now = namespace.clock.now()
        principal = authenticate(state, header, now, namespace.tokens)
        authorize(principal, (INTEGRATION,), state, None)
        oauth.revoke(Call(state, state.apps.get(principal.app_id or ""), principal, now, request_url))
        store.reindex(namespace.name)
    return json_response({})


@blueprint.get("/sc/attachments/v2/<attachment_id>/<file_name>")
def media(attachment_id: str, file_name: str) -> Response:
    """An uploaded file, as its `mediaUrl` serves it ([C] `access=public`: no credentials)."""
    namespace = current_namespace()
    with runtime().store.lock:
        state = namespace.state(PROVIDER)
        found = next(
            (app.attachments[attachment_id] for app in state.apps.values() if attachment_id in app.attachments), None
        )
    if found is None or found.fileName != file_name:
        raise SunshineError(404, "not_found", "Attachment not found", "attachment_gone")  # [I] the CDN's answer
    return Response(base64.b64decode(found.data), mimetype=found.mediaType)
