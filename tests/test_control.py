"""The /__emulator control API and its Python mirror, EmulatorClient."""

from datetime import datetime, timedelta

import pytest

from emulator.client import EmulatorError


def control_call(emulator, method, path, **kwargs):
    params = {"namespace": emulator.namespace, **kwargs.pop("params", {})}
    return emulator.transport.send(method, f"/__emulator{path}", params=params, **kwargs)


def assert_control_error(reply, status, code, field=None):
    assert reply.status == status
    error = reply.json()["error"]
    assert error["code"] == code and isinstance(error["message"], str) and error["message"]
    assert error.get("field") == field


def when(clock: dict) -> datetime:
    return datetime.fromisoformat(clock["now"].replace("Z", "+00:00"))


def test_health(emulator):
    assert emulator.control.health() == {"status": "ok", "version": __import__("emulator").__version__}


def test_clock_shape_is_iso_utc_and_frozen_flag(emulator):
    clock = emulator.control.clock()
    assert set(clock) == {"now", "frozen"} and clock["frozen"] is False
    assert clock["now"].endswith("Z")


@pytest.mark.parametrize(
    ("step", "seconds"), [("300ms", 0.3), ("90s", 90), ("11m", 660), ("730h", 2_628_000), ("2d", 172_800), (5, 5)]
)
def test_advance_moves_the_clock_by_the_duration(emulator, step, seconds):
    emulator.control.freeze()
    before = when(emulator.control.clock())
    after = when(emulator.control.advance(step))
    assert after - before == timedelta(seconds=seconds)


def test_set_and_freeze_and_unfreeze(emulator):
    assert emulator.control.move_clock(set="2026-01-01T00:00:00Z", freeze=True) == {
        "now": "2026-01-01T00:00:00.000Z",
        "frozen": True,
    }
    assert emulator.control.clock()["now"] == "2026-01-01T00:00:00.000Z"
    assert emulator.control.unfreeze()["frozen"] is False
    assert when(emulator.control.clock()) >= datetime.fromisoformat("2026-01-01T00:00:00+00:00")


def test_each_namespace_has_its_own_clock(emulator):
    other = emulator.control.in_namespace(emulator.namespace + "-other")
    try:
        emulator.control.freeze(at="2030-05-05T00:00:00Z")
        assert not other.clock()["frozen"]
        assert other.clock()["now"] != emulator.control.clock()["now"]
    finally:
        other.reset()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"advance": "soon"}, "advance"),
        ({"advance": "-5s"}, "advance"),
        ({"set": "yesterday"}, "set"),
        ({"set": 12}, "set"),
        ({"freeze": "yes"}, "freeze"),
        ({"rewind": "1h"}, "rewind"),
        ({}, None),
    ],
)
def test_bad_clock_calls_are_400_naming_the_field(emulator, body, field):
    before = emulator.control.clock()
    emulator.control.freeze()
    frozen = emulator.control.clock()
    assert_control_error(control_call(emulator, "POST", "/clock", json=body), 400, "invalid_clock", field)
    assert emulator.control.clock() == frozen and before["frozen"] is False


@pytest.mark.parametrize(("data", "code"), [(b"{nope", "malformed_json"), (b"[1]", "invalid_body")])
def test_clock_body_that_is_not_an_object(emulator, data, code):
    reply = control_call(emulator, "POST", "/clock", data=data, headers={"Content-Type": "application/json"})
    assert_control_error(reply, 400, code)


def test_seed_json_and_yaml_answer_the_namespace_and_tenants(emulator):
    assert emulator.control.seed({"liveperson": {"accounts": [{"id": "70000001"}]}}) == {
        "namespace": emulator.namespace,
        "tenants": {"liveperson": ["70000001"], "sunshine": [], "mindbehind": []},
    }
    answer = emulator.control.seed("liveperson:\n  accounts:\n    - id: '70000002'\n")
    assert answer["tenants"]["liveperson"] == ["70000001", "70000002"]


def test_seed_errors_name_the_field(emulator):
    with pytest.raises(EmulatorError) as caught:
        emulator.control.seed(
            {"liveperson": {"accounts": [{"id": "70000003", "connectors": [{"id": "9", "type": "odd"}]}]}}
        )
    assert (caught.value.status, caught.value.code, caught.value.field) == (
        400,
        "invalid_seed",
        "liveperson.accounts[0].connectors[0].type",
    )
    assert (
        emulator.control.export_state()["namespaces"][emulator.namespace]["providers"]["liveperson"]["accounts"] == {}
    )


