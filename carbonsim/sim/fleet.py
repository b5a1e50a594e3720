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

from ..model.units import SECONDS_PER_HOUR as HOUR  # noqa: E402

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
    """Where and when a job runs.

    placement: ``"fixed"`` (the job's home datacenter), ``"lowest-carbon-now"``
    (lowest forecast intensity at placement time among ``candidates``) or
    ``"lowest-carbon-mean"`` (lowest mean forecast over the job's expected run).
    shift: ``"none"`` (start when submitted), ``"window"`` (start at the time
    in [submit, submit + slack] whose run has the lowest mean forecast
    intensity, non-interruptible) or ``"interruptible"`` (run in the
    lowest-carbon hours before submit + work + slack, choosing hours by
    ``interrupt``: ``"cheapest"`` hours first, or hours at or below
    ``threshold_g``, running regardless when the deadline requires it).
    Each resumption after a pause costs ``checkpoint_overhead_s`` of extra run time.
    """

    placement: str = "fixed"
    candidates: tuple[int, ...] = ()
    shift: str = "none"
    slack_s: float = 0.0
    interrupt: str = "cheapest"
    threshold_g: float | None = None
    checkpoint_overhead_s: float = 0.0

    @property
    def is_baseline(self) -> bool:
        return self.placement == "fixed" and self.shift == "none"


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

    def __post_init__(self):
        n = len(self.submit_s)
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
# Forecast look-ups
# ---------------------------------------------------------------------------


