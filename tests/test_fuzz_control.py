"""Fault rules and token lifecycle control under fuzz, and LivePerson under any valid fault rule.

The conventions of test_fuzz.py hold here too (its helpers check them): no exception escapes, no 5xx
the emulator did not mean, JSON bodies in the owner's error shape, and a refused call changes nothing
(`export_state()` of every namespace; fault rules, which export_state() leaves out, compared apart).

With valid fault rules loaded, every LivePerson request answers normally or with its rule's documented
effect, the journal names the rule that acted, and each rule's `matched`/`fired` counters agree with the
requests it matched, the journal, its schedule and, when no rule draws at random, an independent model
of the documented schedule.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import example, given, settings
from hypothesis import strategies as st
from test_fuzz import (
    AUTHENTICATE,
    AUTHORIZE,
    CONTROL,
    INVALID_JWT,
    LP_GET_ROUTES,
    MINE,
    NO_BODY,
    SEEDED,
    SETTINGS,
    SIGNUP,
    Body,
    Edit,
    Json,
    JsonPath,
    Route,
    assert_lp_error,
    check_reply,
    claims_of,
    durations,
    edits,
    forgetting_new_namespaces,
    fresh_account_id,
    idp_status_of,
    import_and_probe,
    iso_times,
    json_values,
    namespace_names_st,
    nasty,
    positions,
    probe_account,
    seed_account,
    send,
    short_text,
    strict_json,
    with_id_token,
    world,
)

import emulator.app as app_module
from emulator.client import Reply
from emulator.core.faults import MAX_DELAY, FaultSpec
from emulator.core.patterns import path_matches
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount
from emulator.web import UNHANDLED_HEADER
from emulator.web.fault_injection import FAULT_HEADER, RETRY_AFTER_DEFAULT

# sentinels, besides test_fuzz's SEEDED (the account) and MINE (the test's namespace)
TOKEN = "<token>"  # an external JWT of the account
CONSUMER = "<consumer>"  # its consumer id
UNKNOWN = "<unknown>"  # an account id no namespace holds
FRESH = "<fresh-namespace>"  # a valid namespace name no one has used

FAULT_KINDS = ("status", "latency", "hang", "reset", "empty", "malformed", "truncated", "content_type")
SPEC_FIELDS = (
    "kind",
    "match",
    "status",
    "headers",
    "delay",
    "duration",
    "content_type",
    "times",
    "every",
    "after",
    "probability",
    "seed",
)
REPLACING = ("status", "reset", "empty", "hang")  # answered instead of LivePerson: its handler never runs
RAISED: dict[str, type[Exception]] = {  # what the in-process transport raises, as `requests` would over a socket
    "reset": requests.exceptions.ConnectionError,
    "empty": requests.exceptions.ConnectionError,
    "hang": requests.exceptions.ReadTimeout,
    "truncated": requests.exceptions.ChunkedEncodingError,
}
TRANSPORT_ERRORS = (
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
RETRY_AFTER_STATUSES = (429, 503)


# --- the test's world: what the sentinels stand for -------------------------------------------------


def short_repr(cls: type) -> type:
    """Falsifying examples show what a fixture of this class stands for, not its whole document."""

    def _repr_pretty_(self: object, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    cls._repr_pretty_ = _repr_pretty_  # type: ignore[attr-defined]
    return cls


@short_repr
@dataclass(frozen=True)
class Scene:
    """One test's account, token and names; `fill` puts them in place of the sentinels of generated data."""

    emulator: EmulatorHandle = field(repr=False)
    account: LivePersonAccount = field(repr=False)
    token: str = field(repr=False)
    unknown_account: str

    @property
    def values(self) -> dict[str, str]:
        return {
            SEEDED: self.account.id,
            TOKEN: self.token,
            CONSUMER: claims_of(self.token)["sub"],
            UNKNOWN: self.unknown_account,
            FRESH: self.emulator.namespace + "-fresh",
            MINE: self.emulator.namespace,
        }

    def fill(self, value: Json) -> Json:
        values = self.values

        def filled(value: Json) -> Json:
            if isinstance(value, str):
                for sentinel, text in values.items():
                    value = value.replace(sentinel, text)
                return value
            if isinstance(value, list):
                return [filled(item) for item in value]
            if isinstance(value, dict):
                return {filled(key): filled(item) for key, item in value.items()}
            return value

        return filled(value)


@pytest.fixture
def scene(emulator: EmulatorHandle, lp_account: LivePersonAccount, lp_ext_jwt: str) -> Scene:
    return Scene(emulator, lp_account, lp_ext_jwt, fresh_account_id())


