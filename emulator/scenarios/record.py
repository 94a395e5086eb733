"""Record: what the journal holds for a namespace, as a scenario document that replays.

A session of a test, or of a person using the docker server, becomes a regression scenario:

* `seed`: the namespace's tenants now, in seed-schema form (LivePerson: the accounts without their
  consumers, defaults left out);
* `steps`: one `request` step per journal entry, oldest first, expecting the status seen and, for a JSON
  object answer, that each top-level key exists (values such as tokens change every run, so they are
  not pinned); the `clock` moves made between two requests, between their steps; before a request a
  fault acted on, a `fault` step that makes it fail the same way again (`times: 1`), and a dropped
  connection expects `error: connection` (`timeout` for a hang, `truncated` for a cut body);
* a request body is `json` when it parses and was sent as JSON (its Content-Type says so), else `body`
  (the same bytes: a JSON text sent as a form stays a form);
* a value an answer gave (a string of 8 characters or more, at the top level or one level down in a
  wrapper object or a list's first object) that a later request sends back whole, as a path segment, a
  query value, a JSON string, or a word of a raw body or of a recorded header, is saved from that answer (`save: {token: $.token}`,
  `save: {user_id: $.user.id}`) and sent as `${token}`;
* `fresh_ids`: the tenant ids become variables (`${account}`, `${connector}`, ...) drawn anew on each run
  (`${random_digits(8)}`, `${random_digits(10)}`), so the recording replays next to the namespace it
  was recorded from: one emulator never gives a tenant id to two namespaces.

What a recording cannot know: headers other than Content-Type and the credentials (Authorization,
Mindbehind's apiToken), all but the last value of a repeated
query parameter, requests the journal's ring has dropped (the oldest, past its capacity), bodies it
clipped (such a step is named so), control calls other than clock moves (token expiry, revocation, key
rotation, ...) and latency faults (they change nothing a step checks). A recorded text holding `${name}`
would be read as a reference on replay: the scenario format has no escape for it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl

import yaml
from jsonpath_ng.ext import parse as parse_jsonpath

from ..client import CONTROL, RECORD_PATH, EmulatorClient, EmulatorError
from ..config import parse_seed
from ..core.journal import JournalEntry
from ..core.store import Namespace
from ..providers import PROVIDERS
from ..web.spec import SeedExporter

SAVED_MIN_LENGTH = 8  # shorter answer values ("idp", "true", ...) are too likely to recur by chance
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD = re.compile(r"[A-Za-z0-9._~-]+")  # a token, UUID or id inside a raw (non-JSON) body
_CLIPPED = re.compile(r"\.\.\.\[[0-9]+ more characters\]\Z")  # the journal's mark on a clipped body
_DROPPED_ERROR = {"hang": "timeout", "truncated": "truncated"}  # any other dropped connection: "connection"
# the headers a replay needs: the body's type and the providers' credentials (a recording holds test secrets)
RECORDED_HEADERS = tuple(
    dict.fromkeys(["Content-Type", *(name for spec in PROVIDERS for name in spec.credential_headers)])
)
_FAULT_FIELDS = ("status", "headers", "duration", "content_type")  # what a fault step copies from its rule

_DOCUMENT_ORDER = ("name", "seed", "vars", "steps")
_STEP_ORDER = ("name", "clock", "fault", "request", "expect", "save")
_REQUEST_ORDER = ("method", "path", "query", "headers", "json", "form", "body", "timeout")
_EXPECT_ORDER = ("status", "error", "json", "jsonpath", "headers")
_FAULT_ORDER = ("kind", "match", "status", "headers", "duration", "content_type", "times")


class RecordError(ValueError):
    """A namespace Record cannot turn into a scenario (e.g. tenants of a provider it cannot export)."""


# --- seed --------------------------------------------------------------------------------------------


@dataclass
class _TenantIds:
    """Tenant ids of the seed, and the variable each becomes under `fresh_ids`."""

    variables: dict[str, str] = field(default_factory=dict)  # variable -> its `${random_digits(n)}`
    names: dict[str, str] = field(default_factory=dict)  # literal id -> variable
    counts: dict[str, int] = field(default_factory=dict)  # kind -> variables of that kind so far

    def name(self, literal: str, kind: str, digits: int) -> str:
        """The variable for `literal` (`account`, `account_2`, ...): one per distinct id."""
        if literal not in self.names:
            count = self.counts[kind] = self.counts.get(kind, 0) + 1
            variable = kind if count == 1 else f"{kind}_{count}"
            self.names[literal] = variable
            self.variables[variable] = f"${{random_digits({digits})}}"
        return self.names[literal]

    def replace(self, part: dict, exporter: SeedExporter) -> None:
        """Put variables in place of the ids of the part."""
        for item, kind, digits in exporter.named(part):
            item["id"] = "${" + self.name(item["id"], kind, digits) + "}"


SEED_EXPORTERS: dict[str, SeedExporter | None] = {spec.name: spec.seed_exporter for spec in PROVIDERS}


def export_seed(namespace: Namespace, fresh_ids: bool = False) -> tuple[dict | None, dict[str, str], dict[str, str]]:
    """(seed or None when the namespace has no tenants, variables, literal tenant id -> variable).

    The seed is checked against the seed schema before any id becomes a variable. Without `fresh_ids`
    the variables are empty and every tenant id maps to `""` (kept literal), so that no answer value
    equal to one is taken for a token. Call it under the store's lock.
    """
    seed: dict[str, Any] = {}
    exporters: dict[str, SeedExporter] = {}
    literals: dict[str, str] = {}
    tenants = namespace.tenants()
    for provider, state in namespace.states.items():
        if not tenants[provider]:
            continue
        exporter = SEED_EXPORTERS.get(provider)
        if exporter is None:
            raise RecordError(f"cannot record the {provider} tenants of namespace {namespace.name!r} yet")
        part = exporter.export(state)
        if part is not None:
            seed[provider] = part
            exporters[provider] = exporter
            literals.update({literal: "" for literal in exporter.ids(part)})
    parse_seed(seed)  # SeedError here is an exporter's bug (the seed schema is the state's own): a 500
    if not fresh_ids:
        return seed or None, {}, literals
    ids = _TenantIds()
    for provider, part in seed.items():
        ids.replace(part, exporters[provider])
    return seed or None, ids.variables, {**literals, **ids.names}


# --- steps -------------------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _key_path(key: str) -> str | None:
    """A JSONPath to the top-level `key`, or None when jsonpath-ng cannot spell it."""
    if _IDENTIFIER.fullmatch(key):
        return f"$.{key}"
    for quote in ("'", '"'):
        if quote not in key and "\\" not in key:
            path = f"$[{quote}{key}{quote}]"
            try:
                if [m.value for m in parse_jsonpath(path).find({key: True})] == [True]:
                    return path
            except Exception:  # jsonpath-ng raises plain Exceptions for some inputs
                pass
    return None


def _json_or_none(text: str) -> Any:
    if not text or _CLIPPED.search(text):
        return None
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


@dataclass
class _Saved:
    """An answer value a later request sends back: the step that saves it, where, under which variable."""

    step: dict
    path: str  # JSONPath to the value in the answer
    hint: str  # what the variable is named after: the key, with its wrapper's (`user_id`)
    variable: str | None = None


def _answer_values(answer: dict) -> Iterable[tuple[str, str, Any]]:
    """(JSONPath, name hint, value) of the answer's top-level values, and of those one level down in a
    wrapper object or the first object of a list (`{"user": {"id"}}`, `{"messages": [{"id"}]}`)."""
    for key, value in answer.items():
        path = _key_path(key)
        if path is None:
            continue
        yield path, key, value
        inner = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        if isinstance(inner, dict):
            prefix = path + ("[0]" if inner is not value else "")
            for inner_key, inner_value in inner.items():
                inner_path = _key_path(inner_key)
                if inner_path is not None:
                    yield prefix + inner_path[1:], f"{key}_{inner_key}", inner_value


class _Recorder:
    """Builds the steps entry by entry, wiring answer values into the later requests that send them."""

    def __init__(self, ids: Mapping[str, str], taken: Iterable[str]) -> None:
        self.ids = ids  # literal tenant id -> its variable ("" without fresh_ids: kept literal)
        self.known: dict[str, _Saved] = {}  # answer value -> the latest answer that gave it
        self.taken = set(taken)  # variable names in use
        self.counts: dict[str, int] = {}  # base name -> the last suffix given, so naming stays O(1)
        self.steps: list[dict] = []

    # literal text of a request, with saved values and fresh ids turned into references
    def _whole(self, text: str) -> str:
        if self.ids.get(text):
            return "${" + self.ids[text] + "}"
        saved = self.known.get(text)
        if saved is None:
            return text
        if saved.variable is None:
            saved.variable = self._variable(saved.hint)
            saved.step.setdefault("save", {})[saved.variable] = saved.path
        return "${" + saved.variable + "}"

    def _variable(self, key: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]", "_", key)
        base = base if _IDENTIFIER.fullmatch(base) else f"value_{base}"
        name, count = base, self.counts.get(base, 1)
        while name in self.taken:
            count += 1
            name = f"{base}_{count}"
        self.counts[base] = count
        self.taken.add(name)
        return name

    def _path(self, path: str) -> str:
        return "/".join(self._whole(segment) if segment else segment for segment in path.split("/"))

    def _json(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._whole(value)
        if isinstance(value, list):
            return [self._json(item) for item in value]
        if isinstance(value, dict):
            return {key: self._json(item) for key, item in value.items()}
        return value

    def _raw(self, text: str) -> str:
        return _WORD.sub(lambda match: self._whole(match.group()), text)

    def add(self, entry: JournalEntry, rule: Mapping[str, Any] | None) -> None:
        """The steps of one journal entry: a fault step if a fault acted on it, then its request."""
        path = self._path(entry.path)
        if rule is not None:
            self.steps.append({"fault": _fault_step(rule, entry, path)})
        request: dict[str, Any] = {"method": entry.method, "path": path}
        query = dict(parse_qsl(entry.query, keep_blank_values=True))
        if query:
            request["query"] = {key: self._whole(value) for key, value in query.items()}
        content_type = _header(entry.request_headers, "Content-Type")
        kept = {name: _header(entry.request_headers, name) for name in RECORDED_HEADERS}
        if any(kept.values()):
            request["headers"] = {name: self._raw(value) for name, value in kept.items() if value}
        sent = _json_or_none(entry.request_body) if content_type and "json" in content_type.lower() else None
        if sent is not None:
            request["json"] = self._json(sent)
        elif entry.request_body:
            request["body"] = self._raw(entry.request_body)
        step: dict[str, Any] = {}
        if _CLIPPED.search(entry.request_body):
            step["name"] = f"{entry.method} {entry.path} (the journal clipped its body: it is not sent whole)"
        step["request"] = request
        answer = _json_or_none(entry.response_body)
        step["expect"] = _expect(entry, rule, answer)
        self.steps.append(step)
        if isinstance(answer, dict) and "error" not in step["expect"]:
            for path, hint, value in _answer_values(answer):
                if isinstance(value, str) and len(value) >= SAVED_MIN_LENGTH and value not in self.ids:
                    self.known[value] = _Saved(step, path, hint)


def _fired_rule(entry: JournalEntry, rules: Mapping[str, Mapping[str, Any]]) -> dict | None:
    """The non-latency fault that acted on the entry, as its rule was given (or as far as the entry tells)."""
    fired = next((f for f in entry.faults if isinstance(f, dict) and f.get("kind") != "latency"), None)
    if fired is None:
        return None
    rule = dict(rules.get(fired.get("rule", ""), {}))
    rule["kind"] = fired["kind"]
    if rule["kind"] == "status" and "status" not in rule and entry.status:
        rule["status"] = entry.status
    return rule


def _fault_step(rule: Mapping[str, Any], entry: JournalEntry, path: str) -> dict:
    """The same fault again, once, for this request only."""
    step: dict[str, Any] = {
        "kind": rule["kind"],
        "match": {"provider": entry.provider, "method": entry.method, "path": path},
    }
    step.update({name: rule[name] for name in _FAULT_FIELDS if name in rule})
    step["times"] = 1
    return step


def _expect(entry: JournalEntry, rule: Mapping[str, Any] | None, answer: Any) -> dict:
    kind = rule["kind"] if rule is not None else None
    if entry.status == 0 or kind == "truncated":
        return {"error": _DROPPED_ERROR.get(kind or "", "connection")}
    expect: dict[str, Any] = {"status": entry.status}
    if isinstance(answer, dict):
        paths = [path for path in map(_key_path, answer) if path is not None]
        if paths:
            expect["jsonpath"] = {path: {"exists": True} for path in paths}
    return expect


def build_scenario(
    name: str,
    entries: Sequence[JournalEntry],
    *,
    seed: dict | None,
    variables: Mapping[str, str] | None = None,
    ids: Mapping[str, str] | None = None,
    clock_moves: Sequence[tuple[int, dict]] = (),
    fault_rules: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict:
    """The scenario document of journal entries (oldest first) and clock moves (`(journal seq, body)`).

    `ids` maps literal tenant ids to the variables that replace them (`""`: keep the literal);
    `fault_rules` are the namespace's rules by id (`FaultRules.list()`), for the fault steps. A clock
    move is placed after the entries journaled before it; the moves after the last entry close the list.
    """
    recorder = _Recorder(ids or {}, taken=variables or {})
    moves = sorted(clock_moves, key=lambda move: move[0])
    position = 0
    for entry in entries:
        while position < len(moves) and moves[position][0] < entry.seq:
            recorder.steps.append({"clock": dict(moves[position][1])})
            position += 1
        recorder.add(entry, _fired_rule(entry, fault_rules or {}))
    recorder.steps += [{"clock": dict(body)} for _, body in moves[position:]]
    document: dict[str, Any] = {"name": name, "seed": seed}
    if variables:
        document["vars"] = dict(variables)
    document["steps"] = recorder.steps
    return document


# --- the client's side -------------------------------------------------------------------------------


def record_scenario(client: EmulatorClient, fresh_ids: bool = False) -> dict:
    """The scenario document of the client's namespace (`GET /__emulator/record`).

    `fresh_ids=True` turns tenant ids into variables, for a replay on the same emulator. An empty
    journal is an error, not an empty scenario (a scenario needs steps): EmulatorError 409 `empty_journal`.
    """
    params = {"namespace": client.namespace, "fresh_ids": "true" if fresh_ids else "false"}
    reply = client.transport.send("GET", CONTROL + RECORD_PATH, params=params)
    body = reply.json()
    if reply.status >= 400:
        raise EmulatorError(reply.status, body)
    return body


def _ordered(mapping: Mapping[str, Any], order: Sequence[str]) -> dict:
    first = [key for key in order if key in mapping]
    return {key: mapping[key] for key in [*first, *(key for key in mapping if key not in order)]}


def _ordered_step(step: Any) -> Any:
    if not isinstance(step, dict):
        return step
    ordered = _ordered(step, _STEP_ORDER)
    if isinstance(ordered.get("request"), dict):
        ordered["request"] = _ordered(ordered["request"], _REQUEST_ORDER)
    if isinstance(ordered.get("expect"), dict):
        ordered["expect"] = _ordered(ordered["expect"], _EXPECT_ORDER)
    if isinstance(ordered.get("fault"), dict):
        ordered["fault"] = _ordered(ordered["fault"], _FAULT_ORDER)
    if isinstance(ordered.get("steps"), list):
        ordered["steps"] = [_ordered_step(inner) for inner in ordered["steps"]]
    return ordered


def dump_scenario(document: Mapping[str, Any]) -> str:
    """A scenario document as YAML: name, seed, vars, steps; each step as a person would write it."""
    ordered = _ordered(document, _DOCUMENT_ORDER)
    if isinstance(ordered.get("steps"), list):
        ordered["steps"] = [_ordered_step(step) for step in ordered["steps"]]
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when built with it: 10x faster
    return yaml.dump(ordered, Dumper=dumper, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
