"""Scenario files: the shipped ones pass in-process and against a real server; the format, the values and
every step kind pass and fail as documented, and a failure reports what was sent, what came back and what
differed.

The real server is `python -m emulator serve --port 0` in a subprocess (one per module); its address is
read from the banner (`listening on http://HOST:PORT`) and `/__emulator/health` is polled until it answers.
"""

from __future__ import annotations

import base64
import re
import signal
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from emulator_process import EmulatorProcess

from emulator.app import create_app
from emulator.client import AppTransport, EmulatorClient, HttpTransport
from emulator.scenarios import (
    Scenario,
    ScenarioError,
    ScenarioResult,
    ScenarioRunner,
    StepResult,
    load_scenario,
    parse_scenario,
)
from emulator.scenarios.values import ScenarioValueError, interpolate

REPO = Path(__file__).resolve().parent.parent
SCENARIO_FILES = sorted((REPO / "scenarios").glob("*.yaml"))
STARTUP_SECONDS = 20.0
HEALTH = "/__emulator/health"
DOMAIN = "/api/account/${account}/service/idp/baseURI.json"
Doc = dict[str, Any]


# --- servers and runners ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """`python -m emulator serve --port 0`, once it answers its health check; SIGTERMed at the end."""
    server = EmulatorProcess([sys.executable, "-m", "emulator", "serve", "--port", "0"], REPO)
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        server.wait_for_banner(deadline)
        yield server.wait_for_health(deadline)
    finally:
        server.stop(signal.SIGTERM, timeout=10)


@pytest.fixture(scope="module")
def transport() -> AppTransport:
    return AppTransport(create_app())


@pytest.fixture(scope="module")
def runner(transport: AppTransport) -> ScenarioRunner:
    return ScenarioRunner(transport)


@pytest.fixture(scope="module")
def http_runner(server_url: str) -> ScenarioRunner:
    return ScenarioRunner(HttpTransport(server_url))


# --- helpers ------------------------------------------------------------------------------------------


def scenario(*steps: Doc, seeded: bool = False, **top: Any) -> Doc:
    """A scenario document; `seeded` adds a LivePerson account `${account}` with connector `${connector}`."""
    doc: Doc = {"name": "test", "steps": list(steps), **top}
    if seeded:
        doc["vars"] = {"account": "${random_digits(8)}", "connector": "${random_digits(10)}", **doc.get("vars", {})}
        connector = {"id": "${connector}", "type": "unauthenticated"}
        doc["seed"] = {"liveperson": {"accounts": [{"id": "${account}", "connectors": [connector]}]}}
    return doc


def run(runner: ScenarioRunner, doc: Doc, **options: Any) -> ScenarioResult:
    return runner.run(parse_scenario(doc, "t.yaml"), **options)


def passed(result: ScenarioResult) -> ScenarioResult:
    assert result.ok, result.report()
    return result


def failed_step(result: ScenarioResult) -> StepResult:
    """The last step of a failed run: the one that failed."""
    assert not result.ok, result.report()
    assert not result.steps[-1].ok and all(step.ok for step in result.steps[:-1])
    return result.steps[-1]


def details(step: StepResult) -> str:
    return "\n".join(step.details)


def get_health(expect: Doc | None = None, **extra: Any) -> Doc:
    """A request step to the health route, which answers 200 `{"status": "ok", "version": ...}`."""
    return {"request": {"method": "GET", "path": HEALTH}, **({"expect": expect} if expect is not None else {}), **extra}


def get_domain(expect: Doc | None = None, **extra: Any) -> Doc:
    """A request step to LivePerson's Domain API for the seeded account (faults act on provider routes only)."""
    return {"request": {"method": "GET", "path": DOMAIN}, **({"expect": expect} if expect is not None else {}), **extra}


def authorize(**extra: Any) -> Doc:
    return {"request": {"method": "POST", "path": "/api/account/${account}/anonymous/authorize"}, **extra}


def load_text(tmp_path: Path, text: str, name: str = "x.yaml") -> Scenario:
    path = tmp_path / name
    path.write_text(text)
    return load_scenario(path)


def format_error(tmp_path: Path, text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as caught:
        load_text(tmp_path, text)
    return caught.value


# --- the shipped scenarios ----------------------------------------------------------------------------


def test_scenarios_are_shipped() -> None:
    assert len(SCENARIO_FILES) >= 11


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_shipped_scenario_says_what_it_shows(path: Path) -> None:
    assert path.read_text().startswith("# "), f"{path.name} needs a top comment saying what it shows"


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_shipped_scenario_passes_in_process(path: Path, runner: ScenarioRunner) -> None:
    passed(runner.run(load_scenario(path)))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=lambda path: path.stem)
def test_shipped_scenario_passes_over_http(path: Path, http_runner: ScenarioRunner) -> None:
    passed(http_runner.run(load_scenario(path)))


def _pinned_outcomes(runner: ScenarioRunner) -> list[str]:
    """The status of each `call N` step of the seeded probability scenario, as it came back."""
    result = passed(runner.run(load_scenario(REPO / "scenarios" / "liveperson_fault_probability_seeded.yaml")))
    return [step.details[1].split()[1] for step in result.steps if step.label.startswith("call")]


