"""LivePerson's agent WebSocket (the messaging UMS): `/ws_api/account/{a}/messaging/brand/{bearer}?v=2.1`.

Reference: liveperson.md sections 3.4 (the bearer in the path; close codes 4401/4407/1011), 6.6 (frames)
and 10.1 (what node-agent-sdk sends). Served with flask-sock, so only Werkzeug's server (plain or TLS)
can upgrade; under waitress or the Flask test client the route answers 400 in LivePerson's envelope.

The bearer is checked against the emulator's clock before each frame and on an idle tick of one second
of wall time, so a session that expires (clock moved), is logged out, or is expired/revoked through the
control API closes the socket: 4401 when the bearer is unknown or revoked, 4407 when it expired. [I]

The agent sees every messaging conversation of its account (`.ams.aam.SubscribeExConversations`), reads and
follows a dialog's events (`ms.SubscribeMessagingEvents`, and `.ams.ms.QueryMessages`, which node-agent-sdk
1.2.0 sends for it), publishes into it and closes it. `Connection` and `serve` are shared with the consumer
socket (consumer_ws.py): one lock per connection orders its frames, and nothing is sent under the store lock.
"""

from __future__ import annotations

import json
import math
import threading
import uuid
from contextlib import nullcontext
from typing import Callable

from flask import Response, request
from flask_sock import Sock
from simple_websocket import ConnectionClosed
from wsproto.utilities import LocalProtocolError

from ...core.keys import TokenError
from ...web import current_namespace, runtime
from . import notifications
from .conversations import AGENT, Change, Conversations, MessagingError, consumer_profile, conversation_details, history, unstorable
from .errors import LivePersonError
from .login import session_of_bearer, user_pid_of
from .models import Account, LivePersonState
from .routes import PROVIDER, blueprint

PATH = "/ws_api/account/<account_id>/messaging/brand/<bearer>"
ENDPOINT = f"{PROVIDER}.agent_socket"
VERSIONS = ("2", "2.1")  # [C] lp-shell tutorial v=2; [O] node-agent-sdk 1.2.0 v=2.1
CLOSE_INVALID = 4401  # [C] an authentication problem; [I] the emulator's code for unknown, logged out, revoked
CLOSE_EXPIRED = 4407  # [C] an authentication problem; [I] the emulator's code for a session past its lifetime
IDLE_TICK_SECONDS = 1.0  # wall time between re-checks of an idle socket's credential
CLOSE_HANDSHAKE_SECONDS = 2.0  # wall time a closing socket waits for the client's close frame
NO_UPGRADE = "WebSocket upgrade not supported by this server"  # [I] waitress and the Flask test client
# [O]/[CC] request types seen in node-agent-sdk that change nothing: they answer `{}` with code 200 [I]
ACCEPTED_TYPES = (
    ".ams.routing.SetAgentState", ".ams.routing.SubscribeRoutingTasks", ".ams.routing.UpdateRingState",
    ".ams.routing.UpdateRoutingTaskSubscription", ".ams.routing.SubscribeAgentsState",
)  # fmt: skip
CLOSE_FIELD = "ConversationStateField"
PARTICIPANTS_FIELD = "ParticipantsChange"
CONVERSATION_STATES = ("OPEN", "CLOSE")

sock = Sock()


def require_upgrade(versions: tuple[str, ...], hint: str) -> None:
    """Refuse, before any upgrade, another `v` and a server that cannot upgrade (400 in the envelope)."""
    if request.args.get("v") not in versions:
        raise LivePersonError(400, f"unsupported version: use v={hint}", "unsupported_version")  # [I]
    if "werkzeug.socket" not in request.environ:
        raise LivePersonError(400, NO_UPGRADE, "websocket_not_supported")


@blueprint.before_request
def _upgrade_possible() -> None:
    if request.endpoint == ENDPOINT:
        require_upgrade(VERSIONS, "2.1")


@blueprint.get(PATH)
def agent_socket_without_upgrade(account_id: str, bearer: str) -> Response:
    """A plain GET (no `Upgrade: websocket`) on the socket's path. [I]"""
    raise LivePersonError(400, "a WebSocket upgrade is required", "websocket_required")


# --- frames shared by both sockets ------------------------------------------------------------------


