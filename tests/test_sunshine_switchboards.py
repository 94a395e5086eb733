"""Sunshine switchboards: the switchboard and switchboard integration CRUD, the four switchboard actions, the
default switchboard integration, and which integrations' webhooks get a conversation's events while another
one holds control (spec tags Switchboards, Switchboard Integrations, Switchboard Actions; the `switchboard:*`
triggers and their payload schemas). In-process; deliveries are flushed, never waited for."""

from __future__ import annotations

import base64

import pytest

from emulator.pytest_plugin import SunshineApp, SunshineConversation
from emulator.pytest_plugin.sunshine_switchboard import SunshineSwitchboard


def created(reply, wrapper):
    assert reply.status == 201, reply.text
    return reply.json()[wrapper]


def error_of(reply, status):
    assert reply.status == status, reply.text
    [error] = reply.json()["errors"]
    return error["code"], error["title"]


def new_integration(app: SunshineApp, target: str = "https://example.com/hook") -> dict:
    body = {"type": "custom", "displayName": "linked", "webhooks": [{"target": target, "triggers": ["*"]}]}
    return created(app.request("POST", "integrations", json=body), "integration")


def integration_headers(app: SunshineApp, integration_id: str) -> dict:
    """Basic auth of a fresh `int_` key of the integration (integration scope)."""
    key = created(app.request("POST", f"integrations/{integration_id}/keys", json={"displayName": "k"}), "key")
    return {"Authorization": "Basic " + base64.b64encode(f"{key['id']}:{key['secret']}".encode()).decode()}


def start(switchboard: SunshineSwitchboard, sunshine_user) -> str:
    """A personal conversation of the user, created through the API."""
    body = {"type": "personal", "participants": [{"userId": sunshine_user.id}]}
    return created(switchboard.app.request("POST", "conversations", json=body), "conversation")["id"]


def user_says(app: SunshineApp, conversation_id: str, user_id: str, text: str) -> None:
    body = {"author": {"type": "user", "userId": user_id}, "content": {"type": "text", "text": text}}
    assert app.request("POST", f"conversations/{conversation_id}/messages", json=body).status == 201


def texts(switchboard: SunshineSwitchboard, member) -> list[str]:
    return [e["payload"]["message"]["content"]["text"] for e in switchboard.events(member, "conversation:message")]


def ref(member) -> dict:
    return {
        "id": member.switchboard_integration_id,
        "name": member.name,
        "integrationId": member.integration_id,
        "integrationType": "custom",
    }


def conversation_of(app: SunshineApp, conversation_id: str) -> dict:
    reply = app.request("GET", f"conversations/{conversation_id}")
    assert reply.status == 200, reply.text
    return reply.json()["conversation"]


# --- switchboards --------------------------------------------------------------------------------------


def test_create_list_update_delete_a_switchboard(sunshine_app):
    switchboard = created(sunshine_app.request("POST", "switchboards"), "switchboard")
    assert set(switchboard) == {"id", "enabled"} and switchboard["enabled"] is False and len(switchboard["id"]) == 24
    assert sunshine_app.request("GET", "switchboards").json() == {"switchboards": [switchboard]}
    code, title = error_of(sunshine_app.request("POST", "switchboards"), 400)
    assert (code, title) == ("bad_request", "Only one switchboard can be created per app")

    path = f"switchboards/{switchboard['id']}"
    assert error_of(sunshine_app.request("PATCH", path, json={"enabled": None}), 400) == (
        "bad_request",
        ".enabled should be boolean",
    )
    # an enabled switchboard needs a default switchboard integration
    code, title = error_of(sunshine_app.request("PATCH", path, json={"enabled": True}), 404)
    assert (code, title) == (
        "switchboard_integration_not_found",
        "Enabled switchboard must have an associated default switchboardIntegration",
    )
    member = created(
        sunshine_app.request(
            "POST",
            f"{path}/switchboardIntegrations",
            json={"name": "bot", "integrationId": new_integration(sunshine_app)["id"]},
        ),
        "switchboardIntegration",
    )
    reply = sunshine_app.request("PATCH", path, json={"enabled": True, "defaultSwitchboardIntegrationId": member["id"]})
    assert reply.status == 200
    assert reply.json() == {
        "switchboard": {"id": switchboard["id"], "enabled": True, "defaultSwitchboardIntegrationId": member["id"]}
    }

    assert sunshine_app.request("DELETE", path).json() == {}
    assert sunshine_app.request("GET", "switchboards").json() == {"switchboards": []}
    assert created(sunshine_app.request("POST", "switchboards"), "switchboard")["id"] != switchboard["id"]


