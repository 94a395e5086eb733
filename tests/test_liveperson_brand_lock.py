"""LivePerson brand sign-in and the namespace lock: every RS256 signature and verification of the implicit and
code flows runs outside it, and a code spent by another exchange meanwhile refuses the slower one."""

from __future__ import annotations

import threading

import pytest
from jwt.algorithms import RSAAlgorithm

from emulator.providers.liveperson import brand_auth

AUTH_FAILED = "Failed to validate user with customer authentication service"


def lock_is_free(lock) -> bool:
    """Whether another thread could take `lock` right now (the calling thread may hold it)."""
    found: list[bool] = []

    def probe() -> None:
        taken = lock.acquire(blocking=False)
        if taken:
            lock.release()
        found.append(taken)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return found[0]


@pytest.fixture
def rsa_calls(emulator, emulator_app, monkeypatch) -> list[tuple[str, bool]]:
    """(operation, whether the test namespace's lock was free) for every RS256 sign and verify from now on."""
    lock = emulator_app.extensions["emulator"].store.lock_of(emulator.namespace)
    calls: list[tuple[str, bool]] = []
    sign, verify = RSAAlgorithm.sign, RSAAlgorithm.verify

    def probed_sign(self, msg, key):
        calls.append(("sign", lock_is_free(lock)))
        return sign(self, msg, key)

    def probed_verify(self, msg, key, sig):
        calls.append(("verify", lock_is_free(lock)))
        return verify(self, msg, key, sig)

    monkeypatch.setattr(RSAAlgorithm, "sign", probed_sign)
    monkeypatch.setattr(RSAAlgorithm, "verify", probed_verify)
    return calls


def test_the_code_flow_signs_and_verifies_outside_the_lock(lp_brand_idp, rsa_calls):
    code = lp_brand_idp.code("outside")
    rsa_calls.clear()
    lp_brand_idp.authenticate(code=code)
    # the brand's id_token signed, then verified, then the LP JWT signed: none of them under the lock
    assert [name for name, _ in rsa_calls] == ["sign", "verify", "sign"]
    assert all(free for _, free in rsa_calls), rsa_calls


def test_the_implicit_flow_verifies_and_signs_outside_the_lock(lp_brand_idp, rsa_calls):
    id_token = lp_brand_idp.id_token("implicit")
    rsa_calls.clear()
    lp_brand_idp.authenticate(id_token=id_token)
    assert [name for name, _ in rsa_calls] == ["verify", "sign"]
    assert all(free for _, free in rsa_calls), rsa_calls


def test_a_code_spent_by_another_exchange_meanwhile_refuses_this_one(lp_brand_idp, monkeypatch):
    code = lp_brand_idp.code("racer")
    fetch = brand_auth.fetch
    others: list = []

    def fetch_then_let_another_exchange_win(*args, **kwargs):
        fetched = fetch(*args, **kwargs)  # this exchange verified the brand's id_token, outside the lock ...
        if not others:
            others.append(None)  # (the other exchange runs this too: it must not start a third)
            others[0] = lp_brand_idp.authenticate_reply(code=code)  # ... and meanwhile another spends the code
        return fetched

    monkeypatch.setattr(brand_auth, "fetch", fetch_then_let_another_exchange_win)
    reply = lp_brand_idp.authenticate_reply(code=code)
    assert others[0].status == 200, others[0].text
    assert reply.status == 401, reply.text
    assert reply.json()["error"]["message"] == AUTH_FAILED
    assert reply.headers["X-Emulator-Reason"] == "brand_invalid_code: unknown_code"
