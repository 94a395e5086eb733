"""pytest plugin: emulator fixtures, registered through the `pytest11` entry point.

Every test gets its own namespace with fresh tenant ids, so tests, threads and xdist workers can share
one emulator without resets racing each other.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from .client import (
    NAMESPACE_HEADER,
    AppTransport,
    EmulatorClient,
    EmulatorError,
    HttpTransport,
    Reply,
    Transport,
    cookieless_session,
)
from .lazy import LazyName

# imported when a fixture or a scenario first uses them: a test run that uses none pays nothing for them
create_app = LazyName("emulator.app", "create_app")
EmulatorConfig = LazyName("emulator.config", "EmulatorConfig")
Account = LazyName("emulator.providers.liveperson.models", "Account")
sign_jwt = LazyName("emulator.providers.sunshine.auth", "sign_jwt")
ScenarioError = LazyName("emulator.scenarios", "ScenarioError")
ScenarioRunner = LazyName("emulator.scenarios", "ScenarioRunner")
load_scenario = LazyName("emulator.scenarios", "load_scenario")
BackgroundServer = LazyName("emulator.server", "BackgroundServer")
BackgroundTlsServer = LazyName("emulator.server", "BackgroundTlsServer")
write_self_signed = LazyName("emulator.tls", "write_self_signed")
if TYPE_CHECKING:
    from .scenarios import ScenarioResult

TIME_MARKER = "emulator_time"
FAULT_MARKER = "emulator_fault"
ACCOUNT_MARKER = "lp_account"
SCENARIO_MARKER = "emulator_scenario"
SCENARIO_FOLDERS = "emulator_scenarios"
_SESSION_APP = pytest.StashKey[Any]()
pytest_plugins = [
    "emulator.plugin_liveperson_consumers",
    "emulator.plugin_liveperson_conversations",
    "emulator.plugin_liveperson_routing",
    "emulator.plugin_proxy",
    "emulator.plugin_liveperson_connector_app",
    "emulator.plugin_sunshine_switchboard",
    "emulator.plugin_sunshine_webhooks",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(SCENARIO_FOLDERS, "folders whose *.yaml scenario files are collected as tests", type="paths", default=[])


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A scenario file under a configured folder is one test item."""
    folders = parent.config.getini(SCENARIO_FOLDERS)
    if file_path.suffix in (".yaml", ".yml") and any(file_path.is_relative_to(folder) for folder in folders):
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        yield ScenarioItem.from_parent(self, name=self.path.stem)


class ScenarioItem(pytest.Item):
    """Runs one scenario file in-process; a failure shows the steps, what was sent and what came back."""

    def runtest(self) -> None:
        config = self.config
        if _SESSION_APP not in config.stash:
            config.stash[_SESSION_APP] = create_app()
        result = ScenarioRunner(AppTransport(config.stash[_SESSION_APP])).run(load_scenario(self.path))
        if not result.ok:
            raise ScenarioFailed(result.report())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, (ScenarioFailed, ScenarioError)):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, 0, f"scenario {self.path.name}"


class ScenarioFailed(AssertionError):
    """A collected scenario that did not hold; its message is the step report."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{TIME_MARKER}(when): start the test's emulator clock frozen at an ISO 8601 time"
    )
    config.addinivalue_line(
        "markers", f"{FAULT_MARKER}(kind, **rule): a fault rule in the test's namespace from the start (repeatable)"
    )
    config.addinivalue_line(
        "markers", f"{ACCOUNT_MARKER}(**fields): seed fields (features, settings, ...) of the lp_account fixture"
    )
    config.addinivalue_line(
        "markers", f"{SCENARIO_MARKER}(path, **vars): run a scenario file in the test's namespace before the test"
    )


@dataclass
class EmulatorHandle:
    """One test's slice of an emulator: its namespace, its control client, and a provider caller."""

    namespace: str
    control: EmulatorClient
    transport: Transport
    base_url: str | None = None  # set when a real server is behind it

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: bytes | str | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Reply:
        """Call a provider route as a client would; the namespace header routes tenant-less calls here."""
        sent = {NAMESPACE_HEADER: self.namespace, **(headers or {})}
        return self.transport.send(method, path, params=params, json=json, data=data, headers=sent)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)


@dataclass(frozen=True)
class MarkerSetup:
    """What a test's markers ask of its namespace before it starts."""

    frozen_at: str | None = None
    faults: tuple[dict, ...] = ()


@contextmanager
def emulator_namespace(
    transport: Transport, base_url: str | None = None, setup: MarkerSetup = MarkerSetup()
) -> Iterator[EmulatorHandle]:
    """A fresh namespace for the duration of the block, reset afterwards."""
    namespace = f"test-{secrets.token_hex(8)}"
    control = EmulatorClient(namespace=namespace, transport=transport)
    if setup.frozen_at is not None:
        control.freeze(at=setup.frozen_at)
    for rule in setup.faults:
        control.add_fault(**rule)
    try:
        yield EmulatorHandle(namespace, control, transport, base_url)
    finally:
        control.reset()


def _test_setup(request: pytest.FixtureRequest) -> MarkerSetup:
    return MarkerSetup(_frozen_at(request), tuple(_fault_rules(request)))


