"""LivePerson's agent WebSocket (the messaging UMS): `/ws_api/account/{a}/messaging/brand/{bearer}?v=2.1`.

Reference: liveperson.md sections 3.4 (the bearer in the path; close codes 4401/4407/1011), 6.6 (frames)
and 10.1 (what node-agent-sdk sends). Served with flask-sock, on either server (emulator/serving/server.py); under
the Flask test client, which cannot upgrade, the route answers 400 in LivePerson's envelope.

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
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext

from flask import Response, request

from ...core.keys import TokenError
from ...web import current_namespace, runtime
from . import notifications
from .conversation_fields import FieldUpdate
from .conversations import (
    AGENT,
    Change,
    Conversations,
    MessagingError,
    consumer_profile,
    conversation_details,
    history,
    unstorable,
)
from .errors import LivePersonError
from .http import PROVIDER, operation, socket_operation
from .login import session_of_bearer, user_pid_of
from .models import Account, Consumer, Conversation, LivePersonState, Ring
from .outbound import Outbound
from .routing import AVAILABILITIES, Presence, Routing, agent_pid, presence_of, ring_state, routing_task, waiting
from .subscriptions import ConversationFilter, View

PATH = "/ws_api/account/<account_id>/messaging/brand/<bearer>"
VERSIONS = ("2", "2.1")  # [C] lp-shell tutorial v=2; [O] node-agent-sdk 1.2.0 v=2.1
CLOSE_INVALID = 4401  # [C] an authentication problem; [I] the emulator's code for unknown, logged out, revoked
CLOSE_EXPIRED = 4407  # [C] an authentication problem; [I] the emulator's code for a session past its lifetime
IDLE_TICK_SECONDS = 1.0  # wall time between re-checks of an idle socket's credential
CLOSE_HANDSHAKE_SECONDS = 2.0  # wall time a closing socket waits for the client's close frame
NO_UPGRADE = "WebSocket upgrade not supported by this server"  # [I] waitress and the Flask test client
USER_PROFILE = ".ams.userprofile.GetUserProfile"  # [C] its body is the consumer id, a bare string
# [I] node-agent-sdk request types the emulator refuses, each with its reason (none silently accepted)
REFUSED_TYPES = {
    ".ams.cm.AgentRequestConversation": "agent-initiated conversations are not emulated",
    ".ams.routing.UpdateRoutingTaskSubscription": "UpdateRoutingTaskSubscription is not emulated (its request shape is not public)",
    ".ams.ms.GenerateURLForDownloadFile": "file sharing is not emulated on the agent socket",
    ".ams.ms.GenerateURLForUploadFile": "file sharing is not emulated on the agent socket",
}


def require_upgrade(versions: tuple[str, ...], hint: str) -> None:
    """Refuse, before any upgrade, another `v` and a server that cannot upgrade (400 in the envelope)."""
    if request.args.get("v") not in versions:
        raise LivePersonError(400, f"unsupported version: use v={hint}", "unsupported_version")  # [I]
    if "werkzeug.socket" not in request.environ:
        raise LivePersonError(400, NO_UPGRADE, "websocket_not_supported")


def _upgrade_possible() -> None:
    require_upgrade(VERSIONS, "2.1")


@operation("GET", PATH)
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
    """A `req` frame as a dict (`id`, `type`, `body` an object; a string for GetUserProfile), or MessagingError 400."""
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
    if not isinstance(body, dict) and not (message["type"] == USER_PROFILE and isinstance(body, str)):
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


def sequence_from(body: dict, field: str) -> int:
    value = body.get(field, 0)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise MessagingError(400, f"{field} must be a non-negative integer")  # [I]
    return value


class Connection:
    """One accepted socket: what it subscribed to, and the lock that orders what it sends. A listener of
    its account (`notifications.Listener`): `notify` sends what the socket may see of a change."""

    def __init__(self, ws, namespace: str, account_id: str) -> None:
        self.ws = ws
        self.namespace = namespace
        self.account_id = account_id
        self.lock = threading.Lock()  # held while answering a frame and while pushing: frames never interleave
        self.outbound = Outbound(ws)  # frames are queued, and written by a thread of the socket's own
        self.conversation_subscriptions: dict[str, tuple[str, ...] | None] = {}  # subscriptionId -> convState
        self.dialogs: dict[str, int] = {}  # subscribed dialog -> the next stored sequence to push

    def send(self, frame: dict) -> bool:
        """Queue one frame (hold `lock`); False when the peer is gone, or dropped for not reading."""
        return self.outbound.put(json.dumps(frame))

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

    def idle(self) -> None:
        """Called on every idle tick: what became due on the emulator's clock meanwhile."""

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
                close(connection.ws, code, close_message(code), connection.outbound.drained())
                return
            frame = connection.ws.receive(timeout=IDLE_TICK_SECONDS)
            if frame is None:
                connection.idle()
                continue
            code = close_code()
            if code is not None:
                close(connection.ws, code, close_message(code), connection.outbound.drained())
                return
            if not connection.handle(frame):
                return
    finally:
        registry.remove(connection.namespace, connection.account_id, connection)


