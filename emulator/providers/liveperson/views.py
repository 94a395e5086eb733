"""LivePerson conversations in the provider-neutral shape the dashboard draws (`ProviderSpec.conversations`)."""

from __future__ import annotations

import json

from ...core.clock import format_instant
from .conversations import conversation_details
from .models import LivePersonState, MessagingEvent


def conversation_views(state: LivePersonState) -> list[dict]:
    """Every conversation of every account, oldest first, with its events in sequence order."""
    views = []
    for account in state.accounts.values():
        for conversation in sorted(account.conversations.values(), key=lambda c: c.started_at):
            details = conversation_details(account, conversation)
            step_up = conversation.stepped_up_from
            views.append(
                {
                    "provider": "liveperson",
                    "tenant": account.id,
                    "id": conversation.id,
                    "state": conversation.state,
                    "started": format_instant(conversation.started_at),
                    "participants": details["participants"],
                    "step_up": None
                    if step_up is None
                    else {
                        "from": step_up,
                        "at": format_instant(conversation.stepped_up_at or conversation.started_at),
                    },
                    "events": [_event(event) for event in conversation.events],
                }
            )
    return views


def _event(stored: MessagingEvent) -> dict:
    event = stored.event
    text = event.get("message") if isinstance(event.get("message"), str) else json.dumps(event, ensure_ascii=False)
    return {
        "sequence": stored.sequence,
        "time": format_instant(stored.server_timestamp / 1000),
        "by": stored.originator_id,
        "role": stored.role,
        "type": str(event.get("type", "")),
        "text": text,
    }
