"""LivePerson HTTP surface: Domain API (CSDS), connector configuration and the IDP. Parse, call, serialise."""

from __future__ import annotations

import json
import re

from flask import Response, request

from ...web import current_namespace, json_response, public_host, runtime
from . import brand_auth, notifications, stepup
from .brand_idp import DEFAULT_REDIRECT_URI
from .errors import LivePersonError
from .http import PROVIDER, find_account, json_object_body, operation
from .identity import ConsumerIdentity
from .login import LOGIN_VERSIONS, SESSION_COOKIE, LoginService, cookie_pairs, login_body, session_cookie_values
from .models import Connector

# [C] service names from the reference (section 1); every one points back at the emulator
SERVICES = (
    "agentVep",
    "idp",
    "sentinel",
    "asyncMessagingEnt",
    "facadeMsg",
    "messagingRestApiDomain",
    "accountConfigReadOnly",
    "accountConfigReadWrite",
    "msgHist",
    "engHistDomain",
    "leDataReporting",
    "smt",
    "liveEngageUI",
    "visitorFeed",
    "etool",
    "swift",
    "asyncMessaging",
)
UNAUTH_JS_METHOD = "lpTag.taglets.unAuthMessaging.lpUnauthFunction"  # [C]
AUTH_JS_METHOD = "lpGetAuthenticationToken"  # [C] the default jsMethodName of authenticated connectors
_JSONP_CALLBACK = re.compile(r"[A-Za-z_$][A-Za-z0-9_$.]{0,63}")


# --- Domain API (CSDS) -------------------------------------------------------------------------


def _service_entry(account_id: str, service: str, host: str | None = None) -> dict:
    return {"service": service, "account": account_id, "baseURI": host or public_host()}


def _all_service_entries(account_id: str) -> list[dict]:
    host = public_host()
    return [_service_entry(account_id, service, host) for service in SERVICES]


@operation("GET", "/api/account/<account_id>/service/baseURI.json")
@operation("GET", "/api/account/<account_id>/service/baseURI")
def all_services(account_id: str) -> Response:
    find_account(account_id)
    return json_response({"baseURIs": _all_service_entries(account_id)})


@operation("GET", "/api/account/<account_id>/service/<service>/baseURI.json")
@operation("GET", "/api/account/<account_id>/service/<service>/baseURI")
@operation("GET", "/csdr/account/<account_id>/service/<service>/baseURI.json")
def one_service(account_id: str, service: str) -> Response:
    return json_response(_known_service(account_id, service))


@operation("GET", "/csdr/account/<account_id>/service/<service>/baseURI.lpCsds")
def one_service_jsonp(account_id: str, service: str) -> Response:
    """The windowKit JSONP form: `callback({"ResultSet":{"lpData":[{"lpServer":host}]}});`."""
    callback = request.args.get("cb", "")
    if not _JSONP_CALLBACK.fullmatch(callback):
        raise LivePersonError(400, "cb must name a JavaScript callback", "bad_callback")
    entry = _known_service(account_id, service)
    payload = json.dumps({"ResultSet": {"lpData": [{"lpServer": entry["baseURI"]}]}})
    return Response(f"{callback}({payload});", mimetype="application/javascript")


def _known_service(account_id: str, service: str) -> dict:
    find_account(account_id)
    if service not in SERVICES:
        # [?] not public: 404 with the error envelope chosen
        raise LivePersonError(404, f"service {service} not found", "unknown_service")
    return _service_entry(account_id, service)


# --- connector configuration --------------------------------------------------------------------


