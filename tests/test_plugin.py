"""The pytest plugin as a downstream project sees it: fixtures, markers, isolation, HTTP backend, xdist.

Each test writes a small downstream test suite with `pytester` and runs it. The plugin is never
imported by hand there: it must arrive through the `pytest11` entry point, as it does for a user.
In-process runs are used where each run has its own session (and so its own emulator app); the xdist
run goes through a subprocess.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

# Helpers every downstream test file starts with; plain code a user could write in their own suite.
DOWNSTREAM_PRELUDE = '''\
from datetime import datetime, timedelta, timezone

import jwt
import pytest
import requests

from emulator.client import AppTransport, EmulatorClient, HttpTransport


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def instant(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def authorize(handle, account, token=None):
    body = None if token is None else {"id_token": token}
    return handle.post(account.idp_path("anonymous/authorize"), json=body)


def exchange(handle, account, token):
    path = account.idp_path(f"app/{account.unauth_connector_id}/authenticate")
    return handle.post(path, params={"v": "3.0"}, json={"id_token": token})


def liveperson_accounts(client, namespace):
    """The accounts of a namespace ({} for a namespace that is gone)."""
    state = client.in_namespace(namespace).export_state()["namespaces"].get(namespace, {})
    return state.get("providers", {}).get("liveperson", {}).get("accounts", {})

'''

BACKENDS = ("emulator", "emulator_server")
NEW_YEAR_2026 = "2026-01-01T00:00:00Z"
NEW_YEAR_2026_EPOCH = 1_767_225_600


def write_suite(pytester: pytest.Pytester, body: str, conftest: str | None = None) -> None:
    """A downstream test module (the prelude plus `body`), and optionally its conftest."""
    pytester.makepyfile(test_downstream=DOWNSTREAM_PRELUDE + textwrap.dedent(body))
    if conftest is not None:
        pytester.makeconftest(textwrap.dedent(conftest))


def run_suite(pytester: pytest.Pytester, body: str, *args: str, conftest: str | None = None) -> pytest.RunResult:
    """Run a downstream suite in-process (its own session, so its own emulator app)."""
    write_suite(pytester, body, conftest)
    return pytester.runpytest("-p", "no:cacheprovider", *args)


def assert_all_pass(result: pytest.RunResult, count: int) -> None:
    """Every downstream test passed, and the plugin caused no warning."""
    result.assert_outcomes(passed=count, warnings=0)
    assert result.ret == pytest.ExitCode.OK


# --- fixtures --------------------------------------------------------------------------------------


def test_provider_fixtures_work_in_a_downstream_suite(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
        def test_plugin_arrives_through_its_entry_point(request):
            assert request.config.pluginmanager.has_plugin("messaging_auth_emulator")


        def test_lp_jwt_is_a_liveperson_consumer_jwt(lp_jwt, lp_account):
            assert jwt.get_unverified_header(lp_jwt)["kid"] == "00001"
            decoded = claims(lp_jwt)
            assert decoded["iss"] == "https://idp.liveperson.net"
            assert decoded["aud"] == f"acc:{lp_account.id}"
            assert decoded["sub"]


        def test_ext_jwt_exchanges_for_an_lp_jwt(lp_ext_jwt, lp_account, emulator_backend):
            assert claims(lp_ext_jwt)["aud"] == f"acc:{lp_account.id}"
            reply = exchange(emulator_backend, lp_account, lp_ext_jwt)
            assert reply.status == 200, reply.text
            assert claims(reply.json()["token"])["sub"] == claims(lp_ext_jwt)["sub"]


        def test_expired_ext_jwt_is_refused_yet_refreshable(expired_ext_jwt, lp_account, emulator_backend):
            refused = exchange(emulator_backend, lp_account, expired_ext_jwt)
            assert (refused.status, refused.json()) == (401, {"internalErrorCode": "9007"})

            refreshed = authorize(emulator_backend, lp_account, expired_ext_jwt)
            assert refreshed.status == 200, refreshed.text
            fresh = refreshed.json()["token"]
            assert claims(fresh)["sub"] == claims(expired_ext_jwt)["sub"]
            assert exchange(emulator_backend, lp_account, fresh).status == 200


        def test_clock_advance_moves_now_by_exactly_that_much_when_frozen(emulator_clock):
            emulator_clock.freeze()
            before = instant(emulator_clock.clock()["now"])
            emulator_clock.advance("11m")
            assert instant(emulator_clock.clock()["now"]) - before == timedelta(minutes=11)


        def test_clock_advance_moves_a_running_clock_too(emulator_clock):
            before = instant(emulator_clock.clock()["now"])
            emulator_clock.advance("11m")
            moved = instant(emulator_clock.clock()["now"]) - before
            assert timedelta(minutes=11) <= moved < timedelta(minutes=12)
            assert emulator_clock.clock()["frozen"] is False


        def test_emulator_clock_and_lp_account_share_the_backend_namespace(
            emulator_clock, lp_account, emulator_backend, emulator
        ):
            assert emulator_backend is emulator  # the default backend is in-process
            assert isinstance(emulator.transport, AppTransport) and emulator.base_url is None
            assert emulator_clock.namespace == emulator.namespace
            assert lp_account.id in liveperson_accounts(emulator_clock, emulator.namespace)


        def test_emulator_server_is_a_real_http_server(emulator_server):
            assert emulator_server.base_url.startswith("http://127.0.0.1:")
            assert isinstance(emulator_server.transport, HttpTransport)
            health = requests.get(emulator_server.base_url + "/__emulator/health", timeout=10)
            assert health.json()["status"] == "ok"
            clock = requests.get(
                emulator_server.base_url + "/__emulator/clock",
                params={"namespace": emulator_server.namespace},
                timeout=10,
            )
            assert clock.json()["frozen"] is False
        """,
    )
    assert_all_pass(result, 8)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_test_gets_a_fresh_namespace_and_ids_reset_afterwards(pytester: pytest.Pytester, backend: str) -> None:
    result = run_suite(
        pytester,
        f"""
        SEEN = []


        @pytest.fixture
        def emulator_backend({backend}):
            return {backend}


        def test_first(lp_account, {backend}, emulator_clock):
            assert lp_account.id in liveperson_accounts({backend}.control, {backend}.namespace)
            emulator_clock.advance("1h")
            assert {backend}.control.journal(provider="liveperson") == []
            assert authorize({backend}, lp_account).status == 200
            assert len({backend}.control.journal(provider="liveperson")) == 1
            SEEN.append(({backend}.namespace, lp_account.id, lp_account.unauth_connector_id))


        def test_second(lp_account, {backend}):
            (old_namespace, old_account, old_connector), = SEEN
            assert {backend}.namespace != old_namespace
            assert lp_account.id != old_account
            assert lp_account.unauth_connector_id != old_connector

            client = EmulatorClient(transport={backend}.transport)  # same emulator, any namespace
            assert liveperson_accounts(client, old_namespace) == {{}}
            assert client.in_namespace(old_namespace).journal() == []
            drift = client.in_namespace(old_namespace).now() - datetime.now(timezone.utc)
            assert abs(drift) < timedelta(minutes=30)  # the hour test_first moved it on is gone
            # the old tenant id belongs to no namespace any more
            gone = {backend}.get(f"/api/account/{{old_account}}/service/idp/baseURI.json")
            assert gone.status == 401
        """,
    )
    assert_all_pass(result, 2)


