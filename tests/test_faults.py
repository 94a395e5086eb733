"""Fault rules: schedules, seeded probabilities, validation, and the in-process equivalents of socket faults."""

import pytest
import requests

from emulator.core.faults import FaultRule, FaultRules, FaultSpec, RequestInfo

REQUEST = RequestInfo("liveperson", "POST", "/api/account/1/anonymous/authorize", "1")


def firing(spec: dict, requests_seen: int = 20) -> list[bool]:
    rule = FaultRule("r", FaultSpec.model_validate(spec))
    return [rule.fires() for _ in range(requests_seen)]


def test_always_is_the_default_schedule():
    assert all(firing({"kind": "reset"}, 5))


def test_times_every_after_and_their_combination():
    assert firing({"kind": "reset", "times": 2}, 4) == [True, True, False, False]
    assert firing({"kind": "reset", "every": 2}, 4) == [False, True, False, True]
    assert firing({"kind": "reset", "after": 3}, 5) == [False, False, False, True, True]
    assert firing({"kind": "reset", "after": 1, "every": 2, "times": 2}, 8) == [
        False,
        False,
        True,
        False,
        True,
        False,
        False,
        False,
    ]


def test_seeded_probability_repeats_exactly_and_depends_on_the_seed():
    first = firing({"kind": "reset", "probability": 0.3, "seed": 7}, 200)
    assert firing({"kind": "reset", "probability": 0.3, "seed": 7}, 200) == first
    assert firing({"kind": "reset", "probability": 0.3, "seed": 8}, 200) != first
    assert 30 <= sum(first) <= 90


def test_the_sequence_of_a_rule_does_not_depend_on_other_rules_or_traffic():
    target = {"path": REQUEST.path}
    alone = FaultRules()
    alone.add(FaultSpec(kind="status", status=503, probability=0.5, seed=3, match=target))
    crowded = FaultRules()
    crowded.add(FaultSpec(kind="latency", delay=0, probability=0.5, seed=99))
    crowded.add(FaultSpec(kind="status", status=503, probability=0.5, seed=3, match=target))
    other = RequestInfo("liveperson", "GET", "/elsewhere", "2")
    seen_alone, seen_crowded = [], []
    for _ in range(100):
        seen_alone.append(alone.decide(REQUEST).fault is not None)
        crowded.decide(other)
        seen_crowded.append(crowded.decide(REQUEST).fault is not None)
    assert seen_alone == seen_crowded


def test_latencies_add_up_and_the_first_other_fault_wins():
    rules = FaultRules()
    rules.add(FaultSpec(kind="latency", delay="100ms"))
    rules.add(FaultSpec(kind="latency", delay="50ms"))
    first = rules.add(FaultSpec(kind="status", status=503))
    second = rules.add(FaultSpec(kind="status", status=500))
    decision = rules.decide(REQUEST)
    assert decision.delay == pytest.approx(0.15)
    assert decision.fault.rule_id == first.id
    assert (second.matched, second.fired) == (1, 0)


def test_uniform_and_lognormal_delays_stay_in_range_and_repeat_by_seed():
    uniform = FaultRule("u", FaultSpec(kind="latency", delay={"uniform": ["10ms", "20ms"]}, seed=1))
    samples = [uniform.sample_delay() for _ in range(50)]
    assert all(0.01 <= s <= 0.02 for s in samples)
    again = FaultRule("u", FaultSpec(kind="latency", delay={"uniform": ["10ms", "20ms"]}, seed=1))
    assert [again.sample_delay() for _ in range(50)] == samples
    lognormal = FaultRule("l", FaultSpec(kind="latency", delay={"lognormal": {"median": "50ms", "sigma": 0.5}}))
    values = sorted(lognormal.sample_delay() for _ in range(401))
    assert 0.035 < values[200] < 0.07  # the median
    assert values[0] > 0


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"kind": "explode"}, "kind"),
        ({"kind": "status"}, ""),
        ({"kind": "status", "status": 200}, "status"),
        ({"kind": "latency"}, ""),
        ({"kind": "latency", "delay": "soon"}, "delay"),
        ({"kind": "hang", "duration": "1h"}, ""),
        ({"kind": "reset", "times": 0}, "times"),
        ({"kind": "reset", "probability": 1.5}, "probability"),
        ({"kind": "reset", "match": {"colour": "red"}}, "match.colour"),
        ({"kind": "reset", "match": {"provider": "nobody"}}, "match.provider"),
        ({"kind": "status", "status": 503, "headers": {"X": "a\r\nb"}}, ""),
        ({"kind": "reset", "sometimes": True}, "sometimes"),
    ],
)
def test_bad_rules_are_400_naming_the_field(emulator, rule, field):
    reply = emulator.transport.send("POST", "/__emulator/faults", params={"namespace": emulator.namespace}, json=rule)
    assert reply.status == 400
    error = reply.json()["error"]
    assert error["code"] == "invalid_fault" and error.get("field", "") == field
    assert emulator.control.faults() == []


def test_rules_are_listed_removed_and_cleared(emulator):
    first = emulator.control.add_fault("status", status=503, times=1, match={"path": "/api/**"})
    second = emulator.control.add_fault("reset")
    assert [rule["id"] for rule in emulator.control.faults()] == [first, second]
    assert emulator.control.faults()[0] == {
        "id": first,
        "kind": "status",
        "status": 503,
        "times": 1,
        "match": {"path": "/api/**"},
        "matched": 0,
        "fired": 0,
    }
    emulator.control.remove_fault(first)
    assert [rule["id"] for rule in emulator.control.faults()] == [second]
    with pytest.raises(Exception, match="unknown_fault"):
        emulator.control.remove_fault(first)
    emulator.control.clear_faults()
    assert emulator.control.faults() == []


def test_a_reset_namespace_forgets_its_rules(emulator):
    emulator.control.add_fault("reset")
    emulator.control.reset()
    assert emulator.control.faults() == []


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("reset", requests.exceptions.ConnectionError),
        ("empty", requests.exceptions.ConnectionError),
        ("hang", requests.exceptions.ReadTimeout),
        ("truncated", requests.exceptions.ChunkedEncodingError),
    ],
)
def test_in_process_the_client_sees_what_requests_would_raise(emulator, lp_account, kind, error):
    emulator.control.add_fault(kind, times=1)
    with pytest.raises(error):
        lp_account.issue_ext_jwt()
    assert lp_account.issue_ext_jwt()


def test_in_process_status_and_spoiling_faults(emulator, lp_account):
    emulator.control.add_fault("status", status=503, times=1)
    emulator.control.add_fault("malformed", times=1, after=1)
    first = emulator.post(lp_account.idp_path("anonymous/authorize"))
    assert (first.status, first.headers["Retry-After"]) == (503, "1")
    second = emulator.post(lp_account.idp_path("anonymous/authorize"))
    with pytest.raises(ValueError):
        second.json()