@dataclass
class SleepSpy:
    """Stands in for the wall-clock sleep of injected latency: records each delay, never waits
    (real waiting is proven over a socket in test_faults_http.py)."""

    delays: list[float] = field(default_factory=list)

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> SleepSpy:
    """Latency recorded, never waited for."""
    spy = SleepSpy()
    monkeypatch.setattr(app_module, "wall_sleep", spy)
    return spy


# --- LivePerson requests under fault rules -----------------------------------------------------------


@dataclass(frozen=True)
class LpCall:
    """A LivePerson request of the property: a route of the seeded account, or one that misses."""

    route: Route
    with_token: bool = False  # a body of {"id_token": <the scene's token>}
    account: str = SEEDED
    routed: bool = True  # False: a 404 or 405, whose tenant a fault rule cannot see

    def path(self, scene: Scene) -> str:
        return self.route.path(scene.fill(self.account), connector=scene.account.unauth_connector_id)

    def tenant(self, scene: Scene) -> str | None:
        return scene.fill(self.account) if self.routed else None

    def body(self, scene: Scene) -> Body:
        return with_id_token(scene.token) if self.with_token else NO_BODY


LP_CALLS = (
    *(LpCall(route) for route in LP_GET_ROUTES),
    LpCall(AUTHORIZE),
    LpCall(AUTHORIZE, with_token=True),
    LpCall(AUTHENTICATE, with_token=True),
    LpCall(SIGNUP),
    LpCall(LP_GET_ROUTES[0], account=UNKNOWN),  # 401 invalid site
    LpCall(Route("GET", "/api/account/{a}/no/such/route"), routed=False),  # 404
    LpCall(Route("DELETE", AUTHORIZE.template), routed=False),  # 405
)


@dataclass(frozen=True)
class Sent:
    """One request and what came of it: a reply, or the error the transport raised."""

    method: str
    path: str
    tenant: str | None
    outcome: Reply | Exception
    state_kept: bool
    delays: tuple[float, ...]  # the latency the emulator waited out

    def __str__(self) -> str:
        outcome = self.outcome
        answer = f"{outcome.status} {outcome.text[:120]}" if isinstance(outcome, Reply) else repr(outcome)
        return f"{self.method} {self.path} -> {answer}"


def send_under_faults(scene: Scene, call: LpCall, spy: SleepSpy) -> Sent:
    emulator, path, body = scene.emulator, call.path(scene), call.body(scene)
    before, waited = world(emulator), len(spy.delays)
    try:
        outcome: Reply | Exception = emulator.request(
            call.route.method, path, data=body.data, headers=body.headers, params=call.route.params
        )
    except TRANSPORT_ERRORS as exc:
        outcome = exc
    return Sent(
        call.route.method, path, call.tenant(scene), outcome, world(emulator) == before, tuple(spy.delays[waited:])
    )


def parses_as_answer(path: str, raw: bytes) -> bool:
    """Is the body what a client parses: JSON, or a JSONP call of JSON on the `.lpCsds` route?"""
    text = raw.decode("utf-8", "replace")
    if path.endswith(".lpCsds"):
        call = re.fullmatch(r"[^(]*\((.*)\);", text, re.S)
        if call is None:
            return False
        text = call[1]
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


Effect = Callable[[Reply, FaultSpec | None, str, int], None]


def answered_normally(reply: Reply, spec: FaultSpec | None, path: str, idp_status: int) -> None:
    check_reply(reply, path, idp_status)


def answered_with_status(reply: Reply, spec: FaultSpec | None, path: str, idp_status: int) -> None:
    assert spec is not None and reply.status == spec.status, (reply.status, spec)
    assert_lp_error(reply.status, strict_json(reply.body))
    own = {name.lower(): value for name, value in spec.headers.items()}  # the last of names differing in case wins
    for name, value in own.items():
        assert reply.headers.get(name) == value, (name, dict(reply.headers))
    if reply.status in RETRY_AFTER_STATUSES:
        assert reply.headers.get("Retry-After") == own.get("retry-after", RETRY_AFTER_DEFAULT), dict(reply.headers)


def answered_malformed(reply: Reply, spec: FaultSpec | None, path: str, idp_status: int) -> None:
    assert not parses_as_answer(path, reply.body), reply.body[:300]
    assert reply.status < 500 or reply.status == idp_status, reply.status


def answered_with_content_type(reply: Reply, spec: FaultSpec | None, path: str, idp_status: int) -> None:
    assert spec is not None and reply.headers.get("Content-Type") == spec.content_type, dict(reply.headers)
    check_reply(reply, path, idp_status)


EFFECTS: dict[str | None, Effect] = {
    None: answered_normally,  # or latency only
    "status": answered_with_status,
    "malformed": answered_malformed,
    "content_type": answered_with_content_type,
}


