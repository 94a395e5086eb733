"""Record: a namespace's journal exported as a scenario that replays (GET /__emulator/record)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import requests
import yaml

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorError
from emulator.config import parse_seed
from emulator.core.journal import JournalEntry
from emulator.core.store import CLOCK_LOG_SIZE
from emulator.scenarios import ScenarioRunner, parse_scenario
from emulator.scenarios.record import SEED_EXPORTERS, build_scenario, dump_scenario, record_scenario
from emulator.scenarios.values import HELPERS
from emulator.web import runtime


def replay(emulator, document):
    """Run a recording in a new namespace of the same emulator; every step must pass."""
    result = ScenarioRunner(emulator.transport).run(parse_scenario(yaml.safe_load(dump_scenario(document))))
    assert result.ok, result.report()
    return result


def tutorial_session(emulator, lp_account) -> None:
    """LivePerson's unauthenticated flow, with the expiry and refresh, as a test would drive it."""
    ext = lp_account.issue_ext_jwt()
    lp_account.exchange(ext)
    emulator.control.advance("11m")
    exchange = lp_account.idp_path(f"app/{lp_account.unauth_connector_id}/authenticate")
    assert emulator.post(exchange, params={"v": "3.0"}, json={"id_token": ext}).status == 401
    refreshed = emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": ext}).json()["token"]
    lp_account.exchange(refreshed)


def request_steps(document):
    return [step for step in document["steps"] if "request" in step]


def test_the_tutorial_session_replays_in_a_new_namespace_with_fresh_ids(emulator, lp_account):
    tutorial_session(emulator, lp_account)
    document = record_scenario(emulator.control, fresh_ids=True)

    assert document["vars"] == {"account": "${random_digits(8)}", "connector": "${random_digits(10)}"}
    assert document["seed"] == {
        "liveperson": {
            "accounts": [{"id": "${account}", "connectors": [{"id": "${connector}", "type": "unauthenticated"}]}]
        }
    }
    kinds = [next(iter(set(step) & {"request", "clock"})) for step in document["steps"]]
    assert kinds == ["request", "request", "clock", "request", "request", "request"]
    assert document["steps"][2] == {"clock": {"advance": "11m"}}
    authorize, exchange, _, refused, refresh, again = document["steps"]
    assert authorize["request"] == {"method": "POST", "path": "/api/account/${account}/anonymous/authorize"}
    assert authorize["expect"] == {"status": 200, "jsonpath": {"$.token": {"exists": True}}}
    assert authorize["save"] == {"token": "$.token"}
    assert exchange["request"] == {
        "method": "POST",
        "path": "/api/account/${account}/app/${connector}/authenticate",
        "query": {"v": "3.0"},
        "headers": {"Content-Type": "application/json"},
        "json": {"id_token": "${token}"},
    }
    assert "save" not in exchange  # its LP JWT is never sent back
    assert refused["expect"] == {"status": 401, "jsonpath": {"$.internalErrorCode": {"exists": True}}}
    assert refresh["request"]["json"] == {"id_token": "${token}"} and refresh["save"] == {"token_2": "$.token"}
    assert again["request"]["json"] == {"id_token": "${token_2}"}

    result = replay(emulator, document)  # the recorded namespace still holds its ids: fresh ones are drawn
    assert len(result.steps) == 6
    assert result.variables["account"] != lp_account.id


def test_without_fresh_ids_the_seed_keeps_the_ids_and_validates(emulator, lp_account):
    tutorial_session(emulator, lp_account)
    assert emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["accounts"][
        lp_account.id
    ]["consumers"]  # the state has consumers; the seed leaves them out
    document = record_scenario(emulator.control)

    assert "vars" not in document
    assert document["seed"] == {
        "liveperson": {
            "accounts": [
                {"id": lp_account.id, "connectors": [{"id": lp_account.unauth_connector_id, "type": "unauthenticated"}]}
            ]
        }
    }
    assert parse_seed(document["seed"]).liveperson.accounts[0].id == lp_account.id
    assert request_steps(document)[0]["request"]["path"] == lp_account.idp_path("anonymous/authorize")
    emulator.control.reset()  # frees the ids for the replay
    replay(emulator, document)


