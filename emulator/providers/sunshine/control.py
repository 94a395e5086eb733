"""Who holds control of a conversation under the app's switchboard: the switchboard actions (spec tag
Switchboard Actions), the default switchboard integration, and which integrations' webhooks receive a
conversation's events while another one is in control (the one place where webhooks are filtered by control).

A conversation names its `activeSwitchboardIntegration` and, once one was offered control, its
`pendingSwitchboardIntegration`; every other switchboard integration is on standby.
"""

from __future__ import annotations

from dataclasses import dataclass

from .auth import INTEGRATION
from .call import Call
from .errors import conversation_not_found, forbidden
from .models import App, Conversation, Switchboard, SwitchboardIntegration
from .switchboard_bodies import AcceptControlBody, PassControlBody, ReleaseControlBody, TargetControlBody

NEXT = "next"  # [C] the keyword for the active switchboard integration's nextSwitchboardIntegrationId
# [I] the conversation events a switchboard routes; the others (conversation:create, user:*, client:*,
# switchboard:*) reach every subscribed webhook
ROUTED_TRIGGERS = frozenset(
    {
        "conversation:message",
        "conversation:postback",
        "conversation:read",
        "conversation:typing",
        "conversation:referral",
        "conversation:message:delivery:channel",
        "conversation:message:delivery:user",
        "conversation:message:delivery:failure",
    }
)


@dataclass(frozen=True)
class Failure:
    """Why an action could not be carried out: the `error` of its `:failure` event."""

    code: str
    message: str

    def public(self) -> dict:
        return {"code": self.code, "message": self.message}


INVALID_TARGET = Failure("switchboard_invalid_target", "Switchboard invalid target")  # [C]
ACTIVE_TARGET = Failure(
    "switchboard_invalid_target", "Cannot offer control to the active switchboard integration."
)  # [C]
NO_PENDING = Failure("switchboard_invalid_action", "There is no pendingSwitchboardIntegration")  # [C]
NOT_ENABLED = Failure("switchboard_invalid_action", "There is no enabled switchboard")  # [I] words


def enabled_switchboard(app: App) -> Switchboard | None:
    switchboard = app.switchboards[0] if app.switchboards else None
    return switchboard if switchboard is not None and switchboard.enabled else None


def assign_default(app: App, conversation: Conversation) -> None:
    """[C] a new conversation, and one without an active switchboard integration when its user is active
    again (created before the switchboard was enabled, released, or its integration deleted), goes to the
    switchboard's default integration. [I] silently: no event."""
    if conversation.activeSwitchboardIntegration is not None:
        return
    switchboard = enabled_switchboard(app)
    default = switchboard.member(switchboard.defaultSwitchboardIntegrationId) if switchboard else None
    if default is not None:
        conversation.activeSwitchboardIntegration = default.ref()


# --- webhook routing -----------------------------------------------------------------------------------


def routing(app: App) -> dict[str, bool] | None:
    """Integration id -> `deliverStandbyEvents` of its switchboard integration; None without an enabled
    switchboard ([C] a disabled switchboard's integrations receive every event). Read once per delivery batch."""
    switchboard = enabled_switchboard(app)
    if switchboard is None:
        return None
    return {member.integrationId: member.deliverStandbyEvents for member in switchboard.integrations}


def delivers(routes: dict[str, bool] | None, integration_id: str, event: dict) -> bool:
    """Whether an integration's webhooks get `event`: [C] an integration outside the switchboard gets all; a
    linked one gets a routed event of a conversation only while it is active there, or on standby with
    `deliverStandbyEvents`. Control is read from the event's own conversation (as it was when raised);
    [I] a pending integration is on standby, and with no active one every linked integration is."""
    if routes is None or event["type"] not in ROUTED_TRIGGERS:
        return True
    standby_events = routes.get(integration_id)
    if standby_events is None or standby_events:
        return True
    conversation = event["payload"].get("conversation") or {}
    active = conversation.get("activeSwitchboardIntegration")
    return active is not None and active["integrationId"] == integration_id


# --- switchboard actions ---------------------------------------------------------------------------------


def _conversation(call: Call, conversation_id: str) -> Conversation:
    conversation = call.in_app().conversations.get(conversation_id)
    if conversation is None:
        raise conversation_not_found()
    return conversation


def _announce(
    call: Call,
    trigger: str,
    conversation: Conversation,
    metadata: dict | None,
    failure: Failure | None = None,
    reason: str | None = None,
) -> None:
    payload: dict = {"conversation": conversation.truncated()}
    if failure is not None:
        payload["error"] = failure.public()
    if metadata is not None:
        payload["metadata"] = metadata  # [C] passed on in the action's events
    if reason is not None:
        payload["reason"] = reason  # [C] in the passControl and releaseControl events, "if applicable"
    call.emit(trigger, payload)


