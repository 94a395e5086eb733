"""LivePerson HTTP surface of the Connector API's credentials: Sentinel's AppJWT and the IDP's ConsumerJWS.
Parse, call, serialise; the rules live in sentinel.py."""

from __future__ import annotations

from flask import Response, request

from ...web import current_namespace, json_response, runtime
from .http import find_account, json_object_body, operation, raw_authorization
from .sentinel import API_VERSION, AppCredentials, SentinelError


def _credential(name: str) -> str | None:
    """A client credential from the form body, else from the query string ([CC] clients send either)."""
    return request.form.get(name) or request.args.get(name) or None


@operation("POST", "/sentinel/api/account/<account_id>/app/token")
def app_token(account_id: str) -> Response:
    """`?v=1.0&grant_type=client_credentials`, form `client_id`/`client_secret` -> the AppJWT."""
    with runtime().store.lock:
        account = find_account(account_id)
        if request.args.get("v") != API_VERSION:
            # [I] the only published version is 1.0; others are refused as a bad request
            raise SentinelError(400, f"unsupported version: use v={API_VERSION}", "unsupported_version")
        grant_type = request.args.get("grant_type") or request.form.get("grant_type")
        token, ttl = AppCredentials(current_namespace(), account).issue_app_jwt(
            grant_type, _credential("client_id"), _credential("client_secret")
        )
    # [C] access_token and token_type; [I] expires_in, which some clients read
    return json_response({"access_token": token, "token_type": "Bearer", "expires_in": ttl})


@operation("POST", "/api/account/<account_id>/consumer")
def consumer_jws(account_id: str) -> Response:
    """`Authorization: <AppJWT>` (raw), body `{"ext_consumer_id"}`, with `?v=1.0` or without -> 201 `{"token"}`."""
    with runtime().store.lock:
        account = find_account(account_id)
        if "v" in request.args and request.args.get("v") != API_VERSION:
            raise SentinelError(400, f"unsupported version: use v={API_VERSION} or none", "unsupported_version")
        identity = AppCredentials(current_namespace(), account)
        identity.authorize_app(raw_authorization())  # the AppJWT before the body
        token = identity.issue_consumer_jws(json_object_body().get("ext_consumer_id"))
    return json_response({"token": token}, 201)