@pytest.mark.parametrize(
    "method, tail",
    [("PATCH", ""), ("DELETE", ""), ("GET", "/switchboardIntegrations"), ("POST", "/switchboardIntegrations")],
)
def test_an_unknown_switchboard_is_404(sunshine_app, method, tail):
    body = (
        {"enabled": False}
        if method == "PATCH"
        else {"name": "x", "integrationType": "custom"}
        if method == "POST"
        else None
    )
    reply = sunshine_app.request(method, f"switchboards/{'0' * 24}{tail}", json=body)
    assert error_of(reply, 404) == ("switchboard_not_found", "Switchboard not found")


def test_switchboards_are_not_for_integration_keys(sunshine_app):
    """[C] integration scope has no access to /v2/apps/:appId/switchboards; an account key has."""
    headers = integration_headers(sunshine_app, new_integration(sunshine_app)["id"])
    assert error_of(sunshine_app.request("GET", "switchboards", headers=headers), 403)[0] == "forbidden"
    assert error_of(sunshine_app.request("POST", "switchboards", headers=headers), 403)[0] == "forbidden"
    assert sunshine_app.request("POST", "switchboards", headers=sunshine_app.basic_headers(account=True)).status == 201
    assert sunshine_app.request("GET", "switchboards").status == 200


# --- switchboard integrations -----------------------------------------------------------------------------


@pytest.fixture
def switchboard_path(sunshine_app) -> str:
    return f"switchboards/{created(sunshine_app.request('POST', 'switchboards'), 'switchboard')['id']}/switchboardIntegrations"


def test_create_list_update_delete_a_switchboard_integration(sunshine_app, switchboard_path):
    integration = new_integration(sunshine_app)
    member = created(
        sunshine_app.request("POST", switchboard_path, json={"name": "bot-1", "integrationId": integration["id"]}),
        "switchboardIntegration",
    )
    assert member == {
        "id": member["id"],
        "name": "bot-1",
        "integrationId": integration["id"],
        "integrationType": "custom",
        "deliverStandbyEvents": True,
        "nextSwitchboardIntegrationId": None,
        "messageHistoryCount": None,
    }
    desk = created(
        sunshine_app.request(
            "POST",
            switchboard_path,
            json={"name": "zd-agentWorkspace", "integrationType": "zd:agentWorkspace", "deliverStandbyEvents": False},
        ),
        "switchboardIntegration",
    )
    assert (
        desk["integrationType"] == "zd:agentWorkspace"
        and len(desk["integrationId"]) == 24
        and desk["deliverStandbyEvents"] is False
    )
    assert sunshine_app.request("GET", switchboard_path).json() == {"switchboardIntegrations": [member, desk]}

    patch = {
        "nextSwitchboardIntegrationId": desk["id"],
        "messageHistoryCount": 5,
        "deliverStandbyEvents": False,
        "name": "bot-2",
    }
    reply = sunshine_app.request("PATCH", f"{switchboard_path}/{member['id']}", json=patch)
    assert reply.status == 200, reply.text
    assert reply.json()["switchboardIntegration"] == {**member, **patch}
    cleared = sunshine_app.request(
        "PATCH", f"{switchboard_path}/{member['id']}", json={"nextSwitchboardIntegrationId": None}
    )
    assert cleared.json()["switchboardIntegration"]["nextSwitchboardIntegrationId"] is None
    for field in ("name", "deliverStandbyEvents"):  # not nullable
        refused = sunshine_app.request("PATCH", f"{switchboard_path}/{member['id']}", json={field: None})
        assert error_of(refused, 400)[0] == "bad_request"

    assert sunshine_app.request("DELETE", f"{switchboard_path}/{member['id']}").json() == {}
    assert [m["id"] for m in sunshine_app.request("GET", switchboard_path).json()["switchboardIntegrations"]] == [
        desk["id"]
    ]
    code, title = error_of(sunshine_app.request("DELETE", f"{switchboard_path}/{member['id']}"), 404)
    assert (code, title) == ("switchboard_integration_not_found", "SwitchboardIntegration not found")
    assert (
        error_of(sunshine_app.request("PATCH", f"{switchboard_path}/{member['id']}", json={"name": "x"}), 404)[0]
        == "switchboard_integration_not_found"
    )


