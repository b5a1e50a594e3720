"""The fleet engine's fast path: :func:`carbonsim.sim.fleet.simulate`, run by the compiled core
(``ext/_fleet.pyx``) instead of SimPy, with the same results to the last bit.

Two steps.  *Planning*: a job's plan depends only on its policy, its release time, its length
(or the estimate planned with), its datacenter and hardware and the forecast, never on the
engine's state, so every plan is made before the loop: window, lowest-slot and carbon-time
shifts over a fixed forecast table by compiled planners, every other built-in rule (placement
without a shift, interruptible, thresholds, forecasts issued hourly) by the same Python
planners the SimPy engine calls (:func:`carbonsim.sim.fleet.plan`).  The release times are the
SimPy engine's clock, computed the same way.  *The loop*: the compiled core replays the
engine's events in SimPy's order (see the comment at the top of ``ext/_fleet.pyx``).

What the core does not run (:func:`unsupported` says why, and ``engine = "auto"`` then uses
SimPy): user policies in Python, and concurrency groups (a search's trials limited by its
parallelism, a final training submitted when the trials are done), whose start times depend
on the engine's state.
"""
from __future__ import annotations

import math

import numpy as np

from ..model.errors import SimulationError
from . import _fleet, planners
from .fleet import BUSY, IDLE, EngineRun, Forecast, Jobs, Policy, Pool, plan  # noqa: F401

__all__ = ["simulate", "unsupported"]

_COMPILED_SHIFTS = {"window": 1, "lowest-slot": 2, "carbon-time": 3}
_ERRORS = {1: "out of memory", 2: "a planned segment with a NaN, negative or infinite start or length",
           3: "a job asking for no chips, for a pool it has no chips in, or with no segments"}


def unsupported(jobs: Jobs, policies: list[Policy], group_limits: dict | None = None,
                baseline: bool = False) -> str | None:
    """Why the compiled core cannot run this job table (None: it can)."""
    if group_limits:
        return "jobs with a concurrency limit (a search's parallelism)"
    if len(jobs) and np.any(np.asarray(jobs.after_group) >= 0):
        return "jobs submitted when others finish (a search's final training)"
    if not baseline:
        used = set(np.unique(np.asarray(jobs.policy)).tolist()) if len(jobs) else set()
        for k in sorted(used):
            if not policies[k].is_builtin and not policies[k].is_baseline:
                return f"a user policy in Python ({policies[k].python})"
    return None


class _CoreLog:
    """The core's interval arrays, then what closing the pools adds (same columns as IntervalLog)."""

    def __init__(self, arrays: dict):
        self.core = arrays
        self.tail: list[tuple] = []

    def add(self, start, end, power, datacenter, workload, kind, chips, job=-1):
        if end > start:
            self.tail.append((start, end, power, datacenter, workload, kind, chips, job))

    def arrays(self) -> dict[str, np.ndarray]:
        if not self.tail:
            return dict(self.core)       # the core's own arrays (nothing else holds them)
        cols = list(zip(*self.tail))
        names = ("start_s", "end_s", "power_w", "datacenter", "workload", "kind", "chips", "job")
        return {k: np.concatenate([self.core[k], np.asarray(c, dtype=self.core[k].dtype)])
                for k, c in zip(names, cols)}


class _CorePool:
    """A pool after the loop: its counters and idle batches, closed like fleet._PoolState.close."""

    def __init__(self, index: int, spec: Pool, log: _CoreLog, busy: float, idle: float, off: float, batches):
        self.index, self.spec, self.log = index, spec, log
        self.busy_chip_s, self.idle_chip_s, self.off_chip_s = busy, idle, off
        self.idle = [[c, s] for c, s in batches]
        self.timeout = math.inf if spec.power_down_after_s is None else spec.power_down_after_s
        self.idle_w, self.datacenter = spec.idle_w, spec.datacenter

    def _idle_interval(self, since: float, until: float, chips: float):
        on_until = min(until, since + self.timeout)
        self.idle_chip_s += (on_until - since) * chips
        self.off_chip_s += (until - on_until) * chips
        if self.idle_w > 0:
            self.log.add(since, on_until, chips * self.idle_w, self.datacenter, -1 - self.index, IDLE, chips)

    def close(self, t_end: float):
        for chips, since in self.idle:
            self._idle_interval(since, t_end, chips)
        self.idle = []


