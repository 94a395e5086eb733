"""Scenario files as pytest items, and scenarios inside Python tests, as a downstream project uses them."""

import textwrap

import pytest

PASSING = """
name: passing
vars: {account: "${random_digits(8)}"}
seed: {liveperson: {accounts: [{id: "${account}"}]}}
steps:
  - request: {method: POST, path: "/api/account/${account}/anonymous/authorize"}
    expect: {status: 200}
    save: {ext_jwt: $.token}
"""

FAILING = """
name: failing
vars: {account: "${random_digits(8)}"}
seed: {liveperson: {accounts: [{id: "${account}"}]}}
steps:
  - name: wrong expectation
    request: {method: GET, path: "/api/account/${account}/service/idp/baseURI.json"}
    expect: {status: 418}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini("[pytest]\nemulator_scenarios = scenarios\n")
    (pytester.path / "scenarios").mkdir()
    return pytester


def test_files_in_the_configured_folder_are_test_items(project):
    (project.path / "scenarios" / "ok.yaml").write_text(PASSING)
    (project.path / "scenarios" / "bad.yaml").write_text(FAILING)
    (project.path / "elsewhere.yaml").write_text(FAILING)  # not in the folder: not collected
    result = project.runpytest("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1, failed=1)
    output = result.stdout.str()
    assert "scenarios/ok.yaml::ok PASSED" in output and "scenarios/bad.yaml::bad FAILED" in output
    assert "FAIL steps[0] wrong expectation" in output and "status: expected 418, got 200" in output


def test_an_invalid_file_fails_naming_step_and_field(project):
    (project.path / "scenarios" / "broken.yaml").write_text("name: x\nsteps:\n  - request: {methd: GET, path: /}\n")
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=1)
    assert "broken.yaml: steps[0].request.methd: unknown field" in result.stdout.str()


def test_the_marker_and_the_fixture_run_scenarios_in_the_tests_namespace(project):
    (project.path / "scenarios" / "ok.yaml").write_text(PASSING)
    project.makepyfile(
        test_mixed=textwrap.dedent(
            """
            import pytest

            @pytest.mark.emulator_scenario("scenarios/ok.yaml")
            def test_marker(emulator_run_scenario, emulator):
                assert emulator_run_scenario.last.variables["ext_jwt"].startswith("ey")
                assert len(emulator.control.calls(path="/api/**")) == 1

            def test_fixture(emulator_run_scenario):
                result = emulator_run_scenario("scenarios/ok.yaml", account="87654321")
                assert result.variables["account"] == "87654321"
            """
        )
    )
    project.runpytest("-p", "no:cacheprovider", "test_mixed.py").assert_outcomes(passed=2)