def test_seed_of_a_tenant_owned_by_another_namespace_is_409(emulator):
    emulator.control.seed({"liveperson": {"accounts": [{"id": "70000004"}]}})
    other = emulator.control.in_namespace(emulator.namespace + "-b")
    try:
        with pytest.raises(EmulatorError) as caught:
            other.seed({"liveperson": {"accounts": [{"id": "70000004"}]}})
        assert (caught.value.status, caught.value.code) == (409, "tenant_conflict")
    finally:
        other.reset()


def test_state_export_import_round_trip(emulator, lp_account):
    ext = lp_account.issue_ext_jwt()
    exported = emulator.control.export_state()
    emulator.control.reset()
    assert lp_account.handle.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": ext}).status == 401
    assert emulator.control.import_state(exported) == [emulator.namespace]
    assert emulator.control.export_state() == exported
    assert lp_account.handle.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": ext}).status == 200


@pytest.mark.parametrize(
    "document", [[], {"namespaces": 3}, {"namespaces": {"x": {"providers": {"liveperson": {"accounts": 5}}}}}]
)
def test_bad_state_documents_are_400(emulator, document):
    assert_control_error(
        control_call(emulator, "POST", "/state", json=document),
        400,
        "invalid_body" if document == [] else "invalid_state",
    )


def test_journal_records_provider_requests_not_control_calls(emulator, lp_account):
    lp_account.issue_ext_jwt()
    emulator.get(f"/api/account/{lp_account.id}/service/idp/baseURI.json", params={"version": "1.0"})
    entries = emulator.control.journal()
    assert [(e["method"], e["status"]) for e in entries] == [("POST", 200), ("GET", 200)]
    first = entries[0]
    assert first["provider"] == "liveperson" and first["namespace"] == emulator.namespace
    assert first["path"] == f"/api/account/{lp_account.id}/anonymous/authorize"
    assert '"token"' in first["response_body"]
    assert entries[1]["query"] == "version=1.0"


def test_journal_filters(emulator, lp_account):
    lp_account.issue_ext_jwt()
    emulator.get(f"/api/account/{lp_account.id}/configuration/le-connectors/all-connectors")
    assert len(emulator.control.journal(method="GET")) == 1
    assert len(emulator.control.journal(path="/api/account/*/anonymous/authorize")) == 1
    assert len(emulator.control.journal(path="/api/**")) == 2
    assert emulator.control.journal(provider="sunshine") == []
    assert len(emulator.control.journal(limit=1)) == 1
    assert_control_error(
        control_call(emulator, "GET", "/journal", params={"limit": "many"}), 400, "invalid_filter", "limit"
    )


def test_journal_clear_and_namespace_isolation(emulator, lp_account):
    lp_account.issue_ext_jwt()
    other = emulator.control.in_namespace(emulator.namespace + "-c")
    assert other.journal() == []
    emulator.control.clear_journal()
    assert emulator.control.journal() == []


def test_reset_drops_tenants_and_journal(emulator, lp_account):
    lp_account.issue_ext_jwt()
    emulator.control.reset()
    assert emulator.control.journal() == []
    reply = emulator.post(lp_account.idp_path("anonymous/authorize"))
    assert reply.status == 401  # the account is gone: "invalid site"


@pytest.mark.parametrize("namespace", ["", "has space", "x" * 65, "semi;colon"])
def test_bad_namespace_names_are_400(emulator, namespace):
    reply = emulator.transport.send("GET", "/__emulator/clock", params={"namespace": namespace})
    assert_control_error(reply, 400, "invalid_namespace", "namespace")


def test_star_is_refused_where_a_call_acts_on_one_namespace(emulator):
    assert_control_error(
        emulator.transport.send("GET", "/__emulator/clock", params={"namespace": "*"}),
        400,
        "invalid_namespace",
        "namespace",
    )


def test_unknown_control_path_and_method_answer_json(emulator):
    assert_control_error(emulator.transport.send("GET", "/__emulator/nothing"), 404, "not_found")
    assert_control_error(emulator.transport.send("PUT", "/__emulator/clock"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", ["/seed", "/state", "/clock"])
def test_bodies_nested_deeper_than_the_stack_are_400_not_a_crash(emulator, path):
    reply = control_call(emulator, "POST", path, data=b"[" * 100_000, headers={"Content-Type": "application/json"})
    assert reply.status == 400 and "X-Emulator-Unhandled" not in reply.headers


def test_deeply_nested_yaml_seed_is_400(emulator):
    reply = control_call(
        emulator, "POST", "/seed", data=b"a: " + b"[" * 100_000, headers={"Content-Type": "application/yaml"}
    )
    assert_control_error(reply, 400, "invalid_seed")
