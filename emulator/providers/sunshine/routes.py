"""Sunshine's v2 HTTP surface, served at `/v2/...` and under the `/sc` prefix of Zendesk hosts.

Each route names its scopes and success status; `api` registers it through the kit's `operation`, admitted by
the caller's credentials and the route's scopes (refusals in the v2 envelope).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from flask import request

from ...core.store import Namespace
from . import admin, attachments, channels, control, conversations, merges, messages, oauth, switchboards, users
from .auth import ACCOUNT, APP, INTEGRATION, authenticate, authorize
from .bodies import (
    ActivityBody,
    AppBody,
    AppCreateBody,
    ClientCreateBody,
    ConversationCreateBody,
    ConversationUpdateBody,
    DisplayNameBody,
    IntegrationCreateBody,
    LeaveBody,
    MessagePostBody,
    ParticipantRef,
    UserCreateBody,
    UserUpdateBody,
    WebhookBody,
    WebhookCreateBody,
)
from .call import Call
from .errors import bad_request
from .http import PREFIXES, Admit, json_body, operation, request_url
from .models import SunshineState
from .query import MESSAGE_PAGE_SIZE, Window, paginate, query_object, read_page
from .switchboard_bodies import (
    AcceptControlBody,
    PassControlBody,
    ReleaseControlBody,
    SwitchboardIntegrationCreateBody,
    SwitchboardIntegrationUpdateBody,
    SwitchboardUpdateBody,
    TargetControlBody,
)

EVERYONE = (ACCOUNT, APP, INTEGRATION)  # [C] users, conversations, messages, participants, clients
APP_OR_ACCOUNT = (ACCOUNT, APP)
ACCOUNT_ONLY = (ACCOUNT,)  # [C] apps (create, list, delete) and app keys
WEBHOOK_SCOPES = (ACCOUNT, APP, INTEGRATION)  # [C] app and integration; [I] account too ("all methods")


def admit_v2(scopes: Iterable[str]) -> Admit:
    """Credentials of the v2 API (keys, JWTs, OAuth tokens) allowed one of `scopes` on the path's app."""
    allowed = tuple(scopes)

    def admit(state: SunshineState, namespace: Namespace, now: float, path: dict[str, str]) -> tuple[Call, Call]:
        principal = authenticate(state, request.headers.get("Authorization"), now, namespace.tokens)
        app = authorize(principal, allowed, state, path.pop("app_id", None))
        call = Call(state, app, principal, now, request_url)
        return call, call

    return admit


def api(
    method: str,
    rule: str,
    scopes: Iterable[str] = EVERYONE,
    status: int = 200,
    reindex: bool = False,
    multipart: bool = False,
) -> Callable:
    """A v2 operation at every prefix; it receives the Call and the path's variables."""
    return operation(method, rule, PREFIXES, admit_v2(scopes), status=status, reindex=reindex, multipart=multipart)


def _listing(name: str, window: Window) -> dict:
    return {name: [item.public() for item in window.items], "meta": window.meta, "links": window.links}


# --- apps and keys ----------------------------------------------------------------------------------


@api("POST", "/apps", ACCOUNT_ONLY, status=201, reindex=True)
def create_app(call: Call) -> dict:
    return {"app": admin.create_app(call, json_body(AppCreateBody)).public()}


@api("GET", "/apps", ACCOUNT_ONLY)
def list_apps(call: Call) -> dict:
    return _listing("apps", paginate(admin.apps(call), read_page(request.args), lambda a: a.id, call.url))


@api("GET", "/apps/<app_id>", APP_OR_ACCOUNT)
def get_app(call: Call) -> dict:
    app = call.in_app()
    return {
        "app": {**app.public(), **({"subdomain": app.subdomain} if app.subdomain else {})}
    }  # [C] a string when there is one


@api("PATCH", "/apps/<app_id>", APP_OR_ACCOUNT)
def update_app(call: Call) -> dict:
    return {"app": admin.update_app(call, json_body(AppBody)).public()}