def acting_rules(entry: dict) -> tuple[str | None, tuple[str, ...]]:
    """The journal's account of a request: the rule whose fault it got (at most one), the latencies it waited."""
    faults = [f["rule"] for f in entry["faults"] if f["kind"] != "latency"]
    assert len(faults) <= 1, f"two faults on one request: {entry['faults']}"
    return (faults[0] if faults else None), tuple(f["rule"] for f in entry["faults"] if f["kind"] == "latency")


def check_effect(sent: Sent, entry: dict, rules: Mapping[str, FaultSpec], idp_status: int) -> None:
    """The request was answered normally or as its rule says, journaled as such, and refused without a trace."""
    assert (entry["method"], entry["path"]) == (sent.method, sent.path), entry
    rule_id, _ = acting_rules(entry)
    spec = rules[rule_id] if rule_id else None
    kind = spec.kind if spec else None
    if kind in RAISED:
        assert isinstance(sent.outcome, RAISED[kind]), f"{kind} fault on {sent.path}: got {sent.outcome!r}"
    else:
        reply = sent.outcome
        assert isinstance(reply, Reply), f"{kind or 'no'} fault on {sent.path}, yet the transport raised {reply!r}"
        assert UNHANDLED_HEADER not in reply.headers, f"an exception escaped on {sent.path}: {reply.text[:300]}"
        assert reply.headers.get(FAULT_HEADER) == rule_id, (rule_id, dict(reply.headers))
        EFFECTS[kind](reply, spec, sent.path, idp_status)
        assert entry["status"] == reply.status, entry
    if kind in ("reset", "empty", "hang"):
        assert entry["status"] == 0, entry  # no answer reached the client
    if kind in REPLACING or entry["status"] >= 400:
        assert sent.state_kept, f"{sent.method} {sent.path} was refused ({kind or entry['status']}) yet changed state"


def delay_bounds(spec: FaultSpec) -> tuple[float, float]:
    """The least and most one firing of a latency rule may wait."""
    delay = spec.model_dump(mode="json")["delay"]
    if isinstance(delay, dict) and "uniform" in delay:
        return min(delay["uniform"]), max(delay["uniform"])
    if isinstance(delay, dict):
        return 0.0, MAX_DELAY  # lognormal: positive, capped
    return delay or 0.0, delay or 0.0


def check_latency(sent: Sent, entry: dict, rules: Mapping[str, FaultSpec]) -> None:
    bounds = [delay_bounds(rules[rule_id]) for rule_id in acting_rules(entry)[1]]
    low, high = (min(sum(ends), MAX_DELAY) for ends in zip(*bounds, strict=True)) if bounds else (0.0, 0.0)
    assert len(sent.delays) <= 1 and low - 1e-9 <= sum(sent.delays) <= high + 1e-9, (sent.delays, bounds)


def matches(spec: FaultSpec, sent: Sent) -> bool:
    """The documented matching: an omitted key matches anything; methods in any case; paths by glob."""
    match = spec.match
    return (
        match.provider in (None, "liveperson")
        and (match.method is None or match.method.upper() == sent.method)
        and (match.tenant is None or match.tenant == sent.tenant)
        and (match.path is None or path_matches(match.path, sent.path))
    )


def scheduled(rules: Mapping[str, FaultSpec], sent: list[Sent]) -> list[tuple[str | None, tuple[str, ...]]] | None:
    """The documented schedule, worked out apart from the emulator: each matching rule counts the request;
    `after` lets its first N through, `every` fires on each Nth after those, `times` caps the firings;
    latencies add up and the first other rule that fires wins. None when a rule draws at random."""
    if any(spec.probability not in (None, 0.0, 1.0) for spec in rules.values()):
        return None
    seen, fired = dict.fromkeys(rules, 0), dict.fromkeys(rules, 0)
    outcomes: list[tuple[str | None, tuple[str, ...]]] = []
    for request in sent:
        fault, latencies = None, []
        for rule_id, spec in rules.items():
            if not matches(spec, request):
                continue
            seen[rule_id] += 1
            considered = seen[rule_id] - spec.after
            if (spec.kind != "latency" and fault is not None) or considered <= 0 or considered % (spec.every or 1):
                continue
            if (spec.times is not None and fired[rule_id] >= spec.times) or spec.probability == 0.0:
                continue
            fired[rule_id] += 1
            if spec.kind == "latency":
                latencies.append(rule_id)
            else:
                fault = rule_id
        outcomes.append((fault, tuple(latencies)))
    return outcomes


