"""The one error type users see for bad input, and its pieces."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario: where, what was given, which rule, how to fix it."""

    path: str
    rule: str
    value: object = None
    fix: str | None = None
    has_value: bool = True

    def format(self, source: str | None = None) -> str:
        where = f"{source}: " if source else ""
        where += f"{self.path}: " if self.path else ""
        text = f"{where}{self.rule}"
        if self.has_value:
            text += f", got {_show(self.value)}"
        if self.fix:
            text += f" ({self.fix})"
        return text


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


class ScenarioError(ValueError):
    """A scenario (file or Python objects) is invalid.

    ``problems`` lists every :class:`Problem` found; ``str(error)`` gives one
    line per problem: ``FILE: field.path: rule, got VALUE (fix)``.
    """

    def __init__(self, problems: list[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__("\n".join(p.format(source) for p in self.problems))

    def with_source(self, source: str) -> "ScenarioError":
        return ScenarioError(self.problems, source)


class SimulationError(RuntimeError):
    """Inputs reached a kernel that the parse step should have rejected."""
