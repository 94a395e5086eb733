"""LivePerson routing: which agents a waiting conversation rings, the rings, and the agents' answers to them.

Reference: liveperson-outbound.md section 3. A conversation waits while it is open without an active
ASSIGNED_AGENT. [I] Every agent it should ring is rung at once (LivePerson's ring order is not public); the
first to accept becomes the assigned agent and the others' rings are CANCELLED. An agent is rung once per
routing task: a rejected or expired ring is not offered again until the conversation goes back to a queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from .conversations import AGENT, Conversations, MessagingError
from .login import user_id_of, user_pid_of
from .models import Account, Conversation, Ring, User

RING_EXPIRATION_MS = 72_000  # [CC]/[I] the NAS README example's ringExpiration; the real timeout is not public
AVAILABILITIES = ("ONLINE", "OCCUPIED", "AWAY", "BACK_SOON", "OFFLINE")  # [C] schema enum + NAS README's OCCUPIED
RING_ANSWERS = ("ACCEPTED", "REJECTED")  # [C] updateRingState.json
NO_SKILL = "-1"


@dataclass(frozen=True)
class Presence:
    """An agent as routing sees it: who (PID and old user id), its skills and its availability."""

    agent_id: str
    user_id: str
    skills: tuple[str, ...]
    availability: str


def presence_of(account: Account, user: User, availability: str) -> Presence:
    return Presence(user_pid_of(account.id, user), user_id_of(account.id, user), tuple(user.skills), availability)


def agent_pid(account: Account, reference: object) -> str | None:
    """The PID of an agent named by its PID or, as node-agent-sdk sends it, `"{account}.{userId}"` [CC]."""
    if not isinstance(reference, str):
        return None
    for user in account.users:
        pid = user_pid_of(account.id, user)
        if reference in (pid, f"{account.id}.{user_id_of(account.id, user)}"):
            return pid
    return None


def waiting(conversation: Conversation) -> bool:
    return conversation.state == "OPEN" and conversation.assigned_agent() is None


def should_ring(conversation: Conversation, presence: Presence) -> bool:
    """[C] ONLINE agents are rung for new conversations, OCCUPIED ones for transfers only, others never; [I] a
    conversation of no skill (`-1`) rings every such agent, one of a skill the agents holding it; a conversation
    transferred to an agent (SUGGESTED) rings that agent only, ONLINE or OCCUPIED."""
    if not waiting(conversation):
        return False
    suggested = [p.id for p in conversation.participants if p.state == "SUGGESTED"]
    if suggested:
        return presence.agent_id in suggested and presence.availability in ("ONLINE", "OCCUPIED")
    if presence.availability == "ONLINE" or (presence.availability == "OCCUPIED" and conversation.transferred):
        return conversation.skill_id == NO_SKILL or conversation.skill_id in presence.skills
    return False


def ring_state(ring: Ring, now: float) -> str:
    """A WAITING ring past its expiration shows EXPIRED. [I]"""
    return "EXPIRED" if ring.state == "WAITING" and now >= ring.expires_at else ring.state


class Routing:
    """The rings of one account, on the namespace's clock (hold the store lock)."""

    def __init__(self, conversations: Conversations, account: Account, now: float) -> None:
        self._conversations = conversations
        self._account = account
        self._now = now

    def ring(self, conversation: Conversation, presence: Presence) -> Ring | None:
        """A new WAITING ring for the agent, when the conversation should ring it and has not yet in this task."""
        task = conversation.routing_task
        if not should_ring(conversation, presence) or any(
            r.agent_id == presence.agent_id and r.task == task for r in conversation.rings
        ):
            return None
        created_ms = int(self._now * 1000)
        ring = Ring(
            ring_id=f"{conversation.id}_{presence.user_id}_{created_ms}",  # [CC] the NAS README example's form
            agent_id=presence.agent_id,
            task=task,
            created_at=self._now,
            expires_at=self._now + RING_EXPIRATION_MS / 1000,
        )
        conversation.rings.append(ring)
        return ring

    def ring_waiting(self, presence: Presence) -> list[tuple[Conversation, Ring]]:
        """Rings for every waiting conversation of the account that should ring the agent (it just became available)."""
        rung = ((c, self.ring(c, presence)) for c in self._account.conversations.values())
        return [(conversation, ring) for conversation, ring in rung if ring is not None]

    def answer(self, agent_id: str, body: dict) -> tuple[Conversation, Ring]:
        """`routing.UpdateRingState {ringId, ringState}`: ACCEPTED assigns the agent, REJECTED declines (a declined
        suggestion sends the conversation back to its skill's queue [I]). Refused: unknown, answered or expired rings."""
        ring_id, state = body.get("ringId"), body.get("ringState")
        if state not in RING_ANSWERS:
            raise MessagingError(400, f"ringState must be one of {', '.join(RING_ANSWERS)}")
        found = next(
            (
                (c, r)
                for c in self._account.conversations.values()
                for r in c.rings
                if r.ring_id == ring_id and r.agent_id == agent_id
            ),
            None,
        )
        if found is None:
            raise MessagingError(404, f"ring {ring_id} not found")  # [I]
        conversation, ring = found
        current = ring_state(ring, self._now)
        if current != "WAITING" or not waiting(conversation):
            raise MessagingError(
                400, f"ring {ring_id} is {current if current != 'WAITING' else 'no longer valid'}"
            )  # [I]
        if state == "ACCEPTED":
            self._conversations.assign(conversation, agent_id)
            for other in conversation.rings:
                other.state = "ACCEPTED" if other is ring else "CANCELLED" if other.state == "WAITING" else other.state
            return conversation, ring
        ring.state = "REJECTED"
        suggestion = conversation.participant(agent_id)
        if suggestion is not None and suggestion.state == "SUGGESTED" and suggestion.role == AGENT:
            conversation.participants.remove(suggestion)
            self._conversations.changed(conversation)
        return conversation, ring


def routing_task(account_id: str, conversation: Conversation, ring: Ring, now: float) -> dict:
    """One `changes` entry of `.ams.routing.RoutingTaskNotification`, in the raw form node-agent-sdk strips
    (`routingTaskId`, `assignedAgentId`, `brandId`, and per ring `brandId`, `convId`, `consumerId`, `skillId`) [CC]."""
    state = ring_state(ring, now)
    result = {
        "routingTaskId": f"{conversation.id}_{ring.task}",  # [I] the id's form is not public
        "taskCompleted": state != "WAITING",
        "conversationId": conversation.id,
        "consumerId": conversation.consumer_id,
        "skillId": conversation.skill_id,
        "brandId": account_id,
        "ringsDetails": [
            {
                "ringId": ring.ring_id,
                "ringExpiration": RING_EXPIRATION_MS,
                "ringExpirationTs": int(ring.expires_at * 1000),
                "ringState": state,
                "weight": int(ring.created_at * 1000),  # [I] the weight's meaning is not public
                "brandId": account_id,
                "convId": conversation.id,
                "consumerId": conversation.consumer_id,
                "skillId": conversation.skill_id,
            }
        ],
    }
    assigned = conversation.assigned_agent()
    if assigned is not None:
        result["assignedAgentId"] = assigned
    return {"type": "UPSERT", "result": result}
