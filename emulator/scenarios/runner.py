"""Running a scenario against an emulator (in-process or over HTTP), step by step, with a report per step."""

from __future__ import annotations

import fnmatch
import json
import re
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from jsonpath_ng.ext import parse as parse_jsonpath

from ..client import EmulatorClient, EmulatorError, Reply, Transport
from ..web import NAMESPACE_HEADER
from .model import (
    ClockStep,
    ControlStep,
    DeliveriesStep,
    DeliveryExpectation,
    Expect,
    JournalStep,
    LetStep,
    RepeatStep,
    RequestStep,
    Scenario,
    Step,
)
from .values import ScenarioValueError, interpolate

BODY_SHOWN = 600  # characters of a body a report shows


@dataclass
class StepResult:
    where: str  # e.g. steps[3] or steps[2].steps[0]#4 (the 4th repetition)
    label: str
    ok: bool
    details: list[str] = field(default_factory=list)  # what was sent, what came back, what differed


@dataclass
class ScenarioResult:
    scenario: Scenario
    namespace: str
    steps: list[StepResult] = field(default_factory=list)
    variables: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(step.ok for step in self.steps)

    def report(self) -> str:
        lines = [f"scenario {self.scenario.name} ({self.scenario.source}): {'passed' if self.ok else 'FAILED'}"]
        for step in self.steps:
            lines.append(f"  {'ok  ' if step.ok else 'FAIL'} {step.where} {step.label}")
            if not step.ok:
                lines += [f"       {line}" for line in step.details]
        return "\n".join(lines)


class StepFailed(Exception):
    def __init__(self, *details: str) -> None:
        super().__init__("; ".join(details))
        self.details = list(details)


def _clip(text: str) -> str:
    return text if len(text) <= BODY_SHOWN else text[:BODY_SHOWN] + f"... ({len(text)} characters)"


class ScenarioRunner:
    """Runs scenarios through one transport, each in a fresh namespace that is reset afterwards."""

    def __init__(
        self, transport: Transport, on_step: Callable[[StepResult], None] | None = None, token: str | None = None
    ) -> None:
        self.transport = transport
        self.on_step = on_step or (lambda _: None)
        self.token = token  # the emulator's control token, if it has one

    def run(
        self, scenario: Scenario, namespace: str | None = None, keep: bool = False, **variables: Any
    ) -> ScenarioResult:
        """Run every step; stop at the first failure (later steps build on earlier ones)."""
        control = EmulatorClient(
            namespace=namespace or f"scenario-{secrets.token_hex(6)}", transport=self.transport, token=self.token
        )
        result = ScenarioResult(scenario, control.namespace, variables={**variables})
        try:
            for name, value in {**scenario.variables, **variables}.items():  # in order: later ones may use earlier ones
                result.variables[name] = interpolate(value, result.variables)
            if scenario.seed is not None:
                control.seed(interpolate(scenario.seed, result.variables))
        except (ScenarioValueError, EmulatorError) as exc:
            result.steps.append(StepResult("seed", "seed and vars", False, [str(exc)]))
            self.on_step(result.steps[-1])
            return result
        try:
            for where, step in _flatten(scenario.steps, "steps"):
                outcome = self._run_step(step, where, control, result.variables)
                result.steps.append(outcome)
                self.on_step(outcome)
                if not outcome.ok:
                    break
        finally:
            if not keep:
                control.reset()
        return result

    def _run_step(self, step: Step, where: str, control: EmulatorClient, variables: dict) -> StepResult:
        label = step.name or _describe(step)
        try:
            details = self._act(step, control, variables)
        except StepFailed as failure:
            return StepResult(where, label, False, failure.details)
        except (ScenarioValueError, EmulatorError) as exc:
            return StepResult(where, label, False, [str(exc)])
        return StepResult(where, label, True, details)

    def _act(self, step: Step, control: EmulatorClient, variables: dict) -> list[str]:
        if isinstance(step, RequestStep):
            return self._request(step, control, variables)
        if isinstance(step, ClockStep):
            control.move_clock(**interpolate(step.clock, variables))
        elif isinstance(step, ControlStep):
            self._control(step, control, variables)
        elif isinstance(step, LetStep):
            for name, value in step.let.items():
                variables[name] = interpolate(value, variables)
        elif isinstance(step, JournalStep):
            filters = interpolate(step.expect_journal, variables)
            times = filters.pop("times", None)
            try:
                control.assert_called(times=times, **filters)
            except AssertionError as exc:
                raise StepFailed(*str(exc).splitlines()) from None
        elif isinstance(step, DeliveriesStep):
            return _expect_deliveries(step.expect_deliveries, control, variables)
        return []

    def _control(self, step: ControlStep, control: EmulatorClient, variables: dict) -> None:
        if step.fault is not None:
            rule = interpolate(step.fault, variables)
            control.add_fault(rule.pop("kind", None), **rule)
        elif step.expire is not None:
            control.expire(**interpolate(step.expire, variables))
        elif step.revoke is not None:
            control.revoke(**interpolate(step.revoke, variables))

    def _request(self, step: RequestStep, control: EmulatorClient, variables: dict) -> list[str]:
        spec = step.request
        method = interpolate(spec.method, variables).upper()
        path = interpolate(spec.path, variables)
        query = {k: str(v) for k, v in interpolate(spec.query, variables).items()}
        headers = {NAMESPACE_HEADER: control.namespace, **interpolate(spec.headers, variables)}
        body: Any = None
        if spec.form is not None:
            body = urlencode(interpolate(spec.form, variables))
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif spec.body is not None:
            body = interpolate(spec.body, variables)
        json_body = interpolate(spec.json_body, variables)
        sent = f"sent {method} {path}{'?' + urlencode(query) if query else ''}" + (
            f" {json.dumps(json_body)}" if json_body is not None else f" {body}" if body else ""
        )
        import requests  # on the first step: loading the scenario package does not pay for it

        try:
            reply = self.transport.send(
                method, path, params=query, json=json_body, data=body, headers=headers, timeout=spec.timeout
            )
        except requests.exceptions.ChunkedEncodingError:
            return _expected_error(step.expect, "truncated", sent)
        except requests.exceptions.Timeout:
            return _expected_error(step.expect, "timeout", sent)
        except requests.exceptions.ConnectionError:
            return _expected_error(step.expect, "connection", sent)
        received = f"got {reply.status} {_clip(reply.text)}"
        differences = _differences(step.expect, reply, variables)
        if differences:
            raise StepFailed(sent, received, *differences)
        for name, source in step.save.items():
            variables[name] = _extract(source, reply)
        return [sent, received]