@pytest.mark.lp_account(features=[], settings={"ext_jwt_ttl": "30s"})
def test_changed_settings_are_recorded_and_defaults_left_out(emulator, lp_account):
    assert emulator.post(lp_account.idp_path("anonymous/authorize")).status == 403
    document = record_scenario(emulator.control, fresh_ids=True)
    assert document["seed"]["liveperson"]["accounts"] == [
        {
            "id": "${account}",
            "features": [],
            "settings": {"ext_jwt_ttl": 30.0},
            "connectors": [{"id": "${connector}", "type": "unauthenticated"}],
        }
    ]
    replay(emulator, document)


@pytest.mark.parametrize(
    ("kind", "rule", "expected"),
    [
        ("reset", {}, {"error": "connection"}),
        ("empty", {}, {"error": "connection"}),
        ("hang", {"duration": "2s"}, {"error": "timeout"}),
        ("truncated", {}, {"error": "truncated"}),
        ("status", {"status": 503}, {"status": 503}),
        ("malformed", {}, {"status": 200}),
    ],
)
def test_a_faulted_request_replays_with_the_same_fault(emulator, lp_account, kind, rule, expected):
    authorize = lp_account.idp_path("anonymous/authorize")
    emulator.control.add_fault(kind, match={"path": authorize}, times=1, **rule)
    try:
        emulator.post(authorize)
    except requests.exceptions.RequestException:
        pass
    lp_account.issue_ext_jwt()  # the rule is spent: this one is answered
    document = record_scenario(emulator.control, fresh_ids=True)

    fault, faulted, answered = document["steps"]
    assert fault == {
        "fault": {
            "kind": kind,
            "match": {
                "provider": "liveperson",
                "method": "POST",
                "path": "/api/account/${account}/anonymous/authorize",
            },
            **{key: value for key, value in rule.items() if key != "duration"},
            **({"duration": 2.0} if kind == "hang" else {}),
            "times": 1,
        }
    }
    assert {key: value for key, value in faulted["expect"].items() if key != "jsonpath"} == expected
    assert "save" not in faulted and answered["expect"]["status"] == 200
    replay(emulator, document)


def test_a_removed_rule_still_replays_from_what_the_journal_says(emulator, lp_account):
    authorize = lp_account.idp_path("anonymous/authorize")
    emulator.control.add_fault("status", status=429, match={"path": authorize}, times=1)
    assert emulator.post(authorize).status == 429
    emulator.control.clear_faults()
    document = record_scenario(emulator.control, fresh_ids=True)
    assert document["steps"][0]["fault"]["status"] == 429 and document["steps"][1]["expect"]["status"] == 429
    replay(emulator, document)


def test_clock_moves_land_between_the_requests_they_fell_between(emulator, lp_account):
    emulator.control.freeze(at="2026-01-01T00:00:00Z")
    lp_account.issue_ext_jwt()
    emulator.control.advance("90s")
    emulator.control.advance("1m")
    lp_account.issue_ext_jwt()
    emulator.control.unfreeze()
    other = emulator.control.in_namespace(emulator.namespace + "-other")
    try:
        other.advance("5m")  # another namespace's clock is not this one's
    finally:
        other.reset()
    steps = record_scenario(emulator.control)["steps"]
    shape = [step.get("clock") or step["request"]["method"] for step in steps]
    assert shape == [
        {"set": "2026-01-01T00:00:00Z", "freeze": True},
        "POST",
        {"advance": "90s"},
        {"advance": "1m"},
        "POST",
        {"freeze": False},
    ]


def test_the_clock_log_is_bounded(emulator):
    assert runtime(emulator.transport.app).store.namespace(emulator.namespace).clock_log.maxlen == CLOCK_LOG_SIZE


def test_an_empty_journal_is_a_409_not_a_scenario_without_steps(emulator, lp_account):
    with pytest.raises(EmulatorError) as refused:
        record_scenario(emulator.control)
    assert (refused.value.status, refused.value.code) == (409, "empty_journal")
    lp_account.issue_ext_jwt()
    emulator.control.clear_journal()
    with pytest.raises(EmulatorError, match="no journaled request"):
        record_scenario(emulator.control)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"namespace": "not a namespace"}, "namespace"),
        ({"namespace": "*"}, "namespace"),
        ({"fresh_ids": "maybe"}, "fresh_ids"),
    ],
)
def test_bad_arguments_are_400_in_the_control_error_shape(emulator, params, field):
    reply = emulator.transport.send("GET", "/__emulator/record", params={"namespace": emulator.namespace, **params})
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["field"] == field and error["code"] in ("invalid_namespace", "invalid_argument") and error["message"]


