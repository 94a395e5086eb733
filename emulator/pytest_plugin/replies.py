"""What the fixtures expect of the emulator's answers when they set a test up."""

from __future__ import annotations

from ..client import Reply


def expect_token(reply: Reply, field: str) -> str:
    if reply.status != 200:
        raise AssertionError(f"the emulator refused to issue a token: {reply.status} {reply.text}")
    return reply.json()[field]


def created_body(reply: Reply, wrapper: str) -> dict:
    if reply.status != 201:
        raise AssertionError(f"the emulator refused to create a {wrapper}: {reply.status} {reply.text}")
    return reply.json()[wrapper]