def test_seeded_probability_scenario_replays_the_same_outcomes(
    runner: ScenarioRunner, http_runner: ScenarioRunner
) -> None:
    expected = "200 503 503 503 200 200 200 503 200 503".split()
    assert _pinned_outcomes(runner) == _pinned_outcomes(runner) == _pinned_outcomes(http_runner) == expected


# --- format validation --------------------------------------------------------------------------------

STEP_ERRORS = [  # (steps as YAML, where after "x.yaml: ", a piece of the message)
    ("- let: {a: 1}\n- request: {method: 5, path: /}", "steps[1].request.method", "valid string"),
    ("- request: {method: GET}", "steps[0].request.path", "required"),
    ("- request: {path: /}\n  expect: {status: 999}", "steps[0].expect.status", "599"),
    (
        "- request: {path: /}\n  expect: {error: boom}",
        "steps[0].expect.error",
        "'connection', 'timeout' or 'truncated'",
    ),
    ("- request: {path: /}\n  expct: {status: 200}", "steps[0].expct", "unknown field"),
    ("- request: {path: /, json: {}, body: x}", "steps[0].request", "one of json, form or body"),
    ("- request: {path: /}\n  save: {a: 5}", "steps[0].save.a", "valid string"),
    ("- wait: 5s", "steps[0]", "exactly one of request, clock"),
    ("- request: {path: /}\n  clock: {advance: 1s}", "steps[0]", "exactly one of"),
    ("- fault: {kind: reset}\n  revoke: {account: '1'}", "steps[0]", "exactly one of"),
    ("- GET /", "steps[0]", "a step is a mapping"),
    ("- request: {path: /, timeout: soon}", "steps[0].request.timeout", "not a duration: 'soon'"),
    ("- request: {path: /, timeout: -1}", "steps[0].request.timeout", "between 0 and"),
    ("- fault: [reset]", "steps[0].fault", "valid dictionary"),
    ("- expect_journal: {paths: /}", "steps[0]", "not ['paths']"),
    ("- repeat: 2", "steps[0].steps", "repeat needs a list of steps"),
    ("- repeat: 0\n  steps: [{let: {a: 1}}]", "steps[0].repeat", "greater than or equal to 1"),
    ("- repeat: 2\n  steps:\n    - let: {a: 1}\n    - request: {}", "steps[0].steps[1].request.path", "required"),
]


@pytest.mark.parametrize(
    ("steps", "where", "message"), STEP_ERRORS, ids=[case[1] + ":" + case[2] for case in STEP_ERRORS]
)
def test_a_bad_step_is_named_by_file_step_and_field(tmp_path: Path, steps: str, where: str, message: str) -> None:
    error = format_error(tmp_path, "name: bad\nsteps:\n" + re.sub(r"^", "  ", steps, flags=re.M))
    assert error.where == f"{tmp_path / 'x.yaml'}: {where}"
    assert message in error.message
    assert str(error).startswith(f"{tmp_path / 'x.yaml'}: {where}: ")


DOCUMENT_ERRORS = [  # (whole file, where after the file name, a piece of the message)
    ("name: x\nstepz: []\nsteps: [{let: {a: 1}}]", ": stepz", "unknown field"),
    ("- let: {a: 1}", "", "a scenario is a mapping"),
    ("just text", "", "a scenario is a mapping"),
    ("", "", "a scenario is a mapping"),
    ("name: x", ": steps", "needs a list of steps"),
    ("name: x\nsteps: []", ": steps", "needs a list of steps"),
    ("name: x\nsteps: {let: {a: 1}}", ": steps", "needs a list of steps"),
    ("name: x\nvars: [1]\nsteps: [{let: {a: 1}}]", ": vars", "vars is a mapping"),
    ("name: x\nseed: 5\nsteps: [{let: {a: 1}}]", ": seed", "seed is a mapping, or the path"),
    ("name: x\nseed: missing.yaml\nsteps: [{let: {a: 1}}]", ": seed", "cannot read seed file"),
    ("name: x\nseed: .\nsteps: [{let: {a: 1}}]", ": seed", "cannot read seed file"),
    ("name: x\nseed: broken.yaml\nsteps: [{let: {a: 1}}]", ": seed", "cannot read seed file"),
    ("name: x\nsteps: [{let: {a: 1}}\n", "", "not valid YAML"),
    ("name: x\n\tsteps: []", "", "not valid YAML"),
]


@pytest.mark.parametrize(
    ("text", "where", "message"), DOCUMENT_ERRORS, ids=[f"{n}{case[1]}" for n, case in enumerate(DOCUMENT_ERRORS)]
)
def test_a_bad_document_is_named_by_file_and_field(tmp_path: Path, text: str, where: str, message: str) -> None:
    (tmp_path / "broken.yaml").write_text("liveperson: {accounts: [\n")
    error = format_error(tmp_path, text)
    assert error.where == f"{tmp_path / 'x.yaml'}{where}"
    assert message in error.message, str(error)


def test_yaml_errors_say_where_in_the_file(tmp_path: Path) -> None:
    error = format_error(tmp_path, "name: x\nsteps:\n  - request: {path: /\n")
    assert "line" in error.message and "column" in error.message


def test_a_missing_scenario_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read") as caught:
        load_scenario(tmp_path / "absent.yaml")
    assert caught.value.where == str(tmp_path / "absent.yaml")


