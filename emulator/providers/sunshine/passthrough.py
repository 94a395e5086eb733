"""Emulator-only stand-in for Apple Messages for Business sending what Sunshine forwards as-is: an
interactive message too large for the channel, which Apple hands over as a data reference. It raises
`passthrough:messaging`; the bot fetches the data with `downloadMessageRef` (`POST .../download`)."""

from __future__ import annotations

from .bodies import Body
from .call import Call
from .channels import InteractiveDataRef
from .errors import bad_request
from .links import find_client
from .merges import default_conversation
from .sdk_forms import user_conversations

PASSTHROUGH_CHANNELS = ("apple",)  # [C] downloadMessageRef: "Currently, only apple channel is supported"


class PassthroughBody(Body):
    """Apple's reference to the interactive data, as `downloadMessageRef` takes it back."""

    interactiveDataRef: InteractiveDataRef


def send(call: Call, user_ref: str, client_id: str, body: PassthroughBody) -> dict:
    """The user's active apple client sends the reference: `passthrough:messaging` for its default conversation."""
    user, client = find_client(call, user_ref, client_id)
    if client.type not in PASSTHROUGH_CHANNELS:
        raise bad_request("Only an apple client sends passthrough data", "passthrough_channel")
    if client.status != "active":
        raise bad_request("Only an active client sends messages", "client_not_active")
    conversation = default_conversation(user_conversations(call.in_app(), user))
    if conversation is None:
        raise bad_request("The user has no conversation", "no_conversation")
    # [I] the spec gives no schema: the conversation, the user, the source channel, and the channel's data
    # under its name, as downloadMessageRef's body takes it (`{"userId", "apple": {"interactiveDataRef"}}`)
    payload = {
        "conversation": conversation.truncated(),
        "user": user.truncated(),
        "source": {"type": client.type, "integrationId": client.integrationId},
        client.type: {"interactiveDataRef": body.interactiveDataRef.model_dump()},
    }
    call.emit("passthrough:messaging", payload)
    return payload
