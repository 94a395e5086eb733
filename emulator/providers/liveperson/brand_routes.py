"""The emulator as a brand's authorization server (code endpoint, token endpoint, JWKS) for LivePerson
authenticated connectors, under `/brand/{brandId}/` (the brand id finds the namespace that seeded it)."""

from __future__ import annotations

from flask import Response, request

from ...web import current_namespace, json_response, runtime
from .brand_idp import UNAUTHORIZED_CLIENT, BrandError, BrandServer, basic_credentials, jwks, parse_token_form
from .http import find_brand, operation

PREFIX = "/brand/"


def _fields() -> dict:
    """A form, or a JSON object body [I]."""
    return parse_token_form(request.mimetype, request.get_data(cache=True), request.form.to_dict())


@operation("POST", "/brand/<brand_id>/authorize")
def brand_authorize(brand_id: str) -> Response:
    """A user's login: `sub`, `password`, `client_id`, `redirect_uri` -> `{"code", "redirect_uri"}`. [I]"""
    fields = _fields()
    with runtime().store.lock:
        answer = BrandServer(current_namespace(), find_brand(brand_id)).authorize(fields)
    return json_response(answer)


@operation("POST", "/brand/<brand_id>/token")
def brand_token(brand_id: str) -> Response:
    """[C] form `code`, `grant_type=authorization_code`, `redirect_uri`, Basic client auth -> tokens."""
    fields = _fields()
    client = basic_credentials(request.headers.get("Authorization"))
    if client is None:
        raise BrandError(UNAUTHORIZED_CLIENT, "missing_client_authentication")
    with runtime().store.lock:
        server = BrandServer(current_namespace(), find_brand(brand_id))
        answer = server.exchange(fields.get("grant_type"), fields.get("code"), fields.get("redirect_uri"), *client)
    return json_response(answer)


@operation("GET", "/brand/<brand_id>/.well-known/jwks.json")
def brand_jwks(brand_id: str) -> Response:
    with runtime().store.lock:
        keys = jwks(find_brand(brand_id))
    return json_response(keys)
