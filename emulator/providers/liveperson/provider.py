"""How the emulator mounts LivePerson: its routes, its tenants, its seed, its hosts and its banner."""

from flask import Response, request

from ...core.store import StateType
from ...web.spec import Host, ProviderSpec
from . import (
    agent_ws,
    app_installations,
    brand_routes,
    connector_api,
    consumer_ws,
    files,
    history,
    routes,
    sentinel_routes,
    webhooks,
)
from .banner import BANNER
from .errors import http_error
from .http import ACCOUNT_ARG, BRAND_ARG, PROVIDER, blueprint, tenants_of_request
from .identity import KEY_SLOTS, SELECTOR_KEYS, selector_subjects
from .models import LivePersonSeed, LivePersonState
from .seed_export import SEED_EXPORTER
from .views import conversation_views

# every module that registers operations on the blueprint (http.py's `operation`), imported for that; and the
# webhooks, which listen to every account's changes
ROUTE_MODULES = (
    routes,
    sentinel_routes,
    brand_routes,
    connector_api,
    app_installations,
    files,
    history,
    agent_ws,
    consumer_ws,
)
LISTENERS = (webhooks,)


def _http_error(status: int, message: str) -> Response:
    """Routing, size and injected errors, in the envelope of the API the path belongs to."""
    if connector_api.is_connector_path(request.path):
        return connector_api.routing_error(status, message)
    return http_error(status, message)


SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    route_modules=ROUTE_MODULES,
    tenants_of_request=tenants_of_request,
    tenant_variables=(ACCOUNT_ARG, BRAND_ARG),
    path_prefixes=(
        "/api/account/",
        "/csdr/",
        "/sentinel/",
        "/ws_api/",
        brand_routes.PREFIX,
        files.STORAGE_PREFIX,
        history.PREFIX,
    ),
    http_error=_http_error,
    state_type=StateType(PROVIDER, LivePersonState, LivePersonState.restore, KEY_SLOTS),
    seed_model=LivePersonSeed,
    seed_exporter=SEED_EXPORTER,
    hosts=(
        Host(r"(?:[a-z0-9\-]+\.)*liveperson\.net", "*.liveperson.net"),  # and the apex
        Host(r"accdn\.lpsnmedia\.net", "accdn.lpsnmedia.net"),
    ),
    banner=BANNER,
    credential_headers=("Authorization", "Cookie"),  # bearers and the Login Service's session cookie
    tenant_key="account",
    selector_keys=SELECTOR_KEYS,
    token_subjects=selector_subjects,
    conversations=conversation_views,
)
