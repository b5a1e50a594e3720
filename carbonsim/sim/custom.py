"""User policies in Python: what a policy's ``plan`` receives and what it must return.

A scenario names the class, ``policy = { python = "mypolicies:NightOnly", params = {...} }``
(docs/scenario-format.md, "User policies").  The engine makes one instance per run,
``NightOnly(**params)``, and calls ``plan(job, forecast, pools)`` once per job when the job is
released.  The plan is a :class:`Plan` (or a ``(datacenter, segments)`` tuple): the datacenter
(one of ``job.candidates``) and the run segments ``[(start_s, length_s), ...]``, in time order,
not overlapping, inside ``[job.release_s, job.deadline_s]``, holding the job's length (plus
``job.overhead_s`` for every segment after the first).  The engine checks every plan and stops
with an error naming the policy and the job when one breaks a rule; a job still queues for
chips at each planned start, as with the built-in policies.

Times are seconds from ``forecast.t0`` (a UTC datetime, the start of the run's first hour).
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass

import numpy as np

from ..model import pyref
from ..model.errors import Problem, ScenarioError
from ..model.units import SECONDS_PER_HOUR as HOUR
from . import planners

TOL = planners.TOL       # 1 µs: plans are checked to this tolerance in time


@dataclass(frozen=True)
class Job:
    """One job, as the policy sees it when it is released."""

    index: int               # row of the job table (the ``job`` column of the intervals)
    workload: str
    hardware: str
    chips: int
    length_s: float          # the run time to plan for: the true one or its estimate (``length_known``)
    release_s: float         # now: the time of planning
    deadline_s: float        # release + length + slack: every segment must end by then
    datacenter: str          # the workload's own datacenter
    candidates: tuple[str, ...]   # where it may run (``policy.datacenters``, else its own)
    priority: int = 0
    overhead_s: float = 0.0  # extra run time of every segment after the first (checkpoint_overhead_minutes)


@dataclass(frozen=True)
class PoolState:
    """A pool of chips at planning time."""

    datacenter: str
    hardware: str
    chips: int | None        # None: unlimited
    free: float              # chips free now (inf when unlimited)
    queued_jobs: int         # jobs waiting for chips
    queued_chips: int        # chips those jobs wait for


@dataclass(frozen=True)
class Plan:
    datacenter: str
    segments: list[tuple[float, float]]     # [(start_s, length_s), ...]


class ForecastView:
    """What the policy sees of every datacenter's hourly intensity (gCO2e/kWh) at ``now``: the
    forecast the policy's ``forecast`` settings give, as issued at ``now``.  A step function,
    constant within each UTC hour and held at its last hour beyond its end."""

    def __init__(self, forecast, names: list[str], t0: dt.datetime, now: float):
        self._forecast, self._index, self.t0, self.now = forecast, {n: i for i, n in enumerate(names)}, t0, now
        self.datacenters = tuple(names)

    def _view(self, datacenter: str):
        try:
            d = self._index[datacenter]
        except KeyError:
            raise KeyError(f"no datacenter {datacenter!r} (there are {', '.join(self.datacenters)})") from None
        return self._forecast.view(d, self.now)

    def hourly(self, datacenter: str, hours: int | None = None) -> np.ndarray:
        """The forecast of the hours from the one holding ``now`` on (index 0 starts at
        :meth:`hour_start`), ``hours`` of them (default: as far as it reaches)."""
        vals, _, off = self._view(datacenter)
        first = min(max(int((self.now - off) // HOUR), 0), len(vals) - 1)
        out = vals[first:] if hours is None else vals[first:first + hours]
        if hours is not None and len(out) < hours:      # held at its last value
            out = np.concatenate([out, np.full(hours - len(out), vals[-1])])
        return np.array(out, dtype=np.float64)

    def hour_start(self) -> float:
        """Start (s) of the hour holding ``now``."""
        return math.floor(self.now / HOUR) * HOUR

    def at(self, datacenter: str, t: float) -> float:
        vals, _, off = self._view(datacenter)
        return float(vals[min(max(int((t - off) // HOUR), 0), len(vals) - 1)])

    def integral(self, datacenter: str, start: float, end: float) -> float:
        """Integral over [start, end) in (g/kWh) x s: divided by 3.6e6, kg of CO2e per kW of load."""
        vals, prefix, off = self._view(datacenter)
        return float(planners.integral(vals, prefix, start - off, end - off))

    def cost(self, datacenter: str, segments) -> float:
        """The integral over a plan's segments ``[(start, length), ...]``."""
        return sum(self.integral(datacenter, s, s + n) for s, n in segments)

    def clock(self, t: float) -> dt.datetime:
        """The UTC date and time of ``t``."""
        return self.t0 + dt.timedelta(seconds=float(t))


def _bad(policy, job: Job, what: str, fix: str) -> ScenarioError:
    where = f"{policy.python}.plan() for job {job.index} (workload {job.workload!r}, released at " \
            f"{job.release_s:g} s, deadline {job.deadline_s:g} s)"
    return ScenarioError([Problem(policy.where or "policy.python", f"{where} {what}", policy.python, fix=fix)],
                         policy.source)


