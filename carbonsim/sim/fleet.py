"""The fleet engine: a discrete-event simulation (SimPy) of the control plane.

Jobs arrive, are placed (policy), wait for chips in a datacenter pool, run
(possibly in several planned segments) and release their chips.  The engine
only *records* what draws power and when, as intervals appended to growing
arrays::

    (start_s, end_s, watts, datacenter, workload, kind)    kind 0 busy, 1 idle

and hands them to the integration kernel afterwards, in one batch: no energy
is integrated inside SimPy callbacks.

Determinism: SimPy orders simultaneous events by (time, priority, insertion
order); the engine creates processes and requests in job order, queues by
(priority, sequence number), and every random draw (forecast errors) comes
from a Generator seeded from the scenario seed.  Same inputs, same result.

Power model of a pool (one hardware type in one datacenter):

- a chip running a job draws the job's power per chip (measured system power);
- an idle chip draws ``idle_w``; with ``power_down_after_s`` it draws nothing
  once it has been idle that long (wake-up is instantaneous);
- chips are handed out last-freed-first, which keeps long-idle chips
  powered down as long as possible.  Idle time is tracked per batch of chips
  freed together, so idle energy is exact under that rule.

A pool with ``chips=None`` has unlimited capacity and no idle accounting (a
datacenter described only by PUE and grid, as in published per-run figures).
"""
from __future__ import annotations

import heapq
import math
from array import array
from dataclasses import dataclass, field

import numpy as np
import simpy

from . import custom, planners
from .forecast import Forecast, IssuedForecast  # noqa: F401  (part of the engine's interface)

BUSY, IDLE = 0, 1


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    datacenter: int
    hardware: str
    chips: int | None            # None: unlimited, no idle accounting
    idle_w: float = 0.0
    power_down_after_s: float | None = None


@dataclass(frozen=True)
class Policy:
    """Where and when a job runs (the rules are in :mod:`carbonsim.sim.planners` and
    docs/scenario-format.md, "Policies").

    placement: ``"fixed"`` (the job's home datacenter), ``"lowest-carbon-now"``
    (lowest forecast intensity at placement time among ``candidates``) or
    ``"lowest-carbon-mean"`` (lowest mean forecast over the job's expected run).
    shift: ``"none"`` (start when submitted); ``"window"`` (start at the time in
    [submit, submit + slack] whose run costs least, then run through);
    ``"lowest-slot"`` (start in the lowest-intensity hour of that window);
    ``"carbon-time"`` (the start saving most carbon per unit of completion time,
    GAIA's Carbon-Time); or ``"interruptible"`` (run in segments before submit +
    work + slack, choosing the time by ``interrupt``: ``"cheapest"``, the exact
    cheapest schedule, or ``"threshold"``, whenever the forecast is at or below
    ``threshold_g`` or the ``threshold_percentile`` of the forecast over the next
    ``horizon_s``, running regardless when the deadline requires it).  Each
    resumption after a pause costs ``checkpoint_overhead_s`` of extra run time.
    With a shift, ``candidates`` (unless placement is fixed) are searched
    together with the start: the datacenter and the plan are chosen jointly.
    length_known: ``"exact"`` plans with the job's true length; ``"mean"`` and
    ``"distribution"`` plan with the estimate in :attr:`Jobs.plan_work_s`, and the
    job then runs its true length (:func:`carbonsim.sim.planners.fit`).
    """

    placement: str = "fixed"
    candidates: tuple[int, ...] = ()
    shift: str = "none"
    slack_s: float = 0.0
    interrupt: str = "cheapest"
    threshold_g: float | None = None
    checkpoint_overhead_s: float = 0.0
    threshold_percentile: float | None = None
    horizon_s: float = 24 * 3600.0
    length_known: str = "exact"
    python: str | None = None        # a user policy ("module:Class"), see carbonsim.sim.custom
    params_json: str = "{}"
    base_dir: str | None = None
    where: str = field(default="", compare=False)            # for messages: field path and file
    source: str | None = field(default=None, compare=False)

    @property
    def is_baseline(self) -> bool:
        return self.placement == "fixed" and self.shift == "none" and self.python is None

    @property
    def is_builtin(self) -> bool:
        """A rule of carbonsim's own (every field above), not a user's Python class: the
        compiled fleet core can run it."""
        return self.python is None


