"""JUnit XML for CI systems: one testsuite per scenario, one testcase per step run."""

from __future__ import annotations

from pathlib import Path
from xml.etree import ElementTree

from .runner import ScenarioResult


def junit_xml(results: list[ScenarioResult]) -> bytes:
    suites = ElementTree.Element("testsuites", tests=str(sum(len(r.steps) for r in results)))
    for result in results:
        failures = sum(not step.ok for step in result.steps)
        suite = ElementTree.SubElement(
            suites, "testsuite", name=result.scenario.name, tests=str(len(result.steps)), failures=str(failures)
        )
        for step in result.steps:
            case = ElementTree.SubElement(
                suite, "testcase", classname=result.scenario.source, name=f"{step.where} {step.label}"
            )
            if not step.ok:
                failure = ElementTree.SubElement(
                    case, "failure", message=step.details[-1] if step.details else "failed"
                )
                failure.text = "\n".join(step.details)
    return ElementTree.tostring(suites, encoding="utf-8", xml_declaration=True)


def write_junit(results: list[ScenarioResult], path: str | Path) -> None:
    Path(path).write_bytes(junit_xml(results))
