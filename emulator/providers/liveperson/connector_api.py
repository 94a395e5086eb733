"""LivePerson Connector API (asyncMessagingEnt): conversation and send, with AppJWT + X-LP-ON-BEHALF ConsumerJWS.

Reference: liveperson.md sections 6.1 to 6.4. Both routes check, in order: the account (LivePerson's 401
"invalid site"), the AppJWT of `Authorization`, the ConsumerJWS of `X-LP-ON-BEHALF`, `v=3`, the optional
`Client-Properties` header, then the whole body; only then does anything change. Every refusal but the
account's is the Connector API's envelope `{"kind":"resp","code":N,"body":{"title","details","errorCode"},
"type":".ReqBody$ErrorResp"}`. Changed conversations are handed to `notifications.dispatch` after the lock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import TypeVar

from flask import Response, request

from ...core.keys import TokenError
from ...core.store import Namespace
from ...web import MalformedJson, current_namespace, json_response, read_json_body, runtime
from . import files, notifications
from .conversations import CONSUMER, Conversations, MessagingError, unstorable
from .errors import LivePersonError
from .http import find_account, operation, raw_authorization
from .models import Account
from .sentinel import verify_app_jwt, verify_consumer_jws

BASE = "/api/account/<account_id>/messaging/consumer/conversation"
CONNECTOR_PATH = re.compile(r"/api/account/[^/]+/messaging/consumer/conversation(/send)?/?")
API_VERSION = "3"  # [C] `?v=3`; [I] any other value, or none, is refused
ON_BEHALF_HEADER = "X-LP-ON-BEHALF"
ERROR_TYPE = ".ReqBody$ErrorResp"  # [C]
SET_USER_PROFILE = "userprofile.SetUserProfile"
REQUEST_CONVERSATION = "cm.ConsumerRequestConversation"
PUBLISH_EVENT = "ms.PublishEvent"
UPDATE_CONVERSATION_FIELD = "cm.UpdateConversationField"
PROFILE_SET = "OK User Profile set successfully"  # [C]
MAX_REQUESTS = 20  # [I] the most entries one conversation array may hold
CLOSING_FIELD = {"field": "ConversationStateField", "conversationState": "CLOSE"}  # [C] section 6.3
T = TypeVar("T")


class ConnectorError(LivePersonError):
    """A refusal in the Connector API's envelope (reference 6.4); `error_code` is the body's errorCode."""

    def __init__(self, status: int, title: str, details: str, error_code: int, reason: str | None = None) -> None:
        super().__init__(status, details, reason)
        self.title = title
        self.error_code = error_code

    def body(self) -> dict:
        details = {"title": self.title, "details": self.message, "errorCode": self.error_code}
        return {"kind": "resp", "code": self.status, "body": details, "type": ERROR_TYPE}


def refusal(details: str, reason: str, status: int = 400) -> ConnectorError:
    """A non-auth refusal [I]: 400 (404 for a conversation not found; 405, 413 and injected statuses from the
    app) titled with the status's phrase, errorCode the status times 100 (LivePerson's auth codes are 401xx)."""
    try:
        title = HTTPStatus(status).phrase
    except ValueError:  # a status only a test would ask for (e.g. 499)
        title = "Error"
    return ConnectorError(status, title, details, status * 100, reason)


def is_connector_path(path: str) -> bool:
    return CONNECTOR_PATH.fullmatch(path) is not None


def routing_error(status: int, message: str) -> Response:
    """A wrong method, a body past the limit, or an injected status on a Connector API path, in its envelope."""
    return refusal(message, message, status).response()


# [C] the table of reference 6.4: (errorCode, title, details)
APP_JWT_MISSING = (40105, "AppJWT is missing", "AUTHORIZATION header is not present")
CONSUMER_JWS_MISSING = (40104, "ConsumerJWS is missing", "X_ON_BEHALF_HEADER is not present")
APP_JWT_INVALID = (40102, "Invalid AppJWT", "AppJWT has expired or is invalid")
CONSUMER_JWS_INVALID = (40103, "Invalid ConsumerJWS", "ConsumerJWS is invalid")
# [C] "also used when AppJWT claims such as iss are missing"; [I] answered with HTTP 401 like the rest of the table
MISSING_PARAMETER = (40001, "Missing parameter", "Brand Id is missing")


def unauthorized(entry: tuple[int, str, str], reason: str) -> ConnectorError:
    error_code, title, details = entry
    return ConnectorError(401, title, details, error_code, reason)


# --- credentials and request checks --------------------------------------------------------------------


def authorize(namespace: Namespace, account: Account) -> tuple[str, str]:
    """The AppJWT first, then the ConsumerJWS: the consumer's `lp_consumer_id` and the app's `client_id`
    (`azp`). [I] a ConsumerJWS obtained with another app of the same account is accepted: it names no app."""
    app_jwt = raw_authorization()
    if app_jwt is None:
        raise unauthorized(APP_JWT_MISSING, "missing_app_jwt")
    try:
        client_id = verify_app_jwt(namespace, account, app_jwt)["azp"]
    except TokenError as error:
        entry = MISSING_PARAMETER if error.reason == TokenError.MISSING_CLAIM else APP_JWT_INVALID
        raise unauthorized(entry, error.reason) from None
    consumer_jws = request.headers.get(ON_BEHALF_HEADER, "").strip()  # raw: [I] no scheme is stripped
    if not consumer_jws:
        raise unauthorized(CONSUMER_JWS_MISSING, "missing_consumer_jws")
    try:
        return verify_consumer_jws(namespace, account, consumer_jws)["lp_consumer_id"], client_id
    except TokenError as error:
        raise unauthorized(CONSUMER_JWS_INVALID, error.reason) from None


def check_request_meta() -> None:
    """`v=3` and, when present, a `Client-Properties` header holding a JSON object (not kept [I])."""
    if request.args.get("v") != API_VERSION:
        raise refusal(f"unsupported version: use v={API_VERSION}", "unsupported_version")
    properties = request.headers.get("Client-Properties")
    if properties is None:
        return
    try:
        parsed = json.loads(properties)
    except (ValueError, RecursionError):  # RecursionError: nesting deeper than Python's stack
        parsed = None
    if not isinstance(parsed, dict):
        raise refusal("Client-Properties must be a JSON object", "bad_client_properties")  # [I]


def json_body() -> object:
    """The request's JSON body, refused when empty, not JSON, nested too deep or not exportable."""
    try:
        body = read_json_body(empty=None)
    except MalformedJson:
        raise refusal("request body is not valid JSON", "malformed_json") from None
    if body is None:
        raise refusal("request body is required", "missing_body")
    problem = unstorable(body)
    if problem:
        raise refusal(problem, "unstorable_json")
    return body