BASELINE = Policy()


@dataclass
class Jobs:
    """Columnar job table; row i is one job.  Times in seconds from the table start."""

    submit_s: np.ndarray
    chips: np.ndarray
    work_s: np.ndarray
    power_w: np.ndarray           # per chip, while running
    hardware: list[str]
    workload: np.ndarray
    home: np.ndarray              # home datacenter index
    policy: np.ndarray            # index into the policies list
    priority: np.ndarray | None = None
    group: np.ndarray | None = None        # concurrency group (-1: none)
    after_group: np.ndarray | None = None  # submitted when that group has finished (-1: none)
    plan_work_s: np.ndarray | None = None  # the length a policy plans with (default: work_s)

    def __post_init__(self):
        n = len(self.submit_s)
        self.plan_work_s = self.work_s if self.plan_work_s is None else self.plan_work_s
        self.priority = np.zeros(n, np.int64) if self.priority is None else self.priority
        self.group = np.full(n, -1, np.int64) if self.group is None else self.group
        self.after_group = np.full(n, -1, np.int64) if self.after_group is None else self.after_group

    def __len__(self) -> int:
        return len(self.submit_s)


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


class IntervalLog:
    """Growing arrays of power intervals (C-level appends, no per-item numpy work)."""

    def __init__(self):
        self.start, self.end, self.power = array("d"), array("d"), array("d")
        self.datacenter, self.workload, self.kind = array("i"), array("i"), array("b")
        self.chips = array("d")
        self.job = array("q")

    def add(self, start, end, power, datacenter, workload, kind, chips, job=-1):
        if end > start:
            self.job.append(job)
            self.start.append(start)
            self.end.append(end)
            self.power.append(power)
            self.datacenter.append(datacenter)
            self.workload.append(workload)
            self.kind.append(kind)
            self.chips.append(chips)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "start_s": np.frombuffer(self.start, dtype=np.float64).copy(),
            "end_s": np.frombuffer(self.end, dtype=np.float64).copy(),
            "power_w": np.frombuffer(self.power, dtype=np.float64).copy(),
            "datacenter": np.frombuffer(self.datacenter, dtype=np.int32).copy(),
            "workload": np.frombuffer(self.workload, dtype=np.int32).copy(),
            "kind": np.frombuffer(self.kind, dtype=np.int8).copy(),
            "chips": np.frombuffer(self.chips, dtype=np.float64).copy(),
            "job": np.frombuffer(self.job, dtype=np.int64).copy(),   # job index, -1 for idle chips
        }


@dataclass
class EngineRun:
    intervals: dict[str, np.ndarray]
    job_start_s: np.ndarray        # first start (NaN if never ran)
    job_end_s: np.ndarray
    job_queue_s: np.ndarray        # time spent waiting for chips
    job_datacenter: np.ndarray
    job_segments: np.ndarray
    deadline_s: np.ndarray         # submit + work + slack for shifted jobs, inf otherwise
    pool_busy_chip_s: np.ndarray   # per pool
    pool_idle_chip_s: np.ndarray   # per pool, idle chips drawing idle power
    pool_off_chip_s: np.ndarray    # per pool, powered-down chips
    t_end: float
    _states: list = field(default_factory=list, repr=False)
    _log: IntervalLog | None = field(default=None, repr=False)


# ---------------------------------------------------------------------------
# Planning: policy -> (datacenter, segments)
# ---------------------------------------------------------------------------


def _candidates(policy: Policy, home: int, hardware: str, pools_by_key: dict) -> list[int]:
    cands = policy.candidates or (home,)
    return [d for d in cands if (d, hardware) in pools_by_key] or [home]


def _earlier(cost: float, start: float, best) -> bool:
    """Lower cost, or the same cost (relative 1e-9) and an earlier start; else the
    candidate found first (the earlier datacenter in the candidate list) stays."""
    if best is None:
        return True
    tol = 1e-9 * abs(best[0]) + 1e-12
    return cost < best[0] - tol or (cost <= best[0] + tol and start < best[1] - planners.TOL)


