"""The planners (carbonsim.sim.planners) against brute force, small LPs and hand-worked
cases; the engine, scenario files and forecasts that use them.

Every planner is checked on random small cases: random hourly series (with and
without ties), release times off the hour, lengths under and over an hour,
slacks (zero too), deadlines at the end of the forecast.  The default run takes
a few hundred cases per planner; ``-m slow`` runs thousands.
"""
import itertools
import math

import numpy as np
import pytest
from scipy.optimize import linprog

import carbonsim
from carbonsim.sim import fleet as engine
from carbonsim.sim import planners

H = 3600.0
KG_PER_KW = 1 / 3.6e6            # (g/kWh) x s -> kg for a 1 kW load


# ---------------------------------------------------------------------------
# References, written independently of the planners
# ---------------------------------------------------------------------------


def value_at(v, t):
    return float(v[min(max(int(math.floor(t / H)), 0), len(v) - 1)])


def ref_integral(v, s, e):
    """Integral of the held step function over [s, e), hour by hour."""
    total, t = 0.0, s
    while t < e - 1e-12:
        nxt = min((math.floor(t / H) + 1) * H, e)
        total += value_at(v, 0.5 * (t + nxt)) * (nxt - t)
        t = nxt
    return total


def ref_cost(v, segments):
    return sum(ref_integral(v, s, s + n) for s, n in segments)


def random_case(rng, minute=False, max_hours=7):
    """(values, release, work, slack) with release + work + slack inside or at the end of the series."""
    n = int(rng.integers(2, max_hours + 1))
    if rng.random() < 0.3:
        v = rng.integers(1, 4, n) * 100.0           # ties
    else:
        v = np.round(rng.uniform(0, 500, n), 1)
    release = rng.uniform(0, 0.6 * n) * H if rng.random() < 0.8 else float(rng.integers(0, n)) * H
    work = rng.uniform(0.05, 0.95) * H if rng.random() < 0.4 else rng.uniform(1.0, 3.0) * H
    slack = 0.0 if rng.random() < 0.1 else rng.uniform(0, 3) * H
    if rng.random() < 0.3:                           # the deadline at the end of the forecast
        slack = max(n * H - release - work, 0.0)
    if minute:
        release, work, slack = (round(x / 60) * 60.0 for x in (release, work, slack))
        work = max(work, 60.0)
    return v, float(release), float(work), float(slack)


def cases(count, seed, **kw):
    rng = np.random.default_rng(seed)
    return [random_case(rng, **kw) for _ in range(count)]


def check_segments(segs, release, deadline, work, overhead):
    assert segs[0][0] >= release - 1e-6
    assert segs[-1][0] + segs[-1][1] <= deadline + 1e-6
    for (s0, n0), (s1, _) in zip(segs, segs[1:]):
        assert s0 + n0 < s1 - 1e-9, "segments must be separated by a pause"
    total = sum(n for _, n in segs)
    assert total == pytest.approx(work + overhead * (len(segs) - 1), abs=1e-6)


# ---------------------------------------------------------------------------
# The two examples of the issue
# ---------------------------------------------------------------------------


def test_window_example_starts_at_01_30_for_0_15_kg_per_kw():
    v = np.array([300.0, 200.0, 100.0])
    start, cost = planners.window(v, planners.prefix_sums(v), 0.5 * H, 1.5 * H, H)
    assert start == 1.5 * H
    assert cost * KG_PER_KW == pytest.approx(0.15, abs=1e-15)


def test_interruptible_example_runs_hour_1_and_half_of_hour_0_for_0_20_kg_per_kw():
    v = np.array([200.0, 100.0, 300.0])
    for overhead in (0.0, 600.0):
        segs = planners.cheapest(v, planners.prefix_sums(v), 0.0, 2.5 * H, 1.5 * H, overhead)
        assert segs == [(0.5 * H, 1.5 * H)]          # one segment: no overhead to pay
        assert ref_cost(v, segs) * KG_PER_KW == pytest.approx(0.20, abs=1e-15)


