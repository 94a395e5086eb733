"""The app's switchboard and its switchboard integrations: what an app configures (spec tags Switchboards
and Switchboard Integrations). Who holds control of a conversation is control.py's business."""

from __future__ import annotations

from .call import Call
from .errors import SunshineError, bad_request, not_found
from .models import App, Switchboard, SwitchboardIntegration, new_id
from .switchboard_bodies import (
    SwitchboardIntegrationCreateBody,
    SwitchboardIntegrationUpdateBody,
    SwitchboardUpdateBody,
)

MAX_SWITCHBOARD_INTEGRATIONS = 10  # [C]


def switchboard_not_found() -> SunshineError:
    return not_found("switchboard_not_found", "Switchboard not found")  # [C]


def switchboard_integration_not_found() -> SunshineError:
    return not_found("switchboard_integration_not_found", "SwitchboardIntegration not found")  # [C]


def create(call: Call) -> Switchboard:
    """[C] one per app; [I] created disabled (the spec's example), with no integrations."""
    app = call.in_app()
    if app.switchboards:
        raise bad_request("Only one switchboard can be created per app", "second_switchboard")  # [C]
    switchboard = Switchboard()
    app.switchboards.append(switchboard)
    return switchboard


def find(call: Call, switchboard_id: str) -> Switchboard:
    found = next((s for s in call.in_app().switchboards if s.id == switchboard_id), None)
    if found is None:
        raise switchboard_not_found()
    return found


def update(call: Call, switchboard_id: str, body: SwitchboardUpdateBody) -> Switchboard:
    switchboard = find(call, switchboard_id)
    default_id = body.defaultSwitchboardIntegrationId or switchboard.defaultSwitchboardIntegrationId
    enabled = switchboard.enabled if body.enabled is None else body.enabled
    if body.defaultSwitchboardIntegrationId is not None and switchboard.member(default_id) is None:
        raise switchboard_integration_not_found()  # [I]
    if enabled and default_id is None:
        # [C] the spec's words for this 404 (listed under UpdateSwitchboardIntegration); [I] raised here
        raise not_found(
            "switchboard_integration_not_found",
            "Enabled switchboard must have an associated default switchboardIntegration",
        )
    switchboard.enabled, switchboard.defaultSwitchboardIntegrationId = enabled, default_id
    return switchboard


def delete(call: Call, switchboard_id: str) -> None:
    """[C] its switchboard integrations go with it; [I] so does every conversation's control state."""
    app = call.in_app()
    app.switchboards.remove(find(call, switchboard_id))
    for conversation in app.conversations.values():
        conversation.activeSwitchboardIntegration = conversation.pendingSwitchboardIntegration = None


def member(call: Call, switchboard_id: str, switchboard_integration_id: str) -> SwitchboardIntegration:
    found = find(call, switchboard_id).member(switchboard_integration_id)
    if found is None:
        raise switchboard_integration_not_found()
    return found


def _link(
    app: App, switchboard: Switchboard, body: SwitchboardIntegrationUpdateBody, own_id: str | None
) -> dict[str, str]:
    """`integrationId` and `integrationType` of a create or an update: a custom integration of the app by id,
    or [I] a type alone (an OAuth or Zendesk integration, which the emulator does not hold: a fresh id)."""
    if body.integrationId is not None:
        integration = app.integration(body.integrationId)
        if integration is None:
            raise not_found("integration_not_found", "Integration not found")  # [I] the code of the other routes
        if any(m.integrationId == integration.id and m.id != own_id for m in switchboard.integrations):
            raise bad_request("Integration is already linked to a switchboard integration", "integration_linked")  # [I]
        return {"integrationId": integration.id, "integrationType": integration.type}
    if body.integrationType is not None:
        linked = [i for i in app.integrations if i.type == body.integrationType]
        if len(linked) > 1:
            raise bad_request(
                f"More than one integration of type {body.integrationType}", "ambiguous_integration_type"
            )  # [C] ambiguity, [I] words
        return {"integrationId": linked[0].id if linked else new_id(), "integrationType": body.integrationType}
    return {}