@pytest.mark.parametrize(
    "body, title",
    [
        ({"integrationType": "custom"}, "should have required property 'name'"),
        ({"name": "has space", "integrationType": "custom"}, '.name should match pattern "^[A-Za-z0-9_-]+$"'),
        ({"name": "x" * 129, "integrationType": "custom"}, ".name should NOT be longer than 128 characters"),
        ({"name": "bot"}, "One of integrationId or integrationType must be provided"),
        (
            {"name": "bot", "integrationId": "<integration>", "integrationType": "custom"},
            "Can't provide both integrationId and integrationType",
        ),
        (
            {"name": "bot", "integrationType": "custom", "deliverStandbyEvents": "yes"},
            ".deliverStandbyEvents should be boolean",
        ),
        (
            {"name": "bot", "integrationType": "custom", "messageHistoryCount": 11},
            ".messageHistoryCount should be <= 10",
        ),
        (
            {"name": "bot", "integrationType": "custom", "nextSwitchboardIntegrationId": "0" * 24},
            "nextSwitchboardIntegrationId should name another switchboard integration",
        ),
        ({"name": "bot", "integrationType": None}, ".integrationType should be string"),
    ],
)
def test_a_refused_switchboard_integration_is_400_and_changes_nothing(sunshine_app, switchboard_path, body, title):
    integration = new_integration(sunshine_app)
    body = {k: integration["id"] if v == "<integration>" else v for k, v in body.items()}
    reply = sunshine_app.request("POST", switchboard_path, json=body)
    assert error_of(reply, 400) == ("bad_request", title)
    assert sunshine_app.request("GET", switchboard_path).json() == {"switchboardIntegrations": []}


def test_links_are_checked(sunshine_app, switchboard_path):
    """An unknown integration is 404; an integration links once; names are unique; `custom` alone is
    ambiguous with two custom integrations."""
    assert (
        error_of(sunshine_app.request("POST", switchboard_path, json={"name": "a", "integrationId": "f" * 24}), 404)[0]
        == "integration_not_found"
    )
    first, second = new_integration(sunshine_app), new_integration(sunshine_app)
    created(
        sunshine_app.request("POST", switchboard_path, json={"name": "a", "integrationId": first["id"]}),
        "switchboardIntegration",
    )
    assert (
        error_of(sunshine_app.request("POST", switchboard_path, json={"name": "b", "integrationId": first["id"]}), 400)[
            0
        ]
        == "bad_request"
    )
    assert (
        error_of(
            sunshine_app.request("POST", switchboard_path, json={"name": "a", "integrationId": second["id"]}), 400
        )[0]
        == "bad_request"
    )
    assert (
        error_of(sunshine_app.request("POST", switchboard_path, json={"name": "b", "integrationType": "custom"}), 400)[
            0
        ]
        == "bad_request"
    )


def test_a_switchboard_holds_ten_switchboard_integrations(sunshine_app, switchboard_path):
    for number in range(10):
        created(
            sunshine_app.request(
                "POST", switchboard_path, json={"name": f"n{number}", "integrationType": f"partner-{number}"}
            ),
            "switchboardIntegration",
        )
    code, title = error_of(
        sunshine_app.request("POST", switchboard_path, json={"name": "n10", "integrationType": "partner-10"}), 400
    )
    assert (code, title) == (
        "too_many_switchboard_integrations",
        "Switchboard has reached the max number of switchboard integrations (10)",
    )


def test_the_default_and_a_next_target_cannot_be_deleted(sunshine_switchboard):
    """[C] forbidden: deleting the default one, or one another's `nextSwitchboardIntegrationId` names."""
    members = f"switchboards/{sunshine_switchboard.id}/switchboardIntegrations"
    app, bot, desk = sunshine_switchboard.app, sunshine_switchboard.bot, sunshine_switchboard.desk
    assert error_of(app.request("DELETE", f"{members}/{bot.switchboard_integration_id}"), 400)[0] == "bad_request"
    assert error_of(app.request("DELETE", f"{members}/{desk.switchboard_integration_id}"), 400)[0] == "bad_request"
    assert len(app.request("GET", members).json()["switchboardIntegrations"]) == 2