def grid_scenario(tmp_path, values, policy, start="2024-01-01T00:30:00Z", hours=1.0):
    rows = [f"2024-01-01T{h:02d}:00:00Z,{x}" for h, x in enumerate(values)]
    (tmp_path / "grid.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    doc = {"schema_version": 1, "scenario": {"name": "issue", "start": "2024-01-01T00:00:00Z"},
           "datacenters": {"dc": {"pue": 1.0, "grid": {"csv": "grid.csv"}}},
           "workloads": {"training": [{"name": "job", "hardware": "v100", "chips": 1, "datacenter": "dc",
                                       "start": start, "duration_hours": hours, "power_w_per_chip": 1000.0,
                                       "policy": policy}]}}
    from carbonsim.sim.simulate import run
    return run(carbonsim.resolve(doc, source=str(tmp_path / "s.toml")))


def test_issue_examples_from_a_scenario_file(tmp_path):
    r = grid_scenario(tmp_path, [300, 200, 100, 400, 400, 400], {"shift": "window", "slack_hours": 1})
    assert r.workload("job").gross_co2e_kg == pytest.approx(0.15, rel=1e-12)
    assert r.workload("job").start.hour == 1 and r.workload("job").start.minute == 30
    r = grid_scenario(tmp_path, [200, 100, 300, 400, 400, 400],
                      {"shift": "interruptible", "slack_hours": 1}, start="2024-01-01T00:00:00Z", hours=1.5)
    assert r.workload("job").gross_co2e_kg == pytest.approx(0.20, rel=1e-12)


def test_slot_arithmetic_tolerates_float_noise():
    # 2.2 h computed as 7920.000000000001 s: two whole hours and 0.2 h fill it exactly
    work = 2.2 * H
    assert work > 7920.0
    v = np.array([100.0, 100.0, 500.0, 100.0])
    segs = planners.cheapest(v, planners.prefix_sums(v), 0.0, 2.2 * H, work, 300.0)
    assert segs == [(0.0, work)]
    segs = planners.cheapest(v, planners.prefix_sums(v), 0.0, 4 * H, work)
    check_segments(segs, 0.0, 4 * H, work, 0.0)
    assert ref_cost(v, segs) == pytest.approx(2.2 * H * 100.0)
    # an hour boundary a float ulp from the release makes no sliver of a slot
    edges = planners.slots(H - 1e-9, 3 * H)
    assert np.all(np.diff(edges) > 1.0)


# ---------------------------------------------------------------------------
# Window: exact against brute force
# ---------------------------------------------------------------------------


def window_brute(v, release, work, slack):
    """Every start on the minute grid (exact when all inputs are whole minutes)."""
    starts = release + 60.0 * np.arange(int(round(slack / 60)) + 1)
    costs = np.array([ref_integral(v, s, s + work) for s in starts])
    best = costs.min()
    i = int(np.argmax(costs <= best + 1e-9 * max(best, 1.0)))
    return float(starts[i]), float(best)


def check_window_minutes(case):
    v, release, work, slack = case
    start, cost = planners.window(v, planners.prefix_sums(v), release, release + slack, work)
    b_start, b_cost = window_brute(v, release, work, slack)
    assert cost == pytest.approx(b_cost, rel=1e-9, abs=1e-6)
    assert ref_integral(v, start, start + work) == pytest.approx(cost, rel=1e-9, abs=1e-6)
    assert start == pytest.approx(b_start, abs=1e-6)            # ties: the earliest start


def check_window_anywhere(case):
    v, release, work, slack = case
    start, cost = planners.window(v, planners.prefix_sums(v), release, release + slack, work)
    assert release - 1e-9 <= start <= release + slack + 1e-9
    assert ref_integral(v, start, start + work) == pytest.approx(cost, rel=1e-9, abs=1e-6)
    grid = np.linspace(release, release + slack, 301)
    assert cost <= min(ref_integral(v, s, s + work) for s in grid) * (1 + 1e-9) + 1e-6


@pytest.mark.parametrize("case", cases(150, 1, minute=True))
def test_window_equals_minute_brute_force(case):
    check_window_minutes(case)


@pytest.mark.parametrize("case", cases(100, 2))
def test_window_beats_every_start_on_a_fine_grid(case):
    check_window_anywhere(case)


@pytest.mark.slow
def test_window_brute_force_thousands():
    for case in cases(2000, 11, minute=True):
        check_window_minutes(case)
    for case in cases(2000, 12):
        check_window_anywhere(case)


