"""The seed schema: one validation for serve --seed, the control API, scenarios and fixtures."""

import pytest

from emulator import DEMO_SEED_PATH
from emulator.config import SeedError, load_seed_file, parse_seed, parse_seed_text


def account(**fields):
    return {"liveperson": {"accounts": [{"id": "12345678", **fields}]}}


def field_of(data) -> str:
    with pytest.raises(SeedError) as caught:
        parse_seed(data)
    return caught.value.field


def test_the_design_example_validates_with_durations_in_seconds():
    seed = parse_seed_text(
        """
liveperson:
  accounts:
    - id: "12345678"
      features: [Messaging.Un_Auth_Messaging]
      settings: {ext_jwt_ttl: 10m, ext_jwt_refresh_window: 730h, session_ttl: 8h}
      connectors:
        - {id: "2468", type: unauthenticated}
        - {id: "1357", type: authenticated, issuer: "https://brand.example", jwt_public_key: "MIIBIjAN..."}
      users:
        - {username: agent1, password: "s3cret"}
        - {username: bot1, app_key: k, secret: s, access_token: t, access_token_secret: ts}
      apps:
        - {client_id: "app-install-1", client_secret: "cs"}
"""
    )
    settings = seed.liveperson.accounts[0].settings
    assert (settings.ext_jwt_ttl, settings.ext_jwt_refresh_window, settings.session_ttl) == (600, 2_628_000, 28_800)
    assert seed.parts()["liveperson"].tenant_ids() == ["12345678"]


def test_defaults_are_the_providers_lifetimes():
    settings = parse_seed(account()).liveperson.accounts[0].settings
    assert (settings.ext_jwt_ttl, settings.ext_jwt_refresh_window, settings.idp_error_status) == (600, 2_628_000, 401)


def test_json_text_and_numeric_ids_are_accepted():
    seed = parse_seed_text('{"liveperson": {"accounts": [{"id": 42}]}}')
    assert seed.liveperson.accounts[0].id == "42"


def test_the_demo_seed_is_valid():
    assert load_seed_file(DEMO_SEED_PATH).liveperson.accounts[0].id == "12345678"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"liveperson": {"accounts": [{"id": "abc"}]}}, "liveperson.accounts[0].id"),
        ({"liveperson": {"accounts": [{}]}}, "liveperson.accounts[0].id"),
        (account(settings={"ext_jwt_ttl": "ten minutes"}), "liveperson.accounts[0].settings.ext_jwt_ttl"),
        (account(settings={"idp_error_status": 200}), "liveperson.accounts[0].settings.idp_error_status"),
        (account(settings={"colour": "blue"}), "liveperson.accounts[0].settings.colour"),
        (account(connectors=[{"id": "1", "type": "magic"}]), "liveperson.accounts[0].connectors[0].type"),
        (account(connectors=[{"id": "1", "type": "authenticated"}]), "liveperson.accounts[0].connectors[0]"),
        (account(connectors=[{"id": "1", "type": "unauthenticated"}] * 2), "liveperson.accounts[0].connectors"),
        (account(users=[{"username": "a"}]), "liveperson.accounts[0].users[0]"),
        (account(apps=[{"client_id": "a"}]), "liveperson.accounts[0].apps[0].client_secret"),
        (account(features="Messaging.Un_Auth_Messaging"), "liveperson.accounts[0].features"),
        ({"liveperson": {"accounts": [{"id": "1"}, {"id": "1"}]}}, "liveperson.accounts"),
        ({"livepreson": {}}, "livepreson"),
    ],
)
def test_errors_name_the_bad_field(data, field):
    assert field_of(data) == field


def test_unknown_fields_say_so():
    with pytest.raises(SeedError, match="unknown field"):
        parse_seed(account(colour="blue"))


@pytest.mark.parametrize("text", ["[1, 2]", "liveperson: [", "just a string", "42"])
def test_text_that_is_not_a_seed_mapping_is_refused(text):
    with pytest.raises(SeedError):
        parse_seed_text(text)


def test_unreadable_and_invalid_files_name_the_file(tmp_path):
    with pytest.raises(SeedError, match="cannot read"):
        load_seed_file(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("liveperson:\n  accounts:\n    - id: x\n")
    with pytest.raises(SeedError) as caught:
        load_seed_file(bad)
    assert caught.value.field == "liveperson.accounts[0].id" and "bad.yaml" in str(caught.value)