# --- control of a conversation ------------------------------------------------------------------------


def test_a_new_conversation_starts_with_the_default_integration_active(sunshine_switchboard, sunshine_user, emulator):
    conversation_id = start(sunshine_switchboard, sunshine_user)
    shown = conversation_of(sunshine_switchboard.app, conversation_id)
    assert shown["activeSwitchboardIntegration"] == ref(sunshine_switchboard.bot)
    assert "pendingSwitchboardIntegration" not in shown
    emulator.control.flush_deliveries()
    [event] = sunshine_switchboard.events(sunshine_switchboard.desk, "conversation:create")
    assert event["payload"]["conversation"]["activeSwitchboardIntegration"] == ref(sunshine_switchboard.bot)


def test_without_a_switchboard_a_conversation_names_no_integration(sunshine_conversation):
    shown = conversation_of(sunshine_conversation.user.app, sunshine_conversation.id)
    assert "activeSwitchboardIntegration" not in shown and "pendingSwitchboardIntegration" not in shown


def test_only_the_active_integration_gets_the_user_messages(sunshine_switchboard, sunshine_user, emulator):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    conversation_id = start(board, sunshine_user)
    user_says(app, conversation_id, sunshine_user.id, "to the bot")
    assert (
        app.request(
            "POST",
            f"conversations/{conversation_id}/messages",
            json={"author": {"type": "business"}, "content": {"type": "text", "text": "bot answer"}},
        ).status
        == 201
    )
    emulator.control.flush_deliveries()
    assert texts(board, board.bot) == ["to the bot", "bot answer"]
    assert texts(board, board.desk) == []


def test_standby_events_reach_an_integration_that_asked_for_them(sunshine_switchboard, sunshine_user, emulator):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    members = f"switchboards/{board.id}/switchboardIntegrations"
    assert (
        app.request(
            "PATCH", f"{members}/{board.desk.switchboard_integration_id}", json={"deliverStandbyEvents": True}
        ).status
        == 200
    )
    conversation_id = start(board, sunshine_user)
    user_says(app, conversation_id, sunshine_user.id, "hello")
    emulator.control.flush_deliveries()
    assert texts(board, board.bot) == texts(board, board.desk) == ["hello"]
    [standby] = board.events(board.desk, "conversation:message")
    assert standby["payload"]["conversation"]["activeSwitchboardIntegration"] == ref(
        board.bot
    )  # it can tell it is not in control


def test_integrations_outside_the_switchboard_and_a_disabled_switchboard_get_everything(
    sunshine_switchboard, sunshine_user, emulator, emulator_webhook_receiver
):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    outsider = new_integration(app, target=f"{emulator_webhook_receiver.url}/outsider")
    conversation_id = start(board, sunshine_user)
    user_says(app, conversation_id, sunshine_user.id, "one")
    assert app.request("PATCH", f"switchboards/{board.id}", json={"enabled": False}).status == 200
    user_says(app, conversation_id, sunshine_user.id, "two")
    emulator.control.flush_deliveries()
    outside = [
        e["payload"]["message"]["content"]["text"]
        for r in emulator_webhook_receiver.deliveries
        if r.path.endswith("/outsider")
        for e in r.body["events"]
        if e["type"] == "conversation:message"
    ]
    assert outsider["id"] and outside == ["one", "two"]
    assert texts(board, board.bot) == ["one", "two"] and texts(board, board.desk) == ["two"]


def test_pass_control_moves_the_messages_and_raises_its_event(sunshine_switchboard, sunshine_user, emulator):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    conversation_id = start(board, sunshine_user)
    reply = board.act(
        conversation_id, "passControl", switchboardIntegration="agent-desk", metadata={"reason": "human wanted"}
    )
    assert (reply.status, reply.json()) == (200, {})
    assert conversation_of(app, conversation_id)["activeSwitchboardIntegration"] == ref(board.desk)
    user_says(app, conversation_id, sunshine_user.id, "to the desk")
    emulator.control.flush_deliveries()
    assert texts(board, board.desk) == ["to the desk"] and texts(board, board.bot) == []
    for member in (board.bot, board.desk):  # switchboard events reach every subscribed webhook
        [event] = board.events(member, "switchboard:passControl")
        assert event["payload"] == {
            "conversation": {
                "id": conversation_id,
                "type": "personal",
                "metadata": None,
                "activeSwitchboardIntegration": ref(board.desk),
            },
            "metadata": {"reason": "human wanted"},
        }