def test_one_emulator_behind_every_transport(pytester: pytest.Pytester) -> None:
    """The provider fixtures fill the same emulator `emulator_server` and `emulator_tls_server` serve, in
    the same namespace, whichever of them `emulator_backend` is."""
    result = run_suite(
        pytester,
        """
        def test_lp_account_seeded_in_process_is_served_over_http(lp_account, emulator_server, emulator_clock):
            session = requests.Session()  # the downstream code's own client
            url = f"{emulator_server.base_url}/api/account/{lp_account.id}/anonymous/authorize"
            first = session.post(url, timeout=10)
            assert first.status_code == 200, first.text
            connector = lp_account.unauth_connector_id
            exchanged = session.post(
                f"{emulator_server.base_url}/api/account/{lp_account.id}/app/{connector}/authenticate",
                params={"v": "3.0"}, json={"id_token": first.json()["token"]}, timeout=10,
            )
            assert exchanged.status_code == 200, exchanged.text
            emulator_clock.advance(lp_account.ext_jwt_ttl + 1)  # the in-process clock is the server's
            late = session.post(
                f"{emulator_server.base_url}/api/account/{lp_account.id}/app/{connector}/authenticate",
                params={"v": "3.0"}, json={"id_token": first.json()["token"]}, timeout=10,
            )
            assert late.status_code == 401, late.text
            assert len(emulator_server.control.journal(provider="liveperson")) == 3


        def test_every_handle_names_one_namespace(emulator, emulator_server, emulator_tls_server, emulator_backend):
            assert emulator_backend is emulator
            assert emulator.namespace == emulator_server.namespace == emulator_tls_server.namespace
            emulator_server.control.advance("1h")
            assert abs(emulator.control.now() - emulator_tls_server.control.now()) < timedelta(seconds=5)
            assert emulator.control.now() - datetime.now(timezone.utc) > timedelta(minutes=59)


        class TestOverHttp:
            @pytest.fixture
            def emulator_backend(self, emulator_server):
                return emulator_server

            def test_lp_jwt_issued_over_http_is_seen_in_process(self, lp_jwt, lp_account, emulator):
                paths = [entry["path"] for entry in emulator.control.journal(provider="liveperson")]
                assert paths == [lp_account.idp_path("anonymous/authorize"),
                                 lp_account.idp_path(f"app/{lp_account.unauth_connector_id}/authenticate")]
        """,
    )
    assert_all_pass(result, 3)


