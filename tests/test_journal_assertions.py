"""Journal assertions of EmulatorClient: calls, assert_called, assert_not_called."""

import pytest


def test_calls_filters_by_method_path_and_status(emulator, lp_account):
    lp_account.issue_ext_jwt()
    emulator.post(lp_account.idp_path("anonymous/authorize"), json={"id_token": "forged"})
    assert [c["status"] for c in emulator.control.calls(path="/api/account/*/anonymous/authorize")] == [200, 401]
    assert len(emulator.control.calls(status=401)) == 1
    assert emulator.control.calls(method="GET") == []


def test_assert_called_answers_the_matches_and_counts_them(emulator, lp_account):
    lp_account.issue_ext_jwt()
    lp_account.issue_ext_jwt()
    assert len(emulator.control.assert_called(method="POST", status=200)) == 2
    emulator.control.assert_called(times=2, path="/api/account/*/anonymous/authorize")


def test_a_failed_assertion_shows_the_nearest_recorded_requests(emulator, lp_account):
    lp_account.issue_ext_jwt()
    with pytest.raises(AssertionError) as caught:
        emulator.control.assert_called(method="GET", path="/api/account/*/service/*/baseURI.json")
    message = str(caught.value)
    assert (
        "expected a request with method=GET path=/api/account/*/service/*/baseURI.json at least once, saw 0" in message
    )
    assert f"POST /api/account/{lp_account.id}/anonymous/authorize -> 200" in message
    with pytest.raises(AssertionError, match="1 time\\(s\\), saw 0"):
        emulator.control.assert_called(times=1, status=503)


def test_assert_not_called(emulator, lp_account):
    emulator.control.assert_not_called(path="/api/**")
    lp_account.issue_ext_jwt()
    with pytest.raises(AssertionError, match=r"^expected no request with path=/api/\*\*, saw 1\n"):
        emulator.control.assert_not_called(path="/api/**")


def test_an_empty_journal_says_so(emulator):
    with pytest.raises(AssertionError, match="the journal of this namespace is empty"):
        emulator.control.assert_called()


def test_the_journal_is_written_before_the_client_gets_its_answer(emulator_server, lp_account):
    """Over a real socket: as soon as the response arrives, its journal entry is there."""
    for _ in range(20):
        lp_account.issue_ext_jwt()
        assert emulator_server.control.calls()[-1:] and emulator_server.control.calls()[-1]["status"] == 200


@pytest.fixture
def emulator_backend(request):
    """lp_account over HTTP in the tests that ask for the server, in-process elsewhere."""
    name = "emulator_server" if "emulator_server" in request.fixturenames else "emulator"
    return request.getfixturevalue(name)