def check_counters(rules: Mapping[str, FaultSpec], listed: list[dict], sent: list[Sent], entries: list[dict]) -> None:
    assert [rule["id"] for rule in listed] == list(rules)
    for rule in listed:
        spec = rules[rule["id"]]
        matched = sum(matches(spec, request) for request in sent)
        fired = sum(rule["id"] in {f["rule"] for f in entry["faults"]} for entry in entries)
        assert (rule["matched"], rule["fired"]) == (matched, fired), (rule, matched, fired)
        assert fired <= max(0, matched - spec.after) // (spec.every or 1), rule
        assert spec.times is None or fired <= spec.times, rule
        assert spec.probability != 0.0 or fired == 0, rule
    expected = scheduled(rules, sent)
    if expected is not None:
        assert [acting_rules(entry) for entry in entries] == expected


def load_rules(scene: Scene, specs: list[Json]) -> None:
    """The namespace's rules are these, and no other."""
    scene.emulator.control.clear_faults()
    for spec in specs:
        reply, body = fault_call(scene.emulator, "POST", "/faults", Body.of_json(scene.fill(spec)))
        assert reply.status == 201, (spec, body)


def listed_rules(emulator: EmulatorHandle) -> dict[str, FaultSpec]:
    """The namespace's rules by id as GET /faults shows them: a listed rule reads as a valid spec again."""
    counters = {"id", "matched", "fired"}
    return {
        rule["id"]: FaultSpec.model_validate({k: v for k, v in rule.items() if k not in counters})
        for rule in emulator.control.faults()
    }


def run_under_faults(scene: Scene, calls: list[LpCall], spy: SleepSpy) -> None:
    """Send the calls under the namespace's rules (fresh ones: their counters at 0) and hold every answer,
    journal entry and counter to the rules."""
    control = scene.emulator.control
    control.clear_journal()
    rules = listed_rules(scene.emulator)
    sent = [send_under_faults(scene, call, spy) for call in calls]
    entries = control.journal()
    assert len(entries) == len(sent), f"{len(entries)} journal entries for " + "; ".join(map(str, sent))
    idp_status = idp_status_of(scene.emulator, scene.account.id)
    for request, entry in zip(sent, entries, strict=True):
        check_effect(request, entry, rules, idp_status)
        check_latency(request, entry, rules)
    check_counters(rules, control.faults(), sent, entries)


# --- valid fault rules ----------------------------------------------------------------------------

tiny_durations = st.one_of(st.floats(0, 0.005), st.integers(0, 5).map(lambda ms: f"{ms}ms"))
delays = st.one_of(
    tiny_durations,
    st.builds(lambda low, high: {"uniform": [low, high]}, tiny_durations, tiny_durations),
    st.builds(
        lambda median, sigma: {"lognormal": {"median": median, "sigma": sigma}}, tiny_durations, st.floats(0, 0.3)
    ),
)
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
media_types = st.one_of(
    st.from_regex(r"[a-z]{1,8}/[a-z0-9.+-]{1,12}(; charset=[a-z0-9-]{1,8})?", fullmatch=True),
    st.sampled_from(["application/json", "text/html; charset=utf-8", "application/problem+json", ""]),
)
KIND_FIELDS: dict[str, st.SearchStrategy[dict]] = {
    "status": st.fixed_dictionaries(
        {"status": st.integers(400, 599)},
        optional={
            "headers": st.dictionaries(
                st.sampled_from(["X-Test", "x-test", "Retry-After", "retry-after"]), header_values
            )
        },
    ),
    "latency": st.fixed_dictionaries({"delay": delays}),
    "hang": st.fixed_dictionaries({}, optional={"duration": tiny_durations}),
    "content_type": st.fixed_dictionaries({}, optional={"content_type": media_types}),
    **{kind: st.just({}) for kind in ("reset", "empty", "malformed", "truncated")},
}
PATH_GLOBS = (
    "**",
    "*",
    "/api/**",
    "/csdr/**",
    "/api/account/*/anonymous/authorize",
    f"/api/account/{SEEDED}/**",
    "/api/account/*/service/*/baseURI*",
    f"/api/account/{SEEDED}/app/*/authenticate",
    "/nowhere",
    "/api/account/*",
)
fault_matches = st.fixed_dictionaries(
    {},
    optional={
        "provider": st.just("liveperson"),
        "method": st.sampled_from(["GET", "post", "Post", "DELETE", "PUT"]),
        "path": st.sampled_from(PATH_GLOBS),
        "tenant": st.sampled_from([SEEDED, UNKNOWN, "1"]),
    },
)
schedules = st.fixed_dictionaries(
    {},
    optional={
        "times": st.integers(1, 4),
        "every": st.integers(1, 3),
        "after": st.integers(0, 2),
        "probability": st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1)),
        "seed": st.integers(),
    },
)
valid_rules = st.sampled_from(FAULT_KINDS).flatmap(
    lambda kind: st.builds(
        lambda fields, schedule, match: {"kind": kind, **fields, **schedule, **({"match": match} if match else {})},
        KIND_FIELDS[kind],
        schedules,
        fault_matches,
    )
)