def plan(policy: Policy, now: float, work: float, home: int, hardware: str, forecast: Forecast,
         pools_by_key: dict) -> tuple[int, list[tuple[float, float]]]:
    """Choose a datacenter and the run segments ``[(start, length), ...]`` for one job
    of length ``work`` (the true length, or the estimate the policy plans with)."""
    cands = _candidates(policy, home, hardware, pools_by_key)
    shift = policy.shift
    if shift == "none":
        if policy.placement == "fixed" or len(cands) == 1:
            dc = home if policy.placement == "fixed" else cands[0]
        elif policy.placement == "lowest-carbon-now":
            dc = min(cands, key=lambda d: (forecast.at(d, now), cands.index(d)))
        else:
            dc = min(cands, key=lambda d: (float(forecast.mean(d, now, now + work)), cands.index(d)))
        return dc, [(now, work)]

    if policy.placement == "fixed":
        cands = [home]
    slack = policy.slack_s
    best = None                      # (objective, first start, datacenter, segments)
    if shift == "window":
        for d in cands:
            vals, prefix, off = forecast.view(d, now)
            start, cost = planners.window(vals, prefix, now - off, now - off + slack, work)
            if _earlier(cost, start + off, best):
                best = (cost, start + off, d, [(max(start + off, now), work)])
    elif shift == "lowest-slot":
        for d in cands:
            vals, prefix, off = forecast.view(d, now)
            start, value = planners.lowest_slot(vals, prefix, now - off, now - off + slack)
            if _earlier(value, start + off, best):
                best = (value, start + off, d, [(max(start + off, now), work)])
    elif shift == "carbon-time":
        vals, prefix, off = forecast.view(home, now)
        reference = float(planners.integral(vals, prefix, now - off, now - off + work))
        for d in cands:
            vals, prefix, off = forecast.view(d, now)
            start, score = planners.carbon_time(vals, prefix, now - off, now - off + slack, work, reference)
            if score > 0 and _earlier(-score, start + off, best):
                best = (-score, start + off, d, [(max(start + off, now), work)])
        if best is None:             # no saving anywhere: run now at home
            return home, [(now, work)]
    else:                            # interruptible
        overhead = policy.checkpoint_overhead_s
        for d in cands:
            vals, prefix, off = forecast.view(d, now)
            r, deadline = now - off, now - off + work + slack
            if policy.interrupt == "threshold":
                limit = policy.threshold_g
                if policy.threshold_percentile is not None:
                    limit = planners.percentile(vals, r, policy.horizon_s, policy.threshold_percentile)
                segs = planners.threshold(vals, prefix, r, deadline, work, limit, overhead)
            else:
                segs = planners.cheapest(vals, prefix, r, deadline, work, overhead)
            cost = planners.cost(vals, prefix, segs)
            if _earlier(cost, segs[0][0] + off, best):
                best = (cost, segs[0][0] + off, d, [(max(st + off, now), n) for st, n in segs])
    return best[2], best[3]


# ---------------------------------------------------------------------------
# The simulation
# ---------------------------------------------------------------------------


class _PoolState:
    __slots__ = ("env", "index", "spec", "free", "queue", "idle", "timeout", "log", "busy_chip_s", "idle_chip_s",
                 "off_chip_s", "t0", "seq", "limited", "idle_w", "datacenter")

    def __init__(self, env, index: int, spec: Pool, log: IntervalLog, t0: float):
        self.env, self.index, self.spec, self.log, self.t0 = env, index, spec, log, t0
        # spec fields read on every request, kept as plain attributes
        self.limited, self.idle_w, self.datacenter = spec.chips is not None, spec.idle_w, spec.datacenter
        self.free = math.inf if spec.chips is None else spec.chips
        self.queue: list = []
        self.idle = [] if spec.chips is None else [[spec.chips, t0]]
        self.timeout = math.inf if spec.power_down_after_s is None else spec.power_down_after_s
        self.busy_chip_s = self.idle_chip_s = self.off_chip_s = 0.0
        self.seq = 0

    def request(self, chips: int, priority: int):
        ev = self.env.event()
        if not self.queue and chips <= self.free:
            self._take(chips)
            ev.succeed()
        else:
            self.seq += 1
            heapq.heappush(self.queue, (priority, self.seq, chips, ev))
        return ev

    def release(self, chips: int):
        self.free += chips
        if self.limited:
            self.idle.append([chips, self.env.now])
        while self.queue and self.queue[0][2] <= self.free:
            _, _, c, ev = heapq.heappop(self.queue)
            self._take(c)
            ev.succeed()

    def _take(self, chips: int):
        self.free -= chips
        if not self.limited:
            return
        now = self.env.now
        while chips:
            batch = self.idle[-1]
            take = min(chips, batch[0])
            self._idle_interval(batch[1], now, take)
            batch[0] -= take
            chips -= take
            if batch[0] == 0:
                self.idle.pop()

    def _idle_interval(self, since: float, until: float, chips: int):
        on_until = min(until, since + self.timeout)
        self.idle_chip_s += (on_until - since) * chips
        self.off_chip_s += (until - on_until) * chips
        if self.idle_w > 0:
            self.log.add(since, on_until, chips * self.idle_w, self.datacenter, -1 - self.index, IDLE, chips)

    def close(self, t_end: float):
        for chips, since in self.idle:
            self._idle_interval(since, t_end, chips)
        self.idle = []