def test_a_missing_seed_file_is_named_by_its_resolved_path(tmp_path: Path) -> None:
    error = format_error(tmp_path, "name: x\nseed: seeds/none.yaml\nsteps: [{let: {a: 1}}]")
    assert str(tmp_path / "seeds" / "none.yaml") in error.message


def test_a_seed_file_is_read_relative_to_the_scenario(tmp_path: Path, runner: ScenarioRunner) -> None:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "seeds" / "lp.yaml").write_text("liveperson: {accounts: [{id: '${account}'}]}\n")
    loaded = load_text(
        tmp_path,
        "name: x\nvars: {account: '${random_digits(8)}'}\nseed: seeds/lp.yaml\nsteps:\n"
        "  - request: {path: '/api/account/${account}/service/idp/baseURI.json'}\n    expect: {status: 200}\n",
    )
    assert loaded.seed == {"liveperson": {"accounts": [{"id": "${account}"}]}}
    passed(runner.run(loaded))


def test_a_scenario_without_a_name_is_named_after_its_file(tmp_path: Path) -> None:
    assert load_text(tmp_path, "steps: [{let: {a: 1}}]").name == str(tmp_path / "x.yaml")


def test_a_bad_value_in_the_seed_fails_the_run_before_any_step(runner: ScenarioRunner) -> None:
    result = run(runner, scenario(get_health(), seed={"liveperson": {"accounts": [{"id": 5, "bogus": 1}]}}))
    step = failed_step(result)
    assert (step.where, len(result.steps)) == ("seed", 1)
    assert "400" in details(step)


# --- variables and helpers ----------------------------------------------------------------------------


def let_values(runner: ScenarioRunner, **values: Any) -> dict[str, Any]:
    """The variables after one `let` step of `values`, the way a scenario computes them."""
    return passed(
        run(runner, scenario({"let": {"n": 5, "word": "hi", "items": [1, 2], "user": "bob"}}, {"let": values}))
    ).variables


def test_a_whole_string_reference_keeps_its_type(runner: ScenarioRunner) -> None:
    values = let_values(runner, number="${n}", spaced=" ${ n } ", items="${items}", nested={"x": ["${n}"]})
    assert (values["number"], values["spaced"], values["items"], values["nested"]) == (5, 5, [1, 2], {"x": [5]})


def test_an_embedded_reference_is_stringified(runner: ScenarioRunner) -> None:
    values = let_values(runner, text="n=${n}", two="${word}-${n}", listed="a${items}b")
    assert (values["text"], values["two"], values["listed"]) == ("n=5", "hi-5", "a[1, 2]b")


def test_variables_given_to_run_override_the_files_vars(runner: ScenarioRunner) -> None:
    result = run(runner, scenario({"let": {"copy": "${a}"}}, vars={"a": 1}), a=7)
    assert passed(result).variables["copy"] == 7


def test_a_later_let_sees_the_earlier_ones(runner: ScenarioRunner) -> None:
    result = run(runner, scenario({"let": {"a": 1}}, {"let": {"b": "${a}"}}, {"let": {"c": "${b}${a}"}}))
    assert passed(result).variables["c"] == "11"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("${nope}", "unknown variable ${nope} (known: "),
        ("x-${nope}-y", "unknown variable ${nope}"),
        ("${nope()}", "unknown helper nope() (known: base64, basic_auth"),
        ("${random_digits(missing)}", "random_digits(): unknown variable ${missing}"),
        ("${basic_auth('only')}", "basic_auth(): "),
        ("${base64(1 2)}", "cannot read the arguments"),
    ],
)
def test_an_unknown_name_fails_the_step_with_a_clear_message(runner: ScenarioRunner, value: str, message: str) -> None:
    step = failed_step(run(runner, scenario({"let": {"a": 1}}, {"request": {"path": value}})))
    assert step.where == "steps[1]" and message in details(step)


def test_an_unknown_variable_in_vars_fails_before_any_step(runner: ScenarioRunner) -> None:
    step = failed_step(run(runner, scenario(get_health(), vars={"a": "${nope}"})))
    assert step.where == "seed" and "unknown variable ${nope}" in details(step)


HELPER_SHAPES = [
    ("${uuid()}", lambda v: uuid.UUID(v).version == 4 and str(uuid.UUID(v)) == v),
    ("${uuid}", lambda v: uuid.UUID(v).version == 4),
    ("${random_digits(12)}", lambda v: re.fullmatch(r"[1-9][0-9]{11}", v)),
    ("${random_digits()}", lambda v: re.fullmatch(r"[1-9][0-9]{7}", v)),
    ("${random_digits(1)}", lambda v: re.fullmatch(r"[1-9]", v)),
    ("${random_hex(7)}", lambda v: re.fullmatch(r"[0-9a-f]{7}", v)),
    ("${random_hex()}", lambda v: re.fullmatch(r"[0-9a-f]{24}", v)),
    ("${base64('hi:there')}", lambda v: v == "aGk6dGhlcmU="),
    ("${base64(user)}", lambda v: base64.b64decode(v) == b"bob"),
    ('${basic_auth(user, "p,w")}', lambda v: v == "Basic " + base64.b64encode(b"bob:p,w").decode()),
    ({"base64": "${user}:x"}, lambda v: v == base64.b64encode(b"bob:x").decode()),
    ("id-${random_digits(4)}", lambda v: re.fullmatch(r"id-[1-9][0-9]{3}", v)),
]


