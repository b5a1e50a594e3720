"""The one error type users see for bad input, and its pieces."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

# Characters that str.splitlines() breaks on: escaped so one problem is one line.
_LINE_BREAKS = {c: repr(chr(c))[1:-1] for c in (0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029)}


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
        return text.translate(_LINE_BREAKS)


def _show(value: object) -> str:
    if isinstance(value, (dt.date, dt.time)):  # as written in TOML, not datetime.date(...)
        return value.isoformat()
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # e.g. an int with more than 4300 digits
        text = f"<{type(value).__name__} too large to show>"
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


class SimulationError(RuntimeError):
    """Inputs reached a kernel that the parse step should have rejected."""