def _floats(column) -> list[float]:
    return np.asarray(column, dtype=np.float64).tolist()


def _ints(column) -> list[int]:
    return np.asarray(column).astype(np.int64).tolist()


def simulate(jobs: Jobs, pools: list[Pool], policies: list[Policy], forecasts: list[Forecast], *,
             t_start: float = 0.0, t_end: float | None = None, group_limits: dict[int, int] | None = None,
             baseline: bool = False, progress=None, labels: custom.Labels | None = None) -> EngineRun:
    """Run the job table through the fleet.  ``baseline=True`` ignores every policy
    (fixed placement at the home datacenter, start at submit).  ``forecasts[k]`` is
    what policy ``k`` sees of each datacenter's hourly intensity.  ``progress``: an
    object with ``update(k)``, told of every submitted job (in steps of n / 200).
    ``labels``: datacenter and workload names and the time origin, which user
    policies (:mod:`carbonsim.sim.custom`) see."""
    env = simpy.Environment(initial_time=float(t_start))
    log = IntervalLog()
    pool_index = {(p.datacenter, p.hardware): i for i, p in enumerate(pools)}
    states = [_PoolState(env, i, p, log, t_start) for i, p in enumerate(pools)]
    n = len(jobs)
    # The hot path reads and writes plain Python lists (numpy scalar indexing costs
    # ~100 ns a time, and numpy floats would leak into the clock); arrays at the end.
    submit, work_a, power_a = _floats(jobs.submit_s), _floats(jobs.work_s), _floats(jobs.power_w)
    plan_work = _floats(jobs.plan_work_s)
    chips_a, wl, home, pol = _ints(jobs.chips), _ints(jobs.workload), _ints(jobs.home), _ints(jobs.policy)
    prio, grp, after = _ints(jobs.priority), _ints(jobs.group), _ints(jobs.after_group)
    hw = jobs.hardware
    start = [math.nan] * n
    end = [math.nan] * n
    queued = [0.0] * n
    placed = [-1] * n
    nseg = [0] * n
    deadline = [math.inf] * n
    limits = group_limits or {}
    group_sem = {g: simpy.Resource(env, capacity=c) for g, c in limits.items()}
    group_left: dict[int, int] = {}
    for g in grp:
        if g >= 0:
            group_left[g] = group_left.get(g, 0) + 1
    group_done = {g: env.event() for g in group_left}
    for g in set(a for a in after if a >= 0):
        group_done.setdefault(g, env.event())
        if g not in group_left:
            group_done[g].succeed()
    plain = [baseline or p.is_baseline for p in policies]   # by policy index: start at submit, at home
    user = {k: custom.Planner(p, labels or custom.Labels.default(pools, jobs)) for k, p in enumerate(policies)
            if not plain[k] and not p.is_builtin}

    def job(i: int):
        chips, work, hardware = chips_a[i], work_a[i], hw[i]
        g = grp[i]
        if g in group_sem:
            token = group_sem[g].request()
            yield token
        now = env.now
        if plain[pol[i]]:
            dc, segments = home[i], [(now, work)]
        else:
            policy = policies[pol[i]]
            planned = work if policy.length_known == "exact" else plan_work[i]
            if pol[i] in user:
                dc, segments = user[pol[i]].plan(i, now, planned, home[i], hardware, chips, prio[i], wl[i],
                                                 forecasts[pol[i]], pool_index, states)
            else:
                dc, segments = plan(policy, now, planned, home[i], hardware, forecasts[pol[i]], pool_index)
            if planned != work or pol[i] in user:   # run the true length on the plan
                segments = planners.fit(segments, work, policy.checkpoint_overhead_s)
            if policy.shift != "none" or pol[i] in user:
                deadline[i] = submit[i] + work + policy.slack_s
        state = states[pool_index[(dc, hardware)]]
        placed[i] = dc
        watts = chips * power_a[i]
        for seg_start, length in segments:
            if seg_start > env.now:
                yield env.timeout(seg_start - env.now)
            ready = env.now
            yield state.request(chips, prio[i])
            t = env.now
            queued[i] += t - ready
            if nseg[i] == 0:
                start[i] = t
            nseg[i] += 1
            yield env.timeout(length)
            state.release(chips)
            state.busy_chip_s += length * chips
            log.add(t, env.now, watts, dc, wl[i], BUSY, chips, i)
        end[i] = env.now
        if g in group_sem:
            group_sem[g].release(token)
        if g >= 0:
            group_left[g] -= 1
            if group_left[g] == 0:
                group_done[g].succeed()

    def plain_job(i: int):
        """``job`` for the common case: no policy to apply and no concurrency group.
        The same events in the same order, without the planning and group steps."""
        chips, work, dc = chips_a[i], work_a[i], home[i]
        state = states[pool_index[(dc, hw[i])]]
        placed[i] = dc
        ready = env.now
        yield state.request(chips, prio[i])
        t = start[i] = env.now
        queued[i] = t - ready
        nseg[i] = 1
        yield env.timeout(work)
        state.release(chips)
        state.busy_chip_s += work * chips
        end[i] = now = env.now
        log.add(t, now, chips * power_a[i], dc, wl[i], BUSY, chips, i)

    def new_job(i: int):
        return plain_job(i) if plain[pol[i]] and grp[i] < 0 else job(i)

    def waiter(i: int, g: int):
        yield group_done[g]
        env.process(job(i))

    def arrivals():
        for i in range(n):
            if after[i] >= 0:
                env.process(waiter(i, after[i]))
        order = sorted((i for i in range(n) if after[i] < 0), key=submit.__getitem__)   # stable
        step = max(1, len(order) // 200)
        for k, i in enumerate(order, start=1):
            delay = submit[i] - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(new_job(i))
            if progress is not None and k % step == 0:
                progress.update(step)
                reported[0] += step

    reported = [0]
    env.process(arrivals())
    env.run()
    if progress is not None and n > reported[0]:
        progress.update(n - reported[0])
    job_end = np.array(end, dtype=np.float64)
    finish = float(np.nanmax(job_end)) if n else t_start
    run = EngineRun(
        intervals={}, job_start_s=np.array(start, dtype=np.float64), job_end_s=job_end,
        job_queue_s=np.array(queued, dtype=np.float64), job_datacenter=np.array(placed, dtype=np.int64),
        job_segments=np.array(nseg, dtype=np.int64), deadline_s=np.array(deadline, dtype=np.float64),
        pool_busy_chip_s=np.array([s.busy_chip_s for s in states]),
        pool_idle_chip_s=np.zeros(len(states)), pool_off_chip_s=np.zeros(len(states)),
        t_end=max(finish, t_end if t_end is not None else t_start),
    )
    run._states, run._log = states, log
    return run


def finish(run: EngineRun, horizon: float | None = None) -> EngineRun:
    """Close the idle accounting of every pool at ``horizon`` (default: the run's own
    end) and freeze the interval arrays.  Runs compared with each other (a policy
    and its baseline) must be finished at the same horizon."""
    horizon = run.t_end if horizon is None else max(horizon, run.t_end)
    for s in run._states:
        s.close(horizon)
    run.pool_idle_chip_s = np.array([s.idle_chip_s for s in run._states])
    run.pool_off_chip_s = np.array([s.off_chip_s for s in run._states])
    run.intervals = run._log.arrays()
    run.t_end = horizon
    return run
