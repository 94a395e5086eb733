"""The bounded-record rules over the API, on the emulator's clock: LivePerson signup and external consumers
without a conversation are forgotten once their token has ended, those with a conversation stay; a Mindbehind
named client goes with its last token. Every new record runs the rules here (PRUNE_EVERY 1)."""

from __future__ import annotations

import jwt
import pytest

from emulator.providers.liveperson import models as lp
from emulator.providers.mindbehind import models as mb
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, LivePersonAppJwt, MindbehindChannel


def consumers(handle: EmulatorHandle, account_id: str) -> dict:
    state = handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]
    return state["accounts"][account_id]["consumers"]


def connector_call(app_jwt: LivePersonAppJwt, body: list) -> str:
    """A Connector API CONVERSATION call for a fresh external consumer: its LP consumer id."""
    jws = app_jwt.issue_consumer_jws()
    account = app_jwt.account
    reply = account.handle.post(
        f"/api/account/{account.id}/messaging/consumer/conversation",
        params={"v": "3"},
        json=body,
        headers=jws.headers(),
    )
    assert reply.status == 200, reply.text
    return jws.lp_consumer_id


PROFILE = {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}}
REQUEST = {"kind": "req", "id": "2", "type": "cm.ConsumerRequestConversation", "body": {}}


@pytest.mark.lp_account(settings={"signup_jwt_ttl": "2h"})
def test_signup_and_external_consumers_are_forgotten_on_the_clock_unless_they_have_a_conversation(
    monkeypatch: pytest.MonkeyPatch, lp_account: LivePersonAccount, lp_app_jwt: LivePersonAppJwt, emulator_clock
) -> None:
    monkeypatch.setattr(lp, "PRUNE_EVERY", 1)
    signup = lp_account.handle.post(lp_account.idp_path("signup"))
    signed_up = jwt.decode(signup.json()["jwt"], options={"verify_signature": False})["sub"]
    profiled = connector_call(lp_app_jwt, [PROFILE])
    talking = connector_call(lp_app_jwt, [PROFILE, REQUEST])
    assert {signed_up, profiled, talking} <= set(consumers(lp_account.handle, lp_account.id))

    emulator_clock.advance("2h")
    lp_account.issue_ext_jwt()  # a new consumer: the rules run
    assert signed_up not in consumers(lp_account.handle, lp_account.id)  # its signup LP JWT has ended
    assert {profiled, talking} <= set(consumers(lp_account.handle, lp_account.id))  # a ConsumerJWS may still be good

    emulator_clock.advance("22h")
    newest = jwt.decode(lp_account.issue_ext_jwt(), options={"verify_signature": False})["sub"]
    kept = set(consumers(lp_account.handle, lp_account.id))
    assert profiled not in kept and {talking, newest} <= kept


def test_a_named_mindbehind_client_goes_a_day_after_its_last_token_expired(
    monkeypatch: pytest.MonkeyPatch, mindbehind_channel: MindbehindChannel, emulator_clock
) -> None:
    monkeypatch.setattr(mb, "PRUNE_EVERY", 1)
    mindbehind_channel.issue_token("short-lived", tokenAge=1)
    mindbehind_channel.issue_token("long-lived", tokenAge=48)

    def get_client(client_id: str) -> int:
        params = {"clientID": client_id, "companyID": mindbehind_channel.company_id}
        return mindbehind_channel.handle.get(
            "/live-core/getClient", params=params, headers={"apiToken": mindbehind_channel.management_token}
        ).status

    emulator_clock.advance(3600 + mb.EXPIRED_MEMORY_SECONDS - 1)
    mindbehind_channel.issue_token("another")  # a new record: the rules run
    assert (get_client("short-lived"), get_client("long-lived")) == (200, 200)  # its token still answers "expired"
    emulator_clock.advance(1)
    mindbehind_channel.issue_token("yet-another")
    assert (get_client("short-lived"), get_client("long-lived")) == (404, 200)