def _candidate_table(policy: Policy, home: np.ndarray, hw_code: np.ndarray, hw_names: list[str],
                     pools_by_key: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per job, the datacenters fleet.plan searches (CSR): the home for fixed placement, else the
    policy's candidates that have a pool of the job's hardware (or the home if none has)."""
    pairs = home.astype(np.int64) * len(hw_names) + hw_code
    uniq, inverse = np.unique(pairs, return_inverse=True)
    lists = []
    for key in uniq.tolist():
        h, c = divmod(key, len(hw_names))
        if policy.placement == "fixed":
            lists.append([h])
        else:
            cands = policy.candidates or (h,)
            lists.append([d for d in cands if (d, hw_names[c]) in pools_by_key] or [h])
    lengths = np.array([len(x) for x in lists], dtype=np.int64)
    offsets = np.zeros(len(lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    every = np.array([d for x in lists for d in x], dtype=np.int64)
    sizes = lengths[inverse]
    ptr = np.zeros(len(home) + 1, dtype=np.int64)
    np.cumsum(sizes, out=ptr[1:])
    # job j's candidates are every[offsets[u] : offsets[u + 1]] with u = inverse[j]
    within = np.arange(int(ptr[-1]), dtype=np.int64) - np.repeat(ptr[:-1], sizes)
    flat = every[np.repeat(offsets[:-1][inverse], sizes) + within]
    return ptr, flat


def simulate(jobs: Jobs, pools: list[Pool], policies: list[Policy], forecasts: list[Forecast], *,
             t_start: float = 0.0, t_end: float | None = None, group_limits: dict[int, int] | None = None,
             baseline: bool = False, progress=None, labels=None) -> EngineRun:
    """:func:`carbonsim.sim.fleet.simulate` on the compiled core (same arguments, same result).
    Raises ValueError when :func:`unsupported` gives a reason."""
    why = unsupported(jobs, policies, group_limits, baseline)
    if why is not None:
        raise ValueError(f"the compiled fleet core cannot run {why}; use the SimPy engine")
    n = len(jobs)
    t_start = float(t_start)
    submit = np.ascontiguousarray(jobs.submit_s, dtype=np.float64)
    work = np.ascontiguousarray(jobs.work_s, dtype=np.float64)
    plan_work = np.ascontiguousarray(jobs.plan_work_s, dtype=np.float64)
    chips = np.ascontiguousarray(jobs.chips, dtype=np.int64)
    home = np.ascontiguousarray(jobs.home, dtype=np.int64)
    pol = np.ascontiguousarray(jobs.policy, dtype=np.int64)
    if n < 2 or bool(np.all(submit[1:] >= submit[:-1])):      # already in order (the usual case)
        order = np.arange(n, dtype=np.int64)
    else:
        order = np.ascontiguousarray(np.argsort(submit, kind="stable"), dtype=np.int64)
    release = np.empty(n)
    _fleet.release_times(order, submit, t_start, release)

    pools_by_key = {(p.datacenter, p.hardware): i for i, p in enumerate(pools)}
    hw_names = list(dict.fromkeys(jobs.hardware)) if n else []
    hw_index = {h: k for k, h in enumerate(hw_names)}
    hw_code = np.zeros(n, dtype=np.int64) if len(hw_names) <= 1 else \
        np.fromiter(map(hw_index.__getitem__, jobs.hardware), dtype=np.int64, count=n)

    # -- plans ----------------------------------------------------------------------------
    dc = home.copy()
    first = release.copy()                     # start of the single segment of most jobs
    deadline = np.full(n, math.inf)
    multi: dict[int, list[tuple[float, float]]] = {}     # jobs planned in several segments
    for k, policy in enumerate(policies):
        if baseline or policy.is_baseline:
            continue
        idx = np.flatnonzero(pol == k)
        if not len(idx):
            continue
        planned = work if policy.length_known == "exact" else plan_work
        fc = forecasts[k]
        kind = _COMPILED_SHIFTS.get(policy.shift)
        if kind is not None and type(fc) is Forecast:
            ptr, flat = _candidate_table(policy, home[idx], hw_code[idx], hw_names, pools_by_key)
            full_ptr = np.zeros(n + 1, dtype=np.int64)       # CSR over all jobs, only idx filled
            sizes = np.zeros(n, dtype=np.int64)
            sizes[idx] = np.diff(ptr)
            np.cumsum(sizes, out=full_ptr[1:])
            out_dc, out_start = dc.copy(), first.copy()
            _fleet.plan_shifted(kind, idx.astype(np.int64), release, np.ascontiguousarray(planned), home, full_ptr,
                                flat, float(policy.slack_s), fc.values, fc.prefix, out_dc, out_start)
            dc[idx], first[idx] = out_dc[idx], out_start[idx]
        else:
            hw = jobs.hardware
            for i in idx.tolist():
                d, segs = plan(policy, float(release[i]), float(planned[i]), int(home[i]), hw[i], fc, pools_by_key)
                if planned[i] != work[i]:
                    segs = planners.fit(segs, float(work[i]), policy.checkpoint_overhead_s)
                dc[i] = d
                if len(segs) == 1 and segs[0][1] == work[i]:
                    first[i] = segs[0][0]
                else:
                    multi[i] = segs
        if policy.shift != "none":
            deadline[idx] = submit[idx] + work[idx] + policy.slack_s

    counts = np.ones(n, dtype=np.int64)
    for i, segs in multi.items():
        counts[i] = len(segs)
    seg_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(counts, out=seg_ptr[1:])
    if multi:
        seg_start = np.empty(int(seg_ptr[-1]))
        seg_len = np.empty(int(seg_ptr[-1]))
        single = counts == 1
        seg_start[seg_ptr[:-1][single]] = first[single]
        seg_len[seg_ptr[:-1][single]] = work[single]
        for i, segs in multi.items():
            a = seg_ptr[i]
            for j, (s, length) in enumerate(segs):
                seg_start[a + j], seg_len[a + j] = s, length
    else:
        seg_start, seg_len = first, work

    # -- pools ----------------------------------------------------------------------------
    n_hw = max(len(hw_names), 1)
    table = np.full((max(p.datacenter for p in pools) + 1 if pools else 1) * n_hw, -1, dtype=np.int64)
    for (d, h), k in pools_by_key.items():
        if h in hw_index:
            table[d * n_hw + hw_index[h]] = k
    key = dc * n_hw + hw_code
    if n and (np.any(key >= len(table)) or np.any(table[np.minimum(key, len(table) - 1)] < 0)):
        bad = int(np.flatnonzero((key >= len(table)) | (table[np.minimum(key, len(table) - 1)] < 0))[0])
        raise SimulationError(f"job {bad} was placed in datacenter {int(dc[bad])}, which has no pool of "
                              f"{jobs.hardware[bad]!r}")
    pool_of = table[key].astype(np.int32) if n else np.zeros(0, np.int32)
    limited = np.array([p.chips is not None for p in pools], dtype=np.int8)
    capacity = np.array([math.inf if p.chips is None else float(p.chips) for p in pools])
    idle_w = np.array([float(p.idle_w) for p in pools])
    timeout = np.array([math.inf if p.power_down_after_s is None else float(p.power_down_after_s) for p in pools])
    pool_dc = np.array([p.datacenter for p in pools], dtype=np.int32)
    watts = chips.astype(np.float64) * np.ascontiguousarray(jobs.power_w, dtype=np.float64)

    start, end, queued, nseg = np.empty(n), np.empty(n), np.zeros(n), np.zeros(n, dtype=np.int64)
    err, log, counters, batches = _fleet.run_fleet(
        order, submit, chips, np.ascontiguousarray(jobs.priority, dtype=np.int64), pool_of, watts,
        np.ascontiguousarray(jobs.workload, dtype=np.int32), pool_dc[pool_of] if n else np.zeros(0, np.int32),
        seg_ptr, np.ascontiguousarray(seg_start), np.ascontiguousarray(seg_len), limited, capacity, idle_w, timeout,
        pool_dc, t_start, start, end, queued, nseg)
    if err:
        raise SimulationError(f"the compiled fleet core stopped: {_ERRORS.get(err, f'error {err}')}")
    if progress is not None and n:
        progress.update(n)
    core_log = _CoreLog(log)
    states = [_CorePool(k, p, core_log, *counters[k], batches[k]) for k, p in enumerate(pools)]
    finish = float(np.nanmax(end)) if n else t_start
    run = EngineRun(
        intervals={}, job_start_s=start, job_end_s=end, job_queue_s=queued, job_datacenter=dc,
        job_segments=nseg, deadline_s=deadline, pool_busy_chip_s=counters[:, 0].copy(),
        pool_idle_chip_s=np.zeros(len(pools)), pool_off_chip_s=np.zeros(len(pools)),
        t_end=max(finish, t_end if t_end is not None else t_start))
    run._states, run._log = states, core_log
    return run
