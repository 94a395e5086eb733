"""`cm.UpdateConversationField`: from an agent participants, transfers, TTR, manual ETTR, CSAT, delay and close;
from the consumer ([C] Messaging Window tutorials) TTR, CSAT and close.

Reference: liveperson-outbound.md section 4. Every field of a request is checked before any changes, so a
refused request changes nothing; the changes then go out as one conversation change (and a close as its own).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from .conversations import AGENT, CONSUMER, Conversations, MessagingError
from .models import AgentParticipant, AgentRole, Conversation, Ttr, TtrType

Allowed = TypeVar("Allowed", bound=str)

PARTICIPANT_ROLES: tuple[AgentRole, ...] = ("ASSIGNED_AGENT", "MANAGER", "READER")  # [C] ParticipantsChange.json
PARTICIPANT_CHANGES = ("ADD", "REMOVE", "SUGGEST")  # [C] schema ADD/REMOVE; SUGGEST in NAS docs
TTR_TYPES: tuple[TtrType, ...] = ("CUSTOM", "NORMAL", "PRIORITIZED", "URGENT")  # [C]
CSAT_STATUSES = ("FILLED", "PARTIALLY_FILLED", "SKIPPED")  # [C] types/csat.json
DELAY_TYPES = ("NIGHT", "WEEKEND", "HOLIDAY")  # [C] notification schema
AGENT_ADDED = "OK Agent added successfully"  # [C] NAS README
AGENT_REMOVED = "OK Agent removed successfully"  # [C] NAS README
RESOLVED = "OK Conversation resolved successfully"  # [C] NAS README, PCS tutorial (DialogChange close)
CONSUMER_FIELDS = ("ConversationStateField", "DialogChange", "TTRField", "CSATRate")  # [I] what the consumer docs show


def _int(field: dict, name: str, low: int = 0, high: int | None = None) -> int:
    value = field.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < low or (high is not None and value > high):
        bounds = f"an integer >= {low}" if high is None else f"an integer from {low} to {high}"
        raise MessagingError(400, f"{field.get('field')}.{name} must be {bounds}")
    return value


def _one_of(field: dict, name: str, allowed: tuple[Allowed, ...]) -> Allowed:
    value = field.get(name)
    if value not in allowed:
        raise MessagingError(400, f"{field.get('field')}.{name} must be one of {', '.join(allowed)}")
    return value


def fields_of(body: dict) -> list[dict]:
    """`conversationField`: an object or a non-empty list of objects [C]."""
    fields = body.get("conversationField")
    fields = [fields] if isinstance(fields, dict) else fields
    if not isinstance(fields, list) or not fields or not all(isinstance(field, dict) for field in fields):
        raise MessagingError(400, "conversationField must be an object or a list of objects")
    return fields


class FieldUpdate:
    """One `UpdateConversationField` on one conversation, by an agent or (`agent_pid` None) its consumer:
    checked whole, then applied."""

    def __init__(
        self,
        conversations: Conversations,
        conversation: Conversation,
        actor: str,
        agent_pid: Callable[[object], str | None] | None,
    ) -> None:
        self._conversations = conversations
        self._conversation = conversation
        self._actor = actor  # the agent's PID, or the consumer's id
        self._agent_pid = agent_pid  # resolves a `userId` (PID or "{account}.{userId}"); None: the consumer asks
        self._steps: list[Callable[[], None]] = []
        self._closing = False
        self._answer: object = {}
        self._removed_assigned = False
        self._requeued = False

    def apply(self, body: dict) -> object:
        """Check every field, apply them, and answer (a string for participant changes and a dialog close [C], else `{}` [I])."""
        fields = fields_of(body)
        if self._conversation.state != "OPEN":
            closing = any(f.get("field") in ("ConversationStateField", "DialogChange") for f in fields)
            raise MessagingError(
                400, f"conversation {self._conversation.id} is {'already closed' if closing else 'closed'}"
            )
        for field in fields:
            self._check(field)
        self._check_transfer(fields)
        for step in self._steps:
            step()
        if self._steps:
            if self._removed_assigned or self._requeued:
                self._back_to_queue()
            self._conversations.changed(self._conversation)
        if self._closing:
            role = self._conversation.participant(self._actor)
            self._conversations.close(
                self._conversation, role=CONSUMER if self._agent_pid is None else role.role if role else AGENT
            )
        return self._answer

    # --- checks: each queues the step that applies it ------------------------------------------------------

    def _check(self, field: dict) -> None:
        kind = field.get("field")
        if self._agent_pid is None and kind not in CONSUMER_FIELDS:
            raise MessagingError(400, f"the consumer may change only {', '.join(CONSUMER_FIELDS)}")  # [I]
        if kind == "ConversationStateField":
            if field.get("conversationState") != "CLOSE":
                raise MessagingError(400, "ConversationStateField.conversationState must be CLOSE")  # [I]
            self._closing = True
        elif kind == "DialogChange":
            dialog = field.get("dialog")
            if (
                field.get("type") != "UPDATE"
                or not isinstance(dialog, dict)
                or dialog.get("state") != "CLOSE"
                or (dialog.get("dialogId") != self._conversation.id)
            ):
                raise MessagingError(
                    400, "DialogChange must be UPDATE of this conversation's dialog to state CLOSE"
                )  # [I]
            self._closing, self._answer = True, RESOLVED  # [I] the MAIN dialog is the only one: closing it closes all
        elif kind == "ParticipantsChange":
            self._check_participants(field)
        elif kind == "Skill":
            if field.get("type") != "UPDATE":
                raise MessagingError(400, "Skill.type must be UPDATE")
            skill = field.get("skill")
            skill = str(skill) if isinstance(skill, int) and not isinstance(skill, bool) else skill
            if not isinstance(skill, str) or not (skill == "-1" or skill.isdigit()):
                raise MessagingError(400, "Skill.skill must be a skill id")
            self._requeued = True
            self._steps.append(lambda: setattr(self._conversation, "skill_id", skill))
        elif kind == "TTRField":
            ttr = Ttr(ttrType=_one_of(field, "ttrType", TTR_TYPES), value=_int(field, "value"))
            self._steps.append(lambda: setattr(self._conversation, "ttr", ttr))
        elif kind == "ManualETTR":
            time = _int(field, "time")
            self._steps.append(lambda: setattr(self._conversation, "manual_ettr", time))
        elif kind == "CSATRate":
            csat = {
                "csatRate": _int(field, "csatRate", 1, 5),
                "status": _one_of(field, "status", CSAT_STATUSES),
            }  # [I] rate 1..5
            confirmed = field.get("csatResolutionConfirmation", False)
            if not isinstance(confirmed, bool):
                raise MessagingError(400, "CSATRate.csatResolutionConfirmation must be a boolean")
            csat["csatResolutionConfirmation"] = confirmed
            self._steps.append(lambda: setattr(self._conversation, "csat", csat))
        elif kind == "DelayField":  # [I] the request's shape is not public: the notification's `delay` {type, tillWhen}
            delay = {"type": _one_of(field, "type", DELAY_TYPES), "tillWhen": _int(field, "tillWhen")}
            self._steps.append(lambda: setattr(self._conversation, "delay", delay))
        else:
            raise MessagingError(
                400, f"conversationField {kind!r} is not supported by the emulator"
            )  # [I] Note, TopicField: shapes not public

    def _check_participants(self, field: dict) -> None:
        change = _one_of(field, "type", PARTICIPANT_CHANGES)
        role = _one_of(field, "role", PARTICIPANT_ROLES)
        user = field.get("userId", self._actor)
        agent = self._agent_pid(user) if self._agent_pid is not None else None
        if agent is None:
            raise MessagingError(400, f"ParticipantsChange.userId {user} is not an agent of this account")  # [I]
        conversation = self._conversation
        if change == "REMOVE":
            if role == AGENT:
                if conversation.assigned_agent() is None:
                    raise MessagingError(
                        400, f"conversation {conversation.id} has no assigned agent to remove"
                    )  # [C] fails
                self._removed_assigned = (
                    True  # [I] whatever agent `userId` names (node-agent-sdk puts the caller's there)
                )
                self._steps.append(lambda: self._remove(lambda p: p.role == AGENT and p.state == "ACTIVE"))
            else:
                if not any(p.id == agent and p.role == role for p in conversation.participants):
                    raise MessagingError(400, f"agent {user} is not a {role} of conversation {conversation.id}")  # [I]
                self._steps.append(lambda: self._remove(lambda p: p.id == agent and p.role == role))
            self._answer = AGENT_REMOVED
            return
        if change == "SUGGEST":
            if role != AGENT:
                raise MessagingError(400, "ParticipantsChange SUGGEST takes role ASSIGNED_AGENT")  # [I]
            self._requeued = True
            self._steps.append(lambda: self._suggest(agent))
            self._answer = AGENT_REMOVED
            return
        if conversation.participant(agent) is not None:
            raise MessagingError(400, f"agent {user} already takes part in conversation {conversation.id}")  # [I]
        if role == AGENT and conversation.assigned_agent() is not None:
            raise MessagingError(400, f"conversation {conversation.id} already has an assigned agent")  # [I]
        self._steps.append(lambda: conversation.participants.append(AgentParticipant(id=agent, role=role)))
        self._answer = AGENT_ADDED

    def _check_transfer(self, fields: list[dict]) -> None:
        """[C] a transfer (skill update or suggestion) comes from a participant, and removes the assigned agent
        in the same request when there is one."""
        if not self._requeued:
            return
        if self._conversation.participant(self._actor) is None:
            raise MessagingError(400, f"only a participant may transfer conversation {self._conversation.id}")
        if self._conversation.assigned_agent() is not None and not self._removed_assigned:
            raise MessagingError(
                400,
                "a transfer must remove the assigned agent in the same request (ParticipantsChange REMOVE ASSIGNED_AGENT)",
            )

    # --- steps -----------------------------------------------------------------------------------------------

    def _remove(self, which: Callable[[AgentParticipant], bool]) -> None:
        self._conversation.participants = [p for p in self._conversation.participants if not which(p)]

    def _suggest(self, agent: str) -> None:
        self._remove(lambda p: p.id == agent or p.state == "SUGGESTED")
        self._conversation.participants.append(AgentParticipant(id=agent, role=AGENT, state="SUGGESTED"))

    def _back_to_queue(self) -> None:
        """A new routing task: rings still waiting are CANCELLED; [C] once an agent held it, OCCUPIED agents are rung too."""
        conversation = self._conversation
        conversation.transferred = conversation.transferred or self._removed_assigned
        conversation.rings = [ring for ring in conversation.rings if ring.task == conversation.routing_task]
        for ring in conversation.rings:
            ring.state = "CANCELLED" if ring.state == "WAITING" else ring.state
        conversation.routing_task += 1
