"""The scenario format: a seed, variables and steps, validated with errors that name file, step and field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from ..core.clock import parse_duration, parse_instant
from ..core.faults import FaultSpec
from ..core.validation import first_error


class ScenarioError(ValueError):
    """A scenario file that does not validate: `where` is `file: steps[2].request.method`."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RequestSpec(_Strict):
    method: str = "GET"
    path: str = Field(min_length=1)
    query: dict[str, Any] = {}
    headers: dict[str, str] = {}
    json_body: Any = Field(default=None, alias="json")
    form: dict[str, str] | None = None
    body: str | None = None
    timeout: Annotated[float, BeforeValidator(parse_duration)] = 10.0

    @model_validator(mode="after")
    def _one_body(self) -> RequestSpec:
        given = [name for name in ("json_body", "form", "body") if getattr(self, name) is not None]
        if len(given) > 1:
            raise ValueError("give one of json, form or body")
        return self


class Expect(_Strict):
    status: int | None = Field(default=None, ge=100, le=599)
    json_subset: Any = Field(default=None, alias="json")  # every key and value given must be in the answer
    jsonpath: dict[str, Any] = {}  # path -> value, or {matches: regex} / {exists: bool}
    headers: dict[str, str] = {}
    error: Literal["connection", "timeout", "truncated"] | None = None  # the request must fail this way


class RequestStep(_Strict):
    name: str | None = None
    request: RequestSpec
    expect: Expect = Expect()
    save: dict[str, str] = {}  # variable -> "$.json.path" | "header:Name" | "status"


def _has_reference(value: Any) -> bool:
    """True when `value` holds a `${...}` that only the run can resolve."""
    return "${" in json.dumps(value, default=str)


class ClockStep(_Strict):
    name: str | None = None
    clock: dict[str, Any]

    def check(self, where: str) -> None:
        """What can be checked before the run: keys, and values that hold no `${...}`."""
        checks = {"set": parse_instant, "advance": parse_duration, "freeze": _boolean}
        if not self.clock or set(self.clock) - set(checks):
            raise ScenarioError(f"{where}.clock", "clock takes set, advance and/or freeze")
        for key, value in self.clock.items():
            if not _has_reference(value):
                try:
                    checks[key](value)
                except ValueError as exc:
                    raise ScenarioError(f"{where}.clock.{key}", str(exc)) from None


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("freeze is true or false")
    return value


class ControlStep(_Strict):
    """`fault`, `expire` or `revoke`: the control call of the same name, with the step's mapping as body."""

    name: str | None = None
    fault: dict[str, Any] | None = None
    expire: dict[str, Any] | None = None
    revoke: dict[str, Any] | None = None

    def check(self, where: str) -> None:
        """A fault rule that holds no `${...}` is checked before the run."""
        if self.fault is not None and not _has_reference(self.fault):
            try:
                FaultSpec.model_validate(self.fault)
            except ValidationError as exc:
                field, message = first_error(exc)
                raise ScenarioError(f"{where}.fault.{field}" if field else f"{where}.fault", message) from None


class LetStep(_Strict):
    name: str | None = None
    let: dict[str, Any]


class JournalStep(_Strict):
    name: str | None = None
    expect_journal: dict[str, Any]

    @model_validator(mode="after")
    def _known_filters(self) -> JournalStep:
        unknown = set(self.expect_journal) - {"provider", "method", "path", "status", "times"}
        if unknown:
            raise ValueError(f"expect_journal takes provider, method, path, status, times; not {sorted(unknown)}")
        return self


class DeliveryExpectation(_Strict):
    """Outgoing webhook deliveries (`GET /__emulator/deliveries`, after a flush) that must be there: filters
    `kind`, `url` (a glob), `state`, `headers` (a subset), `json` (a subset of the payload) and `jsonpath` (on
    the payload); `times`: exactly how many match (omitted: at least one)."""

    kind: str | None = None
    url: str | None = None
    state: Literal["pending", "delivered", "failed"] | None = None
    headers: dict[str, str] = {}
    json_subset: Any = Field(default=None, alias="json")
    jsonpath: dict[str, Any] = {}
    times: int | None = Field(default=None, ge=0)