@settings(max_examples=150)
@given(
    specs=st.lists(valid_rules, min_size=1, max_size=3),
    calls=st.lists(st.sampled_from(LP_CALLS), min_size=1, max_size=6),
)
@example(specs=[{"kind": "status", "status": 499}], calls=[LP_CALLS[0]])
@example(specs=[{"kind": "status", "status": 429, "headers": {"retry-after": "7"}}], calls=[LP_CALLS[-1]])
@example(
    specs=[{"kind": "latency", "delay": "1ms"}, {"kind": "reset", "every": 2}, {"kind": "malformed", "times": 1}],
    calls=[LpCall(AUTHORIZE)] * 4,
)
def test_liveperson_answers_as_any_valid_fault_rule_says(
    scene: Scene, sleeps: SleepSpy, specs: list[Json], calls: list[LpCall]
) -> None:
    load_rules(scene, specs)
    run_under_faults(scene, calls, sleeps)


@pytest.mark.parametrize(
    "delay", [120, {"uniform": ["0s", "1000h"]}, {"lognormal": {"median": "100s", "sigma": 5}}], ids=str
)
def test_latency_is_capped_whatever_its_distribution(scene: Scene, sleeps: SleepSpy, delay: Json) -> None:
    """Long delays are legal; none waits longer than MAX_DELAY (the spy records, it does not wait)."""
    load_rules(scene, [{"kind": "latency", "delay": delay}])
    run_under_faults(scene, [LP_CALLS[0]] * 10, sleeps)
    assert sleeps.delays and all(0 < d <= MAX_DELAY for d in sleeps.delays), sleeps.delays


# --- /__emulator/faults: any body -----------------------------------------------------------------


def fault_call(emulator: EmulatorHandle, method: str, tail: str, body: Body = NO_BODY) -> tuple[Reply, Json]:
    """A /faults call of this test's namespace; a refused one leaves its rules as they were as well."""
    before = emulator.control.faults()
    reply, parsed = send(emulator, method, CONTROL + tail, body, params={"namespace": emulator.namespace})
    if reply.status >= 400:
        assert emulator.control.faults() == before, (
            f"{method} {tail} was refused ({reply.status}) yet changed the rules"
        )
    return reply, parsed


def assert_names_a_field(error: dict, body: Json, known: tuple[str, ...] = ()) -> None:
    """A refusal of a JSON object names the field at fault (`key`, `key.inner`, `key[0]`): one the call
    has, or one it needed."""
    name = error.get("field") or ""
    keys = (*known, "namespace", *(body if isinstance(body, dict) else ()))
    assert not name or any(name == key or name.startswith((key + ".", key + "[")) for key in keys), error


INNER_KEYS = ("provider", "method", "path", "tenant", "uniform", "lognormal", "median", "sigma")
spec_values = st.one_of(
    nasty,
    json_values,
    durations,
    st.integers(-2, 700),
    st.sampled_from(FAULT_KINDS),
    media_types,
    st.dictionaries(st.sampled_from(INNER_KEYS) | short_text, json_values, max_size=3),
)


def edited(document: Json, changes: list[Edit]) -> Json:
    for change in changes:
        document = change.apply(document)
    return document


fault_bodies = st.one_of(
    json_values,
    st.dictionaries(st.sampled_from(SPEC_FIELDS) | short_text, spec_values, max_size=5),
    st.builds(edited, valid_rules, edits),  # a valid rule with one or two things wrong
)


@settings(max_examples=150)
@given(body=fault_bodies, call=st.sampled_from(LP_CALLS))
@example(body={"kind": "content_type", "content_type": "text/plain\nX-Injected: 1"}, call=LP_CALLS[0])
@example(body={"kind": "status", "status": 503, "headers": {"": "x"}}, call=LP_CALLS[0])
@example(body={"kind": "latency", "delay": {"uniform": ["1ms", float("nan")]}}, call=LP_CALLS[0])
@example(body={"kind": "reset", "times": 10**400, "seed": -(10**400)}, call=LP_CALLS[0])
def test_fault_rule_of_any_json_is_refused_or_applied(scene: Scene, sleeps: SleepSpy, body: Json, call: LpCall) -> None:
    """POST /faults answers 201 or a 400 naming the field; a rule it took lists as a valid spec, and a
    LivePerson request then answers normally or as the rule says."""
    scene.emulator.control.clear_faults()
    reply, parsed = fault_call(scene.emulator, "POST", "/faults", Body.of_json(scene.fill(body)))
    assert reply.status in (201, 400), parsed
    if reply.status == 400:
        assert parsed["error"]["code"] in ("invalid_fault", "invalid_body"), parsed
        assert_names_a_field(parsed["error"], body, known=SPEC_FIELDS)
        return
    assert list(listed_rules(scene.emulator)) == [parsed["id"]]
    run_under_faults(scene, [call], sleeps)


