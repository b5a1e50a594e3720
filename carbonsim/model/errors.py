"""The one error type users see for bad input, and its pieces."""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_BOUNDS = {"gt": "greater than", "ge": "greater than or equal to", "lt": "less than", "le": "less than or equal to"}


def toml_key(name: object) -> str:
    """A key as written in a TOML path: bare if it can be, else quoted."""
    name = str(name)
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def field_path(loc: tuple) -> str:
    """``("workloads", "training", 2, "chips")`` -> ``workloads.training[2].chips``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + toml_key(part)
    return out


_PATH_PART = re.compile(r'\.?(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)")((?:\[\d+\])*)')


def path_loc(path: str) -> tuple:
    """``workloads.service[0].max_batch_size`` -> ``("workloads", "service", 0, "max_batch_size")``
    (the inverse of :func:`field_path`; keys may be quoted: ``datacenters."us east".pue``).
    Raises ValueError on a malformed path."""
    loc: list = []
    pos = 0
    path = path.strip()
    while pos < len(path):
        m = _PATH_PART.match(path, pos)
        if not m or m.end() == pos or (pos == 0 and path.startswith(".")):
            raise ValueError(f"not a path: {path!r} (write it as in error messages, e.g. "
                             "workloads.service[0].max_batch_size)")
        loc.append(m.group(1) if m.group(1) is not None else json.loads(f'"{m.group(2)}"'))
        loc += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(3))]
        pos = m.end()
    if not loc:
        raise ValueError("empty path")
    return tuple(loc)


def pydantic_rule(error: dict) -> str:
    """One pydantic error's message, said as a rule ("must be ..."), for every error line."""
    kind, value = error["type"], error.get("input")
    if kind == "finite_number":
        return "must be a finite number (not NaN or inf)"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a table"
    if kind == "list_type":
        return "must be an array"
    if kind == "int_type" and isinstance(value, float):
        return "must be a whole number (an integer, without a decimal point)"
    rule = re.sub(r"^(Input|String|Dictionary|List) should", "must", error["msg"]).replace("Input ", "value ")
    rule = re.sub(r" after validation, not \d+$", "", rule)
    bound = next(((k, v) for k, v in error.get("ctx", {}).items() if k in _BOUNDS), None)
    if bound and isinstance(bound[1], float) and abs(bound[1]) >= 1e16:  # 1e+32, not 1000...000
        rule = f"must be {_BOUNDS[bound[0]]} {bound[1]!r}"
    return rule

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
        # the constructor's own arguments, so a copy made as type(e)(*e.args) (SimPy re-raises a failed
        # process's exception so) or by pickle (worker processes) is the same error
        super().__init__(self.problems, source)

    def __str__(self) -> str:
        return "\n".join(p.format(self.source) for p in self.problems)


class SimulationError(RuntimeError):
    """Inputs reached a kernel that the parse step should have rejected."""
