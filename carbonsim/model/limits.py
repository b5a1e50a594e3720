"""The limits of what carbonsim simulates, checked in the parse step for every workload kind.

Every training run, job, search, trial and service lasts at most
:data:`~.constraints.MAX_HOURS` (100 years) and ends before 2200-01-01 (the date
limit of scenario files); a job has at most :data:`~.constraints.MAX_CHIPS` chips.
Inputs past these limits are errors naming the field, so no run allocates an hourly
table of millennia (docs/scenario-format.md, "Limits").
"""
from __future__ import annotations

import datetime as dt

from .constraints import MAX_HOURS
from .errors import Problem
from .spec import JobStreamSpec, per_job
from .specbase import LATEST


def check_end(path: str, key: str, start: dt.datetime, seconds: float, what: str, problems: list[Problem]) -> bool:
    """The horizon check: ``what`` (starting at ``start``, lasting ``seconds``) lasts at most
    MAX_HOURS and ends before 2200-01-01; otherwise appends a problem and returns False."""
    hours = seconds / 3600.0
    if not hours <= MAX_HOURS:
        problems.append(Problem(f"{path}.{key}", f"implies {what} of {hours:,.6g} hours, longer than the limit of "
                                f"{MAX_HOURS:,} hours (100 years)", has_value=False,
                                fix="the limits are in docs/scenario-format.md"))
        return False
    if start + dt.timedelta(seconds=seconds) >= LATEST:
        problems.append(Problem(f"{path}.start", f"{what} would end after 2199", start,
                                fix=f"start earlier: it lasts {hours / 24:,.6g} days"))
        return False
    return True


def stream_ends(path: str, st: JobStreamSpec, start: dt.datetime, end: dt.datetime, trace: dict | None,
                achieved: float | None, problems: list[Problem]) -> bool:
    """The horizon check of a job stream: its longest job (largest draw of a per-job
    distribution, or each job of a trace), started at the last arrival, before any queueing."""
    if trace is not None:
        if "duration_hours" in trace:
            jobs = [(t, h * 3600.0) for t, h in zip(trace["submit"], trace["duration_hours"])]
        elif achieved is not None:
            jobs = [(t, f / (c * achieved)) for t, c, f in zip(trace["submit"], trace["chips"], trace["flops"])]
        else:
            return True
        return all(check_end(path, "trace", t, seconds, "a job of the trace", problems) for t, seconds in jobs)
    if st.duration_hours is not None:
        seconds = _highest(st.duration_hours) * 3600.0
    elif st.flops is not None and achieved is not None:
        seconds = _highest(st.flops) / (max(_lowest(st.chips), 1) * achieved)
    else:
        return True
    key = "duration_hours" if st.duration_hours is not None else "flops"
    return check_end(path, key, end, seconds, "the longest job", problems)


def _highest(value) -> float:
    return per_job(value).bounds[1] if isinstance(value, dict) else float(value)


def _lowest(value) -> float:
    return per_job(value).bounds[0] if isinstance(value, dict) else float(value)
