"""Step-up authentication (reference section 7; the emulator's wire design in providers/liveperson/stepup.py):
the fixtures, the IDP side in-process, and refusals. The whole flow over the sockets: test_liveperson_step_up_sockets.py."""

from __future__ import annotations

import jwt
import pytest

from emulator.pytest_plugin import LivePersonAccount
from emulator.pytest_plugin.liveperson_consumers import BrandIdp
from emulator.pytest_plugin.liveperson_conversations import (
    LivePersonConsumer,
    LivePersonConversation,
    SteppedUpConversation,
    add_lp_conversation,
)

WITHOUT_IDENTITY_ONLY = ["Common.Async_Messaging", "Messaging.Un_Auth_Messaging", "Common.User_Type_Bot"]


def _claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def _lp_state(account: LivePersonAccount) -> dict:
    return account.handle.control.export_state()["namespaces"][account.handle.namespace]["providers"]["liveperson"]


def test_unauth_conversation_is_an_anonymous_consumers_open_conversation(
    lp_unauth_conversation: LivePersonConversation,
) -> None:
    state = lp_unauth_conversation.state()
    consumer = _lp_state(lp_unauth_conversation.account)["accounts"][lp_unauth_conversation.account.id]["consumers"][
        lp_unauth_conversation.consumer.consumer_id
    ]
    assert consumer["kind"] == "anonymous"
    assert (state["consumer_id"], state["state"], state["stepped_up_from"]) == (
        lp_unauth_conversation.consumer.consumer_id,
        "OPEN",
        None,
    )
    assert [(e["sequence"], e["role"], e["originator_id"]) for e in lp_unauth_conversation.history()] == [
        (0, "CONSUMER", lp_unauth_conversation.consumer.consumer_id),
        (1, "ASSIGNED_AGENT", lp_unauth_conversation.agent.user_pid),
    ]
    assert "lp.ext" not in _claims(lp_unauth_conversation.consumer.lp_jwt)


def test_stepped_up_conversation_keeps_every_event_under_the_authenticated_consumer(
    stepped_up_conversation: SteppedUpConversation,
) -> None:
    stepped = stepped_up_conversation
    state = stepped.conversation.state()
    assert state["consumer_id"] == stepped.authenticated.consumer_id != stepped.unauthenticated.consumer_id
    assert state["stepped_up_from"] == stepped.unauthenticated.consumer_id
    assert state["state"] == "OPEN" and stepped.history() == stepped.history_before and len(stepped.history()) == 2
    claims = _claims(stepped.authenticated.lp_jwt)
    assert len(claims["sub"]) == 64 and claims["lp.ext"]["sub"] == stepped.brand_sub
    consumers = _lp_state(stepped.conversation.account)["accounts"][stepped.conversation.account.id]["consumers"]
    authenticated = consumers[stepped.authenticated.consumer_id]
    assert authenticated["kind"] == "authenticated" and authenticated["profile"]["given_name"] == "Ada"


def test_step_up_through_the_code_flow(lp_unauth_conversation: LivePersonConversation, lp_brand_idp: BrandIdp) -> None:
    lp_jwt = lp_brand_idp.authenticate(
        code=lp_brand_idp.code("code-flow-customer", given_name="Grace"),
        unauth_jwt=lp_unauth_conversation.consumer.lp_jwt,
    )
    state = lp_unauth_conversation.state()
    assert (
        state["consumer_id"] == _claims(lp_jwt)["sub"]
        and state["stepped_up_from"] == lp_unauth_conversation.consumer.consumer_id
    )
    assert len(state["events"]) == 2


def test_logging_in_without_presenting_the_unauthenticated_jwt_moves_nothing(
    lp_unauth_conversation: LivePersonConversation, lp_brand_idp: BrandIdp
) -> None:
    lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("plain-login"))
    assert lp_unauth_conversation.state()["consumer_id"] == lp_unauth_conversation.consumer.consumer_id


