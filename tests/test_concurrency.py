"""Many clients at once against ONE real server (`emulator_server`, waitress with its thread pool).

16 threads x 50 requests, started together: Sunshine messages posted into the same few conversations,
LivePerson external-JWT refreshes (`anonymous/authorize` with `{"id_token"}`) on the same account, and
Mindbehind client tokens issued on the same channel for a few shared clients. Afterwards:

- no request got a 5xx or the `X-Emulator-Unhandled` mark;
- every Sunshine message is listed exactly once (ids unique, as many as were accepted), `received` never
  goes back in a conversation's listing, and each thread's messages appear in the order it posted them;
- every refresh kept the consumer (`sub`) and gave a token of its own (`jti`);
- each Mindbehind client exists once in its company;
- the journal holds one entry per request, with the status the client saw, and one event per message;
- exports read during the burst are consistent snapshots (the message count never goes back), and the
  final export imports into a fresh emulator.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests

from emulator.app import create_app
from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, MindbehindChannel, SunshineApp
from emulator.web import UNHANDLED_HEADER

THREADS = 16
REQUESTS_PER_THREAD = 50
CONVERSATIONS = 3
SHARED_CLIENTS = 4
TIME_LIMIT_SECONDS = 30.0  # the burst takes a few seconds; this only stops a deadlock from hanging the run
TOKEN_PATH = "/external/v1/incoming/mbWebChat/token"


@pytest.fixture
def emulator_backend(emulator_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_server  # the provider fixtures seed the server the threads call


@dataclass
class Outcome:
    """What one thread sent and saw."""

    thread: int
    statuses: list[tuple[str, int]] = field(default_factory=list)  # (provider, status) per request
    problems: list[str] = field(default_factory=list)
    messages: list[tuple[str, str, str]] = field(default_factory=list)  # (conversation, id, text), in posting order
    tokens: list[str] = field(default_factory=list)


def claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def burst(
    base_url: str,
    app: SunshineApp,
    conversations: list[str],
    users: list[str],
    account: LivePersonAccount,
    first_token: str,
    channel: MindbehindChannel,
    thread: int,
    start: threading.Barrier,
) -> Outcome:
    outcome = Outcome(thread)
    session = requests.Session()  # one keep-alive connection per thread, as a client pool would hold
    token = first_token
    start.wait()
    for i in range(REQUESTS_PER_THREAD):
        kind = (thread + i) % 3
        if kind == 0:
            n = (thread + i) % CONVERSATIONS
            text = f"t{thread}-m{i}"
            author = {"type": "user", "userId": users[n]} if i % 2 else {"type": "business"}
            reply = session.post(
                f"{base_url}{app.path(f'conversations/{conversations[n]}/messages')}",
                json={"author": author, "content": {"type": "text", "text": text}},
                headers=app.basic_headers(),
                timeout=10,
            )
            provider = "sunshine"
            if reply.status_code == 201:
                (message,) = reply.json()["messages"]
                outcome.messages.append((conversations[n], message["id"], text))
        elif kind == 1:
            reply = session.post(
                f"{base_url}{account.idp_path('anonymous/authorize')}", json={"id_token": token}, timeout=10
            )
            provider = "liveperson"
            if reply.status_code == 200:
                token = reply.json()["token"]
                outcome.tokens.append(token)
        else:
            body = {"clientID": f"shared-{(thread + i) % SHARED_CLIENTS}", "channelID": channel.channel_id}
            reply = session.post(
                f"{base_url}{TOKEN_PATH}", json=body, headers={"apiToken": channel.management_token}, timeout=10
            )
            provider = "mindbehind"
        outcome.statuses.append((provider, reply.status_code))
        expected = {"sunshine": 201, "liveperson": 200, "mindbehind": 200}[provider]
        if reply.status_code != expected or UNHANDLED_HEADER in reply.headers:
            outcome.problems.append(
                f"{provider} {reply.status_code} {reply.headers.get(UNHANDLED_HEADER)} {reply.text[:200]}"
            )
    session.close()
    return outcome


def message_count(state: dict, app_id: str) -> int:
    (namespace_state,) = state["namespaces"].values()
    app = namespace_state["providers"]["sunshine"]["apps"][app_id]
    return sum(len(conversation["messages"]) for conversation in _as_list(app["conversations"]))


def export_while_busy(control: Any, app_id: str, start: threading.Barrier, done: threading.Event) -> list[int]:
    """Export the namespace (and read its journal) over and over while the burst runs: the message count
    of each export, in order."""
    start.wait()
    counts = []
    while not done.is_set():
        counts.append(message_count(control.export_state(), app_id))
        control.journal(limit=10)
    return counts


def listed_messages(app: SunshineApp, conversation_id: str) -> list[dict]:
    """Every message of the conversation, oldest first, through the API's pages (newest page first)."""
    messages: list[dict] = []
    params: dict[str, str] = {}
    while True:
        reply = app.request("GET", f"conversations/{conversation_id}/messages", params=params)
        assert reply.status == 200, reply.text
        page = reply.json()
        messages[:0] = page["messages"]
        cursor = page["meta"].get("beforeCursor")
        if not page["meta"]["hasMore"] or cursor is None:
            return messages
        params = {"page[before]": cursor}


