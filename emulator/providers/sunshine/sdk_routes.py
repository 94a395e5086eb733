"""The SDK API's HTTP surface: `/sdk/v2/apps/{appId}/...` (api.smooch.io) and `/sc/sdk/v2/apps/{appId}/...`
(Zendesk hosts), plus the v1 forms `/sdk/apps/{appId}/...` of login, logout and user creation (reference 4).

Registered on the Sunshine blueprint. Every refusal is in the v1 envelope `{"error": {"code", "description"}}`:
the shared rules raise v2 errors, which are answered here with the same status, code and wording.
`x-smooch-*` headers are read where they mean something (`x-smooch-clientid` names the install when the
body does not) and otherwise ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Response, request
from pydantic import BaseModel

from ...web import (
    MalformedJson,
    current_namespace,
    json_response,
    read_json_body,
    runtime,
)
from . import sdk
from . import sdk_forms as forms
from .auth import END_USER, Principal
from .bodies import parse_body
from .call import Call
from .errors import SunshineError, V1Error
from .models import PROVIDER
from .routes import BODY_LIMIT, _publish, _url, blueprint

SDK_PREFIXES = ("/sdk/v2", "/sc/sdk/v2")  # [C] api.smooch.io/sdk/ and {subdomain}.zendesk.com/sc/sdk/
LEGACY_PREFIXES = ("/sdk", "/sc/sdk")  # [C] web v4's v1 SDK paths (no `v2/`)
CLIENT_ID_HEADER = "x-smooch-clientid"

B = TypeVar("B", bound=BaseModel)


def sdk_body(model: type[B], empty: Any = None) -> B:
    if (request.content_length or 0) > BODY_LIMIT or len(request.get_data(cache=True)) > BODY_LIMIT:
        raise V1Error(413, "payload_too_large", "Request body is larger than 100kB", "body_too_large")
    return parse_body(model, read_json_body(empty=empty))


def sdk_api(method: str, rule: str, *, auth: str = "user", status: int = 200, legacy: bool = False, multipart: bool = False) -> Callable:
    """Register an SDK operation at every SDK prefix. `auth`: `user` (session token or user JWT), `login`
    (user JWT), `none` (creating an anonymous user). The operation gets the SdkCall (and the login's
    Principal) and the path's variables. A `multipart` body is parsed before the store's lock is taken."""

    def register(operation: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(operation)
        def view(**path: str) -> Response:
            if multipart:
                request.files  # noqa: B018  (reads and parses the upload outside the lock)
            try:
                namespace = current_namespace()
                with runtime().store.lock:
                    state = namespace.state(PROVIDER)
                    now = namespace.clock.now()
                    app = sdk.find_app(state, path.pop("app_id"))
                    header = request.headers.get("Authorization")
                    extra: dict[str, Any] = {}
                    if auth == "login":
                        principal = sdk.login_principal(state, app, header, now, namespace.tokens)
                        user, anonymous = None, False
                        extra["principal"] = principal
                    elif auth == "user":
                        principal, user, anonymous = sdk.caller(state, app, header, now, namespace.tokens)
                    else:
                        principal, user, anonymous = Principal(END_USER, "", app.id), None, False
                    call = Call(state, app, principal, now, _url())
                    client_id = request.headers.get(CLIENT_ID_HEADER) or None
                    answer = operation(sdk.SdkCall(call, user, client_id, anonymous), **extra, **path)
            except SunshineError as error:
                raise sdk.as_v1(error) from None
            except MalformedJson:
                raise V1Error(400, "bad_request", "Invalid JSON body", "malformed_json") from None
            _publish(namespace.name, call.events, now)
            return json_response(answer, status)

        prefixes = SDK_PREFIXES + (LEGACY_PREFIXES if legacy else ())
        for prefix in prefixes:
            blueprint.add_url_rule(prefix + rule, f"sdk {method} {prefix}{rule}", view, methods=[method])
        return view

    return register


A = "/apps/<app_id>"


@sdk_api("POST", A + "/appusers", auth="none", status=201, legacy=True)
def create_app_user(call: sdk.SdkCall) -> dict:
    """[I] 201 with the AppUserResponse and the new user's `sessionToken`."""
    user, token = sdk.create_anonymous(call, sdk_body(sdk.AppUserCreateBody, empty={}))
    return forms.app_user_response(call.app, user, token)


@sdk_api("GET", A + "/appusers/<app_user_id>")
def get_app_user(call: sdk.SdkCall, app_user_id: str) -> dict:
    return forms.app_user_response(call.app, call.own_user(app_user_id))


@sdk_api("PUT", A + "/appusers/<app_user_id>")
def update_app_user(call: sdk.SdkCall, app_user_id: str) -> dict:
    call.own_user(app_user_id)
    return {"appUser": forms.app_user_form(sdk.update_app_user(call, app_user_id, sdk_body(sdk.AppUserUpdateBody)))}


@sdk_api("POST", A + "/login", auth="login", legacy=True)
def login(call: sdk.SdkCall, principal: Principal) -> dict:
    """[I] 200 with the AppUserResponse of the identified user (never a session token)."""
    return forms.app_user_response(call.app, sdk.login(call, principal, sdk_body(sdk.LoginBody)))


@sdk_api("POST", A + "/appusers/<app_user_id>/logout", legacy=True)
def logout(call: sdk.SdkCall, app_user_id: str) -> dict:
    call.own_user(app_user_id)
    sdk.logout(call, app_user_id, sdk_body(sdk.LogoutBody, empty={}))
    return {}


@sdk_api("GET", A + "/appusers/<app_user_id>/conversations")
def list_conversations(call: sdk.SdkCall, app_user_id: str) -> dict:
    user = call.own_user(app_user_id)
    found = forms.user_conversations(call.app, user)
    return {"conversations": [forms.conversation_form(call.app, c) for c in found], "conversationsPagination": {"hasMore": False}}


@sdk_api("POST", A + "/appusers/<app_user_id>/conversations", status=201)
def create_conversation(call: sdk.SdkCall, app_user_id: str) -> dict:
    user = call.own_user(app_user_id)
    conversation = sdk.start_conversation(call, user, sdk_body(sdk.SdkConversationBody, empty={}))
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
    if (request.content_length or 0) > BODY_LIMIT or len(request.get_data(cache=True)) > BODY_LIMIT:
        raise V1Error(413, "payload_too_large", "Request body is larger than 100kB", "body_too_large")
    message = sdk.post_user_message(call, conversation_id, sdk.parse_message_body(read_json_body(empty=None)))
    conversation = call.own_conversation(conversation_id)
    return {"message": forms.message_form(message), "conversation": forms.conversation_form(call.app, conversation)}