@dataclass(frozen=True)
class Req:
    """One `{"kind":"req","id","type","body"}` request; `req_id` is the id as the answer's `reqId` echoes it."""

    req_id: str
    type: str
    body: dict


def parse_req(entry: object, known_types: tuple[str, ...]) -> Req:
    """A request object, or 400: `kind` "req", a string or integer `id`, a known `type`, an object `body`."""
    if not isinstance(entry, dict):
        raise refusal("a request must be a JSON object", "request_not_object")
    if entry.get("kind") != "req":
        raise refusal('kind must be "req"', "bad_kind")  # [I] the doc always sends it
    req_id = entry.get("id")
    if isinstance(req_id, bool) or not isinstance(req_id, (str, int)):
        raise refusal("id is required (a string or an integer)", "bad_id")
    kind = entry.get("type")
    if kind not in known_types:
        raise refusal(f"unsupported type: {kind if isinstance(kind, str) else json.dumps(kind)}", "unknown_type")
    body = entry.get("body", {})  # [I] a missing body reads as {}
    if not isinstance(body, dict):
        raise refusal("body must be a JSON object", "body_not_object")
    return Req(str(req_id), kind, body)


def ok(req: Req, body: dict) -> dict:
    return {"code": "OK", "body": body, "reqId": req.req_id}  # [C]


# --- CONVERSATION ----------------------------------------------------------------------------------------


@operation("POST", BASE)
def conversation(account_id: str) -> Response:
    """A JSON array: `userprofile.SetUserProfile`, then `cm.ConsumerRequestConversation` -> one answer per request."""
    with runtime().store.lock:
        namespace = current_namespace()
        account = find_account(account_id)
        consumer_id, client_id = authorize(namespace, account)
        check_request_meta()
        reqs = parse_requests(json_body(), account, consumer_id)
        conversations = Conversations(namespace, account)
        answers = apply_requests(conversations, consumer_id, client_id, reqs)
    notifications.dispatch(conversations.changes)
    return json_response(answers)