@given(
    raw=st.one_of(st.binary(max_size=40), st.sampled_from([b"", b"[]", b"NaN", b"{", b'{"kind": "reset"'])),
    content_type=st.sampled_from([None, "application/json", "text/plain", "application/yaml"]),
)
def test_fault_rule_of_any_bytes_is_refused_or_taken(
    emulator: EmulatorHandle, raw: bytes, content_type: str | None
) -> None:
    emulator.control.clear_faults()
    reply, parsed = fault_call(emulator, "POST", "/faults", Body(raw, content_type))
    assert reply.status in (201, 400), parsed
    if reply.status == 400:
        assert parsed["error"]["code"] in ("invalid_fault", "invalid_body", "malformed_json"), parsed


OWN_RULE = "<own rule>"


@given(
    rule_id=st.text(max_size=12) | st.sampled_from([OWN_RULE, "fault-0", "FAULT-1", " fault-1", "fault-01", "..", "*"])
)
def test_removing_a_fault_rule_by_any_id(emulator: EmulatorHandle, rule_id: str) -> None:
    """Only a rule's own id removes it; any other is a 404 (unknown_fault, or a path no route has)."""
    emulator.control.clear_faults()
    own = emulator.control.add_fault("reset", match={"path": "/nowhere"})
    target = own if rule_id == OWN_RULE else rule_id
    reply, body = fault_call(emulator, "DELETE", "/faults/" + quote(target, safe=""))
    if target == own:
        assert reply.status == 200 and emulator.control.faults() == [], body
    else:
        assert reply.status == 404 and body["error"]["code"] in ("unknown_fault", "not_found"), body


def test_clearing_the_rules_leaves_the_state(emulator: EmulatorHandle, lp_account: LivePersonAccount) -> None:
    emulator.control.add_fault("status", status=503)
    before = world(emulator)
    reply, _ = fault_call(emulator, "DELETE", "/faults")
    assert reply.status == 200 and emulator.control.faults() == [] and world(emulator) == before


# --- /__emulator/tokens: any body -----------------------------------------------------------------

TOKEN_ERROR_CODES = {
    "invalid_body",
    "invalid_selector",
    "invalid_settings",
    "unknown_token",
    "unknown_tenant",
    "invalid_namespace",
}
SELECTOR_KEYS = ("token", "account", "consumer", "provider", "at", "times", "grace", *SETTINGS)
token_values = st.one_of(
    st.sampled_from([SEEDED, TOKEN, CONSUMER, UNKNOWN, "liveperson", "sunshine", "", "0s", "1ms"]),
    nasty,
    iso_times,
    durations,
    st.integers(-2, 3),
    short_text,
)
token_bodies = st.one_of(
    json_values, st.dictionaries(st.sampled_from(SELECTOR_KEYS) | short_text, token_values, max_size=4)
)
call_namespaces = st.one_of(st.sampled_from([MINE, FRESH]), namespace_names_st)


def token_call(scene: Scene, verb: str, body: Json, namespace: str) -> None:
    """A /tokens call: 200, or 400/404 in the control shape naming the field at fault, and no change;
    after a change, every route of the account still answers."""
    emulator = scene.emulator
    path, params = f"{CONTROL}/tokens/{verb}", {"namespace": scene.fill(namespace)}
    with forgetting_new_namespaces(emulator):
        reply, parsed = send(emulator, "POST", path, Body.of_json(scene.fill(body)), params=params)
    assert reply.status in (200, 400, 404), parsed
    if reply.status >= 400:
        error = parsed["error"]
        assert error["code"] in TOKEN_ERROR_CODES, parsed
        assert reply.status == 400 or error["code"] in ("unknown_token", "unknown_tenant"), parsed
        if isinstance(body, dict) and error["code"] != "invalid_selector":
            assert "field" in error, parsed
        assert_names_a_field(error, body, known=("token",) if verb == "fail" else ())
    else:
        probe_account(emulator, scene.account.id)


