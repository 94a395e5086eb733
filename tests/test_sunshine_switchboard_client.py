"""The bot-to-desk handoff with the official Python client `sunshine-conversations-client` 17.0.1 against the
emulator's HTTP server: the switchboard set up through the client's Switchboards and Switchboard Integrations
APIs, then the bot passes control to the agent desk with its own integration key, only the desk's webhook
gets the user's messages, the desk releases control with its key, and the bot gets them again; each switch
raises its event. Deliveries are flushed, never waited for."""

from __future__ import annotations

import json

import pytest
import sunshine_conversations_client as sc
from sunshine_conversations_client.exceptions import BadRequestException, ForbiddenException, NotFoundException

from emulator.pytest_plugin import EmulatorHandle, SunshineApp, SunshineUser
from emulator.pytest_plugin.sunshine_switchboard import SunshineSwitchboard, SwitchboardMember


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    """The client needs a socket: every Sunshine fixture of this module talks to the real HTTP server."""
    return emulator_server


def app_client(app: SunshineApp) -> sc.ApiClient:
    return sc.ApiClient(app.client_configuration())


def integration_client(app: SunshineApp, integration_id: str) -> sc.ApiClient:
    """The client with Basic auth of a fresh `int_` key of the integration (what a bot or a desk holds)."""
    key = (
        sc.CustomIntegrationApiKeysApi(app_client(app))
        .create_custom_integration_key(app.id, integration_id, sc.IntegrationApiKey(display_name="own key"))
        .key
    )
    return sc.ApiClient(sc.Configuration(host=app.handle.base_url, username=key.id, password=key.secret))


def error_of(raised: pytest.ExceptionInfo) -> dict:
    [error] = json.loads(raised.value.body)["errors"]
    return error


def test_switchboard_set_up_through_the_client(sunshine_app: SunshineApp) -> None:
    api = app_client(sunshine_app)
    boards, members = sc.SwitchboardsApi(api), sc.SwitchboardIntegrationsApi(api)
    made = sunshine_app.request(
        "POST",
        "integrations",
        json={"type": "custom", "webhooks": [{"target": "https://example.com/bot", "triggers": ["*"]}]},
    )
    bot_integration_id = made.json()["integration"]["id"]

    switchboard = boards.create_switchboard(sunshine_app.id).switchboard
    assert switchboard.enabled is False and len(switchboard.id) == 24
    with pytest.raises(BadRequestException) as second:
        boards.create_switchboard(sunshine_app.id)
    assert error_of(second) == {"code": "bad_request", "title": "Only one switchboard can be created per app"}

    bot = members.create_switchboard_integration(
        sunshine_app.id,
        switchboard.id,
        sc.SwitchboardIntegrationCreateBody(
            name="bot", integration_id=bot_integration_id, deliver_standby_events=False
        ),
    ).switchboard_integration
    desk = members.create_switchboard_integration(
        sunshine_app.id,
        switchboard.id,
        sc.SwitchboardIntegrationCreateBody(
            name="zd-agentWorkspace",
            integration_type="zd:agentWorkspace",
            next_switchboard_integration_id=bot.id,
            message_history_count=5,
        ),
    ).switchboard_integration
    assert (
        bot.integration_type,
        bot.deliver_standby_events,
        desk.deliver_standby_events,
        desk.message_history_count,
    ) == ("custom", False, True, 5)
    updated = members.update_switchboard_integration(
        sunshine_app.id,
        switchboard.id,
        bot.id,
        sc.SwitchboardIntegrationUpdateBody(next_switchboard_integration_id=desk.id),
    )
    assert updated.switchboard_integration.next_switchboard_integration_id == desk.id
    listed = members.list_switchboard_integrations(sunshine_app.id, switchboard.id).switchboard_integrations
    assert [m.id for m in listed] == [bot.id, desk.id]

    enabled = boards.update_switchboard(
        sunshine_app.id,
        switchboard.id,
        sc.SwitchboardUpdateBody(enabled=True, default_switchboard_integration_id=bot.id),
    ).switchboard
    assert (enabled.enabled, enabled.default_switchboard_integration_id) == (True, bot.id)
    assert [s.id for s in boards.list_switchboards(sunshine_app.id).switchboards] == [switchboard.id]

    members.update_switchboard_integration(
        sunshine_app.id,
        switchboard.id,
        bot.id,
        sc.SwitchboardIntegrationUpdateBody(next_switchboard_integration_id=None),
    )
    assert members.delete_switchboard_integration(sunshine_app.id, switchboard.id, desk.id) == {}
    with pytest.raises(NotFoundException) as gone:
        members.delete_switchboard_integration(sunshine_app.id, switchboard.id, desk.id)
    assert error_of(gone)["code"] == "switchboard_integration_not_found"
    assert boards.delete_switchboard(sunshine_app.id, switchboard.id) == {}
    with pytest.raises(NotFoundException) as missing:
        boards.update_switchboard(sunshine_app.id, switchboard.id, sc.SwitchboardUpdateBody(enabled=False))
    assert error_of(missing) == {"code": "switchboard_not_found", "title": "Switchboard not found"}