def _frozen_at(request: pytest.FixtureRequest) -> str | None:
    marker = request.node.get_closest_marker(TIME_MARKER)
    if marker is None:
        return None
    times = [*marker.args, *marker.kwargs.values()]
    if len(times) != 1 or set(marker.kwargs) - {"when"}:
        raise pytest.UsageError(f"@pytest.mark.{TIME_MARKER} takes one ISO 8601 time: emulator_time(when)")
    return times[0]


def _fault_rules(request: pytest.FixtureRequest) -> Iterator[dict]:
    for marker in request.node.iter_markers(FAULT_MARKER):
        if len(marker.args) != 1:
            raise pytest.UsageError(f"@pytest.mark.{FAULT_MARKER} takes the fault kind, then the rule: emulator_fault(kind, **rule)")
        yield {"kind": marker.args[0], **marker.kwargs}


@pytest.fixture(scope="session")
def emulator_config() -> EmulatorConfig:
    """Configuration of the emulators the fixtures start; override it in a conftest to change it."""
    return EmulatorConfig()


@pytest.fixture(scope="session")
def emulator_app(emulator_config: EmulatorConfig) -> Any:
    """The in-process emulator app shared by a session (one per xdist worker)."""
    return create_app(emulator_config)


@pytest.fixture
def _emulator_test_namespace(emulator_app: Any, request: pytest.FixtureRequest) -> Iterator[EmulatorHandle]:
    """This test's fresh namespace on the session's app, reset afterwards: the handle of every transport
    (in-process, HTTP, HTTPS) names it, so whatever one fills the others see."""
    with emulator_namespace(AppTransport(emulator_app), setup=_test_setup(request)) as handle:
        yield handle


def _over(handle: EmulatorHandle, transport: Transport, base_url: str) -> EmulatorHandle:
    """The same namespace as `handle`, reached (provider and control calls alike) through `transport`."""
    control = EmulatorClient(namespace=handle.namespace, transport=transport, token=handle.control.token)
    return EmulatorHandle(handle.namespace, control, transport, base_url)


@pytest.fixture
def emulator(_emulator_test_namespace: EmulatorHandle) -> EmulatorHandle:
    """In-process emulator, no socket: a fresh namespace for this test, reset afterwards."""
    return _emulator_test_namespace


@pytest.fixture(scope="session")
def emulator_server_url(emulator_app: Any) -> Iterator[str]:
    """Base URL of a real HTTP server of the session's emulator app on a free port (one per xdist worker)."""
    with BackgroundServer(emulator_app) as server:
        yield server.url


@pytest.fixture
def emulator_server(_emulator_test_namespace: EmulatorHandle, emulator_server_url: str) -> EmulatorHandle:
    """This test's namespace (the one of `emulator` and the provider fixtures) over HTTP; `base_url` for your client."""
    return _over(_emulator_test_namespace, HttpTransport(emulator_server_url), emulator_server_url)


@pytest.fixture(scope="session")
def _emulator_tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(cert, key, CA) written once per session and xdist worker."""
    return write_self_signed(tmp_path_factory.mktemp("emulator-tls"))


@pytest.fixture(scope="session")
def emulator_tls_ca(_emulator_tls_files: tuple[Path, Path, Path]) -> str:
    """Path of the CA certificate that signed the TLS emulator's certificate: `verify=` for requests,
    NODE_EXTRA_CA_CERTS for Node clients."""
    return str(_emulator_tls_files[2])


@pytest.fixture(scope="session")
def emulator_tls_server_url(emulator_app: Any, _emulator_tls_files: tuple[Path, Path, Path]) -> Iterator[str]:
    """Base URL (https://127.0.0.1:PORT) of a real HTTPS server of the session's emulator app (one per xdist
    worker); its certificate (localhost, 127.0.0.1, ::1) is signed by `emulator_tls_ca`."""
    cert, key, _ = _emulator_tls_files
    with BackgroundTlsServer(emulator_app, str(cert), str(key)) as server:
        yield server.url


@pytest.fixture
def emulator_tls_server(_emulator_test_namespace: EmulatorHandle, emulator_tls_server_url: str, emulator_tls_ca: str) -> EmulatorHandle:
    """`emulator_server` over HTTPS: this test's namespace on the session's TLS server; its transport trusts
    `emulator_tls_ca` (whatever REQUESTS_CA_BUNDLE says)."""
    session = cookieless_session()
    session.verify = emulator_tls_ca
    session.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over session.verify
    return _over(_emulator_test_namespace, HttpTransport(emulator_tls_server_url, session=session), emulator_tls_server_url)


@pytest.fixture
def emulator_backend(emulator: EmulatorHandle) -> EmulatorHandle:
    """The transport the provider fixtures call through: in-process; override with `emulator_server` for HTTP.
    Whichever it is, `emulator`, `emulator_server` and `emulator_tls_server` see the same namespace."""
    return emulator


@pytest.fixture
def emulator_clock(emulator_backend: EmulatorHandle) -> EmulatorClient:
    """The control client of this test's namespace, for clock moves: `advance("11m")`, `set_time`, `freeze`."""
    return emulator_backend.control


@pytest.fixture
def emulator_faults(emulator_backend: EmulatorHandle) -> EmulatorClient:
    """The control client of this test's namespace, for `add_fault`, `faults`, `remove_fault`, `clear_faults`."""
    return emulator_backend.control


