"""How the emulator mounts Sunshine Conversations: its routes, its tenants, its seed, its hosts and its banner."""

from ...core.store import StateType
from ...web.spec import Host, ProviderSpec
from . import hook_routes, oauth_routes, routes, sdk_action_routes, sdk_routes, v1
from .auth import selector_subjects
from .banner import BANNER
from .errors import V1_PREFIXES, http_error
from .http import BODY_LIMIT, PREFIXES, blueprint, tenants_of_request
from .models import PROVIDER, SunshineSeed, SunshineState
from .seed_export import SEED_EXPORTER
from .views import conversation_views

# every module that registers routes on the blueprint (importing it registers them)
ROUTE_MODULES = (routes, sdk_routes, sdk_action_routes, v1, oauth_routes, hook_routes)

UPLOAD_LIMIT = 50 * 1024 * 1024  # [C] file uploads: 50 MB

SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    route_modules=ROUTE_MODULES,
    tenants_of_request=tenants_of_request,
    tenant_variables=("app_id", "attachment_id"),  # else the credentials, an OAuth token or client id name it
    path_prefixes=tuple(f"{prefix}/" for prefix in PREFIXES)
    + V1_PREFIXES
    + ("/oauth/", "/sc/oauth/", "/sc/attachments/", "/__emulator/sunshine/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, SunshineState, SunshineState.restore),
    seed_model=SunshineSeed,
    seed_exporter=SEED_EXPORTER,
    hosts=(
        Host(r"api(?:\.[a-z0-9\-]+)?\.smooch\.io", "api[.*].smooch.io"),  # api.smooch.io, api.eu-1.smooch.io
        Host(r"(?:[a-z0-9\-]+\.)+zendesk\.com", "*.zendesk.com/sc", path="/sc"),
    ),
    banner=BANNER,
    credential_headers=("Authorization",),
    tenant_key="app",
    selector_keys=frozenset({"app", "key"}),
    token_subjects=selector_subjects,
    conversations=conversation_views,
    raw_segments=True,
    max_body_bytes=BODY_LIMIT,  # [C] 100 kB of JSON
    upload_limits=(("/attachments", UPLOAD_LIMIT), ("/files", UPLOAD_LIMIT)),  # v2 UploadAttachment, the SDK's upload
)