@pytest.mark.parametrize("target", ["next", "agent-desk", "<id>", "custom"])
def test_a_target_is_named_by_id_name_type_or_next(sunshine_switchboard, sunshine_user, emulator, target):
    """`custom` names both here: ambiguous, so it fails; `next` is the bot's next, the desk."""
    board = sunshine_switchboard
    conversation_id = start(board, sunshine_user)
    reference = board.desk.switchboard_integration_id if target == "<id>" else target
    assert board.act(conversation_id, "passControl", switchboardIntegration=reference).status == 200
    emulator.control.flush_deliveries()
    active = conversation_of(board.app, conversation_id)["activeSwitchboardIntegration"]
    if target == "custom":
        assert active == ref(board.bot)
        [failure] = board.events(board.bot, "switchboard:passControl:failure")
        assert failure["payload"]["error"] == {
            "code": "switchboard_invalid_target",
            "message": "Switchboard invalid target",
        }
    else:
        assert active == ref(board.desk) and len(board.events(board.bot, "switchboard:passControl")) == 1


def test_offer_then_accept(sunshine_switchboard, sunshine_user, emulator):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    conversation_id = start(board, sunshine_user)
    assert board.act(conversation_id, "offerControl", switchboardIntegration="next", metadata={"n": 1}).status == 200
    shown = conversation_of(app, conversation_id)
    assert shown["activeSwitchboardIntegration"] == ref(board.bot) and shown["pendingSwitchboardIntegration"] == ref(
        board.desk
    )
    user_says(app, conversation_id, sunshine_user.id, "still the bot")  # pending is not in control yet
    assert board.act(conversation_id, "acceptControl").status == 200  # every field of its body is optional
    shown = conversation_of(app, conversation_id)
    assert shown["activeSwitchboardIntegration"] == ref(board.desk) and "pendingSwitchboardIntegration" not in shown
    emulator.control.flush_deliveries()
    [offered] = board.events(board.desk, "switchboard:offerControl")
    assert offered["payload"]["conversation"]["pendingSwitchboardIntegration"] == ref(board.desk)
    assert offered["payload"]["conversation"]["activeSwitchboardIntegration"] == ref(board.bot) and offered["payload"][
        "metadata"
    ] == {"n": 1}
    [accepted] = board.events(board.bot, "switchboard:acceptControl")
    assert accepted["payload"] == {
        "conversation": {
            "id": conversation_id,
            "type": "personal",
            "metadata": None,
            "activeSwitchboardIntegration": ref(board.desk),
        }
    }
    assert texts(board, board.bot) == ["still the bot"] and texts(board, board.desk) == []


def test_failures_answer_200_and_raise_their_failure_event(sunshine_switchboard, sunshine_user, emulator):
    board = sunshine_switchboard
    conversation_id = start(board, sunshine_user)
    assert board.act(conversation_id, "acceptControl", metadata={"try": 1}).status == 200
    assert board.act(conversation_id, "offerControl", switchboardIntegration="bot").status == 200
    assert board.act(conversation_id, "passControl", switchboardIntegration="nobody").status == 200
    emulator.control.flush_deliveries()
    events = {e["type"]: e["payload"] for e in board.events(board.bot) if e["type"].startswith("switchboard:")}
    active = {
        "id": conversation_id,
        "type": "personal",
        "metadata": None,
        "activeSwitchboardIntegration": ref(board.bot),
    }
    assert events == {
        "switchboard:acceptControl:failure": {
            "conversation": active,
            "metadata": {"try": 1},
            "error": {"code": "switchboard_invalid_action", "message": "There is no pendingSwitchboardIntegration"},
        },
        "switchboard:offerControl:failure": {
            "conversation": active,
            "error": {
                "code": "switchboard_invalid_target",
                "message": "Cannot offer control to the active switchboard integration.",
            },
        },
        "switchboard:passControl:failure": {
            "conversation": active,
            "error": {"code": "switchboard_invalid_target", "message": "Switchboard invalid target"},
        },
    }
    assert conversation_of(board.app, conversation_id)["activeSwitchboardIntegration"] == ref(board.bot)