@api("DELETE", "/apps/<app_id>", ACCOUNT_ONLY, reindex=True)
def delete_app(call: Call) -> dict:
    admin.delete_app(call)
    return {}


@api("POST", "/apps/<app_id>/keys", ACCOUNT_ONLY, status=201, reindex=True)
def create_app_key(call: Call) -> dict:
    return {"key": admin.create_key(call, json_body(DisplayNameBody)).public()}


@api("GET", "/apps/<app_id>/keys", ACCOUNT_ONLY)
def list_app_keys(call: Call) -> dict:
    return {"keys": [key.public() for key in call.in_app().keys]}


@api("GET", "/apps/<app_id>/keys/<key_id>", ACCOUNT_ONLY)
def get_app_key(call: Call, key_id: str) -> dict:
    return {"key": admin.app_key(call, key_id).public()}


@api("DELETE", "/apps/<app_id>/keys/<key_id>", ACCOUNT_ONLY, reindex=True)
def delete_app_key(call: Call, key_id: str) -> dict:
    admin.delete_key(call, key_id)
    return {}


# --- integrations and webhooks -------------------------------------------------------------------------


@api("POST", "/apps/<app_id>/integrations", APP_OR_ACCOUNT, status=201)
def create_integration(call: Call) -> dict:
    return {"integration": admin.create_integration(call, json_body(IntegrationCreateBody)).public()}


@api("GET", "/apps/<app_id>/integrations", APP_OR_ACCOUNT)
def list_integrations(call: Call) -> dict:
    window = paginate(call.in_app().integrations, read_page(request.args), lambda i: i.id, call.url)
    return _listing("integrations", window)


@api("GET", "/apps/<app_id>/integrations/<integration_id>", APP_OR_ACCOUNT)
def get_integration(call: Call, integration_id: str) -> dict:
    return {"integration": admin.integration(call, integration_id).public()}


@api("PATCH", "/apps/<app_id>/integrations/<integration_id>", APP_OR_ACCOUNT)
def update_integration(call: Call, integration_id: str) -> dict:
    return {
        "integration": admin.update_integration(call, integration_id, json_body(admin.IntegrationUpdateBody)).public()
    }


@api("DELETE", "/apps/<app_id>/integrations/<integration_id>", APP_OR_ACCOUNT, reindex=True)
def delete_integration(call: Call, integration_id: str) -> dict:
    admin.delete_integration(call, integration_id)
    return {}


@api("POST", "/apps/<app_id>/integrations/<integration_id>/keys", APP_OR_ACCOUNT, status=201, reindex=True)
def create_integration_key(call: Call, integration_id: str) -> dict:
    return {"key": admin.create_integration_key(call, integration_id, json_body(DisplayNameBody)).public()}


@api("GET", "/apps/<app_id>/integrations/<integration_id>/keys", APP_OR_ACCOUNT)
def list_integration_keys(call: Call, integration_id: str) -> dict:
    return {"keys": [key.public() for key in admin.integration(call, integration_id).keys]}


@api("GET", "/apps/<app_id>/integrations/<integration_id>/keys/<key_id>", APP_OR_ACCOUNT)
def get_integration_key(call: Call, integration_id: str, key_id: str) -> dict:
    return {"key": admin.integration_key(call, integration_id, key_id).public()}


@api("DELETE", "/apps/<app_id>/integrations/<integration_id>/keys/<key_id>", APP_OR_ACCOUNT, reindex=True)
def delete_integration_key(call: Call, integration_id: str, key_id: str) -> dict:
    admin.delete_integration_key(call, integration_id, key_id)
    return {}


@api("POST", "/apps/<app_id>/integrations/<integration_id>/webhooks", WEBHOOK_SCOPES, status=201)
def create_webhook(call: Call, integration_id: str) -> dict:
    owner = admin.webhook_owner(call, call.principal, integration_id)
    return {"webhook": admin.create_webhook(call, owner, json_body(WebhookCreateBody)).public()}


@api("GET", "/apps/<app_id>/integrations/<integration_id>/webhooks", WEBHOOK_SCOPES)
def list_webhooks(call: Call, integration_id: str) -> dict:
    return {"webhooks": [w.public() for w in admin.webhook_owner(call, call.principal, integration_id).webhooks]}