def _connector_json(connector: Connector) -> dict:
    """[I] the shape of reference section 8; `type` 1 for both kinds is a guess. A `brand` connector shows
    its seeded brand's issuer and endpoints on this emulator; a client secret is never shown. [I]"""
    unauthenticated = connector.type == "unauthenticated"
    validation = None if unauthenticated else ("PUBLIC_JWT_KEY" if connector.jwt_public_key else "JWKS")
    brand_url = f"{request.scheme}://{public_host()}/brand/{connector.brand}" if connector.brand else None
    brand = current_namespace().state(PROVIDER).brands.get(connector.brand) if connector.brand else None
    return {
        "id": int(connector.id),
        "type": 1,
        "name": connector.name or ("Unauthenticated messaging" if unauthenticated else "Authenticated messaging"),
        "configuration": {
            "preferred": False,
            "jwtValidationType": validation,
            "issuerDisplayName": connector.name,
            "authorizationEndpoint": brand_url and f"{brand_url}/authorize",
            "issuer": connector.issuer or (brand.issuer if brand else None),
            "jwtPublicKey": connector.jwt_public_key,
            "jsMethodName": UNAUTH_JS_METHOD if unauthenticated else AUTH_JS_METHOD,
            "jsContext": "window",
            "tokenEndpoint": connector.token_endpoint or (brand_url and f"{brand_url}/token"),
            "clientId": connector.client_id,
            "clientSecret": None,
            "jwksEndpoint": connector.jwks_url or (brand_url and f"{brand_url}/.well-known/jwks.json"),
        },
    }


@operation("GET", "/api/account/<account_id>/configuration/le-connectors/all-connectors")
def all_connectors(account_id: str) -> Response:
    return json_response([_connector_json(c) for c in find_account(account_id).connectors])


# --- IDP ------------------------------------------------------------------------------------------


@operation("POST", "/api/account/<account_id>/anonymous/authorize")
def anonymous_authorize(account_id: str) -> Response:
    body = json_object_body()
    identity = ConsumerIdentity(current_namespace(), find_account(account_id))  # it locks only to change state
    if body.get("id_token") is None:  # [I] an explicit null asks for a new token, like no body
        token = identity.issue_external_token()
    else:
        token = identity.refresh_external_token(body["id_token"])
    return json_response({"token": token})


@operation("POST", "/api/account/<account_id>/app/<connector_id>/authenticate")
def authenticate(account_id: str, connector_id: str) -> Response:
    """An unauthenticated connector: `{"id_token": <external JWT>}`; an authenticated one: `{"id_token": <brand
    JWT>}` or `{"code", "redirect_uri"}`, with `Authorization: jwt <unauth LP JWT>` for step-up."""
    if request.args.get("v") != "3.0":
        # [?] other versions (the mobile SDKs' v=2.0) have no public body: refused as a bad request
        raise LivePersonError(400, "unsupported version: use v=3.0", "unsupported_version")
    body = json_object_body()
    identity = ConsumerIdentity(current_namespace(), find_account(account_id))  # it locks only to change state
    connector = identity.connector(connector_id)
    if connector.type == "unauthenticated":
        if "id_token" not in body:
            raise LivePersonError(400, "id_token is required", "missing_id_token")  # [?] not public
        return json_response({"token": identity.exchange(connector_id, body["id_token"])})
    credential = _brand_credential(body.get("id_token"), body.get("code"), body.get("redirect_uri"))
    return json_response({"token": _sign_in_with_brand(account_id, connector, credential)})


@operation("POST", "/api/account/<account_id>/authenticate")
def legacy_authenticate(account_id: str) -> Response:
    """[C] the older `{"authCode": <brand JWT or code>}` -> `{"jwt"}`, on the account's authenticated connector."""
    body = json_object_body()
    with runtime().store.lock:
        connector = ConsumerIdentity(current_namespace(), find_account(account_id)).legacy_connector()
    auth_code = body.get("authCode")
    if not isinstance(auth_code, str) or not auth_code:
        raise LivePersonError(400, "authCode is required", "missing_auth_code")  # [I]
    looks_like_jwt = auth_code.count(".") in (2, 4)  # [I] a JWS (3 segments) or a JWE (5): implicit; else a code
    credential = _brand_credential(
        auth_code if looks_like_jwt else None, None if looks_like_jwt else auth_code, body.get("redirect_uri")
    )
    return json_response({"jwt": _sign_in_with_brand(account_id, connector, credential)})


