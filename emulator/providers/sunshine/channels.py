"""Third-party channel features of a conversation: `download` (Apple message refs) and `conversionEvents`
(Meta's conversion events). The emulator reaches no channel: it checks the request and answers as the spec
shows."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import model_validator

from .bodies import Text, _Body
from .call import Call
from .conversations import find as find_conversation
from .errors import bad_request, user_not_found

CONVERSION_CHANNELS = ("messenger", "instagram", "whatsapp")  # [C] the oneOf of conversionEventsBody


class InteractiveDataRef(_Body):
    url: Text
    bid: Text
    key: Text
    signature: Text
    owner: Text


class AppleRef(_Body):
    interactiveDataRef: InteractiveDataRef


class DownloadBody(_Body):
    userId: Text
    apple: AppleRef | None = None


class ConversionPayload(_Body):
    data: list[dict[str, Any]]


class ConversionEvent(_Body):
    payload: ConversionPayload


class ConversionEventsBody(_Body):
    messenger: ConversionEvent | None = None
    instagram: ConversionEvent | None = None
    whatsapp: ConversionEvent | None = None

    @model_validator(mode="after")
    def _one_channel(self) -> ConversionEventsBody:
        if sum(getattr(self, name) is not None for name in CONVERSION_CHANNELS) != 1:
            raise ValueError("exactly one of messenger, instagram or whatsapp is required")  # [C] oneOf
        return self

    def channel(self) -> tuple[str, ConversionEvent]:
        name = next(name for name in CONVERSION_CHANNELS if getattr(self, name) is not None)
        return name, getattr(self, name)


def download(call: Call, conversation_id: str, body: DownloadBody) -> dict:
    """[C] only the apple channel is supported; [I] the user must take part in the conversation, and the
    answer is the spec example's `{}` (the emulator fetches nothing from Apple)."""
    conversation = find_conversation(call, conversation_id)
    user = call.in_app().users.get(body.userId)
    if user is None:
        raise user_not_found()
    if conversation.participant_of(user.id) is None:
        raise bad_request("User is not a participant of the conversation", "download_not_participant")  # [I]
    if body.apple is None:
        raise bad_request("Only the apple channel is supported", "download_channel")  # [C] apple only; [I] title
    return {}


def conversion_events(call: Call, conversation_id: str, body: ConversionEventsBody) -> dict:
    """`{"conversionEvents": {"datasetId", "eventsReceived"}}`; [I] the dataset id is derived from the app
    and channel (the spec's example shows a numeric string), every event counted as received."""
    find_conversation(call, conversation_id)
    channel, event = body.channel()
    digest = hashlib.sha256(f"{call.in_app().id}:{channel}".encode()).hexdigest()
    dataset_id = str(int(digest[:13], 16))
    return {"conversionEvents": {"datasetId": dataset_id, "eventsReceived": len(event.payload.data)}}
