"""LivePerson messaging conversations: the rules every surface shares (Connector API, consumer and agent
WebSockets, step-up), on the namespace's clock. Reference: liveperson.md sections 6.2 to 6.6 and 7.

A surface parses its request, calls `Conversations` under the store lock, answers, and then hands the
`changes` it collected to `notifications.dispatch` (outside the lock) so that subscribed sockets get pushes.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from typing import Final, cast

from ...core.store import Namespace
from .models import Account, AgentParticipant, Audience, CloseReason, Consumer, Conversation, EventRole, MessagingEvent

CONSUMER: Final = "CONSUMER"
AGENT: Final = "ASSIGNED_AGENT"
MANAGER: Final = "MANAGER"
CLOSE_REASONS: dict[str, CloseReason] = {CONSUMER: "CONSUMER", AGENT: "AGENT", MANAGER: "AGENT"}  # by the closing role
CONTENT_EVENT = "ContentEvent"
RICH_CONTENT_EVENT = "RichContentEvent"
CHAT_STATE_EVENT = "ChatStateEvent"
ACCEPT_STATUS_EVENT = "AcceptStatusEvent"
CHAT_STATES = ("ACTIVE", "INACTIVE", "GONE", "COMPOSING", "PAUSE")  # [C] section 6.3
ACCEPT_STATUSES = ("ACCEPT", "READ", "ACCESS", "NACK", "ACTION")  # [C] section 6.3
AUDIENCES = ("ALL", "AGENTS_AND_MANAGERS")  # [C] `messageAudience`; the second never reaches the consumer
MAX_JSON_DEPTH = 32  # [I] deepest nesting a request may have: what is stored must stay exportable
MAX_MESSAGE_CHARACTERS = 10_000  # [I] LivePerson's limit on a text message is not public
HOSTED_FILE = "hosted/file"  # [C] a ContentEvent whose message is an uploaded file
HOSTED_FILE_TYPES = ("IMG", "JPG", "JPEG", "PNG", "GIF", "TXT", "PDF")  # [C] the schema's enum and the examples' JPEG
MAX_PREVIEW_CHARACTERS = 30 * 1024  # [C] a preview under 30 KB
# [I] LivePerson keeps one open messaging conversation per consumer: a second request is refused
ALREADY_OPEN = "consumer already has an open conversation"


class MessagingError(Exception):
    """A refused messaging request; each surface answers it in its own shape (`code` is an HTTP status)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Change:
    """What a socket may be told about: a conversation changed, and the event published into it, if any.
    Snapshots, taken under the store lock, so pushes never read live state."""

    namespace: str
    account_id: str
    conversation: dict  # `conversation_details`
    consumer_ids: tuple[str, ...]  # consumers that may see it (the owner; at step-up also the previous owner)
    event: dict | None = None  # `event_change` of a published event
    transient: bool = False  # a ChatStateEvent: pushed, never stored


