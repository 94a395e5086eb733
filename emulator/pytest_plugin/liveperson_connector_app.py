"""pytest fixture `lp_connector_app`: an app installation of `lp_account` whose Connector API webhooks all
post to a local receiver, with the connector's side of a conversation (open, send, close) and a wait for
signed notifications. Registered by emulator.pytest_plugin."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from .lazy import LazyName
from .liveperson import LivePersonAccount
from .liveperson_connector import LivePersonAppJwt, LivePersonConsumerJws, issue_lp_app_jwt
from .webhooks import ReceivedRequest, WebhookReceiver

CONVERSATION_PATH = "/api/account/{account}/messaging/consumer/conversation"

liveperson_models = LazyName("emulator.providers.liveperson.models")  # loaded when a fixture runs
liveperson_webhooks = LazyName("emulator.providers.liveperson.webhooks")


def notification_key(body: Any) -> str | None:
    """The `capabilities.webhooks` key a notification was sent for: its `type`, plus `.` and the event
    type for a messaging event (`ms.MessagingEventNotification.ContentEvent`)."""
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        return None
    changes = (body.get("body") or {}).get("changes") or [{}]
    event = changes[0].get("event") if isinstance(changes[0], dict) else None
    return f"{body['type']}.{event['type']}" if isinstance(event, dict) and "type" in event else body["type"]


@dataclass
class LivePersonConnectorApp:
    """An installation of `account` (`client_id`, `client_secret`) whose five webhooks post to `receiver`;
    `app_jwt` is an AppJWT of it."""

    account: LivePersonAccount
    client_id: str
    client_secret: str
    receiver: WebhookReceiver
    app_jwt: LivePersonAppJwt

    def consumer(self, ext_consumer_id: str | None = None) -> LivePersonConsumerJws:
        """A ConsumerJWS for a (fresh) external consumer, obtained with this app's AppJWT."""
        return self.app_jwt.issue_consumer_jws(ext_consumer_id)

    def open_conversation(self, consumer: LivePersonConsumerJws, **request_body: Any) -> str:
        """`SetUserProfile` + `ConsumerRequestConversation` through the Connector API: the conversation's id."""
        body = [
            {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}},
            {
                "kind": "req",
                "id": "2",
                "type": "cm.ConsumerRequestConversation",
                "body": {"brandId": self.account.id, **request_body},
            },
        ]
        reply = self._post("", consumer, body)
        return reply.json()[1]["body"]["conversationId"]

    def send(self, consumer: LivePersonConsumerJws, conversation_id: str, event: dict) -> dict:
        """`ms.PublishEvent` of `event` (e.g. `{"type": "ContentEvent", "contentType": "text/plain", "message": "hi"}`)."""
        body = {
            "kind": "req",
            "id": str(uuid.uuid4()),
            "type": "ms.PublishEvent",
            "body": {"dialogId": conversation_id, "event": event},
        }
        return self._post("/send", consumer, body).json()["body"]

    def say(self, consumer: LivePersonConsumerJws, conversation_id: str, text: str) -> int:
        """A text ContentEvent from the consumer: its sequence."""
        return self.send(
            consumer, conversation_id, {"type": "ContentEvent", "contentType": "text/plain", "message": text}
        )["sequence"]

    def close(self, consumer: LivePersonConsumerJws, conversation_id: str) -> None:
        field = {"field": "ConversationStateField", "conversationState": "CLOSE"}
        body = {
            "kind": "req",
            "id": "close",
            "type": "cm.UpdateConversationField",
            "body": {"conversationId": conversation_id, "conversationField": field},
        }
        self._post("/send", consumer, body)

    def _post(self, tail: str, consumer: LivePersonConsumerJws, body: Any) -> Any:
        path = CONVERSATION_PATH.format(account=self.account.id) + tail
        reply = self.account.handle.post(path, params={"v": "3"}, json=body, headers=consumer.headers())
        if reply.status != 200:
            raise AssertionError(f"the Connector API refused: {reply.status} {reply.text}")
        return reply

    # --- what the webhooks received ------------------------------------------------------------------

    def verified(self, delivery: ReceivedRequest) -> bool:
        """Whether the delivery names this app and carries the signature of its exact body bytes."""
        headers = {name.lower(): value for name, value in delivery.headers.items()}
        expected = liveperson_webhooks.signature(self.client_secret, delivery.raw)
        return (
            headers.get(liveperson_webhooks.CLIENT_HEADER) == self.client_id
            and headers.get(liveperson_webhooks.SIGNATURE_HEADER) == expected
        )

    def notifications(self, key: str | None = None) -> list[dict]:
        """Every notification body received so far, oldest first, optionally only those sent for `key`
        (`cqm.ExConversationChangeNotification`, `ms.MessagingEventNotification.ContentEvent`, ...)."""
        return [d.body for d in self.receiver.deliveries if key is None or notification_key(d.body) == key]

    def wait_for(
        self, key: str, matching: Callable[[dict], bool] = lambda body: True, count: int = 1, timeout: float = 5.0
    ) -> dict:
        """Wait until `count` notifications sent for `key` (and `matching`) arrived; the latest of them.
        Fails the test if any delivery's signature does not verify."""

        def arrived(deliveries: list[ReceivedRequest]) -> bool:
            return sum(1 for d in deliveries if notification_key(d.body) == key and matching(d.body)) >= count

        deliveries = self.receiver.wait_until(arrived, timeout)
        unsigned = [d.body for d in deliveries if not self.verified(d)]
        if unsigned:
            pytest.fail(f"deliveries without a valid signature: {unsigned}")
        return [d.body for d in deliveries if notification_key(d.body) == key and matching(d.body)][count - 1]


def install_connector_app(account: LivePersonAccount, receiver_url: str, max_retries: int = 0) -> tuple[str, str]:
    """Seed an installation whose five webhooks post to `receiver_url` into the account (keeping what it
    holds): its `(client_id, client_secret)`."""
    control = account.handle.control
    document = control.export_state()["namespaces"][account.handle.namespace]["providers"]["liveperson"]["accounts"][
        account.id
    ]
    client_id, client_secret = str(uuid.uuid4()), secrets.token_hex(13)
    webhooks = {
        key: {"endpoint": receiver_url, "max_retries": max_retries} for key in liveperson_models.WEBHOOK_EVENT_TYPES
    }
    app = {
        "client_id": client_id,
        "client_secret": client_secret,
        "client_name": "lp_connector_app",
        "capabilities": {"webhooks": webhooks},
    }
    document["apps"] = [*document.get("apps", []), app]
    control.seed({"liveperson": {"accounts": [document]}})
    return client_id, client_secret


@pytest.fixture
def lp_connector_app(lp_account: LivePersonAccount) -> Iterator[LivePersonConnectorApp]:
    """An app installation of `lp_account` whose webhooks (all five event types) post to a local receiver:
    `.client_id`, `.client_secret`, `.app_jwt`, `.consumer()`, `.open_conversation(consumer)`, `.say(...)`,
    `.send(...)`, `.close(...)`, `.receiver`, `.notifications(key)`, `.wait_for(key)` (signatures verified)."""
    receiver = WebhookReceiver()
    try:
        client_id, client_secret = install_connector_app(lp_account, receiver.url)
        app_jwt = issue_lp_app_jwt(lp_account, client_id, client_secret)
        yield LivePersonConnectorApp(lp_account, client_id, client_secret, receiver, app_jwt)
    finally:
        receiver.close()
