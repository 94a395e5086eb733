"""pytest fixtures for LivePerson routing: `lp_routing_agent`, an agent online on a skill of its own, connected
to the agent socket and subscribed to routing tasks, that a waiting conversation of that skill rings.
Registered by emulator.pytest_plugin. The socket needs a server that upgrades WebSockets (`emulator_tls_server`
as the test's `emulator_backend`)."""

from __future__ import annotations

import itertools
import json
import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # simple_websocket (asyncio, wsproto) loads with the first socket: a run without one pays nothing
    from simple_websocket import Client

from .liveperson import LivePersonAccount, fresh_numeric_id
from .liveperson_login import LivePersonAgentSession, add_lp_user, lp_login

AGENT_SOCKET = "/ws_api/account/{account}/messaging/brand/{bearer}?v=2.1"
ROUTING_TASKS = ".ams.routing.RoutingTaskNotification"
CONVERSATIONS = ".ams.aam.ExConversationChangeNotification"
WAIT_SECONDS = 5.0  # wall time a frame may take to arrive from the emulator's server


class AgentSocket:
    """An agent WebSocket read on a thread: `call` answers a request, `push` waits for a notification."""

    def __init__(self, ws: Client) -> None:
        self.ws = ws
        self.pushes: list[dict] = []
        self._frames: queue.Queue[dict | None] = queue.Queue()
        self._ids = (f"q{n}" for n in itertools.count(1))
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        from simple_websocket import ConnectionClosed  # loaded already: the socket is one of its Clients

        try:
            while True:
                self._frames.put(json.loads(self.ws.receive()))
        except (ConnectionClosed, OSError, TypeError, ValueError):
            self._frames.put(None)

    def _next(self, what: str) -> dict:
        """The next frame, waiting at most WAIT_SECONDS of wall time for it."""
        try:
            frame = self._frames.get(timeout=WAIT_SECONDS)
        except queue.Empty:
            raise AssertionError(f"no {what} within {WAIT_SECONDS}s; pushes so far: {self.pushes}") from None
        if frame is None:
            raise AssertionError(f"the agent socket closed before {what}")
        return frame

    def call(self, kind: str, body: object = None) -> dict:
        """Send a request; its `resp` (notifications arriving meanwhile are kept for `push`)."""
        req_id = next(self._ids)
        self.ws.send(json.dumps({"kind": "req", "id": req_id, "type": kind, "body": {} if body is None else body}))
        while True:
            frame = self._next(f"answer to {kind}")
            if frame.get("kind") == "resp" and frame.get("reqId") == req_id:
                return frame
            self.pushes.append(frame)

    def push(self, kind: str, matching: Callable[[dict], bool] = lambda body: True) -> dict:
        """The first notification of `kind` whose body matches, not taken before (earlier ones stay)."""
        while True:
            found = next((p for p in self.pushes if p.get("type") == kind and matching(p["body"])), None)
            if found is not None:
                self.pushes.remove(found)
                return found
            self.pushes.append(self._next(f"{kind} notification"))

    def close(self) -> None:
        self.ws.close()
        self._reader.join(WAIT_SECONDS)


def _server_url(account: LivePersonAccount) -> str:
    """The base URL of the emulator's server: the agent socket is a real WebSocket."""
    if account.handle.base_url is None:
        raise RuntimeError("the agent socket needs a server: override emulator_backend with emulator_server")
    return account.handle.base_url


def open_agent_socket(session: LivePersonAgentSession, ca_file: str | None) -> AgentSocket:
    """The session's agent socket on the emulator's server (wss:// trusting `ca_file` when it serves TLS)."""
    base = _server_url(session.account).replace("https://", "wss://").replace("http://", "ws://")
    url = base + AGENT_SOCKET.format(account=session.account.id, bearer=session.bearer)
    import ssl  # with simple_websocket, loaded by the first socket: a run that opens none does not pay for it

    from simple_websocket import Client

    context = ssl.create_default_context(cafile=ca_file) if url.startswith("wss://") else None
    return AgentSocket(Client.connect(url, ssl_context=context))


@dataclass
class LivePersonRoutingAgent:
    """An agent of `skill`, ONLINE and subscribed to routing tasks on its own socket."""

    session: LivePersonAgentSession
    skill: str
    socket: AgentSocket
    routing_subscription: str
    rings: list[dict] = field(default_factory=list)  # rings taken by `wait_for_ring`

    @property
    def agent_id(self) -> str:
        """Its PID (`config.userPid`), as conversations list it."""
        return self.session.user_pid

    def wait_for_ring(self, conversation_id: str | None = None, state: str = "WAITING") -> dict:
        """The next routing task in `state` (of `conversation_id`, if given): its `result` as pushed."""

        def wanted(body: dict) -> bool:
            result = body["changes"][0]["result"]
            return result["ringsDetails"][0]["ringState"] == state and conversation_id in (
                None,
                result["conversationId"],
            )

        result = self.socket.push(ROUTING_TASKS, wanted)["body"]["changes"][0]["result"]
        self.rings.append(result)
        return result

    def answer(self, ring: dict, state: str = "ACCEPTED") -> dict:
        """`.ams.routing.UpdateRingState` for a ring `wait_for_ring` returned: the `resp`."""
        return self.socket.call(
            ".ams.routing.UpdateRingState", {"ringId": ring["ringsDetails"][0]["ringId"], "ringState": state}
        )

    def set_state(self, availability: str) -> dict:
        return self.socket.call(".ams.routing.SetAgentState", {"availability": availability})


def start_routing_agent(account: LivePersonAccount, ca_file: str | None, skills: list[str]) -> LivePersonRoutingAgent:
    """A new agent user of `skills` (the first is `.skill`), logged in, its socket subscribed to routing tasks and ONLINE."""
    user = add_lp_user(
        account, username=f"agent-{secrets.token_hex(4)}", password=secrets.token_urlsafe(12), skills=skills
    )
    session = lp_login(account, {"username": user["username"], "password": user["password"]})
    socket = open_agent_socket(session, ca_file)
    routing = socket.call(".ams.routing.SubscribeRoutingTasks", {})
    online = socket.call(".ams.routing.SetAgentState", {"availability": "ONLINE"})
    if routing["code"] != 200 or online["code"] != 200:
        socket.close()
        raise AssertionError(f"the agent could not go online: {routing} {online}")
    return LivePersonRoutingAgent(session, skills[0] if skills else "-1", socket, routing["body"]["subscriptionId"])


@pytest.fixture
def lp_routing_agent(lp_account: LivePersonAccount, request: pytest.FixtureRequest) -> Iterator[LivePersonRoutingAgent]:
    """An agent user with one fresh skill (`.skill`), logged in, its socket ONLINE and subscribed to routing tasks:
    `.wait_for_ring(conversation_id)`, `.answer(ring, "ACCEPTED"|"REJECTED")`, `.set_state(...)`, `.socket.call/push`."""
    https = _server_url(lp_account).startswith("https://")
    agent = start_routing_agent(
        lp_account, request.getfixturevalue("emulator_tls_ca") if https else None, [fresh_numeric_id(6)]
    )
    try:
        yield agent
    finally:
        agent.socket.close()
