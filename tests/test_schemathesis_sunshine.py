"""Sunshine Conversations v2 against the published OpenAPI spec, with schemathesis, in-process (WSGI).

The spec is never copied into the project: it is read from `$SUNSHINE_OPENAPI`, else from
`../shared/reference/sunshine-openapi.yaml` next to the repository; without it, the module is skipped.
Only the operations the emulator implements (README "Sunshine Conversations") are generated; each one
runs against a fresh seeded app (Basic with its app key, or its account key on the account-only routes),
`appId` and the user, conversation and integration ids pointing at records that exist. Checks: no 5xx, and
every answer conforms to the spec's schema for its status, but where SPEC_STRICTER says why not.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, Phase, settings

from emulator.pytest_plugin import SunshineApp

ROOT = Path(__file__).resolve().parent.parent
SPEC = Path(os.environ.get("SUNSHINE_OPENAPI") or ROOT.parent / "shared" / "reference" / "sunshine-openapi.yaml")
if not SPEC.is_file():
    pytest.skip(f"the Sunshine OpenAPI spec is not at {SPEC} (set SUNSHINE_OPENAPI to its path)", allow_module_level=True)

import schemathesis  # noqa: E402  (only needed, and only imported, when the spec is there)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402

NOT_EMULATED = r"/(passControl|releaseControl|offerControl|acceptControl|switchboards)"


def without_boolean_required(node: Any) -> Any:
    """The spec with a boolean `required` dropped from schemas (dicts with a `type`; parameters and request
    bodies keep theirs): a schema's `required` is a list in OpenAPI 3.0, and the published spec's
    `userFilterQuery` has `required: true` on a property, which schemathesis refuses as invalid."""
    if isinstance(node, dict):
        schema_like = "type" in node and "in" not in node
        return {k: without_boolean_required(v) for k, v in node.items() if not (schema_like and k == "required" and isinstance(v, bool))}
    if isinstance(node, list):
        return [without_boolean_required(item) for item in node]
    return node


def loaded_spec() -> dict:
    """The spec, fixed as `without_boolean_required` says, on its first server without variables
    (`https://api.smooch.io`: the first one, `{subdomain}.zendesk.com/sc`, gives its variable no default)."""
    document = without_boolean_required(yaml.load(SPEC.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))
    document["servers"] = [server for server in document["servers"] if "{" not in server["url"]][:1]
    return document


schema = (
    schemathesis.openapi.from_dict(loaded_spec())
    .include(path_regex=r"^/v2/apps")
    .exclude(path_regex=NOT_EMULATED)
)
# the two operations whose bodies are slow to generate (the message content `oneOf`, the client `raw`)
SLOW = r"/v2/apps/\{appId\}/(conversations/\{conversationId\}/messages|users/\{userIdOrExternalId\}/clients)$"
ACCOUNT_ONLY = {("POST", "/v2/apps"), ("GET", "/v2/apps"), ("DELETE", "/v2/apps/{appId}")}
WEBHOOK = {"target": "https://example.com/hook", "triggers": ["conversation:message"]}
SPEC_STRICTER = {  # operation -> why its answers are not checked against the spec's schema
    ("POST", "/v2/apps/{appId}/conversations/{conversationId}/messages"):
        "the `content` oneOf is told apart by its discriminator, which JSON Schema ignores: a valid message matches several branches",
    ("GET", "/v2/apps/{appId}/conversations/{conversationId}/messages"): "the same `content` oneOf",
}  # fmt: skip


@dataclass(frozen=True)
class World:
    """The records of a seeded app that the generated requests point at."""

    app: SunshineApp
    user_id: str
    conversation_id: str
    integration_id: str

    def path_parameters(self) -> dict[str, str]:
        return {"appId": self.app.id, "userIdOrExternalId": self.user_id, "conversationId": self.conversation_id,
                "integrationId": self.integration_id}  # fmt: skip

    def headers(self, method: str, path: str) -> dict[str, str]:
        """Basic with the app key; with the account key on the account-only routes (apps, app keys)."""
        account = (method, path) in ACCOUNT_ONLY or path.startswith("/v2/apps/{appId}/keys")
        return self.app.basic_headers(account=account)


def created(app: SunshineApp, tail: str, body: dict, wrapper: str) -> str:
    reply = app.request("POST", tail, json=body)
    assert reply.status == 201, reply.text
    return reply.json()[wrapper]["id"]


@pytest.fixture
def world(sunshine_app: SunshineApp) -> World:
    """A user with a personal conversation and a custom integration, in a fresh app."""
    user_id = created(sunshine_app, "users", {"externalId": "schemathesis-user"}, "user")
    conversation_id = created(sunshine_app, "conversations", {"type": "personal", "participants": [{"userId": user_id}]}, "conversation")
    integration_id = created(sunshine_app, "integrations", {"type": "custom", "displayName": "Fuzz", "webhooks": [WEBHOOK]}, "integration")
    return World(sunshine_app, user_id, conversation_id, integration_id)


def check(case: schemathesis.Case, world: World, app: object) -> None:
    """No 5xx; the answer conforms to the spec's schema unless SPEC_STRICTER says why not."""
    known = world.path_parameters()
    case.path_parameters = {**(case.path_parameters or {}), **{k: v for k, v in known.items() if k in (case.path_parameters or {})}}
    operation = (case.method.upper(), case.path)
    response = case.call(app=app, headers=world.headers(*operation))
    unchecked = operation in SPEC_STRICTER
    case.validate_response(response, checks=[not_a_server_error] if unchecked else [not_a_server_error, response_schema_conformance])


SETTINGS = {"deadline": None, "derandomize": True, "phases": [Phase.explicit, Phase.generate], "suppress_health_check": list(HealthCheck)}


@schema.exclude(path_regex=f"^{SLOW}").parametrize()
@settings(max_examples=15, **SETTINGS)
def test_sunshine_conforms_to_the_published_spec(case: schemathesis.Case, world: World, emulator_app: object) -> None:
    """Every emulated operation but the slow two: no 5xx, answers in the spec's schema."""
    check(case, world, emulator_app)


@schema.exclude(path_regex=f"^(?!{SLOW})").parametrize()  # a second `include` would widen the first one
@settings(max_examples=4, **SETTINGS)
def test_sunshine_messages_and_clients_conform(case: schemathesis.Case, world: World, emulator_app: object) -> None:
    """The messages and clients operations, with fewer examples (their bodies are slow to generate)."""
    check(case, world, emulator_app)