@dataclass(frozen=True)
class Labels:
    """Names the engine's indices stand for, and its time origin."""

    datacenters: tuple[str, ...]
    workloads: tuple[str, ...]
    t0: dt.datetime

    @classmethod
    def default(cls, pools, jobs) -> "Labels":
        n_dc = 1 + max([p.datacenter for p in pools] + [-1])
        n_wl = 1 + int(np.max(jobs.workload)) if len(jobs) else 0
        return cls(tuple(f"dc{d}" for d in range(n_dc)), tuple(f"workload{w}" for w in range(n_wl)),
                   dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc))


class Planner:
    """Runs one user policy in the engine: makes the instance, calls ``plan``, checks the plan."""

    def __init__(self, policy, labels: Labels):
        self.policy, self.names, self.workloads, self.t0 = policy, list(labels.datacenters), list(labels.workloads), \
            labels.t0
        self.index = {n: i for i, n in enumerate(self.names)}
        try:
            cls = pyref.load(policy.python, policy.base_dir)
            self.instance = cls(**json.loads(policy.params_json))
        except KeyboardInterrupt:
            raise
        except pyref.ReferenceError_ as err:
            raise ScenarioError([Problem(policy.where or "policy.python", f"cannot use the policy: {err}",
                                         policy.python)], policy.source) from None
        except Exception as err:     # the user's constructor raised
            raise ScenarioError([Problem(policy.where or "policy.python",
                                         f"{policy.python}(**params) raised {type(err).__name__}: {err}",
                                         policy.python, fix="check the policy's params")], policy.source) from None

    def plan(self, i: int, now: float, length: float, home: int, hardware: str, chips: int, priority: int,
             workload: int, forecast, pools_by_key: dict, states: list) -> tuple[int, list[tuple[float, float]]]:
        p = self.policy
        cands = tuple(p.candidates) or (home,)
        job = Job(index=i, workload=self.workloads[workload] if 0 <= workload < len(self.workloads) else str(workload),
                  hardware=hardware, chips=chips, length_s=length, release_s=now,
                  deadline_s=now + length + p.slack_s, datacenter=self.names[home],
                  candidates=tuple(self.names[d] for d in cands), priority=priority, overhead_s=p.checkpoint_overhead_s)
        pools = [PoolState(self.names[s.datacenter], s.spec.hardware, s.spec.chips, float(s.free),
                           len(s.queue), int(sum(q[2] for q in s.queue))) for s in states]
        try:
            got = self.instance.plan(job, ForecastView(forecast, self.names, self.t0, now), pools)
        except (KeyboardInterrupt, ScenarioError):
            raise
        except Exception as err:
            raise _bad(p, job, f"raised {type(err).__name__}: {err}", "fix the policy") from None
        return self._check(job, got, hardware, pools_by_key)

    def _check(self, job: Job, got, hardware: str, pools_by_key: dict):
        p = self.policy
        if isinstance(got, Plan):
            name, segments = got.datacenter, got.segments
        elif isinstance(got, tuple) and len(got) == 2:
            name, segments = got
        else:
            raise _bad(p, job, f"returned {type(got).__name__}, not a Plan(datacenter, segments)",
                       "return carbonsim.Plan(datacenter, [(start_s, length_s), ...])")
        if name not in job.candidates:
            raise _bad(p, job, f"chose datacenter {name!r}, not one of its candidates {list(job.candidates)}",
                       "choose one of job.candidates (policy.datacenters, else the workload's datacenter)")
        dc = self.index[name]
        if (dc, hardware) not in pools_by_key:
            raise _bad(p, job, f"chose datacenter {name!r}, which has no pool of {hardware!r}",
                       "choose a datacenter with that hardware (see the pools argument)")
        try:
            segs = [(float(s), float(n)) for s, n in segments]
        except (TypeError, ValueError):
            raise _bad(p, job, f"returned segments {segments!r:.60}, not [(start_s, length_s), ...]",
                       "return a list of (start, length) pairs in seconds") from None
        if not segs:
            raise _bad(p, job, "returned no segments", "return at least one (start, length) pair")
        end = job.release_s
        for s, n in segs:
            if not (math.isfinite(s) and math.isfinite(n)) or n <= 0:
                raise _bad(p, job, f"returned segment ({s!r}, {n!r}): start and length must be finite, length > 0",
                           "drop empty segments")
            if s < end - TOL:
                what = "before the release" if end == job.release_s else "overlapping or before the previous one"
                raise _bad(p, job, f"returned segment ({s:g}, {n:g}) starting {what}",
                           "give segments in time order, none before job.release_s")
            end = s + n
        if end > job.deadline_s + TOL:
            raise _bad(p, job, f"returned segments ending at {end:g} s, after the deadline",
                       "end every segment by job.deadline_s (raise slack_hours for more room)")
        need = job.length_s + job.overhead_s * (len(segs) - 1)
        held = sum(n for _, n in segs)
        if held < need - TOL * len(segs):
            raise _bad(p, job, f"returned segments holding {held:g} s of run time, less than the {need:g} s needed",
                       "plan job.length_s in all (plus job.overhead_s for every segment after the first)")
        return dc, [(max(s, job.release_s), n) for s, n in segs]