class Conversations:
    """The messaging rules of one account."""

    def __init__(self, namespace: Namespace, account: Account) -> None:
        self._namespace = namespace
        self._account = account
        self._now = namespace.clock.now()
        self.changes: list[Change] = []

    # --- reads ---------------------------------------------------------------------------------------

    def get(self, conversation_id: object) -> Conversation:
        conversation = self._account.conversations.get(conversation_id) if isinstance(conversation_id, str) else None
        if conversation is None:
            raise MessagingError(404, f"conversation {conversation_id} not found")  # [I]
        return conversation

    def of_consumer(self, consumer_id: str) -> list[Conversation]:
        """The consumer's conversations, oldest first."""
        return [c for c in self._account.conversations.values() if c.consumer_id == consumer_id]

    def open_of(self, consumer_id: str) -> Conversation | None:
        return next((c for c in self.of_consumer(consumer_id) if c.state == "OPEN"), None)

    def owned_by(self, conversation_id: object, consumer_id: str) -> Conversation:
        """A consumer's own conversation; another consumer's is refused as if it did not exist. [I]"""
        conversation = self.get(conversation_id)
        if conversation.consumer_id != consumer_id:
            raise MessagingError(404, f"conversation {conversation_id} not found")
        return conversation

    # --- writes --------------------------------------------------------------------------------------

    def set_profile(self, consumer: Consumer, body: object) -> None:
        """`userprofile.SetUserProfile`: `{}` or `{"authenticatedData": {"lp_sdes": [...]}}`, merged into the profile."""
        if not isinstance(body, dict):
            raise MessagingError(400, "body must be an object")
        data = body.get("authenticatedData", {})
        if not isinstance(data, dict):
            raise MessagingError(400, "authenticatedData must be an object")
        sdes = data.get("lp_sdes", [])
        if not isinstance(sdes, list) or not all(
            isinstance(sde, dict) and isinstance(sde.get("type"), str) for sde in sdes
        ):
            raise MessagingError(400, "lp_sdes must be a list of objects with a type")
        if sdes:
            consumer.profile = {**consumer.profile, "lp_sdes": sdes}

    def profile_and_request(
        self, consumer_id: str, profiles: list[object], request: object | None, app_client_id: str
    ) -> str | None:
        """A Connector API call of the app `app_client_id`: `SetUserProfile` bodies merged into a copy of the
        (external) consumer, put in place only when the conversation request, if any, goes through: a refused
        call leaves the account as it was. The new conversation's id, if one was requested; [I] the opening
        app's webhooks follow that conversation."""
        known = self._account.consumers.get(consumer_id)
        consumer = (
            known.model_copy(deep=True)
            if known
            else Consumer(consumer_id=consumer_id, kind="external", first_seen=self._now)
        )
        for body in profiles:
            self.set_profile(consumer, body)
        self._account.consumers[consumer_id] = consumer  # the conversation's details show the new profile
        try:
            conversation = None if request is None else self.request_conversation(consumer_id, request)
        except MessagingError:
            if known is None:
                del self._account.consumers[consumer_id]
            else:
                self._account.consumers[consumer_id] = known
            raise
        if known is None:
            self._account.added_consumer(self._now)
        if conversation is None:
            return None
        conversation.app_client_id = app_client_id
        return conversation.id

    def request_conversation(self, consumer_id: str, body: object) -> Conversation:
        """`cm.ConsumerRequestConversation`: a new open conversation for the consumer."""
        if not isinstance(body, dict):
            raise MessagingError(400, "body must be an object")
        brand_id = body.get("brandId", self._account.id)
        if brand_id != self._account.id:
            raise MessagingError(400, f"brandId {brand_id} is not this account")  # [I]
        skill_id = body.get("skillId", "-1")
        if isinstance(skill_id, int) and not isinstance(skill_id, bool):
            skill_id = str(skill_id)
        if not isinstance(skill_id, str):
            raise MessagingError(400, "skillId must be a string")
        context = body.get("conversationContext", {})
        campaign = body.get("campaignInfo", {})
        if not isinstance(context, dict) or not isinstance(campaign, dict):
            raise MessagingError(400, "conversationContext and campaignInfo must be objects")
        if self.open_of(consumer_id) is not None:
            raise MessagingError(400, ALREADY_OPEN)
        conversation = Conversation(
            id=str(uuid.uuid4()),
            consumer_id=consumer_id,
            started_at=self._now,
            skill_id=skill_id,
            context=context,
            campaign=campaign,
        )
        self._account.conversations[conversation.id] = conversation
        self._account.added_conversation()
        self._changed(conversation)  # metaDataLastUpdateTs: startTs
        return conversation

    def publish(
        self, conversation: Conversation, originator_id: str, role: EventRole, event: object, audience: object = "ALL"
    ) -> int | None:
        """`ms.PublishEvent` into an open conversation: the event's sequence (None for a ChatStateEvent)."""
        checked = check_event(event, conversation)
        if audience not in AUDIENCES:
            raise MessagingError(400, f"messageAudience must be one of {', '.join(AUDIENCES)}")
        audience = cast(Audience, audience)
        if conversation.state != "OPEN":
            raise MessagingError(400, f"conversation {conversation.id} is closed")  # [I] the text is not public
        now_ms = int(self._now * 1000)
        if checked["type"] == CHAT_STATE_EVENT:  # [I] typing states are pushed to subscribers, never stored
            transient = MessagingEvent(
                sequence=0,
                originator_id=originator_id,
                role=role,
                event=checked,
                server_timestamp=now_ms,
                audience=audience,
            )
            self._changed(conversation, event_change(conversation, transient, sequence=-1), transient=True)
            return None
        joined = False
        if role == AGENT:
            role, joined = self._agent_role(conversation, originator_id)
        stored = MessagingEvent(
            sequence=len(conversation.events),
            originator_id=originator_id,
            role=role,
            event=checked,
            server_timestamp=now_ms,
            audience=audience,
        )
        conversation.events.append(stored)
        self._changed(conversation, event_change(conversation, stored), touched=joined)
        return stored.sequence

    def _agent_role(self, conversation: Conversation, agent_id: str) -> tuple[EventRole, bool]:
        """The role an agent publishes in, and whether publishing made it the assigned agent: [I] an agent that
        is no participant of a conversation without an assigned agent takes it; otherwise it must take part."""
        participant = conversation.participant(agent_id)
        if participant is not None and participant.state == "ACTIVE" and participant.role != "READER":
            return participant.role, False
        if participant is None and conversation.assigned_agent() is None:
            conversation.participants.append(AgentParticipant(id=agent_id, role=AGENT))
            return AGENT, True
        raise MessagingError(400, f"agent {agent_id} may not publish into conversation {conversation.id}")  # [I]

    def assign(self, conversation: Conversation, agent_id: str) -> None:
        """The agent becomes the ASSIGNED_AGENT (an accepted ring): a suggestion it had is made active."""
        if conversation.state != "OPEN":
            raise MessagingError(400, f"conversation {conversation.id} is closed")
        if conversation.assigned_agent() is not None:
            raise MessagingError(400, f"conversation {conversation.id} already has an assigned agent")  # [I]
        conversation.participants = [
            p for p in conversation.participants if not (p.role == AGENT and p.state == "SUGGESTED")
        ]
        conversation.participants = [p for p in conversation.participants if p.id != agent_id]
        conversation.participants.append(AgentParticipant(id=agent_id, role=AGENT))
        self.changed(conversation)

    def close(self, conversation: Conversation, role: str) -> None:
        """`cm.UpdateConversationField` with `ConversationStateField` CLOSE (role CONSUMER, ASSIGNED_AGENT, or
        SYSTEM for the emulator's own closes); closing twice is refused. [I]"""
        if conversation.state != "OPEN":
            raise MessagingError(400, f"conversation {conversation.id} is already closed")
        conversation.state = "CLOSE"
        conversation.ended_at = self._now
        conversation.close_reason = CLOSE_REASONS.get(role, "SYSTEM")
        for ring in conversation.rings:
            ring.state = "CANCELLED" if ring.state == "WAITING" else ring.state
        self.changed(conversation)

    def move_to(self, conversation: Conversation, consumer_id: str) -> None:
        """Step-up: the conversation now belongs to `consumer_id`, with every event and sequence kept."""
        previous = conversation.consumer_id
        conversation.consumer_id = consumer_id
        conversation.stepped_up_from = previous
        conversation.stepped_up_at = self._now
        self._changed(conversation, extra_consumers=(previous,), touched=True)

    def changed(self, conversation: Conversation) -> None:
        """The conversation's metadata changed (participants, skill, TTR, state, ...): stamp it and tell listeners."""
        self._changed(conversation, touched=True)

    def _changed(
        self,
        conversation: Conversation,
        event: dict | None = None,
        transient: bool = False,
        extra_consumers: tuple[str, ...] = (),
        touched: bool = False,
    ) -> None:
        if touched:
            conversation.updated_at = self._now
        self.changes.append(
            Change(
                namespace=self._namespace.name,
                account_id=self._account.id,
                conversation=conversation_details(self._account, conversation),
                consumer_ids=(conversation.consumer_id, *extra_consumers),
                event=event,
                transient=transient,
            )
        )