def close(ws, code: int, message: str, lock: AbstractContextManager | None = None) -> None:
    """Send the close frame (under `lock`, the connection's `Outbound.drained()`, so that it follows what was queued), then wait
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
    return {**details, "participants": by_role, "participantsPId": by_role}


def conversation_change(matches: bool, details: dict, shown: Callable[[dict], dict]) -> dict:
    """One `changes` entry of an ExConversationChangeNotification: UPSERT while the conversation matches the
    subscription, DELETE once it left it. [I] (`effectiveTTR` -1: no effective time to respond is computed)"""
    kind = "UPSERT" if matches else "DELETE"
    return {
        "type": kind,
        "result": {"convId": details["convId"], "effectiveTTR": -1, "conversationDetails": shown(details)},
    }


def agent_event(change: dict) -> dict:
    """An event as the agent API shows it: node-agent-sdk reads `originatorPId`. [O]"""
    return {**change, "originatorPId": change["originatorId"]}


ROUTING_TASKS = ".ams.routing.RoutingTaskNotification"  # [CC] the raw type node-agent-sdk rewrites
AGENT_STATE = ".ams.routing.AgentStateNotification"  # [CC]


class AgentConnection(Connection):
    """The agent socket of one login session; its agent publishes as `config.userPid` (role ASSIGNED_AGENT). [I]
    Its availability and routing subscription live with the socket: [I] a closed socket is an OFFLINE agent."""

    def __init__(self, ws, namespace: str, account_id: str, agent_id: str, username: str) -> None:
        super().__init__(ws, namespace, account_id)
        self.agent_id = agent_id
        self.username = username
        self.online_dialogs: set[str] = set()  # dialogs followed through `.ams.ms.QueryMessages`
        self.views: dict[str, View] = {}  # conversation subscriptions by id
        self.availability = "OFFLINE"  # [I] until SetAgentState
        self.routing_subscription: str | None = None
        self.state_subscriptions: list[str] = []
        self.rung: dict[str, str] = {}  # conversation -> the ring pushed WAITING, until its end is pushed

    def answer(self, message: dict) -> tuple[list[dict], list[Change]]:
        req_id, kind, body = message.get("id"), message["type"], message["body"]
        if kind == ".GetClock":
            return [resp(req_id, 200, {"currentTime": _locked(clock_ms)})], []
        if kind in REFUSED_TYPES:
            raise MessagingError(400, REFUSED_TYPES[kind])
        if kind == ".ams.aam.UnsubscribeExConversations":
            self.views.pop(str(body.get("subscriptionId")), None)
            return [resp(req_id, 200, {})], []
        return self.run(AGENT_HANDLERS.get(kind), kind, req_id, body)

    def frames_for(self, change: Change) -> list[dict]:
        details = change.conversation
        frames = []
        for subscription, view in self.views.items():
            kind = view.change(details)
            if kind is not None:
                body = {
                    "subscriptionId": subscription,
                    "changes": [conversation_change(kind == "UPSERT", details, agent_details)],
                }
                frames.append(notification(".ams.aam.ExConversationChangeNotification", body))
        event = self.new_event(change)
        if event is not None:
            dialog = details["convId"]
            if dialog in self.online_dialogs:
                frames.append(notification(".ams.ms.OnlineEventDistribution", agent_event(event)))
            else:
                frames.append(
                    notification("ms.MessagingEventNotification", {"dialogId": dialog, "changes": [agent_event(event)]})
                )
        return frames + self.routing_frames(details["convId"])

    # --- routing ---------------------------------------------------------------------------------------

    def idle(self) -> None:
        """Push the end of rings that expired on the emulator's clock meanwhile. [I]"""
        if not self.rung:
            return
        with self.lock:
            for conversation_id in list(self.rung):
                for frame in self.routing_frames(conversation_id):
                    if not self.send(frame):
                        return

    def routing_frames(self, conversation_id: str) -> list[dict]:
        """After a change of a conversation: the end of this agent's ring for it (accepted, cancelled, expired),
        or a new ring when it now waits for this agent (hold `lock`; takes the store lock)."""
        if self.routing_subscription is None:
            return []
        with runtime().store.lock:
            namespace = runtime().store.view(self.namespace)
            account = namespace.state(PROVIDER).accounts.get(self.account_id)
            conversation = None if account is None else account.conversations.get(conversation_id)
            if conversation is None:
                return []
            now = namespace.clock.now()
            pushed = self.rung.get(conversation_id)
            ring = next((r for r in conversation.rings if r.ring_id == pushed), None)
            if ring is not None and ring_state(ring, now) == "WAITING" and waiting(conversation):
                return []  # still ringing
            self.rung.pop(conversation_id, None)
            frames = [] if ring is None else [self.ring_frame(conversation, ring, now)]
            presence = self.presence(account)
            new = (
                None
                if presence is None
                else Routing(Conversations(namespace, account), account, now).ring(conversation, presence)
            )
            if new is not None:
                frames.append(self.ring_frame(conversation, new, now))
            return frames

    def ring_frame(self, conversation: Conversation, ring: Ring, now: float) -> dict:
        """The ring as a RoutingTaskNotification (hold the store lock); a WAITING one is remembered."""
        task = routing_task(self.account_id, conversation, ring, now)
        if task["result"]["ringsDetails"][0]["ringState"] == "WAITING":
            self.rung[conversation.id] = ring.ring_id
        else:
            self.rung.pop(conversation.id, None)
        return notification(ROUTING_TASKS, {"subscriptionId": self.routing_subscription, "changes": [task]})

    def presence(self, account: Account) -> Presence | None:
        user = account.user(self.username)
        return None if user is None else presence_of(account, user, self.availability)

    def rings_now(self, conversations: Conversations, account: Account) -> list[dict]:
        """Rings of every conversation waiting for this agent, once it subscribed and is available."""
        presence = self.presence(account)
        if self.routing_subscription is None or presence is None:
            return []
        now = current_namespace().clock.now()
        rung = Routing(conversations, account, now).ring_waiting(presence)
        return [self.ring_frame(conversation, ring, now) for conversation, ring in rung]

    def agent_state(self, subscription: str) -> dict:
        result = {
            "channels": ["MESSAGING"],
            "availability": self.availability,
            "description": "",
            "agentUserId": self.agent_id,
        }
        return notification(
            AGENT_STATE, {"subscriptionId": subscription, "changes": [{"type": "UPSERT", "result": result}]}
        )

    # --- handlers (under the store lock) -------------------------------------------------------------

    def _set_agent_state(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        """[C] `availability` among the schema's states (and OCCUPIED); the answer is a string."""
        availability = body.get("availability")
        if availability not in AVAILABILITIES:
            raise MessagingError(400, f"availability must be one of {', '.join(AVAILABILITIES)}")  # [I]
        self.availability = availability
        states = [self.agent_state(subscription) for subscription in self.state_subscriptions]
        return [resp(req_id, 200, "Agent state updated successfully"), *states, *self.rings_now(conversations, account)]

    def _subscribe_agent_state(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        subscription = str(uuid.uuid4())  # [I]
        self.state_subscriptions.append(subscription)
        return [resp(req_id, 200, {"subscriptionId": subscription}), self.agent_state(subscription)]

    def _subscribe_routing(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        """[C] `{subscriptionId}`; then a ring for each conversation waiting for this agent, if it is available."""
        self.routing_subscription = self.routing_subscription or str(uuid.uuid4())  # [I] one per socket
        return [
            resp(req_id, 200, {"subscriptionId": self.routing_subscription}),
            *self.rings_now(conversations, account),
        ]

    def _update_ring(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        """[C] ACCEPTED or REJECTED; the ring's end is pushed with the conversation's change (or here, if none)."""
        routing = Routing(conversations, account, current_namespace().clock.now())
        conversation, ring = routing.answer(self.agent_id, body)
        frames = [resp(req_id, 200, "Ring state updated successfully")]
        if not conversations.changes and self.routing_subscription is not None:
            frames.append(self.ring_frame(conversation, ring, current_namespace().clock.now()))
        return frames

    def _subscribe_conversations(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
        """[C] the subscription's id, then the matching conversations changed since `minLastUpdatedTime`."""
        view = View(ConversationFilter.parse(body, lambda agent: agent_pid(account, agent)))
        subscription = str(uuid.uuid4())  # [I] the id's format is not public
        every = [conversation_details(account, conversation) for conversation in account.conversations.values()]
        shown = [details for details in every if view.filter.first_fetch(details)]
        view.shown.update(details["convId"] for details in shown)
        self.views[subscription] = view
        changes = [conversation_change(True, details, agent_details) for details in shown]
        return [
            resp(req_id, 200, {"subscriptionId": subscription}),
            notification(
                ".ams.aam.ExConversationChangeNotification", {"subscriptionId": subscription, "changes": changes}
            ),
        ]

    def _subscribe_events(
        self, req_id: object, body: dict, conversations: Conversations, account: Account
    ) -> list[dict]:
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
        sequence = conversations.publish(
            conversation, self.agent_id, AGENT, body.get("event"), body.get("messageAudience", "ALL")
        )
        return [resp(req_id, 200, {} if sequence is None else {"sequence": sequence})]  # [I] a ChatStateEvent has none

    def _update_field(self, req_id: object, body: dict, conversations: Conversations, account: Account) -> list[dict]:
        conversation = conversations.get(body.get("conversationId"))
        update = FieldUpdate(conversations, conversation, self.agent_id, lambda agent: agent_pid(account, agent))
        return [resp(req_id, 200, update.apply(body))]

    def _user_profile(self, req_id: object, body: object, conversations: Conversations, account: Account) -> list[dict]:
        """[C] the body is the consumer id (a string; [CC] LABS sent `{"userId"}`, also accepted); the answer is
        `.ams.userprofile.GetUserProfile$Response` with the raw object node-agent-sdk turns into SDEs [CC],
        `{}` for an unknown consumer [I]. The emulator adds the consumer's own fields and `stepUp`. [I]"""
        user_id = body if isinstance(body, str) else body.get("userId") if isinstance(body, dict) else None
        if not isinstance(user_id, str):
            raise MessagingError(400, "the body must be the consumer id (a string)")  # [I]
        consumer = account.consumers.get(user_id)
        if consumer is None:
            return [resp(req_id, 200, {}, PROFILE_RESPONSE)]
        stepped = [c for c in conversations.of_consumer(consumer.consumer_id) if c.stepped_up_from is not None]
        step_up = conversation_details(account, stepped[-1])["stepUp"] if stepped else None
        return [
            resp(
                req_id,
                200,
                {**raw_profile(consumer), **consumer_profile(consumer), "stepUp": step_up},
                PROFILE_RESPONSE,
            )
        ]


PROFILE_RESPONSE = ".ams.userprofile.GetUserProfile$Response"  # [CC] the type node-agent-sdk transforms


def raw_profile(consumer: Consumer) -> dict:
    """The consumer's profile in the raw form node-agent-sdk reads ([CC] Transformer.js): `authenticatedData.lp_sdes`,
    `firstName`, `lastName`, `privateData.email`."""
    profile = consumer.profile
    raw: dict = {"authenticatedData": {"lp_sdes": profile.get("lp_sdes", [])}}
    names = {"firstName": profile.get("given_name"), "lastName": profile.get("family_name")}
    raw |= {name: value for name, value in names.items() if isinstance(value, str)}
    if isinstance(profile.get("email"), str):
        raw["privateData"] = {"email": profile["email"]}
    return raw


AGENT_HANDLERS = {
    ".ams.aam.SubscribeExConversations": AgentConnection._subscribe_conversations,
    "ms.SubscribeMessagingEvents": AgentConnection._subscribe_events,
    ".ams.ms.QueryMessages": AgentConnection._query_messages,
    ".ams.ms.PublishEvent": AgentConnection._publish,
    ".ams.cm.UpdateConversationField": AgentConnection._update_field,
    USER_PROFILE: AgentConnection._user_profile,
    ".ams.routing.SetAgentState": AgentConnection._set_agent_state,
    ".ams.routing.SubscribeAgentsState": AgentConnection._subscribe_agent_state,
    ".ams.routing.SubscribeRoutingTasks": AgentConnection._subscribe_routing,
    ".ams.routing.UpdateRingState": AgentConnection._update_ring,
}


def _locked(read: Callable[[], int]) -> int:
    with runtime().store.lock:
        return read()


def _agent(account_id: str, bearer: str) -> tuple[str, str] | None:
    """The session's agent (`config.userPid`) and username, or None when the bearer does not hold."""
    with runtime().store.lock:
        namespace = current_namespace()
        account = account_of(account_id)
        session = (
            None if account is None else session_of_bearer(account, bearer, namespace.clock.now(), namespace.tokens)
        )
        user = None if session is None else account.user(session.username)  # type: ignore[union-attr]
        return None if user is None else (user_pid_of(account_id, user), user.username)


@socket_operation(PATH, before=_upgrade_possible)
def agent_socket(ws, account_id: str, bearer: str) -> None:
    """Accept the upgrade; close with 4401/4407 as soon as the bearer is no longer good."""
    agent = _agent(account_id, bearer)
    check = lambda: close_code(account_id, bearer) or (None if agent is not None else CLOSE_INVALID)  # noqa: E731
    connection = AgentConnection(ws, current_namespace().name, account_id, *(agent or ("", "")))
    serve(connection, check, lambda code: "expired" if code == CLOSE_EXPIRED else "unauthorized")