@pytest.mark.parametrize(("expression", "shape"), HELPER_SHAPES, ids=[str(case[0]) for case in HELPER_SHAPES])
def test_helpers_produce_the_right_shapes(runner: ScenarioRunner, expression: Any, shape: Any) -> None:
    value = let_values(runner, value=expression)["value"]
    assert isinstance(value, str) and shape(value), value


def test_random_helpers_differ_between_calls() -> None:
    assert len({interpolate("${random_hex(24)}", {}) for _ in range(5)}) == 5
    assert len({interpolate("${uuid()}", {}) for _ in range(5)}) == 5


SECRET = "an app key secret of at least 32 bytes"


def test_a_jwt_value_signed_hs256_verifies_with_its_secret(runner: ScenarioRunner) -> None:
    spec = {"alg": "HS256", "claims": {"sub": "${user}", "n": "${n}"}, "headers": {"kid": "app_1"}, "secret": SECRET}
    token = let_values(runner, token={"jwt": spec})["token"]
    assert jwt.decode(token, SECRET, algorithms=["HS256"]) == {"sub": "bob", "n": 5}
    assert jwt.get_unverified_header(token)["kid"] == "app_1"


def test_a_jwt_value_signed_rs256_verifies_with_the_public_key(runner: ScenarioRunner) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    spec = {"alg": "RS256", "claims": {"sub": "consumer-1", "iss": "brand"}, "private_key": "${pem}"}
    result = passed(run(runner, scenario({"let": {"token": {"jwt": spec}}}), pem=pem))
    claims = jwt.decode(result.variables["token"], key.public_key(), algorithms=["RS256"])
    assert claims == {"sub": "consumer-1", "iss": "brand"}
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(result.variables["token"], rsa.generate_private_key(65537, 2048).public_key(), algorithms=["RS256"])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"alg": "RS256", "claims": {}, "private_key": "not a key"}, "not a PEM private key"),
        ({"alg": "HS256", "claims": {}}, "HS256 with a secret or RS256 with a private_key"),
        ({"alg": "ES256", "claims": {}, "secret": "x"}, "HS256 with a secret or RS256"),
        ({"secret": "x"}, "jwt needs claims"),
    ],
)
def test_a_jwt_value_that_cannot_be_signed_fails_the_step(runner: ScenarioRunner, spec: Doc, message: str) -> None:
    assert message in details(failed_step(run(runner, scenario({"let": {"token": {"jwt": spec}}}))))


@pytest.mark.parametrize(
    ("key", "encryption", "message"),
    [
        (ec.generate_private_key(ec.SECP256R1()), serialization.NoEncryption(), "not an RSA private key"),
        (
            rsa.generate_private_key(65537, 2048),
            serialization.BestAvailableEncryption(b"pass"),
            "not a PEM private key",
        ),
    ],
    ids=["ec-key", "encrypted-key"],
)
def test_a_jwt_value_signed_rs256_with_a_key_it_cannot_use_fails_the_step(
    runner: ScenarioRunner, key: Any, encryption: Any, message: str
) -> None:
    """An EC key or a password-protected key under RS256 is the scenario's mistake: the step fails, the runner goes on."""
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()
    spec = {"alg": "RS256", "claims": {}, "private_key": "${pem}"}
    assert message in details(failed_step(run(runner, scenario({"let": {"token": {"jwt": spec}}}), pem=pem)))


