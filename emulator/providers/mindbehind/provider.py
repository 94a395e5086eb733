"""How the emulator mounts Mindbehind: its routes, its tenants, its seed and its hosts."""

from ...core.store import StateType
from ...web.spec import Banner, Host, ProviderSpec
from . import routes
from .errors import http_error
from .http import HOOKS, blueprint, tenants_of_request
from .models import MindbehindSeed, MindbehindState
from .seed_export import SEED_EXPORTER
from .webchat import PROVIDER

ROUTE_MODULES = (routes,)  # every module that registers operations on the blueprint, imported for that


def _no_tokens_to_select(selector: object) -> list[str]:
    """Mindbehind's client tokens are opaque and live in the state: the token lifecycle calls do not apply."""
    raise ValueError("Mindbehind client tokens are not JWTs: expire them with the clock or the channel's token_age")


SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    route_modules=ROUTE_MODULES,
    tenants_of_request=tenants_of_request,
    tenant_variables=("channel_id",),  # most requests name their tenant in the query, the body or the apiToken header
    path_prefixes=("/external/", "/live-core/", HOOKS + "/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, MindbehindState, MindbehindState.restore),
    seed_model=MindbehindSeed,
    seed_exporter=SEED_EXPORTER,
    hosts=(Host(r"app\.mindbehind\.com", "app.mindbehind.com"),),
    banner=Banner(),  # `serve` prints nothing of the seeded companies
    credential_headers=("apiToken",),
    tenant_key="channel",
    selector_keys=frozenset({"channel"}),
    token_subjects=_no_tokens_to_select,
)