@pytest.mark.lp_account(features=WITHOUT_IDENTITY_ONLY)
def test_without_the_step_up_features_logging_in_leaves_the_conversation_behind(
    lp_unauth_conversation: LivePersonConversation, lp_brand_idp: BrandIdp
) -> None:
    lp_jwt = lp_brand_idp.authenticate(
        id_token=lp_brand_idp.id_token("no-step-up"), unauth_jwt=lp_unauth_conversation.consumer.lp_jwt
    )
    state = lp_unauth_conversation.state()
    assert (state["consumer_id"], state["stepped_up_from"]) == (lp_unauth_conversation.consumer.consumer_id, None)
    owners = {
        c["consumer_id"]
        for c in _lp_state(lp_unauth_conversation.account)["accounts"][lp_unauth_conversation.account.id][
            "conversations"
        ].values()
    }
    assert _claims(lp_jwt)["sub"] not in owners


def test_an_open_conversation_the_authenticated_consumer_had_is_closed_by_the_system(
    lp_unauth_conversation: LivePersonConversation, lp_brand_idp: BrandIdp
) -> None:
    returning = LivePersonConsumer.of(lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("returning-customer")))
    older = add_lp_conversation(
        lp_unauth_conversation.account, returning.consumer_id, lp_unauth_conversation.agent.user_pid
    )
    lp_brand_idp.authenticate(
        id_token=lp_brand_idp.id_token("returning-customer"), unauth_jwt=lp_unauth_conversation.consumer.lp_jwt
    )
    conversations = _lp_state(lp_unauth_conversation.account)["accounts"][lp_unauth_conversation.account.id][
        "conversations"
    ]
    assert (conversations[older]["state"], conversations[older]["close_reason"]) == ("CLOSE", "SYSTEM")
    assert (
        conversations[lp_unauth_conversation.id]["state"],
        conversations[lp_unauth_conversation.id]["consumer_id"],
    ) == (
        "OPEN",
        returning.consumer_id,
    )


def test_logging_in_again_as_the_same_brand_user_is_the_same_consumer(
    stepped_up_conversation: SteppedUpConversation, lp_brand_idp: BrandIdp
) -> None:
    again = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token(stepped_up_conversation.brand_sub))
    assert _claims(again)["sub"] == stepped_up_conversation.authenticated.consumer_id
    assert (
        stepped_up_conversation.conversation.state()["consumer_id"] == stepped_up_conversation.authenticated.consumer_id
    )


@pytest.mark.parametrize("presented", ["garbage", "authenticated", "expired", "other-account"])
def test_a_step_up_presenting_anything_but_a_live_unauthenticated_jwt_is_refused_whole(
    presented: str, lp_unauth_conversation: LivePersonConversation, lp_brand_idp: BrandIdp, emulator_clock, emulator
) -> None:
    account = lp_unauth_conversation.account
    if presented == "garbage":
        token = "not.a.jwt"
    elif presented == "authenticated":
        token = lp_brand_idp.authenticate(id_token=lp_brand_idp.id_token("already-authenticated"))
    elif presented == "other-account":
        other = {"id": "98765432101", "connectors": [{"id": "555", "type": "unauthenticated"}]}
        emulator.control.seed({"liveperson": {"accounts": [other]}})
        other_account = LivePersonAccount(other["id"], "555", 600.0, account.handle)
        token = other_account.exchange(other_account.issue_ext_jwt())
    else:
        token = lp_unauth_conversation.consumer.lp_jwt
    before = _lp_state(account)
    if presented == "expired":
        emulator_clock.advance("2h")  # past the LP JWT's one hour (consumer_jwt_ttl)
        before = _lp_state(account)
    id_token = lp_brand_idp.id_token("step-up-refused")
    reply = lp_brand_idp.authenticate_reply(id_token=id_token, unauth_jwt=token)
    assert (reply.status, reply.json()) == (401, {"internalErrorCode": "9007"})
    assert reply.headers["X-Emulator-Reason"].startswith("step_up_")
    assert _lp_state(account) == before