def _brand_credential(id_token: object, code: object, redirect_uri: object) -> brand_auth.Credential:
    """A brand JWT wins over a code when both are sent. [I]"""
    if redirect_uri is not None and not isinstance(redirect_uri, str):
        raise LivePersonError(400, "redirect_uri must be a string", "bad_redirect_uri")  # [I]
    if id_token is not None:
        return brand_auth.Credential(id_token=id_token)
    if code is None:
        raise LivePersonError(400, "id_token or code is required", "missing_id_token")  # [?] not public
    if not isinstance(code, str) or not code:
        raise LivePersonError(400, "code must be a non-empty string", "bad_code")  # [I]
    return brand_auth.Credential(code=code, redirect_uri=redirect_uri or DEFAULT_REDIRECT_URI)


def _sign_in_with_brand(account_id: str, connector: Connector, credential: brand_auth.Credential) -> str:
    """Plan under the lock; call the brand and verify outside it; sign in under it; sign the LP JWT after it."""
    unauth_jwt = stepup.presented_unauth_jwt(request.headers)
    with runtime().store.lock:
        namespace = current_namespace()
        account = find_account(account_id)
        plan = brand_auth.plan(namespace, account, connector)
    fetched = brand_auth.fetch(namespace, account, plan, credential, unauth_jwt)
    with runtime().store.lock:  # the state may have changed meanwhile: read it again
        namespace = current_namespace()
        account = find_account(account_id)
        consumer_id, ext, changes = brand_auth.complete(namespace, account, plan, credential, fetched)
    token = ConsumerIdentity(namespace, account).authenticated_jwt(consumer_id, ext)
    notifications.dispatch(changes)
    return token


@operation("POST", "/api/account/<account_id>/signup")
def signup(account_id: str) -> Response:
    token = ConsumerIdentity(current_namespace(), find_account(account_id)).signup()  # it locks only to change state
    return json_response({"jwt": token})


# --- Login Service (agentVep) ---------------------------------------------------------------------


@operation("POST", "/api/account/<account_id>/login")
def agent_login(account_id: str) -> Response:
    """A user or bot logs in: the session's bearer, csrf and config, and a `session_id` cookie."""
    if request.args.get("v") not in LOGIN_VERSIONS:
        raise LivePersonError(400, "unsupported version: use v=1.3", "unsupported_version")  # [C] v is required
    body = json_object_body()
    with runtime().store.lock:
        namespace = current_namespace()
        account = find_account(account_id)
        session, user = LoginService(namespace, account).login(body)
        base_uris = _all_service_entries(account_id)
        answer = json_response(login_body(account, session, user, base_uris, namespace.clock.now()))
    # [I] the cookie name and attributes are not public; Secure only over TLS, so plain-http clients replay it
    answer.set_cookie(SESSION_COOKIE, session.session_id, path="/", httponly=True, secure=request.is_secure)
    return answer


@operation("POST", "/api/account/<account_id>/refresh")
def agent_refresh(account_id: str) -> Response:
    """The session cookie and `{"csrf"}`: 200 with an empty body, the session's idle lifetime restarted."""
    return _session_call(account_id, LoginService.refresh)


@operation("POST", "/api/account/<account_id>/logout")
def agent_logout(account_id: str) -> Response:
    """The session cookie and `{"csrf"}`: 200 with an empty body, the session ended."""
    return _session_call(account_id, LoginService.logout)


def _session_call(account_id: str, action) -> Response:
    body = json_object_body()  # [I] any `v`, or none: the doc sends none, clients send 1.2 or 1.3
    cookies = session_cookie_values(cookie_pairs(request.cookies))
    with runtime().store.lock:
        action(LoginService(current_namespace(), find_account(account_id)), cookies, body)
    return Response(b"", status=200, mimetype="text/plain")  # [C] an empty body