def user_says(api: sc.ApiClient, app_id: str, conversation_id: str, user: SunshineUser, text: str) -> None:
    message = sc.MessagePost(
        author=sc.Author(type="user", user_id=user.id), content=sc.Content(sc.TextMessage(type="text", text=text))
    )
    sc.MessagesApi(api).post_message(app_id, conversation_id, message)


def received(board: SunshineSwitchboard, member: SwitchboardMember) -> list[str]:
    return [e["payload"]["message"]["content"]["text"] for e in board.events(member, "conversation:message")]


def test_bot_to_desk_handoff_and_back(
    sunshine_switchboard: SunshineSwitchboard, sunshine_user: SunshineUser, emulator_backend: EmulatorHandle
) -> None:
    board, app = sunshine_switchboard, sunshine_switchboard.app
    api = app_client(app)
    bot_api, desk_api = (
        integration_client(app, board.bot.integration_id),
        integration_client(app, board.desk.integration_id),
    )
    participant = sc.ParticipantSubSchema(sc.ParticipantWithUserId(user_id=sunshine_user.id))
    conversation = (
        sc.ConversationsApi(api)
        .create_conversation(app.id, sc.ConversationCreateBody(type="personal", participants=[participant]))
        .conversation
    )
    assert conversation.active_switchboard_integration.name == "bot"  # the default takes every new conversation

    user_says(api, app.id, conversation.id, sunshine_user, "I need a human")
    assert (
        sc.SwitchboardActionsApi(bot_api).pass_control(
            app.id, conversation.id, sc.PassControlBody(switchboard_integration="next", metadata={"topic": "billing"})
        )
        == {}
    )
    shown = sc.ConversationsApi(api).get_conversation(app.id, conversation.id).conversation
    assert (shown.active_switchboard_integration.id, shown.active_switchboard_integration.integration_id) == (
        board.desk.switchboard_integration_id,
        board.desk.integration_id,
    )
    user_says(api, app.id, conversation.id, sunshine_user, "hello agent")
    with pytest.raises(ForbiddenException):  # only the integration in control may release it
        sc.SwitchboardActionsApi(bot_api).release_control(app.id, conversation.id)
    assert (
        sc.SwitchboardActionsApi(desk_api).release_control(
            app.id, conversation.id, sc.ReleaseControlBody(metadata={"solved": True})
        )
        == {}
    )
    assert (
        sc.ConversationsApi(api).get_conversation(app.id, conversation.id).conversation.active_switchboard_integration
        is None
    )
    user_says(api, app.id, conversation.id, sunshine_user, "one more question")
    emulator_backend.control.flush_deliveries()

    assert received(board, board.bot) == ["I need a human", "one more question"]
    assert received(board, board.desk) == ["hello agent"]
    for member in (board.bot, board.desk):
        [passed] = board.events(member, "switchboard:passControl")
        assert passed["payload"]["conversation"]["activeSwitchboardIntegration"]["name"] == "agent-desk"
        assert passed["payload"]["metadata"] == {"topic": "billing"}
        [released] = board.events(member, "switchboard:releaseControl")
        assert "activeSwitchboardIntegration" not in released["payload"]["conversation"] and released["payload"][
            "metadata"
        ] == {"solved": True}
    switches = [
        e["type"]
        for e in board.events(board.bot)
        if e["type"].startswith("switchboard:") or e["type"] == "conversation:message"
    ]
    assert switches == [
        "conversation:message",
        "switchboard:passControl",
        "switchboard:releaseControl",
        "conversation:message",
    ]
    # the events parse as the client's own models
    sc.SwitchboardPassControl.from_dict(board.events(board.desk, "switchboard:passControl")[0])
    sc.SwitchboardReleaseControl.from_dict(board.events(board.desk, "switchboard:releaseControl")[0])