def check_event(event: object, conversation: Conversation) -> dict:
    """A publishable event, or MessagingError 400 naming what is wrong."""
    if not isinstance(event, dict):
        raise MessagingError(400, "event must be an object")
    kind = event.get("type")
    if kind == CONTENT_EVENT:
        message = event.get("message")
        if event.get("contentType") == HOSTED_FILE:
            return {"type": kind, "contentType": HOSTED_FILE, "message": hosted_file(message)}
        if not isinstance(message, str):
            raise MessagingError(400, "ContentEvent.message must be a string")
        if len(message) > MAX_MESSAGE_CHARACTERS:
            raise MessagingError(400, f"ContentEvent.message is longer than {MAX_MESSAGE_CHARACTERS} characters")
        content_type = event.get("contentType", "text/plain")
        if not isinstance(content_type, str):
            raise MessagingError(400, "ContentEvent.contentType must be a string")
        return {"type": kind, "contentType": content_type, "message": message}
    if kind == RICH_CONTENT_EVENT:
        if not isinstance(event.get("content"), dict):
            raise MessagingError(400, "RichContentEvent.content must be an object")
        return {"type": kind, "content": event["content"]}
    if kind == CHAT_STATE_EVENT:
        if event.get("chatState") not in CHAT_STATES:
            raise MessagingError(400, f"ChatStateEvent.chatState must be one of {', '.join(CHAT_STATES)}")
        return {"type": kind, "chatState": event["chatState"]}
    if kind == ACCEPT_STATUS_EVENT:
        if event.get("status") not in ACCEPT_STATUSES:
            raise MessagingError(400, f"AcceptStatusEvent.status must be one of {', '.join(ACCEPT_STATUSES)}")
        sequences = event.get("sequenceList")
        last = len(conversation.events) - 1
        if (
            not isinstance(sequences, list)
            or not sequences
            or not all(isinstance(s, int) and not isinstance(s, bool) and 0 <= s <= last for s in sequences)
        ):
            raise MessagingError(400, "AcceptStatusEvent.sequenceList must list sequences of the conversation")
        return {"type": kind, "status": event["status"], "sequenceList": sequences}
    raise MessagingError(400, f"unknown event type: {kind}")


