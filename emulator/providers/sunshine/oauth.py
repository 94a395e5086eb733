"""OAuth for marketplace (partner) integrations (spec tag OAuth Endpoints): `GET /oauth/authorize` redirects
with a code, `POST /oauth/token` exchanges it for an `integration`-scoped access token, `GET /v2/tokenInfo`
names the token's app, `DELETE /oauth/authorization` revokes the integration.

The emulated marketplace clients are declared in the seed (`sunshine.oauth_clients`, each naming the app
its emulated Zendesk admin grants: there is no browser session to pick one). [I] An access token is opaque
and does not expire; it is kept as its sha256 and stands for one custom integration of the app, created on
the first exchange and reused by later ones.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import StrictStr

from ...core.keys import same_secret
from .auth import token_digest as digest
from .bodies import Body
from .call import Call
from .errors import SunshineError, bad_request, forbidden, invalid_auth
from .models import App, Integration, OAuthClient, SunshineState

CODE_TTL = 600.0  # [I] seconds an authorization code stays valid (single use)
TOKEN_TYPE = "Bearer"  # [C]


class TokenBody(Body):
    """[C] all four required; [I] any other grant is refused."""

    code: StrictStr
    grant_type: StrictStr
    client_id: StrictStr
    client_secret: StrictStr


def _client(state: SunshineState, client_id: str | None) -> OAuthClient:
    found = next((c for c in state.oauth_clients if c.id == client_id), None)
    if found is None:
        raise bad_request("Invalid client_id", "oauth_unknown_client")  # [I]
    return found


def authorize(state: SunshineState, args: Any, now: float) -> str:
    """The redirect URL of an approved authorization: `redirect_uri` (else the client's first) with `code`
    and the caller's `state` [C]. [I] the admin always clicks Allow."""
    client = _client(state, args.get("client_id"))
    if args.get("response_type") != "code":
        raise bad_request("response_type must be code", "oauth_response_type")  # [C] only `code`; [I] title
    redirect_uri = args.get("redirect_uri") or client.redirectUris[0]
    if redirect_uri not in client.redirectUris:
        raise bad_request(
            "redirect_uri is not configured for this integration", "oauth_redirect_uri"
        )  # [C] must be listed
    if client.appId not in state.apps:
        raise bad_request("The integration's app does not exist", "oauth_no_app")  # [I]
    code = secrets.token_urlsafe(24)
    state.oauth_codes[digest(code)] = {"clientId": client.id, "appId": client.appId, "expires": now + CODE_TTL}
    query = {"code": code, **({"state": args["state"]} if args.get("state") is not None else {})}
    parts = urlsplit(redirect_uri)
    joined = "&".join(part for part in (parts.query, urlencode(query)) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, joined, parts.fragment))


def exchange(state: SunshineState, body: TokenBody, now: float) -> tuple[str, App]:
    """A code for an access token, spent by its exchange (a refused exchange changes nothing)."""
    client = _client(state, body.client_id)
    if not same_secret(body.client_secret, client.secret):
        raise invalid_auth("Invalid client_secret", "oauth_bad_secret")  # [I]
    if body.grant_type != "authorization_code":
        raise bad_request("grant_type must be authorization_code", "oauth_grant_type")  # [C] the only grant
    grant = state.oauth_codes.get(digest(body.code))
    if grant is None or grant["clientId"] != client.id:
        raise bad_request("Invalid code", "oauth_bad_code")  # [I]
    app = state.apps.get(grant["appId"])
    if grant["expires"] <= now or app is None:
        raise bad_request("Invalid code", "oauth_expired_code")  # [I]
    del state.oauth_codes[digest(body.code)]
    integration = _integration_of(app, client)
    token = secrets.token_urlsafe(32)
    app.oauth_tokens[digest(token)] = integration.id
    return token, app


def _integration_of(app: App, client: OAuthClient) -> Integration:
    """The app's integration for this client: [I] a custom integration named after the client."""
    found = next((app.integration(i) for i, owner in app.oauth_clients.items() if owner == client.id), None)
    if found is None:
        found = Integration(displayName=client.name[:100])
        app.integrations.append(found)
        app.oauth_clients[found.id] = client.id
    return found


def revoke(call: Call) -> None:
    """The calling marketplace integration leaves the app, with its webhooks and every token [C]."""
    principal, app = call.principal, call.app
    if app is None or principal.integration_id not in app.oauth_clients:
        raise forbidden("not_a_marketplace_integration")  # [I] a custom integration is deleted, not revoked
    integration_id = principal.integration_id
    app.integrations = [i for i in app.integrations if i.id != integration_id]
    app.oauth_tokens = {h: i for h, i in app.oauth_tokens.items() if i != integration_id}
    del app.oauth_clients[integration_id]


def token_info(call: Call) -> dict:
    """`{"app": {..., "subdomain"}}` of the app the OAuth token belongs to (the route names no app)."""
    app = call.state.apps.get(call.principal.app_id or "")
    if app is None or call.principal.integration_id not in app.oauth_clients:
        raise SunshineError(401, "unauthorized", "Invalid OAuth token", "not_an_oauth_token")  # [I]
    return {"app": {**app.public(), **({"subdomain": app.subdomain} if app.subdomain else {})}}