def test_a_burst_of_parallel_clients_leaves_consistent_state(
    emulator_server: EmulatorHandle,
    lp_account: LivePersonAccount,
    mindbehind_channel: MindbehindChannel,
    sunshine_app: SunshineApp,
) -> None:
    base_url = emulator_server.base_url
    assert base_url is not None
    users, conversations = [], []
    for n in range(CONVERSATIONS):
        user = sunshine_app.request("POST", "users", json={"externalId": f"burst-user-{n}"}).json()["user"]
        body = {"type": "personal", "participants": [{"userId": user["id"]}]}
        conversations.append(sunshine_app.request("POST", "conversations", json=body).json()["conversation"]["id"])
        users.append(user["id"])
    first_token = lp_account.issue_ext_jwt()
    consumer = claims(first_token)["sub"]
    control = emulator_server.control
    control.clear_journal()

    start = threading.Barrier(THREADS + 1)
    done = threading.Event()
    began = time.monotonic()
    with ThreadPoolExecutor(THREADS + 1) as pool:
        futures = [
            pool.submit(
                burst,
                base_url,
                sunshine_app,
                conversations,
                users,
                lp_account,
                first_token,
                mindbehind_channel,
                thread,
                start,
            )
            for thread in range(THREADS)
        ]
        snapshots = pool.submit(export_while_busy, control, sunshine_app.id, start, done)
        try:
            outcomes = [future.result(timeout=TIME_LIMIT_SECONDS) for future in futures]
        finally:
            done.set()
        counts = snapshots.result(timeout=TIME_LIMIT_SECONDS)
    elapsed = time.monotonic() - began
    journal = control.journal()

    # every answer is the one expected, none a crash
    problems = [problem for outcome in outcomes for problem in outcome.problems]
    assert problems == [], problems[:10]
    statuses = [entry for outcome in outcomes for entry in outcome.statuses]
    assert len(statuses) == THREADS * REQUESTS_PER_THREAD
    assert elapsed < TIME_LIMIT_SECONDS

    # the exports taken during the burst were whole snapshots: the count of messages never went back
    assert (
        len(counts) >= 2
        and counts == sorted(counts)
        and counts[-1] <= len([m for outcome in outcomes for m in outcome.messages])
    ), counts

    # Sunshine: each accepted message listed once, in an order consistent with each thread's posting order
    posted = [message for outcome in outcomes for message in outcome.messages]
    assert len({message_id for _, message_id, _ in posted}) == len(posted)
    for conversation_id in conversations:
        listing = listed_messages(sunshine_app, conversation_id)
        ids = [message["id"] for message in listing]
        mine = [message_id for conv, message_id, _ in posted if conv == conversation_id]
        assert len(ids) == len(set(ids)) and sorted(ids) == sorted(mine), f"{len(ids)} listed, {len(mine)} posted"
        received = [message["received"] for message in listing]
        assert received == sorted(received), "`received` goes back in the listing"
        position = {message_id: index for index, message_id in enumerate(ids)}
        texts = {message["id"]: message["content"]["text"] for message in listing}
        for outcome in outcomes:
            own = [message_id for conv, message_id, text in outcome.messages if conv == conversation_id]
            assert [position[m] for m in own] == sorted(position[m] for m in own), (
                f"thread {outcome.thread}: out of order"
            )
            assert all(texts[m] == text for conv, m, text in outcome.messages if conv == conversation_id)

    # LivePerson: every refresh is the same consumer with a token of its own
    tokens = [token for outcome in outcomes for token in outcome.tokens]
    assert tokens and {claims(token)["sub"] for token in tokens} == {consumer}
    jtis = [claims(token)["jti"] for token in tokens]
    assert len(set(jtis)) == len(jtis)

    # Mindbehind: the shared clients exist once each
    state = control.export_state()
    (namespace_state,) = state["namespaces"].values()
    (company,) = _as_list(namespace_state["providers"]["mindbehind"]["companies"])
    client_ids = [client["clientID"] for client in _as_list(company["clients"])]
    assert sorted(client_ids) == sorted(f"shared-{n}" for n in range(SHARED_CLIENTS))

    # the journal: one entry per request, with the status the client saw, and one event per message
    requests_seen = [(entry["provider"], entry["status"]) for entry in journal if entry["method"] == "POST"]
    assert Counter(requests_seen) == Counter(statuses)
    events = Counter(entry["path"] for entry in journal if entry["method"] == "EVENT")
    assert events == Counter({"conversation:message": len(posted)})

    # the export is a valid state: a fresh emulator takes it whole
    imported = create_app().test_client().post("/__emulator/state", json=state)
    assert imported.status_code == 200, imported.get_data(as_text=True)[:500]