@pytest.mark.parametrize("alg", ["HS256", "RS256"])
def test_a_jwt_value_whose_claims_are_not_json_fails_the_step(runner: ScenarioRunner, alg: str) -> None:
    """A YAML date among the claims has no JSON form: the step fails whichever key signs."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    spec = {"alg": alg, "claims": {"day": datetime(2030, 1, 1).date()}, "secret": SECRET, "private_key": "${pem}"}
    assert "claims are not JSON" in details(
        failed_step(run(runner, scenario({"let": {"token": {"jwt": spec}}}), pem=pem))
    )


def test_helpers_do_not_crash_the_runner_on_a_zero_length(runner: ScenarioRunner) -> None:
    """`${random_digits(0)}` fails the step with a clear message, never an exception out of the runner."""
    step = failed_step(run(runner, scenario({"let": {"a": "${random_digits(0)}"}})))
    assert "random_digits()" in details(step)


# --- request steps: expectations ----------------------------------------------------------------------

MISMATCHES = [  # (expect, what differed)
    ({"status": 201}, "status: expected 201, got 200"),
    ({"json": {"status": "down"}}, 'json.status: expected "down", got "ok"'),
    ({"json": {"absent": 1}}, "json.absent: missing"),
    ({"json": {"status": {"deep": 1}}}, "json.status: expected an object"),
    ({"json": {"status": ["ok"]}}, "json.status: expected a list of 1"),
    ({"jsonpath": {"$.status": "down"}}, '$.status: expected "down", got "ok"'),
    ({"jsonpath": {"$.version": {"matches": "^9\\."}}}, "$.version: '"),
    ({"jsonpath": {"$.absent": {"exists": True}}}, "$.absent: expected exists=True"),
    ({"jsonpath": {"$.status": {"exists": False}}}, "$.status: expected exists=False"),
    ({"jsonpath": {"$.absent": "x"}}, "$.absent: nothing there"),
    ({"jsonpath": {"$[": 1}}, "$[: not a JSONPath"),
    ({"headers": {"Content-Type": "text/html"}}, "header Content-Type: expected 'text/html', got 'application/json'"),
    ({"headers": {"X-Absent": "1"}}, "header X-Absent: expected '1', got None"),
    ({"error": "timeout"}, "expected error timeout, got an answer"),
]
MATCHES = [
    {"status": 200},
    {"json": {"status": "ok"}},
    {"json": {}},
    {
        "jsonpath": {
            "$.status": "ok",
            "$.version": {"matches": r"^\d+\.\d+"},
            "$.absent": {"exists": False},
            "$..status": {"exists": True},
        }
    },
    {"headers": {"Content-Type": "application/json"}},
    {"status": 200, "json": {"status": "${expected}"}, "headers": {"content-type": "application/json"}},
]


@pytest.mark.parametrize("expect", MATCHES, ids=[str(case) for case in MATCHES])
def test_a_request_that_meets_its_expectations_passes_with_what_was_sent_and_got(
    runner: ScenarioRunner, expect: Doc
) -> None:
    step = passed(run(runner, scenario(get_health(expect)), expected="ok")).steps[0]
    assert step.details[0] == f"sent GET {HEALTH}" and step.details[1].startswith('got 200 {"status": "ok"')


@pytest.mark.parametrize(("expect", "difference"), MISMATCHES, ids=[case[1] for case in MISMATCHES])
def test_a_mismatch_fails_the_step_showing_sent_got_and_difference(
    runner: ScenarioRunner, expect: Doc, difference: str
) -> None:
    step = failed_step(run(runner, scenario(get_health(expect))))
    assert step.details[0] == f"sent GET {HEALTH}"
    assert step.details[1].startswith('got 200 {"status": "ok"')
    assert any(line.startswith(difference) for line in step.details[2:]), step.details


def test_every_difference_is_listed(runner: ScenarioRunner) -> None:
    step = failed_step(
        run(runner, scenario(get_health({"status": 500, "json": {"status": "x"}, "headers": {"X-A": "1"}})))
    )
    assert len(step.details) == 5


def test_what_was_sent_shows_query_and_body(runner: ScenarioRunner) -> None:
    request = {
        "method": "post",
        "path": "/api/account/${account}/app/${connector}/authenticate",
        "query": {"v": 3.0},
        "json": {"id_token": "x"},
    }
    step = failed_step(run(runner, scenario({"request": request, "expect": {"status": 200}}, seeded=True)))
    assert re.fullmatch(
        r'sent POST /api/account/\d{8}/app/\d{10}/authenticate\?v=3.0 \{"id_token": "x"\}', step.details[0]
    )
    assert step.details[1:] == ['got 401 {"internalErrorCode": "9007"}', "status: expected 200, got 401"]


def test_a_form_body_is_sent_url_encoded(runner: ScenarioRunner) -> None:
    step = failed_step(
        run(
            runner,
            scenario({"request": {"method": "POST", "path": HEALTH, "form": {"a": "1 2"}}, "expect": {"status": 201}}),
        )
    )
    assert step.details[0] == f"sent POST {HEALTH} a=1+2"


def test_a_long_body_is_clipped_in_the_report(runner: ScenarioRunner) -> None:
    step = failed_step(run(runner, scenario(authorize(expect={"status": 201}), seeded=True)))
    assert re.search(r"\.\.\. \(\d+ characters\)$", step.details[1])


def test_a_malformed_body_fails_json_expectations_but_not_status(runner: ScenarioRunner) -> None:
    fault = {"fault": {"kind": "malformed", "times": 2}}
    result = run(
        runner,
        scenario(
            fault, get_domain({"status": 200}), get_domain({"jsonpath": {"$.service": {"exists": False}}}), seeded=True
        ),
    )
    step = failed_step(result)
    assert step.where == "steps[2]" and "body: expected JSON, got something else" in step.details


@pytest.mark.parametrize(
    ("kind", "expected", "seen"),
    [
        ("reset", "timeout", "connection"),
        ("empty", "truncated", "connection"),
        ("truncated", "connection", "truncated"),
        ("hang", "connection", "timeout"),
    ],
)
def test_the_wrong_error_fails_the_step(runner: ScenarioRunner, kind: str, expected: str, seen: str) -> None:
    step = failed_step(run(runner, scenario({"fault": {"kind": kind}}, get_domain({"error": expected}), seeded=True)))
    assert step.details[1:] == [f"got no answer: {seen} error", f"expected error {expected}"]
    assert re.fullmatch(r"sent GET /api/account/\d{8}/service/idp/baseURI.json", step.details[0])


def test_an_error_where_an_answer_was_expected_fails_the_step(runner: ScenarioRunner) -> None:
    step = failed_step(run(runner, scenario({"fault": {"kind": "reset"}}, get_domain({"status": 200}), seeded=True)))
    assert step.details[1:] == ["got no answer: connection error", "expected an answer"]


@pytest.mark.parametrize(
    ("kind", "error"),
    [("reset", "connection"), ("empty", "connection"), ("truncated", "truncated"), ("hang", "timeout")],
)
def test_the_expected_error_passes(runner: ScenarioRunner, kind: str, error: str) -> None:
    steps = ({"fault": {"kind": kind, "times": 1}}, get_domain({"error": error}), get_domain({"status": 200}))
    step = passed(run(runner, scenario(*steps, seeded=True))).steps[1]
    assert step.details[1:] == [f"failed as expected: {error}"]


def test_faults_do_not_touch_the_control_api(runner: ScenarioRunner) -> None:
    passed(run(runner, scenario({"fault": {"kind": "reset"}}, get_health({"status": 200}))))


def test_request_timeout_is_honoured_over_http(http_runner: ScenarioRunner) -> None:
    """`request.timeout` reaches the transport: over HTTP a slow answer is given up on as a timeout."""
    slow = {"fault": {"kind": "latency", "delay": "1s", "times": 1}}
    request = {"request": {"path": DOMAIN, "timeout": "200ms"}, "expect": {"error": "timeout"}}
    passed(http_runner.run(parse_scenario(scenario(slow, request, seeded=True))))


# --- request steps: save ------------------------------------------------------------------------------


def test_save_from_jsonpath_header_and_status(runner: ScenarioRunner) -> None:
    save = {"version": "$.version", "kind": "header:Content-Type", "code": "status", "all": "$"}
    check = get_health({"json": {"version": "${version}"}, "headers": {"Content-Type": "${kind}"}})
    result = passed(run(runner, scenario(get_health(save=save), check)))
    assert result.variables["kind"] == "application/json" and result.variables["code"] == 200
    assert result.variables["all"] == {"status": "ok", "version": result.variables["version"]}


@pytest.mark.parametrize(
    ("source", "message"), [("$.absent", "save $.absent: nothing there in {"), ("$[", "save $[: ")]
)
def test_a_save_that_finds_nothing_fails_the_step(runner: ScenarioRunner, source: str, message: str) -> None:
    step = failed_step(run(runner, scenario(get_health(save={"x": source}))))
    assert details(step).startswith(message)


def test_a_save_from_a_body_that_is_not_json_fails_the_step(runner: ScenarioRunner) -> None:
    step = failed_step(
        run(runner, scenario({"fault": {"kind": "malformed"}}, get_domain(save={"x": "$.service"}), seeded=True))
    )
    assert details(step).startswith("save $.service: ")


def test_a_save_from_a_missing_header_fails_the_step(runner: ScenarioRunner) -> None:
    """`save: {x: "header:X-Absent"}` fails the step, as a JSONPath that finds nothing does."""
    step = failed_step(run(runner, scenario(get_health(save={"x": "header:X-Absent"}))))
    assert "X-Absent" in details(step)


# --- clock, fault, expire, revoke, let ----------------------------------------------------------------


def test_a_clock_step_moves_the_namespace_clock(runner: ScenarioRunner, transport: AppTransport) -> None:
    steps = ({"clock": {"set": "2030-01-01T00:00:00Z", "freeze": True}}, {"clock": {"advance": "${wait}"}})
    result = passed(run(runner, scenario(*steps, vars={"wait": "11m"}), keep=True))
    control = EmulatorClient(namespace=result.namespace, transport=transport)
    try:
        assert (control.now(), control.clock()["frozen"]) == (datetime(2030, 1, 1, 0, 11, tzinfo=timezone.utc), True)
    finally:
        control.reset()


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"clock": {"advance": "${account}${account}${account}"}}, "a duration lies between"),
        ({"fault": {"kind": "status", "status": "${account}"}}, "invalid_fault"),
        ({"expire": {"token": "never-issued"}}, "unknown_token"),
        ({"revoke": {"account": "${account}", "bogus": "1"}}, "invalid_selector"),
        ({"revoke": {"account": "0"}}, "unknown_tenant"),
    ],
)
def test_a_control_step_the_emulator_refuses_fails_with_its_answer(
    runner: ScenarioRunner, step: Doc, message: str
) -> None:
    assert message in details(failed_step(run(runner, scenario(step, seeded=True))))


def test_a_fault_step_installs_the_rule_in_the_scenarios_namespace(
    runner: ScenarioRunner, transport: AppTransport
) -> None:
    rule = {"fault": {"kind": "status", "status": 418, "times": 1, "match": {"path": "/api/account/${account}/**"}}}
    result = passed(
        run(
            runner,
            scenario(rule, authorize(expect={"status": 418}), authorize(expect={"status": 200}), seeded=True),
            keep=True,
        )
    )
    control = EmulatorClient(namespace=result.namespace, transport=transport)
    try:
        assert [(f["kind"], f["matched"], f["fired"]) for f in control.faults()] == [("status", 2, 1)]
        assert EmulatorClient(namespace="default", transport=transport).faults() == []
    finally:
        control.reset()


def test_expire_and_revoke_steps_act_on_a_saved_token(runner: ScenarioRunner) -> None:
    exchange = {
        "method": "POST",
        "path": "/api/account/${account}/app/${connector}/authenticate",
        "query": {"v": "3.0"},
        "json": {"id_token": "${t}"},
    }
    refused = {"status": 401, "headers": {"X-Emulator-Reason": "${reason}"}}
    steps = [
        authorize(save={"t": "$.token"}),
        {"expire": {"token": "${t}"}},
        {"let": {"reason": "expired"}},
        {"request": exchange, "expect": refused},
        {"revoke": {"token": "${t}"}},
        {"let": {"reason": "revoked"}},
        {"request": exchange, "expect": refused},
    ]
    passed(run(runner, scenario(*steps, seeded=True)))


# --- repeat, expect_journal, stopping, namespaces -----------------------------------------------------


def test_repeat_runs_its_steps_n_times_numbering_each_round(runner: ScenarioRunner) -> None:
    result = passed(
        run(
            runner,
            scenario({"repeat": 3, "steps": [{"let": {"a": 1}}, get_health({"status": 200})]}, {"let": {"b": 2}}),
        )
    )
    assert [step.where for step in result.steps] == [
        "steps[0].steps[0]#1",
        "steps[0].steps[1]#1",
        "steps[0].steps[0]#2",
        "steps[0].steps[1]#2",
        "steps[0].steps[0]#3",
        "steps[0].steps[1]#3",
        "steps[1]",
    ]


def test_a_failing_round_is_named_by_its_number(runner: ScenarioRunner) -> None:
    fault = {"fault": {"kind": "status", "status": 503, "after": 2}}
    step = failed_step(
        run(runner, scenario(fault, {"repeat": 5, "steps": [authorize(expect={"status": 200})]}, seeded=True))
    )
    assert step.where == "steps[1].steps[0]#3" and "status: expected 200, got 503" in step.details


def test_repeated_requests_are_journaled_each_time(runner: ScenarioRunner) -> None:
    journal = {
        "expect_journal": {
            "provider": "liveperson",
            "method": "POST",
            "path": "/api/account/*/anonymous/authorize",
            "status": 200,
            "times": 4,
        }
    }
    passed(run(runner, scenario({"repeat": 4, "steps": [authorize()]}, journal, seeded=True)))


def test_expect_journal_without_times_needs_one_match(runner: ScenarioRunner) -> None:
    passed(
        run(
            runner,
            scenario(
                authorize(), {"expect_journal": {"path": "/api/account/${account}/anonymous/authorize"}}, seeded=True
            ),
        )
    )


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"method": "POST", "times": 5}, "expected a request with method=POST 5 time(s), saw 2"),
        ({"status": 401}, "expected a request with status=401 at least once, saw 0"),
    ],
)
def test_expect_journal_failure_shows_the_journal(runner: ScenarioRunner, filters: Doc, message: str) -> None:
    step = failed_step(run(runner, scenario(authorize(), authorize(), {"expect_journal": filters}, seeded=True)))
    assert step.details[0] == message
    assert step.details[1].startswith("last 2 request(s) of namespace 'scenario-")
    assert all(
        re.fullmatch(r"  POST /api/account/\d{8}/anonymous/authorize -> 200", line) for line in step.details[2:4]
    )


def test_expect_journal_on_an_empty_journal_says_so(runner: ScenarioRunner) -> None:
    step = failed_step(run(runner, scenario({"expect_journal": {"provider": "liveperson"}})))
    assert "the journal of this namespace is empty" in step.details


def test_the_run_stops_at_the_first_failing_step(runner: ScenarioRunner) -> None:
    seen: list[StepResult] = []
    result = ScenarioRunner(runner.transport, on_step=seen.append).run(
        parse_scenario(scenario(get_health({"status": 200}), get_health({"status": 500}), get_health({"status": 200})))
    )
    assert [(step.where, step.ok) for step in result.steps] == [("steps[0]", True), ("steps[1]", False)]
    assert seen == result.steps


def test_each_run_gets_its_own_namespace(runner: ScenarioRunner) -> None:
    first, second = (passed(run(runner, scenario({"let": {"a": 1}}))) for _ in range(2))
    assert first.namespace != second.namespace and first.namespace.startswith("scenario-")


def _seeded_account_answers(transport: AppTransport, account: str) -> int:
    return transport.send("GET", f"/api/account/{account}/service/idp/baseURI.json").status


@pytest.mark.parametrize("keep", [False, True])
def test_the_namespace_is_reset_after_a_run_unless_kept(
    runner: ScenarioRunner, transport: AppTransport, keep: bool
) -> None:
    rule = {"fault": {"kind": "reset", "match": {"path": "/nowhere"}}}
    result = run(runner, scenario(authorize(), rule, seeded=True), namespace="scenario-keep-test", keep=keep)
    control = EmulatorClient(namespace="scenario-keep-test", transport=transport)
    try:
        assert result.namespace == "scenario-keep-test"
        assert (len(control.journal()), len(control.faults())) == ((1, 1) if keep else (0, 0))
        assert _seeded_account_answers(transport, result.variables["account"]) == (200 if keep else 401)
    finally:
        control.reset()
    assert _seeded_account_answers(transport, result.variables["account"]) == 401


def test_the_namespace_is_reset_even_when_a_step_fails(runner: ScenarioRunner, transport: AppTransport) -> None:
    result = run(runner, scenario(authorize(), get_health({"status": 500}), seeded=True))
    assert not result.ok and _seeded_account_answers(transport, result.variables["account"]) == 401


# --- the report ---------------------------------------------------------------------------------------


def test_the_report_of_a_failure_shows_step_sent_got_and_difference(runner: ScenarioRunner) -> None:
    doc = scenario(
        {"let": {"a": 1}},
        {"name": "health is down?", **get_health({"json": {"status": "down"}})},
        get_health(),
        name="report demo",
    )
    report = run(runner, doc).report().splitlines()
    assert report[0] == "scenario report demo (t.yaml): FAILED"
    assert report[1] == "  ok   steps[0] let a"
    assert report[2] == "  FAIL steps[1] health is down?"
    assert report[3] == f"       sent GET {HEALTH}"
    assert report[4].startswith('       got 200 {"status": "ok"')
    assert report[5] == '       json.status: expected "down", got "ok"'
    assert len(report) == 6


def test_the_report_of_a_pass_lists_each_step(runner: ScenarioRunner) -> None:
    report = passed(run(runner, scenario(get_health(), name="fine"))).report()
    assert report == f"scenario fine (t.yaml): passed\n  ok   steps[0] GET {HEALTH}"


# --- validation before the run ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "where"),
    [
        ({"clock": {"advance": "soon"}}, "steps[0].clock.advance"),
        ({"clock": {"advnce": "1s"}}, "steps[0].clock"),
        ({"fault": {"kind": "explode"}}, "steps[0].fault.kind"),
        ({"fault": {"kind": "status"}}, "steps[0].fault"),
    ],
)
def test_clock_and_fault_steps_are_validated_when_loaded(step: Doc, where: str) -> None:
    """A literal bad duration in `clock`, or a bad fault rule, is refused before any step acts."""
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(scenario(step), "x.yaml")
    assert caught.value.where == f"x.yaml: {where}"


def test_a_seed_file_that_is_not_a_mapping_is_refused_when_loaded(tmp_path: Path, runner: ScenarioRunner) -> None:
    """A seed file holding a list is refused when the scenario loads."""
    (tmp_path / "seed.yaml").write_text("- a\n- b\n")
    with pytest.raises(ScenarioError, match="seed"):
        runner.run(load_text(tmp_path, "name: x\nseed: seed.yaml\nsteps: [{let: {a: 1}}]"))


def test_interpolate_reports_unknown_names_deep_inside_a_value() -> None:
    with pytest.raises(ScenarioValueError, match=r"unknown variable \$\{b\}"):
        interpolate({"a": [{"c": "x${b}"}]}, {})


def test_jwt_claim_reads_a_claim_of_a_saved_token(runner: ScenarioRunner) -> None:
    """A scenario can name the consumer of a token it holds, e.g. to revoke that consumer only."""
    steps = [
        authorize(save={"ext_jwt": "$.token"}),
        {"let": {"consumer": '${jwt_claim(ext_jwt, "sub")}'}},
        {"revoke": {"account": "${account}", "consumer": "${consumer}"}},
    ]
    result = passed(run(runner, scenario(*steps, seeded=True)))
    assert len(result.variables["consumer"]) == 36
    broken = run(runner, scenario({"let": {"x": '${jwt_claim("not-a-jwt", "sub")}'}}))
    assert "jwt_claim()" in details(failed_step(broken))


# --- expect_deliveries ---------------------------------------------------------------------------------


def mindbehind_reply() -> tuple[Doc, Doc]:
    """A seed with a Mindbehind generic channel whose send webhook listens nowhere, and a bot reply to it."""
    channel = {
        "id": "${channel}",
        "type": "mindbehind",
        "management_token": "mt-${channel}",
        "send_webhook": "http://127.0.0.1:9/send",
    }
    seed = {
        "mindbehind": {
            "companies": [
                {"id": "c-${channel}", "channels": [channel], "clients": [{"clientID": "client-1", "name": "Ada"}]}
            ]
        }
    }
    reply = {
        "request": {
            "method": "POST",
            "path": "/__emulator/mindbehind/bot-reply",
            "json": {"channelID": "${channel}", "clientID": "client-1", "text": "hello"},
        },
        "expect": {"status": 202},
    }
    return seed, reply


def test_expect_deliveries_checks_any_providers_deliveries(runner: ScenarioRunner) -> None:
    seed, reply = mindbehind_reply()
    expectation = {"kind": "mindbehind.send", "url": "http://127.0.0.1:9/*", "times": 1}
    result = passed(
        run(
            runner,
            scenario(reply, {"expect_deliveries": expectation}, seed=seed, vars={"channel": "${random_hex(12)}"}),
        )
    )
    assert result.steps[-1].details == ["1 matching deliveries of 1"]


def test_expect_deliveries_failure_lists_the_deliveries(runner: ScenarioRunner) -> None:
    seed, reply = mindbehind_reply()
    expectation = {"kind": "mindbehind.send", "state": "delivered"}
    step = failed_step(
        run(
            runner,
            scenario(reply, {"expect_deliveries": expectation}, seed=seed, vars={"channel": "${random_hex(12)}"}),
        )
    )
    assert step.details[0] == "expected at least one matching deliveries, found 0 of 1"
    assert step.details[1] == "mindbehind.send pending http://127.0.0.1:9/send: state is 'pending'"


def test_expect_deliveries_with_times_zero_holds_when_nothing_was_sent(runner: ScenarioRunner) -> None:
    passed(run(runner, scenario({"expect_deliveries": {"times": 0}})))
    step = failed_step(run(runner, scenario({"expect_deliveries": {}})))
    assert step.details == ["expected at least one matching deliveries, found 0 of 0"]


def test_expect_deliveries_fields_are_checked_when_loaded() -> None:
    with pytest.raises(ScenarioError, match=r"steps\[0\]\.expect_deliveries\.status"):
        parse_scenario(scenario({"expect_deliveries": {"status": 200}}), "t.yaml")