# --- markers ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
def test_emulator_time_marker_starts_the_clock_frozen(pytester: pytest.Pytester, backend: str) -> None:
    result = run_suite(
        pytester,
        f"""
        @pytest.fixture
        def emulator_backend({backend}):
            return {backend}


        @pytest.mark.emulator_time("{NEW_YEAR_2026}")
        def test_frozen_at_the_marker_time({backend}):
            assert {backend}.control.clock() == {{"now": "2026-01-01T00:00:00.000Z", "frozen": True}}


        @pytest.mark.emulator_time("{NEW_YEAR_2026}")
        def test_tokens_are_issued_at_the_marker_time(lp_jwt, emulator_clock):
            assert claims(lp_jwt)["iat"] == {NEW_YEAR_2026_EPOCH}
            emulator_clock.advance("11m")
            assert emulator_clock.clock()["now"] == "2026-01-01T00:11:00.000Z"


        @pytest.mark.emulator_time(datetime(2026, 1, 1, 12, 30))  # naive: UTC
        def test_a_datetime_works_too({backend}):
            assert {backend}.control.clock()["now"] == "2026-01-01T12:30:00.000Z"


        @pytest.mark.emulator_time("{NEW_YEAR_2026}")
        class TestOnAClass:
            def test_applies_to_its_methods(self, {backend}):
                assert {backend}.control.clock()["now"] == "2026-01-01T00:00:00.000Z"


        def test_without_the_marker_the_clock_runs({backend}):
            assert {backend}.control.clock()["frozen"] is False
        """,
    )
    assert_all_pass(result, 5)


@pytest.mark.parametrize(
    ("marker_args", "message"),
    [
        ("", "*emulator_time takes one ISO 8601 time*"),
        ('"2026-01-01T00:00:00Z", "2027-01-01T00:00:00Z"', "*emulator_time takes one ISO 8601 time*"),
        ('"next tuesday"', "*not an ISO 8601 time*next tuesday*"),
    ],
    ids=["no-time", "two-times", "not-a-time"],
)
def test_a_bad_emulator_time_marker_fails_clearly(pytester: pytest.Pytester, marker_args: str, message: str) -> None:
    result = run_suite(
        pytester,
        f"""
        @pytest.mark.emulator_time({marker_args})
        def test_bad_marker(emulator):
            pass


        def test_neighbour_unaffected(emulator):
            assert emulator.control.clock()["frozen"] is False
        """,
    )
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad_marker*", message])