def _expected_error(expect: Expect, seen: str, sent: str) -> list[str]:
    if expect.error != seen:
        raise StepFailed(
            sent, f"got no answer: {seen} error", f"expected {'error ' + expect.error if expect.error else 'an answer'}"
        )
    return [sent, f"failed as expected: {seen}"]


def _differences(expect: Expect, reply: Reply, variables: Mapping[str, Any]) -> list[str]:
    found: list[str] = []
    if expect.error is not None:
        return [f"expected error {expect.error}, got an answer"]
    if expect.status is not None and reply.status != expect.status:
        found.append(f"status: expected {expect.status}, got {reply.status}")
    for name, wanted in interpolate(expect.headers, variables).items():
        actual = reply.headers.get(name)
        if actual != wanted:
            found.append(f"header {name}: expected {wanted!r}, got {actual!r}")
    if expect.json_subset is None and not expect.jsonpath:
        return found
    try:
        body = reply.json()
    except ValueError:
        return found + ["body: expected JSON, got something else"]
    if expect.json_subset is not None:
        found += [
            f"json{path}: {problem}" for path, problem in _subset(interpolate(expect.json_subset, variables), body, "")
        ]
    for path, wanted in interpolate(expect.jsonpath, variables).items():
        found += _jsonpath_problems(path, wanted, body)
    return found


def _expect_deliveries(expect: DeliveryExpectation, control: EmulatorClient, variables: dict) -> list[str]:
    """Flush (every due attempt made and ended), then count the deliveries that match every filter."""
    wanted = DeliveryExpectation.model_validate(
        interpolate(expect.model_dump(by_alias=True, exclude_unset=True), variables)
    )
    deliveries = control.flush_deliveries()
    matching = [d for d in deliveries if not _delivery_differences(wanted, d)]
    held = len(matching) == wanted.times if wanted.times is not None else bool(matching)
    if held:
        return [f"{len(matching)} matching deliveries of {len(deliveries)}"]
    seen = [
        f"{d['kind']} {d['state']} {d['url']}: {'; '.join(_delivery_differences(wanted, d))}" for d in deliveries[-10:]
    ]
    expected = f"exactly {wanted.times}" if wanted.times is not None else "at least one"
    raise StepFailed(f"expected {expected} matching deliveries, found {len(matching)} of {len(deliveries)}", *seen)