# --- LivePerson -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LivePersonAccount:
    """A seeded LivePerson account with fresh ids, and the settings it was seeded with."""

    id: str
    unauth_connector_id: str
    ext_jwt_ttl: float
    handle: EmulatorHandle

    def idp_path(self, tail: str) -> str:
        return f"/api/account/{self.id}/{tail}"

    def issue_ext_jwt(self) -> str:
        """A new anonymous consumer's external JWT (`anonymous/authorize` without a body)."""
        return expect_token(self.handle.post(self.idp_path("anonymous/authorize")), "token")

    def exchange(self, ext_jwt: str) -> str:
        """The LP consumer JWT for an external JWT (`app/{connector}/authenticate?v=3.0`)."""
        path = self.idp_path(f"app/{self.unauth_connector_id}/authenticate")
        return expect_token(self.handle.post(path, params={"v": "3.0"}, json={"id_token": ext_jwt}), "token")


def expect_token(reply: Reply, field: str) -> str:
    if reply.status != 200:
        raise AssertionError(f"the emulator refused to issue a token: {reply.status} {reply.text}")
    return reply.json()[field]


def fresh_numeric_id(digits: int = 8) -> str:
    return str(secrets.randbelow(9 * 10 ** (digits - 1)) + 10 ** (digits - 1))


@pytest.fixture
def lp_account(emulator_backend: EmulatorHandle, request: pytest.FixtureRequest) -> LivePersonAccount:
    """A LivePerson account with fresh ids and an unauthenticated connector; `@pytest.mark.lp_account(...)`
    adds seed fields such as `settings={"ext_jwt_ttl": "2m"}` or `features=[]`."""
    marker = request.node.get_closest_marker(ACCOUNT_MARKER)
    fields = dict(marker.kwargs) if marker else {}
    connector_id = fresh_numeric_id(10)
    for _ in range(5):
        account_id = fresh_numeric_id()
        account = {"connectors": [{"id": connector_id, "type": "unauthenticated"}], **fields, "id": account_id}
        try:
            emulator_backend.control.seed({"liveperson": {"accounts": [account]}})
        except EmulatorError as exc:
            if exc.code == "tenant_conflict":
                continue
            raise
        ttl = Account.model_validate(account).settings.ext_jwt_ttl
        return LivePersonAccount(account_id, connector_id, ttl, emulator_backend)
    raise RuntimeError("could not find a free account id in 5 tries")


@pytest.fixture
def ext_jwt(lp_account: LivePersonAccount) -> str:
    """A fresh external (unauthenticated) JWT from `anonymous/authorize`."""
    return lp_account.issue_ext_jwt()


@pytest.fixture
def expired_ext_jwt(lp_account: LivePersonAccount, emulator_clock: EmulatorClient) -> str:
    """An external JWT past its lifetime yet inside its refresh window: the test's clock is moved
    forward by the token's lifetime plus one second."""
    token = lp_account.issue_ext_jwt()
    emulator_clock.advance(lp_account.ext_jwt_ttl + 1)
    return token


@pytest.fixture
def lp_jwt(lp_account: LivePersonAccount) -> str:
    """A LivePerson consumer JWT (kid 00001) for a new unauthenticated consumer."""
    return lp_account.exchange(lp_account.issue_ext_jwt())


# --- LivePerson Login Service (agentVep) ------------------------------------------------------------


@dataclass(frozen=True)
class LivePersonAgentSession:
    """A Login Service session of a user seeded on `lp_account`: the login's 200 body and what a client
    sends back (the `session_id` cookie and the csrf)."""

    account: LivePersonAccount
    username: str
    credentials: dict  # the login body that opened it
    body: dict  # the login's 200 body

    @property
    def bearer(self) -> str:
        return self.body["bearer"]

    @property
    def csrf(self) -> str:
        return self.body["csrf"]

    @property
    def session_id(self) -> str:
        return self.body["sessionId"]

    @property
    def user_id(self) -> str:
        return self.body["config"]["userId"]

    @property
    def user_pid(self) -> str:
        return self.body["config"]["userPid"]

    @property
    def session_ttl(self) -> float:
        """Seconds (the body's `sessionTTl` is a string of milliseconds)."""
        return int(self.body["sessionTTl"]) / 1000

    @property
    def cookies(self) -> dict[str, str]:
        return {"session_id": self.session_id}

    def headers(self) -> dict[str, str]:
        """The `Cookie` header refresh and logout need."""
        return {"Cookie": f"session_id={self.session_id}"}

    def refresh(self, csrf: str | None = None, **kwargs: Any) -> Reply:
        """`POST /api/account/{a}/refresh?v=1.3` with the cookie and `{"csrf"}` (this session's unless given)."""
        return self._call("refresh", csrf, **kwargs)

    def logout(self, csrf: str | None = None, **kwargs: Any) -> Reply:
        """`POST /api/account/{a}/logout` with the cookie and `{"csrf"}`."""
        return self._call("logout", csrf, **kwargs)

    def _call(self, action: str, csrf: str | None, **kwargs: Any) -> Reply:
        kwargs["headers"] = {**self.headers(), **(kwargs.get("headers") or {})}
        kwargs.setdefault("params", {"v": "1.3"})
        kwargs.setdefault("json", {"csrf": self.csrf if csrf is None else csrf})
        return self.account.handle.post(self.account.idp_path(action), **kwargs)