def test_offer_and_accept_with_the_client(
    sunshine_switchboard: SunshineSwitchboard, sunshine_user: SunshineUser, emulator_backend: EmulatorHandle
) -> None:
    board, app = sunshine_switchboard, sunshine_switchboard.app
    api = app_client(app)
    desk_api = integration_client(app, board.desk.integration_id)
    participant = sc.ParticipantSubSchema(sc.ParticipantWithUserId(user_id=sunshine_user.id))
    conversation = (
        sc.ConversationsApi(api)
        .create_conversation(app.id, sc.ConversationCreateBody(type="personal", participants=[participant]))
        .conversation
    )
    actions = sc.SwitchboardActionsApi(api)
    assert (
        actions.offer_control(app.id, conversation.id, sc.OfferControlBody(switchboard_integration="agent-desk")) == {}
    )
    assert (
        sc.ConversationsApi(api)
        .get_conversation(app.id, conversation.id)
        .conversation.pending_switchboard_integration.name
        == "agent-desk"
    )
    assert (
        sc.SwitchboardActionsApi(desk_api).accept_control(
            app.id, conversation.id, sc.AcceptControlBody(metadata={"agent": "Ann"})
        )
        == {}
    )
    shown = sc.ConversationsApi(api).get_conversation(app.id, conversation.id).conversation
    assert shown.active_switchboard_integration.name == "agent-desk" and shown.pending_switchboard_integration is None
    with pytest.raises(NotFoundException):
        actions.pass_control(app.id, "0" * 24, sc.PassControlBody(switchboard_integration="bot"))
    emulator_backend.control.flush_deliveries()
    sc.SwitchboardOfferControl.from_dict(board.events(board.bot, "switchboard:offerControl")[0])
    accepted = sc.SwitchboardAcceptControl.from_dict(board.events(board.bot, "switchboard:acceptControl")[0])
    assert accepted.payload.conversation.active_switchboard_integration.name == "agent-desk"


def test_the_reason_of_a_pass_and_a_release_reaches_their_events(
    sunshine_switchboard: SunshineSwitchboard, sunshine_user: SunshineUser, emulator_backend: EmulatorHandle
) -> None:
    """[C] the client's PassControlBody and ReleaseControlBody carry `reason` (ticketClosed, transferToEmail);
    the spec's switchboard:passControl and switchboard:releaseControl payloads echo it."""
    board, app = sunshine_switchboard, sunshine_switchboard.app
    api = app_client(app)
    participant = sc.ParticipantSubSchema(sc.ParticipantWithUserId(user_id=sunshine_user.id))
    conversation = (
        sc.ConversationsApi(api)
        .create_conversation(app.id, sc.ConversationCreateBody(type="personal", participants=[participant]))
        .conversation
    )
    actions = sc.SwitchboardActionsApi(api)
    assert (
        actions.pass_control(
            app.id, conversation.id, sc.PassControlBody(switchboard_integration="next", reason="transferToEmail")
        )
        == {}
    )
    assert actions.release_control(app.id, conversation.id, sc.ReleaseControlBody(reason="ticketClosed")) == {}
    emulator_backend.control.flush_deliveries()
    passed = sc.SwitchboardPassControl.from_dict(board.events(board.bot, "switchboard:passControl")[0])
    released = sc.SwitchboardReleaseControl.from_dict(board.events(board.bot, "switchboard:releaseControl")[0])
    assert (passed.payload.reason, released.payload.reason) == ("transferToEmail", "ticketClosed")
    assert passed.payload.metadata is None and released.payload.conversation.active_switchboard_integration is None