@pytest.mark.parametrize("verb", ["expire", "revoke", "fail", "ttl"])
@settings(max_examples=50)
@given(body=token_bodies, namespace=call_namespaces)
@example(body={"consumer": CONSUMER, "at": "garbage"}, namespace=FRESH)  # refused, yet created the namespace
@example(body={"token": TOKEN, "at": "0001-01-01T00:00:00+14:00"}, namespace=MINE)
def test_token_call_with_any_body_is_refused_or_works(scene: Scene, verb: str, body: Json, namespace: str) -> None:
    token_call(scene, verb, body, namespace)


@settings(max_examples=20)  # an accepted rotation makes RSA keys: ~80 ms
@given(
    body=st.one_of(
        json_values,
        st.fixed_dictionaries(
            {"grace": st.one_of(durations, nasty)},
            optional={
                "account": st.sampled_from([SEEDED, UNKNOWN]),
                "consumer": st.just(CONSUMER),
                "provider": short_text,
            },
        ),
    ),
    namespace=call_namespaces,
)
def test_key_rotation_with_any_body_is_refused_or_works(scene: Scene, body: Json, namespace: str) -> None:
    token_call(scene, "rotate", body, namespace)


# --- state import: tampered lifecycle sections ----------------------------------------------------

LIFECYCLE_SECTIONS = ("tokens", "keys")  # what /tokens calls write into a namespace's export
lifecycle_values = st.one_of(
    nasty,
    json_values,
    st.sampled_from([int("9" * 4300), -(2**63), 2**64, [-1, []], [1, ["x"]], [[-5, None]], "1e400"]).map(copy.deepcopy),
)


@short_repr
@dataclass(frozen=True)
class LifecycleState:
    document: dict = field(repr=False)  # {"namespaces": {MINE: the namespace as exported}}
    tokens: tuple[str, ...] = field(repr=False)  # external JWTs it issued, each with an override or cut

    def restore(self, emulator: EmulatorHandle) -> None:
        """Back to this state, so that no example depends on the ones before it."""
        emulator.control.import_state({"namespaces": {emulator.namespace: self.document["namespaces"][MINE]}})


@pytest.fixture
def lifecycle_state(emulator: EmulatorHandle, lp_account: LivePersonAccount) -> LifecycleState:
    """A namespace whose lifecycle section holds each kind of override and cut. (No rotated key: importing
    one parses its PEM, ~40 ms, twice an example.)"""
    control = emulator.control
    tokens = tuple(lp_account.issue_ext_jwt() for _ in range(4))
    control.expire(tokens[0], at="2030-01-01T00:00:00Z")
    control.revoke(tokens[1])
    control.fail_validations(tokens[2], times=2)
    control.expire(consumer=claims_of(tokens[3])["sub"])
    control.revoke(account=lp_account.id)
    tokens += (lp_account.issue_ext_jwt(),)  # after the cuts
    document = {"namespaces": {MINE: control.export_state()["namespaces"][emulator.namespace]}}
    return LifecycleState(document, tokens)


@dataclass(frozen=True)
class LifecycleEdit:
    """An Edit inside the lifecycle sections of the test's namespace: at a fraction of their places, or at
    a path below the namespace (for pinned examples)."""

    kind: str
    where: float | JsonPath
    value: Json

    def apply(self, document: dict) -> dict:
        namespace = ("namespaces", MINE)
        if isinstance(self.where, tuple):
            return Edit(self.kind, (*namespace, *self.where), self.value).apply(document)
        places = [p for p in positions(document) if p[:3] in {(*namespace, section) for section in LIFECYCLE_SECTIONS}]
        return Edit(self.kind, places[int(self.where * len(places))], self.value).apply(document)


lifecycle_edits = st.lists(
    st.builds(
        LifecycleEdit,
        st.sampled_from(["replace", "replace", "delete", "rename", "add"]),
        st.floats(0, 1, exclude_max=True),
        lifecycle_values,
    ),
    min_size=1,
    max_size=2,
)


def tokens_set(*path: str, value: Json) -> list[LifecycleEdit]:
    return [LifecycleEdit("replace", ("tokens", *path), value)]


def spending_failures(state: tuple[dict, dict]) -> tuple[tuple[dict, dict], int]:
    """The world (see `world`) with the overrides' `failures_left` taken out, and their sum over every
    namespace: a validation refused by an injected failure (/tokens/fail) spends one, the only change a
    refused request may make."""
    state = copy.deepcopy(state)
    left = [
        [
            override.pop("failures_left")
            for ns in part["namespaces"].values()
            for override in ns["tokens"]["overrides"].values()
        ]
        for part in state
    ]
    return state, sum(left[1])  # the second part: every namespace