@api("GET", "/apps/<app_id>/integrations/<integration_id>/webhooks/<webhook_id>", WEBHOOK_SCOPES)
def get_webhook(call: Call, integration_id: str, webhook_id: str) -> dict:
    return {"webhook": admin.webhook(admin.webhook_owner(call, call.principal, integration_id), webhook_id).public()}


@api("PATCH", "/apps/<app_id>/integrations/<integration_id>/webhooks/<webhook_id>", WEBHOOK_SCOPES)
def update_webhook(call: Call, integration_id: str, webhook_id: str) -> dict:
    owner = admin.webhook_owner(call, call.principal, integration_id)
    return {"webhook": admin.update_webhook(owner, webhook_id, json_body(WebhookBody)).public()}


@api("DELETE", "/apps/<app_id>/integrations/<integration_id>/webhooks/<webhook_id>", WEBHOOK_SCOPES)
def delete_webhook(call: Call, integration_id: str, webhook_id: str) -> dict:
    admin.delete_webhook(admin.webhook_owner(call, call.principal, integration_id), webhook_id)
    return {}


# --- attachments, OAuth token info ----------------------------------------------------------------------


@api("POST", "/apps/<app_id>/attachments", status=201, reindex=True, multipart=True)
def upload_attachment(call: Call) -> dict:
    source = request.files.get("source")
    if source is None:
        raise bad_request(
            "source is required (a multipart/form-data file)", "attachment_source"
        )  # [C] required; [I] title
    args = request.args
    found = attachments.upload(
        call,
        source.read(),
        source.filename or "",
        source.mimetype,
        args.get("access"),
        args.get("for"),
        args.get("conversationId"),
    )
    return {"attachment": attachments.public(request.host_url, found)}


@api("POST", "/apps/<app_id>/attachments/remove", reindex=True)
def remove_attachment(call: Call) -> dict:
    attachments.remove(call, json_body(attachments.AttachmentRemoveBody).mediaUrl)
    return {}


@api("GET", "/tokenInfo", (INTEGRATION,))
def token_info(call: Call) -> dict:
    return oauth.token_info(call)


# --- users, clients, devices ------------------------------------------------------------------------


@api("POST", "/apps/<app_id>/users", status=201)
def create_user(call: Call) -> dict:
    return {"user": users.create(call, json_body(UserCreateBody)).public()}


@api("GET", "/apps/<app_id>/users")
def list_users(call: Call) -> dict:
    email = query_object(request.args, "filter").get("identities.email")
    if not isinstance(email, str) or not email:
        raise bad_request("filter[identities.email] is required", "user_filter")  # [C] required, [I] title
    return {"users": [user.public() for user in users.with_email_identity(call, email)]}


@api("GET", "/apps/<app_id>/users/<user_ref>")
def get_user(call: Call, user_ref: str) -> dict:
    return {"user": users.find(call, user_ref).public()}


@api("PATCH", "/apps/<app_id>/users/<user_ref>")
def update_user(call: Call, user_ref: str) -> dict:
    return {"user": users.update(call, user_ref, json_body(UserUpdateBody)).public()}


@api("DELETE", "/apps/<app_id>/users/<user_ref>")
def delete_user(call: Call, user_ref: str) -> dict:
    users.delete(call, user_ref)
    return {}


@api("DELETE", "/apps/<app_id>/users/<user_ref>/personalinformation")
def delete_personal_information(call: Call, user_ref: str) -> dict:
    return {"user": users.delete_personal_information(call, user_ref).public()}


@api("POST", "/apps/<app_id>/users/<zendesk_id>/sync")
def sync_user(call: Call, zendesk_id: str) -> dict:
    return {
        "user": merges.sync(call, zendesk_id, json_body(merges.SyncUserBody, empty={})).public()
    }  # [C] the body is optional


@api("POST", "/apps/<app_id>/users/<user_ref>/clients", status=201)
def create_client(call: Call, user_ref: str) -> dict:
    return {"client": users.link_client(call, user_ref, json_body(ClientCreateBody)).public()}


