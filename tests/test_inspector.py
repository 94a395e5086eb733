"""What the dashboard reads: masked requests with reasons and token links, the token timeline and a token's
claims, expire/revoke by fingerprint, conversations in the neutral shape, namespaces, a scenario download."""

import base64
import hashlib
import json

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.client import EmulatorError
from emulator.control.masking import MASK, Masker, masked_entry

FROZEN = "2026-03-01T12:00:00Z"


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def page_text(handle, **filters) -> str:
    """Everything the dashboard receives about the namespace's requests, as one text."""
    return json.dumps(handle.control.requests(**filters), ensure_ascii=False)


@pytest.mark.emulator_time(FROZEN)
def test_requests_mask_credentials_and_link_the_tokens_used_and_issued(emulator, lp_account):
    first = lp_account.issue_ext_jwt()
    refreshed = emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": first}).json()["token"]
    emulator.get(
        f"/api/account/{lp_account.id}/configuration/le-connectors/all-connectors",
        headers={"Authorization": f"Bearer {refreshed}"},
    )
    issue, refresh, read = emulator.control.requests()
    assert issue["tokens"] == {"used": [], "issued": [fingerprint(first)]}
    assert refresh["tokens"] == {"used": [fingerprint(first)], "issued": [fingerprint(refreshed)]}
    assert read["tokens"]["used"] == [fingerprint(refreshed)]
    assert read["request_headers"]["Authorization"] == f"Bearer «token {fingerprint(refreshed)[:12]}»"
    assert json.loads(refresh["request_body"]) == {"id_token": f"«token {fingerprint(first)[:12]}»"}
    text = page_text(emulator)
    assert first not in text and refreshed not in text
    assert emulator.control.journal()[1]["request_body"] == json.dumps(
        {"id_token": first}
    )  # the journal itself is untouched


@pytest.mark.emulator_time(FROZEN)
def test_passwords_client_secrets_and_basic_credentials_are_masked(emulator, lp_account, sunshine_app):
    emulator.post(f"/api/account/{lp_account.id}/login?v=1.3", json={"username": "ada", "password": "hunter2-secret"})
    form = "grant_type=client_credentials&client_id=abc&client_secret=very-secret-value"
    emulator.post(
        f"/sentinel/api/account/{lp_account.id}/app/token",
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    emulator.get(sunshine_app.path("users/nobody"), headers=sunshine_app.basic_headers())
    login, token, sunshine = emulator.control.requests()
    assert (
        json.loads(login["request_body"])["password"] == MASK and json.loads(login["request_body"])["username"] == "ada"
    )
    assert token["request_body"] == f"grant_type=client_credentials&client_id=abc&client_secret={MASK}"
    assert sunshine["request_headers"]["Authorization"] == f"Basic {sunshine_app.key_id}:{MASK}"
    text = page_text(emulator)
    assert "hunter2-secret" not in text and "very-secret-value" not in text and sunshine_app.secret not in text


def test_answers_carry_their_headers_and_refusal_reason(emulator, lp_account):
    emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": "not-a-jwt"})
    (refused,) = emulator.control.requests()
    assert (
        refused["status"] == 401
        and refused["reason"]
        and refused["reason"] == refused["response_headers"]["X-Emulator-Reason"]
    )
    assert refused["response_headers"]["Content-Type"].startswith("application/json")


def test_filters_select_by_provider_path_status_fault_and_sequence(emulator, lp_account, sunshine_app):
    lp_account.issue_ext_jwt()
    emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": "bad"})
    emulator.control.add_fault("status", status=503, match={"provider": "sunshine"}, times=1)
    emulator.get(sunshine_app.path("users/nobody"), headers=sunshine_app.basic_headers())
    emulator.get(sunshine_app.path("users/nobody"), headers=sunshine_app.basic_headers())
    control = emulator.control
    assert [e["provider"] for e in control.requests(provider="sunshine")] == ["sunshine", "sunshine"]
    assert len(control.requests(path="anonymous/authorize")) == 2
    assert [e["status"] for e in control.requests(status="4xx")] == [401, 404]
    assert [e["status"] for e in control.requests(status=503)] == [503]
    assert [e["faults"][0]["kind"] for e in control.requests(fault="any")] == ["status"]
    assert control.requests(fault="latency") == []
    newest = control.requests()[-1]["seq"]
    assert control.requests(after=newest) == [] and len(control.requests(after=newest - 1)) == 1
    assert len(control.requests(limit=3)) == 3


@pytest.mark.parametrize(
    "name, value", [("status", "4x"), ("status", "abc"), ("after", "-1"), ("limit", "1e3"), ("namespace", "a b")]
)
def test_bad_filters_are_refused_in_the_control_shape(emulator, name, value):
    reply = emulator.transport.send(
        "GET", "/__emulator/requests", params={"namespace": emulator.namespace, name: value}
    )
    assert reply.status == 400 and reply.json()["error"]["field"] == name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    secret=st.text(st.characters(codec="utf-8", exclude_characters="\x00"), min_size=6, max_size=40).filter(str.strip),
    key=st.sampled_from(["password", "client_secret", "apiToken", "secret", "access_token", "appKey", "jwt"]),
    nested=st.booleans(),
)
def test_a_secret_under_any_secret_key_never_reaches_the_page(secret, key, nested):
    body = {"outer": [{key: secret}]} if nested else {key: secret, "other": "visible"}
    entry = {
        "query": "",
        "request_headers": {"Authorization": f"Bearer {secret}", "Cookie": secret},
        "request_body": json.dumps(body),
        "response_headers": {},
        "response_body": json.dumps(body),
    }
    masked = masked_entry(entry, known=lambda key: False)
    assert secret not in json.dumps(masked, ensure_ascii=False) and secret not in repr(masked)
    assert masked["request_headers"]["Cookie"] == MASK