def test_window_past_the_forecast_holds_the_last_hour():
    v = np.array([500.0, 100.0])
    start, cost = planners.window(v, planners.prefix_sums(v), 0.0, 6 * H, 2 * H)
    assert start == H and cost == pytest.approx(2 * H * 100.0)


# ---------------------------------------------------------------------------
# Interruptible, no overhead: against the LP
# ---------------------------------------------------------------------------


def lp_cheapest(v, release, deadline, work):
    """min sum v_i x_i, 0 <= x_i <= slot length, sum x_i = work (the exact optimum without overhead)."""
    edges = [release] + [h * H for h in range(math.floor(release / H) + 1, math.ceil(deadline / H))] + [deadline]
    lengths = np.diff(edges)
    vals = [value_at(v, 0.5 * (a + b)) for a, b in zip(edges[:-1], edges[1:])]
    res = linprog(vals, A_eq=[np.ones(len(vals))], b_eq=[work], bounds=list(zip([0] * len(vals), lengths)),
                  method="highs")
    assert res.status == 0
    return res.fun


def check_cheapest_lp(case):
    v, release, work, slack = case
    deadline = release + work + slack
    segs = planners.cheapest(v, planners.prefix_sums(v), release, deadline, work)
    check_segments(segs, release, deadline, work, 0.0)
    assert ref_cost(v, segs) == pytest.approx(lp_cheapest(v, release, deadline, work), rel=1e-9, abs=1e-6)


@pytest.mark.parametrize("case", cases(200, 3))
def test_cheapest_without_overhead_equals_the_lp(case):
    check_cheapest_lp(case)


@pytest.mark.slow
def test_cheapest_without_overhead_lp_thousands():
    for case in cases(3000, 13, max_hours=10):
        check_cheapest_lp(case)


# ---------------------------------------------------------------------------
# Interruptible with checkpoint overhead
# ---------------------------------------------------------------------------


def slot_table(v, release, deadline):
    edges = planners.slots(release, deadline)
    vals = np.array([value_at(v, 0.5 * (a + b)) for a, b in zip(edges[:-1], edges[1:])])
    return edges, np.diff(edges), vals


def enumerate_cheapest(v, release, deadline, work, o):
    """Every set of whole slots, with or without a part of one more slot against one
    of its edges: the form an optimum takes (see planners.cheapest)."""
    edges, lengths, vals = slot_table(v, release, deadline)
    n = len(lengths)
    best = math.inf
    for mask in range(1 << n):
        whole = [i for i in range(n) if mask >> i & 1]
        runs = planners._segments([(edges[i], edges[i + 1]) for i in whole])
        base = sum(vals[i] * lengths[i] for i in whole)
        if runs and abs(sum(x for _, x in runs) - (work + o * (len(runs) - 1))) < 1e-6:
            best = min(best, base)
        for x in (i for i in range(n) if not mask >> i & 1):
            for side in (0, 1):
                tiny = min(1e-3, lengths[x] / 2)
                piece = (edges[x], edges[x] + tiny) if side == 0 else (edges[x + 1] - tiny, edges[x + 1])
                k = len(planners._segments([(edges[i], edges[i + 1]) for i in whole] + [piece]))
                p = work + o * (k - 1) - sum(lengths[i] for i in whole)
                if 1e-6 < p <= lengths[x] + 1e-6:
                    best = min(best, base + vals[x] * min(p, lengths[x]))
    return best


def lp_structures(v, release, deadline, work, o, max_runs=3):
    """Lemma-free check: for every number of runs k <= max_runs and every choice of the
    slot each run starts and ends in, an LP over the exact start and end times."""
    edges, lengths, vals = slot_table(v, release, deadline)
    n = len(lengths)
    best = math.inf
    for k in range(1, max_runs + 1):
        for ends in itertools.combinations_with_replacement(range(n), 2 * k):
            # ends = (s1, t1, s2, t2, ...) non-decreasing slot indices
            nv = 2 * k
            c = np.zeros(nv)
            const = 0.0
            bounds = []
            for j in range(k):
                s, t = ends[2 * j], ends[2 * j + 1]
                bounds += [(edges[s], edges[s + 1]), (edges[t], edges[t + 1])]
                if s == t:
                    c[2 * j] -= vals[s]
                    c[2 * j + 1] += vals[s]
                else:
                    c[2 * j] -= vals[s]
                    const += vals[s] * edges[s + 1] + sum(vals[i] * lengths[i] for i in range(s + 1, t))
                    const -= vals[t] * edges[t]
                    c[2 * j + 1] += vals[t]
            a_ub, b_ub = [], []
            for m in range(nv - 1):              # a1 <= b1 <= a2 <= b2 ...
                row = np.zeros(nv)
                row[m], row[m + 1] = 1, -1
                a_ub.append(row)
                b_ub.append(0.0)
            a_eq = np.zeros(nv)
            a_eq[1::2], a_eq[0::2] = 1, -1
            res = linprog(c, A_ub=a_ub or None, b_ub=b_ub or None, A_eq=[a_eq], b_eq=[work + o * (k - 1)],
                          bounds=bounds, method="highs")
            if res.status == 0:
                best = min(best, res.fun + const)
    return best