def test_a_namespace_without_tenants_records_without_a_seed_and_is_not_created(emulator):
    unknown = emulator.get("/api/account/999999999/service/idp/baseURI.json")
    assert unknown.status == 401
    document = record_scenario(emulator.control)
    assert document["seed"] is None and request_steps(document)[0]["expect"]["status"] == 401
    assert emulator.namespace not in runtime(emulator.transport.app).store.names()
    replay(emulator, document)


def entry(seq: int, path: str, *, query: str = "", body: str = "", answer: str = "", status: int = 200) -> JournalEntry:
    return JournalEntry(
        seq=seq,
        time="",
        namespace="n",
        provider="liveperson",
        method="POST",
        path=path,
        query=query,
        status=status,
        request_headers={"content-type": "application/x-www-form-urlencoded"} if body else {},
        request_body=body,
        response_body=answer,
    )


def test_answer_values_sent_back_in_a_path_query_or_raw_body_are_saved_and_referenced():
    consumer = "0f3c1d2e-1111-4222-8333-944455556666"
    document = build_scenario(
        "wiring",
        [
            entry(1, "/api/account/7/signup", answer=f'{{"consumer": "{consumer}", "kind": "idp", "n": 12345678}}'),
            entry(
                2, f"/api/account/7/consumers/{consumer}", query=f"who={consumer}&kind=idp", body=f"id={consumer}&k=idp"
            ),
            entry(3, "/api/account/7/x", body=('{"a": "' + "x" * 5000 + '"}')[:4096] + "...[912 more characters]"),
        ],
        seed=None,
        ids={"7": "account"},
        variables={"account": "${random_digits(8)}"},
    )
    first, second, clipped = document["steps"]
    assert first["save"] == {"consumer": "$.consumer"}  # "idp" is too short to be told from chance
    assert second["request"] == {
        "method": "POST",
        "path": "/api/account/${account}/consumers/${consumer}",
        "query": {"who": "${consumer}", "kind": "idp"},
        "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        "body": "id=${consumer}&k=idp",
    }
    assert "clipped" in clipped["name"]


def test_dump_scenario_is_ordered_yaml_that_parses_back(emulator, lp_account):
    tutorial_session(emulator, lp_account)
    document = record_scenario(emulator.control, fresh_ids=True)
    shuffled = {
        "steps": [dict(reversed(step.items())) for step in document["steps"]],
        **{k: document[k] for k in ("vars", "seed", "name")},
    }
    text = dump_scenario(shuffled)
    assert yaml.safe_load(text) == document
    assert [line.split(":")[0] for line in text.splitlines() if line and not line.startswith((" ", "-"))] == [
        "name",
        "seed",
        "vars",
        "steps",
    ]
    assert text.index("request:") < text.index("expect:") < text.index("save:")
    parse_scenario(yaml.safe_load(text))


def test_a_json_text_sent_as_a_form_stays_the_same_bytes():
    form = entry(1, "/api/account/7/signup", body='{"a": 1}')
    sent_as_json = JournalEntry(**{**form.to_dict(), "seq": 2, "request_headers": {"Content-Type": "application/json"}})
    as_form, as_json = build_scenario("bodies", [form, sent_as_json], seed=None)["steps"]
    assert as_form["request"]["body"] == '{"a": 1}' and "json" not in as_form["request"]
    assert as_json["request"]["json"] == {"a": 1} and "body" not in as_json["request"]


def test_a_session_over_http_records_over_http_and_replays_in_process(emulator_server):
    account = HELPERS["random_digits"](9)
    emulator_server.control.seed({"liveperson": {"accounts": [{"id": account}]}})
    token = emulator_server.post(f"/api/account/{account}/anonymous/authorize").json()["token"]
    assert emulator_server.post(f"/api/account/{account}/anonymous/authorize", json={"id_token": token}).status == 200
    document = record_scenario(emulator_server.control)  # an EmulatorClient over HTTP, as against docker
    assert request_steps(document)[1]["request"]["json"] == {"id_token": "${token}"}
    another = create_app()  # the fixtures share one emulator: the recorded ids are free only in another
    replay(SimpleNamespace(transport=AppTransport(another)), document)