def _check_fields(switchboard: Switchboard, body: SwitchboardIntegrationUpdateBody, own_id: str | None) -> None:
    if body.name is not None and any(m.name == body.name and m.id != own_id for m in switchboard.integrations):
        raise bad_request("A switchboard integration with this name already exists", "duplicate_name")  # [I]
    next_id = body.nextSwitchboardIntegrationId
    if next_id is not None and (next_id == own_id or switchboard.member(next_id) is None):
        raise bad_request(
            "nextSwitchboardIntegrationId should name another switchboard integration", "unknown_next"
        )  # [I]


def create_member(call: Call, switchboard_id: str, body: SwitchboardIntegrationCreateBody) -> SwitchboardIntegration:
    app = call.in_app()
    switchboard = find(call, switchboard_id)
    if len(switchboard.integrations) >= MAX_SWITCHBOARD_INTEGRATIONS:
        # [C]
        raise SunshineError(
            400,
            "too_many_switchboard_integrations",
            "Switchboard has reached the max number of switchboard integrations (10)",
        )
    _check_fields(switchboard, body, None)
    created = SwitchboardIntegration(
        name=body.name,
        **_link(app, switchboard, body, None),
        deliverStandbyEvents=True
        if body.deliverStandbyEvents is None
        else body.deliverStandbyEvents,  # [C] default true
        nextSwitchboardIntegrationId=body.nextSwitchboardIntegrationId,
        messageHistoryCount=body.messageHistoryCount,
    )
    switchboard.integrations.append(created)
    return created


def update_member(
    call: Call, switchboard_id: str, switchboard_integration_id: str, body: SwitchboardIntegrationUpdateBody
) -> SwitchboardIntegration:
    """[I] fields named in the body change (a null `nextSwitchboardIntegrationId` or `messageHistoryCount`
    clears it); conversations show the new name and link at once."""
    app = call.in_app()
    switchboard = find(call, switchboard_id)
    found = member(call, switchboard_id, switchboard_integration_id)
    _check_fields(switchboard, body, found.id)
    changes: dict = _link(app, switchboard, body, found.id)
    for name in ("name", "deliverStandbyEvents"):  # [C] neither is nullable (a null was refused)
        if getattr(body, name) is not None:
            changes[name] = getattr(body, name)
    for name in ("nextSwitchboardIntegrationId", "messageHistoryCount"):  # [C] nullable: a null clears it
        if name in body.model_fields_set:
            changes[name] = getattr(body, name)
    updated = found.model_copy(update=changes)
    switchboard.integrations[switchboard.integrations.index(found)] = updated
    ref = updated.ref()
    for conversation in app.conversations.values():
        if (
            conversation.activeSwitchboardIntegration is not None
            and conversation.activeSwitchboardIntegration.id == ref.id
        ):
            conversation.activeSwitchboardIntegration = ref
        if (
            conversation.pendingSwitchboardIntegration is not None
            and conversation.pendingSwitchboardIntegration.id == ref.id
        ):
            conversation.pendingSwitchboardIntegration = ref
    return updated


def delete_member(call: Call, switchboard_id: str, switchboard_integration_id: str) -> None:
    """[C] forbidden for the default one and for one another's `nextSwitchboardIntegrationId` names ([I] 400);
    conversations it controlled get a new one at their next activity (control.py), [I] an offer to it lapses."""
    app = call.in_app()
    switchboard = find(call, switchboard_id)
    found = member(call, switchboard_id, switchboard_integration_id)
    if switchboard.defaultSwitchboardIntegrationId == found.id:
        raise bad_request("Cannot delete the default switchboard integration", "delete_default")  # [I] words
    if any(m.nextSwitchboardIntegrationId == found.id for m in switchboard.integrations):
        raise bad_request(
            "Cannot delete a switchboard integration referenced by nextSwitchboardIntegrationId", "delete_next"
        )  # [I] words
    switchboard.integrations.remove(found)
    for conversation in app.conversations.values():
        if (
            conversation.activeSwitchboardIntegration is not None
            and conversation.activeSwitchboardIntegration.id == found.id
        ):
            conversation.activeSwitchboardIntegration = None
        if (
            conversation.pendingSwitchboardIntegration is not None
            and conversation.pendingSwitchboardIntegration.id == found.id
        ):
            conversation.pendingSwitchboardIntegration = None