def overhead_cases(count, seed, max_hours=7):
    rng = np.random.default_rng(seed)
    out = []
    while len(out) < count:
        v, release, work, slack = random_case(rng, max_hours=max_hours)
        o = float(rng.choice([0.05, 0.2, 0.5, 1.2])) * H
        if len(planners.slots(release, release + work + slack)) <= max_hours + 2:
            out.append((v, release, work, slack, o))
    return out


def check_cheapest_overhead(case, reference):
    v, release, work, slack, o = case
    deadline = release + work + slack
    segs = planners.cheapest(v, planners.prefix_sums(v), release, deadline, work, o)
    check_segments(segs, release, deadline, work, o)
    got = ref_cost(v, segs)
    assert got == pytest.approx(planners.cost(v, planners.prefix_sums(v), segs), rel=1e-9, abs=1e-6)
    want = reference(v, release, deadline, work, o)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-6)
    return segs


@pytest.mark.parametrize("case", overhead_cases(250, 4))
def test_cheapest_with_overhead_equals_enumeration(case):
    check_cheapest_overhead(case, enumerate_cheapest)


@pytest.mark.parametrize("case", overhead_cases(12, 5, max_hours=3))
def test_cheapest_with_overhead_equals_lp_over_run_structures(case):
    check_cheapest_overhead(case, lp_structures)


@pytest.mark.slow
def test_cheapest_with_overhead_thousands():
    for case in overhead_cases(3000, 14):
        check_cheapest_overhead(case, enumerate_cheapest)
    for case in overhead_cases(200, 15, max_hours=4):
        check_cheapest_overhead(case, lp_structures)


def test_cheapest_with_overhead_search_path_matches_enumeration(monkeypatch):
    """Cases that pass every shortcut and need the exhaustive search (several cheap
    valleys separated by dear hours)."""
    calls = []
    search = planners._search
    monkeypatch.setattr(planners, "_search", lambda *a, **k: calls.append(1) or search(*a, **k))
    rng = np.random.default_rng(6)
    searched = 0
    for _ in range(300):
        n = 8
        v = np.where(rng.random(n) < 0.5, rng.uniform(50, 150, n), rng.uniform(300, 500, n))
        release = rng.uniform(0, 0.5) * H
        work = rng.uniform(1.5, 3.5) * H
        deadline = min(release + work + rng.uniform(2, 5) * H, n * H)
        if deadline - release < work:
            continue
        o = float(rng.choice([0.05, 0.25])) * H
        calls.clear()
        check_cheapest_overhead((v, release, work, deadline - release - work, o), enumerate_cheapest)
        searched += bool(calls)
    assert searched >= 20


def test_cheapest_pays_the_overhead_only_when_it_is_worth_it():
    v = np.array([100.0, 900.0, 100.0])
    pre = planners.prefix_sums(v)
    # 1.5 h of work in 3 h: split around the dear hour, 1.6 h at 100 with the 6-minute overhead
    segs = planners.cheapest(v, pre, 0.0, 3 * H, 1.5 * H, 0.1 * H)
    assert len(segs) == 2 and ref_cost(v, segs) == pytest.approx(1.6 * H * 100)
    # an overhead dearer than the dear hour's share: one run through it
    segs = planners.cheapest(v, pre, 0.0, 3 * H, 1.5 * H, 0.9 * H)
    assert len(segs) == 1


