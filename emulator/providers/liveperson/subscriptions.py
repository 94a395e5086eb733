"""What an agent's `aam.SubscribeExConversations` shows: its filters, and which conversations it has shown.

Reference: liveperson-outbound.md section 3.5. A conversation that stops matching (closed, transferred away)
is a DELETE for a subscription that showed it, and nothing for one that never did.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .conversations import CONSUMER, MessagingError

CONVERSATION_STATES = ("OPEN", "CLOSE")  # [C]


def state_filter(body: dict) -> tuple[str, ...] | None:
    """A subscription's `convState` (None: every state), or MessagingError 400."""
    states = body.get("convState")
    if states is None:
        return None
    if not isinstance(states, list) or not all(state in CONVERSATION_STATES for state in states):
        raise MessagingError(400, f"convState must list states among {', '.join(CONVERSATION_STATES)}")  # [I]
    return tuple(states)


def _string_list(body: dict, name: str) -> tuple[str, ...] | None:
    values = body.get(name)
    if values is None:
        return None
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise MessagingError(400, f"{name} must be a list of strings")  # [I]
    return tuple(values)


@dataclass(frozen=True)
class ConversationFilter:
    """`convState` [C], `agentIds` [C]/[CC] (as PIDs), `skillIds` [I] and `minLastUpdatedTime` [C] (first fetch only)."""

    states: tuple[str, ...] | None = None
    agent_ids: tuple[str, ...] | None = None
    skill_ids: tuple[str, ...] | None = None
    min_last_updated: int | None = None

    @classmethod
    def parse(cls, body: dict, agent_pid: Callable[[object], str | None]) -> ConversationFilter:
        """The filters of a request body, or MessagingError 400; an agent id no agent has matches nothing. [I]"""
        states = state_filter(body)
        agents = _string_list(body, "agentIds")
        skills = body.get("skillIds")
        if skills is not None:
            if not isinstance(skills, list) or not all(
                isinstance(s, (str, int)) and not isinstance(s, bool) for s in skills
            ):
                raise MessagingError(400, "skillIds must be a list of skill ids")  # [I]
            skills = tuple(str(skill) for skill in skills)
        since = body.get("minLastUpdatedTime")
        if since is not None and (not isinstance(since, int) or isinstance(since, bool) or since < 0):
            raise MessagingError(400, "minLastUpdatedTime must be a non-negative integer (epoch ms)")  # [I]
        pids = None if agents is None else tuple(pid for pid in map(agent_pid, agents) if pid is not None)
        return cls(states, pids, skills, since)

    def matches(self, details: dict) -> bool:
        if self.states is not None and details["state"] not in self.states:
            return False
        if self.skill_ids is not None and details["skillId"] not in self.skill_ids:
            return False
        if (
            self.agent_ids is not None
        ):  # [C] "conversations that you are not the assigned agent" are left out: any active agent role [I]
            agents = {p["id"] for p in details["participants"] if p["role"] != CONSUMER}
            return bool(agents & set(self.agent_ids))
        return True

    def first_fetch(self, details: dict) -> bool:
        """Whether the subscription's answer lists the conversation: it matches and changed since `minLastUpdatedTime`."""
        return self.matches(details) and (
            self.min_last_updated is None or details["metaDataLastUpdateTs"] >= self.min_last_updated
        )


@dataclass
class View:
    """One subscription of an agent socket: its filter and the conversations it currently shows."""

    filter: ConversationFilter
    shown: set[str] = field(default_factory=set)

    def change(self, details: dict) -> str | None:
        """UPSERT, DELETE or None (nothing to tell) for a changed conversation; remembers what it shows."""
        conversation = details["convId"]
        if self.filter.matches(details):
            self.shown.add(conversation)
            return "UPSERT"
        if conversation in self.shown:
            self.shown.discard(conversation)
            return "DELETE"
        return None
