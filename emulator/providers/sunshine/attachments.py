"""Attachments (spec tag Attachments): files uploaded for later messages, served by the emulator itself at
their `mediaUrl` (`{host}/sc/attachments/v2/{id}/{fileName}`, the spec example's form), removed by URL.

An upload `for=message` with a `conversationId` is deleted with its conversation, its user, or the message
that carries its URL [C].
"""

from __future__ import annotations

import base64
import mimetypes
import re
import secrets
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

from .bodies import Body, Text
from .call import Call
from .errors import SunshineError, bad_request, not_found
from .models import App, Attachment, Message

MEDIA_PATH = "/sc/attachments/v2/"
_MEDIA = re.compile(r"/sc/attachments/v2/([0-9A-Z]{26})/[^/]+")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
DEFAULT_MEDIA_TYPE = "application/octet-stream"


class AttachmentRemoveBody(Body):
    mediaUrl: Text


def new_attachment_id(now: float) -> str:
    """A ULID, as the spec example's (`01JK699PBZ645YAFJW2RF45F0B`): 48 bits of milliseconds, 80 random."""
    value = (int(now * 1000) << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def media_url(host_url: str, attachment: Attachment) -> str:
    return f"{host_url.rstrip('/')}{MEDIA_PATH}{attachment.id}/{quote(attachment.fileName)}"


def public(host_url: str, attachment: Attachment) -> dict:
    return {"mediaUrl": media_url(host_url, attachment), "mediaType": attachment.mediaType}


def upload(
    call: Call,
    data: bytes,
    file_name: str,
    media_type: str | None,
    access: str | None,
    purpose: str | None,
    conversation_id: str | None,
) -> Attachment:
    """`POST attachments?access=public[&for=message&conversationId=...]` with the file as `source`."""
    app = call.in_app()
    if access is None:
        raise bad_request("access is required", "attachment_access")  # [C] required; [I] title
    if access != "public":
        raise bad_request("Currently the only available access level is public", "attachment_access")  # [C] public only
    if purpose is not None and purpose != "message":
        raise bad_request("for only supports message", "attachment_for")  # [C] only message; [I] title
    if conversation_id is not None and conversation_id not in app.conversations:
        raise not_found("conversation_not_found", "Conversation not found")  # [I]
    if len(data) > app.limits.attachment_bytes:
        raise SunshineError(
            413, "payload_too_large", "File is larger than the upload limit", "attachment_too_large"
        )  # [I] code
    kind = media_type if media_type and media_type != DEFAULT_MEDIA_TYPE else mimetypes.guess_type(file_name)[0]
    attachment = Attachment(
        id=new_attachment_id(call.now),
        fileName=file_name or "file",
        mediaType=kind or DEFAULT_MEDIA_TYPE,  # [I] the part's type, else guessed from the name
        data=base64.b64encode(data).decode(),
        conversationId=conversation_id if purpose == "message" else None,
    )
    app.attachments[attachment.id] = attachment
    return attachment


def attachment_id_of(url: str) -> str | None:
    """The attachment a media URL names (any host), None for a URL of another form."""
    match = _MEDIA.fullmatch(unquote(urlsplit(url).path))
    return match.group(1) if match else None


def remove(call: Call, media_url_text: str) -> None:
    """`POST attachments/remove {"mediaUrl"}`: 400 for a URL the API did not issue, 404 for one gone [C]."""
    attachment_id = attachment_id_of(media_url_text)
    if attachment_id is None:
        raise bad_request(f"Unsupported media URL for attachment deletion: {media_url_text}", "attachment_url")  # [C]
    if call.in_app().attachments.pop(attachment_id, None) is None:
        raise not_found("not_found", "Attachment not found")  # [C]


def release(app: App, conversation_id: str, messages: Iterable[Message] | None = None) -> None:
    """Delete the `for=message` uploads of a conversation: all of them, or those the messages' content names."""
    linked = [a for a in app.attachments.values() if a.conversationId == conversation_id]
    if messages is not None:
        named = {attachment_id_of(url) for message in messages for url in _media_urls(message.content)}
        linked = [a for a in linked if a.id in named]
    for attachment in linked:
        del app.attachments[attachment.id]


def _media_urls(node: object) -> Iterable[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "mediaUrl" and isinstance(value, str):
                yield value
            else:
                yield from _media_urls(value)
    elif isinstance(node, list):
        for item in node:
            yield from _media_urls(item)