def hosted_file(message: object) -> dict:
    """The `message` of a `hosted/file` ContentEvent ([C] outbound 6: `relativePath`, `fileType`, optional
    `caption` and `preview`), or MessagingError 400."""
    if not isinstance(message, dict):
        raise MessagingError(400, "a hosted/file ContentEvent's message must be an object")
    path, file_type = message.get("relativePath"), message.get("fileType")
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 512:
        raise MessagingError(400, "message.relativePath must be the relativePath of an uploaded file")
    if file_type not in HOSTED_FILE_TYPES:
        raise MessagingError(400, f"message.fileType must be one of {', '.join(HOSTED_FILE_TYPES)}")
    shown = {"relativePath": path, "fileType": file_type}
    for name, limit in (("caption", MAX_MESSAGE_CHARACTERS), ("preview", MAX_PREVIEW_CHARACTERS)):
        value = message.get(name)
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            raise MessagingError(400, f"message.{name} must be a string of at most {limit} characters")
        if value is not None:
            shown[name] = value
    return shown


def conversation_details(account: Account, conversation: Conversation) -> dict:
    """The conversation as the socket notifications describe it ([CC] the `conversationDetails` of an
    ExConversationChangeNotification; `stepUp` and `authenticated` are the emulator's [I])."""
    consumer = account.consumers.get(conversation.consumer_id)
    authenticated = consumer is not None and consumer.kind == "authenticated"
    participants = [{"id": conversation.consumer_id, "role": CONSUMER}]
    participants += [{"id": p.id, "role": p.role} for p in conversation.participants if p.state == "ACTIVE"]
    in_dialog = [{"id": conversation.consumer_id, "role": CONSUMER, "state": "ACTIVE"}]
    in_dialog += [{"id": p.id, "role": p.role, "state": p.state} for p in conversation.participants]
    started_ms = int(conversation.started_at * 1000)
    updated_ms = started_ms if conversation.updated_at is None else int(conversation.updated_at * 1000)
    dialog = {
        "dialogId": conversation.id,
        "participantsDetails": in_dialog,
        "dialogType": "MAIN",
        "channelType": "MESSAGING",
        "state": conversation.state,
        "creationTs": started_ms,
        "metaDataLastUpdateTs": updated_ms,
    }
    if conversation.ended_at is not None:
        dialog |= {"endTs": int(conversation.ended_at * 1000), "closedBy": conversation.close_reason}
    details = {
        "convId": conversation.id,
        "brandId": account.id,
        "skillId": conversation.skill_id,
        "state": conversation.state,
        "stage": conversation.state,
        "startTs": started_ms,
        "endTs": int(conversation.ended_at * 1000) if conversation.ended_at is not None else -1,
        "closeReason": conversation.close_reason,
        "metaDataLastUpdateTs": updated_ms,
        "ttr": conversation.ttr.model_dump(),
        "participants": participants,
        "dialogs": [dialog],
        "context": conversation.context,
        "lastSequence": len(conversation.events) - 1,
        "authenticated": authenticated,
        "consumerProfile": consumer_profile(consumer) if consumer is not None else {},
        "stepUp": None
        if conversation.stepped_up_from is None
        else {
            "fromConsumerId": conversation.stepped_up_from,
            "at": int((conversation.stepped_up_at or 0) * 1000),
        },
    }
    optional = {
        "manualETTR": conversation.manual_ettr,
        "csat": conversation.csat,
        "delay": conversation.delay,
    }  # [C] schema
    return details | {name: value for name, value in optional.items() if value is not None}


