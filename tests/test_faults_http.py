"""Every fault kind as a real `requests` client sees it over a real socket (waitress).

These are the only tests allowed to spend wall time: latencies are small and checked as lower bounds.
"""

import json
import threading
import time

import pytest
import requests

from emulator.client import EmulatorClient

AUTHORIZE = "/api/account/{account}/anonymous/authorize"
DOMAIN = "/api/account/{account}/service/idp/baseURI.json"


@pytest.fixture
def emulator_backend(emulator_server):
    return emulator_server


@pytest.fixture
def call(emulator_server, lp_account):
    """POST anonymous/authorize (or GET the Domain API) of the test's account with plain requests."""

    def send(route: str = AUTHORIZE, method: str = "POST", timeout: float = 10) -> requests.Response:
        return requests.request(method, emulator_server.base_url + route.format(account=lp_account.id), timeout=timeout)

    return send


def test_status_fault_answers_in_the_providers_shape_with_retry_after(emulator_server, call):
    emulator_server.control.add_fault("status", status=503, times=2)
    for _ in range(2):
        reply = call()
        assert reply.status_code == 503 and reply.headers["Retry-After"] == "1"
        error = reply.json()["error"]
        assert (error["internalCode"], error["responseStatus"]) == (503, "SERVICE_UNAVAILABLE")
    assert call().status_code == 200


def test_429_with_the_rules_own_retry_after(emulator_server, call):
    emulator_server.control.add_fault("status", status=429, headers={"Retry-After": "7"})
    reply = call()
    assert (reply.status_code, reply.headers["Retry-After"]) == (429, "7")
    assert reply.json()["error"]["responseStatus"] == "TOO_MANY_REQUESTS"


def test_a_replaced_answer_changes_no_state(emulator_server, call):
    emulator_server.control.add_fault("status", status=500)
    before = emulator_server.control.export_state()
    assert call().status_code == 500
    assert emulator_server.control.export_state() == before


def test_reset_is_a_connection_error(emulator_server, call):
    emulator_server.control.add_fault("reset", times=1)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        call()
    assert "reset" in repr(caught.value).lower()
    assert call().status_code == 200


def test_empty_response_is_a_connection_error_without_reset(emulator_server, call):
    emulator_server.control.add_fault("empty", times=1)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        call()
    assert "reset" not in repr(caught.value).lower()


def test_hang_outlasts_the_clients_timeout_and_ends_when_the_rule_is_cleared(emulator_server, call):
    emulator_server.control.add_fault("hang", duration="20s")
    with pytest.raises(requests.exceptions.ReadTimeout):
        call(timeout=0.3)
    emulator_server.control.clear_faults()  # lets the held request go
    assert call().status_code == 200


def test_latency_delays_the_answer_by_at_least_the_delay(emulator_server, call):
    emulator_server.control.add_fault("latency", delay="200ms")
    started = time.perf_counter()
    assert call().status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_latency_does_not_block_other_requests(emulator_server, call):
    emulator_server.control.add_fault("latency", delay="1s", match={"method": "POST"})
    finished = []
    slow = threading.Thread(target=lambda: finished.append(("slow", call().status_code)))
    slow.start()
    finished.append(("fast", call(DOMAIN, "GET").status_code))
    slow.join()
    assert finished == [("fast", 200), ("slow", 200)]


def test_malformed_body_keeps_status_and_length_but_is_not_json(emulator_server, call):
    emulator_server.control.add_fault("malformed")
    reply = call()
    assert reply.status_code == 200 and reply.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        json.loads(reply.content)


def test_truncated_body_breaks_the_read(emulator_server, call):
    emulator_server.control.add_fault("truncated")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        call()


def test_wrong_content_type_with_a_well_formed_body(emulator_server, call):
    emulator_server.control.add_fault("content_type", content_type="text/html")
    reply = call()
    assert reply.headers["Content-Type"] == "text/html"
    assert "token" in json.loads(reply.content)


def test_rules_target_method_path_tenant_and_provider(emulator_server, lp_account, call):
    control = emulator_server.control
    control.add_fault("status", status=502, match={"method": "GET", "path": "/api/account/*/service/*/baseURI.json"})
    control.add_fault("status", status=504, match={"provider": "liveperson", "tenant": "999"})
    assert call(DOMAIN, "GET").status_code == 502
    assert call().status_code == 200  # POST to another path, another tenant
    rules = {rule["status"]: rule for rule in control.faults()}
    assert (rules[502]["matched"], rules[502]["fired"]) == (1, 1)
    assert (rules[504]["matched"], rules[504]["fired"]) == (0, 0)


def test_schedules_every_and_after(emulator_server, call):
    emulator_server.control.add_fault("status", status=503, every=3)
    assert [call().status_code for _ in range(6)] == [200, 200, 503, 200, 200, 503]
    emulator_server.control.clear_faults()
    emulator_server.control.add_fault("status", status=503, after=2, times=1)
    assert [call().status_code for _ in range(4)] == [200, 200, 503, 200]


def test_the_journal_records_injected_faults(emulator_server, call):
    rule = emulator_server.control.add_fault("status", status=503, times=1)
    call()
    (entry,) = emulator_server.control.calls(status=503)
    assert entry["faults"] == [{"rule": rule, "kind": "status"}]


@pytest.mark.emulator_fault("status", status=503, times=1)
def test_the_marker_loads_a_rule_before_the_test(call):
    assert [call().status_code for _ in range(2)] == [503, 200]


def test_namespaces_do_not_see_each_others_faults_even_concurrently(emulator_server_url):
    def account_in(namespace: str, account: str, status: int | None) -> list[int]:
        control = EmulatorClient(emulator_server_url, namespace=namespace)
        control.seed({"liveperson": {"accounts": [{"id": account}]}})
        if status:
            control.add_fault("status", status=status)
        try:
            url = f"{emulator_server_url}/api/account/{account}/service/idp/baseURI.json"
            return [requests.get(url, timeout=10).status_code for _ in range(20)]
        finally:
            control.reset()

    results: dict[str, list[int]] = {}
    threads = [
        threading.Thread(target=lambda: results.__setitem__("faulty", account_in("iso-a", "91000001", 503))),
        threading.Thread(target=lambda: results.__setitem__("clean", account_in("iso-b", "91000002", None))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {"faulty": [503] * 20, "clean": [200] * 20}
