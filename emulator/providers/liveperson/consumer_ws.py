"""LivePerson's consumer WebSocket (Messaging Window API): `/ws_api/account/{a}/messaging/consumer?v=3`.

Reference: liveperson.md section 6.5. The consumer authenticates with its LP consumer JWT, either at the
upgrade (`Authorization: jwt <LP JWT>`; `JWT` too [CC]) or, without that header, with an `InitConnection`
frame (`.ams.headers.ConsumerAuthentication {jwt}`) sent within INIT_SECONDS of wall time. The JWT's `sub`
is the socket's consumer for its whole life. Close 4407 ("a problem with the JWT" [C]) when the JWT is
missing, invalid, of another account, or stops holding later: past its `exp` on the emulator's clock, or
expired/revoked through the control API (checked before each frame and on every idle tick, as on the
agent socket). The frame loop, pushes and per-connection send lock are agent_ws's `Connection` and `serve`.
"""

from __future__ import annotations

from flask import Response, request

from ...core.keys import TokenError
from ...web import current_namespace, runtime
from . import files
from .agent_ws import (
    Connection,
    account_of,
    clock_ms,
    close,
    conversation_change,
    notification,
    parse_request,
    require_upgrade,
    resp,
    sequence_from,
    serve,
)
from .conversation_fields import FieldUpdate
from .conversations import CONSUMER, Change, Conversations, MessagingError, conversation_details, history
from .errors import LivePersonError
from .http import operation, socket_operation
from .identity import verify_lp_consumer_jwt
from .models import Account
from .stepup import presented_unauth_jwt
from .subscriptions import state_filter

PATH = "/ws_api/account/<account_id>/messaging/consumer"
VERSIONS = ("3",)  # [C]
CLOSE_JWT = 4407  # [C] DC issue #22: a problem with the JWT (expired, wrong account)
INIT_SECONDS = 5.0  # [I] "within a few seconds" [C]: wall time the socket waits for InitConnection
INIT_CONNECTION = "InitConnection"
AUTHENTICATION_HEADER = ".ams.headers.ConsumerAuthentication"
ERROR_TYPE = ".ReqBody$ErrorResp"  # [I] the Connector API's error type (section 6.4), on refused frames
CONVERSATION_NOTIFICATION = "cqm.ExConversationChangeNotification"
EVENT_NOTIFICATION = "ms.MessagingEventNotification"
PROFILE_SET = {"msg": "OK User Profile set successfully"}  # [C] the Connector API's answer (section 6.2)
PRIVATE_AUDIENCE = "AGENTS_AND_MANAGERS"  # [C] "to all conversation participants, excluding the consumer"


def _upgrade_possible() -> None:
    require_upgrade(VERSIONS, "3")


@operation("GET", PATH)
def consumer_socket_without_upgrade(account_id: str) -> Response:
    """A plain GET (no `Upgrade: websocket`) on the socket's path. [I]"""
    raise LivePersonError(400, "a WebSocket upgrade is required", "websocket_required")


def consumer_of(account_id: str, token: str) -> str | None:
    """The consumer id (`sub`) of a live LP consumer JWT of the account, else None."""
    with runtime().store.lock:
        account = account_of(account_id)
        if account is None:
            return None
        try:
            return verify_lp_consumer_jwt(current_namespace(), account, token)["sub"]
        except TokenError:
            return None


def init_connection(frame: str | bytes | None) -> tuple[object, str] | None:
    """(`id`, jwt) of an `InitConnection` frame carrying ConsumerAuthentication, else None."""
    if frame is None:
        return None
    try:
        message = parse_request(frame)
    except MessagingError:
        return None
    headers = message.get("headers")
    if message["type"] != INIT_CONNECTION or not isinstance(headers, list):
        return None
    jwt = next((h.get("jwt") for h in headers if isinstance(h, dict) and h.get("type") == AUTHENTICATION_HEADER), None)
    return (message.get("id"), jwt) if isinstance(jwt, str) else None


