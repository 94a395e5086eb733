"""The SDK API's HTTP surface: `/sdk/v2/apps/{appId}/...` (api.smooch.io) and `/sc/sdk/v2/apps/{appId}/...`
(Zendesk hosts), plus the v1 forms `/sdk/apps/{appId}/...` of login, logout and user creation (reference 4).

Registered on the Sunshine blueprint. Every refusal is in the v1 envelope `{"error": {"code", "description"}}`:
the shared rules raise v2 errors, which are answered here with the same status, code and wording.
`x-smooch-*` headers are read where they mean something (`x-smooch-clientid` names the install when the
body does not) and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from flask import request

from ...core.store import Namespace
from ...web import read_json_body
from . import sdk
from . import sdk_forms as forms
from .auth import END_USER, Principal
from .call import Call
from .errors import as_v1
from .http import Admit, json_body, operation, request_url
from .models import SunshineState

SDK_PREFIXES = ("/sdk/v2", "/sc/sdk/v2")  # [C] api.smooch.io/sdk/ and {subdomain}.zendesk.com/sc/sdk/
LEGACY_PREFIXES = ("/sdk", "/sc/sdk")  # [C] web v4's v1 SDK paths (no `v2/`)
CLIENT_ID_HEADER = "x-smooch-clientid"
Auth = Literal["user", "login", "none"]


def admit_sdk(auth: Auth) -> Admit:
    """The SDK's credentials on the path's app: `user` (session token or user JWT), `login` (a user JWT, the
    Call's principal), `none` (creating an anonymous user)."""

    def admit(state: SunshineState, namespace: Namespace, now: float, path: dict[str, str]) -> tuple[Call, sdk.SdkCall]:
        app = sdk.find_app(state, path.pop("app_id"))
        header = request.headers.get("Authorization")
        user, anonymous = None, False
        if auth == "login":
            principal = sdk.login_principal(state, app, header, now, namespace.tokens)
        elif auth == "user":
            principal, user, anonymous = sdk.caller(state, app, header, now, namespace.tokens)
        else:
            principal = Principal(END_USER, "", app.id)
        call = Call(state, app, principal, now, request_url)
        return call, sdk.SdkCall(call, user, request.headers.get(CLIENT_ID_HEADER) or None, anonymous)

    return admit


def sdk_api(
    method: str, rule: str, *, auth: Auth = "user", status: int = 200, legacy: bool = False, multipart: bool = False
) -> Callable:
    """An SDK operation at every SDK prefix (and the v1 forms when `legacy`); it gets the SdkCall and the
    path's variables; every refusal in the v1 envelope."""
    prefixes = SDK_PREFIXES + (LEGACY_PREFIXES if legacy else ())
    return operation(
        method, rule, prefixes, admit_sdk(auth), refuse=as_v1, label="sdk ", status=status, multipart=multipart
    )


A = "/apps/<app_id>"


@sdk_api("POST", A + "/appusers", auth="none", status=201, legacy=True)
def create_app_user(call: sdk.SdkCall) -> dict:
    """[I] 201 with the AppUserResponse and the new user's `sessionToken`."""
    user, token = sdk.create_anonymous(call, json_body(sdk.AppUserCreateBody, empty={}))
    return forms.app_user_response(call.app, user, token)


@sdk_api("GET", A + "/appusers/<app_user_id>")
def get_app_user(call: sdk.SdkCall, app_user_id: str) -> dict:
    return forms.app_user_response(call.app, call.own_user(app_user_id))


@sdk_api("PUT", A + "/appusers/<app_user_id>")
def update_app_user(call: sdk.SdkCall, app_user_id: str) -> dict:
    call.own_user(app_user_id)
    return {"appUser": forms.app_user_form(sdk.update_app_user(call, app_user_id, json_body(sdk.AppUserUpdateBody)))}


@sdk_api("POST", A + "/login", auth="login", legacy=True)
def login(call: sdk.SdkCall) -> dict:
    """[I] 200 with the AppUserResponse of the identified user (never a session token)."""
    return forms.app_user_response(call.app, sdk.login(call, call.call.principal, json_body(sdk.LoginBody)))


@sdk_api("POST", A + "/appusers/<app_user_id>/logout", legacy=True)
def logout(call: sdk.SdkCall, app_user_id: str) -> dict:
    call.own_user(app_user_id)
    sdk.logout(call, app_user_id, json_body(sdk.LogoutBody, empty={}))
    return {}


@sdk_api("GET", A + "/appusers/<app_user_id>/conversations")
def list_conversations(call: sdk.SdkCall, app_user_id: str) -> dict:
    user = call.own_user(app_user_id)
    found = forms.user_conversations(call.app, user)
    return {
        "conversations": [forms.conversation_form(call.app, c) for c in found],
        "conversationsPagination": {"hasMore": False},
    }


@sdk_api("POST", A + "/appusers/<app_user_id>/conversations", status=201)
def create_conversation(call: sdk.SdkCall, app_user_id: str) -> dict:
    user = call.own_user(app_user_id)
    conversation = sdk.start_conversation(call, user, json_body(sdk.SdkConversationBody, empty={}))
    return {"conversation": forms.conversation_form(call.app, conversation)}


@sdk_api("GET", A + "/conversations/<conversation_id>")
def get_conversation(call: sdk.SdkCall, conversation_id: str) -> dict:
    return {"conversation": forms.conversation_form(call.app, call.own_conversation(conversation_id))}


@sdk_api("GET", A + "/conversations/<conversation_id>/messages")
def list_messages(call: sdk.SdkCall, conversation_id: str) -> dict:
    """`?before=<epoch seconds>`: the 100 messages before it, oldest first ([I] `hasPrevious` says if more)."""
    conversation = call.own_conversation(conversation_id)
    found, more = sdk.messages_before(conversation, request.args.get("before"))
    return {
        "conversation": forms.conversation_form(call.app, conversation),
        "messages": [forms.message_form(m) for m in found],
        "hasPrevious": more,
    }


@sdk_api("POST", A + "/conversations/<conversation_id>/messages", status=201)
def post_message(call: sdk.SdkCall, conversation_id: str) -> dict:
    """[I] 201 `{"message", "conversation"}` (v1's answer)."""
    call.own_conversation(conversation_id)
    message = sdk.post_user_message(call, conversation_id, sdk.parse_message_body(read_json_body(empty=None)))
    conversation = call.own_conversation(conversation_id)
    return {"message": forms.message_form(message), "conversation": forms.conversation_form(call.app, conversation)}