def test_jwts_in_free_text_are_masked_and_known_ones_named():
    known_token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
    other = "eyJhbGciOiJub25lIn0.eyJ4IjoxfQ."
    masker = Masker(known=lambda key: key == fingerprint(known_token))
    text = masker.body(f"token={known_token} and {other}")
    assert known_token not in text and other not in text
    assert f"«token {fingerprint(known_token)[:12]}»" in text and f"«JWT {fingerprint(other)[:12]}»" in text
    assert masker.tokens == [fingerprint(known_token)]


@pytest.mark.emulator_time(FROZEN)
def test_the_timeline_shows_live_tokens_and_sessions_and_a_token_its_claims(emulator, lp_account, sunshine_app):
    token = lp_account.issue_ext_jwt()
    timeline = emulator.control.timeline()
    assert timeline["now"] == "2026-03-01T12:00:00.000Z" and timeline["frozen"] is True
    (row,) = timeline["tokens"]
    assert row["fingerprint"] == fingerprint(token) and row["issued_at"] == timeline["now_epoch"]
    assert row["expires_at"] == timeline["now_epoch"] + 600 and row["revoked"] is False
    assert row["refresh_until"] == timeline["now_epoch"] + 730 * 3600  # LivePerson's default refresh window
    assert any(session["subject"].startswith(sunshine_app.id) for session in timeline["sessions"])
    details = emulator.control.token_details(row["fingerprint"])
    assert details["claims"]["aud"] == f"acc:{lp_account.id}" and details["header"]["alg"] == "RS256"
    assert token not in json.dumps(details)


@pytest.mark.emulator_time(FROZEN)
def test_expire_and_revoke_by_fingerprint_act_as_by_token(emulator, lp_account):
    expired, revoked = lp_account.issue_ext_jwt(), lp_account.issue_ext_jwt()
    emulator.control.expire(fingerprint=fingerprint(expired))
    emulator.control.revoke(fingerprint=fingerprint(revoked))
    timeline = emulator.control.timeline()
    (still_refreshable,) = timeline["tokens"]  # the revoked one is gone; the expired one can still be refreshed
    assert (
        still_refreshable["fingerprint"] == fingerprint(expired)
        and still_refreshable["expires_at"] == timeline["now_epoch"]
    )
    assert emulator.control.token_details(fingerprint(revoked))["revoked"] is True
    assert emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": revoked}).status == 401
    assert (
        emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": expired}).status == 200
    )  # expired: still refreshable


def test_a_subject_cut_ends_tokens_on_the_timeline_too(emulator, lp_account):
    lp_account.issue_ext_jwt()
    emulator.control.revoke(account=lp_account.id)
    assert emulator.control.timeline()["tokens"] == []