def resp(req_id: object, code: int, body: object, kind: str | None = None) -> dict:
    """A `resp` frame ([O] section 6.6; the consumer socket adds `type`, [C] section 6.5)."""
    frame = {"kind": "resp", "reqId": req_id, "code": code, "body": body}
    return frame if kind is None else {**frame, "type": kind}


def notification(kind: str, body: dict) -> dict:
    return {"kind": "notification", "body": body, "type": kind}


def parse_request(frame: str | bytes) -> dict:
    """A `req` frame as a dict (`id`, `type`, `body` an object), or MessagingError 400."""
    if isinstance(frame, bytes):
        frame = frame.decode("utf-8", "replace")
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError):
        message = None
    if not isinstance(message, dict) or message.get("kind") != "req" or not isinstance(message.get("type"), str):
        raise MessagingError(400, "a frame must be a JSON object with kind req and a type")  # [I]
    problem = unstorable(message)
    if problem:
        raise MessagingError(400, problem)  # what is stored must stay exportable
    body = message.get("body", {})
    if not isinstance(body, dict):
        raise MessagingError(400, "body must be an object")  # [I]
    return {**message, "body": body}


def request_id(frame: str | bytes) -> object:
    """The `id` of a frame, when it is a JSON object that has one (for the answer to a refused frame)."""
    try:
        message = json.loads(frame)
    except (ValueError, RecursionError, TypeError):
        return None
    req_id = message.get("id") if isinstance(message, dict) else None
    return None if isinstance(req_id, float) and not math.isfinite(req_id) else req_id  # NaN is no JSON to echo


def state_filter(body: dict) -> tuple[str, ...] | None:
    """A subscription's `convState` (None: every state), or MessagingError 400."""
    states = body.get("convState")
    if states is None:
        return None
    if not isinstance(states, list) or not all(state in CONVERSATION_STATES for state in states):
        raise MessagingError(400, f"convState must list states among {', '.join(CONVERSATION_STATES)}")  # [I]
    return tuple(states)


