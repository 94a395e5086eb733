"""Mindbehind fixtures: a web chat channel, its client tokens (fresh and expired) and an SMS code."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import pytest

from ..client import EmulatorClient
from .core import EmulatorHandle
from .replies import expect_token


@dataclass(frozen=True)
class MindbehindChannel:
    """A seeded company with one web chat channel (fresh ids and management token)."""

    company_id: str
    channel_id: str
    management_token: str
    token_age_hours: int
    handle: EmulatorHandle

    def issue_token(self, client_id: str, **fields: Any) -> str:
        """A client token (`mbWebChat/token`), e.g. `issue_token("+905551112233", tokenAge=1)`."""
        reply = self.handle.post(
            "/external/v1/incoming/mbWebChat/token",
            json={"clientID": client_id, "channelID": self.channel_id, **fields},
            headers={"apiToken": self.management_token},
        )
        return expect_token(reply, "token")


@dataclass(frozen=True)
class MindbehindToken:
    token: str
    client_id: str
    channel: MindbehindChannel


@pytest.fixture
def mindbehind_channel(emulator_backend: EmulatorHandle) -> MindbehindChannel:
    """A Mindbehind company and web chat channel with fresh ids, in this test's namespace."""
    suffix, management_token = secrets.token_hex(12), secrets.token_urlsafe(24)
    channel = {"id": f"ch-{suffix}", "type": "mbWebChat", "management_token": management_token, "token_age": 24}
    emulator_backend.control.seed({"mindbehind": {"companies": [{"id": f"co-{suffix}", "channels": [channel]}]}})
    return MindbehindChannel(f"co-{suffix}", f"ch-{suffix}", management_token, 24, emulator_backend)


@pytest.fixture
def mindbehind_client_token(mindbehind_channel: MindbehindChannel) -> MindbehindToken:
    """A client token of the channel's default age (24 h) for a fresh client id."""
    client_id = f"client-{secrets.token_hex(6)}"
    return MindbehindToken(mindbehind_channel.issue_token(client_id), client_id, mindbehind_channel)


@pytest.fixture
def expired_mindbehind_token(mindbehind_channel: MindbehindChannel, emulator_clock: EmulatorClient) -> MindbehindToken:
    """A client token issued with `tokenAge: 1`, the test's clock then moved one hour and a second on."""
    client_id = f"client-{secrets.token_hex(6)}"
    token = mindbehind_channel.issue_token(client_id, tokenAge=1)
    emulator_clock.advance("3601s")
    return MindbehindToken(token, client_id, mindbehind_channel)


@dataclass(frozen=True)
class MindbehindCode:
    phone: str
    code: str
    channel: MindbehindChannel


@pytest.fixture
def mindbehind_otp(mindbehind_channel: MindbehindChannel) -> MindbehindCode:
    """An SMS code requested for a fresh phone number on the channel, read back as a test would read it."""
    phone = "+90555" + secrets.token_hex(3).translate(str.maketrans("abcdef", "123456"))
    handle = mindbehind_channel.handle
    sent = handle.post(
        "/__emulator/mindbehind/webchat/otp", json={"channelID": mindbehind_channel.channel_id, "phone": phone}
    )
    if sent.status != 200:
        pytest.fail(f"the OTP request answered {sent.status}: {sent.text}")
    read = handle.get("/__emulator/mindbehind/otp", params={"channelID": mindbehind_channel.channel_id, "phone": phone})
    return MindbehindCode(phone, read.json()["code"], mindbehind_channel)
