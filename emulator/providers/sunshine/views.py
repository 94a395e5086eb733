"""Sunshine conversations in the provider-neutral shape the dashboard draws (`ProviderSpec.conversations`)."""

from __future__ import annotations

import json

from .models import Message, SunshineState


def conversation_views(state: SunshineState) -> list[dict]:
    """Every conversation of every app, oldest first, with its messages in the order received."""
    return [
        {
            "provider": "sunshine",
            "tenant": app.id,
            "id": conversation.id,
            "state": conversation.type,
            "started": conversation.createdAt,
            "participants": [{"id": p.userId, "role": "user"} for p in conversation.participants],
            "step_up": None,
            "events": [_event(number, message) for number, message in enumerate(conversation.messages)],
        }
        for app in state.apps.values()
        for conversation in sorted(app.conversations.values(), key=lambda c: c.createdAt)
    ]


def _event(number: int, message: Message) -> dict:
    content = message.content
    text = content.get("text") if isinstance(content.get("text"), str) else json.dumps(content, ensure_ascii=False)
    return {
        "sequence": number,
        "time": message.received,
        "by": message.author.get("userId") or message.author.get("displayName") or message.author.get("type", ""),
        "role": str(message.author.get("type", "")),
        "type": str(content.get("type", "")),
        "text": text,
    }
