"""Fault rules: which requests fail, how, and on what schedule. Provider-neutral, no HTTP."""

from __future__ import annotations

import itertools
import math
import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from .clock import parse_duration
from .patterns import compile_path_glob
from .validation import first_error

Duration = Annotated[float, BeforeValidator(parse_duration)]
ABORT_HEADER = "X-Emulator-Abort"  # the same order for the in-process transport, which never sees the environ
MAX_DELAY = 120.0  # seconds: a latency or hang longer than this is a mistake in the test

# kinds answered instead of the provider (the handler never runs, state is untouched)
REPLACING_KINDS = ("status", "hang", "reset", "empty")
# kinds that spoil the provider's real answer on its way out (the handler ran)
SPOILING_KINDS = ("malformed", "truncated", "content_type")
FaultKind = Literal["status", "latency", "hang", "reset", "empty", "malformed", "truncated", "content_type"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class FaultMatch(_Strict):
    """Which requests a rule targets; an omitted key matches anything."""

    provider: str | None = None
    method: str | None = None
    path: str | None = None  # glob: `*` within one segment, `**` across segments
    tenant: str | None = None

    def matcher(self) -> Callable[[RequestInfo], bool]:
        """A plain function over local values: it runs for every rule on every request."""
        provider, tenant = self.provider, self.tenant
        method = self.method.upper() if self.method else None
        path = compile_path_glob(self.path) if self.path is not None else None

        def matches(request: RequestInfo) -> bool:
            return (
                (provider is None or provider == request.provider)
                and (method is None or method == request.method)
                and (tenant is None or tenant == request.tenant)
                and (path is None or path.match(request.path) is not None)
            )

        return matches


class Uniform(_Strict):
    uniform: tuple[Duration, Duration]


class LogNormalParameters(_Strict):
    median: Duration
    sigma: float = Field(ge=0, le=5)


class LogNormal(_Strict):
    lognormal: LogNormalParameters


_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")  # an RFC 9110 token
# hop-by-hop headers and framing belong to the server (PEP 3333); a rule may not set them
_UNSENDABLE_HEADERS = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
}


def _check_header_value(value: str) -> None:
    if not value.isprintable() or not all(ord(c) < 256 for c in value):
        raise ValueError(f"{value!r} cannot be sent as a header value (one line of Latin-1 text)")


def _delay(value: object) -> float | Uniform | LogNormal | None:
    """A fixed duration, `{"uniform": [low, high]}` or `{"lognormal": {"median", "sigma"}}`."""
    if value is None:
        return None
    if isinstance(value, dict):
        shape = Uniform if "uniform" in value else LogNormal if "lognormal" in value else None
        if shape is None:
            raise ValueError("a delay is a duration, {uniform: [low, high]} or {lognormal: {median, sigma}}")
        try:
            return shape.model_validate(value)
        except ValidationError as exc:
            field, message = first_error(exc)
            raise ValueError(f"{field}: {message}") from None
    return parse_duration(value)


class FaultSpec(_Strict):
    """A fault rule as a test writes it (`POST /__emulator/faults`)."""

    match: FaultMatch = FaultMatch()
    kind: FaultKind
    status: int | None = Field(default=None, ge=400, le=599)
    headers: dict[str, str] = {}
    delay: Annotated[float | Uniform | LogNormal | None, BeforeValidator(_delay)] = None
    duration: Duration = 30.0  # hang: how long the connection is held before it is reset
    content_type: str = "text/html; charset=utf-8"
    times: int | None = Field(default=None, ge=1)  # fire for the next N matching requests only
    every: int | None = Field(default=None, ge=1)  # fire on every Nth matching request
    after: int = Field(default=0, ge=0)  # let the first N matching requests through
    probability: float | None = Field(default=None, ge=0, le=1)
    seed: int = 0  # of the rule's own generator: the same seed, the same sequence

    @model_validator(mode="after")
    def _kind_needs(self) -> FaultSpec:
        if self.kind == "status" and self.status is None:
            raise ValueError("a status fault needs a status (400-599)")
        if self.kind == "latency" and self.delay is None:
            raise ValueError("a latency fault needs a delay")
        if self.duration > MAX_DELAY or (isinstance(self.delay, float) and self.delay > MAX_DELAY):
            raise ValueError(f"delays and hangs are at most {MAX_DELAY:.0f} s")
        for name, value in self.headers.items():
            if not _HEADER_NAME.fullmatch(name) or name.lower() in _UNSENDABLE_HEADERS:
                raise ValueError(f"{name!r} cannot be sent as a header of a response")
            _check_header_value(value)
        _check_header_value(self.content_type)
        return self


