"""The provider registry (`emulator.providers.PROVIDERS`): what each provider declares holds together."""

from __future__ import annotations

import pytest
from flask import Flask

from emulator.app import create_app
from emulator.config import parse_seed
from emulator.providers import LIVEPERSON, PROVIDERS
from emulator.providers.liveperson.models import Account
from emulator.providers.liveperson.seed_export import ACCOUNT_FIELDS
from emulator.web.spec import ExportedFields, ProviderSpec

SPECS = pytest.mark.parametrize("spec", PROVIDERS, ids=lambda spec: spec.name)


@pytest.fixture(scope="module")
def app() -> Flask:
    return create_app()


def unclassified(fields: ExportedFields) -> list[str]:
    """What is wrong with a classification: fields neither exported nor left out, both, or not the model's."""
    own = set(fields.model.model_fields)
    problems = [f"{name}: neither exported nor left out" for name in sorted(own - fields.exported - fields.left_out)]
    problems += [f"{name}: both exported and left out" for name in sorted(fields.exported & fields.left_out)]
    return problems + [f"{name}: not a field" for name in sorted((fields.exported | fields.left_out) - own)]


@SPECS
def test_record_classifies_every_field_of_what_it_exports(spec: ProviderSpec):
    """A field a model gains is neither exported nor left out until someone says which: run-time state is
    never written into a recorded seed by accident."""
    assert spec.seed_exporter is not None
    assert spec.seed_exporter.fields
    for fields in spec.seed_exporter.fields:
        assert unclassified(fields) == [], f"{spec.name}: {fields.model.__name__}"


def test_the_classification_check_sees_a_new_field():
    class GrownAccount(Account):
        chat_cursors: dict[str, int] = {}

    grown = ExportedFields(GrownAccount, ACCOUNT_FIELDS.exported, ACCOUNT_FIELDS.left_out)
    assert unclassified(grown) == ["chat_cursors: neither exported nor left out"]


def test_a_field_left_out_is_not_exported():
    account = Account.model_validate({"id": "123", "last_logins": {"alice": 1.0}, "features": ["a"]})
    assert ACCOUNT_FIELDS.dump(account) == {"id": "123", "features": ["a"]}


def route_owners(app: Flask, spec: ProviderSpec) -> set[str]:
    """The modules of the views and handlers on the provider's blueprint."""
    views = {
        app.view_functions[rule.endpoint]
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{spec.name}.")
    }
    blueprint = spec.blueprint
    handlers = [
        handler
        for codes in blueprint.error_handler_spec.values()
        for found in codes.values()
        for handler in found.values()
    ]
    hooks = [
        hook
        for table in (blueprint.before_request_funcs, blueprint.after_request_funcs, blueprint.url_value_preprocessors)
        for funcs in table.values()
        for hook in funcs
    ]
    return {function.__module__ for function in (*views, *handlers, *hooks)}


@SPECS
def test_the_route_modules_listed_are_the_ones_that_add_routes(app: Flask, spec: ProviderSpec):
    """Besides the listed route modules, only the module defining the blueprint (the HTTP kit, with its error
    handlers) adds to it."""
    listed = {module.__name__ for module in spec.route_modules}
    assert route_owners(app, spec) == listed | {spec.blueprint.import_name}


@SPECS
def test_every_declared_tenant_variable_is_a_route_variable(app: Flask, spec: ProviderSpec):
    variables = {
        name
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith(f"{spec.name}.")
        for name in rule.arguments
    }
    assert set(spec.tenant_variables) <= variables


def test_every_liveperson_route_names_its_tenant_by_a_declared_variable(app: Flask):
    """LivePerson finds a request's namespace by the account (or brand) in its path only: a route spelling it
    otherwise would run in the wrong namespace."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith("liveperson.")]
    assert len(rules) > 30
    assert [rule.rule for rule in rules if not rule.arguments & set(LIVEPERSON.tenant_variables)] == []


def test_the_seed_schema_has_a_part_per_provider():
    seed = parse_seed({spec.name: {} for spec in PROVIDERS})
    assert list(seed.parts()) == [spec.name for spec in PROVIDERS]
    assert all(isinstance(part, spec.seed_model) for spec, part in zip(PROVIDERS, seed.parts().values(), strict=True))


def test_providers_have_distinct_names_hosts_and_prefixes():
    names = [spec.name for spec in PROVIDERS]
    hosts = [host.name for spec in PROVIDERS for host in spec.hosts]
    prefixes = [prefix for spec in PROVIDERS for prefix in spec.path_prefixes]
    assert len(set(names)) == len(names) and len(set(hosts)) == len(hosts) and len(set(prefixes)) == len(prefixes)
    assert all(spec.hosts for spec in PROVIDERS)
