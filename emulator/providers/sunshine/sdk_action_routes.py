"""The SDK routes besides users and messages (reference 4): activity, postback, referral, file upload,
auth-code login, v1 upgrade, an install's push token, the iOS SDK's default-conversation start and
conversation subscribe; and the SDK integration's config.
Registered on the Sunshine blueprint through `sdk_api` (v1 envelope for every refusal)."""

from __future__ import annotations

import json

from flask import Response, request

from ...web import current_namespace, json_response, runtime
from . import sdk
from . import sdk_actions as actions
from . import sdk_forms as forms
from .errors import SunshineError, as_v1, bad_request
from .http import blueprint, json_body
from .models import PROVIDER
from .sdk_routes import SDK_PREFIXES, A, sdk_api


@sdk_api("POST", A + "/conversations/<conversation_id>/activity")
def activity(call: sdk.SdkCall, conversation_id: str) -> dict:
    actions.activity(call, conversation_id, json_body(actions.SdkActivityBody))
    return {}  # [I]


@sdk_api("POST", A + "/conversations/<conversation_id>/postback")
def postback(call: sdk.SdkCall, conversation_id: str) -> dict:
    actions.postback(call, conversation_id, json_body(actions.SdkPostbackBody))
    return {}  # [I]


@sdk_api("POST", A + "/conversations/<conversation_id>/referral")
def referral(call: sdk.SdkCall, conversation_id: str) -> dict:
    actions.referral(call, conversation_id, json_body(actions.SdkReferralBody))
    return {}  # [I]


@sdk_api("POST", A + "/appusers/<app_user_id>/conversation")
def start_default_conversation(call: sdk.SdkCall, app_user_id: str) -> tuple[dict, int]:
    """[I] 201 `{"conversation"}` when started now (as `POST …/conversations`), 200 with the existing default."""
    json_body(sdk.SdkConversationBody, empty={})  # [C] iOS sends {client, intent}: checked, not used
    conversation, started = actions.start_default_conversation(call, app_user_id)
    return {"conversation": forms.conversation_form(call.app, conversation)}, 201 if started else 200


@sdk_api("POST", A + "/conversations/<conversation_id>/subscribe")
def subscribe(call: sdk.SdkCall, conversation_id: str) -> dict:
    """[I] 200 `{"conversation", "messages", "hasPrevious"}`: what the SDK reads after subscribing (the
    conversation and its latest messages, as `GET …/messages`)."""
    json_body(actions.SubscribeBody, empty={})
    conversation = actions.subscribe(call, conversation_id)
    found, more = sdk.messages_before(conversation, None)
    return {
        "conversation": forms.conversation_form(call.app, conversation),
        "messages": [forms.message_form(m) for m in found],
        "hasPrevious": more,
    }


@sdk_api("POST", A + "/conversations/<conversation_id>/files", status=201, multipart=True)
def upload_file(call: sdk.SdkCall, conversation_id: str) -> dict:
    """[I] 201 `{"message", "conversation"}`, as a posted message."""
    source = request.files.get("source")
    if source is None:
        raise bad_request("source is required (a multipart/form-data file)", "sdk_file_source")
    try:
        fields = json.loads(request.form.get("message") or "{}")
    except ValueError:
        raise bad_request("message should be a JSON object", "sdk_file_message") from None
    if not isinstance(fields, dict):
        raise bad_request("message should be a JSON object", "sdk_file_message")
    message = actions.upload(
        call, request.host_url, conversation_id, source.read(), source.filename or "", source.mimetype, fields
    )
    conversation = call.own_conversation(conversation_id)
    return {"message": forms.message_form(message), "conversation": forms.conversation_form(call.app, conversation)}


@sdk_api("POST", A + "/appusers/authcode", auth="none")
def redeem_auth_code(call: sdk.SdkCall) -> dict:
    """[I] 200 with the AppUserResponse and the session token of the code's user."""
    user, token = actions.redeem_auth_code(call, json_body(actions.AuthCodeBody))
    return forms.app_user_response(call.app, user, token)


@sdk_api("POST", A + "/appusers/upgrade", auth="none", legacy=True)
def upgrade(call: sdk.SdkCall) -> dict:
    user, token = actions.upgrade(call, json_body(actions.UpgradeBody))
    return forms.app_user_response(call.app, user, token)


@sdk_api("PUT", A + "/appusers/<app_user_id>/clients/<client_id>")
def update_install(call: sdk.SdkCall, app_user_id: str, client_id: str) -> dict:
    device = actions.update_install(call, app_user_id, client_id, json_body(actions.PushBody))
    sdk_client = call.own_user(app_user_id).sdk_client()
    assert sdk_client is not None
    return {"client": forms.client_form(sdk_client, device)}


def integration_config(integration_id: str) -> Response:
    """`GET sdk/v2/integrations/{integrationId}/config`: no credentials; [I] the app comes from the SDK's
    `x-smooch-appid` header (the integration id alone names no app in the emulator)."""
    namespace = current_namespace()
    with runtime().store.lock:
        state = namespace.state(PROVIDER)
        try:
            app = sdk.find_app(state, request.headers.get("x-smooch-appid") or "")
            answer = actions.config(app, actions.sdk_integration(app, integration_id), request.host_url)
        except SunshineError as error:
            raise as_v1(error) from None
    return json_response(answer)


for _prefix in SDK_PREFIXES:
    blueprint.add_url_rule(
        f"{_prefix}/integrations/<integration_id>/config",
        f"sdk GET {_prefix}/integrations/config",
        integration_config,
        methods=["GET"],
    )