@pytest.mark.parametrize("value, status", [("ABC", 400), ("0" * 64, 404), (7, 400)])
def test_a_bad_or_unknown_fingerprint_is_refused(emulator, value, status):
    with pytest.raises(EmulatorError) as refused:
        emulator.control.expire(fingerprint=value)
    assert refused.value.status == status
    reply = emulator.transport.send(
        "GET", f"/__emulator/timeline/tokens/{'0' * 64}", params={"namespace": emulator.namespace}
    )
    assert reply.status == 404 and reply.json()["error"]["code"] == "unknown_token"


def test_conversations_of_sunshine_in_order(emulator, sunshine_conversation):
    app = sunshine_conversation.user.app
    for text in ["first", "second"]:
        message = {"author": {"type": "business"}, "content": {"type": "text", "text": text}}
        assert (
            emulator.post(
                app.path(f"conversations/{sunshine_conversation.id}/messages"),
                json=message,
                headers=app.basic_headers(),
            ).status
            == 201
        )
    (view,) = emulator.control.conversations()
    assert view["provider"] == "sunshine" and view["id"] == sunshine_conversation.id and view["tenant"] == app.id
    assert view["participants"] == [{"id": sunshine_conversation.user.id, "role": "user"}]
    assert [(e["sequence"], e["text"], e["role"]) for e in view["events"]] == [
        (0, "first", "business"),
        (1, "second", "business"),
    ]


def test_a_stepped_up_liveperson_conversation_shows_its_step_up(emulator, stepped_up_conversation):
    views = [v for v in emulator.control.conversations() if v["provider"] == "liveperson"]
    (view,) = views
    assert view["id"] == stepped_up_conversation.id and view["state"] == "OPEN"
    assert view["step_up"]["from"] == stepped_up_conversation.unauthenticated.consumer_id
    assert [p["role"] for p in view["participants"]] == ["CONSUMER", "ASSIGNED_AGENT"]
    history = stepped_up_conversation.history()
    assert [e["sequence"] for e in view["events"]] == [e["sequence"] for e in history]
    assert view["events"][0]["text"] == history[0]["event"]["message"]


def test_deliveries_for_the_dashboard_hide_the_webhook_secret(
    emulator, sunshine_conversation, emulator_webhook_receiver
):
    app = sunshine_conversation.user.app
    hook = emulator_webhook_receiver.sunshine_webhook(app, triggers=["conversation:message"])
    message = {"author": {"type": "business"}, "content": {"type": "text", "text": "hi"}}
    emulator.post(
        app.path(f"conversations/{sunshine_conversation.id}/messages"), json=message, headers=app.basic_headers()
    )
    for verb, path in [("GET", "/__emulator/deliveries"), ("POST", "/__emulator/deliveries/flush")]:
        reply = emulator.transport.send(verb, path, params={"namespace": emulator.namespace, "masked": "true"})
        (delivery,) = reply.json()["deliveries"]
        assert delivery["headers"] == {"X-API-Key": MASK} and hook["secret"] not in reply.text
        assert delivery["payload"]["events"][0]["payload"]["message"]["content"]["text"] == "hi"
    assert emulator.control.deliveries()[0]["headers"] == {"X-API-Key": hook["secret"]}  # unmasked for tests


def test_namespaces_are_listed(emulator, lp_account):
    assert emulator.namespace in emulator.control.namespaces()


def test_record_downloads_a_scenario_file(emulator, lp_account):
    lp_account.issue_ext_jwt()
    reply = emulator.transport.send(
        "GET", "/__emulator/record", params={"namespace": emulator.namespace, "format": "yaml"}
    )
    assert reply.status == 200 and reply.headers["Content-Type"].startswith("application/yaml")
    assert reply.headers["Content-Disposition"] == f'attachment; filename="scenario-{emulator.namespace}.yaml"'
    assert yaml.safe_load(reply.text)["steps"][0]["request"]["path"] == lp_account.idp_path("anonymous/authorize")
    bad = emulator.transport.send(
        "GET", "/__emulator/record", params={"namespace": emulator.namespace, "format": "xml"}
    )
    assert bad.status == 400 and bad.json()["error"]["field"] == "format"


def test_basic_credentials_that_do_not_decode_are_masked_whole():
    masker = Masker(known=lambda key: False)
    assert masker.header("Authorization", "Basic !!!") == f"Basic {MASK}:{MASK}"
    assert masker.header("Authorization", "Basic " + base64.b64encode(b"no-colon").decode()) == f"Basic {MASK}:{MASK}"
    assert masker.header("Authorization", "opaque") == MASK