def sequence_from(body: dict, field: str) -> int:
    value = body.get(field, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MessagingError(400, f"{field} must be a non-negative integer")  # [I]
    return value


def close_requested(body: dict) -> bool:
    """Whether `cm.UpdateConversationField` asks to close (`conversationField` an object or a list of them);
    True for a ConversationStateField CLOSE, False for fields the emulator accepts without change, else 400."""
    fields = body.get("conversationField")
    fields = [fields] if isinstance(fields, dict) else fields
    if not isinstance(fields, list) or not fields or not all(isinstance(field, dict) for field in fields):
        raise MessagingError(400, "conversationField must be an object or a list of objects")
    closing = False
    for field in fields:
        if field.get("field") == CLOSE_FIELD and field.get("conversationState") == "CLOSE":
            closing = True
        elif field.get("field") != PARTICIPANTS_FIELD:  # [I] a participants change (join, leave) is accepted, changes nothing
            raise MessagingError(400, "only ConversationStateField CLOSE and ParticipantsChange are supported")  # [I]
    return closing


class Connection:
    """One accepted socket: what it subscribed to, and the lock that orders what it sends. A listener of
    its account (`notifications.Listener`): `notify` sends what the socket may see of a change."""

    def __init__(self, ws, namespace: str, account_id: str) -> None:
        self.ws = ws
        self.namespace = namespace
        self.account_id = account_id
        self.lock = threading.Lock()  # held while answering a frame and while pushing: frames never interleave
        self.conversation_subscriptions: dict[str, tuple[str, ...] | None] = {}  # subscriptionId -> convState
        self.dialogs: dict[str, int] = {}  # subscribed dialog -> the next stored sequence to push

    def send(self, frame: dict) -> bool:
        """Send one frame (hold `lock`); False when the peer is gone."""
        try:
            self.ws.send(json.dumps(frame))
        except (OSError, ConnectionClosed, LocalProtocolError):  # the peer went away mid-send, or the socket is closing
            return False
        return True

    def notify(self, change: Change) -> None:
        with self.lock:
            for frame in self.frames_for(change):
                if not self.send(frame):
                    return

    def frames_for(self, change: Change) -> list[dict]:
        """The pushes this socket gets for `change` (hold `lock`)."""
        raise NotImplementedError

    def answer(self, message: dict) -> tuple[list[dict], list[Change]]:
        """The frames answering one request (its `resp` first) and the changes to dispatch."""
        raise NotImplementedError

    def refused(self, req_id: object, error: MessagingError) -> dict:
        return resp(req_id, error.code, {"msg": error.message})

    def run(self, handler: Callable | None, kind: str, req_id: object, body: dict) -> tuple[list[dict], list[Change]]:
        """A conversation request's handler, under the store lock: its frames and the changes to dispatch."""
        if handler is None:
            raise MessagingError(400, f"unknown request type: {kind}")  # [I]
        with runtime().store.lock:
            account = account_of(self.account_id)
            if account is None:
                raise MessagingError(404, f"account {self.account_id} not found")  # [I] the namespace was reset
            conversations = Conversations(current_namespace(), account)
            frames = handler(self, req_id, body, conversations, account)
        return frames, conversations.changes

    def handle(self, frame: str | bytes) -> bool:
        """Answer one frame; False when the peer is gone. A frame that changed conversations is answered once
        every listener (this one too) got its changes, so whatever the client does next sees them. [I]"""
        with self.lock:
            try:
                frames, changes = self.answer(parse_request(frame))
            except MessagingError as error:
                frames, changes = [self.refused(request_id(frame), error)], []
            if not changes:  # a subscription's answer and first pushes go out with the snapshot they show
                return all(self.send(out) for out in frames)
        notifications.dispatch(changes)
        with self.lock:
            return all(self.send(out) for out in frames)

    def subscribe_conversations(self, states: tuple[str, ...] | None) -> str:
        subscription = str(uuid.uuid4())  # [I] the id's format is not public
        self.conversation_subscriptions[subscription] = states
        return subscription

    def events_after(self, dialog_id: str, history: list[dict], from_seq: int) -> list[dict]:
        """Subscribe to a dialog: its stored events from `from_seq`; later pushes continue after them."""
        self.dialogs[dialog_id] = len(history)
        return [change for change in history if change["sequence"] >= from_seq]

    def new_event(self, change: Change) -> dict | None:
        """The event of `change` this socket has not pushed yet, in a dialog it follows, else None."""
        if change.event is None or change.conversation["convId"] not in self.dialogs:
            return None
        dialog = change.conversation["convId"]
        if change.transient:
            return change.event
        if change.event["sequence"] < self.dialogs[dialog]:
            return None  # already in the history the subscription answered
        self.dialogs[dialog] = change.event["sequence"] + 1
        return change.event


def serve(connection: Connection, close_code: Callable[[], int | None], close_message: Callable[[int], str]) -> None:
    """Listen for the account's changes and answer frames until the peer leaves or `close_code` says why
    the credential no longer holds (checked before each frame and on every idle tick)."""
    registry = notifications.listeners()
    registry.add(connection.namespace, connection.account_id, connection)
    try:
        while True:
            code = close_code()
            if code is not None:
                close(connection.ws, code, close_message(code), connection.lock)
                return
            frame = connection.ws.receive(timeout=IDLE_TICK_SECONDS)
            if frame is None:
                continue
            code = close_code()
            if code is not None:
                close(connection.ws, code, close_message(code), connection.lock)
                return
            if not connection.handle(frame):
                return
    finally:
        registry.remove(connection.namespace, connection.account_id, connection)


def close(ws, code: int, message: str, lock: threading.Lock | None = None) -> None:
    """Send the close frame (under the connection's `lock`, so that no push is written mid-close), then wait
    (bounded, outside it) for the client's: the socket's reader thread must be done with the connection
    before Werkzeug closes it."""
    with lock or nullcontext():
        if ws.connected:
            ws.close(reason=code, message=message)
    ws.thread.join(CLOSE_HANDSHAKE_SECONDS)


def account_of(account_id: str) -> Account | None:
    """The account in the request's namespace (hold the store lock)."""
    state: LivePersonState = current_namespace().state(PROVIDER)
    return state.accounts.get(account_id)


def clock_ms() -> int:
    return int(current_namespace().clock.now() * 1000)


# --- the agent socket -------------------------------------------------------------------------------


def close_code(account_id: str, bearer: str) -> int | None:
    """None while the bearer's session is live on the namespace's clock, else the close code."""
    with runtime().store.lock:
        namespace = current_namespace()
        account = account_of(account_id)
        if account is None:
            return CLOSE_INVALID
        now = namespace.clock.now()
        if session_of_bearer(account, bearer, now, namespace.tokens) is not None:
            return None
        session = next((s for s in account.sessions.values() if s.bearer == bearer), None)
        if session is None:
            return CLOSE_INVALID
        if not session.live(now):
            return CLOSE_EXPIRED
        try:
            namespace.tokens.check(bearer, now)
        except TokenError as error:
            return CLOSE_EXPIRED if error.reason == TokenError.EXPIRED else CLOSE_INVALID
        return CLOSE_INVALID


def agent_details(details: dict) -> dict:
    """A conversation as the agent API shows it ([O] node-agent-sdk 1.2.0 reads the v2 shape: `participants`
    and `participantsPId` by role, `dialogs[].participantsDetails`); ids are PIDs in both maps. [I]"""
    by_role: dict[str, list[str]] = {}
    for participant in details["participants"]:
        by_role.setdefault(participant["role"], []).append(participant["id"])
    in_dialog = [{"id": p["id"], "role": p["role"], "state": "ACTIVE"} for p in details["participants"]]
    dialogs = [{**dialog, "participantsDetails": in_dialog} for dialog in details["dialogs"]]
    return {**details, "participants": by_role, "participantsPId": by_role, "dialogs": dialogs}


def conversation_change(subscription: tuple[str, ...] | None, details: dict, shown: Callable[[dict], dict]) -> dict:
    """One `changes` entry of an ExConversationChangeNotification: UPSERT while the conversation matches the
    subscription's states, DELETE once it left them. [I] (`effectiveTTR` -1: no time to respond is kept)"""
    kind = "UPSERT" if subscription is None or details["state"] in subscription else "DELETE"
    return {"type": kind, "result": {"convId": details["convId"], "effectiveTTR": -1, "conversationDetails": shown(details)}}


def agent_event(change: dict) -> dict:
    """An event as the agent API shows it: node-agent-sdk reads `originatorPId`. [O]"""
    return {**change, "originatorPId": change["originatorId"]}


class AgentConnection(Connection):
    """The agent socket of one login session; its agent publishes as `config.userPid` (role ASSIGNED_AGENT). [I]"""

    def __init__(self, ws, namespace: str, account_id: str, agent_id: str) -> None:
        super().__init__(ws, namespace, account_id)
        self.agent_id = agent_id
        self.online_dialogs: set[str] = set()  # dialogs followed through `.ams.ms.QueryMessages`

    def answer(self, message: dict) -> tuple[list[dict], list[Change]]:
        req_id, kind, body = message.get("id"), message["type"], message["body"]
        if kind == ".GetClock":
            return [resp(req_id, 200, {"currentTime": _locked(clock_ms)})], []
        if kind in ACCEPTED_TYPES:
            return [resp(req_id, 200, {})], []
        if kind == ".ams.aam.UnsubscribeExConversations":
            self.conversation_subscriptions.pop(str(body.get("subscriptionId")), None)
            return [resp(req_id, 200, {})], []
        return self.run(AGENT_HANDLERS.get(kind), kind, req_id, body)

    def frames_for(self, change: Change) -> list[dict]:
        frames = [
            notification(".ams.aam.ExConversationChangeNotification", {
                "subscriptionId": subscription, "changes": [conversation_change(states, change.conversation, agent_details)],
            })
            for subscription, states in self.conversation_subscriptions.items()
        ]  # fmt: skip
        event = self.new_event(change)
        if event is not None:
            dialog = change.conversation["convId"]
            if dialog in self.online_dialogs:
                frames.append(notification(".ams.ms.OnlineEventDistribution", agent_event(event)))
            else:
                frames.append(notification("ms.MessagingEventNotification", {"dialogId": dialog, "changes": [agent_event(event)]}))
        return frames

    # --- handlers (under the store lock) -------------------------------------------------------------

    def _subscribe_conversations(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        states = state_filter(body)
        subscription = self.subscribe_conversations(states)
        every = [conversation_details(account, conversation) for conversation in account.conversations.values()]
        shown = [details for details in every if states is None or details["state"] in states]
        changes = [conversation_change(states, details, agent_details) for details in shown]
        return [
            resp(req_id, 200, {"subscriptionId": subscription}),
            notification(".ams.aam.ExConversationChangeNotification", {"subscriptionId": subscription, "changes": changes}),
        ]

    def _subscribe_events(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.get(body.get("dialogId"))
        events = self.events_after(conversation.id, history(conversation), sequence_from(body, "fromSeq"))
        self.online_dialogs.discard(conversation.id)
        frames = [resp(req_id, 200, {})]
        if events:
            body = {"dialogId": conversation.id, "changes": [agent_event(change) for change in events]}
            frames.append(notification("ms.MessagingEventNotification", body))
        return frames

    def _query_messages(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        """node-agent-sdk 1.2.0's `subscribeMessagingEvents`: the events from `newerThanSequence` (the SDK puts
        `fromSeq` there) as the response, then `.ams.ms.OnlineEventDistribution` pushes. [O]/[I]"""
        conversation = conversations.get(body.get("dialogId"))
        events = self.events_after(conversation.id, history(conversation), sequence_from(body, "newerThanSequence"))
        self.online_dialogs.add(conversation.id)
        return [resp(req_id, 200, [agent_event(change) for change in events], ".ams.ms.QueryMessages$Response")]

    def _publish(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.get(body.get("dialogId"))
        sequence = conversations.publish(conversation, self.agent_id, AGENT, body.get("event"), body.get("messageAudience", "ALL"))
        return [resp(req_id, 200, {} if sequence is None else {"sequence": sequence})]  # [I] a ChatStateEvent has none

    def _update_field(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.get(body.get("conversationId"))
        if close_requested(body):
            conversations.close(conversation, role=AGENT)
        return [resp(req_id, 200, {})]

    def _user_profile(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        """The consumer's profile, with `stepUp` of its latest stepped-up conversation (None if none). [I]"""
        user_id = body.get("userId")
        consumer = account.consumers.get(user_id) if isinstance(user_id, str) else None
        if consumer is None:
            raise MessagingError(404, f"user {user_id} not found")  # [I]
        stepped = [c for c in conversations.of_consumer(consumer.consumer_id) if c.stepped_up_from is not None]
        step_up = conversation_details(account, stepped[-1])["stepUp"] if stepped else None
        return [resp(req_id, 200, {**consumer_profile(consumer), "stepUp": step_up})]


AGENT_HANDLERS = {
    ".ams.aam.SubscribeExConversations": AgentConnection._subscribe_conversations,
    "ms.SubscribeMessagingEvents": AgentConnection._subscribe_events,
    ".ams.ms.QueryMessages": AgentConnection._query_messages,
    ".ams.ms.PublishEvent": AgentConnection._publish,
    ".ams.cm.UpdateConversationField": AgentConnection._update_field,
    ".ams.userprofile.GetUserProfile": AgentConnection._user_profile,
}


def _locked(read: Callable[[], int]) -> int:
    with runtime().store.lock:
        return read()


def _agent_id(account_id: str, bearer: str) -> str | None:
    """The session's agent (`config.userPid`), or None when the bearer does not hold."""
    with runtime().store.lock:
        namespace = current_namespace()
        account = account_of(account_id)
        session = None if account is None else session_of_bearer(account, bearer, namespace.clock.now(), namespace.tokens)
        user = None if session is None else account.user(session.username)  # type: ignore[union-attr]
        return None if user is None else user_pid_of(account_id, user)


@sock.route(PATH, bp=blueprint)
def agent_socket(ws, account_id: str, bearer: str) -> None:
    """Accept the upgrade; close with 4401/4407 as soon as the bearer is no longer good."""
    agent_id = _agent_id(account_id, bearer)
    check = lambda: close_code(account_id, bearer) or (None if agent_id is not None else CLOSE_INVALID)  # noqa: E731
    connection = AgentConnection(ws, current_namespace().name, account_id, agent_id or "")
    serve(connection, check, lambda code: "expired" if code == CLOSE_EXPIRED else "unauthorized")