def test_emulator_time_accepts_its_documented_keyword(pytester: pytest.Pytester) -> None:
    """`pytest --markers` documents the marker as `emulator_time(when)`."""
    suite = f"""
        @pytest.mark.emulator_time(when="{NEW_YEAR_2026}")
        def test_keyword(emulator):
            assert emulator.control.clock()["now"] == "2026-01-01T00:00:00.000Z"
        """
    assert_all_pass(run_suite(pytester, suite), 1)


def test_lp_account_marker_seeds_settings_and_features(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
        @pytest.mark.lp_account(settings={"ext_jwt_ttl": "2m"})
        def test_short_lived_ext_jwt(lp_account, lp_ext_jwt, emulator_backend, emulator_clock):
            assert lp_account.ext_jwt_ttl == 120
            issued = claims(lp_ext_jwt)
            assert issued["exp"] - issued["iat"] == 120
            emulator_clock.advance("3m")
            assert exchange(emulator_backend, lp_account, lp_ext_jwt).json() == {"internalErrorCode": "9007"}


        def test_default_ext_jwt_outlives_three_minutes(lp_account, lp_ext_jwt, emulator_backend, emulator_clock):
            assert lp_account.ext_jwt_ttl == 600
            emulator_clock.advance("3m")
            assert exchange(emulator_backend, lp_account, lp_ext_jwt).status == 200


        @pytest.mark.lp_account(settings={"ext_jwt_ttl": "2m"})
        def test_expired_ext_jwt_follows_the_marker_ttl(expired_ext_jwt, lp_account, emulator_backend, emulator_clock):
            issued = claims(expired_ext_jwt)
            assert issued["exp"] - issued["iat"] == 120
            assert instant(emulator_clock.clock()["now"]).timestamp() > issued["exp"]
            assert exchange(emulator_backend, lp_account, expired_ext_jwt).status == 401


        @pytest.mark.lp_account(features=[])
        def test_account_without_unauth_messaging(lp_account, emulator_backend):
            assert authorize(emulator_backend, lp_account).status == 403


        @pytest.mark.lp_account(features=["Messaging.Un_Auth_Messaging"])
        def test_account_with_only_unauth_messaging(lp_jwt):
            assert claims(lp_jwt)["iss"] == "https://idp.liveperson.net"


        @pytest.mark.lp_account(features=[])
        def test_ext_jwt_fixture_reports_the_refusal(lp_ext_jwt):
            pass
        """,
    )
    result.assert_outcomes(passed=5, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_ext_jwt_fixture_reports_the_refusal*", "*refused*403*"])


@pytest.mark.parametrize(
    ("marker_kwargs", "bad_field"),
    [
        ('setings={"ext_jwt_ttl": "2m"}', "setings"),
        ('features="Messaging.Un_Auth_Messaging"', "features"),
        ('settings={"ext_jwt_ttl": "soon"}', "ext_jwt_ttl"),
    ],
    ids=["misspelt-field", "features-not-a-list", "bad-duration"],
)
def test_a_bad_lp_account_marker_names_the_bad_field(
    pytester: pytest.Pytester, marker_kwargs: str, bad_field: str
) -> None:
    suite = f"""
        @pytest.mark.lp_account({marker_kwargs})
        def test_bad_marker(lp_account):
            pass
        """
    result = run_suite(pytester, suite)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*ERROR at setup of test_bad_marker*", f"E *{bad_field}*"])


def test_markers_are_registered(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["@pytest.mark.emulator_time(when):*", "@pytest.mark.lp_account(**fields):*"])


def test_strict_markers_run_cleanly(pytester: pytest.Pytester) -> None:
    suite = f"""
        @pytest.mark.emulator_time("{NEW_YEAR_2026}")
        @pytest.mark.lp_account(settings={{"ext_jwt_ttl": "2m"}})
        def test_both_markers(lp_jwt, lp_account):
            assert lp_account.ext_jwt_ttl == 120
        """
    assert_all_pass(run_suite(pytester, suite, "--strict-markers"), 1)


def test_strict_markers_still_catch_an_unregistered_marker(pytester: pytest.Pytester) -> None:
    result = run_suite(pytester, "@pytest.mark.emulator_tyme\ndef test_typo():\n    pass\n", "--strict-markers")
    assert result.ret != pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["*'emulator_tyme' not found in `markers` configuration option*"])


# --- backends --------------------------------------------------------------------------------------

HTTP_BACKEND_CONFTEST = """
    import pytest


    @pytest.fixture
    def emulator_backend(emulator_server):
        return emulator_server
    """


def test_overriding_emulator_backend_sends_provider_fixtures_over_http(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
        def test_lp_jwt_over_http(lp_jwt, lp_account, emulator_backend, emulator_server, request):
            assert emulator_backend is emulator_server
            assert "emulator" not in request.fixturenames  # no in-process emulator was even set up
            assert claims(lp_jwt)["aud"] == f"acc:{lp_account.id}"

            server = EmulatorClient(emulator_server.base_url, namespace=emulator_server.namespace)
            journal = server.journal(provider="liveperson")
            account = lp_account.idp_path
            assert [(e["method"], e["path"], e["status"]) for e in journal] == [
                ("POST", account("anonymous/authorize"), 200),
                ("POST", account(f"app/{lp_account.unauth_connector_id}/authenticate"), 200),
            ]
            host = emulator_server.base_url.removeprefix("http://")
            assert {e["request_headers"]["Host"] for e in journal} == {host}
            assert lp_account.id in liveperson_accounts(server, emulator_server.namespace)


        @pytest.mark.emulator_time("2026-01-01T00:00:00Z")
        def test_expired_ext_jwt_and_clock_over_http(expired_ext_jwt, lp_account, emulator_clock, emulator_backend):
            assert isinstance(emulator_clock.transport, HttpTransport)
            server_clock = requests.get(
                emulator_backend.base_url + "/__emulator/clock",
                params={"namespace": emulator_backend.namespace},
                timeout=10,
            ).json()
            assert server_clock == {"now": "2026-01-01T00:10:01.000Z", "frozen": True}
            refused = exchange(emulator_backend, lp_account, expired_ext_jwt)
            assert (refused.status, refused.json()) == (401, {"internalErrorCode": "9007"})
            assert authorize(emulator_backend, lp_account, expired_ext_jwt).status == 200
        """,
        conftest=HTTP_BACKEND_CONFTEST,
    )
    assert_all_pass(result, 2)


