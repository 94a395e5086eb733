"""An exception the emulator does not handle (a bug) fails the test that met it, with the server-side traceback,
whatever the transport; an answer the emulator means to give (an injected fault, a provider's own 5xx) never does.

Each test runs a small downstream suite with `pytester` (its own session, so its own emulator app), the plugin
arriving through its entry point. The bug is made by patching a model method to raise.
"""

from __future__ import annotations

import textwrap

import pytest

# loaded before the downstream runs (in-process, each restoring sys.modules afterwards), so that the method a
# run patches is the one the plugin's app calls, and keys made in one run still sign in the next
import emulator.app  # noqa: F401
import emulator.core.journal  # noqa: F401
import emulator.providers.liveperson.identity  # noqa: F401

# A model method patched to raise: the route that calls it meets an exception no handler answers.
PRELUDE = """\
import pytest

from emulator.providers.liveperson.identity import ConsumerIdentity


def issue_nothing(self):
    raise RuntimeError("an emulator bug")


@pytest.fixture
def buggy_issuer(monkeypatch):
    monkeypatch.setattr(ConsumerIdentity, "issue_external_token", issue_nothing)


def authorize(handle, account):
    return handle.post(account.idp_path("anonymous/authorize"))

"""


# a scenario file is no Python test, so takes no fixture: the bug is there while every item runs
BUGGY_WHILE_ITEMS_RUN = """

@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ConsumerIdentity, "issue_external_token", issue_nothing)
        return (yield)
"""


def run_suite(pytester: pytest.Pytester, body: str) -> pytest.RunResult:
    pytester.makepyfile(test_downstream=PRELUDE + textwrap.dedent(body))
    return pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")


def assert_traceback_shown(result: pytest.RunResult, header: bool = True) -> None:
    """The emulator's own traceback: the route's frame in the emulator, the patched method, the exception."""
    output = result.stdout.str()
    assert ("unhandled exception(s) during this test" in output) is header
    assert "POST /api/account/" in output
    assert "emulator/providers/liveperson/routes.py" in output
    assert "in issue_nothing" in output
    assert "RuntimeError: an emulator bug" in output


@pytest.mark.parametrize("backend", ["emulator", "emulator_server", "emulator_tls_server"])
def test_an_unhandled_error_fails_a_test_that_would_pass(pytester: pytest.Pytester, backend: str) -> None:
    result = run_suite(
        pytester,
        f"""
        def test_sees_only_a_500(buggy_issuer, lp_account, {backend}):
            reply = authorize({backend}, lp_account)
            assert reply.status == 500 and "X-Emulator-Unhandled" in reply.headers
        """,
    )
    result.assert_outcomes(failed=1)
    assert_traceback_shown(result)


def test_an_error_in_a_request_hook_fails_the_test_too(pytester: pytest.Pytester) -> None:
    """Raised after the route (journaling the exchange), where the app's handler for exceptions never sees it."""
    result = run_suite(
        pytester,
        """
        from emulator.core.journal import Journal

        def journal_nothing(self, **entry):
            raise RuntimeError("a journal bug")

        def test_sees_only_a_500(lp_account, emulator, monkeypatch):
            monkeypatch.setattr(Journal, "record_request", journal_nothing)
            assert authorize(emulator, lp_account).status == 500
        """,
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert "unhandled exception(s) during this test" in output and "POST /api/account/" in output
    assert "in _journal_response" in output and "RuntimeError: a journal bug" in output


def test_a_test_that_fails_anyway_gets_the_traceback_at_teardown(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
        def test_expects_a_token(buggy_issuer, lp_account, emulator):
            assert authorize(emulator, lp_account).status == 200
        """,
    )
    result.assert_outcomes(failed=1, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_expects_a_token*"])
    assert_traceback_shown(result)


def test_an_error_in_a_fixture_fails_the_test_too(pytester: pytest.Pytester) -> None:
    """A provider fixture meeting the bug raises its own error; the traceback follows at teardown."""
    result = run_suite(
        pytester,
        """
        def test_needs_an_ext_jwt(buggy_issuer, lp_ext_jwt):
            pass
        """,
    )
    result.assert_outcomes(errors=2)
    assert_traceback_shown(result)


def test_the_error_is_the_failing_tests_own(pytester: pytest.Pytester) -> None:
    """Errors are kept per namespace: the next test on the same emulator app is not blamed."""
    result = run_suite(
        pytester,
        """
        def test_meets_the_bug(buggy_issuer, lp_account, emulator):
            authorize(emulator, lp_account)

        def test_after_it(lp_account, emulator):
            assert authorize(emulator, lp_account).status == 200
        """,
    )
    result.assert_outcomes(failed=1, passed=1)


def test_injected_faults_and_provider_errors_are_answers_not_bugs(pytester: pytest.Pytester) -> None:
    result = run_suite(
        pytester,
        """
        @pytest.mark.emulator_fault("status", status=500, match={"path": "/api/account/*/anonymous/authorize"})
        def test_an_injected_500(lp_account, emulator_server):
            reply = authorize(emulator_server, lp_account)
            assert reply.status == 500 and "X-Emulator-Unhandled" not in reply.headers

        def test_a_refusal(lp_account, emulator):
            path = lp_account.idp_path(f"app/{lp_account.unauth_connector_id}/authenticate")
            assert emulator.post(path, params={"v": "3.0"}, json={"id_token": "not-a-jwt"}).status >= 400
        """,
    )
    result.assert_outcomes(passed=2)


def test_a_collected_scenario_that_meets_a_bug_fails_with_the_traceback(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nemulator_scenarios = scenarios\n")
    pytester.makeconftest(PRELUDE + BUGGY_WHILE_ITEMS_RUN)
    (pytester.path / "scenarios").mkdir()
    (pytester.path / "scenarios" / "authorize.yaml").write_text(
        textwrap.dedent(
            """
            name: authorize
            vars: {account: "${random_digits(8)}"}
            seed: {liveperson: {accounts: [{id: "${account}"}]}}
            steps:
              - request: {method: POST, path: "/api/account/${account}/anonymous/authorize"}
                expect: {status: 500}
            """
        )
    )
    result = pytester.runpytest("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(failed=1)
    assert "ok   steps[0] POST /api/account/${account}/anonymous/authorize" in result.stdout.str()
    assert_traceback_shown(result, header=False)
