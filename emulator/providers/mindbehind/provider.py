"""How the app mounts Mindbehind."""

from ...core.store import StateType
from ...web import ProviderSpec
from .errors import http_error
from .models import MindbehindState
from .routes import HOOKS, PROVIDER, blueprint, tenants_of_request


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
