"""Per-request records stay bounded, by the documented rules, on the emulator's clock: LivePerson's idle
anonymous consumers, Mindbehind's client tokens, SMS codes, web chat sessions and generic messages."""

from __future__ import annotations

import pytest

from emulator.providers.liveperson import models as lp
from emulator.providers.mindbehind import models as mb

T0 = 1_800_000_000.0


@pytest.fixture
def small_lp_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "MAX_IDLE_ANONYMOUS", 5)
    monkeypatch.setattr(lp, "PRUNE_EVERY", 4)


def account_with_keepers() -> lp.Account:
    """An account with consumers that are never forgotten: one with a conversation, one with a profile,
    and one of each other kind."""
    account = lp.Account(id="123")
    account.remember_consumer("talking", "anonymous", T0)
    account.conversations["c1"] = lp.Conversation(id="c1", consumer_id="talking", started_at=T0)
    account.remember_consumer("profiled", "anonymous", T0).profile["given_name"] = "Ada"
    for kind in ("signup", "external", "authenticated"):
        account.remember_consumer(kind, kind, T0)
    return account


KEEPERS = {"talking", "profiled", "signup", "external", "authenticated"}


def test_idle_anonymous_consumers_past_the_count_go_oldest_first(small_lp_bounds: None) -> None:
    account = account_with_keepers()
    for n in range(30):
        account.remember_consumer(f"anon-{n:02}", "anonymous", T0 + n)
    idle = sorted(set(account.consumers) - KEEPERS)
    assert KEEPERS <= set(account.consumers)
    assert len(idle) <= 5 + 4 and idle[-1] == "anon-29" and "anon-00" not in idle


def test_idle_anonymous_consumers_are_forgotten_once_every_token_they_could_hold_ended(small_lp_bounds: None) -> None:
    account = account_with_keepers()
    account.remember_consumer("old", "anonymous", T0)
    settings = account.settings
    lifetime = settings.ext_jwt_refresh_window + settings.ext_jwt_ttl + settings.consumer_jwt_ttl
    account.forget_idle_anonymous(T0 + lifetime - 1)
    assert "old" in account.consumers  # its last LP JWT may still be good
    account.forget_idle_anonymous(T0 + lifetime)
    assert set(account.consumers) == KEEPERS


def test_a_refresh_remembers_a_forgotten_consumer_again(small_lp_bounds: None) -> None:
    account = lp.Account(id="123")
    account.remember_consumer("old", "anonymous", T0)
    account.forget_idle_anonymous(T0 + 10**9)
    assert account.remember_consumer("old", "anonymous", T0 + 10**9).first_seen == T0 + 10**9


@pytest.fixture
def company(monkeypatch: pytest.MonkeyPatch) -> mb.Company:
    for name, value in {
        "MAX_CLIENT_TOKENS": 3,
        "MAX_SESSIONS": 3,
        "MAX_CODES": 3,
        "MAX_MESSAGES": 3,
        "PRUNE_EVERY": 2,
    }.items():
        monkeypatch.setattr(mb, name, value)
    return mb.Company(id="acme")


def token(n: int, expires_at: float) -> mb.ClientToken:
    return mb.ClientToken(token=f"t{n}", clientID="c", channelID="web", issued_at=T0, expires_at=expires_at)


def test_client_tokens_and_codes_are_forgotten_a_day_after_they_expire(company: mb.Company) -> None:
    company.tokens = {"t0": token(0, T0), "t1": token(1, T0 + 3600)}
    company.codes = {"web/1": mb.OneTimeCode(phone="1", channelID="web", code="000000", expires_at=T0, attempts_left=5)}
    company.forget_stale(T0 + mb.EXPIRED_MEMORY_SECONDS - 1)
    assert set(company.tokens) == {"t0", "t1"} and company.codes  # expired, still answered "expired"
    company.forget_stale(T0 + mb.EXPIRED_MEMORY_SECONDS)
    assert set(company.tokens) == {"t1"} and not company.codes