class Forecast:
    """Hourly intensity per datacenter as the scheduler sees it, with O(1) window means."""

    def __init__(self, hourly: np.ndarray):
        self.values = np.ascontiguousarray(hourly, dtype=np.float64)   # (n_dc, n_hours)
        self.prefix = np.zeros((self.values.shape[0], self.values.shape[1] + 1))
        np.cumsum(self.values, axis=1, out=self.prefix[:, 1:])
        self.n_hours = self.values.shape[1]
        self.t_max = self.n_hours * HOUR

    def at(self, dc: int, t: float) -> float:
        h = min(max(int(t // HOUR), 0), self.n_hours - 1)
        return self.values[dc, h]

    def integral(self, dc: int, s, e):
        """Integral of the forecast over [s, e) (vectorised; clamped to the table)."""
        # np.minimum/np.maximum rather than np.clip: same values, a fraction of the call overhead
        s = np.minimum(np.maximum(np.asarray(s, dtype=np.float64), 0.0), self.t_max)
        e = np.minimum(np.maximum(np.asarray(e, dtype=np.float64), 0.0), self.t_max)
        v, p = self.values[dc], self.prefix[dc]
        hs = np.minimum((s // HOUR).astype(np.int64), self.n_hours - 1)
        he = np.minimum((e // HOUR).astype(np.int64), self.n_hours - 1)
        same = hs == he
        head = (hs + 1) * HOUR - s
        tail = e - he * HOUR
        whole = (p[he] - p[np.minimum(hs + 1, self.n_hours)]) * HOUR
        split = v[hs] * head + whole + v[he] * tail
        return np.where(same, v[hs] * (e - s), split)

    def mean(self, dc: int, s, e):
        s, e = np.asarray(s, dtype=np.float64), np.asarray(e, dtype=np.float64)
        width = np.maximum(e - s, 1e-9)
        return self.integral(dc, s, e) / width


# ---------------------------------------------------------------------------
# Planning: policy -> (datacenter, segments)
# ---------------------------------------------------------------------------


def _candidates(policy: Policy, home: int, hardware: str, pools_by_key: dict) -> list[int]:
    cands = policy.candidates or (home,)
    return [d for d in cands if (d, hardware) in pools_by_key] or [home]


def plan(policy: Policy, now: float, work: float, home: int, hardware: str, forecast: Forecast,
         pools_by_key: dict) -> tuple[int, list[tuple[float, float]]]:
    """Choose a datacenter and the run segments ``[(start, length), ...]`` for one job."""
    cands = _candidates(policy, home, hardware, pools_by_key)
    if policy.shift == "none":
        if policy.placement == "fixed" or len(cands) == 1:
            dc = home if policy.placement == "fixed" else cands[0]
        elif policy.placement == "lowest-carbon-now":
            dc = min(cands, key=lambda d: (forecast.at(d, now), cands.index(d)))
        else:
            dc = min(cands, key=lambda d: (float(forecast.mean(d, now, now + work)), cands.index(d)))
        return dc, [(now, work)]

    if policy.placement == "fixed":
        cands = [home]
    deadline = now + work + policy.slack_s
    if policy.shift == "window":
        first_hour = math.ceil(now / HOUR) * HOUR
        starts = np.concatenate([[now], np.arange(first_hour, now + policy.slack_s + 1e-9, HOUR)])
        starts = starts[starts <= now + policy.slack_s]
        best = None
        for d in cands:
            means = forecast.mean(d, starts, starts + work)
            i = int(np.argmin(means))
            if best is None or means[i] < best[0]:
                best = (float(means[i]), d, float(starts[i]))
        return best[1], [(best[2], work)]

    # interruptible: choose hours in [now, deadline) for each candidate, keep the cheapest plan
    best = None
    for d in cands:
        segments = _interruptible(policy, now, work, deadline, d, forecast)
        cost = sum(float(forecast.integral(d, s, s + length)) for s, length in segments)
        if best is None or cost < best[0]:
            best = (cost, d, segments)
    return best[1], best[2]


def _slots(now: float, deadline: float) -> np.ndarray:
    edges = np.concatenate([[now], np.arange(math.floor(now / HOUR) * HOUR + HOUR, deadline, HOUR), [deadline]])
    return edges


def _merge(chosen: np.ndarray, edges: np.ndarray, work: float, overhead: float) -> list[tuple[float, float]] | None:
    """Turn chosen slots into segments; None if they cannot hold work + restart overheads."""
    segments = []
    need = work
    i, n = 0, len(chosen)
    while i < n and need > 0:
        if not chosen[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and chosen[j + 1]:
            j += 1
        start, stop = edges[i], edges[j + 1]
        length = stop - start
        extra = overhead if segments else 0.0
        run = min(length, need + extra)
        if run > extra:
            segments.append((float(start), float(run)))
            need -= run - extra
        i = j + 1
    return segments if need <= 1e-6 else None


def _interruptible(policy: Policy, now: float, work: float, deadline: float, dc: int,
                   forecast: Forecast) -> list[tuple[float, float]]:
    edges = _slots(now, deadline)
    lengths = np.diff(edges)
    means = forecast.mean(dc, edges[:-1], edges[1:])
    n = len(lengths)
    if policy.interrupt == "threshold":
        # in time order: run when the forecast is at or below the threshold, or when
        # the work left could no longer be done after this hour
        chosen = np.zeros(n, dtype=bool)
        remaining = work
        for i in range(n):
            if remaining <= 0:
                break
            if means[i] <= policy.threshold_g or remaining + policy.checkpoint_overhead_s > edges[-1] - edges[i + 1]:
                chosen[i] = True
                remaining -= lengths[i]
        segs = _merge(chosen, edges, work, policy.checkpoint_overhead_s)
        return segs if segs is not None else [(now, work)]
    order = np.lexsort((np.arange(n), means))   # cheapest first, earlier on ties
    chosen = np.zeros(n, dtype=bool)
    total = 0.0
    for i in order:
        chosen[i] = True
        total += lengths[i]
        if total >= work:
            segs = _merge(chosen, edges, work, policy.checkpoint_overhead_s)
            if segs is not None:
                return segs
    return [(now, work)]  # the window cannot hold the work: run now, straight through


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
             baseline: bool = False, progress=None) -> EngineRun:
    """Run the job table through the fleet.  ``baseline=True`` ignores every policy
    (fixed placement at the home datacenter, start at submit).  ``forecasts[k]`` is
    what policy ``k`` sees of each datacenter's hourly intensity.  ``progress``: an
    object with ``update(k)``, told of every submitted job (in steps of n / 200)."""
    env = simpy.Environment(initial_time=float(t_start))
    log = IntervalLog()
    pool_index = {(p.datacenter, p.hardware): i for i, p in enumerate(pools)}
    states = [_PoolState(env, i, p, log, t_start) for i, p in enumerate(pools)]
    n = len(jobs)
    # The hot path reads and writes plain Python lists (numpy scalar indexing costs
    # ~100 ns a time, and numpy floats would leak into the clock); arrays at the end.
    submit, work_a, power_a = _floats(jobs.submit_s), _floats(jobs.work_s), _floats(jobs.power_w)
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
            dc, segments = plan(policy, now, work, home[i], hardware, forecasts[pol[i]], pool_index)
            if policy.shift != "none":
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