def test_release_then_the_default_takes_the_next_user_message(sunshine_switchboard, sunshine_user, emulator):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    conversation_id = start(board, sunshine_user)
    assert board.act(conversation_id, "passControl", switchboardIntegration="agent-desk").status == 200
    assert board.act(conversation_id, "offerControl", switchboardIntegration="bot").status == 200
    reply = app.request("POST", f"conversations/{conversation_id}/releaseControl", data=b"")  # the body is optional
    assert (reply.status, reply.json()) == (200, {})
    shown = conversation_of(app, conversation_id)
    assert "activeSwitchboardIntegration" not in shown and "pendingSwitchboardIntegration" not in shown
    user_says(app, conversation_id, sunshine_user.id, "back")
    assert conversation_of(app, conversation_id)["activeSwitchboardIntegration"] == ref(board.bot)
    emulator.control.flush_deliveries()
    [released] = board.events(board.desk, "switchboard:releaseControl")
    assert released["payload"] == {"conversation": {"id": conversation_id, "type": "personal", "metadata": None}}
    assert texts(board, board.bot) == ["back"] and texts(board, board.desk) == []


def test_a_conversation_from_before_the_switchboard_gets_the_default_at_its_next_user_message(
    sunshine_switchboard, sunshine_user
):
    board, app = sunshine_switchboard, sunshine_switchboard.app
    assert app.request("PATCH", f"switchboards/{board.id}", json={"enabled": False}).status == 200
    conversation_id = start(board, sunshine_user)
    assert "activeSwitchboardIntegration" not in conversation_of(app, conversation_id)
    assert app.request("PATCH", f"switchboards/{board.id}", json={"enabled": True}).status == 200
    user_says(app, conversation_id, sunshine_user.id, "hi")
    assert conversation_of(app, conversation_id)["activeSwitchboardIntegration"] == ref(board.bot)


def test_updating_or_deleting_the_active_switchboard_integration(sunshine_switchboard, sunshine_user):
    """A rename shows at once in conversations; [C] deleting the active one leaves the conversation to the
    default at its next activity."""
    board, app = sunshine_switchboard, sunshine_switchboard.app
    members = f"switchboards/{board.id}/switchboardIntegrations"
    conversation_id = start(board, sunshine_user)
    assert board.act(conversation_id, "passControl", switchboardIntegration="agent-desk").status == 200
    assert (
        app.request("PATCH", f"{members}/{board.desk.switchboard_integration_id}", json={"name": "desk-2"}).status
        == 200
    )
    assert conversation_of(app, conversation_id)["activeSwitchboardIntegration"]["name"] == "desk-2"
    assert (
        app.request(
            "PATCH", f"{members}/{board.bot.switchboard_integration_id}", json={"nextSwitchboardIntegrationId": None}
        ).status
        == 200
    )
    assert app.request("DELETE", f"{members}/{board.desk.switchboard_integration_id}").json() == {}
    assert "activeSwitchboardIntegration" not in conversation_of(app, conversation_id)
    user_says(app, conversation_id, sunshine_user.id, "anyone?")
    assert conversation_of(app, conversation_id)["activeSwitchboardIntegration"] == ref(board.bot)


@pytest.mark.parametrize("action", ["passControl", "offerControl", "acceptControl", "releaseControl"])
def test_an_unknown_conversation_is_404(sunshine_switchboard, action):
    body = {"switchboardIntegration": "next"} if action in ("passControl", "offerControl") else {}
    reply = sunshine_switchboard.app.request("POST", f"conversations/{'0' * 24}/{action}", json=body)
    assert error_of(reply, 404) == ("conversation_not_found", "Conversation not found")