def test_records_past_their_count_go_oldest_first_with_their_anonymous_clients(company: mb.Company) -> None:
    for n in range(7):
        company.tokens[f"t{n}"] = token(n, T0 + 10**6)
        client = f"{mb.ANONYMOUS_CLIENT_PREFIX}{n}"
        company.client(client, "mbWebChat")
        company.sessions[f"s{n}"] = mb.WebChatSession(
            session_id=f"s{n}", channelID="web", clientID=client, auth="anonymous", opened_at=T0
        )
        company.messages.append({"n": n})
        company.added_record(T0)
    company.forget_stale(T0)
    assert list(company.tokens) == ["t4", "t5", "t6"] and list(company.sessions) == ["s4", "s5", "s6"]
    assert sorted(company.clients) == [f"{mb.ANONYMOUS_CLIENT_PREFIX}{n}" for n in (4, 5, 6)]
    assert company.messages == [{"n": 4}, {"n": 5}, {"n": 6}]


# --- the other LivePerson consumers, and Mindbehind's named clients --------------------------------------


def test_signup_and_external_consumers_without_conversation_are_forgotten_when_their_token_ended() -> None:
    account = lp.Account(id="123")
    for kind in ("signup", "external", "authenticated"):
        account.remember_consumer(kind, kind, T0)
        account.remember_consumer(f"{kind}-talking", kind, T0)
        account.conversations[kind] = lp.Conversation(id=kind, consumer_id=f"{kind}-talking", started_at=T0)
    settings = account.settings
    account.forget_idle_others(T0 + settings.consumer_jws_ttl - 1)
    assert "external" in account.consumers  # a ConsumerJWS of its first profile may still be good
    account.forget_idle_others(T0 + settings.consumer_jws_ttl)
    assert "external" not in account.consumers and "signup" in account.consumers
    account.forget_idle_others(T0 + settings.signup_jwt_ttl)
    assert set(account.consumers) == {"authenticated", "signup-talking", "external-talking", "authenticated-talking"}


def test_other_idle_consumers_past_the_count_go_oldest_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "MAX_IDLE_CONSUMERS", 3)
    monkeypatch.setattr(lp, "PRUNE_EVERY", 2)
    account = lp.Account(id="123")
    account.remember_consumer("talking", "authenticated", T0)
    account.conversations["c1"] = lp.Conversation(id="c1", consumer_id="talking", started_at=T0)
    for n in range(9):
        account.remember_consumer(f"known-{n}", ("signup", "external", "authenticated")[n % 3], T0 + n)
    idle = sorted(set(account.consumers) - {"talking"})
    assert "talking" in account.consumers
    assert len(idle) <= 3 + 2 and "known-8" in idle and "known-0" not in idle


def test_a_named_client_goes_with_its_last_token_and_session(company: mb.Company) -> None:
    company.clients["seeded"] = mb.Client(clientID="seeded")
    for client_id, expires_at in (("gone", T0), ("kept", T0 + 10**6)):
        company.tokens[client_id] = mb.ClientToken(
            token=client_id, clientID=client_id, channelID="web", issued_at=T0, expires_at=expires_at
        )
        company.client(client_id, "mbWebChat")
    company.tokens["gone-2"] = mb.ClientToken(
        token="gone-2", clientID="in-session", channelID="web", issued_at=T0, expires_at=T0
    )
    company.client("in-session", "mbWebChat")
    company.sessions["s"] = mb.WebChatSession(
        session_id="s", channelID="web", clientID="in-session", auth="token", opened_at=T0
    )
    company.forget_stale(T0 + mb.EXPIRED_MEMORY_SECONDS - 1)
    assert set(company.clients) == {"seeded", "gone", "kept", "in-session"}
    company.forget_stale(T0 + mb.EXPIRED_MEMORY_SECONDS)
    assert set(company.clients) == {"seeded", "kept", "in-session"} and set(company.tokens) == {"kept"}


def test_closed_conversations_past_the_count_go_earliest_ended_first(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lp, "MAX_CLOSED_CONVERSATIONS", 2)
    monkeypatch.setattr(lp, "PRUNE_EVERY", 1)
    account = lp.Account(id="123")
    for n, ended_at in enumerate([T0 + 5, T0 + 1, None, T0 + 3, None, T0 + 4]):
        state = "OPEN" if ended_at is None else "CLOSE"
        account.conversations[f"c{n}"] = lp.Conversation(
            id=f"c{n}", consumer_id=f"k{n}", started_at=T0, state=state, ended_at=ended_at
        )
        account.added_conversation()
    assert set(account.conversations) == {"c0", "c2", "c4", "c5"}  # both open ones, and the two that ended last
