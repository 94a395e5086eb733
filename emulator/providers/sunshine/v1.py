"""The legacy v1.1 API of older integrations (reference 7, 8.3 and 8.4): app users and their messages, in the
v1 shapes (v1_shapes.py: `_id` keys, `userId` = externalId, `properties` = metadata, numeric `received`) and
the v1 error envelope `{"error": {"code", "description"}}`.

A v1.1 app user is the v2 user; its messages live in the user's default personal conversation (created by the
first message). Every change goes through the shared rules of users.py, conversations.py and messages.py, so
what v1.1 writes v2 reads and the other way round, and the same events are published.

Routes answer under `/v1.1/apps/{appId}/appusers...` and, for app keys and appUser JWTs, under
`/v1.1/appusers...` with the app taken from the key (JWT `kid` or Basic key id).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from flask import request
from pydantic import Field, StrictStr, field_validator

from ...core.store import Namespace
from . import conversations, messages, users
from .auth import ACCOUNT, APP, END_USER, Principal, authenticate, authorize
from .bodies import (
    EMAIL,
    ActivityBody,
    Body,
    ConversationCreateBody,
    MessagePostBody,
    Text,
    UserCreateBody,
    UserUpdateBody,
    check_metadata,
    formatted,
    parse_body,
    short,
)
from .call import Call
from .errors import V1Error, as_v1, bad_request, user_not_found
from .http import Admit, json_body, operation, request_url
from .models import SunshineState, User, without_nulls
from .query import MESSAGE_PAGE_SIZE
from .sdk_actions import issue_auth_code
from .v1_shapes import app_user, default_conversation, seconds, v1_conversation, v1_message

PREFIX = "/v1.1"
# [C] app and account keys, and `appUser` JWTs for their own user only; [I] integration keys are refused (403)
EVERYONE = (ACCOUNT, APP, END_USER)


def admit_v1(scopes: Iterable[str]) -> Admit:
    """Keys and `appUser` JWTs allowed one of `scopes`, on the path's app or else the key's."""
    allowed = tuple(scopes)

    def admit(state: SunshineState, namespace: Namespace, now: float, path: dict[str, str]) -> tuple[Call, Call]:
        principal = authenticate(state, request.headers.get("Authorization"), now, namespace.tokens, end_users=True)
        app_id = path.pop("app_id", None) or principal.app_id
        if app_id is None and principal.scope in allowed:
            # [I] an account key belongs to no app: it must name one in the path
            raise bad_request("An account key must name the app: /v1.1/apps/{appId}/...", "account_without_app")
        call = Call(state, authorize(principal, allowed, state, app_id), principal, now, request_url)
        return call, call

    return admit


def v1_api(method: str, rule: str, scopes: Iterable[str] = EVERYONE, status: int = 200) -> Callable:
    """An operation at `/v1.1/apps/<app_id>{rule}` and at `/v1.1{rule}` (app from the key); refusals in the v1 envelope."""
    prefixes = (f"{PREFIX}/apps/<app_id>", PREFIX)
    return operation(method, rule, prefixes, admit_v1(scopes), refuse=as_v1, label="v1 ", status=status)


# --- request bodies -----------------------------------------------------------------------------------


class AppUserUpdateBody(Body):
    givenName: Annotated[StrictStr, short(128)] | None = None
    surname: Annotated[StrictStr, short(128)] | None = None
    email: Annotated[StrictStr, formatted(128, EMAIL)] | None = None  # [C] the spec's format: email, as the v2 profile
    signedUpAt: Text | None = None
    properties: dict[str, Any] | None = None

    _properties = field_validator("properties")(lambda value: check_metadata(value, "User"))


class PreCreateBody(AppUserUpdateBody):
    userId: Annotated[StrictStr, short(1024)]  # [C] required (the smooch model refuses None)


class V1MessageBody(Body):
    role: Literal["appUser", "appMaker"]  # [I] `whisper` is not emulated
    type: Literal["text", "image", "file"]  # [I] the v1 types the emulator maps onto v2 content
    text: StrictStr | None = Field(default=None, max_length=4096)
    mediaUrl: Annotated[StrictStr, short(2048)] | None = None
    mediaType: Annotated[StrictStr, short(128)] | None = None
    altText: Annotated[StrictStr, short(128)] | None = None
    name: Text | None = None
    avatarUrl: Annotated[StrictStr, short(2048)] | None = None
    metadata: dict[str, Any] | None = None

    _metadata = field_validator("metadata")(lambda value: check_metadata(value, "Message"))


# --- who may act on which user --------------------------------------------------------------------------


def _user(call: Call, user_ref: str) -> User:
    """The user of `{userId or _id}`; an appUser JWT reaches only its own user ([I] 403 for any other,
    before looking, so that other users' existence does not show)."""
    principal = call.principal
    if principal.scope != END_USER:
        return users.find(call, user_ref)
    own = call.in_app().user_by_external_id(principal.external_id or "")
    if user_ref != principal.external_id and (own is None or user_ref != own.id):
        raise V1Error(403, "forbidden", "Invalid scope", "app_user_of_another")  # [C] the v1 wording of a scope refusal
    if own is None:
        raise as_v1(user_not_found())
    return own


def _servers_only(principal: Principal) -> None:
    if principal.scope == END_USER:
        raise V1Error(403, "forbidden", "Invalid scope", "app_user_scope")  # [I]


# --- app users --------------------------------------------------------------------------------------------


@v1_api("POST", "/appusers", status=201)
def pre_create(call: Call) -> dict:
    _servers_only(call.principal)
    given = json_body(PreCreateBody)
    profile = without_nulls({"givenName": given.givenName, "surname": given.surname, "email": given.email})
    created = users.create(
        call,
        parse_body(
            UserCreateBody,
            without_nulls(
                {
                    "externalId": given.userId,
                    "signedUpAt": given.signedUpAt,
                    "profile": profile,
                    "metadata": given.properties,
                }
            ),
        ),
    )
    return {"appUser": app_user(call.in_app(), created)}


@v1_api("GET", "/appusers/<user_ref>/authcode", (ACCOUNT, APP))  # [I] a server's call, never an end user's
def get_auth_code(call: Call, user_ref: str) -> dict:
    """`{"authCode"}`: a single-use code an SDK logs in with (`POST sdk/.../appusers/authcode`)."""
    return {"authCode": issue_auth_code(call.in_app(), _user(call, user_ref), call.now)}


@v1_api("GET", "/appusers/<user_ref>")
def get_app_user(call: Call, user_ref: str) -> dict:
    return {"appUser": app_user(call.in_app(), _user(call, user_ref))}


@v1_api("PUT", "/appusers/<user_ref>")
def update_app_user(call: Call, user_ref: str) -> dict:
    """[I] additive, as the v1 docs describe it: fields left out stay, `properties` merge into the old."""
    user = _user(call, user_ref)
    given = json_body(AppUserUpdateBody)
    changes: dict[str, Any] = {}
    profile = given.model_dump(include={"givenName", "surname", "email"} & given.model_fields_set, exclude_none=True)
    if profile:
        changes["profile"] = profile
    if given.signedUpAt is not None:
        changes["signedUpAt"] = given.signedUpAt
    if given.properties is not None:
        changes["metadata"] = {**user.metadata, **given.properties}
    updated = users.update(call, user.id, parse_body(UserUpdateBody, changes))
    return {"appUser": app_user(call.in_app(), updated)}


@v1_api("DELETE", "/appusers/<user_ref>")
def delete_app_user(call: Call, user_ref: str) -> dict:
    users.delete(call, _user(call, user_ref).id)
    return {}


@v1_api("DELETE", "/appusers/<user_ref>/profile")
def delete_app_user_profile(call: Call, user_ref: str) -> dict:
    """[I] the v2 personal-information wipe."""
    return {"appUser": app_user(call.in_app(), users.delete_personal_information(call, _user(call, user_ref).id))}


# --- messages ---------------------------------------------------------------------------------------------


def _content(given: V1MessageBody) -> dict:
    return without_nulls(
        {
            "type": given.type,
            "text": given.text,
            "mediaUrl": given.mediaUrl,
            "mediaType": given.mediaType,
            "altText": given.altText,
        }
    )


@v1_api("POST", "/appusers/<user_ref>/messages", status=201)
def post_message(call: Call, user_ref: str) -> dict:
    user = _user(call, user_ref)
    given = json_body(V1MessageBody)
    if call.principal.scope == END_USER and given.role != "appUser":
        raise V1Error(
            403, "forbidden", "Invalid scope", "app_user_as_app_maker"
        )  # [I] an end user speaks only for itself
    author = without_nulls(
        {
            "type": "user" if given.role == "appUser" else "business",
            "displayName": given.name,
            "avatarUrl": given.avatarUrl,
        }
    )
    if given.role == "appUser":
        author["userId"] = user.id
    posted = parse_body(
        MessagePostBody, without_nulls({"author": author, "content": _content(given), "metadata": given.metadata})
    )
    app = call.in_app()
    conversation = default_conversation(app, user)
    if conversation is None:  # the first message opens the user's default conversation (once the message is valid)
        opening = parse_body(ConversationCreateBody, {"type": "personal", "participants": [{"userId": user.id}]})
        conversation = conversations.create(call, opening)
    message = messages.post(call, conversation.id, posted)
    return {"message": v1_message(app, message), "conversation": v1_conversation(conversation, user)}


def _time_query(name: str) -> float | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise bad_request(f"{name} should be a number of seconds", "message_cursor")  # [I] description
    return value


def _page_link(call: Call, name: str, value: float) -> str:
    return f"{call.url}?{urlencode({name: repr(value)})}"


@v1_api("GET", "/appusers/<user_ref>/messages")
def list_messages(call: Call, user_ref: str) -> dict:
    """[C] up to 100 messages, oldest first: the latest ones, those `before` a time (the latest of them) or
    those `after` it (the earliest of them); `previous` / `next` link the pages on each side."""
    user = _user(call, user_ref)
    before, after = _time_query("before"), _time_query("after")
    if before is not None and after is not None:
        raise bad_request("Use either before or after, not both", "message_cursors")  # [I]
    app = call.in_app()
    conversation = default_conversation(app, user)
    if conversation is None:
        return {"messages": []}  # [I] no conversation yet: no messages (and no conversation to show)
    timed = [(seconds(m.received) or 0.0, m) for m in conversation.messages]
    if after is not None:
        chosen = [pair for pair in timed if pair[0] > after][:MESSAGE_PAGE_SIZE]
    else:
        chosen = [pair for pair in timed if before is None or pair[0] < before][-MESSAGE_PAGE_SIZE:]
    answer: dict[str, Any] = {
        "conversation": v1_conversation(conversation, user),
        "messages": [v1_message(app, m) for _, m in chosen],
    }
    if chosen:
        first, last = chosen[0][0], chosen[-1][0]
        if any(t < first for t, _ in timed):
            answer["previous"] = _page_link(call, "before", first)
        if any(t > last for t, _ in timed):
            answer["next"] = _page_link(call, "after", last)
    return answer


@v1_api("DELETE", "/appusers/<user_ref>/messages")
def delete_messages(call: Call, user_ref: str) -> dict:
    conversation = default_conversation(call.in_app(), _user(call, user_ref))
    if conversation is not None:
        messages.delete_all(call, conversation.id)
    return {}


@v1_api("DELETE", "/appusers/<user_ref>/messages/<message_id>")
def delete_message(call: Call, user_ref: str, message_id: str) -> dict:
    conversation = default_conversation(call.in_app(), _user(call, user_ref))
    if conversation is None:
        raise V1Error(404, "not_found", "Resource not found")
    messages.delete(call, conversation.id, message_id)
    return {}


@v1_api("POST", "/appusers/<user_ref>/conversation/read")
def reset_unread_count(call: Call, user_ref: str) -> dict:
    """The user has read its conversation: the v2 `conversation:read` activity of a user author (unreadCount 0)."""
    user = _user(call, user_ref)
    conversation = default_conversation(call.in_app(), user)
    if conversation is not None:  # [I] nothing to read yet: nothing to do
        read = parse_body(ActivityBody, {"author": {"type": "user", "userId": user.id}, "type": "conversation:read"})
        messages.activity(call, conversation.id, read)
    return {}
