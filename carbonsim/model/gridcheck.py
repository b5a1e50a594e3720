"""Do the grids cover the hours a scenario runs?  The parse step's check, shared with the run.

The parse step knows the span a run plans its grid table for (the same arithmetic as
:func:`carbonsim.sim.simulate.simulate`: from the earliest start to the latest of the
scenario's end, each run's end plus its policy's slack, each trace job's end and each
service's last hour); Poisson job streams add their draws only at run time, and queueing
may run past the span, so the run checks again, with the same messages.  Every message
names the TOML keys that fix it.  Data warnings (filled gaps, glitch hours) are given only
about the data hours the span uses.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Mapping

import numpy as np

from .. import grid as gridmod
from .errors import Problem, toml_key
from .objects import Datacenter, JobStream, Search, Service, TrainingRun
from .spec import DatacenterSpec, ScenarioMeta
from .units import SECONDS_PER_HOUR as HOUR


def alignment(d: DatacenterSpec, meta: ScenarioMeta) -> tuple[str, str]:
    """(grid_year_shift, grid_overflow) of a datacenter: its own keys, else [scenario]'s, else the defaults."""
    shift = d.grid_year_shift if "grid_year_shift" in d.model_fields_set or meta.grid_year_shift is None \
        else meta.grid_year_shift
    overflow = d.grid_overflow if "grid_overflow" in d.model_fields_set or meta.grid_overflow is None \
        else meta.grid_overflow
    return shift, overflow


def _fmt(t) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ") if isinstance(t, dt.datetime) else str(t)


def span_problem(name: str, dc: Datacenter, err: gridmod.GridError) -> Problem:
    """A grid that does not cover a run's hours, said in the file's keys."""
    path = f"datacenters.{toml_key(name)}.grid"
    where = f"in [scenario] for every datacenter or in [datacenters.{toml_key(name)}]"
    kind = getattr(err, "kind", None)
    if kind == "year":
        a, b = err.data
        return Problem(path, f"the simulation starts in {err.year}, but {err.signal_name} covers {_fmt(a)}..{_fmt(b)} "
                       f"and grid_year_shift is {dc.grid_year_shift!r}", has_value=False,
                       fix=f"set grid_year_shift = \"weekday\" {where}: the same hour of year, moved at most 3 days "
                           f"to keep weekdays (\"exact\": the same hour of year); or use data for {err.year}")
    if kind == "overflow":
        a, b = err.data
        need_a, need_b = err.needed
        return Problem(path, f"the simulation needs {_fmt(need_a)}..{_fmt(need_b)} of {err.signal_name} "
                       f"(aligned by grid_year_shift = {dc.grid_year_shift!r}), but the data cover {_fmt(a)}..{_fmt(b)}",
                       has_value=False,
                       fix=f"set grid_overflow = \"wrap\" {where} to repeat the data cyclically, or shorten the "
                           "simulation")
    if kind == "missing":
        return Problem(path, f"{err.hours} of the hours used are missing in {err.signal_name}", has_value=False,
                       fix=f"raise datacenters.{toml_key(name)}.grid_max_gap_hours to fill them")
    return Problem(path, str(err), has_value=False)


def gap_problem(name: str, err: gridmod.GridError, max_gap_hours: int) -> Problem:
    """A gap in the data longer than grid_max_gap_hours, said in the file's keys."""
    return Problem(f"datacenters.{toml_key(name)}.grid_max_gap_hours",
                   f"{err.signal_name} has {err.hours} consecutive missing hours {err.needed}, more than this",
                   max_gap_hours, fix=f"raise grid_max_gap_hours to at least {err.hours} to fill them by interpolation")


def planned_span(start: dt.datetime, end: dt.datetime | None, workloads) -> tuple[dt.datetime, int]:
    """(first hour, hours) of the grid table a run plans: as the run computes it, without Poisson draws."""
    finals = [w.final_training for w in workloads if isinstance(w, Search) and w.final_training is not None]
    starts = [start] + [w.start for w in (*workloads, *finals)]
    t0 = min(starts).replace(minute=0, second=0, microsecond=0)
    reach = [1.0, (end - t0).total_seconds() if end else 0.0]

    def at(t):
        return (t - t0).total_seconds()

    for w in (*workloads, *finals):
        slack = w.policy.slack_s
        if isinstance(w, TrainingRun):
            reach.append(at(w.start) + w.duration_s + slack)
        elif isinstance(w, Search):
            full = int(round(w.trials * w.early_stopping_fraction)) < w.trials   # a trial runs to the end
            reach.append(at(w.start) + w.trial_duration_s * (1.0 if full else w.early_stopped_length) + slack)
        elif isinstance(w, JobStream) and w.trace is not None:
            for k, submit in enumerate(w.trace["submit"]):
                work = (w.trace["duration_hours"][k] * HOUR if "duration_hours" in w.trace
                        else w.trace["flops"][k] / (w.trace["chips"][k] * w.achieved_flops_per_chip))
                reach.append(at(submit) + work + slack)
        elif isinstance(w, Service):
            reach.append(at(w.start) + math.ceil(w.duration_s / HOUR) * HOUR)
        elif hasattr(w, "segments"):          # measured runs: their recorded intervals
            reach.extend(at(w.start) + off + length for off, length, _ in w.segments)
    return t0, max(1, math.ceil(max(reach) / HOUR))


def check_coverage(datacenters: Mapping[str, Datacenter], t0: dt.datetime, n_hours: int,
                   problems: list[Problem], warnings: list[str]) -> None:
    """Every datacenter's grid over the planned span: problems for hours it cannot give, and
    warnings about filled or glitch data hours among those it gives."""
    for name, dc in datacenters.items():
        try:
            idx = gridmod.align_index(dc.grid, t0, n_hours, year_shift=dc.grid_year_shift, overflow=dc.grid_overflow)
        except gridmod.GridError as err:
            problems.append(span_problem(name, dc, err))
            continue
        if idx is None:
            continue
        missing = int(np.isnan(dc.grid.values[idx]).sum())
        if missing:
            problems.append(span_problem(name, dc, gridmod.GridSpanError(
                "missing hours", kind="missing", signal=dc.grid, hours=missing)))
            continue
        warnings.extend(f"datacenter {name}: {note}" for note in gridmod.used_hours_notes(dc.grid, idx))