def parse_requests(body: object, account: Account, consumer_id: str) -> list[Req]:
    """Every entry checked before anything changes. [I] at most one ConsumerRequestConversation, and only
    after a SetUserProfile (earlier in the array, or in an earlier call of this consumer): the doc calls the
    profile mandatory and first."""
    if not isinstance(body, list) or not body:
        raise refusal("request body must be a non-empty JSON array of requests", "body_not_array")
    if len(body) > MAX_REQUESTS:
        raise refusal(f"at most {MAX_REQUESTS} requests per call", "too_many_requests")
    reqs = [parse_req(entry, (SET_USER_PROFILE, REQUEST_CONVERSATION)) for entry in body]
    profile_set = consumer_id in account.consumers
    requested = False
    for req in reqs:
        if req.type == SET_USER_PROFILE:
            profile_set = True
        elif requested:
            raise refusal(f"at most one {REQUEST_CONVERSATION} per call", "repeated_request_conversation")
        elif not profile_set:
            raise refusal(f"{SET_USER_PROFILE} must come before {REQUEST_CONVERSATION}", "profile_not_set")
        else:
            requested = True
    return reqs


def apply_requests(conversations: Conversations, consumer_id: str, client_id: str, reqs: list[Req]) -> list[dict]:
    """The profiles, then the conversation request (at most one), by the model's rules -> one answer per request."""
    profiles = [req.body for req in reqs if req.type == SET_USER_PROFILE]
    request = next((req.body for req in reqs if req.type == REQUEST_CONVERSATION), None)
    conversation_id = _messaging(conversations.profile_and_request, consumer_id, profiles, request, client_id)
    return [
        ok(req, {"msg": PROFILE_SET} if req.type == SET_USER_PROFILE else {"conversationId": conversation_id})
        for req in reqs
    ]


def _messaging(action: Callable[..., T], *args: object) -> T:
    """`action(*args)`, a MessagingError answered in the Connector API's envelope."""
    try:
        return action(*args)
    except MessagingError as error:
        raise refusal(error.message, "messaging_refused", error.code) from None


# --- SEND ------------------------------------------------------------------------------------------------


@operation("POST", BASE + "/send")
def send(account_id: str) -> Response:
    """One request object: `ms.PublishEvent`, `cm.UpdateConversationField` (close), or a file's temp URL."""
    with runtime().store.lock:
        namespace = current_namespace()
        account = find_account(account_id)
        consumer_id, _ = authorize(namespace, account)
        check_request_meta()
        req = parse_req(
            json_body(),
            (PUBLISH_EVENT, UPDATE_CONVERSATION_FIELD, files.GENERATE_UPLOAD_URL, files.GENERATE_DOWNLOAD_URL),
        )
        conversations = Conversations(namespace, account)
        if req.type == PUBLISH_EVENT:
            answer = publish(conversations, consumer_id, req.body)
        elif req.type == UPDATE_CONVERSATION_FIELD:
            answer = close(conversations, consumer_id, req.body)
        else:
            answer = _messaging(files.generate_url, namespace, account, req.type, req.body)
    notifications.dispatch(conversations.changes)
    return json_response({"reqId": req.req_id, "code": "OK", "body": answer})  # [C] key order of the doc


def publish(conversations: Conversations, consumer_id: str, body: dict) -> dict:
    """`{"dialogId", "event"}` into the consumer's own conversation -> `{"sequence": N}`; [I] `{}` for a
    ChatStateEvent, which gets no sequence."""
    dialog_id = body.get("dialogId")
    if not isinstance(dialog_id, str):
        raise refusal("dialogId is required (a string)", "missing_dialog_id")  # [I]
    conversation = _messaging(conversations.owned_by, dialog_id, consumer_id)
    sequence = _messaging(conversations.publish, conversation, consumer_id, CONSUMER, body.get("event"))
    return {} if sequence is None else {"sequence": sequence}


def close(conversations: Conversations, consumer_id: str, body: dict) -> dict:
    """`{"conversationId", "conversationField": {"field": "ConversationStateField", "conversationState":
    "CLOSE"}}` (or a list of such fields) -> `{}` [I] (the doc shows no close response)."""
    conversation_id = body.get("conversationId")
    if not isinstance(conversation_id, str):
        raise refusal("conversationId is required (a string)", "missing_conversation_id")  # [I]
    fields = body.get("conversationField")
    fields = [fields] if isinstance(fields, dict) else fields
    if not isinstance(fields, list) or not fields or not all(_is_closing(field) for field in fields):
        # [I] closing is the only change a consumer's conversationField may ask for
        raise refusal(f"conversationField must be {json.dumps(CLOSING_FIELD)}", "unsupported_field")
    conversation = _messaging(conversations.owned_by, conversation_id, consumer_id)
    _messaging(conversations.close, conversation, CONSUMER)
    return {}


def _is_closing(field: object) -> bool:
    return isinstance(field, dict) and all(field.get(key) == value for key, value in CLOSING_FIELD.items())