def refresh_and_exchange(emulator: EmulatorHandle, account: LivePersonAccount, token: str) -> None:
    """A token restored with tampered overrides is taken or refused with 9007, never a crash; a refusal
    changes nothing but the injected failure it spends."""
    status = idp_status_of(emulator, account.id)
    for route in (AUTHORIZE, AUTHENTICATE):
        path = route.path(account.id, connector=account.unauth_connector_id)
        before, left = spending_failures(world(emulator))
        reply = emulator.request("POST", path, json={"id_token": token}, params=route.params)
        body = check_reply(reply, path, status)
        assert reply.status == 200 or body == INVALID_JWT, (route, reply.status, body)
        if reply.status >= 400:
            after, left_after = spending_failures(world(emulator))
            assert after == before and left - 1 <= left_after <= left, f"{route} refused a token, yet changed state"


@settings(max_examples=60)
@given(changes=lifecycle_edits)
@example(changes=tokens_set("last_sequence", value=int("9" * 4300)))  # the next token's sequence: 4301 digits
@example(changes=tokens_set("last_sequence", value=-1))
@example(changes=tokens_set("overrides", value={"x": {"expires_at": float("nan")}}))
@example(changes=tokens_set("cuts", value={"s": [[-(10**400), 10**400]]}))
@example(changes=tokens_set("issued", value={"x": [-5, ["liveperson:account:1"]]}))
@example(changes=[LifecycleEdit("replace", ("keys", "liveperson.external", "keys", 0, "retire_at"), "inf")])
def test_state_import_of_tampered_lifecycle_sections_is_refused_or_works(
    emulator: EmulatorHandle,
    lp_account: LivePersonAccount,
    lifecycle_state: LifecycleState,
    changes: list[LifecycleEdit],
) -> None:
    """Refused in the control shape, or the namespace works: its routes, its tokens (taken or 9007), the
    lifecycle calls on them. The edits touch only the lifecycle sections, so the account is always there."""
    lifecycle_state.restore(emulator)
    import_and_probe(emulator, edited(lifecycle_state.document, changes))
    for token in lifecycle_state.tokens:
        refresh_and_exchange(emulator, lp_account, token)
    body = Body.of_json({"token": lifecycle_state.tokens[0]})
    reply, parsed = send(emulator, "POST", CONTROL + "/tokens/expire", body, params={"namespace": emulator.namespace})
    assert reply.status in (200, 404), parsed


# --- pinned: the smallest inputs found to break the rules above ------------------------------------


def test_head_request_is_answered_in_process(emulator: EmulatorHandle, lp_account: LivePersonAccount) -> None:
    """HEAD of a GET route answers the GET's headers without a body, as it does over HTTP. In-process, the
    transport compares the GET's Content-Length with the empty body, takes it for a cut body and raises."""
    for route in LP_GET_ROUTES:
        path = route.path(lp_account.id)
        try:
            reply = emulator.request("HEAD", path, params=route.params)
        except requests.exceptions.ChunkedEncodingError as exc:
            pytest.fail(f"HEAD {path} raised {exc!r}")
        assert reply.body == b"" and UNHANDLED_HEADER not in reply.headers, reply.headers


UNSENDABLE_RULES: dict[str, dict] = {  # rules the emulator takes, then cannot put on the wire
    "content-type-with-a-line-break": {"kind": "content_type", "content_type": "text/plain\r\nX-Injected: 1"},
    "non-latin-1-content-type": {"kind": "content_type", "content_type": "text/\u2603"},
    "non-latin-1-header-value": {"kind": "status", "status": 503, "headers": {"X-Test": "\u2603"}},
    "hop-by-hop-header": {"kind": "status", "status": 503, "headers": {"Connection": "close"}},
    "header-name-with-a-space": {"kind": "status", "status": 503, "headers": {"X Test": "1"}},
}


@pytest.mark.parametrize("rule", UNSENDABLE_RULES)
def test_fault_rule_is_refused_or_applied_over_http(emulator_server: EmulatorHandle, rule: str) -> None:
    """Over a real socket, a rule the emulator took answers as documented; else POST /faults must refuse it."""
    spec = UNSENDABLE_RULES[rule]
    account = seed_account(emulator_server)
    reply, body = fault_call(emulator_server, "POST", "/faults", Body.of_json(spec))
    if reply.status == 400:
        assert_names_a_field(body["error"], spec)
        return
    path = LP_GET_ROUTES[0].path(account.id)
    try:
        response = requests.get(emulator_server.base_url + path, timeout=2)
    except requests.exceptions.RequestException as exc:
        pytest.fail(f"rule {spec} was taken, then the client could not read the answer: {exc!r}")
    answer = Reply(response.status_code, response.headers, response.content)
    kind = spec["kind"]
    EFFECTS[kind](answer, FaultSpec.model_validate(spec), path, 401)
