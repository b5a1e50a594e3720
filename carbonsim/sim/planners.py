"""Carbon-aware planners: pure functions over one datacenter's hourly forecast.

Every planner here works on the same representation of a forecast:

- ``values``: hourly intensities (g/kWh), ``values[h]`` for the hour
  ``[h * 3600, (h + 1) * 3600)`` seconds; time 0 is the start of hour 0;
- ``prefix``: ``prefix[k] = values[:k].sum()`` (length ``len(values) + 1``),
  see :func:`prefix_sums`.

The intensity is a step function of time, held at ``values[0]`` before time 0
and at ``values[-1]`` after the last hour (a plan that reaches past the forecast
sees its last hour repeated).  A run's *cost* is the integral of the step
function over the time it runs, in (g/kWh) x s: multiply by the power in kW and
divide by 3.6e9 for kg.  Intensities must be non-negative.

Times are seconds, floats.  Slot arithmetic uses a tolerance of ``TOL``
seconds (1 µs): 2.2 h computed as 7920.000000000001 s fills exactly 2.2 h of
slots, an hour boundary within ``TOL`` of a release time or deadline makes no
sliver of a slot, and a plan may hold ``TOL`` less than the work it was asked
for (:func:`fit` then makes the last segment exact).

This module imports nothing from carbonsim; it only needs numpy and math.

Planners (each documented with its rule below):

=======================  ====================================================
:func:`window`           exact cheapest uninterrupted run starting in a window
:func:`lowest_slot`      start of the lowest-intensity hour of the window
:func:`carbon_time`      GAIA's Carbon-Time: most carbon saved per unit of
                         completion time
:func:`cheapest`         exact cheapest interruptible schedule before a
                         deadline, with a checkpoint overhead per resumption
:func:`threshold`        run when the intensity is at or below a threshold,
                         pause otherwise, run regardless when the deadline
                         requires it
:func:`percentile`       a threshold from a percentile of the forecast ahead
                         (Ecovisor-style)
=======================  ====================================================

and helpers: :func:`integral`, :func:`cost`, :func:`fit`.

Why this module is long: every planner shares the step-function helpers and the
tolerance rules above, and the exact interruptible planner (:func:`cheapest`, a
dynamic programme over run structures with a Lagrangian bound) is most of it;
split apart, each planner would no longer sit beside the conventions its proof
in tests/test_planners.py relies on.
"""
from __future__ import annotations

import math
from bisect import bisect_left

import numpy as np

HOUR = 3600.0
TOL = 1e-6          # seconds: slot arithmetic tolerance
_REL = 1e-9         # relative tolerance when costs (or ratios) tie

__all__ = ["HOUR", "TOL", "prefix_sums", "integral", "cost", "window", "window_starts", "lowest_slot",
           "carbon_time", "cheapest", "threshold", "percentile", "fit", "slots"]


# ---------------------------------------------------------------------------
# The forecast as a step function
# ---------------------------------------------------------------------------


def prefix_sums(values) -> np.ndarray:
    """``prefix[k] = sum(values[:k])``, the companion array every planner takes."""
    values = np.asarray(values, dtype=np.float64)
    prefix = np.zeros(len(values) + 1)
    np.cumsum(values, out=prefix[1:])
    return prefix


