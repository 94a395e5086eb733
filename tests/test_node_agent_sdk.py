"""LivePerson's own agent SDK (npm `node-agent-sdk` 1.2.0, reference 10.1) as a real client of the TLS emulator:
CSDS, login (password and API keys; none with a pre-issued bearer), the agent WebSocket, a GetClock round trip,
scheduled refreshes with the login cookie and csrf, and the SDK's `error` events (wrong password, 401 at refresh).

The SDK is installed by `.ci/run` (`npm ci --prefix tests/node`). Under CI (the CI env var set) a missing node
or package fails these tests; elsewhere they skip with the reason. Select them with `-k node_agent_sdk`.

The journal records a WebSocket upgrade when the socket ends, so tests stop the SDK before reading it."""

from __future__ import annotations

import json
import os
import queue
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from emulator.pytest_plugin import EmulatorHandle, LivePersonAccount, add_lp_user, lp_login

NODE_DIR = Path(__file__).parent / "node"
AGENT_JS = NODE_DIR / "agent.js"
SDK_PACKAGE = NODE_DIR / "node_modules" / "node-agent-sdk" / "package.json"
REFRESH_MS = 1500
EVENT_WAIT_SECONDS = 8.0


def _node_or_reason() -> tuple[str | None, str]:
    node = shutil.which("node")
    if node is None:
        return None, "node is not on PATH (install Node 20, then: npm ci --prefix tests/node)"
    if not SDK_PACKAGE.is_file():
        return (
            None,
            f"node-agent-sdk is not installed in {NODE_DIR} (run: npm ci --prefix tests/node --no-audit --no-fund)",
        )
    version = json.loads(SDK_PACKAGE.read_text())["version"]
    if version != "1.2.0":
        return None, f"tests/node has node-agent-sdk {version}, these tests pin 1.2.0 (run: npm ci --prefix tests/node)"
    return node, ""


@pytest.fixture(scope="module")
def node() -> str:
    path, reason = _node_or_reason()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the node-agent-sdk tests cannot run: {reason}")
        pytest.skip(f"node-agent-sdk acceptance not run (set CI to make this a failure): {reason}")
    return path


@pytest.fixture
def emulator_backend(emulator_tls_server: EmulatorHandle) -> EmulatorHandle:
    return emulator_tls_server


