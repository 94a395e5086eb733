"""The emulator as a brand's authorization server (code endpoint, token endpoint, JWKS) for LivePerson
authenticated connectors, under `/brand/{brandId}/` (the brand id finds the namespace that seeded it)."""

from __future__ import annotations

from flask import Response, request

from ...web import current_namespace, json_response, runtime
from .brand_idp import UNAUTHORIZED_CLIENT, BrandError, BrandServer, basic_credentials, jwks, parse_token_form
from .models import Brand, LivePersonState
from .routes import PROVIDER, blueprint

PREFIX = "/brand/"


@blueprint.errorhandler(BrandError)
def _answer_brand_error(error: BrandError) -> Response:
    return error.response()


def _brand(brand_id: str) -> Brand:
    state: LivePersonState = current_namespace().state(PROVIDER)
    brand = state.brands.get(brand_id)
    if brand is None:
        raise BrandError("not_found", "unknown_brand", status=404)  # [I]
    return brand


def _fields() -> dict:
    """A form, or a JSON object body [I]."""
    return parse_token_form(request.mimetype, request.get_data(cache=True), request.form.to_dict())


@blueprint.post("/brand/<brand_id>/authorize")
def brand_authorize(brand_id: str) -> Response:
    """A user's login: `sub`, `password`, `client_id`, `redirect_uri` -> `{"code", "redirect_uri"}`. [I]"""
    fields = _fields()
    with runtime().store.lock:
        answer = BrandServer(current_namespace(), _brand(brand_id)).authorize(fields)
    return json_response(answer)


@blueprint.post("/brand/<brand_id>/token")
def brand_token(brand_id: str) -> Response:
    """[C] form `code`, `grant_type=authorization_code`, `redirect_uri`, Basic client auth -> tokens."""
    fields = _fields()
    client = basic_credentials(request.headers.get("Authorization"))
    if client is None:
        raise BrandError(UNAUTHORIZED_CLIENT, "missing_client_authentication")
    with runtime().store.lock:
        server = BrandServer(current_namespace(), _brand(brand_id))
        answer = server.exchange(fields.get("grant_type"), fields.get("code"), fields.get("redirect_uri"), *client)
    return json_response(answer)


@blueprint.get("/brand/<brand_id>/.well-known/jwks.json")
def brand_jwks(brand_id: str) -> Response:
    with runtime().store.lock:
        keys = jwks(_brand(brand_id))
    return json_response(keys)

