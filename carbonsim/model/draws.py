"""Joint checks of Monte Carlo draws: each sample's values of one table obey that table's rules.

A rule between fields (a net intensity at most the gross one, min_replicas at most
max_replicas) holds for sampled values as it does for fixed ones: the sampled values
of every table holding several uncertain inputs are validated together, sample by
sample, by the table's own model of the file format.
"""
from __future__ import annotations

import copy
import types
import typing
from typing import Mapping

import numpy as np
from pydantic import BaseModel, ValidationError

from .errors import Problem, ScenarioError, field_path
from .problems import problems_from
from .uncertain import UncertainScenario, field_annotation, get_at, set_at


def _entry(loc: tuple) -> tuple[tuple, type[BaseModel]] | None:
    """The innermost table of the file format holding the field at ``loc``, and its model."""
    for k in range(len(loc) - 1, 0, -1):
        t = field_annotation(loc[:k])
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            t = next((a for a in typing.get_args(t) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if isinstance(t, type) and issubclass(t, BaseModel):
            return loc[:k], t
    return None


def check_joint_draws(u: UncertainScenario, x: np.ndarray) -> None:
    """Every sample's values of a table with several sampled inputs obey the table's rules.

    The sampled values of each such table are validated together, one sample
    (row of ``x``) at a time, by the table's own model, so a rule between
    fields (net intensity at most the gross one, min_replicas at most
    max_replicas, ...) holds for each draw as it does for fixed values.  Raises
    ScenarioError naming the inputs, how many samples break the rule, the first
    such sample and the rule.
    """
    groups: dict[tuple, list[int]] = {}
    models: dict[tuple, type[BaseModel]] = {}
    for j, inp in enumerate(u.sampled):
        found = _entry(inp.loc)
        if found is not None:
            groups.setdefault(found[0], []).append(j)
            models[found[0]] = found[1]
    problems: list[Problem] = []
    for prefix, cols in groups.items():
        if len(cols) < 2:
            continue   # one sampled input against fixed neighbours: its extreme draws were checked
        base = get_at(u.nominal_document, prefix)
        if not isinstance(base, Mapping):
            continue
        rows, counts = np.unique(x[:, cols], axis=0, return_counts=True)
        first, rule, bad_rows = None, None, 0
        for row, count in zip(rows, counts):
            entry = copy.deepcopy(dict(base))
            for c, value in zip(cols, row):
                set_at(entry, u.sampled[c].loc[len(prefix):], u.sampled[c].value(value))
            try:
                models[prefix].model_validate(entry)
            except ValidationError as err:
                bad_rows += int(count)
                if first is None:
                    first, rule = row, problems_from(err, prefix, models[prefix])[0]
        if first is not None:
            names = ", ".join(u.sampled[c].path for c in cols)
            drawn = ", ".join(f"{u.sampled[c].loc[-1]} = {_short(u.sampled[c].value(v))}" for c, v in zip(cols, first))
            problems.append(Problem(
                field_path(prefix), f"{bad_rows:,} of {len(x):,} samples break a rule that fixed values obey: "
                f"{rule.rule} (first: {drawn})", has_value=False,
                fix=f"narrow or correlate the distributions of {names} so that every draw is valid"))
    if problems:
        raise ScenarioError(problems, u.source)


def _short(value) -> str:
    return f"{value:.6g}" if isinstance(value, float) else repr(value)
