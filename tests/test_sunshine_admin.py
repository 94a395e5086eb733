"""Sunshine Conversations v2 administration: apps, app keys, custom integrations, integration keys and
webhooks (reference 1.1, 1.2, 2.1, 2.3 and 5; the spec's Apps, App Keys, Integrations,
CustomIntegrationApiKeys and Webhooks operations).

Apps are created, listed and deleted with the account key only; keys of an app are the account's
business too. Integrations and their keys belong to the app; webhooks to an integration, reachable by
the app key and, as `me`, by the integration's own `int_` key. Answers are pinned whole.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Any

import pytest

from emulator.providers.sunshine.auth import sign_jwt
from emulator.pytest_plugin import SunshineApp

T0 = "2026-03-01T00:00:00Z"
HEX_ID = re.compile(r"[0-9a-f]{24}")
HOOK = {"target": "https://example.com/callback", "triggers": ["conversation:read", "conversation:message"]}

pytestmark = pytest.mark.emulator_time(T0)


def error(code: str, title: str) -> dict:
    return {"errors": [{"code": code, "title": title}]}


FORBIDDEN = (403, error("forbidden", "Forbidden"))
APP_NOT_FOUND = (404, error("app_not_found", "App not found"))
NOT_FOUND = (404, error("not_found", "Resource not found"))
INTEGRATION_NOT_FOUND = (404, error("integration_not_found", "Integration not found"))


def bad_request(title: str) -> tuple[int, dict]:
    return 400, error("bad_request", title)


def basic(key_id: str, secret: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def call(app: SunshineApp, method: str, path: str, headers: dict, **kwargs: Any) -> tuple[int, Any]:
    """`path` absolute, or relative to the app; every answer is JSON."""
    url = path if path.startswith("/") else app.path(path)
    reply = app.handle.request(method, url, headers=headers, **kwargs)
    assert reply.headers["Content-Type"] == "application/json", (reply.status, reply.text)
    return reply.status, reply.json()


def as_account(app: SunshineApp, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    return call(app, method, path, app.basic_headers(account=True), **kwargs)


def as_app(app: SunshineApp, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
    return call(app, method, path, app.basic_headers(), **kwargs)


def webhook_of(body: dict) -> dict:
    """A webhook as the API shows it for `body`: generated id and secret, version v2, flags false."""
    return {"version": "v2", "includeFullUser": False, "includeFullSource": False, **body}


def assert_generated(webhook: dict) -> None:
    assert HEX_ID.fullmatch(webhook["id"]) and re.fullmatch(r"[0-9a-f]{32}", webhook["secret"])


# --- apps --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("jwt", [False, True], ids=["basic", "jwt"])
def test_create_an_app_with_the_account_key(sunshine_app, jwt):
    headers = bearer(sunshine_app.jwt("account")) if jwt else sunshine_app.basic_headers(account=True)
    status, answer = call(sunshine_app, "POST", "/v2/apps", headers, json={"displayName": "My Test App"})
    assert status == 201
    app_id = answer["app"]["id"]
    assert HEX_ID.fullmatch(app_id) and app_id != sunshine_app.id
    assert answer == {"app": {"id": app_id, "displayName": "My Test App", "settings": {}, "metadata": None}}
    got = as_account(sunshine_app, "GET", f"/v2/apps/{app_id}")
    assert got == (200, answer)  # no subdomain: the key is left out (the spec's is a string)


def test_create_an_app_with_settings_and_metadata(sunshine_app):
    settings = {
        "conversationRetentionSeconds": 0,
        "maskCreditCardNumbers": True,
        "useAnimalNames": False,
        "echoPostback": False,
        "ignoreAutoConversationStart": True,
        "multiConvoEnabled": True,
        "appLocalizationEnabled": True,
        "endSessionEnabled": False,
        "disableConversationReopen": False,
    }
    body = {"displayName": "Full", "settings": {**settings, "madeUp": 1}, "metadata": {"lang": "en-ca", "tier": 2}}
    status, answer = as_account(sunshine_app, "POST", "/v2/apps", json=body)
    assert status == 201
    # [I] a setting the spec does not name is dropped
    assert answer == {
        "app": {
            "id": answer["app"]["id"],
            "displayName": "Full",
            "settings": settings,
            "metadata": {"lang": "en-ca", "tier": 2},
        }
    }


INVALID_APPS = {
    "no displayName": ({}, "should have required property 'displayName'"),  # [C] the spec's example
    "null displayName": ({"displayName": None}, ".displayName should be string"),
    "empty displayName": ({"displayName": ""}, ".displayName should NOT be shorter than 1 characters"),
    "long displayName": ({"displayName": "x" * 101}, ".displayName should NOT be longer than 100 characters"),
    "settings not an object": ({"displayName": "a", "settings": []}, ".settings should be object"),
    "string boolean setting": (
        {"displayName": "a", "settings": {"maskCreditCardNumbers": "yes"}},
        ".settings.maskCreditCardNumbers should be boolean",
    ),
    "null boolean setting": (
        {"displayName": "a", "settings": {"echoPostback": None}},
        ".settings.echoPostback should be boolean",
    ),
    "negative retention": (
        {"displayName": "a", "settings": {"conversationRetentionSeconds": -1}},
        ".settings.conversationRetentionSeconds should be >= 0",
    ),
    "boolean retention": (
        {"displayName": "a", "settings": {"conversationRetentionSeconds": True}},
        ".settings.conversationRetentionSeconds should be integer",
    ),
    "metadata over 4 KB": (
        {"displayName": "a", "metadata": {"blob": "x" * 4096}},
        "App metadata is limited to 4096 bytes in size.",
    ),  # [C]
    "nested metadata": (
        {"displayName": "a", "metadata": {"k": {"a": 1}}},
        "App metadata is a flat object of strings, numbers and booleans ('k')",
    ),
}


@pytest.mark.parametrize("body, title", INVALID_APPS.values(), ids=list(INVALID_APPS))
def test_an_invalid_app_is_400_and_creates_nothing(sunshine_app, body, title):
    assert as_account(sunshine_app, "POST", "/v2/apps", json=body) == bad_request(title)
    assert [app["id"] for app in as_account(sunshine_app, "GET", "/v2/apps")[1]["apps"]] == [sunshine_app.id]


def test_list_apps_in_pages(sunshine_app):
    created = [as_account(sunshine_app, "POST", "/v2/apps", json={"displayName": f"App {n}"})[1]["app"] for n in (1, 2)]
    ids = [sunshine_app.id] + [app["id"] for app in created]
    status, everything = as_account(sunshine_app, "GET", "/v2/apps")
    assert status == 200
    assert everything == {
        "apps": [{"id": sunshine_app.id, "displayName": None, "settings": {}, "metadata": None}, *created],
        "meta": {"hasMore": False},
        "links": {},
    }
    first = as_account(sunshine_app, "GET", "/v2/apps", params={"page[size]": "2"})[1]
    assert [app["id"] for app in first["apps"]] == ids[:2]
    assert first["meta"] == {"hasMore": True, "afterCursor": ids[1]}
    assert first["links"] == {"next": f"http://localhost/v2/apps?page%5Bsize%5D=2&page%5Bafter%5D={ids[1]}"}
    second = as_account(sunshine_app, "GET", "/v2/apps", params={"page[size]": "2", "page[after]": ids[1]})[1]
    assert [app["id"] for app in second["apps"]] == ids[2:]
    assert second["meta"] == {"hasMore": False, "beforeCursor": ids[2]}
    assert as_account(
        sunshine_app, "GET", "/v2/apps", params={"page[after]": ids[0], "page[before]": ids[2]}
    ) == bad_request("Invalid page query parameters")


def test_update_an_app(sunshine_app):
    for headers in (
        sunshine_app.basic_headers(),
        sunshine_app.basic_headers(account=True),
    ):  # app scope may update its app
        status, answer = call(
            sunshine_app, "PATCH", "", headers, json={"displayName": "Renamed", "settings": {"echoPostback": True}}
        )
        assert (status, answer) == (
            200,
            {
                "app": {
                    "id": sunshine_app.id,
                    "displayName": "Renamed",
                    "settings": {"echoPostback": True},
                    "metadata": None,
                }
            },
        )
    # [I] settings merge one by one; metadata is replaced, and may be cleared with null
    answer = as_app(sunshine_app, "PATCH", "", json={"settings": {"useAnimalNames": False}, "metadata": {"a": "b"}})[1]
    assert answer["app"] == {
        "id": sunshine_app.id,
        "displayName": "Renamed",
        "settings": {"echoPostback": True, "useAnimalNames": False},
        "metadata": {"a": "b"},
    }
    assert as_app(sunshine_app, "PATCH", "", json={"metadata": None})[1]["app"]["metadata"] is None
    assert as_app(sunshine_app, "PATCH", "", json={})[1]["app"]["displayName"] == "Renamed"
    assert as_app(sunshine_app, "GET", "") == (
        200,
        {
            "app": {
                "id": sunshine_app.id,
                "displayName": "Renamed",
                "settings": {"echoPostback": True, "useAnimalNames": False},
                "metadata": None,
            }
        },
    )


@pytest.mark.parametrize(
    "body, title",
    [
        ({"displayName": None}, ".displayName should be string"),
        ({"settings": None}, ".settings should be object"),
        ({"settings": {"multiConvoEnabled": 1}}, ".settings.multiConvoEnabled should be boolean"),
        ({"displayName": 5}, ".displayName should be string"),
    ],
)
def test_an_invalid_app_update_is_400_and_changes_nothing(sunshine_app, body, title):
    before = as_app(sunshine_app, "GET", "")
    assert as_app(sunshine_app, "PATCH", "", json=body) == bad_request(title)
    assert as_app(sunshine_app, "GET", "") == before


def test_delete_an_app(sunshine_app):
    assert as_account(sunshine_app, "DELETE", "") == (200, {})
    for method in ("GET", "PATCH", "DELETE"):
        assert as_account(sunshine_app, method, "", json={} if method == "PATCH" else None) == APP_NOT_FOUND
    assert as_account(sunshine_app, "GET", "users/anyone") == APP_NOT_FOUND
    assert as_account(sunshine_app, "GET", "/v2/apps") == (200, {"apps": [], "meta": {"hasMore": False}, "links": {}})
    # its keys went with it
    assert as_app(sunshine_app, "GET", "") == (401, error("invalid_auth", "Invalid key id or secret"))
    assert call(sunshine_app, "GET", "", bearer(sunshine_app.jwt())) == (
        401,
        error("invalid_auth", "Invalid JWT header. Unknown key id (kid)"),
    )


def test_an_unknown_app_is_404_app_not_found(sunshine_app):
    unknown = f"/v2/apps/{secrets.token_hex(12)}"
    for method, tail in [
        ("GET", ""),
        ("PATCH", ""),
        ("DELETE", ""),
        ("GET", "/keys"),
        ("POST", "/users"),
        ("GET", "/integrations"),
    ]:
        assert (
            as_account(sunshine_app, method, unknown + tail, json={} if method in ("PATCH", "POST") else None)
            == APP_NOT_FOUND
        )


# --- app keys -----------------------------------------------------------------------------------------------


def create_key(app: SunshineApp, name: str = "My Test Key") -> dict:
    status, answer = as_account(app, "POST", "keys", json={"displayName": name})
    assert status == 201, answer
    return answer["key"]


def test_create_list_get_and_delete_an_app_key(sunshine_app):
    key = create_key(sunshine_app)
    assert set(key) == {"id", "displayName", "secret"}
    assert re.fullmatch(r"app_[0-9a-f]{24}", key["id"]) and key["displayName"] == "My Test Key"
    assert isinstance(key["secret"], str) and len(key["secret"]) == 24
    seeded = {"id": sunshine_app.key_id, "secret": sunshine_app.secret}  # seeded without a displayName: none shown
    assert as_account(sunshine_app, "GET", "keys") == (200, {"keys": [seeded, key]})
    assert as_account(sunshine_app, "GET", f"keys/{key['id']}") == (200, {"key": key})
    assert as_account(sunshine_app, "DELETE", f"keys/{key['id']}") == (200, {})
    assert as_account(sunshine_app, "GET", f"keys/{key['id']}") == NOT_FOUND  # [C] get key
    assert as_account(sunshine_app, "DELETE", f"keys/{key['id']}") == APP_NOT_FOUND  # [C] the spec's 404 of delete key
    assert as_account(sunshine_app, "GET", "keys") == (200, {"keys": [seeded]})


def test_a_created_key_authenticates_and_a_deleted_one_stops(sunshine_app):
    key = create_key(sunshine_app)
    token = sign_jwt({"scope": "app"}, key["id"], key["secret"])
    for headers in (basic(key["id"], key["secret"]), bearer(token)):
        assert call(sunshine_app, "GET", "", headers)[0] == 200
    as_account(sunshine_app, "DELETE", f"keys/{key['id']}")
    assert call(sunshine_app, "GET", "", basic(key["id"], key["secret"])) == (
        401,
        error("invalid_auth", "Invalid key id or secret"),
    )
    assert call(sunshine_app, "GET", "", bearer(token)) == (
        401,
        error("invalid_auth", "Invalid JWT header. Unknown key id (kid)"),
    )
    assert as_app(sunshine_app, "GET", "")[0] == 200  # the other key is untouched


def test_an_app_has_at_most_ten_keys(sunshine_app):
    made = [create_key(sunshine_app, f"Key {n}") for n in range(9)]  # plus the seeded one: ten
    assert as_account(sunshine_app, "POST", "keys", json={"displayName": "Eleventh"}) == bad_request(
        "An app can have at most 10 API keys"
    )
    assert len(as_account(sunshine_app, "GET", "keys")[1]["keys"]) == 10
    as_account(sunshine_app, "DELETE", f"keys/{made[0]['id']}")
    assert create_key(sunshine_app, "Room again")["displayName"] == "Room again"


@pytest.mark.parametrize(
    "body, title",
    [
        ({}, "should have required property 'displayName'"),
        ({"displayName": ""}, ".displayName should NOT be shorter than 1 characters"),
        ({"displayName": "k" * 101}, ".displayName should NOT be longer than 100 characters"),
        ({"displayName": 1}, ".displayName should be string"),
    ],
)
def test_an_invalid_key_is_400(sunshine_app, body, title):
    assert as_account(sunshine_app, "POST", "keys", json=body) == bad_request(title)
    assert len(as_account(sunshine_app, "GET", "keys")[1]["keys"]) == 1


def test_the_key_of_another_app_is_not_found_here(sunshine_app):
    other = as_account(sunshine_app, "POST", "/v2/apps", json={"displayName": "Other"})[1]["app"]["id"]
    assert as_account(sunshine_app, "GET", f"/v2/apps/{other}/keys/{sunshine_app.key_id}") == NOT_FOUND
    assert as_account(sunshine_app, "DELETE", f"/v2/apps/{other}/keys/{sunshine_app.key_id}") == APP_NOT_FOUND
    assert as_app(sunshine_app, "GET", "")[0] == 200


def test_a_key_created_on_a_new_app_works_only_there(sunshine_app):
    other = as_account(sunshine_app, "POST", "/v2/apps", json={"displayName": "Other"})[1]["app"]["id"]
    key = as_account(sunshine_app, "POST", f"/v2/apps/{other}/keys", json={"displayName": "K"})[1]["key"]
    status, created = call(
        sunshine_app, "POST", f"/v2/apps/{other}/users", basic(key["id"], key["secret"]), json={"externalId": "there"}
    )
    assert (status, created["user"]["externalId"]) == (201, "there")
    assert call(sunshine_app, "GET", "users/there", basic(key["id"], key["secret"])) == FORBIDDEN
    assert as_app(sunshine_app, "GET", "users/there") == (404, error("user_not_found", "User not found"))


# --- custom integrations -----------------------------------------------------------------------------------------


def create_integration(app: SunshineApp, name: str | None = "Hooks", hook: dict = HOOK) -> dict:
    body = {"type": "custom", "webhooks": [hook], **({"displayName": name} if name else {})}
    status, answer = as_app(app, "POST", "integrations", json=body)
    assert status == 201, answer
    return answer["integration"]


def test_create_a_custom_integration_with_one_webhook(sunshine_app):
    status, answer = as_app(
        sunshine_app,
        "POST",
        "integrations",
        json={"type": "custom", "displayName": "Hooks", "webhooks": [{**HOOK, "includeFullUser": True}]},
    )
    assert status == 201
    integration = answer["integration"]
    (webhook,) = integration["webhooks"]
    assert HEX_ID.fullmatch(integration["id"])
    assert_generated(webhook)
    expected_hook = webhook_of({**HOOK, "includeFullUser": True, "id": webhook["id"], "secret": webhook["secret"]})
    assert answer == {
        "integration": {
            "id": integration["id"],
            "type": "custom",
            "status": "active",
            "displayName": "Hooks",
            "webhooks": [expected_hook],
        }
    }
    assert as_app(sunshine_app, "GET", f"integrations/{integration['id']}") == (200, answer)


def test_list_get_and_delete_integrations(sunshine_app):
    first, second = create_integration(sunshine_app, "One"), create_integration(sunshine_app, None)
    assert second["displayName"] is None
    assert as_app(sunshine_app, "GET", "integrations") == (
        200,
        {"integrations": [first, second], "meta": {"hasMore": False}, "links": {}},
    )
    paged = as_account(sunshine_app, "GET", "integrations", params={"page[size]": "1"})[1]
    assert (paged["integrations"], paged["meta"]) == ([first], {"hasMore": True, "afterCursor": first["id"]})
    assert as_app(sunshine_app, "DELETE", f"integrations/{first['id']}") == (200, {})
    assert as_app(sunshine_app, "GET", f"integrations/{first['id']}") == INTEGRATION_NOT_FOUND
    assert as_app(sunshine_app, "DELETE", f"integrations/{first['id']}") == INTEGRATION_NOT_FOUND
    assert as_app(sunshine_app, "GET", f"integrations/{first['id']}/webhooks") == INTEGRATION_NOT_FOUND
    assert as_app(sunshine_app, "GET", "integrations")[1]["integrations"] == [second]


INVALID_INTEGRATIONS = {
    "not custom": (
        {"type": "android", "webhooks": [HOOK]},
        "Invalid integration type",
    ),  # [C] the spec's example; [I] only custom is emulated
    "numeric type": ({"type": 5, "webhooks": [HOOK]}, ".type should be string"),
    "no type": ({"webhooks": [HOOK]}, "should have required property 'type'"),
    "no webhooks": ({"type": "custom"}, "should have required property 'webhooks'"),
    "no webhook": ({"type": "custom", "webhooks": []}, ".webhooks should NOT have fewer than 1 items"),
    "two webhooks": ({"type": "custom", "webhooks": [HOOK, HOOK]}, ".webhooks should NOT have more than 1 items"),
    "bad target": (
        {"type": "custom", "webhooks": [{**HOOK, "target": "ftp://example.com"}]},
        ".webhooks[0].target should be a URL",
    ),
    "no triggers": (
        {"type": "custom", "webhooks": [{"target": HOOK["target"]}]},
        ".webhooks[0] should have required property 'triggers'",
    ),
    "long displayName": (
        {"type": "custom", "displayName": "d" * 101, "webhooks": [HOOK]},
        ".displayName should NOT be longer than 100 characters",
    ),
}


@pytest.mark.parametrize("body, title", INVALID_INTEGRATIONS.values(), ids=list(INVALID_INTEGRATIONS))
def test_an_invalid_integration_is_400_and_creates_nothing(sunshine_app, body, title):
    assert as_app(sunshine_app, "POST", "integrations", json=body) == bad_request(title)
    assert as_app(sunshine_app, "GET", "integrations")[1]["integrations"] == []


# --- integration keys and the integration scope -------------------------------------------------------------------


def create_integration_key(app: SunshineApp, integration_id: str, name: str = "My custom key") -> dict:
    status, answer = as_app(app, "POST", f"integrations/{integration_id}/keys", json={"displayName": name})
    assert status == 201, answer
    return answer["key"]


def test_integration_keys_crud(sunshine_app):
    integration = create_integration(sunshine_app)
    key = create_integration_key(sunshine_app, integration["id"])
    assert set(key) == {"id", "displayName", "secret"} and key["displayName"] == "My custom key"
    assert re.fullmatch(r"int_[0-9a-f]{24}", key["id"])
    base = f"integrations/{integration['id']}/keys"
    assert as_app(sunshine_app, "GET", base) == (200, {"keys": [key]})
    assert as_account(sunshine_app, "GET", f"{base}/{key['id']}") == (200, {"key": key})
    assert as_app(sunshine_app, "DELETE", f"{base}/{key['id']}") == (200, {})
    assert as_app(sunshine_app, "GET", f"{base}/{key['id']}") == NOT_FOUND
    assert as_app(sunshine_app, "DELETE", f"{base}/{key['id']}") == NOT_FOUND
    assert as_app(sunshine_app, "GET", base) == (200, {"keys": []})
    assert (
        as_app(sunshine_app, "POST", f"integrations/{'0' * 24}/keys", json={"displayName": "k"})
        == INTEGRATION_NOT_FOUND
    )
    # the integration's keys are not the app's
    assert as_account(sunshine_app, "GET", "keys")[1]["keys"] == [
        {"id": sunshine_app.key_id, "secret": sunshine_app.secret}
    ]


def test_an_integration_has_at_most_ten_keys(sunshine_app):
    integration = create_integration(sunshine_app)
    for n in range(10):
        create_integration_key(sunshine_app, integration["id"], f"Key {n}")
    answer = as_app(sunshine_app, "POST", f"integrations/{integration['id']}/keys", json={"displayName": "Eleventh"})
    assert answer == bad_request("An integration can have at most 10 API keys")


@pytest.fixture
def integration_key(sunshine_app) -> tuple[dict, dict, dict]:
    """An integration, its `int_` key, and a second integration of the same app."""
    mine, theirs = create_integration(sunshine_app, "Mine"), create_integration(sunshine_app, "Theirs")
    return mine, create_integration_key(sunshine_app, mine["id"]), theirs


@pytest.mark.parametrize("jwt", [False, True], ids=["basic", "jwt"])
def test_an_integration_key_reaches_its_own_webhooks_as_me(sunshine_app, integration_key, jwt):
    mine, key, _ = integration_key
    headers = (
        bearer(sign_jwt({"scope": "integration"}, key["id"], key["secret"])) if jwt else basic(key["id"], key["secret"])
    )
    assert call(sunshine_app, "GET", "integrations/me/webhooks", headers) == (200, {"webhooks": mine["webhooks"]})
    assert call(sunshine_app, "GET", f"integrations/{mine['id']}/webhooks", headers) == (
        200,
        {"webhooks": mine["webhooks"]},
    )
    status, created = call(
        sunshine_app,
        "POST",
        "integrations/me/webhooks",
        headers,
        json={"target": "https://example.com/mine", "triggers": ["user:update"]},
    )
    assert status == 201
    hook_id = created["webhook"]["id"]
    assert call(sunshine_app, "GET", f"integrations/me/webhooks/{hook_id}", headers) == (200, created)
    assert as_app(sunshine_app, "GET", f"integrations/{mine['id']}/webhooks/{hook_id}") == (200, created)
    patched = call(
        sunshine_app, "PATCH", f"integrations/me/webhooks/{hook_id}", headers, json={"includeFullSource": True}
    )
    assert patched == (200, {"webhook": {**created["webhook"], "includeFullSource": True}})
    assert call(sunshine_app, "DELETE", f"integrations/me/webhooks/{hook_id}", headers) == (200, {})


def test_an_integration_key_may_use_the_users_api(sunshine_app, integration_key):
    _, key, _ = integration_key
    headers = basic(key["id"], key["secret"])
    status, created = call(sunshine_app, "POST", "users", headers, json={"externalId": "via-integration"})
    assert status == 201
    assert call(sunshine_app, "GET", "users/via-integration", headers) == (200, created)
    assert call(sunshine_app, "DELETE", "users/via-integration", headers) == (200, {})


def test_an_integration_key_cannot_touch_other_integrations_webhooks(sunshine_app, integration_key):
    _, key, theirs = integration_key
    headers = basic(key["id"], key["secret"])
    hook = theirs["webhooks"][0]
    assert call(sunshine_app, "GET", f"integrations/{theirs['id']}/webhooks", headers) == FORBIDDEN
    assert call(sunshine_app, "GET", f"integrations/{theirs['id']}/webhooks/{hook['id']}", headers) == FORBIDDEN
    assert call(sunshine_app, "POST", f"integrations/{theirs['id']}/webhooks", headers, json=HOOK) == FORBIDDEN
    assert (
        call(
            sunshine_app,
            "PATCH",
            f"integrations/{theirs['id']}/webhooks/{hook['id']}",
            headers,
            json={"triggers": ["*"]},
        )
        == FORBIDDEN
    )
    assert call(sunshine_app, "DELETE", f"integrations/{theirs['id']}/webhooks/{hook['id']}", headers) == FORBIDDEN
    assert call(sunshine_app, "GET", f"integrations/{'0' * 24}/webhooks", headers) == FORBIDDEN
    # nothing changed for the other integration
    assert as_app(sunshine_app, "GET", f"integrations/{theirs['id']}/webhooks") == (200, {"webhooks": [hook]})
    # its own webhook, asked for under the other integration: still refused, not found elsewhere
    mine_hook = integration_key[0]["webhooks"][0]
    assert call(sunshine_app, "GET", f"integrations/{theirs['id']}/webhooks/{mine_hook['id']}", headers) == FORBIDDEN


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", ""),
        ("PATCH", ""),
        ("GET", "integrations"),
        ("POST", "integrations"),
        ("GET", "integrations/{mine}"),
        ("DELETE", "integrations/{mine}"),
        ("GET", "integrations/{mine}/keys"),
        ("POST", "integrations/{mine}/keys"),
        ("GET", "keys"),
        ("GET", "/v2/apps"),
    ],
)
def test_the_integration_scope_stops_at_the_app_and_its_integrations(sunshine_app, integration_key, method, path):
    mine, key, _ = integration_key
    body = {"displayName": "x"} if method in ("POST", "PATCH") else None
    assert (
        call(sunshine_app, method, path.format(mine=mine["id"]), basic(key["id"], key["secret"]), json=body)
        == FORBIDDEN
    )
    assert as_app(sunshine_app, "GET", f"integrations/{mine['id']}")[1]["integration"] == mine


def test_an_integration_key_on_another_app_is_403(sunshine_app, integration_key):
    _, key, _ = integration_key
    other = as_account(sunshine_app, "POST", "/v2/apps", json={"displayName": "Other"})[1]["app"]["id"]
    assert (
        call(sunshine_app, "GET", f"/v2/apps/{other}/integrations/me/webhooks", basic(key["id"], key["secret"]))
        == FORBIDDEN
    )


def test_an_integration_key_needs_the_integration_scope_in_its_jwt(sunshine_app, integration_key):
    _, key, _ = integration_key
    token = sign_jwt({"scope": "app"}, key["id"], key["secret"])
    answer = call(sunshine_app, "GET", "integrations/me/webhooks", bearer(token))
    assert answer == (401, error("invalid_auth", "Invalid JWT body. Cannot use app scope with integration secret key"))


def test_deleting_an_integration_retires_its_keys(sunshine_app, integration_key):
    mine, key, _ = integration_key
    as_app(sunshine_app, "DELETE", f"integrations/{mine['id']}")
    answer = call(sunshine_app, "GET", "integrations/me/webhooks", basic(key["id"], key["secret"]))
    assert answer == (401, error("invalid_auth", "Invalid key id or secret"))


def test_me_is_no_integration_for_an_app_key(sunshine_app):
    assert as_app(sunshine_app, "GET", "integrations/me/webhooks") == INTEGRATION_NOT_FOUND
    assert as_account(sunshine_app, "POST", "integrations/me/webhooks", json=HOOK) == INTEGRATION_NOT_FOUND


# --- webhooks -------------------------------------------------------------------------------------------------------


def test_webhooks_crud(sunshine_app):
    integration = create_integration(sunshine_app)
    base = f"integrations/{integration['id']}/webhooks"
    status, created = as_app(
        sunshine_app,
        "POST",
        base,
        json={"target": "http://example.com/plain", "triggers": ["*"], "includeFullUser": True},
    )
    assert status == 201
    hook = created["webhook"]
    assert_generated(hook)
    assert hook["secret"] != integration["webhooks"][0]["secret"]
    assert created == {
        "webhook": webhook_of(
            {
                "id": hook["id"],
                "target": "http://example.com/plain",
                "triggers": ["*"],
                "secret": hook["secret"],
                "includeFullUser": True,
            }
        )
    }
    assert as_app(sunshine_app, "GET", base) == (200, {"webhooks": [integration["webhooks"][0], hook]})
    assert as_app(sunshine_app, "GET", f"{base}/{hook['id']}") == (200, created)
    change = {
        "target": "https://example.com/v2",
        "triggers": ["conversation:message", "user:merge"],
        "includeFullUser": False,
        "includeFullSource": True,
    }
    assert as_app(sunshine_app, "PATCH", f"{base}/{hook['id']}", json=change) == (200, {"webhook": {**hook, **change}})
    assert as_app(sunshine_app, "GET", f"{base}/{hook['id']}") == (
        200,
        {"webhook": {**hook, **change}},
    )  # id, secret, version kept
    assert as_app(sunshine_app, "DELETE", f"{base}/{hook['id']}") == (200, {})
    for method in ("GET", "PATCH", "DELETE"):
        assert as_app(sunshine_app, method, f"{base}/{hook['id']}", json={} if method == "PATCH" else None) == NOT_FOUND
    assert as_app(sunshine_app, "GET", base) == (200, {"webhooks": integration["webhooks"]})


def test_the_account_key_manages_webhooks_too(sunshine_app):
    """[I] the spec names app and integration scopes; the account scope reaches "all methods"."""
    integration = create_integration(sunshine_app)
    status, created = as_account(sunshine_app, "POST", f"integrations/{integration['id']}/webhooks", json=HOOK)
    assert (status, created["webhook"]["target"]) == (201, HOOK["target"])


def test_a_webhook_of_another_integration_is_not_found(sunshine_app):
    one, two = create_integration(sunshine_app, "One"), create_integration(sunshine_app, "Two")
    assert as_app(sunshine_app, "GET", f"integrations/{one['id']}/webhooks/{two['webhooks'][0]['id']}") == NOT_FOUND
    assert as_app(sunshine_app, "DELETE", f"integrations/{one['id']}/webhooks/{two['webhooks'][0]['id']}") == NOT_FOUND
    assert as_app(sunshine_app, "GET", f"integrations/{two['id']}/webhooks") == (200, {"webhooks": two["webhooks"]})


def test_webhooks_of_an_unknown_integration(sunshine_app):
    base = f"integrations/{'0' * 24}/webhooks"
    assert as_app(sunshine_app, "GET", base) == INTEGRATION_NOT_FOUND
    assert as_app(sunshine_app, "POST", base, json=HOOK) == INTEGRATION_NOT_FOUND
    assert as_app(sunshine_app, "GET", f"{base}/{'1' * 24}") == INTEGRATION_NOT_FOUND


def test_an_app_has_at_most_ten_webhooks(sunshine_app):
    first = create_integration(sunshine_app)  # one webhook
    second = create_integration(sunshine_app)  # two
    for n in range(8):
        assert (
            as_app(
                sunshine_app,
                "POST",
                f"integrations/{first['id']}/webhooks",
                json={**HOOK, "target": f"https://example.com/{n}"},
            )[0]
            == 201
        )
    full = bad_request("An app can have at most 10 webhooks")
    assert as_app(sunshine_app, "POST", f"integrations/{second['id']}/webhooks", json=HOOK) == full
    assert as_app(sunshine_app, "POST", "integrations", json={"type": "custom", "webhooks": [HOOK]}) == full
    assert len(as_app(sunshine_app, "GET", "integrations")[1]["integrations"]) == 2
    as_app(sunshine_app, "DELETE", f"integrations/{second['id']}")
    assert as_app(sunshine_app, "POST", f"integrations/{first['id']}/webhooks", json=HOOK)[0] == 201


INVALID_WEBHOOKS = {
    "ftp target": ({**HOOK, "target": "ftp://example.com/h"}, ".target should be a URL"),
    "no scheme": ({**HOOK, "target": "example.com/h"}, ".target should be a URL"),
    "no host": ({**HOOK, "target": "https://"}, ".target should be a URL"),
    "space in target": ({**HOOK, "target": "https://example.com/a b"}, ".target should be a URL"),
    "empty target": ({**HOOK, "target": ""}, ".target should NOT be shorter than 1 characters"),
    "long target": (
        {**HOOK, "target": "https://example.com/" + "p" * 2030},
        ".target should NOT be longer than 2048 characters",
    ),
    "no target": ({"triggers": HOOK["triggers"]}, "should have required property 'target'"),
    "no triggers": ({"target": HOOK["target"]}, "should have required property 'triggers'"),
    "empty triggers": ({**HOOK, "triggers": []}, ".triggers should NOT have fewer than 1 items"),
    "triggers a string": ({**HOOK, "triggers": "conversation:message"}, ".triggers should be array"),
    "unknown trigger": (
        {**HOOK, "triggers": ["conversation:message", "message:appUser"]},
        "unknown trigger 'message:appUser'",
    ),
    "trigger in another case": (
        {**HOOK, "triggers": ["Conversation:Message"]},
        "unknown trigger 'Conversation:Message'",
    ),
    "string flag": ({**HOOK, "includeFullUser": "true"}, ".includeFullUser should be boolean"),
}


@pytest.mark.parametrize("body, title", INVALID_WEBHOOKS.values(), ids=list(INVALID_WEBHOOKS))
def test_an_invalid_webhook_is_400_and_creates_nothing(sunshine_app, body, title):
    integration = create_integration(sunshine_app)
    base = f"integrations/{integration['id']}/webhooks"
    assert as_app(sunshine_app, "POST", base, json=body) == bad_request(title)
    assert as_app(sunshine_app, "GET", base) == (200, {"webhooks": integration["webhooks"]})


@pytest.mark.parametrize(
    "body, title",
    [
        ({"target": "mailto:hook@example.com"}, ".target should be a URL"),
        ({"triggers": []}, ".triggers should NOT have fewer than 1 items"),
        ({"triggers": ["conversation:nope"]}, "unknown trigger 'conversation:nope'"),
        ({"includeFullSource": 1}, ".includeFullSource should be boolean"),
        ({"target": None}, ".target should be string"),
        ({"triggers": None}, ".triggers should be array"),
        ({"includeFullUser": None}, ".includeFullUser should be boolean"),
    ],
)
def test_an_invalid_webhook_update_is_400_and_changes_nothing(sunshine_app, body, title):
    integration = create_integration(sunshine_app)
    hook = integration["webhooks"][0]
    path = f"integrations/{integration['id']}/webhooks/{hook['id']}"
    assert as_app(sunshine_app, "PATCH", path, json=body) == bad_request(title)
    assert as_app(sunshine_app, "GET", path) == (200, {"webhook": hook})


def test_every_documented_trigger_is_accepted(sunshine_app):
    triggers = [
        "client:add",
        "client:remove",
        "client:update",
        "conversation:create",
        "conversation:join",
        "conversation:leave",
        "conversation:remove",
        "conversation:message",
        "conversation:message:delivery:channel",
        "conversation:message:delivery:failure",
        "conversation:message:delivery:user",
        "conversation:postback",
        "conversation:read",
        "conversation:referral",
        "conversation:typing",
        "passthrough:messaging",
        "switchboard:acceptControl",
        "switchboard:acceptControl:failure",
        "switchboard:offerControl",
        "switchboard:offerControl:failure",
        "switchboard:passControl",
        "switchboard:passControl:failure",
        "switchboard:releaseControl",
        "user:merge",
        "user:update",
        "user:remove",
    ]
    integration = create_integration(sunshine_app, hook={"target": "https://example.com/all", "triggers": triggers})
    assert integration["webhooks"][0]["triggers"] == triggers


def test_an_app_seeded_with_a_subdomain_shows_it(sunshine_app: SunshineApp, emulator) -> None:
    app_id, key_id = secrets.token_hex(12), f"app_{secrets.token_hex(12)}"
    emulator.control.seed(
        {"sunshine": {"apps": [{"id": app_id, "subdomain": "acme", "keys": [{"id": key_id, "secret": "s"}]}]}}
    )
    reply = emulator.get(
        f"/v2/apps/{app_id}", headers={"Authorization": "Basic " + base64.b64encode(f"{key_id}:s".encode()).decode()}
    )
    assert (reply.status, reply.json()["app"]["subdomain"]) == (200, "acme")