def _cumulative(values: np.ndarray, prefix: np.ndarray, t: np.ndarray) -> np.ndarray:
    """F(t): the integral of the (held) step function from 0 to t, vectorised."""
    h = np.minimum(np.maximum((t // HOUR).astype(np.int64), 0), len(values) - 1)
    return prefix[h] * HOUR + values[h] * (t - h * HOUR)


def _cumulative1(values: np.ndarray, prefix: np.ndarray, t: float) -> float:
    h = min(max(int(t // HOUR), 0), len(values) - 1)
    return float(prefix[h]) * HOUR + float(values[h]) * (t - h * HOUR)


def integral(values, prefix, s, e):
    """Cost of running over ``[s, e)``: the integral of the forecast, (g/kWh) x s (vectorised)."""
    s = np.asarray(s, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    return _cumulative(values, prefix, e) - _cumulative(values, prefix, s)


def cost(values, prefix, segments) -> float:
    """Cost of a plan ``[(start, length), ...]``."""
    return float(sum(_cumulative1(values, prefix, s + n) - _cumulative1(values, prefix, s) for s, n in segments))


def _value(values: np.ndarray, t: float) -> float:
    return float(values[min(max(int(t // HOUR), 0), len(values) - 1)])


def slots(release: float, deadline: float) -> np.ndarray:
    """Edges of the slots of ``[release, deadline)``: the release, every hour boundary
    more than ``TOL`` inside, the deadline.  Slot ``i`` is ``[edges[i], edges[i + 1])``."""
    first = math.floor((release + TOL) / HOUR) + 1
    last = math.ceil((deadline - TOL) / HOUR) - 1
    inner = np.arange(first, last + 1, dtype=np.float64) * HOUR
    return np.concatenate(([release], inner, [deadline]))


# ---------------------------------------------------------------------------
# Uninterrupted runs: window, lowest-slot, carbon-time
# ---------------------------------------------------------------------------


def window_starts(release: float, latest: float, length: float) -> np.ndarray:
    """The starts among which the cheapest run of ``length`` starting in
    ``[release, latest]`` lies: the release, the latest start, every hour boundary
    ``h`` and every ``h - length`` in the window (the run's cost is linear in its
    start between these points, so its minimum is at one of them)."""
    b0, b1 = math.ceil(release / HOUR), math.floor(latest / HOUR)
    e0, e1 = math.ceil((release + length) / HOUR), math.floor((latest + length) / HOUR)
    starts = np.concatenate(([release],
                             np.arange(b0, b1 + 1, dtype=np.float64) * HOUR,
                             np.arange(e0, e1 + 1, dtype=np.float64) * HOUR - length,
                             [latest]))
    return np.minimum(np.maximum(starts, release), latest)


def window(values, prefix, release: float, latest: float, length: float) -> tuple[float, float]:
    """Exact optimum of *start at a time in [release, latest] and run ``length``
    without a break, so that the run's cost is lowest*.

    Returns ``(start, cost)``.  The cost of a run as a function of its start is
    piecewise linear, with breaks where the start or the end crosses an hour
    boundary, so the minimum is at one of :func:`window_starts`; all of them are
    evaluated.  Ties (costs within a relative 1e-9) go to the earliest start.
    """
    if latest <= release:
        return float(release), _cumulative1(values, prefix, release + length) - _cumulative1(values, prefix, release)
    n = len(values)
    m = int(length // HOUR)
    phi = length - m * HOUR
    b0, b1 = math.ceil(release / HOUR), math.floor(latest / HOUR)
    e0, e1 = math.ceil((release + length) / HOUR), math.floor((latest + length) / HOUR)
    if b0 < 0 or b1 + m > n - 1 or e0 - m - 1 < 0 or e1 > n:
        return _window_general(values, prefix, release, latest, length)
    # starts on an hour boundary k: cost = (P[k+m] - P[k]) h + v[k+m] phi
    # runs ending on an hour boundary j (start j h - length): cost = (P[j] - P[j-m]) h + v[j-m-1] phi
    cb = (prefix[b0 + m:b1 + m + 1] - prefix[b0:b1 + 1]) * HOUR + values[b0 + m:b1 + m + 1] * phi
    ce = (prefix[e0:e1 + 1] - prefix[e0 - m:e1 - m + 1]) * HOUR + values[e0 - m - 1:e1 - m] * phi
    f = _cumulative1
    c_first = f(values, prefix, release + length) - f(values, prefix, release)
    c_last = f(values, prefix, latest + length) - f(values, prefix, latest)
    mb = float(cb.min()) if len(cb) else math.inf
    me = float(ce.min()) if len(ce) else math.inf
    best = min(c_first, c_last, mb, me)
    thr = best + _REL * abs(best) + 1e-12
    if c_first <= thr:
        return float(release), c_first
    start, c = math.inf, best
    if mb <= thr:
        i = int(np.argmax(cb <= thr))
        start, c = (b0 + i) * HOUR, float(cb[i])
    if me <= thr:
        i = int(np.argmax(ce <= thr))
        if (e0 + i) * HOUR - length < start:
            start, c = (e0 + i) * HOUR - length, float(ce[i])
    if c_last <= thr and latest < start:
        start, c = latest, c_last
    return float(min(max(start, release), latest)), c


def _window_general(values, prefix, release, latest, length):
    """:func:`window` evaluated through the held step function (plans reaching past the forecast)."""
    starts = window_starts(release, latest, length)
    k = len(starts)
    f = _cumulative(values, prefix, np.concatenate((starts, starts + length)))
    costs = f[k:] - f[:k]
    best = costs.min()
    tied = costs <= best + _REL * abs(best) + 1e-12
    i = int(np.argmin(np.where(tied, starts, np.inf)))
    return float(starts[i]), float(costs[i])


def lowest_slot(values, prefix, release: float, latest: float) -> tuple[float, float]:
    """GAIA's *lowest carbon slot*: start at the beginning of the lowest-intensity
    hour among the hours that hold a start in ``[release, latest]`` (the job's
    length is ignored); at the release itself if that hour holds the release.
    Ties go to the earliest hour.  Returns ``(start, intensity of that hour)``.
    """
    h0 = math.floor(release / HOUR)
    h1 = max(math.floor((latest + TOL) / HOUR), h0)
    idx = np.minimum(np.arange(h0, h1 + 1), len(values) - 1)
    idx = np.maximum(idx, 0)
    v = values[idx]
    k = int(np.argmin(v))
    start = min(max((h0 + k) * HOUR, release), max(latest, release))
    return float(start), float(v[k])


def carbon_time(values, prefix, release: float, latest: float, length: float,
                reference: float | None = None) -> tuple[float, float]:
    """GAIA's *Carbon-Time* (Hanafy et al., "Going Green for Less Green", ASPLOS
    2024; ``average_carbon_slot_waiting`` / ``oracle_carbon_slot_waiting`` in
    GAIA's ``src/scheduling/carbon_waiting_policy.py``).

    Candidate starts are the release and every whole hour after it within the
    slack: ``release + k h`` for ``k = 0 .. floor((latest - release) / 1 h)``.
    Each candidate ``s`` scores ``(C_ref - C(s)) / (s - release + length)``: the
    carbon saved against the reference, per unit of the job's completion time
    (waiting plus running; GAIA divides by this, not by the waiting alone, which
    would be 0 at the release).  ``C(s)`` is the cost of running ``length`` from
    ``s`` and ``C_ref`` defaults to ``C(release)`` (run now).  The highest score
    wins, ties to the earliest start; when no candidate saves anything (every
    score at most 1e-9 of ``C_ref``) the job starts at the release.

    Returns ``(start, score)``, score 0 when starting at the release saves nothing.
    """
    k = np.arange(0, math.floor((max(latest - release, 0.0) + TOL) / HOUR) + 1, dtype=np.float64)
    starts = release + k * HOUR
    n = len(starts)
    f = _cumulative(values, prefix, np.concatenate((starts, starts + length)))
    costs = f[n:] - f[:n]
    ref = float(costs[0]) if reference is None else float(reference)
    saved = ref - costs
    if saved.max() <= _REL * abs(ref) + 1e-12:
        return float(release), 0.0
    score = saved / (k * HOUR + length)
    best = float(score.max())
    i = int(np.argmax(score >= best - _REL * abs(best)))
    return float(starts[i]), float(score[i])


# ---------------------------------------------------------------------------
# Interruptible runs
# ---------------------------------------------------------------------------


def _segments(intervals, tol: float = TOL) -> list[tuple[float, float]]:
    """Sorted (start, end) intervals -> merged [(start, length), ...]."""
    out: list[list[float]] = []
    for a, b in sorted(intervals):
        if b - a <= 0:
            continue
        if out and a <= out[-1][1] + tol:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(float(a), float(b - a)) for a, b in out]


def fit(segments, work: float, overhead: float = 0.0) -> list[tuple[float, float]]:
    """Fit planned segments to the work actually done.

    Walks the segments in order; every segment after the first spends its first
    ``overhead`` seconds resuming.  When the work is done inside a segment, that
    segment is cut there and the rest dropped; when the segments hold less than
    ``work``, the last one is extended (the remaining work runs straight after
    it).  This is how a plan made for an estimated length runs a job of its true
    length, and how a plan short by float noise is made exact.
    """
    out = []
    left = work
    for i, (s, n) in enumerate(segments):
        extra = overhead if i else 0.0
        useful = n - extra
        if useful >= left - TOL or i == len(segments) - 1:
            out.append((float(s), float(left + extra)))
            return out
        out.append((float(s), float(n)))
        left -= useful
    raise ValueError("fit() needs at least one segment")


def _better(new: float, best: float) -> bool:
    """``new`` is lower than ``best`` by more than the tie tolerance."""
    return best == math.inf or new < best - _REL * abs(best)


def _slot_values(values, edges) -> np.ndarray:
    mids = 0.5 * (edges[:-1] + edges[1:])
    return values[np.minimum(np.maximum((mids // HOUR).astype(np.int64), 0), len(values) - 1)]


def _greedy(edges, v, work) -> list[tuple[float, float]]:
    """Cheapest-first slots, no overhead (fractional knapsack; ties to earlier slots).
    The part-used slot is put against a chosen neighbour where there is one."""
    lengths = np.diff(edges)
    order = np.lexsort((np.arange(len(v)), v))
    cum = np.cumsum(lengths[order])
    k = min(int(np.searchsorted(cum, work - TOL)), len(order) - 1)   # order[:k] whole, order[k] in part
    chosen = np.zeros(len(v), dtype=bool)
    chosen[order[:k]] = True
    intervals = [(edges[i], edges[i + 1]) for i in np.flatnonzero(chosen)]
    x = int(order[k])
    p = work - (cum[k - 1] if k else 0.0)
    if p >= lengths[x] - TOL:
        intervals.append((edges[x], edges[x + 1]))
    elif p > TOL:
        if x + 1 < len(v) and chosen[x + 1] and not (x > 0 and chosen[x - 1]):
            intervals.append((edges[x + 1] - p, edges[x + 1]))
        else:
            intervals.append((edges[x], edges[x] + p))
    return _segments(intervals)


def _greedy_cost(lengths, v, amount) -> float:
    """Cost of the cheapest ``amount`` seconds of the slots, pieces anywhere (a lower bound)."""
    order = np.lexsort((np.arange(len(v)), v))
    cum = np.cumsum(lengths[order])
    k = int(np.searchsorted(cum, amount - TOL))
    if k >= len(order):
        return math.inf
    vs = v[order]
    whole = float(np.dot(lengths[order][:k], vs[:k]))
    return whole + float(vs[k]) * (amount - (float(cum[k - 1]) if k else 0.0))


# States of the run-structure dynamic programme (see cheapest()).
_E, _G, _R = 0, 1, 2
_DUAL_STEPS = 8


def _bound_tables(lengths, v, every=4):
    """Row i: the greedy (cheapest-first, any pieces) cost curve of slots i, i+1, ...
    as cumulative lengths and costs over all slots by value, slots before i
    counting 0.  Rows are computed for every ``every``-th boundary and shared by the
    next ones (the curve of more slots is a lower bound for fewer)."""
    n = len(v)
    order = np.lexsort((np.arange(n), v))
    starts = np.arange(0, n + 1, every)
    mask = order[None, :] >= starts[:, None]
    cl = np.cumsum(np.where(mask, lengths[order], 0.0), axis=1).tolist()
    cc = np.cumsum(np.where(mask, (lengths * v)[order], 0.0), axis=1).tolist()
    rows = [i // every for i in range(n + 1)]
    return [cl[r] for r in rows], [cc[r] for r in rows], v[order].tolist()


def _psi(lengths, v, overhead, lam):
    """Lagrangian completions: ``psi[s][i]`` = the least ``cost - lam x U`` of anything
    run in slots i, i+1, ... (in the pass's order) after state s at boundary i
    (U counts an overhead for every run that resumes).  For any lam >= 0, a point
    (U, cost, s) at boundary i cannot end cheaper than
    ``cost + max(0, psi[s][i] + lam x (target - U))``."""
    n = len(v)
    pe, pg, pr = [0.0] * (n + 1), [0.0] * (n + 1), [0.0] * (n + 1)
    e = g = r = 0.0
    lo = lam * overhead
    ls, vs = lengths.tolist(), v.tolist()
    for i in range(n - 1, -1, -1):
        on = (vs[i] - lam) * ls[i] + r            # run slot i (then continue as state R)
        r, g, e = min(on, g), min(on + lo, g), min(on, e)
        pe[i], pg[i], pr[i] = e, g, r
    return pe, pg, pr


def _psi_plan(lengths, v, overhead, lam, psi):
    """The schedule (slot indices) attaining ``psi`` from state E at boundary 0, and its U."""
    pe, pg, pr = psi
    ls, vs = lengths.tolist(), v.tolist()
    lo = lam * overhead
    state, on, runs, time_run = _E, [], 0, 0.0
    for i in range(len(vs)):
        run = (vs[i] - lam) * ls[i] + pr[i + 1] + (lo if state == _G else 0.0)
        stay = (pe if state == _E else pg)[i + 1]
        if run <= stay:
            if state != _R:
                runs += 1
            on.append(i)
            time_run += ls[i]
            state = _R
        elif state != _E:
            state = _G
    return on, time_run - overhead * max(runs - 1, 0)


def _trim(values, prefix, segments, work, overhead):
    """Cut a schedule holding more than it needs down to exactly what it needs,
    each cut taken from the segment edge where it saves most."""
    segs = [list(x) for x in segments]
    while True:
        excess = sum(n for _, n in segs) - work - overhead * (len(segs) - 1)
        if excess <= TOL:
            return fit([tuple(x) for x in segs], work, overhead)
        best, choice = -1.0, None
        for j, (st, n) in enumerate(segs):
            cut = min(excess, n)
            head = _cumulative1(values, prefix, st + cut) - _cumulative1(values, prefix, st)
            tail = _cumulative1(values, prefix, st + n) - _cumulative1(values, prefix, st + n - cut)
            if head > best:
                best, choice = head, (j, 0, cut)
            if tail > best:
                best, choice = tail, (j, 1, cut)
        j, side, cut = choice
        if side == 0:
            segs[j][0] += cut
        segs[j][1] -= cut
        if segs[j][1] <= TOL:
            del segs[j]


def _fronts(lengths, v, overhead, target, limit, lam):
    """One pass of the run-structure programme over the slots in the given order.

    ``fronts[i] = (E, G, R)`` after the first i slots, each a list of points
    ``(-U, cost, parent_state, parent_index)`` sorted by U descending: E nothing
    run yet, G something run and slot i-1 off, R slot i-1 run.
    ``U = time run - overhead x (runs - 1)``, capped at ``target`` (more is worth
    nothing).  A point is dropped when another has at least its U at no more
    cost, or when it cannot end within ``limit``: cost so far plus
    ``max(0, psi + lam x (target - U))`` (the Lagrangian bound of :func:`_psi`) or
    plus the cost of the cheapest slots still to come (any pieces, one more
    overhead after state G) exceeds it."""
    _, psi_g, psi_r = _psi(lengths, v, overhead, lam)
    cl, cc, vs = _bound_tables(lengths, v)
    o, T = overhead, target
    E = [(0.0, 0.0, _E, 0)]
    fronts = [(E, [], [])]
    inf = math.inf
    for i, (n, value) in enumerate(zip(lengths.tolist(), v.tolist())):
        _, G, R = fronts[-1]
        run = value * n
        # keep (nu, c) when c <= limit and c + lam x nu <= limit - psi - lam x T
        tg = limit - psi_g[i + 1] - lam * T
        tr = limit - psi_r[i + 1] - lam * T
        off = [(nu, c, _G, j) for j, (nu, c, _, _) in enumerate(G) if c + lam * nu <= tg]
        off += [(nu, c, _R, j) for j, (nu, c, _, _) in enumerate(R) if c + lam * nu <= tg]
        on = []
        nu = -min(n, T)
        if run <= limit and run + lam * nu <= tr:
            on.append((nu, run, _E, 0))
        for j, (nu, c, _, _) in enumerate(G):
            nu, c = max(nu - n + o, -T), c + run
            if c <= limit and c + lam * nu <= tr:
                on.append((nu, c, _G, j))
        for j, (nu, c, _, _) in enumerate(R):
            nu, c = max(nu - n, -T), c + run
            if c <= limit and c + lam * nu <= tr:
                on.append((nu, c, _R, j))
        cli, cci = cl[i + 1], cc[i + 1]
        m = len(cli)
        kept = []
        for pts, extra in ((off, o), (on, 0.0)):
            pts.sort()
            out, least = [], inf
            for q in pts:
                if q[1] < least:
                    # the greedy bound: the cheapest slots still to come, any pieces
                    need = T + q[0] + extra
                    if need > TOL:
                        k = bisect_left(cli, need - TOL)
                        if k >= m or q[1] + cci[k] - vs[k] * (cli[k] - need) > limit:
                            continue
                    out.append(q)
                    least = q[1]
            kept.append(out)
        fronts.append((E, kept[0], kept[1]))
    return fronts


def _trace(fronts, i, s, j):
    """Slots (indices in the pass's own order) run by front point (i, s, j)."""
    on = []
    while i > 0 and s != _E:
        if s == _R:
            on.append(i - 1)
        _, _, s, j = fronts[i][s][j]
        i -= 1
    return on


def cheapest(values, prefix, release: float, deadline: float, work: float,
             overhead: float = 0.0) -> list[tuple[float, float]]:
    """Exact cheapest interruptible schedule.

    Rule: run for ``work`` seconds in ``[release, deadline)``, in any number of
    segments; every segment after the first takes ``overhead`` seconds more
    (resuming from a checkpoint), which also draws power.  Among all such
    schedules, take one of lowest cost (the integral of the forecast over the
    time run, overheads included).  Segments may start and end anywhere, not
    only on the hour.  Returns ``[(start, length), ...]`` in time order, lengths
    summing to ``work + overhead x (segments - 1)``; ``[(release, work)]`` when
    the window cannot hold the work.

    Method.  Split the window into slots at the hour boundaries; the forecast is
    constant in each.  Without overhead the optimum takes the cheapest slots
    whole and the next cheapest in part (ties to earlier slots).  With overhead
    a schedule is a set of runs; with the number of runs and the slot of every
    run end fixed, the cost is linear in the end points, so an optimum has every
    end point on a slot edge except at most one: the schedule is a set of whole
    slots plus a part ``p`` of one more slot, placed against one of its edges.
    Shortcuts first: the overhead-free optimum when it is one segment; the best
    single run (:func:`window`) when it costs no more than the cheapest
    ``work + overhead`` seconds (a lower bound for any schedule of two or more
    segments).  Otherwise a dynamic programme over the slots in time order keeps,
    for each state (nothing run yet / last slot off / last slot on), the
    schedules that no other beats on both *useful time*
    ``U = run time - overhead x (runs - 1)`` and cost, dropping those that cannot
    beat the best schedule known (cost so far plus the overhead-free cost of the
    rest); the same pass runs backwards from the deadline.  The optimum is the
    cheapest of (a) a forward schedule with ``U >= work``, (b) for every slot
    ``x`` and edge, a forward schedule ending before ``x``, a backward one
    starting after it, and the part of ``x`` that makes up the rest (at most the
    slot's length), and (c) the best known schedules (single run; overhead-free
    optimum of ``work + k x overhead`` seconds when it has at most ``k + 1``
    segments, k = 1, 2, 3).  Ties (within a relative 1e-9) go to the candidate
    found first, in that order.
    """
    work = float(work)
    o = max(float(overhead), 0.0)
    if deadline - release < work - TOL:
        return [(float(release), work)]
    edges = slots(release, deadline)
    lengths = np.diff(edges)
    v = _slot_values(values, edges)
    n = len(lengths)
    if n == 1:
        return [(float(release), work)]
    plan = _greedy(edges, v, work)
    if o <= 0.0 or len(plan) == 1:
        return fit(plan, work, 0.0)

    s1, c1 = window(values, prefix, release, deadline - work, work)
    if c1 <= _greedy_cost(lengths, v, work + o) * (1 + _REL):
        return [(s1, work)]
    best_cost, best_plan = c1, [(s1, work)]
    for k in (1, 2, 3):
        segs = _greedy(edges, v, work + k * o)
        if len(segs) <= k + 1:
            segs = _exact(segs, work, o)
            c = cost(values, prefix, segs)
            if _better(c, best_cost):
                best_cost, best_plan = c, segs

    # a Lagrangian lower bound: for any lam >= 0 no schedule costs less than
    # lam x work + min(cost - lam x U); lam from the marginal slots of the greedy plans
    order = np.lexsort((np.arange(n), v))
    cum = np.cumsum(lengths[order])
    lam, bound, lam_psi = 0.0, 0.0, None
    lo, hi = 0.0, float(v.max())
    for k in (0, 1, 2, 3):
        at = min(int(np.searchsorted(cum, work + k * o - TOL)), n - 1)
        trial = float(v[order[at]])
        psi = _psi(lengths, v, o, trial)
        if trial * work + psi[0][0] > bound:
            lam, bound, lam_psi = trial, trial * work + psi[0][0], psi
    # refine lam by bisection on the sign of the supergradient work - U(lam)
    for _ in range(_DUAL_STEPS):
        if lam_psi is None:
            break
        u = _psi_plan(lengths, v, o, lam, lam_psi)[1]
        if abs(u - work) <= TOL:
            break
        if u < work:
            lo = lam
        else:
            hi = lam
        trial = 0.5 * (lo + hi)
        psi = _psi(lengths, v, o, trial)
        d = trial * work + psi[0][0]
        if d > bound:
            lam, bound, lam_psi = trial, d, psi
        else:
            if u < work:
                hi = trial
            else:
                lo = trial
    if best_cost <= bound * (1 + _REL) + 1e-9:
        return best_plan
    # and a schedule from it: the Lagrangian optimum at lam, cut to size, when it holds the work
    if lam_psi is not None:
        on, u = _psi_plan(lengths, v, o, lam, lam_psi)
        if u >= work - TOL:
            segs = _trim(values, prefix, _segments([(edges[i], edges[i + 1]) for i in on]), work, o)
            c = cost(values, prefix, segs)
            if _better(c, best_cost):
                best_cost, best_plan = c, segs
                if best_cost <= bound * (1 + _REL) + 1e-9:
                    return best_plan

    # exhaustive search, first with a limit just above the lower bound (small fronts;
    # whatever it finds is optimal), widening up to the best schedule known
    for widen in (2e-3, 1.6e-2, None):
        limit = best_cost if widen is None else bound * (1 + widen)
        if widen is not None and limit >= best_cost:
            continue
        got = _search(values, prefix, edges, lengths, v, work, o, lam, limit)
        if got is not None:
            return got
    return best_plan


def _search(values, prefix, edges, lengths, v, work, o, lam, limit):
    """The cheapest schedule costing less than ``limit`` (None if there is none)."""
    n = len(lengths)
    best_cost = limit
    target = work
    limit = best_cost + _REL * abs(best_cost) + 1e-9
    fwd = _fronts(lengths, v, o, target, limit, lam)
    bwd = _fronts(lengths[::-1], v[::-1], o, target, limit, lam)
    found = None
    for s in (_G, _R):                                   # (a) whole slots only
        for j, (nu, c, _, _) in enumerate(fwd[n][s]):
            if -nu >= target - TOL and _better(c, best_cost):
                best_cost, found = c, ("whole", s, j)
    lengths_l, v_l = lengths.tolist(), v.tolist()
    inf = math.inf

    def low(front):      # least cost - lam x U of a boundary's G and R points
        return (min((c + lam * nu for nu, c, _, _ in front[_G]), default=inf),
                min((c + lam * nu for nu, c, _, _ in front[_R]), default=inf))

    lo_f = [low(f) for f in fwd]
    lo_b = [low(f) for f in bwd]
    lo_o = lam * o
    for x in range(n):                                   # (b) whole slots and a part of slot x
        lx, vx = lengths_l[x], v_l[x]
        # Lagrangian skip: total - lam x target = (pc - lam pu) + (qc - lam qu) + (vx - lam) part
        part_low = min(0.0, (vx - lam) * lx) + lam * target
        (fg, fr), (bg, br) = lo_f[x], lo_b[n - 1 - x]
        pre_any_low = min(0.0, fg + lo_o, fr + lo_o)
        suf_any_low = min(0.0, bg + lo_o, br + lo_o)
        if min(pre_any_low + min(suf_any_low, br), min(pre_any_low, fr) + suf_any_low) + part_low >= best_cost:
            continue
        _, G, R = fwd[x]
        _, g, r = bwd[n - 1 - x]
        # useful time of each side, shifted by the overhead of the runs it adds
        pre_any = [(0.0, 0.0, _E, 0)] + [(-nu - o, c, _G, j) for j, (nu, c, _, _) in enumerate(G)] \
            + [(-nu - o, c, _R, j) for j, (nu, c, _, _) in enumerate(R)]
        suf_any = [(0.0, 0.0, _E, 0)] + [(-nu - o, c, _G, j) for j, (nu, c, _, _) in enumerate(g)] \
            + [(-nu - o, c, _R, j) for j, (nu, c, _, _) in enumerate(r)]
        # against the left edge the part continues a run ending there (no new run);
        # against the right edge it starts the run that continues after x
        pre_left = pre_any[:1 + len(G)] + [(-nu, c, _R, j) for j, (nu, c, _, _) in enumerate(R)]
        suf_right = suf_any[:1 + len(g)] + [(-nu, c, _R, j) for j, (nu, c, _, _) in enumerate(r)]
        for side, pre, suf in (("left", pre_left, suf_any), ("right", pre_any, suf_right)):
            suf_low = min(q[1] - lam * q[0] for q in suf) + part_low
            if min(q[1] - lam * q[0] for q in pre) + suf_low >= best_cost:
                continue
            suf = sorted(suf)
            us = [q[0] for q in suf]
            keys = [q[1] - vx * q[0] for q in suf]
            for pu, pc, ps, pj in pre:
                if pc - lam * pu + suf_low >= best_cost:
                    continue
                rest = target - pu                       # the part is rest - u of the suffix
                i0 = bisect_left(us, rest - lx - TOL)
                i1 = bisect_left(us, rest - TOL)
                if i0 >= i1:
                    continue
                k = min(range(i0, i1), key=keys.__getitem__)
                t = pc + vx * rest + keys[k]
                if _better(t, best_cost):
                    best_cost, found = t, ("part", x, side, ps, pj, suf[k][2], suf[k][3], rest - us[k])
    if found is None:
        return None
    if found[0] == "whole":
        return _exact(_segments([(edges[i], edges[i + 1]) for i in _trace(fwd, n, found[1], found[2])]), work, o)
    _, x, side, ps, pj, qs, qj, p = found
    on = _trace(fwd, x, ps, pj) + [n - 1 - i for i in _trace(bwd, n - 1 - x, qs, qj)]
    p = min(p, float(lengths[x]))
    intervals = [(edges[i], edges[i + 1]) for i in on]
    intervals.append((edges[x], edges[x] + p) if side == "left" else (edges[x + 1] - p, edges[x + 1]))
    return _exact(_segments(intervals), work, o)


def _exact(segments, work, overhead):
    """Lengths summing to exactly work + overhead x (segments - 1): trim any excess
    from the end (it only lowers the cost), absorb float noise in the last segment."""
    while True:
        segs = fit(segments, work, overhead)
        if len(segs) == len(segments):
            return segs
        segments = segs


def threshold(values, prefix, release: float, deadline: float, work: float, limit: float,
              overhead: float = 0.0) -> list[tuple[float, float]]:
    """Threshold rule, exact in continuous time.

    Go forward in time from the release: run whenever the forecast is at or
    below ``limit`` (g/kWh); pause when it is above, unless the deadline
    requires running: a paused job must resume by ``deadline - left - overhead``
    (``left``: work still to do; no overhead before the first segment), and a
    running job pauses only if it could resume later than now (``deadline -
    left - overhead`` after the start of the high hour).  Once the deadline
    requires running, the job runs without a break to the end.  Every
    resumption costs ``overhead`` seconds of extra run time.  Returns
    ``[(start, length), ...]``; the release alone when the window cannot hold
    the work.
    """
    if deadline - release < work - TOL:
        return [(float(release), float(work))]
    edges = slots(release, deadline).tolist()
    segs: list[list[float]] = []
    left = float(work)
    cur = None                          # start of the running segment
    o = overhead

    def finish(at):                     # run without a break from ``at`` until the work is done
        extra = o if (cur is None and segs) else 0.0
        start = at if cur is None else cur
        end = at + left + extra
        segs.append([start, end])
        return [(float(a), float(b - a)) for a, b in segs]

    for a, b in zip(edges[:-1], edges[1:]):
        clean = _value(values, 0.5 * (a + b)) <= limit
        if clean:
            if cur is None:
                if segs:
                    left += o           # resuming: the overhead is run time too
                cur = a
            if b - a >= left - TOL:
                segs.append([cur, a + left])
                return [(float(s), float(e - s)) for s, e in segs]
            left -= b - a
            continue
        if cur is not None:             # running into a high hour: pause if the deadline allows
            if deadline - left - o <= a + TOL:
                return finish(a)
            segs.append([cur, a])
            cur = None
        latest = deadline - left - (o if segs else 0.0)
        if latest <= a + TOL:
            return finish(a)
        if latest < b - TOL:
            return finish(latest)
    if cur is not None:
        segs.append([cur, deadline])
    out = [(float(s), float(e - s)) for s, e in segs] or [(float(release), float(work))]
    return fit(out, work, o)


def percentile(values, release: float, horizon: float, q: float) -> float:
    """The ``q``-th percentile (0-100, numpy's default linear interpolation) of the
    hourly forecast over the hours that overlap ``[release, release + horizon)``,
    each hour counted once (hours past the forecast repeat its last hour).  With
    :func:`threshold` this is an Ecovisor-style percentile threshold."""
    h0 = math.floor(release / HOUR)
    h1 = max(math.ceil((release + horizon - TOL) / HOUR), h0 + 1)
    idx = np.minimum(np.maximum(np.arange(h0, h1), 0), len(values) - 1)
    return float(np.percentile(values[idx], q))
