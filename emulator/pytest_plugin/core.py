"""The plugin's core fixtures: the session's emulator app, one fresh namespace per test on it (in-process,
over HTTP or over HTTPS), its clock and faults, and interception of the real provider hosts.

Every test gets its own namespace with fresh tenant ids, so tests, threads and xdist workers can share
one emulator without resets racing each other.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from ..client import NAMESPACE_HEADER, AppTransport, EmulatorClient, HttpTransport, Reply, Transport, cookieless_session
from .lazy import LazyName

# imported when a fixture first uses them: a test run that uses none pays nothing for them
create_app = LazyName("emulator.app", "create_app")
BackgroundServer = LazyName("emulator.serving.server", "BackgroundServer")
BackgroundTlsServer = LazyName("emulator.serving.server", "BackgroundTlsServer")
write_self_signed = LazyName("emulator.serving.tls", "write_self_signed")
if TYPE_CHECKING:
    from ..config import EmulatorConfig
else:
    EmulatorConfig = LazyName("emulator.config", "EmulatorConfig")

TIME_MARKER = "emulator_time"
FAULT_MARKER = "emulator_fault"


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
            raise pytest.UsageError(
                f"@pytest.mark.{FAULT_MARKER} takes the fault kind, then the rule: emulator_fault(kind, **rule)"
            )
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
    (in-process, HTTP, HTTPS) names it, so whatever one fills the others see. An emulator bug met in it
    and not yet reported (see `fail_on_unhandled_errors`) fails the test at teardown."""
    with emulator_namespace(AppTransport(emulator_app), setup=_test_setup(request)) as handle:
        yield handle
    fail_on_unhandled_errors(emulator_app, handle.namespace)


def unhandled_tracebacks(app: Any, namespace: str) -> list[str]:
    """The server-side tracebacks of the exceptions `app` did not handle (bugs of the emulator, answered as a
    500 with `X-Emulator-Unhandled`) in `namespace` since last asked. A provider's own 5xx and an injected
    fault are answers, not exceptions: they are never among them."""
    return app.extensions["emulator"].unhandled.take(namespace)


def fail_on_unhandled_errors(app: Any, namespace: str) -> None:
    """Fail the test with `unhandled_tracebacks` of its namespace, if there are any."""
    tracebacks = unhandled_tracebacks(app, namespace)
    if tracebacks:
        header = (
            f"the emulator raised {len(tracebacks)} unhandled exception(s) during this test (a bug of the emulator):"
        )
        pytest.fail("\n\n".join([header, *tracebacks]), pytrace=False)


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
def emulator_tls_server(
    _emulator_test_namespace: EmulatorHandle, emulator_tls_server_url: str, emulator_tls_ca: str
) -> EmulatorHandle:
    """`emulator_server` over HTTPS: this test's namespace on the session's TLS server; its transport trusts
    `emulator_tls_ca` (whatever REQUESTS_CA_BUNDLE says)."""
    session = cookieless_session()
    session.verify = emulator_tls_ca
    session.trust_env = False  # else REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE win over session.verify
    return _over(
        _emulator_test_namespace, HttpTransport(emulator_tls_server_url, session=session), emulator_tls_server_url
    )


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


@pytest.fixture
def emulator_intercept(emulator_backend: EmulatorHandle) -> Iterator[EmulatorHandle]:
    """Calls to the real provider hosts (`*.liveperson.net`, `accdn.lpsnmedia.net`, `api[.eu-1].smooch.io`,
    `*.zendesk.com/sc`, `app.mindbehind.com`) by `requests`, `urllib3`, `httpx` or `aiohttp` answered by
    `emulator_backend` in this test's namespace; any other client is refused those hosts."""
    from ..interception import intercept

    with intercept(emulator_backend):
        yield emulator_backend
