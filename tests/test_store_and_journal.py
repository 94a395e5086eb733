"""The namespaced store and the bounded journal."""

import pytest

from emulator.config import parse_seed
from emulator.core.journal import Journal
from emulator.core.store import Store, TenantConflict
from emulator.providers import PROVIDERS


def lp_seed(*ids: str):
    return parse_seed({"liveperson": {"accounts": [{"id": i} for i in ids]}}).parts()


@pytest.fixture
def store() -> Store:
    return Store(spec.state_type for spec in PROVIDERS)


def test_seeding_indexes_tenants_to_their_namespace(store):
    store.seed("a", lp_seed("1", "2"))
    assert store.namespace_of("liveperson", "2") == "a"
    assert store.namespace("a").tenants()["liveperson"] == ["1", "2"]


def test_a_tenant_belongs_to_one_namespace_and_a_conflict_changes_nothing(store):
    store.seed("a", lp_seed("1"))
    with pytest.raises(TenantConflict):
        store.seed("b", lp_seed("3", "1"))
    assert store.namespace_of("liveperson", "3") is None
    assert "b" not in store.names()


def test_seeding_the_same_tenant_again_in_its_namespace_replaces_it(store):
    store.seed("a", lp_seed("1"))
    store.seed("a", lp_seed("1"))
    assert store.namespace("a").tenants()["liveperson"] == ["1"]


def test_reset_drops_a_namespace_and_frees_its_tenant_ids(store):
    store.seed("a", lp_seed("1"))
    store.seed("b", lp_seed("2"))
    store.reset("a")
    assert store.names() == ["b"]
    assert store.namespace_of("liveperson", "1") is None
    store.seed("c", lp_seed("1"))
    store.reset()
    assert store.names() == []


def test_view_reads_a_missing_namespace_as_empty_without_creating_it(store):
    assert store.view("nowhere").tenants() == {"liveperson": [], "sunshine": [], "mindbehind": []}
    assert store.names() == []


def test_export_import_round_trip_restores_tenants_clock_and_keys(store):
    store.seed("a", lp_seed("1"))
    store.namespace("a").clock.set(2_000_000_000)
    store.namespace("a").keys.rotate("liveperson.consumer")
    document = store.export("a")
    other = Store(spec.state_type for spec in PROVIDERS)
    assert other.import_state(document) == ["a"]
    assert other.namespace_of("liveperson", "1") == "a"
    assert other.namespace("a").clock.now() == pytest.approx(2_000_000_000, abs=5)
    assert other.namespace("a").keys.current("liveperson.consumer").kid == "00002"
    assert other.export("a") == document


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"namespaces": []},
        {"namespaces": {"bad name!": {}}},
        {"namespaces": {"a": []}},
        {"namespaces": {"namespaces": {"namespaces": {}}}},
        {"namespaces": {"a": {"providers": {"nope": {}}}}},
        {"namespaces": {"a": {"providers": {"liveperson": {"accounts": {"1": {"id": "x"}}}}}}},
        {"namespaces": {"a": {"clock": {"offset": "soon"}}}},
        {"namespaces": {"a": {"keys": {"liveperson.consumer": {"keys": []}}}}},
        {"namespaces": {"a": {"keys": {"liveperson.consumer": {"keys": [{"kid": "1", "pem": "nope"}]}}}}},
    ],
)
def test_a_bad_state_document_is_refused_whole(store, document):
    store.seed("a", lp_seed("1"))
    before = store.export()
    with pytest.raises(ValueError):
        store.import_state(document)
    assert store.export() == before


def test_journal_is_bounded():
    journal = Journal(capacity=3)
    for n in range(5):
        journal.record(time="t", namespace="a", provider="p", method="GET", path=f"/x/{n}", query="", status=200)
    assert [e.path for e in journal.query()] == ["/x/2", "/x/3", "/x/4"]


def test_journal_filters_and_path_globs():
    journal = Journal()
    journal.record(
        time="t",
        namespace="a",
        provider="liveperson",
        method="POST",
        path="/api/account/1/anonymous/authorize",
        query="",
        status=200,
    )
    journal.record(
        time="t",
        namespace="b",
        provider="liveperson",
        method="GET",
        path="/api/account/2/service/idp/baseURI.json",
        query="",
        status=200,
    )
    assert len(journal.query(path="/api/account/*/anonymous/authorize")) == 1
    assert len(journal.query(path="/api/**")) == 2
    assert len(journal.query(path="/api/*")) == 0
    assert [e.namespace for e in journal.query(method="get")] == ["b"]
    assert [e.namespace for e in journal.query(namespace="a", provider="liveperson")] == ["a"]
    assert journal.query(provider="sunshine") == []
    assert [e.seq for e in journal.query(limit=1)] == [2]


def test_clearing_one_namespace_keeps_the_others():
    journal = Journal()
    for namespace in ("a", "b", "a"):
        journal.record(time="t", namespace=namespace, provider="p", method="GET", path="/", query="", status=200)
    journal.clear("a")
    assert [e.namespace for e in journal.query()] == ["b"]
    journal.record(time="t", namespace="a", provider="p", method="GET", path="/", query="", status=200)
    assert [e.namespace for e in journal.query()] == ["b", "a"]
    journal.clear()
    assert journal.query() == []


def test_clear_markers_do_not_outlive_the_entries_they_hide():
    """Per-test namespaces are cleared by the thousand: the bookkeeping must stay bounded."""
    journal = Journal(capacity=2)
    for n in range(1_000):
        journal.record(time="t", namespace=f"ns{n}", provider="p", method="GET", path="/", query="", status=200)
        journal.clear(f"ns{n}")
        journal.clear(f"never-used-{n}")
    assert len(journal._cleared_through) <= 2 and len(journal._held) <= 2
    journal.record(time="t", namespace="ns999", provider="p", method="GET", path="/again", query="", status=200)
    assert [e.path for e in journal.query(namespace="ns999")] == ["/again"]