def add_lp_user(account: LivePersonAccount, **user: Any) -> dict:
    """Add a user (the seed's fields: `username`, `password` or the API keys, `state`, ...) to a seeded account,
    keeping its state (consumers, sessions): the account's own export, seeded again with the user added."""
    control = account.handle.control
    state = control.export_state()["namespaces"][account.handle.namespace]
    document = state["providers"]["liveperson"]["accounts"][account.id]
    document["users"] = [*document.get("users", []), user]
    control.seed({"liveperson": {"accounts": [document]}})
    return user


def lp_login(account: LivePersonAccount, credentials: dict, version: str = "1.3") -> LivePersonAgentSession:
    """Log in (`POST /api/account/{a}/login?v=1.3`) with a body such as `{"username", "password"}`."""
    reply = account.handle.post(account.idp_path("login"), params={"v": version}, json=credentials)
    if reply.status != 200:
        raise AssertionError(f"the emulator refused the login: {reply.status} {reply.text}")
    return LivePersonAgentSession(account, credentials["username"], dict(credentials), reply.json())


@pytest.fixture
def lp_agent_session(lp_account: LivePersonAccount) -> LivePersonAgentSession:
    """An agent user (fresh username and password) added to `lp_account` and logged in: `.bearer`, `.csrf`,
    `.session_id`, `.user_id`, `.cookies`, `.headers()`, `.refresh()`, `.logout()`, `.body`."""
    user = add_lp_user(lp_account, username=f"agent-{secrets.token_hex(4)}", password=secrets.token_urlsafe(12))
    return lp_login(lp_account, {"username": user["username"], "password": user["password"]})


@pytest.fixture
def lp_bot_session(lp_account: LivePersonAccount) -> LivePersonAgentSession:
    """A bot user with API keys added to `lp_account` and logged in with them (the account needs the Bot
    user type: every feature is on unless the `lp_account` marker lists `features`)."""
    keys = {name: secrets.token_hex(16) for name in ("app_key", "secret", "access_token", "access_token_secret")}
    user = add_lp_user(lp_account, username=f"bot-{secrets.token_hex(4)}", **keys)
    body = {"username": user["username"], "appKey": keys["app_key"], "secret": keys["secret"]}
    body |= {"accessToken": keys["access_token"], "accessTokenSecret": keys["access_token_secret"]}
    return lp_login(lp_account, body)


@pytest.fixture
def expired_agent_session(lp_agent_session: LivePersonAgentSession, emulator_clock: EmulatorClient) -> LivePersonAgentSession:
    """`lp_agent_session` left idle past its lifetime: the test's clock moved by `session_ttl` plus one second."""
    emulator_clock.advance(lp_agent_session.session_ttl + 1)
    return lp_agent_session


# --- LivePerson Connector API credentials: AppJWT and ConsumerJWS ---------------------------------------


@dataclass(frozen=True)
class LivePersonAppJwt:
    """An AppJWT (Sentinel, client_credentials) of an app installation on `account`."""

    token: str
    client_id: str
    client_secret: str
    account: LivePersonAccount

    def headers(self) -> dict[str, str]:
        """`Authorization: <AppJWT>`, raw as the Connector API and the IDP's `/consumer` take it."""
        return {"Authorization": self.token}

    def issue_consumer_jws(self, ext_consumer_id: str | None = None) -> LivePersonConsumerJws:
        """A ConsumerJWS (`POST /api/account/{a}/consumer?v=1.0`) for `ext_consumer_id` (fresh if omitted)."""
        ext_consumer_id = ext_consumer_id or f"ext-{secrets.token_hex(6)}"
        reply = self.account.handle.post(
            self.account.idp_path("consumer"), params={"v": "1.0"}, json={"ext_consumer_id": ext_consumer_id}, headers=self.headers()
        )
        if reply.status != 201:
            raise AssertionError(f"the emulator refused to issue a ConsumerJWS: {reply.status} {reply.text}")
        token = reply.json()["token"]
        import jwt

        lp_consumer_id = jwt.decode(token, options={"verify_signature": False})["lp_consumer_id"]
        return LivePersonConsumerJws(token, ext_consumer_id, lp_consumer_id, self)


@dataclass(frozen=True)
class LivePersonConsumerJws:
    """A ConsumerJWS of the IDP for one external consumer, and the AppJWT it was obtained with."""

    token: str
    ext_consumer_id: str
    lp_consumer_id: str
    app_jwt: LivePersonAppJwt

    def headers(self) -> dict[str, str]:
        """The Connector API's two credentials: `Authorization: <AppJWT>` and `X-LP-ON-BEHALF: <ConsumerJWS>`."""
        return {**self.app_jwt.headers(), "X-LP-ON-BEHALF": self.token}


def lp_app_installation(account: LivePersonAccount) -> tuple[str, str]:
    """`(client_id, client_secret)` of an app installed on the account: the first one seeded (e.g. by
    `@pytest.mark.lp_account(apps=[...])`), else a fresh one added to it (the account is seeded again with
    everything it holds, plus the app)."""
    state = account.handle.control.export_state()["namespaces"][account.handle.namespace]
    seeded = dict(state["providers"]["liveperson"]["accounts"][account.id])
    if seeded.get("apps"):
        return seeded["apps"][0]["client_id"], seeded["apps"][0]["client_secret"]
    client_id, client_secret = f"app-{secrets.token_hex(8)}", secrets.token_urlsafe(18)
    seeded["apps"] = [{"client_id": client_id, "client_secret": client_secret}]
    account.handle.control.seed({"liveperson": {"accounts": [seeded]}})
    return client_id, client_secret


