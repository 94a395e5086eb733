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
    pytest.skip(
        f"the Sunshine OpenAPI spec is not at {SPEC} (set SUNSHINE_OPENAPI to its path)", allow_module_level=True
    )

import schemathesis  # noqa: E402  (only needed, and only imported, when the spec is there)
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import response_schema_conformance  # noqa: E402


def without_boolean_required(node: Any) -> Any:
    """The spec with a boolean `required` dropped from schemas (dicts with a `type`; parameters and request
    bodies keep theirs): a schema's `required` is a list in OpenAPI 3.0, and the published spec's
    `userFilterQuery` has `required: true` on a property, which schemathesis refuses as invalid."""
    if isinstance(node, dict):
        schema_like = "type" in node and "in" not in node
        return {
            k: without_boolean_required(v)
            for k, v in node.items()
            if not (schema_like and k == "required" and isinstance(v, bool))
        }
    if isinstance(node, list):
        return [without_boolean_required(item) for item in node]
    return node


def loaded_spec() -> dict:
    """The spec, fixed as `without_boolean_required` says, on its first server without variables
    (`https://api.smooch.io`: the first one, `{subdomain}.zendesk.com/sc`, gives its variable no default)."""
    document = without_boolean_required(
        yaml.load(SPEC.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    )
    document["servers"] = [server for server in document["servers"] if "{" not in server["url"]][:1]
    return document


schema = schemathesis.openapi.from_dict(loaded_spec()).include(path_regex=r"^/v2/apps")  # every operation of an app
# the two operations whose bodies are slow to generate (the message content `oneOf`, the client `raw`)
SLOW = r"/v2/apps/\{appId\}/(conversations/\{conversationId\}/messages|users/\{userIdOrExternalId\}/clients)$"
ACCOUNT_ONLY = {("POST", "/v2/apps"), ("GET", "/v2/apps"), ("DELETE", "/v2/apps/{appId}")}
WEBHOOK = {"target": "https://example.com/hook", "triggers": ["conversation:message"]}
SPEC_STRICTER = {  # operation -> why its answers are not checked against the spec's schema
    (
        "POST",
        "/v2/apps/{appId}/conversations/{conversationId}/messages",
    ): "the `content` oneOf is told apart by its discriminator, which JSON Schema ignores: a valid message matches several branches",
    ("GET", "/v2/apps/{appId}/conversations/{conversationId}/messages"): "the same `content` oneOf",
}


@dataclass(frozen=True)
class World:
    """The records of a seeded app that the generated requests point at."""

    app: SunshineApp
    user_id: str
    conversation_id: str
    integration_id: str
    switchboard_id: str
    switchboard_integration_id: str

    def path_parameters(self) -> dict[str, str]:
        return {
            "appId": self.app.id,
            "userIdOrExternalId": self.user_id,
            "conversationId": self.conversation_id,
            "integrationId": self.integration_id,
            "switchboardId": self.switchboard_id,
            "switchboardIntegrationId": self.switchboard_integration_id,
        }

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
    """A user with a personal conversation and a custom integration, in a fresh app whose enabled switchboard
    links the integration (the default, so active in the conversation) and a second, spare one."""
    user_id = created(sunshine_app, "users", {"externalId": "schemathesis-user"}, "user")
    integration_id = created(
        sunshine_app, "integrations", {"type": "custom", "displayName": "Fuzz", "webhooks": [WEBHOOK]}, "integration"
    )
    switchboard_id = created(sunshine_app, "switchboards", {}, "switchboard")
    members = f"switchboards/{switchboard_id}/switchboardIntegrations"
    default_id = created(
        sunshine_app, members, {"name": "bot", "integrationId": integration_id}, "switchboardIntegration"
    )
    spare_id = created(
        sunshine_app, members, {"name": "desk", "integrationType": "zd:agentWorkspace"}, "switchboardIntegration"
    )
    enabled = sunshine_app.request(
        "PATCH", f"switchboards/{switchboard_id}", json={"enabled": True, "defaultSwitchboardIntegrationId": default_id}
    )
    assert enabled.status == 200, enabled.text
    conversation_id = created(
        sunshine_app, "conversations", {"type": "personal", "participants": [{"userId": user_id}]}, "conversation"
    )
    return World(sunshine_app, user_id, conversation_id, integration_id, switchboard_id, spare_id)


def check(case: schemathesis.Case, world: World, app: object) -> None:
    """No 5xx; the answer conforms to the spec's schema unless SPEC_STRICTER says why not."""
    known = world.path_parameters()
    case.path_parameters = {
        **(case.path_parameters or {}),
        **{k: v for k, v in known.items() if k in (case.path_parameters or {})},
    }
    operation = (case.method.upper(), case.path)
    response = case.call(app=app, headers=world.headers(*operation))
    unchecked = operation in SPEC_STRICTER
    case.validate_response(
        response, checks=[not_a_server_error] if unchecked else [not_a_server_error, response_schema_conformance]
    )


SETTINGS = {
    "deadline": None,
    "derandomize": True,
    "phases": [Phase.explicit, Phase.generate],
    "suppress_health_check": list(HealthCheck),
}


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


# --- webhook events against the spec's event schemas (x-webhooks "EventWebhooks") -------------------------


def json_schema(node: Any) -> Any:
    """An OpenAPI 3.0 schema as JSON Schema: `nullable: true` also admits null."""
    if isinstance(node, list):
        return [json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {
        k: json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples", "description")
    }
    if node.get("nullable") is True:
        return {"anyOf": [{"type": "null"}, converted]}
    return converted


def event_schemas(document: dict) -> dict[str, dict]:
    """Trigger -> the schema of its event, for every event schema the webhook body's `events` names (each
    schema's `title` is its trigger), refs resolvable against the spec's components."""
    body = document["x-webhooks"]["Webhook Event"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    components = json_schema(document["components"])
    schemas = {}
    for choice in body["properties"]["events"]["items"]["anyOf"]:
        name = choice["$ref"].rsplit("/", 1)[1]
        schemas[document["components"]["schemas"][name]["title"]] = {"$ref": choice["$ref"], "components": components}
    return schemas


def test_switchboard_events_conform_to_the_spec(
    sunshine_switchboard: Any, sunshine_user: Any, emulator_backend: Any
) -> None:
    """Every `switchboard:*` trigger of the spec, raised by the calls that cause it, and the events around a
    handoff (create, message), each valid against its event schema; the envelope's `app` and `webhook` too."""
    import jsonschema_rs  # schemathesis' own validator

    document = loaded_spec()
    schemas = event_schemas(document)
    board, app = sunshine_switchboard, sunshine_switchboard.app
    conversation = app.request(
        "POST", "conversations", json={"type": "personal", "participants": [{"userId": sunshine_user.id}]}
    ).json()["conversation"]["id"]
    said = {"author": {"type": "user", "userId": sunshine_user.id}, "content": {"type": "text", "text": "hi"}}
    calls = [
        ("passControl", {"switchboardIntegration": "nobody"}),
        ("offerControl", {"switchboardIntegration": "bot"}),
        ("acceptControl", {}),
        ("offerControl", {"switchboardIntegration": "next", "metadata": {"step": 1}}),
        ("acceptControl", {"metadata": {"step": 2}}),
        ("passControl", {"switchboardIntegration": "next", "metadata": {"step": 3}}),
        ("releaseControl", {"metadata": {"step": 4}}),
    ]
    for action, body in calls:
        assert board.act(conversation, action, **body).status == 200
    assert app.request("POST", f"conversations/{conversation}/messages", json=said).status == 201
    emulator_backend.control.flush_deliveries()

    envelope = document["x-webhooks"]["Webhook Event"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    seen = set()
    for delivery in board.receiver.deliveries:
        for part in ("app", "webhook"):
            jsonschema_rs.validate(
                {**envelope["properties"][part], "components": json_schema(document["components"])}, delivery.body[part]
            )
        for event in delivery.body["events"]:
            jsonschema_rs.validate(schemas[event["type"]], event)
            seen.add(event["type"])
    switchboard_triggers = {trigger for trigger in schemas if trigger.startswith("switchboard:")}
    assert switchboard_triggers == {t for t in seen if t.startswith("switchboard:")}
    assert {"conversation:create", "conversation:message"} <= seen