# ---------------------------------------------------------------------------
# Threshold rule: against a minute-by-minute simulation of the rule
# ---------------------------------------------------------------------------


def ref_threshold(v, release, deadline, work, limit, o):
    """The documented rule stepped minute by minute (exact for whole-minute inputs)."""
    if deadline - release < work:
        return [(release, work)]
    t, left, segs, start = release, work, [], None
    while left > 1e-9:
        clean = value_at(v, t + 30.0) <= limit
        if start is None:
            latest = deadline - left - (o if segs else 0.0)
            if clean or t >= latest - 1e-9:
                if segs:
                    left += o
                start = t
        elif not clean and deadline - left - o > t + 1e-9:
            segs.append((start, t - start))
            start = None
            continue                              # re-decide this minute while paused
        if start is not None:
            left -= 60.0
        t += 60.0
    segs.append((start, t + left - start))
    return segs


def check_threshold(case, limit, o):
    v, release, work, slack = case
    deadline = release + work + slack
    segs = planners.threshold(v, planners.prefix_sums(v), release, deadline, work, limit, o)
    want = ref_threshold(v, release, deadline, work, limit, o)
    assert len(segs) == len(want)
    for (s, n), (a, b) in zip(segs, want):
        assert s == pytest.approx(a, abs=1e-6) and n == pytest.approx(b, abs=1e-6)
    check_segments(segs, release, deadline, work, o)


def threshold_cases(count, seed):
    rng = np.random.default_rng(seed)
    out = []
    for case in cases(count, seed, minute=True):
        limit = float(rng.choice([0.0, 150.0, 250.0, 1000.0]))
        o = float(rng.choice([0, 5, 20, 45])) * 60.0
        out.append((case, limit, o))
    return out


@pytest.mark.parametrize("case,limit,o", threshold_cases(250, 7))
def test_threshold_equals_a_minute_by_minute_simulation(case, limit, o):
    check_threshold(case, limit, o)


@pytest.mark.slow
def test_threshold_thousands():
    for case, limit, o in threshold_cases(3000, 17):
        check_threshold(case, limit, o)


def test_threshold_hand_worked():
    # 100 g/kWh in hours 0-1 and 4-5, 500 in 2-3; 3 h of work, deadline at 6 h, 10 min overhead
    v = np.array([100, 100, 500, 500, 100, 100.0])
    segs = planners.threshold(v, planners.prefix_sums(v), 0.0, 6 * H, 3 * H, 200.0, 600.0)
    # clean hours 0-2 (2 h done), pause; resume at 4 h: 1 h + 10 min left, done by 5:10
    assert segs == [(0.0, 2 * H), (4 * H, H + 600.0)]
    # a deadline at 5 h: resume by 5 h - 1 h - 10 min = 3:50, in the high hour
    segs = planners.threshold(v, planners.prefix_sums(v), 0.0, 5 * H, 3 * H, 200.0, 600.0)
    assert segs == [(0.0, 2 * H), (3 * H + 50 * 60, H + 600.0)]


def test_percentile_threshold_hand_worked():
    # the next 6 hours from 00:30 overlap hours 0..6: values 100..700
    v = np.array([100, 200, 300, 400, 500, 600, 700, 800.0])
    assert planners.percentile(v, 0.5 * H, 6 * H, 50) == 400.0
    # 30th percentile of 7 values, linear interpolation: 100 + 0.3 x 6 x 100 = 280
    assert planners.percentile(v, 0.5 * H, 6 * H, 30) == pytest.approx(280.0)
    # through the engine: with threshold_percentile = 30 over 6 h the job runs in hours <= 280 g/kWh
    pol = engine.Policy(shift="interruptible", slack_s=2 * H, interrupt="threshold", threshold_percentile=30,
                        horizon_s=6 * H)
    dc, segs = engine.plan(pol, 0.5 * H, 1.5 * H, 0, "x", engine.Forecast(v[None, :]), {(0, "x"): 0})
    assert segs == [(0.5 * H, 1.5 * H)]       # hours 0 and 1 (100, 200) are under 280


# ---------------------------------------------------------------------------
# Lowest slot and Carbon-Time
# ---------------------------------------------------------------------------