def test_tenants_of_a_provider_record_cannot_export_are_a_501(emulator, lp_account, monkeypatch):
    lp_account.issue_ext_jwt()
    monkeypatch.delitem(SEED_EXPORTERS, "liveperson")
    with pytest.raises(EmulatorError) as refused:
        record_scenario(emulator.control)
    assert (refused.value.status, refused.value.code) == (501, "cannot_record")


def test_a_mindbehind_session_records_and_replays_with_fresh_ids(emulator, mindbehind_channel):
    """Credentials (apiToken) are recorded, and the client token the first answer gave is wired into the session."""
    token = mindbehind_channel.issue_token("+905551112233", properties={"name": "Ada"})
    opened = emulator.post(
        "/__emulator/mindbehind/webchat/sessions",
        json={
            "channelID": mindbehind_channel.channel_id,
            "auth": "token",
            "MB_TOKEN": token,
            "MB_CLIENT": "+905551112233",
        },
    )
    assert opened.status == 201
    read = emulator.get(
        "/live-core/getClient",
        params={"clientID": "+905551112233", "companyID": mindbehind_channel.company_id},
        headers={"apiToken": mindbehind_channel.management_token},
    )
    assert read.json()["name"] == "Ada"
    document = record_scenario(emulator.control, fresh_ids=True)
    assert document["steps"][0]["request"]["headers"]["apiToken"] == mindbehind_channel.management_token
    assert document["steps"][1]["request"]["json"]["MB_TOKEN"] == "${token}"
    replay(emulator, document)


def test_a_sunshine_session_records_and_replays_with_fresh_ids(emulator, sunshine_app):
    """Apps and integrations get fresh ids; key ids stay (the recorded credentials carry them); the events
    the session gave rise to are not steps."""
    user = sunshine_app.request("POST", "users", json={"externalId": "ext-record"}).json()["user"]
    body = {"type": "personal", "participants": [{"userId": user["id"]}]}
    conversation = sunshine_app.request("POST", "conversations", json=body).json()["conversation"]
    posted = sunshine_app.request(
        "POST",
        f"conversations/{conversation['id']}/messages",
        json={"author": {"type": "business"}, "content": {"type": "text", "text": "hi"}},
    )
    assert posted.status == 201
    assert [e["path"] for e in emulator.control.journal(method="EVENT")] == [
        "conversation:create",
        "conversation:message",
    ]

    document = record_scenario(emulator.control, fresh_ids=True)

    assert document["vars"] == {"app": "${random_digits(24)}"}
    assert document["seed"]["sunshine"]["apps"][0]["keys"] == [
        {"id": sunshine_app.key_id, "secret": sunshine_app.secret}
    ]
    assert [step["request"]["method"] for step in request_steps(document)] == ["POST", "POST", "POST"]
    assert request_steps(document)[1]["request"]["json"]["participants"] == [{"userId": "${user_id}"}]
    assert request_steps(document)[2]["request"]["path"] == "/v2/apps/${app}/conversations/${conversation_id}/messages"
    result = replay(emulator, document)
    assert result.variables["app"] != sunshine_app.id


def test_a_login_session_records_and_replays_its_cookie_and_bearer(emulator, lp_agent_session):
    """The session cookie and the csrf of the login answer are wired into the refresh; sessions are not seed."""
    assert lp_agent_session.refresh().status == 200
    document = record_scenario(emulator.control, fresh_ids=True)

    account = document["seed"]["liveperson"]["accounts"][0]
    assert "sessions" not in account and "last_logins" not in account
    login, refresh = request_steps(document)[-2:]
    assert login["save"] == {"sessionId": "$.sessionId", "csrf": "$.csrf"}
    assert refresh["request"]["headers"]["Cookie"] == "session_id=${sessionId}"
    assert refresh["request"]["json"] == {"csrf": "${csrf}"}
    replay(emulator, document)
