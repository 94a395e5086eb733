"""Messages and activities of a conversation (reference 2.1 and 2.3)."""

from __future__ import annotations

from . import activities, control
from .attachments import release as release_attachments
from .bodies import ActivityBody, AuthorBody, MessagePostBody
from .call import Call
from .conversations import find as find_conversation
from .errors import SunshineError, bad_request, resource_not_found, user_not_found
from .models import Conversation, Message, User


def _author_user(call: Call, conversation: Conversation, author: AuthorBody) -> User | None:
    """The user a `user` author names, who must take part in the conversation [I]; None for the business."""
    if author.type != "user":
        return None
    app = call.in_app()
    user = (
        app.users.get(author.userId)
        if author.userId is not None
        else app.user_by_external_id(author.userExternalId or "")
    )
    if user is None:
        raise user_not_found()
    if conversation.participant_of(user.id) is None:
        raise bad_request("User is not a participant of the conversation", "author_not_participant")  # [I]
    return user


def post(call: Call, conversation_id: str, body: MessagePostBody) -> Message:
    conversation = find_conversation(call, conversation_id)
    limit = call.in_app().limits.messages_per_conversation
    if len(conversation.messages) >= limit:
        raise SunshineError(423, "locked", f"Message limit of {limit} per conversation reached.")  # [C]
    user = _author_user(call, conversation, body.author)
    author = body.author.stored()
    if user is not None:
        author["userId"] = user.id
    message = Message(
        received=call.timestamp,
        author=author,
        content=body.content.model_dump(exclude_none=True),
        source=dict(call.source),
        metadata=body.metadata,
    )
    conversation.messages.append(message)
    conversation.lastUpdatedAt = message.received
    if user is not None:
        control.assign_default(call.in_app(), conversation)  # [C] a user active again in a conversation no one controls
    for (
        participant
    ) in conversation.participants:  # the author has read its own message; everyone else has one more unread
        if user is not None and participant.userId == user.id:
            participant.unreadCount, participant.lastRead = 0, message.received
        else:
            participant.unreadCount += 1
    webhook_message = message.public()
    if user is not None:
        webhook_message["author"] = {**author, "user": user.truncated()}
    call.emit("conversation:message", {"conversation": conversation.truncated(), "message": webhook_message})
    if user is None:
        activities.deliver(
            call,
            conversation,
            message,
            [u for p in conversation.participants if (u := call.in_app().users.get(p.userId))],
        )
    return message


def of_conversation(call: Call, conversation_id: str) -> list[Message]:
    """The messages ListMessages pages through; [C] its 404 is `not_found` (not conversation_not_found)."""
    conversation = call.in_app().conversations.get(conversation_id)
    if conversation is None:
        raise resource_not_found()
    return conversation.messages


def delete_all(call: Call, conversation_id: str) -> None:
    conversation = find_conversation(call, conversation_id)
    release_attachments(call.in_app(), conversation.id, conversation.messages)
    conversation.messages.clear()


def delete(call: Call, conversation_id: str, message_id: str) -> None:
    """[I] the message is removed from the history (no placeholder left)."""
    conversation = find_conversation(call, conversation_id)
    message = next((m for m in conversation.messages if m.id == message_id), None)
    if message is None:
        raise resource_not_found()
    conversation.messages.remove(message)
    release_attachments(call.in_app(), conversation.id, [message])


def activity(call: Call, conversation_id: str, body: ActivityBody) -> None:
    """`conversation:read` marks the conversation read by the business or the user; typing changes nothing."""
    conversation = find_conversation(call, conversation_id)
    activities.record(call, conversation, _author_user(call, conversation, body.author), body.type)