def _as_list(items: Any) -> list:
    return list(items.values()) if isinstance(items, dict) else list(items)


LP_THREADS = 12
LP_SENDS_PER_THREAD = 30
SEND_PATH = "messaging/consumer/conversation/send"


def lp_burst(
    base_url: str,
    account: LivePersonAccount,
    consumers: list,
    conversations: list[str],
    session_call: Any,
    thread: int,
    start: threading.Barrier,
) -> Outcome:
    """Connector API messages into shared conversations, and refreshes of one shared agent session, interleaved."""
    outcome = Outcome(thread)
    http = requests.Session()
    start.wait()
    for i in range(LP_SENDS_PER_THREAD):
        if i % 3 == 2:
            reply = session_call(http)
            provider, expected = "liveperson-refresh", 200
        else:
            n = (thread + i) % len(conversations)
            text = f"t{thread}-m{i}"
            body = {
                "kind": "req",
                "id": f"{thread}-{i}",
                "type": "ms.PublishEvent",
                "body": {
                    "dialogId": conversations[n],
                    "event": {"type": "ContentEvent", "contentType": "text/plain", "message": text},
                },
            }
            reply = http.post(
                f"{base_url}{account.idp_path(SEND_PATH)}",
                params={"v": "3"},
                json=body,
                headers=consumers[n].headers(),
                timeout=10,
            )
            provider, expected = "liveperson-send", 200
            if reply.status_code == 200:
                outcome.messages.append((conversations[n], str(reply.json()["body"]["sequence"]), text))
        outcome.statuses.append((provider, reply.status_code))
        if reply.status_code != expected or UNHANDLED_HEADER in reply.headers:
            outcome.problems.append(
                f"{provider} {reply.status_code} {reply.headers.get(UNHANDLED_HEADER)} {reply.text[:200]}"
            )
    http.close()
    return outcome


def test_parallel_sends_into_shared_liveperson_conversations_get_gap_free_sequences(
    emulator_server: EmulatorHandle, lp_account: LivePersonAccount, lp_app_jwt, lp_agent_session
) -> None:
    consumers = [lp_app_jwt.issue_consumer_jws() for _ in range(CONVERSATIONS)]
    conversations = []
    for consumer in consumers:
        opened = lp_account.handle.post(
            lp_account.idp_path("messaging/consumer/conversation"),
            params={"v": "3"},
            headers=consumer.headers(),
            json=[
                {"kind": "req", "id": "1", "type": "userprofile.SetUserProfile", "body": {}},
                {
                    "kind": "req",
                    "id": "2",
                    "type": "cm.ConsumerRequestConversation",
                    "body": {"brandId": lp_account.id},
                },
            ],
        )
        conversations.append(opened.json()[1]["body"]["conversationId"])

    def refresh(http: requests.Session) -> requests.Response:
        return http.post(
            f"{emulator_server.base_url}{lp_account.idp_path('refresh')}",
            params={"v": "1.3"},
            json={"csrf": lp_agent_session.csrf},
            headers=lp_agent_session.headers(),
            timeout=10,
        )

    start = threading.Barrier(LP_THREADS)
    with ThreadPoolExecutor(LP_THREADS) as pool:
        futures = [
            pool.submit(lp_burst, emulator_server.base_url, lp_account, consumers, conversations, refresh, t, start)
            for t in range(LP_THREADS)
        ]
        outcomes = [future.result(timeout=TIME_LIMIT_SECONDS) for future in futures]

    assert [p for o in outcomes for p in o.problems] == []
    state = emulator_server.control.export_state()["namespaces"][emulator_server.namespace]
    stored = state["providers"]["liveperson"]["accounts"][lp_account.id]["conversations"]
    for conversation in conversations:
        sent = [(int(seq), text) for o in outcomes for (c, seq, text) in o.messages if c == conversation]
        events = stored[conversation]["events"]
        assert (
            [e["sequence"] for e in events] == list(range(len(events))) == sorted(seq for seq, _ in sent)
        )  # unique, gap-free
        assert {e["sequence"]: e["event"]["message"] for e in events} == dict(sent)  # none lost, none duplicated
        for outcome in outcomes:  # each thread's messages in the order it sent them
            mine = [seq for (c, seq, _) in outcome.messages if c == conversation]
            assert mine == sorted(mine, key=int)
    refreshes = Counter(
        status for o in outcomes for (provider, status) in o.statuses if provider == "liveperson-refresh"
    )
    assert refreshes == Counter({200: LP_THREADS * (LP_SENDS_PER_THREAD // 3)})