def _target(switchboard: Switchboard, conversation: Conversation, reference: str) -> SwitchboardIntegration | Failure:
    """[C] by id, name or integrationType, in that order; `next`: the active one's next; ambiguity fails."""
    members = switchboard.integrations
    if reference == NEXT:
        active = (
            switchboard.member(conversation.activeSwitchboardIntegration.id)
            if conversation.activeSwitchboardIntegration
            else None
        )
        found = switchboard.member(active.nextSwitchboardIntegrationId) if active else None  # [I] none active: no next
        return found or INVALID_TARGET
    for field in ("id", "name", "integrationType"):
        matches = [member for member in members if getattr(member, field) == reference]
        if len(matches) == 1:
            return matches[0]
        if matches:
            return INVALID_TARGET
    return INVALID_TARGET


def _resolve(call: Call, conversation: Conversation, reference: str) -> SwitchboardIntegration | Failure:
    switchboard = enabled_switchboard(call.in_app())
    return NOT_ENABLED if switchboard is None else _target(switchboard, conversation, reference)


def pass_control(call: Call, conversation_id: str, body: PassControlBody) -> None:
    """[C] the target becomes active, every other one standby. [I] a target that cannot be resolved answers
    200 and raises `switchboard:passControl:failure` ([I] without the `reason`, which its schema lacks);
    passing to the active one changes nothing, raises nothing."""
    conversation = _conversation(call, conversation_id)
    target = _resolve(call, conversation, body.switchboardIntegration)
    if isinstance(target, Failure):
        _announce(call, "switchboard:passControl:failure", conversation, body.metadata, target)
        return
    active = conversation.activeSwitchboardIntegration
    if active is not None and active.id == target.id and conversation.pendingSwitchboardIntegration is None:
        return
    conversation.activeSwitchboardIntegration, conversation.pendingSwitchboardIntegration = target.ref(), None
    _announce(call, "switchboard:passControl", conversation, body.metadata, reason=body.reason)


def offer_control(call: Call, conversation_id: str, body: TargetControlBody) -> None:
    """[C] the target becomes pending (replacing an earlier offer); never the active one."""
    conversation = _conversation(call, conversation_id)
    target = _resolve(call, conversation, body.switchboardIntegration)
    active = conversation.activeSwitchboardIntegration
    if not isinstance(target, Failure) and active is not None and active.id == target.id:
        target = ACTIVE_TARGET
    if isinstance(target, Failure):
        _announce(call, "switchboard:offerControl:failure", conversation, body.metadata, target)
        return
    conversation.pendingSwitchboardIntegration = target.ref()
    _announce(call, "switchboard:offerControl", conversation, body.metadata)


def accept_control(call: Call, conversation_id: str, body: AcceptControlBody) -> None:
    """[C] the pending one becomes active; under integration scope only the pending integration may accept (403)."""
    conversation = _conversation(call, conversation_id)
    pending = conversation.pendingSwitchboardIntegration
    if call.principal.scope == INTEGRATION and (
        pending is None or pending.integrationId != call.principal.integration_id
    ):
        raise forbidden("accept_not_pending")
    failure = NOT_ENABLED if enabled_switchboard(call.in_app()) is None else NO_PENDING if pending is None else None
    if failure is not None:
        _announce(call, "switchboard:acceptControl:failure", conversation, body.metadata, failure)
        return
    conversation.activeSwitchboardIntegration, conversation.pendingSwitchboardIntegration = pending, None
    _announce(call, "switchboard:acceptControl", conversation, body.metadata)


def release_control(call: Call, conversation_id: str, body: ReleaseControlBody) -> None:
    """[C] the conversation's switchboard state is nullified (no active, no pending: the spec's words, and its
    event omits `activeSwitchboardIntegration`), not handed to the releasing one's `nextSwitchboardIntegration`;
    under integration scope only the active integration may release (403). The next activity of the user gives
    control to the default integration (assign_default, the guide's default integration assignment)."""
    conversation = _conversation(call, conversation_id)
    active = conversation.activeSwitchboardIntegration
    if call.principal.scope == INTEGRATION and (
        active is None or active.integrationId != call.principal.integration_id
    ):
        raise forbidden("release_not_active")
    conversation.activeSwitchboardIntegration = conversation.pendingSwitchboardIntegration = None
    _announce(call, "switchboard:releaseControl", conversation, body.metadata, reason=body.reason)
