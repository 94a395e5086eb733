"""How the app mounts Sunshine Conversations."""

from ...core.store import StateType
from ...web import ProviderSpec
from . import (
    hook_routes,  # noqa: F401  (the emulator-only hooks register on the blueprint)
    oauth_routes,  # noqa: F401  (OAuth and attachment media routes register on the blueprint)
    sdk_action_routes,  # noqa: F401  (the SDK's activity, postback, referral, files, ... routes)
    sdk_routes,  # noqa: F401  (registers the SDK API on the blueprint)
    v1,  # noqa: F401  (the v1.1 routes register on the blueprint)
)
from .auth import selector_subjects
from .errors import V1_PREFIXES, http_error
from .models import PROVIDER, SunshineState
from .routes import BODY_LIMIT, PREFIXES, blueprint, tenants_of_request
from .views import conversation_views

UPLOAD_LIMIT = 50 * 1024 * 1024  # [C] file uploads: 50 MB

SPEC = ProviderSpec(
    name=PROVIDER,
    blueprint=blueprint,
    tenants_of_request=tenants_of_request,
    path_prefixes=tuple(f"{prefix}/" for prefix in PREFIXES) + V1_PREFIXES + ("/oauth/", "/sc/oauth/", "/sc/attachments/", "/__emulator/sunshine/"),
    http_error=http_error,
    state_type=StateType(PROVIDER, SunshineState, SunshineState.restore),
    tenant_key="app",
    selector_keys=frozenset({"app", "key"}),
    token_subjects=selector_subjects,
    conversations=conversation_views,
    raw_segments=True,
    max_body_bytes=BODY_LIMIT,  # [C] 100 kB of JSON
    upload_limits=(("/attachments", UPLOAD_LIMIT), ("/files", UPLOAD_LIMIT)),  # v2 UploadAttachment, the SDK's upload
)