class DeliveriesStep(_Strict):
    name: str | None = None
    expect_deliveries: DeliveryExpectation


class RepeatStep(_Strict):
    name: str | None = None
    repeat: int = Field(ge=1, le=10_000)
    steps: list[Step]


Step = RequestStep | ClockStep | ControlStep | LetStep | JournalStep | DeliveriesStep | RepeatStep
_STEP_KINDS: dict[str, type[Step]] = {
    "request": RequestStep,
    "clock": ClockStep,
    "fault": ControlStep,
    "expire": ControlStep,
    "revoke": ControlStep,
    "let": LetStep,
    "expect_journal": JournalStep,
    "expect_deliveries": DeliveriesStep,
    "repeat": RepeatStep,
}


class Scenario(BaseModel):
    name: str
    seed: Any = None  # a seed mapping (the seed schema), or a path relative to the scenario file
    variables: dict[str, Any] = {}
    steps: list[Step]
    source: str = "<scenario>"


def _step(raw: Any, where: str) -> Step:
    if not isinstance(raw, dict):
        raise ScenarioError(where, "a step is a mapping")
    kinds = [key for key in raw if key in _STEP_KINDS]
    if len(kinds) != 1:
        raise ScenarioError(where, f"a step has exactly one of {', '.join(_STEP_KINDS)}")
    model = _STEP_KINDS[kinds[0]]
    fields = dict(raw)
    if model is RepeatStep:
        if not isinstance(fields.get("steps"), list) or not fields["steps"]:
            raise ScenarioError(f"{where}.steps", "repeat needs a list of steps")
        fields["steps"] = [_step(inner, f"{where}.steps[{n}]") for n, inner in enumerate(fields["steps"])]
    try:
        step = model.model_validate(fields)
    except ValidationError as exc:
        field, message = first_error(exc)
        raise ScenarioError(f"{where}.{field}" if field else where, message) from None
    if isinstance(step, (ClockStep, ControlStep)):
        step.check(where)
    return step


def parse_scenario(data: Any, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    """Validate a parsed scenario document; ScenarioError names the file, the step and the field."""
    if not isinstance(data, dict):
        raise ScenarioError(source, "a scenario is a mapping with steps")
    unknown = sorted(set(data) - {"name", "seed", "vars", "steps"})
    if unknown:
        raise ScenarioError(f"{source}: {unknown[0]}", "unknown field (a scenario has name, seed, vars, steps)")
    if not isinstance(data.get("steps"), list) or not data["steps"]:
        raise ScenarioError(f"{source}: steps", "a scenario needs a list of steps")
    variables = data.get("vars") or {}
    if not isinstance(variables, dict):
        raise ScenarioError(f"{source}: vars", "vars is a mapping of names to values")
    seed = data.get("seed")
    if isinstance(seed, str):
        seed = _load_seed(seed, source, base)
    elif seed is not None and not isinstance(seed, dict):
        raise ScenarioError(f"{source}: seed", "seed is a mapping, or the path of a seed file")
    steps = [_step(raw, f"{source}: steps[{n}]") for n, raw in enumerate(data["steps"])]
    return Scenario(name=str(data.get("name") or source), seed=seed, variables=variables, steps=steps, source=source)


def _load_seed(reference: str, source: str, base: Path | None) -> Any:
    path = (base or Path.cwd()) / reference
    try:
        seed = yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError, RecursionError) as exc:
        raise ScenarioError(f"{source}: seed", f"cannot read seed file {path}: {exc}") from None
    if not isinstance(seed, dict):
        raise ScenarioError(f"{source}: seed", f"the seed file {path} does not hold a mapping")
    return seed


def load_scenario(path: str | Path) -> Scenario:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_bytes())
    except OSError as exc:
        raise ScenarioError(str(path), f"cannot read: {exc.strerror}") from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise ScenarioError(str(path), f"not valid YAML: {exc}") from None
    return parse_scenario(data, str(path), path.parent)
