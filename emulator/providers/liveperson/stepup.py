"""Step-up authentication: an unauthenticated consumer's open conversation continues as authenticated.

The public material does not show the wire details (reference section 7). The emulator's design, kept in
this one module so it is easy to change [I]:

- The consumer presents its current unauthenticated LP JWT as `Authorization: jwt <LP JWT>` (the scheme
  the consumer WebSocket takes) on the authenticated exchange it makes anyway:
  `POST {idp}/api/account/{a}/app/{authConnectorId}/authenticate?v=3.0` (implicit `{"id_token"}` or code
  flow `{"code", "redirect_uri"}`) or the legacy `POST {idp}/api/account/{a}/authenticate` `{"authCode"}`.
- With the account's step-up features on (`Common.Async_Messaging`, `Messaging.Un_Auth_Messaging`,
  `Shark.Consumer_Journey_Identity_Only_Support`), the unauthenticated consumer's open conversation moves to
  the authenticated consumer with every event and sequence; its details carry
  `stepUp: {fromConsumerId, at}`. An open conversation the authenticated consumer already had is closed
  (`closeReason` SYSTEM), so the consumer keeps one open conversation.
- Without the features nothing moves: the authenticated consumer starts a new conversation, as in
  production. Without the header it is a plain authenticated login.
- A presented JWT that is not a live unauthenticated LP JWT of the account refuses the whole exchange
  with the IDP's 9007 answer, and nothing changes.
- Logout is client-side: the consumer drops its authenticated JWT and gets a fresh unauthenticated identity
  (`anonymous/authorize`), which sees none of the authenticated conversations; logging in again as the same
  brand `sub` gives the same authenticated consumer, which sees them again.
"""

from __future__ import annotations

from werkzeug.datastructures import Headers

from ...core.keys import TokenError
from ...core.store import Namespace
from .conversations import Conversations
from .identity import verify_lp_consumer_jwt
from .models import Account

STEP_UP_SCHEME = "jwt"  # `Authorization: jwt <unauthenticated LP JWT>` on the authenticated exchange [I]
UNAUTHENTICATED_KINDS = ("anonymous", "signup")


class StepUpRefused(Exception):
    """The presented unauthenticated JWT cannot be stepped up; `reason` says why (X-Emulator-Reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def presented_unauth_jwt(headers: Headers) -> str | None:
    """The unauthenticated LP JWT a step-up request presents, or None for a plain login."""
    scheme, _, token = headers.get("Authorization", "").strip().partition(" ")
    if scheme.lower() != STEP_UP_SCHEME:
        return None
    return token.strip() or None


def verified_unauth_consumer(namespace: Namespace, account: Account, token: str) -> str:
    """The consumer id of a live LP JWT of the account (StepUpRefused otherwise): the signature check, which
    needs no lock. `check_unauthenticated` then checks the consumer, under the lock, before anything changes."""
    try:
        return verify_lp_consumer_jwt(namespace, account, token)["sub"]
    except TokenError as error:
        raise StepUpRefused(f"step_up_{error.reason}") from None


def check_unauthenticated(account: Account, consumer_id: str) -> None:
    """StepUpRefused unless the consumer is one of the account's unauthenticated consumers."""
    consumer = account.consumers.get(consumer_id)
    if consumer is None or consumer.kind not in UNAUTHENTICATED_KINDS:
        raise StepUpRefused("step_up_not_unauthenticated")


def step_up(
    conversations: Conversations, account: Account, unauth_consumer_id: str, authenticated_consumer_id: str
) -> bool:
    """Move the unauthenticated consumer's open conversation to the authenticated consumer when the
    account allows step-up; True when a conversation moved. Changes are in `conversations.changes`."""
    if not account.step_up_enabled():
        return False
    conversation = conversations.open_of(unauth_consumer_id)
    if conversation is None:
        return False
    previous = conversations.open_of(authenticated_consumer_id)
    if previous is not None:
        conversations.close(previous, role="SYSTEM")
    conversations.move_to(conversation, authenticated_consumer_id)
    return True
