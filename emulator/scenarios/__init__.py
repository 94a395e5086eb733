"""Scenario files: declarative seed + steps, replayed in-process or against a server, collected by pytest."""

from .model import Scenario, ScenarioError, load_scenario, parse_scenario
from .runner import ScenarioResult, ScenarioRunner, StepResult

__all__ = [
    "Scenario",
    "ScenarioError",
    "ScenarioResult",
    "ScenarioRunner",
    "StepResult",
    "load_scenario",
    "parse_scenario",
]