def owner_of(details: dict) -> str:
    return next(p["id"] for p in details["participants"] if p["role"] == CONSUMER)


def own_details(details: dict) -> dict:
    return details


def matches(states: tuple[str, ...] | None, details: dict) -> bool:
    """Whether a conversation is in a subscription's `convState` (None: every state)."""
    return states is None or details["state"] in states


class ConsumerConnection(Connection):
    """The consumer socket of one consumer (the JWT's `sub`): it sees and acts on its own conversations only."""

    def __init__(self, ws, namespace: str, account_id: str, consumer_id: str) -> None:
        super().__init__(ws, namespace, account_id)
        self.consumer_id = consumer_id

    def refused(self, req_id: object, error: MessagingError) -> dict:
        return resp(req_id, error.code, {"msg": error.message}, ERROR_TYPE)

    def answer(self, message: dict) -> tuple[list[dict], list[Change]]:
        req_id, kind, body = message.get("id"), message["type"], message["body"]
        if kind == "cqm.UnsubscribeExConversations":
            self.conversation_subscriptions.pop(str(body.get("subscriptionId")), None)
            return [resp(req_id, 200, {}, "GenericResponse")], []  # [I]
        return self.run(CONSUMER_HANDLERS.get(kind), kind, req_id, body)

    def frames_for(self, change: Change) -> list[dict]:
        """Changes of its own conversations; at step-up the previous owner is told the conversation left. [I]"""
        if self.consumer_id not in change.consumer_ids:
            return []
        details = change.conversation
        if owner_of(details) != self.consumer_id:
            self.dialogs.pop(details["convId"], None)
            gone = {"type": "DELETE", "result": {"convId": details["convId"]}}
            return [
                notification(CONVERSATION_NOTIFICATION, {"subscriptionId": s, "changes": [gone]})
                for s in self.conversation_subscriptions
            ]
        frames = [
            notification(
                CONVERSATION_NOTIFICATION,
                {"subscriptionId": s, "changes": [conversation_change(matches(states, details), details, own_details)]},
            )
            for s, states in self.conversation_subscriptions.items()
        ]
        event = self.new_event(change)
        if event is not None and event["messageAudience"] != PRIVATE_AUDIENCE:
            frames.append(notification(EVENT_NOTIFICATION, {"changes": [event]}))
        return frames

    # --- handlers (under the store lock) -------------------------------------------------------------

    def _get_clock(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        return [resp(req_id, 200, {"currentTime": clock_ms()}, "GetClockResponse")]  # [I] the type's name

    def _init_again(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        """[I] an InitConnection on an authenticated socket changes nothing: its consumer stays the first JWT's."""
        return [resp(req_id, 200, {}, "InitConnectionResponse")]

    def _request_conversation(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        conversation = conversations.request_conversation(self.consumer_id, body)
        return [resp(req_id, 200, {"conversationId": conversation.id}, "cm.RequestConversationResponse")]  # [C]

    def _publish(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.owned_by(body.get("dialogId"), self.consumer_id)
        sequence = conversations.publish(conversation, self.consumer_id, CONSUMER, body.get("event"))
        answer = {} if sequence is None else {"sequence": sequence}  # [I] a ChatStateEvent has no sequence
        return [resp(req_id, 200, answer, "ms.PublishEventResponse")]  # [C]

    def _update_field(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.owned_by(body.get("conversationId"), self.consumer_id)
        answer = FieldUpdate(conversations, conversation, self.consumer_id, None).apply(body)
        return [
            resp(req_id, 200, answer, "cm.UpdateConversationFieldResponse")
        ]  # [I] the type; [C] a string for a dialog close

    def _set_profile(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        consumer = account.consumers.get(self.consumer_id)
        if consumer is None:
            raise MessagingError(404, f"consumer {self.consumer_id} not found")  # [I] a JWT of a forgotten consumer
        conversations.set_profile(consumer, body)
        return [resp(req_id, 200, dict(PROFILE_SET), "userprofile.SetUserProfileResponse")]  # [I] the type's name

    def _subscribe_conversations(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        """The answer, then at once the consumer's conversations (matching `convState`) as UPSERTs."""
        states = state_filter(body)
        subscription = self.subscribe_conversations(states)
        own = [conversation_details(account, c) for c in conversations.of_consumer(self.consumer_id)]
        changes = [conversation_change(True, details, own_details) for details in own if matches(states, details)]
        return [
            resp(
                req_id, 200, {"subscriptionId": subscription}, "cqm.SubscribeExConversationsResponse"
            ),  # [I] the type's name
            notification(CONVERSATION_NOTIFICATION, {"subscriptionId": subscription, "changes": changes}),
        ]

    def _upload_url(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        """A file's upload temp URL ([C] outbound 6: `ms.GenerateURLResponse`)."""
        answer = files.generate_url(current_namespace(), account, files.GENERATE_UPLOAD_URL, body)
        return [resp(req_id, 200, answer, files.GENERATE_URL_RESPONSE)]

    def _download_url(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        answer = files.generate_url(current_namespace(), account, files.GENERATE_DOWNLOAD_URL, body)
        return [resp(req_id, 200, answer, files.GENERATE_URL_RESPONSE)]

    def _subscribe_events(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        """The answer, then the history from `fromSeq` as one notification (none when empty [I]), then each new event."""
        conversation = conversations.owned_by(body.get("dialogId"), self.consumer_id)
        events = self.events_after(conversation.id, history(conversation), sequence_from(body, "fromSeq"))
        events = [event for event in events if event["messageAudience"] != PRIVATE_AUDIENCE]
        frames = [resp(req_id, 200, {}, "GenericSubscribeResponse")]  # [I] the type's name
        if events:
            frames.append(notification(EVENT_NOTIFICATION, {"changes": events}))
        return frames


CONSUMER_HANDLERS = {
    "GetClock": ConsumerConnection._get_clock,
    INIT_CONNECTION: ConsumerConnection._init_again,
    "cm.ConsumerRequestConversation": ConsumerConnection._request_conversation,
    "ms.PublishEvent": ConsumerConnection._publish,
    "cm.UpdateConversationField": ConsumerConnection._update_field,
    "userprofile.SetUserProfile": ConsumerConnection._set_profile,
    "cqm.SubscribeExConversations": ConsumerConnection._subscribe_conversations,
    "ms.SubscribeMessagingEvents": ConsumerConnection._subscribe_events,
    files.GENERATE_UPLOAD_URL: ConsumerConnection._upload_url,
    files.GENERATE_DOWNLOAD_URL: ConsumerConnection._download_url,
}


def _credential(ws) -> tuple[str | None, tuple[object] | None]:
    """The JWT the consumer presents, and the InitConnection `(id,)` to answer when it came that way."""
    if "Authorization" in request.headers:
        return presented_unauth_jwt(request.headers) or "", None  # [I] another scheme is an invalid JWT: 4407
    init = init_connection(ws.receive(timeout=INIT_SECONDS))
    return (None, None) if init is None else (init[1], (init[0],))


@socket_operation(PATH, before=_upgrade_possible)
def consumer_socket(ws, account_id: str) -> None:
    """Accept the upgrade; close with 4407 unless (and as soon as no longer) the consumer's JWT holds."""
    token, init = _credential(ws)
    consumer_id = None if token is None else consumer_of(account_id, token)
    if token is None or consumer_id is None:
        close(ws, CLOSE_JWT, "invalid jwt")  # [I] also no JWT, or no InitConnection in time
        return
    connection = ConsumerConnection(ws, current_namespace().name, account_id, consumer_id)
    if init is not None:
        connection.send(resp(init[0], 200, {}, "InitConnectionResponse"))  # [I] the answer's body and type
    still_good = lambda: None if consumer_of(account_id, token) == consumer_id else CLOSE_JWT  # noqa: E731
    serve(connection, still_good, lambda code: "jwt expired or revoked")