def issue_lp_app_jwt(account: LivePersonAccount, client_id: str, client_secret: str) -> LivePersonAppJwt:
    """An AppJWT from `POST /sentinel/api/account/{a}/app/token?v=1.0&grant_type=client_credentials` (form body)."""
    from urllib.parse import urlencode

    reply = account.handle.post(
        f"/sentinel/api/account/{account.id}/app/token",
        params={"v": "1.0", "grant_type": "client_credentials"},
        data=urlencode({"client_id": client_id, "client_secret": client_secret}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    return LivePersonAppJwt(expect_token(reply, "access_token"), client_id, client_secret, account)


@pytest.fixture
def lp_app_jwt(lp_account: LivePersonAccount) -> LivePersonAppJwt:
    """An AppJWT (kid `appjwt-13-05-17`, 1 h) of an app installation of `lp_account` (the marker's first app,
    else a fresh one): `.token`, `.client_id`, `.client_secret`, `.account`, `.headers()`, `.issue_consumer_jws(ext)`."""
    return issue_lp_app_jwt(lp_account, *lp_app_installation(lp_account))


@pytest.fixture
def lp_consumer_jws(lp_app_jwt: LivePersonAppJwt) -> LivePersonConsumerJws:
    """A ConsumerJWS for a fresh `ext_consumer_id`, obtained with `lp_app_jwt`: `.token`, `.ext_consumer_id`,
    `.lp_consumer_id`, `.app_jwt`, `.headers()` (Authorization + X-LP-ON-BEHALF for the Connector API)."""
    return lp_app_jwt.issue_consumer_jws()


# --- scenarios inside Python tests ---------------------------------------------------------------------


class ScenarioPlayer:
    """`run_scenario(path, **vars)` runs a scenario file in the test's namespace; `.last` is the latest result."""

    def __init__(self, backend: EmulatorHandle, root: Path) -> None:
        self._runner = ScenarioRunner(backend.transport)
        self._backend = backend
        self._root = root
        self.last: ScenarioResult | None = None

    def __call__(self, path: str | Path, **variables: Any) -> ScenarioResult:
        """Run it (its namespace is the test's, so the test sees what it left); fail the test if a step failed."""
        scenario = load_scenario(self._root / path)
        self.last = self._runner.run(scenario, namespace=self._backend.namespace, keep=True, **variables)
        if not self.last.ok:
            pytest.fail(self.last.report(), pytrace=False)
        return self.last


@pytest.fixture
def run_scenario(emulator_backend: EmulatorHandle, request: pytest.FixtureRequest) -> ScenarioPlayer:
    """Run scenario files (paths relative to the rootdir) in this test's namespace."""
    return ScenarioPlayer(emulator_backend, request.config.rootpath)


@pytest.fixture(autouse=True)
def _emulator_scenario_marker(request: pytest.FixtureRequest) -> None:
    """`@pytest.mark.emulator_scenario(path, **vars)`: the scenario runs before the test body."""
    for marker in request.node.iter_markers(SCENARIO_MARKER):
        if len(marker.args) != 1:
            raise pytest.UsageError(f"@pytest.mark.{SCENARIO_MARKER} takes one scenario path, then its vars")
        request.getfixturevalue("run_scenario")(marker.args[0], **marker.kwargs)


# --- Mindbehind ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MindbehindChannel:
    """A seeded company with one web chat channel (fresh ids and management token)."""

    company_id: str
    channel_id: str
    management_token: str
    token_age_hours: int
    handle: EmulatorHandle

    def issue_token(self, client_id: str, **fields: Any) -> str:
        """A client token (`mbWebChat/token`), e.g. `issue_token("+905551112233", tokenAge=1)`."""
        reply = self.handle.post(
            "/external/v1/incoming/mbWebChat/token",
            json={"clientID": client_id, "channelID": self.channel_id, **fields},
            headers={"apiToken": self.management_token},
        )
        return expect_token(reply, "token")


@dataclass(frozen=True)
class MindbehindToken:
    token: str
    client_id: str
    channel: MindbehindChannel


@pytest.fixture
def mindbehind_channel(emulator_backend: EmulatorHandle) -> MindbehindChannel:
    """A Mindbehind company and web chat channel with fresh ids, in this test's namespace."""
    suffix = secrets.token_hex(12)
    channel = {"id": f"ch-{suffix}", "type": "mbWebChat", "management_token": secrets.token_urlsafe(24), "token_age": 24}
    emulator_backend.control.seed({"mindbehind": {"companies": [{"id": f"co-{suffix}", "channels": [channel]}]}})
    return MindbehindChannel(f"co-{suffix}", channel["id"], channel["management_token"], 24, emulator_backend)


@pytest.fixture
def mindbehind_client_token(mindbehind_channel: MindbehindChannel) -> MindbehindToken:
    """A client token of the channel's default age (24 h) for a fresh client id."""
    client_id = f"client-{secrets.token_hex(6)}"
    return MindbehindToken(mindbehind_channel.issue_token(client_id), client_id, mindbehind_channel)


@pytest.fixture
def expired_mindbehind_token(mindbehind_channel: MindbehindChannel, emulator_clock: EmulatorClient) -> MindbehindToken:
    """A client token issued with `tokenAge: 1`, the test's clock then moved one hour and a second on."""
    client_id = f"client-{secrets.token_hex(6)}"
    token = mindbehind_channel.issue_token(client_id, tokenAge=1)
    emulator_clock.advance("3601s")
    return MindbehindToken(token, client_id, mindbehind_channel)


@dataclass(frozen=True)
class MindbehindCode:
    phone: str
    code: str
    channel: MindbehindChannel


@pytest.fixture
def mindbehind_otp(mindbehind_channel: MindbehindChannel) -> MindbehindCode:
    """An SMS code requested for a fresh phone number on the channel, read back as a test would read it."""
    phone = "+90555" + secrets.token_hex(3).translate(str.maketrans("abcdef", "123456"))
    handle = mindbehind_channel.handle
    sent = handle.post("/__emulator/mindbehind/webchat/otp", json={"channelID": mindbehind_channel.channel_id, "phone": phone})
    assert sent.status == 200, sent.text
    read = handle.get("/__emulator/mindbehind/otp", params={"channelID": mindbehind_channel.channel_id, "phone": phone})
    return MindbehindCode(phone, read.json()["code"], mindbehind_channel)


# --- Sunshine Conversations ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SunshineApp:
    """A seeded Sunshine app with fresh ids: its app key, an account key, and helpers to call it."""

    id: str
    key_id: str
    secret: str
    account_key_id: str
    account_secret: str
    handle: EmulatorHandle

    def path(self, tail: str = "") -> str:
        """`/v2/apps/{id}/...` for `tail` such as `"users"`."""
        return f"/v2/apps/{self.id}/{tail}".rstrip("/")

    def basic_headers(self, account: bool = False) -> dict[str, str]:
        """`Authorization: Basic keyId:secret` of the app key (or of the account key)."""
        key_id, secret = (self.account_key_id, self.account_secret) if account else (self.key_id, self.secret)
        return {"Authorization": "Basic " + base64.b64encode(f"{key_id}:{secret}".encode()).decode()}

    def jwt(self, scope: str = "app", **claims: Any) -> str:
        """An HS256 JWT signed with the app key (`kid` = key id), `scope` and any claims (e.g. `exp`)."""
        key_id, secret = (self.account_key_id, self.account_secret) if scope == "account" else (self.key_id, self.secret)
        return sign_jwt({"scope": scope, **claims}, key_id, secret)

    def request(self, method: str, tail: str, **kwargs: Any) -> Reply:
        """Call `/v2/apps/{id}/{tail}` with the app key's Basic auth (pass `headers` to use other credentials)."""
        kwargs["headers"] = {**self.basic_headers(), **(kwargs.get("headers") or {})}
        return self.handle.request(method, self.path(tail), **kwargs)

    def client_configuration(self, jwt: str | None = None) -> Any:
        """A `sunshine_conversations_client.Configuration` for this app on the emulator's HTTP server: Basic
        with the app key, or Bearer `jwt`. Needs `emulator_server` as `emulator_backend`."""
        import sunshine_conversations_client

        if self.handle.base_url is None:
            raise RuntimeError("the official client needs a server: override emulator_backend with emulator_server")
        if jwt is not None:
            return sunshine_conversations_client.Configuration(host=self.handle.base_url, access_token=jwt)
        return sunshine_conversations_client.Configuration(host=self.handle.base_url, username=self.key_id, password=self.secret)


@dataclass(frozen=True)
class SunshineUser:
    id: str
    external_id: str
    app: SunshineApp


@dataclass(frozen=True)
class SunshineConversation:
    id: str
    user: SunshineUser


def created_body(reply: Reply, wrapper: str) -> dict:
    if reply.status != 201:
        raise AssertionError(f"the emulator refused to create a {wrapper}: {reply.status} {reply.text}")
    return reply.json()[wrapper]


@pytest.fixture
def sunshine_app(emulator_backend: EmulatorHandle) -> SunshineApp:
    """A Sunshine app with fresh ids, an app key and an account key, in this test's namespace."""
    app_id, key_id, account_key_id = secrets.token_hex(12), f"app_{secrets.token_hex(12)}", f"act_{secrets.token_hex(12)}"
    secret, account_secret = secrets.token_urlsafe(18), secrets.token_urlsafe(18)
    emulator_backend.control.seed(
        {"sunshine": {"apps": [{"id": app_id, "keys": [{"id": key_id, "secret": secret}]}], "account_keys": [{"id": account_key_id, "secret": account_secret}]}}
    )
    return SunshineApp(app_id, key_id, secret, account_key_id, account_secret, emulator_backend)


@pytest.fixture
def sunshine_user(sunshine_app: SunshineApp) -> SunshineUser:
    """A user created through the API, with a fresh externalId."""
    external_id = f"user-{secrets.token_hex(6)}"
    user = created_body(sunshine_app.request("POST", "users", json={"externalId": external_id}), "user")
    return SunshineUser(user["id"], external_id, sunshine_app)


@pytest.fixture
def sunshine_conversation(sunshine_user: SunshineUser) -> SunshineConversation:
    """The user's default (first personal) conversation."""
    body = {"type": "personal", "participants": [{"userId": sunshine_user.id}]}
    conversation = created_body(sunshine_user.app.request("POST", "conversations", json=body), "conversation")
    return SunshineConversation(conversation["id"], sunshine_user)


@pytest.fixture
def expired_sunshine_jwt(sunshine_app: SunshineApp, emulator_clock: EmulatorClient) -> str:
    """An app-scope JWT with a one-minute `exp`, the test's clock then moved 61 seconds on."""
    now = int(emulator_clock.now().timestamp())
    token = sunshine_app.jwt(iat=now, exp=now + 60)
    emulator_clock.advance("61s")
    return token


# --- webhook receiver -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the webhook receiver got: `body` is the parsed JSON (None if it was not JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    raw: bytes


class WebhookReceiver:
    """A local HTTP endpoint (a threaded `http.server` on 127.0.0.1) that records every request made to it.

    - `url`: its base URL (`http://127.0.0.1:PORT/webhook`); any path and method below the host is accepted.
    - `deliveries`: the requests received so far, oldest first (`ReceivedRequest(method, path, headers,
      body, raw)`; header names as sent); `events(type=None)`: the `events` of every body, flattened.
    - `respond(status, times=1)`: answer `status` to the next `times` requests (then 200 again), e.g.
      `respond(500, 2)` to see the emulator retry, `respond(404)` to see it give up.
    - `hang(times=1)`: the next `times` requests get no answer until the test ends (the emulator's
      attempt times out); `clear()`: forget the deliveries and pending answers.
    - `wait_for(count=1, timeout=5.0)`: wait until `count` requests have arrived (e.g. an attempt is
      under way), without polling.
    - `sunshine_webhook(app, triggers=("*",), **flags)`: a custom integration of the Sunshine app with one
      webhook targeting this receiver (flags: `includeFullUser`, `includeFullSource`); answers the webhook
      (`id`, `secret`, ...).

    Sunshine delivers in the background: call `emulator_backend.control.flush_deliveries()` (or move the
    clock) before reading `deliveries`, and every attempt will have been made.
    """

    def __init__(self, path: str = "/webhook") -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)  # notified on each request
        self._hung = threading.Event()  # set when the receiver stops: hanging requests then end
        self._received: list[ReceivedRequest] = []
        self._answers: list[int | None] = []  # the next requests' answers; None: hang
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = receiver._take(ReceivedRequest(self.command, self.path, dict(self.headers.items()), _json_or_none(raw), raw))
                if status is None:
                    receiver._hung.wait()
                    self.close_connection = True
                    return
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _any  # http.server's names

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}{path}"

    def _take(self, request: ReceivedRequest) -> int | None:
        with self._lock:
            self._received.append(request)
            self._arrived.notify_all()
            return self._answers.pop(0) if self._answers else 200

    @property
    def deliveries(self) -> list[ReceivedRequest]:
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int = 1, timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait (without polling) until `count` requests have arrived, at most `timeout` seconds; answers
        the deliveries, or fails the test. Mostly a flush is the better wait: it ends when attempts end."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self._received) >= count, timeout):
                raise AssertionError(f"the webhook receiver got {len(self._received)} request(s), not {count}, in {timeout} s")
            return list(self._received)

    def wait_until(self, holds: Callable[[list[ReceivedRequest]], bool], timeout: float = 5.0) -> list[ReceivedRequest]:
        """Wait (without polling) until `holds(deliveries)`, at most `timeout` seconds; answers the deliveries."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: holds(self._received), timeout):
                raise AssertionError(f"the webhook receiver's {len(self._received)} request(s) did not hold in {timeout} s")
            return list(self._received)

    def events(self, event_type: str | None = None) -> list[dict]:
        """The events of every delivery's body, in order, optionally of one type."""
        found = [e for r in self.deliveries if isinstance(r.body, dict) for e in r.body.get("events") or []]
        return [e for e in found if event_type is None or e.get("type") == event_type]

    def respond(self, status: int, times: int = 1) -> None:
        with self._lock:
            self._answers += [status] * times

    def hang(self, times: int = 1) -> None:
        with self._lock:
            self._answers += [None] * times

    def clear(self) -> None:
        with self._lock:
            self._received.clear()
            self._answers.clear()

    def sunshine_webhook(self, app: SunshineApp, triggers: Any = ("*",), **flags: Any) -> dict:
        """A custom integration of `app` whose one webhook posts to this receiver; answers the webhook."""
        body = {"type": "custom", "displayName": "webhook receiver", "webhooks": [{"target": self.url, "triggers": list(triggers), **flags}]}
        return created_body(app.request("POST", "integrations", json=body), "integration")["webhooks"][0]

    def close(self) -> None:
        self._hung.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _json_or_none(raw: bytes) -> Any:
    import json

    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A local HTTP endpoint recording the webhook deliveries made to it (see WebhookReceiver): `.url`,
    `.deliveries`, `.events(type)`, `.respond(status, times)`, `.hang(times)`, `.wait_for(count)`, `.clear()`,
    `.sunshine_webhook(sunshine_app, triggers, **flags)`."""
    receiver = WebhookReceiver()
    try:
        yield receiver
    finally:
        receiver.close()


# --- Sunshine SDK API ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SunshineSdkUser:
    """An end user as an SDK sees it: `app_user_id` (the SDK's `appUser._id`, the v2 user id), the install's
    `client_id`, and either a `session_token` (anonymous) or an `external_id` with its user `jwt`."""

    app: SunshineApp
    app_user_id: str
    client_id: str
    session_token: str | None = None
    external_id: str | None = None
    jwt: str | None = None

    def path(self, tail: str = "") -> str:
        """`/sdk/v2/apps/{appId}/...` for `tail` such as `f"appusers/{user.app_user_id}"`."""
        return f"/sdk/v2/apps/{self.app.id}/{tail}".rstrip("/")

    def basic_headers(self) -> dict[str, str]:
        """`Authorization: Basic appUserId:sessionToken` (anonymous users only)."""
        if self.session_token is None:
            raise ValueError("an identified SDK user has no session token: use headers()")
        return {"Authorization": "Basic " + base64.b64encode(f"{self.app_user_id}:{self.session_token}".encode()).decode()}

    def headers(self) -> dict[str, str]:
        """What the SDK sends: its credentials (Bearer JWT or Basic session token) and `x-smooch-clientid`."""
        auth = {"Authorization": f"Bearer {self.jwt}"} if self.jwt is not None else self.basic_headers()
        return {**auth, "x-smooch-clientid": self.client_id, "x-smooch-appid": self.app.id}

    def request(self, method: str, tail: str, **kwargs: Any) -> Reply:
        """Call `/sdk/v2/apps/{appId}/{tail}` as this SDK user (pass `headers` to override any)."""
        kwargs["headers"] = {**self.headers(), **(kwargs.get("headers") or {})}
        return self.app.handle.request(method, self.path(tail), **kwargs)


def _sdk_answer(reply: Reply, status: int) -> dict:
    if reply.status != status:
        raise AssertionError(f"the emulator refused the SDK call: {reply.status} {reply.text}")
    return reply.json()


@pytest.fixture
def sunshine_user_jwt(sunshine_app: SunshineApp) -> Any:
    """A maker of end-user JWTs for the SDK: `sunshine_user_jwt(external_id, exp=None)` -> an HS256 JWT signed
    with the app key (`kid` = its id), claims `{"scope": "user", "external_id": ..., "exp"?: epoch seconds}`."""

    def make(external_id: str, exp: int | None = None) -> str:
        claims: dict[str, Any] = {"scope": "user", "external_id": external_id}
        if exp is not None:
            claims["exp"] = exp
        return sign_jwt(claims, sunshine_app.key_id, sunshine_app.secret)

    return make


@pytest.fixture
def expired_sunshine_user_jwt(sunshine_app: SunshineApp, emulator_clock: EmulatorClient) -> str:
    """A user JWT (a fresh external_id) with a one-minute `exp`, the test's clock then moved 61 seconds on."""
    now = int(emulator_clock.now().timestamp())
    token = sign_jwt({"scope": "user", "external_id": f"sdk-{secrets.token_hex(6)}", "exp": now + 60}, sunshine_app.key_id, sunshine_app.secret)
    emulator_clock.advance("61s")
    return token


@pytest.fixture
def anonymous_sdk_user(sunshine_app: SunshineApp) -> SunshineSdkUser:
    """An anonymous user created as an SDK does (`POST /sdk/v2/apps/{appId}/appusers`, a fresh client id):
    `.app_user_id`, `.session_token`, `.client_id`, `.basic_headers()`, `.headers()`, `.request(...)`."""
    client_id = secrets.token_hex(16)
    reply = sunshine_app.handle.post(f"/sdk/v2/apps/{sunshine_app.id}/appusers", json={"client": {"id": client_id, "platform": "web"}})
    body = _sdk_answer(reply, 201)
    return SunshineSdkUser(sunshine_app, body["appUser"]["_id"], client_id, session_token=body["sessionToken"])


@pytest.fixture
def logged_in_sdk_user(sunshine_app: SunshineApp, sunshine_user_jwt: Any) -> SunshineSdkUser:
    """An identified user logged in as an SDK does (`POST /sdk/v2/apps/{appId}/login` with a user JWT, a fresh
    externalId and client id; the user is created by the login): `.app_user_id`, `.external_id`, `.jwt`,
    `.client_id`, `.headers()`, `.request(...)`."""
    external_id, client_id = f"sdk-{secrets.token_hex(6)}", secrets.token_hex(16)
    token = sunshine_user_jwt(external_id)
    reply = sunshine_app.handle.post(
        f"/sdk/v2/apps/{sunshine_app.id}/login",
        json={"userId": external_id, "client": {"id": client_id, "platform": "web"}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = _sdk_answer(reply, 200)
    return SunshineSdkUser(sunshine_app, body["appUser"]["_id"], client_id, external_id=external_id, jwt=token)


# --- interception ---------------------------------------------------------------------------------------


@pytest.fixture
def emulator_intercept(emulator_backend: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """Calls to the real provider hosts (`*.liveperson.net`, `accdn.lpsnmedia.net`, `api[.eu-1].smooch.io`,
    `*.zendesk.com/sc`, `app.mindbehind.com`) by `requests`, `urllib3`, `httpx` or `aiohttp` answered by
    `emulator_backend` in this test's namespace; any other client is refused those hosts."""
    from .interception import intercept

    with intercept(emulator_backend):
        yield emulator_backend
