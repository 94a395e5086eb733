"""How the app mounts Mindbehind."""

from ...core.store import StateType
from ...web import ProviderSpec
from . import routes
from .errors import http_error
from .http import HOOKS, blueprint, tenants_of_request
from .models import MindbehindState
from .webchat import PROVIDER

ROUTE_MODULES = (routes,)  # every module that registers operations on the blueprint, imported for that


def _no_tokens_to_select(selector: object) -> list[str]:
    """Mindbehind's client tokens are opaque and live in the state: the token lifecycle calls do not apply."""
    raise ValueError("Mindbehind client tokens are not JWTs: expire them with the clock or the channel's token_age")


SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenants_of_request=tenants_of_request,
    path_prefixes=("/external/", "/live-core/", HOOKS + "/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, MindbehindState, MindbehindState.restore),
    tenant_key="channel",
    selector_keys=frozenset({"channel"}),
    token_subjects=_no_tokens_to_select,
)