@api("GET", "/apps/<app_id>/users/<user_ref>/clients")
def list_clients(call: Call, user_ref: str) -> dict:
    page = read_page(request.args)
    return _listing("clients", paginate(users.find(call, user_ref).clients, page, lambda c: c.id, call.url))


@api("DELETE", "/apps/<app_id>/users/<user_ref>/clients/<client_id>")
def remove_client(call: Call, user_ref: str, client_id: str) -> dict:
    users.remove_client(call, user_ref, client_id)
    return {}


@api("GET", "/apps/<app_id>/users/<user_ref>/devices")
def list_devices(call: Call, user_ref: str) -> dict:
    return {"devices": [device.public() for device in users.devices(call, user_ref)]}


@api("GET", "/apps/<app_id>/users/<user_ref>/devices/<device_id>")
def get_device(call: Call, user_ref: str, device_id: str) -> dict:
    return {"device": users.device(call, user_ref, device_id).public()}


# --- conversations, participants, messages ----------------------------------------------------------


@api("POST", "/apps/<app_id>/conversations", status=201)
def create_conversation(call: Call) -> dict:
    return {"conversation": conversations.create(call, json_body(ConversationCreateBody)).public()}


@api("GET", "/apps/<app_id>/conversations")
def list_conversations(call: Call) -> dict:
    page = read_page(request.args)
    filters = query_object(request.args, "filter")
    user_id, external_id = filters.get("userId"), filters.get("userExternalId")
    if not isinstance(user_id, (str, type(None))) or not isinstance(external_id, (str, type(None))):
        raise bad_request("Invalid filter query parameters", "filter_not_text")
    found = conversations.of_user(call, user_id, external_id)  # exactly one given, or refused
    kept = {
        name: value
        for name, value in (("filter[userId]", user_id), ("filter[userExternalId]", external_id))
        if value is not None
    }
    return _listing("conversations", paginate(found, page, lambda c: c.id, call.url, kept_query=kept))


@api("GET", "/apps/<app_id>/conversations/<conversation_id>")
def get_conversation(call: Call, conversation_id: str) -> dict:
    return {"conversation": conversations.find(call, conversation_id).public()}


@api("PATCH", "/apps/<app_id>/conversations/<conversation_id>")
def update_conversation(call: Call, conversation_id: str) -> dict:
    return {"conversation": conversations.update(call, conversation_id, json_body(ConversationUpdateBody)).public()}


@api("DELETE", "/apps/<app_id>/conversations/<conversation_id>")
def delete_conversation(call: Call, conversation_id: str) -> dict:
    conversations.delete(call, conversation_id)
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/join", status=201)
def join_conversation(call: Call, conversation_id: str) -> dict:
    return {"participant": conversations.join(call, conversation_id, json_body(ParticipantRef)).public()}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/leave")
def leave_conversation(call: Call, conversation_id: str) -> dict:
    conversations.leave(call, conversation_id, json_body(LeaveBody))
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/download")
def download_message_ref(call: Call, conversation_id: str) -> dict:
    return channels.download(call, conversation_id, json_body(channels.DownloadBody))


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/conversionEvents")
def post_conversion_events(call: Call, conversation_id: str) -> dict:
    return channels.conversion_events(call, conversation_id, json_body(channels.ConversionEventsBody))


@api("GET", "/apps/<app_id>/conversations/<conversation_id>/participants")
def list_participants(call: Call, conversation_id: str) -> dict:
    page = read_page(request.args)
    found = conversations.find(call, conversation_id).participants
    return _listing("participants", paginate(found, page, lambda p: p.id, call.url))


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/messages", status=201)
def post_message(call: Call, conversation_id: str) -> dict:
    return {"messages": [messages.post(call, conversation_id, json_body(MessagePostBody)).public()]}


@api("GET", "/apps/<app_id>/conversations/<conversation_id>/messages")
def list_messages(call: Call, conversation_id: str) -> dict:
    page = read_page(request.args)
    found = messages.of_conversation(call, conversation_id)
    window = paginate(found, page, lambda m: m.id, call.url, newest_first_page=True, fixed_size=MESSAGE_PAGE_SIZE)
    return _listing("messages", window)