def _delivery_differences(wanted: DeliveryExpectation, delivery: dict) -> list[str]:
    found = [
        f"{name} is {delivery[name]!r}"
        for name in ("kind", "state")
        if getattr(wanted, name) not in (None, delivery[name])
    ]
    if wanted.url is not None and not fnmatch.fnmatchcase(delivery["url"], wanted.url):
        found.append(f"url is {delivery['url']!r}")
    headers = {name.lower(): value for name, value in delivery["headers"].items()}
    found += [
        f"header {name} is {headers.get(name.lower())!r}"
        for name, value in wanted.headers.items()
        if headers.get(name.lower()) != value
    ]
    if wanted.json_subset is not None:
        found += [f"json{path}: {problem}" for path, problem in _subset(wanted.json_subset, delivery["payload"], "")]
    for path, value in wanted.jsonpath.items():
        found += _jsonpath_problems(path, value, delivery["payload"])
    return found


def _subset(wanted: Any, actual: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every key and value of `wanted` is in `actual` (lists: same length, element by element)."""
    if isinstance(wanted, dict):
        if not isinstance(actual, dict):
            yield where or "", f"expected an object, got {json.dumps(actual)[:80]}"
            return
        for key, value in wanted.items():
            if key not in actual:
                yield f"{where}.{key}", "missing"
            else:
                yield from _subset(value, actual[key], f"{where}.{key}")
    elif isinstance(wanted, list):
        if not isinstance(actual, list) or len(actual) != len(wanted):
            yield where or "", f"expected a list of {len(wanted)}, got {json.dumps(actual)[:80]}"
            return
        for index, (item, other) in enumerate(zip(wanted, actual, strict=True)):
            yield from _subset(item, other, f"{where}[{index}]")
    elif wanted != actual:
        yield where or "", f"expected {json.dumps(wanted)}, got {json.dumps(actual)[:80]}"


def _jsonpath_problems(path: str, wanted: Any, body: Any) -> list[str]:
    try:
        matches = [match.value for match in parse_jsonpath(path).find(body)]
    except Exception as exc:  # jsonpath-ng raises JsonPathParserError, and plain Exceptions for some inputs
        return [f"{path}: not a JSONPath ({exc})"]
    if isinstance(wanted, dict) and set(wanted) == {"exists"}:
        return [] if bool(matches) == bool(wanted["exists"]) else [f"{path}: expected exists={wanted['exists']}"]
    if not matches:
        return [f"{path}: nothing there"]
    if isinstance(wanted, dict) and set(wanted) == {"matches"}:
        pattern = str(wanted["matches"])
        return (
            []
            if all(re.search(pattern, str(value)) for value in matches)
            else [f"{path}: {matches[0]!r} does not match {pattern!r}"]
        )
    return [] if matches[0] == wanted else [f"{path}: expected {json.dumps(wanted)}, got {json.dumps(matches[0])[:80]}"]


def _extract(source: str, reply: Reply) -> Any:
    if source == "status":
        return reply.status
    if source.startswith("header:"):
        name = source.removeprefix("header:").strip()
        if name not in reply.headers:
            raise StepFailed(f"save {source}: the answer has no {name} header")
        return reply.headers[name]
    try:
        matches = [match.value for match in parse_jsonpath(source).find(reply.json())]
    except Exception as exc:  # a body that is not JSON, or a bad path
        raise StepFailed(f"save {source}: {exc}") from None
    if not matches:
        raise StepFailed(f"save {source}: nothing there in {_clip(reply.text)}")
    return matches[0]


def _flatten(steps: list[Step], prefix: str) -> Iterator[tuple[str, Step]]:
    for index, step in enumerate(steps):
        where = f"{prefix}[{index}]"
        if isinstance(step, RepeatStep):
            for round_number in range(1, step.repeat + 1):
                yield from ((f"{inner}#{round_number}", s) for inner, s in _flatten(step.steps, f"{where}.steps"))
        else:
            yield where, step


def _describe(step: Step) -> str:
    if isinstance(step, RequestStep):
        return f"{step.request.method.upper()} {step.request.path}"
    if isinstance(step, ClockStep):
        return "clock " + " ".join(f"{k}={v}" for k, v in step.clock.items())
    if isinstance(step, ControlStep):
        return next(
            f"{kind} {value}"
            for kind, value in (("fault", step.fault), ("expire", step.expire), ("revoke", step.revoke))
            if value is not None
        )
    if isinstance(step, LetStep):
        return "let " + ", ".join(step.let)
    if isinstance(step, JournalStep):
        return "expect_journal " + " ".join(f"{k}={v}" for k, v in step.expect_journal.items())
    if isinstance(step, DeliveriesStep):
        return "expect_deliveries " + " ".join(
            f"{k}={v}" for k, v in step.expect_deliveries.model_dump(exclude_unset=True).items()
        )
    return "step"