def test_xdist_workers_each_run_their_own_server(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_XDIST_TESTRUNUID"):
        monkeypatch.delenv(variable, raising=False)  # when this suite itself runs under xdist
    records = pytester.mkdir("records")
    write_suite(
        pytester,
        f"""
        RECORDS = {str(records)!r}


        @pytest.mark.parametrize("n", range(10))
        def test_consumer(n, lp_jwt, lp_account, emulator_server, worker_id):
            assert claims(lp_jwt)["aud"] == f"acc:{{lp_account.id}}"
            journal = EmulatorClient(emulator_server.base_url, namespace=emulator_server.namespace).journal()
            assert len(journal) == 2
            with open(f"{{RECORDS}}/{{worker_id}}-{{n}}", "w") as record:
                record.write(emulator_server.base_url)
        """,
        conftest=HTTP_BACKEND_CONFTEST,
    )
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider")
    assert_all_pass(result, 10)

    servers_by_worker: dict[str, set[str]] = {}
    for record in Path(records).iterdir():
        worker = record.name.split("-")[0]
        servers_by_worker.setdefault(worker, set()).add(record.read_text())
    assert sorted(servers_by_worker) == ["gw0", "gw1"]
    assert all(len(urls) == 1 for urls in servers_by_worker.values()), servers_by_worker
    assert servers_by_worker["gw0"] != servers_by_worker["gw1"]