@api("DELETE", "/apps/<app_id>/conversations/<conversation_id>/messages")
def delete_all_messages(call: Call, conversation_id: str) -> dict:
    messages.delete_all(call, conversation_id)
    return {}


@api("DELETE", "/apps/<app_id>/conversations/<conversation_id>/messages/<message_id>")
def delete_message(call: Call, conversation_id: str, message_id: str) -> dict:
    messages.delete(call, conversation_id, message_id)
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/activity")
def post_activity(call: Call, conversation_id: str) -> dict:
    messages.activity(call, conversation_id, json_body(ActivityBody))
    return {}


# --- switchboards and switchboard actions ---------------------------------------------------------------


@api("POST", "/apps/<app_id>/switchboards", APP_OR_ACCOUNT, status=201)
def create_switchboard(call: Call) -> dict:
    return {"switchboard": switchboards.create(call).public()}


@api("GET", "/apps/<app_id>/switchboards", APP_OR_ACCOUNT)
def list_switchboards(call: Call) -> dict:
    return {"switchboards": [switchboard.public() for switchboard in call.in_app().switchboards]}


@api("PATCH", "/apps/<app_id>/switchboards/<switchboard_id>", APP_OR_ACCOUNT)
def update_switchboard(call: Call, switchboard_id: str) -> dict:
    return {"switchboard": switchboards.update(call, switchboard_id, json_body(SwitchboardUpdateBody)).public()}


@api("DELETE", "/apps/<app_id>/switchboards/<switchboard_id>", APP_OR_ACCOUNT)
def delete_switchboard(call: Call, switchboard_id: str) -> dict:
    switchboards.delete(call, switchboard_id)
    return {}


@api("POST", "/apps/<app_id>/switchboards/<switchboard_id>/switchboardIntegrations", APP_OR_ACCOUNT, status=201)
def create_switchboard_integration(call: Call, switchboard_id: str) -> dict:
    created = switchboards.create_member(call, switchboard_id, json_body(SwitchboardIntegrationCreateBody))
    return {"switchboardIntegration": created.public()}


@api("GET", "/apps/<app_id>/switchboards/<switchboard_id>/switchboardIntegrations", APP_OR_ACCOUNT)
def list_switchboard_integrations(call: Call, switchboard_id: str) -> dict:
    return {
        "switchboardIntegrations": [member.public() for member in switchboards.find(call, switchboard_id).integrations]
    }


@api("PATCH", "/apps/<app_id>/switchboards/<switchboard_id>/switchboardIntegrations/<member_id>", APP_OR_ACCOUNT)
def update_switchboard_integration(call: Call, switchboard_id: str, member_id: str) -> dict:
    updated = switchboards.update_member(call, switchboard_id, member_id, json_body(SwitchboardIntegrationUpdateBody))
    return {"switchboardIntegration": updated.public()}


@api("DELETE", "/apps/<app_id>/switchboards/<switchboard_id>/switchboardIntegrations/<member_id>", APP_OR_ACCOUNT)
def delete_switchboard_integration(call: Call, switchboard_id: str, member_id: str) -> dict:
    switchboards.delete_member(call, switchboard_id, member_id)
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/passControl")
def pass_control(call: Call, conversation_id: str) -> dict:
    control.pass_control(call, conversation_id, json_body(PassControlBody))
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/offerControl")
def offer_control(call: Call, conversation_id: str) -> dict:
    control.offer_control(call, conversation_id, json_body(TargetControlBody))
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/acceptControl")
def accept_control(call: Call, conversation_id: str) -> dict:
    control.accept_control(call, conversation_id, json_body(AcceptControlBody))
    return {}


@api("POST", "/apps/<app_id>/conversations/<conversation_id>/releaseControl")
def release_control(call: Call, conversation_id: str) -> dict:
    control.release_control(call, conversation_id, json_body(ReleaseControlBody, empty={}))  # [C] the body is optional
    return {}