class SdkAgent:
    """One `node tests/node/agent.js` process; its JSON event lines, read on a thread."""

    def __init__(self, node: str, ca: str, config: dict, script: Path = AGENT_JS) -> None:
        env = {**os.environ, "NODE_EXTRA_CA_CERTS": ca}
        env.pop("NODE_TLS_REJECT_UNAUTHORIZED", None)
        self.process = subprocess.Popen(
            [node, str(script), json.dumps(config)],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.events: list[dict] = []
        self._lines: queue.Queue[dict | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            try:
                self._lines.put(json.loads(line))
            except json.JSONDecodeError:
                self._lines.put({"event": "stdout", "line": line.rstrip()})
        self._lines.put(None)

    def wait_for(self, event: str, timeout: float = EVENT_WAIT_SECONDS) -> dict:
        """The first `event` not yet taken (bounded wait: this is a real client on wall time)."""
        deadline = time.monotonic() + timeout
        while True:
            for seen in self.events:
                if seen["event"] == event and not seen.get("_taken"):
                    seen["_taken"] = True
                    return seen
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(
                    f"no {event!r} from the SDK within {timeout}s; events: {self.events}; stderr: {self.stderr()}"
                )
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the SDK exited before {event!r}; events: {self.events}; stderr: {self.stderr()}")
            self.events.append(line)

    def stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "(still running)"
        return self.process.stderr.read()[-2000:]

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                assert self.process.stdin is not None
                self.process.stdin.write("exit\n")
                self.process.stdin.flush()
                self.process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(5)
        self._reader.join(5)


@pytest.fixture
def run_agent(node: str, emulator_tls_server: EmulatorHandle, emulator_tls_ca: str) -> Iterator:
    agents: list[SdkAgent] = []
    host = urlsplit(emulator_tls_server.base_url).netloc

    def start(account: LivePersonAccount, credentials: dict, refresh_ms: int | None = REFRESH_MS) -> SdkAgent:
        config = {"accountId": account.id, "csdsDomain": host, "credentials": credentials, "timeoutMs": 18000}
        if refresh_ms:
            config["refreshSessionInterval"] = refresh_ms
        agent = SdkAgent(node, emulator_tls_ca, config)
        agents.append(agent)
        return agent

    yield start
    for agent in agents:
        agent.stop()


def _password_user(account: LivePersonAccount) -> dict:
    user = add_lp_user(account, username=f"agent-{secrets.token_hex(4)}", password=secrets.token_urlsafe(12))
    return {"username": user["username"], "password": user["password"]}


def _api_key_user(account: LivePersonAccount) -> dict:
    keys = {name: secrets.token_hex(16) for name in ("app_key", "secret", "access_token", "access_token_secret")}
    user = add_lp_user(account, username=f"bot-{secrets.token_hex(4)}", **keys)
    return {
        "username": user["username"],
        "appKey": keys["app_key"],
        "secret": keys["secret"],
        "accessToken": keys["access_token"],
        "accessTokenSecret": keys["access_token_secret"],
    }


def _paths(handle: EmulatorHandle, account: LivePersonAccount) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in handle.control.journal(path=f"/**{account.id}/**")]


def _wait_for_journal(handle: EmulatorHandle, path: str, timeout: float = EVENT_WAIT_SECONDS) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        entries = handle.control.journal(path=path)
        if entries or time.monotonic() > deadline:
            return entries
        time.sleep(0.1)  # noqa: sleep-ok: bounded poll of a real client's wall-time refresh timer


def _login_session(handle: EmulatorHandle, account: LivePersonAccount) -> dict:
    """The login's 200 body, as the SDK received it (from the journal)."""
    [login] = handle.control.journal(path=f"/api/account/{account.id}/login", status=200)
    return json.loads(login["response_body"])


def _header(entry: dict, name: str) -> str:
    return next((v for k, v in entry["request_headers"].items() if k.lower() == name.lower()), "")


@pytest.mark.parametrize("mode", ["password", "apikeys"])
def test_the_sdk_logs_in_connects_gets_the_clock_and_refreshes(
    mode: str, run_agent, lp_account: LivePersonAccount, emulator_tls_server: EmulatorHandle
) -> None:
    credentials = _password_user(lp_account) if mode == "password" else _api_key_user(lp_account)
    agent = run_agent(lp_account, credentials)
    agent.wait_for("connected")
    clock = agent.wait_for("getClock")
    if not (clock["ok"] and isinstance(clock["body"]["currentTime"], int)):
        agent.stop()
        pytest.fail(f"getClock failed: {agent.events}; requests: {emulator_tls_server.control.journal()}")
    refresh_path = f"/api/account/{lp_account.id}/refresh"
    [refresh, *_] = _wait_for_journal(emulator_tls_server, refresh_path)
    body = _login_session(emulator_tls_server, lp_account)
    assert refresh["status"] == 200 and refresh["query"] == "v=1.3"
    assert json.loads(refresh["request_body"]) == {"csrf": body["csrf"]}
    assert f"session_id={body['sessionId']}" in _header(refresh, "Cookie")
    agent.stop()
    paths = _paths(emulator_tls_server, lp_account)
    assert paths[:2] == [
        f"GET /api/account/{lp_account.id}/service/baseURI.json",
        f"POST /api/account/{lp_account.id}/login",
    ], paths
    [ws] = _wait_for_journal(emulator_tls_server, "/ws_api/**")  # journaled when the server's side of the socket ends
    assert ws["path"] == f"/ws_api/account/{lp_account.id}/messaging/brand/{body['bearer']}" and ws["query"] == "v=2.1"
    assert not _header(ws, "Authorization")  # the bearer rides in the path only
    [login] = emulator_tls_server.control.journal(path=f"/api/account/{lp_account.id}/login")
    assert _header(login, "User-Agent") == "NodeAgentSDK/1.2.0"
    assert json.loads(login["request_body"]) == credentials


def test_a_pre_issued_bearer_connects_without_a_login(
    run_agent, lp_account: LivePersonAccount, emulator_tls_server: EmulatorHandle
) -> None:
    session = lp_login(lp_account, _password_user(lp_account))
    emulator_tls_server.control.clear_journal()
    agent = run_agent(lp_account, {"token": session.bearer, "userId": session.user_id})
    agent.wait_for("connected")
    if not agent.wait_for("getClock")["ok"]:
        agent.stop()
        pytest.fail(f"getClock failed: {agent.events}; requests: {emulator_tls_server.control.journal()}")
    agent.stop()
    paths = _paths(emulator_tls_server, lp_account)
    assert paths[0] == f"GET /api/account/{lp_account.id}/service/baseURI.json", paths
    assert not [p for p in paths if p.endswith(("/login", "/refresh"))], paths  # token mode: no login, no refresh
    assert f"GET /ws_api/account/{lp_account.id}/messaging/brand/{session.bearer}" in paths


def test_a_wrong_password_is_an_sdk_error_and_no_websocket(
    run_agent, lp_account: LivePersonAccount, emulator_tls_server: EmulatorHandle
) -> None:
    credentials = {**_password_user(lp_account), "password": "not-" + secrets.token_hex(4)}
    agent = run_agent(lp_account, credentials)
    error = agent.wait_for("error")
    # 1.2.0 wraps the body's `error` object as the message (so "[object Object]") and reads a top-level
    # `internalCode` the body does not have: the event carries no code (reference 3.1, client handling)
    assert error["message"] == "[object Object]" and error["code"] is None, error
    [login] = emulator_tls_server.control.journal(path=f"/api/account/{lp_account.id}/login")
    assert login["status"] == 401
    assert json.loads(login["response_body"])["error"]["message"].startswith("Bad Authentication"), login
    time.sleep(0.5)  # noqa: sleep-ok: a short grace in which a wrongly opened socket would start
    agent.stop()  # a socket, had one opened, is journaled once it ends
    assert not emulator_tls_server.control.journal(path="/ws_api/**"), _paths(emulator_tls_server, lp_account)
    assert not [e for e in agent.events if e["event"] == "connected"]


def test_an_expired_session_is_a_401_at_the_next_refresh(
    run_agent, lp_account: LivePersonAccount, emulator_tls_server: EmulatorHandle
) -> None:
    agent = run_agent(lp_account, _password_user(lp_account))
    agent.wait_for("connected")
    body = _login_session(emulator_tls_server, lp_account)
    emulator_tls_server.control.expire(token=body["bearer"])
    error = agent.wait_for("error")
    assert error["code"] == 401 and error["message"] == "session unauthorized", error
    refreshes = emulator_tls_server.control.journal(path=f"/api/account/{lp_account.id}/refresh")
    assert refreshes and refreshes[-1]["status"] == 401, refreshes


# --- a bot on the SDK, as examples/agent-bot: rung, accepts, answers a Connector API consumer, transfers ---------

BOT_JS = NODE_DIR / "bot.js"
WEBHOOK_CONTENT = "ms.MessagingEventNotification.ContentEvent"
WEBHOOK_CONVERSATION = "cqm.ExConversationChangeNotification"


def _conversation_state(handle: EmulatorHandle, account: LivePersonAccount, conversation: str) -> dict:
    state = handle.control.export_state()["namespaces"][handle.namespace]["providers"]["liveperson"]
    return state["accounts"][account.id]["conversations"][conversation]


def test_a_bot_is_rung_accepts_answers_a_connector_api_consumer_and_transfers_to_a_skill(
    node: str,
    emulator_tls_server: EmulatorHandle,
    emulator_tls_ca: str,
    lp_account: LivePersonAccount,
    lp_connector_app,
    lp_routing_agent,
) -> None:
    """The consumer is a Connector API client of an app installation: its webhook hears the bot's reply, the
    assignment and the transfer, every delivery signed."""
    from test_liveperson_connector_api import PROFILE, SDES, create, request_conversation, send, text

    lp_consumer_jws = lp_connector_app.consumer()

    bot_skill = "31337"
    credentials = {"username": f"bot-{secrets.token_hex(4)}", "password": secrets.token_urlsafe(12)}
    add_lp_user(lp_account, **credentials, skills=[bot_skill])
    config = {
        "accountId": lp_account.id,
        "csdsDomain": urlsplit(emulator_tls_server.base_url).netloc,
        "credentials": credentials,
        "transferSkill": lp_routing_agent.skill,
        "timeoutMs": 20000,
    }
    bot = SdkAgent(node, emulator_tls_ca, config, BOT_JS)
    try:
        bot_id = bot.wait_for("connected")["agentId"]
        opening = request_conversation(lp_account.id)
        opening["body"]["skillId"] = bot_skill
        reply = create(lp_consumer_jws, [PROFILE, opening])
        assert reply.status == 200, reply.text
        conversation = reply.json()[1]["body"]["conversationId"]

        ring = bot.wait_for("ring")
        assert (ring["conversationId"], ring["ringState"], ring["skillId"]) == (conversation, "WAITING", bot_skill)
        assert bot.wait_for("accepted")["body"] == "Ring state updated successfully"
        assigned = bot.wait_for("conversation")  # the SDK's v3 participants, rebuilt from participantsPId
        assert assigned["convId"] == conversation and sorted(assigned["participants"], key=lambda p: p["role"]) == [
            {"id": bot_id, "role": "ASSIGNED_AGENT"},
            {"id": lp_consumer_jws.lp_consumer_id, "role": "CONSUMER"},
        ]
        # the SDK's transformer turned the raw GetUserProfile$Response into SDEs (authenticatedData's get `auth`)
        assert bot.wait_for("profile")["profile"] == [{**sde, "auth": {}} for sde in SDES]

        assert send(lp_consumer_jws, text(conversation, "where is my parcel?")).status == 200
        heard = bot.wait_for("message")
        assert (heard["dialogId"], heard["message"]) == (conversation, "where is my parcel?")
        assert isinstance(bot.wait_for("replied")["body"]["sequence"], int)
        assert bot.wait_for("transferred")["body"] == "OK Agent removed successfully"
        assert bot.wait_for("deleted")["convId"] == conversation  # left the bot's agentIds subscription
        # the conversation waits in the new skill's queue: that skill's agent is rung
        assert lp_routing_agent.wait_for_ring(conversation)["skillId"] == lp_routing_agent.skill

        def change(body: dict) -> dict:
            return body["body"]["changes"][0]

        def agents(body: dict) -> list[dict]:
            return [
                p
                for p in change(body)["result"]["conversationDetails"]["participants"]
                if p["role"] == "ASSIGNED_AGENT"
            ]

        webhook = lp_connector_app  # wait_for fails the test on a delivery whose signature does not verify
        heard_reply = webhook.wait_for(
            WEBHOOK_CONTENT, lambda b: change(b)["event"].get("message") == "you said: where is my parcel?", timeout=20
        )
        assert change(heard_reply)["originatorMetadata"]["role"] == "ASSIGNED_AGENT"
        assigned_note = webhook.wait_for(WEBHOOK_CONVERSATION, lambda b: bool(agents(b)), timeout=20)
        assert change(assigned_note)["result"]["conversationDetails"]["skillId"] == bot_skill
        moved = webhook.wait_for(
            WEBHOOK_CONVERSATION,
            lambda b: change(b)["result"]["conversationDetails"]["skillId"] == lp_routing_agent.skill,
            timeout=20,
        )
        assert agents(moved) == [] and change(moved)["result"]["conversationDetails"]["state"] == "OPEN"
        assert webhook.receiver.deliveries and all(webhook.verified(d) for d in webhook.receiver.deliveries)
        errors = [e for e in bot.events if e["event"] == "error"]
        assert not errors, errors
    finally:
        bot.stop()

    stored = _conversation_state(emulator_tls_server, lp_account, conversation)
    said = [
        (e["role"], e["event"]["type"], e["event"].get("message", e["event"].get("status"))) for e in stored["events"]
    ]
    [greeting] = [
        entry for entry in said if entry[2].startswith("Just joined to conversation with [")
    ]  # races the consumer
    assert greeting[:2] == ("ASSIGNED_AGENT", "ContentEvent")
    assert [entry for entry in said if entry != greeting] == [
        ("CONSUMER", "ContentEvent", "where is my parcel?"),
        ("ASSIGNED_AGENT", "AcceptStatusEvent", "READ"),
        ("ASSIGNED_AGENT", "ContentEvent", "you said: where is my parcel?"),
    ]
    assert (stored["skill_id"], stored["participants"], stored["transferred"]) == (lp_routing_agent.skill, [], True)
