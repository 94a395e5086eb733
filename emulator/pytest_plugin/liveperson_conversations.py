"""pytest fixtures for LivePerson consumer conversations and step-up: `lp_unauth_conversation` (an
unauthenticated consumer in an open conversation with an agent) and `stepped_up_conversation` (the same
conversation after the consumer logged in mid-conversation). Registered by emulator.pytest_plugin."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from .lazy import LazyName
from .liveperson import LivePersonAccount
from .liveperson_login import LivePersonAgentSession

jwt = LazyName("jwt")  # imported when a fixture first uses it

# [I] the fixture's conversation so far: the consumer asks, the agent asks them to log in
DEFAULT_HISTORY = (
    ("CONSUMER", "Hi, I need help with my order"),
    ("ASSIGNED_AGENT", "Happy to help. Please log in so that I can see your account."),
)


@dataclass(frozen=True)
class LivePersonConsumer:
    """A consumer identity: its LP consumer JWT and the JWT's `sub` (the consumer id agents see)."""

    consumer_id: str
    lp_jwt: str

    @classmethod
    def of(cls, lp_jwt: str) -> LivePersonConsumer:
        return cls(jwt.decode(lp_jwt, options={"verify_signature": False})["sub"], lp_jwt)

    def headers(self) -> dict[str, str]:
        """`Authorization: jwt <LP JWT>`: how the consumer WebSocket, and a step-up request, take it."""
        return {"Authorization": f"jwt {self.lp_jwt}"}


@dataclass(frozen=True)
class LivePersonConversation:
    """An open messaging conversation of `consumer` on `account`, with `agent` in it."""

    id: str
    account: LivePersonAccount
    consumer: LivePersonConsumer
    agent: LivePersonAgentSession

    def state(self) -> dict:
        """The conversation as the emulator holds it now (owner, state, events, step-up marks)."""
        return _account_document(self.account)["conversations"][self.id]

    def history(self) -> list[dict]:
        """Its events in sequence order: `{"sequence", "originator_id", "role", "event", "server_timestamp"}`."""
        return self.state()["events"]


@dataclass(frozen=True)
class SteppedUpConversation:
    """A conversation an unauthenticated consumer started and continued after logging in (step-up)."""

    conversation: LivePersonConversation  # `.consumer` is the unauthenticated identity it started with
    unauthenticated: LivePersonConsumer
    authenticated: LivePersonConsumer
    brand_sub: str  # the consumer's id at the brand (`lp.ext.sub` of the authenticated LP JWT)
    history_before: list[dict]  # the events before step-up, which the authenticated consumer keeps

    @property
    def id(self) -> str:
        return self.conversation.id

    def history(self) -> list[dict]:
        return self.conversation.history()


def _account_document(account: LivePersonAccount) -> dict:
    state = account.handle.control.export_state()["namespaces"][account.handle.namespace]
    return state["providers"]["liveperson"]["accounts"][account.id]


def add_lp_conversation(
    account: LivePersonAccount, consumer_id: str, agent_id: str, messages: Sequence[tuple[str, str]] = DEFAULT_HISTORY
) -> str:
    """Add an open conversation of `consumer_id` holding `messages` (`(role, text)`, role CONSUMER or
    ASSIGNED_AGENT, the agent being `agent_id`) to a seeded account, keeping everything else it holds."""
    document = _account_document(account)
    now = account.handle.control.now().timestamp()
    owners = {"CONSUMER": consumer_id, "ASSIGNED_AGENT": agent_id}
    events = [
        {
            "sequence": sequence,
            "originator_id": owners[role],
            "role": role,
            "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text},
            "server_timestamp": int(now * 1000),
        }
        for sequence, (role, text) in enumerate(messages)
    ]
    conversation_id = str(uuid.uuid4())
    agents = [agent_id] if any(role == "ASSIGNED_AGENT" for role, _ in messages) else []
    document.setdefault("conversations", {})[conversation_id] = {
        "id": conversation_id,
        "consumer_id": consumer_id,
        "started_at": now,
        "events": events,
        "participants": [{"id": agent, "role": "ASSIGNED_AGENT"} for agent in agents],
    }
    account.handle.control.seed({"liveperson": {"accounts": [document]}})
    return conversation_id


@pytest.fixture
def lp_unauth_conversation(
    lp_account: LivePersonAccount, lp_agent_session: LivePersonAgentSession
) -> LivePersonConversation:
    """An unauthenticated consumer (`anonymous/authorize`, then `authenticate?v=3.0`) in an open conversation
    with an agent of `lp_agent_session`, holding DEFAULT_HISTORY: the consumer asked, the agent asked them to log in."""
    consumer = LivePersonConsumer.of(lp_account.exchange(lp_account.issue_ext_jwt()))
    conversation_id = add_lp_conversation(lp_account, consumer.consumer_id, lp_agent_session.user_pid)
    return LivePersonConversation(conversation_id, lp_account, consumer, lp_agent_session)


@pytest.fixture
def stepped_up_conversation(lp_unauth_conversation: LivePersonConversation, lp_brand_idp: Any) -> SteppedUpConversation:
    """`lp_unauth_conversation` after the consumer logged in at the brand (`lp_brand_idp`, implicit flow) presenting
    its unauthenticated LP JWT: the same conversation, now the authenticated consumer's, with every event."""
    history_before = lp_unauth_conversation.history()
    brand_sub = f"customer-{secrets.token_hex(6)}"
    lp_jwt = lp_brand_idp.authenticate(
        id_token=lp_brand_idp.id_token(brand_sub, given_name="Ada", family_name="Lovelace", email="ada@example.com"),
        unauth_jwt=lp_unauth_conversation.consumer.lp_jwt,
    )
    authenticated = LivePersonConsumer.of(lp_jwt)
    return SteppedUpConversation(
        lp_unauth_conversation, lp_unauth_conversation.consumer, authenticated, brand_sub, history_before
    )