def consumer_profile(consumer: Consumer) -> dict:
    """What an agent sees of a consumer (`.ams.userprofile.GetUserProfile`, conversation details). [I]"""
    return {
        "consumerId": consumer.consumer_id,
        "authenticated": consumer.kind == "authenticated",
        "ext": consumer.ext,
        **consumer.profile,
    }


def event_change(conversation: Conversation, stored: MessagingEvent, sequence: int | None = None) -> dict:
    """One `changes` entry of an `ms.MessagingEventNotification` ([C] section 6.5)."""
    return {
        "sequence": stored.sequence if sequence is None else sequence,
        "originatorId": stored.originator_id,
        "originatorMetadata": {"id": stored.originator_id, "role": stored.role},
        "serverTimestamp": stored.server_timestamp,
        "event": stored.event,
        "conversationId": conversation.id,
        "dialogId": conversation.id,
        "messageAudience": stored.audience,
    }


def history(conversation: Conversation) -> list[dict]:
    """Every stored event of the conversation, as notification changes, in sequence order."""
    return [event_change(conversation, stored) for stored in conversation.events]


def unstorable(value: object, depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why a parsed JSON value (a request body or frame) cannot be kept and exported as is, or None: too deep, NaN / Infinity (also
    what `1e400` parses to), or a lone surrogate (`"\\ud800"`) that UTF-8 cannot encode. [I]"""
    if depth < 0:
        return f"request body is nested deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return "numbers must be finite"
    if isinstance(value, str):
        return None if _encodable(value) else "strings must be valid Unicode"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and not _encodable(key):
            return "strings must be valid Unicode"
        problem = unstorable(item, depth - 1)
        if problem:
            return problem
    return None


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