@pytest.mark.parametrize(
    "action, body",
    [
        ("passControl", {}),
        ("offerControl", {"switchboardIntegration": 1}),
        ("acceptControl", {"metadata": {"deep": {}}}),
        ("releaseControl", {"metadata": []}),
        ("passControl", {"switchboardIntegration": "next", "reason": "lunch"}),
        ("releaseControl", {"reason": "ticketclosed"}),
        ("releaseControl", {"reason": None, "metadata": {"a": {}}}),
    ],
)
def test_a_refused_body_is_400_and_changes_nothing(sunshine_switchboard, sunshine_user, emulator, action, body):
    conversation_id = start(sunshine_switchboard, sunshine_user)
    emulator.control.flush_deliveries()
    before = conversation_of(sunshine_switchboard.app, conversation_id)
    assert error_of(sunshine_switchboard.act(conversation_id, action, **body), 400)[0] == "bad_request"
    emulator.control.flush_deliveries()
    assert conversation_of(sunshine_switchboard.app, conversation_id) == before
    assert not [
        e for e in sunshine_switchboard.events(sunshine_switchboard.bot) if e["type"].startswith("switchboard:")
    ]


def test_a_refused_reason_names_the_field(sunshine_switchboard, sunshine_user):
    conversation_id = start(sunshine_switchboard, sunshine_user)
    reply = sunshine_switchboard.act(conversation_id, "releaseControl", reason="closed")
    assert error_of(reply, 400) == ("bad_request", ".reason should be equal to one of the allowed values")


@pytest.mark.parametrize(
    "action, body", [("passControl", {"switchboardIntegration": "agent-desk"}), ("releaseControl", {})]
)
def test_pass_and_release_carry_their_reason_into_the_event(
    sunshine_switchboard, sunshine_user, emulator, action, body
):
    """[C] `reason` (ticketClosed, transferToEmail) is in the event's payload when the call gave one, else absent."""
    board = sunshine_switchboard
    conversation_id = start(board, sunshine_user)
    assert board.act(conversation_id, action, **body, reason="ticketClosed", metadata={"n": 1}).status == 200
    assert (
        board.act(conversation_id, "passControl", switchboardIntegration="bot").status == 200
    )  # back, without a reason
    emulator.control.flush_deliveries()
    events = [
        e["payload"]
        for e in board.events(board.bot)
        if e["type"] in ("switchboard:passControl", "switchboard:releaseControl")
    ]
    assert events[0]["reason"] == "ticketClosed" and events[0]["metadata"] == {"n": 1}
    assert "reason" not in events[-1] and len(events) == 2


def test_integration_scope_accepts_only_when_pending_and_releases_only_when_active(sunshine_switchboard, sunshine_user):
    """[C] 403 when the authenticated integration is not the pending one (accept) or the active one (release)."""
    board, app = sunshine_switchboard, sunshine_switchboard.app
    bot_key, desk_key = (
        integration_headers(app, board.bot.integration_id),
        integration_headers(app, board.desk.integration_id),
    )
    conversation_id = start(board, sunshine_user)
    path = f"conversations/{conversation_id}"
    assert error_of(app.request("POST", f"{path}/releaseControl", json={}, headers=desk_key), 403)[0] == "forbidden"
    assert error_of(app.request("POST", f"{path}/acceptControl", json={}, headers=desk_key), 403)[0] == "forbidden"
    assert (
        app.request("POST", f"{path}/offerControl", json={"switchboardIntegration": "next"}, headers=bot_key).status
        == 200
    )
    assert error_of(app.request("POST", f"{path}/acceptControl", json={}, headers=bot_key), 403)[0] == "forbidden"
    assert app.request("POST", f"{path}/acceptControl", json={}, headers=desk_key).status == 200
    assert error_of(app.request("POST", f"{path}/releaseControl", json={}, headers=bot_key), 403)[0] == "forbidden"
    assert app.request("POST", f"{path}/releaseControl", json={}, headers=desk_key).status == 200
    assert "activeSwitchboardIntegration" not in conversation_of(app, conversation_id)


def test_without_an_enabled_switchboard_actions_fail_by_event(
    sunshine_conversation: SunshineConversation, emulator, emulator_webhook_receiver
):
    app = sunshine_conversation.user.app
    emulator_webhook_receiver.sunshine_webhook(app)
    assert (
        app.request(
            "POST", f"conversations/{sunshine_conversation.id}/passControl", json={"switchboardIntegration": "next"}
        ).status
        == 200
    )
    emulator.control.flush_deliveries()
    [failure] = emulator_webhook_receiver.events("switchboard:passControl:failure")
    assert failure["payload"]["error"] == {
        "code": "switchboard_invalid_action",
        "message": "There is no enabled switchboard",
    }