@dataclass(frozen=True)
class RequestInfo:
    provider: str
    method: str
    path: str
    tenant: str | None


@dataclass(frozen=True)
class Fault:
    """One fault to apply to one request."""

    rule_id: str
    spec: FaultSpec

    @property
    def kind(self) -> str:
        return self.spec.kind

    def describe(self) -> dict:
        return {"rule": self.rule_id, "kind": self.kind}


@dataclass(frozen=True)
class Decision:
    """What the rules ask of one request: wait this long, then maybe apply a fault."""

    delay: float = 0.0
    fault: Fault | None = None
    delayed_by: tuple[str, ...] = ()


NO_FAULT = Decision()


class FaultRule:
    """A spec with its counters and its own seeded random generator."""

    def __init__(self, rule_id: str, spec: FaultSpec) -> None:
        self.id = rule_id
        self.spec = spec
        self.matched = 0
        self.fired = 0
        self.matches = spec.match.matcher()
        self.is_latency = spec.kind == "latency"
        self._random = random.Random(spec.seed)

    def fires(self) -> bool:
        """Called once per matching request: does the schedule fire this time?"""
        self.matched += 1
        spec = self.spec
        considered = self.matched - spec.after
        if considered <= 0:
            return False
        if spec.every is not None and considered % spec.every:
            return False
        if spec.times is not None and self.fired >= spec.times:
            return False
        if spec.probability is not None and self._random.random() >= spec.probability:
            return False
        self.fired += 1
        return True

    def sample_delay(self) -> float:
        delay = self.spec.delay
        if isinstance(delay, Uniform):
            seconds = self._random.uniform(*delay.uniform)
        elif isinstance(delay, LogNormal):
            parameters = delay.lognormal
            seconds = self._random.lognormvariate(math.log(max(parameters.median, 1e-6)), parameters.sigma)
        else:
            seconds = delay or 0.0
        return min(seconds, MAX_DELAY)

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            **self.spec.model_dump(mode="json", exclude_defaults=True),
            "matched": self.matched,
            "fired": self.fired,
        }


class FaultRules:
    """The rules of one namespace, in the order they were added."""

    def __init__(self) -> None:
        self._rules: list[FaultRule] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._released = threading.Event()

    def add(self, spec: FaultSpec) -> FaultRule:
        with self._lock:
            rule = FaultRule(f"fault-{next(self._ids)}", spec)
            self._rules.append(rule)
            return rule

    def list(self) -> list[dict]:
        with self._lock:
            return [rule.to_dict() for rule in self._rules]

    def remove(self, rule_id: str) -> bool:
        with self._lock:
            before = len(self._rules)
            self._rules = [rule for rule in self._rules if rule.id != rule_id]
            return len(self._rules) < before

    def clear(self) -> None:
        """Drop every rule and let go of every request they hold hanging."""
        with self._lock:
            self._rules = []
            self._released.set()
            self._released = threading.Event()

    @property
    def empty(self) -> bool:
        """No rules: `decide` would answer NO_FAULT without looking at the request."""
        return not self._rules

    @property
    def released(self) -> threading.Event:
        """Set when the rules are cleared: a hanging request waits on it."""
        return self._released

    def decide(self, request: RequestInfo) -> Decision:
        """Every matching rule counts the request; latencies add up; the first other fault that fires wins."""
        if not self._rules:
            return NO_FAULT
        delay, delayed_by, fault = 0.0, [], None
        with self._lock:
            for rule in self._rules:
                if not rule.matches(request):
                    continue
                if rule.is_latency:
                    if rule.fires():
                        delay += rule.sample_delay()
                        delayed_by.append(rule.id)
                elif fault is None:
                    if rule.fires():
                        fault = Fault(rule.id, rule.spec)
                else:
                    rule.matched += 1  # counted, but the schedule is not spent on a request already faulted
        if fault is None and not delayed_by:
            return NO_FAULT
        return Decision(min(delay, MAX_DELAY), fault, tuple(delayed_by))