def check_lowest_slot(case):
    v, release, work, slack = case
    start, value = planners.lowest_slot(v, planners.prefix_sums(v), release, release + slack)
    times = np.append(release + 60.0 * np.arange(int(slack // 60) + 1), release + slack)
    vals = [value_at(v, t) for t in times]
    i = int(np.argmin(vals))
    assert value == vals[i]
    assert start == pytest.approx(times[i], abs=1e-6)


@pytest.mark.parametrize("case", cases(200, 8, minute=True))
def test_lowest_slot_against_every_minute(case):
    check_lowest_slot(case)


def test_lowest_slot_hand_worked():
    v = np.array([300, 100, 50, 50, 400.0])
    pre = planners.prefix_sums(v)
    assert planners.lowest_slot(v, pre, 0.5 * H, 3.5 * H) == (2 * H, 50.0)    # earliest of the 50s
    assert planners.lowest_slot(v, pre, 2.25 * H, 4 * H) == (2.25 * H, 50.0)  # the release's own hour
    assert planners.lowest_slot(v, pre, 0.5 * H, 1.75 * H) == (H, 100.0)      # ignores the job's length


def ref_carbon_time(v, release, slack, work):
    starts = [release + k * H for k in range(int(math.floor(slack / H + 1e-9)) + 1)]
    ref = ref_integral(v, release, release + work)
    best, at = 0.0, release
    for s in starts:
        score = (ref - ref_integral(v, s, s + work)) / (s - release + work)
        if score > best * (1 + 1e-9) + 1e-12:
            best, at = score, s
    return at


@pytest.mark.parametrize("case", cases(200, 9))
def test_carbon_time_against_a_loop(case):
    v, release, work, slack = case
    start, _ = planners.carbon_time(v, planners.prefix_sums(v), release, release + slack, work)
    assert start == pytest.approx(ref_carbon_time(v, release, slack, work), abs=1e-6)


def test_carbon_time_hand_worked():
    # 1 h job at 00:30 with 3 h slack; hours 400, 300, 100, 90, 400
    v = np.array([400, 300, 100, 90, 400.0])
    pre = planners.prefix_sums(v)
    # C(0:30) = 350, C(1:30) = 200, C(2:30) = 95, C(3:30) = 245 (x 3600 s)
    # saved per hour of completion time: 150/2 = 75, 255/3 = 85, 105/4 = 26.25 -> start 2:30
    start, score = planners.carbon_time(v, pre, 0.5 * H, 3.5 * H, H)
    assert start == 2.5 * H and score == pytest.approx(85.0)
    # the lowest window would take the same hours; with 1 h of slack only 1:30 is on offer
    assert planners.carbon_time(v, pre, 0.5 * H, 1.5 * H, H)[0] == 1.5 * H
    # nothing saved: start now
    flat = np.full(5, 200.0)
    assert planners.carbon_time(flat, planners.prefix_sums(flat), 0.5 * H, 3.5 * H, H) == (0.5 * H, 0.0)


# ---------------------------------------------------------------------------
# Fitting a plan to the true length
# ---------------------------------------------------------------------------


def test_fit_cuts_or_extends_the_plan():
    segs = [(0.0, H), (2 * H, H + 600.0)]
    assert planners.fit(segs, 2 * H, 600.0) == segs
    assert planners.fit(segs, 0.5 * H, 600.0) == [(0.0, 0.5 * H)]                  # done in the first segment
    assert planners.fit(segs, 1.5 * H, 600.0) == [(0.0, H), (2 * H, 0.5 * H + 600.0)]
    assert planners.fit(segs, 3 * H, 600.0) == [(0.0, H), (2 * H, 2 * H + 600.0)]  # the rest runs straight on


# ---------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------


def one_job(policy, values, submit, work, plan_work=None, dcs=1):
    fc = engine.Forecast(np.asarray(values, dtype=float))
    jobs = engine.Jobs(submit_s=np.array([submit]), chips=np.array([1]), work_s=np.array([work]),
                       power_w=np.array([1000.0]), hardware=["x"], workload=np.array([0]), home=np.array([0]),
                       policy=np.array([0]), plan_work_s=None if plan_work is None else np.array([plan_work]))
    pools = [engine.Pool(d, "x", None) for d in range(dcs)]
    return engine.finish(engine.simulate(jobs, pools, [policy], [fc]))


def test_engine_chooses_datacenter_and_start_together():
    # dc 0 is cleanest now, dc 1 is cleanest in an hour and cleaner than dc 0 ever is
    values = [[200, 200, 200, 200], [400, 50, 400, 400]]
    for shift in ("window", "lowest-slot", "carbon-time"):
        pol = engine.Policy(placement="lowest-carbon-mean", candidates=(0, 1), shift=shift, slack_s=2 * H)
        run = one_job(pol, values, 0.0, H, dcs=2)
        assert run.job_datacenter[0] == 1 and run.job_start_s[0] == H, shift
    pol = engine.Policy(placement="lowest-carbon-mean", candidates=(0, 1), shift="interruptible", slack_s=2 * H)
    run = one_job(pol, values, 0.0, H, dcs=2)
    assert run.job_datacenter[0] == 1 and run.job_start_s[0] == H
    # fixed placement keeps the home datacenter
    run = one_job(engine.Policy(shift="window", slack_s=2 * H), values, 0.0, H, dcs=2)
    assert run.job_datacenter[0] == 0


def test_engine_plans_with_the_estimate_and_runs_the_true_length():
    values = [[500, 100, 100, 500, 500, 500, 500, 500]]
    pol = engine.Policy(shift="window", slack_s=3 * H, length_known="mean")
    # planned for 2 h (hours 1-2), runs 3 h: the third hour straight after
    run = one_job(pol, values, 0.0, 3 * H, plan_work=2 * H)
    assert run.job_start_s[0] == H and run.job_end_s[0] == 4 * H
    # planned for 2 h, runs 30 min: cut
    run = one_job(pol, values, 0.0, 0.5 * H, plan_work=2 * H)
    assert run.job_start_s[0] == H and run.job_end_s[0] == 1.5 * H
    # interruptible, planned 1 h in hours 1 and ... runs 2.5 h with a 10-minute overhead
    values = [[100, 500, 100, 500, 500, 500, 500, 500]]
    pol = engine.Policy(shift="interruptible", slack_s=3 * H, checkpoint_overhead_s=600.0, length_known="mean")
    run = one_job(pol, values, 0.0, 2.5 * H, plan_work=2 * H)
    busy = run.intervals["end_s"] - run.intervals["start_s"]
    assert busy.sum() == pytest.approx(2.5 * H + 600.0 * (run.job_segments[0] - 1))
    # length_known = "exact" ignores the estimate
    run = one_job(engine.Policy(shift="window", slack_s=3 * H), [[500, 100, 100, 500, 500, 500]], 0.0, H,
                  plan_work=5 * H)
    assert run.job_start_s[0] == H and run.job_end_s[0] == 2 * H


# ---------------------------------------------------------------------------
# Forecasts
# ---------------------------------------------------------------------------


def test_ar1_forecast_error_grows_with_lead_time():
    n = 24 * 400
    actual = np.full((1, n), 200.0)
    sigma, phi = 0.4, 0.8
    fc = engine.IssuedForecast(actual, "ar1", sigma=sigma, phi=phi, seed=3, max_lead_hours=30)
    logs = np.array([np.log(fc.view(0, i * H)[0] / 200.0) for i in range(0, n - 30, 3)])
    assert np.all(logs[:, 0] == 0.0)                        # the current hour is known
    var = logs.var(axis=0)
    want = sigma ** 2 * (1 - phi ** (2 * np.arange(30)))
    assert var[1:] == pytest.approx(want[1:], rel=0.08)
    assert np.all(np.diff(want) > 0)
    # mean-preserving, deterministic, seeded
    assert np.exp(logs).mean(axis=0)[10] == pytest.approx(1.0, abs=0.03)
    again = engine.IssuedForecast(actual, "ar1", sigma=sigma, phi=phi, seed=3, max_lead_hours=30)
    assert np.array_equal(again.view(0, 77 * H)[0], fc.view(0, 77 * H)[0])
    other = engine.IssuedForecast(actual, "ar1", sigma=sigma, phi=phi, seed=4, max_lead_hours=30)
    assert not np.array_equal(other.view(0, 77 * H)[0], fc.view(0, 77 * H)[0])


def test_persistence_and_day_ahead_mean():
    hours = np.arange(24 * 10)
    actual = (hours % 24 * 10 + hours // 24 * 100.0)[None, :]     # day d, hour h: 100 d + 10 h
    p = engine.IssuedForecast(actual, "persistence", max_lead_hours=50)
    vals, _, off = p.view(0, 100 * H + 1800)                       # issued at the start of hour 100 (day 4, 04:00)
    assert off == 100 * H
    assert vals[0] == actual[0, 76] == 340.0                       # yesterday, same hour
    assert vals[23] == actual[0, 99]
    assert vals[24] == actual[0, 76]                               # lead 24 h: two days back, still observed
    d = engine.IssuedForecast(actual, "day-ahead-mean", max_lead_hours=50)
    vals = d.view(0, 100 * H)[0]
    assert vals[0] == pytest.approx(np.mean(actual[0, [76, 52, 28, 4]]))   # the days observed so far
    vals = d.view(0, 200 * H)[0]
    assert vals[0] == pytest.approx(np.mean(actual[0, [200 - 24 * k for k in range(1, 8)]]))
    # the first day has no past: the series' first day stands in
    assert p.view(0, 5 * H)[0][0] == actual[0, 5]


# ---------------------------------------------------------------------------
# Scenario files
# ---------------------------------------------------------------------------


def stream(policy, seed=0):
    s = carbonsim.Scenario("p", seed=seed, start="2022-03-01", end="2022-03-08")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO")
    s.add_datacenter("ore", pue=1.1, grid="eia:BPAT")
    s.add_job_stream("jobs", hardware="v100", datacenter="cal", rate_per_day=12, chips=1,
                     duration_hours={"dist": "lognormal", "median": 3.0, "sigma": 1.0, "high": 50.0}, policy=policy)
    return s


POLICIES = [
    {"shift": "window", "slack_hours": 12},
    {"shift": "lowest-slot", "slack_hours": 12},
    {"shift": "carbon-time", "slack_hours": 12},
    {"shift": "interruptible", "slack_hours": 12, "checkpoint_overhead_minutes": 10},
    {"shift": "interruptible", "slack_hours": 12, "interrupt": "threshold", "threshold_percentile": 30,
     "horizon_hours": 24},
    {"shift": "interruptible", "slack_hours": 12, "interrupt": "threshold", "threshold_gco2e_per_kwh": 200},
    {"shift": "window", "slack_hours": 12, "length_known": "mean"},
    {"shift": "window", "slack_hours": 12, "length_known": "distribution"},
    {"shift": "window", "slack_hours": 12, "forecast": "persistence"},
    {"shift": "carbon-time", "slack_hours": 12, "forecast": "day-ahead-mean"},
    {"shift": "window", "slack_hours": 12, "forecast_error": 0.3, "forecast_error_model": "ar1",
     "forecast_error_phi": 0.8},
    {"shift": "window", "slack_hours": 6, "placement": "lowest-carbon-mean", "datacenters": ["cal", "ore"]},
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_every_policy_runs_from_a_scenario_and_is_deterministic(policy):
    a = stream(policy).run()
    d = a.to_dict()
    assert d["policy"]["savings"]["co2e_kg"]["gross"] > 0
    w = a.workload("jobs")
    assert w.deadline_misses == 0 or policy.get("length_known", "exact") != "exact"
    assert stream(policy).run().to_dict()["totals"] == d["totals"]


@pytest.mark.parametrize("policy,message", [
    ({"shift": "interruptible", "slack_hours": 4, "interrupt": "threshold"}, "exactly one of"),
    ({"shift": "interruptible", "slack_hours": 4, "interrupt": "threshold", "threshold_gco2e_per_kwh": 100,
      "threshold_percentile": 30}, "exactly one of"),
    ({"shift": "window", "slack_hours": 4, "threshold_percentile": 30}, "threshold_percentile needs"),
    ({"shift": "window", "slack_hours": 4, "forecast": "persistence", "forecast_error": 0.2}, "own error"),
    ({"shift": "lowest-slot"}, "slack_hours > 0"),
    ({"shift": "window", "slack_hours": 4, "length_known": "roughly"}, "length_known"),
    ({"shift": "window", "slack_hours": 4, "forecast_error_phi": 1.0}, "forecast_error_phi"),
])
def test_bad_policies_are_parse_errors(policy, message):
    with pytest.raises(carbonsim.ScenarioError, match=message):
        stream(policy).validate()
