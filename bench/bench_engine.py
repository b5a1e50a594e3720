"""The fleet engine beside a bare SimPy model of the same queue, in the same run.

Run: ``python -m pytest bench/bench_engine.py -m benchmark`` (a few minutes).
Times are CPU time of the process (``time.process_time``): the machine is
shared, and CPU time is less disturbed by other load than wall time.  Read
the ratios (printed at the end and stored in each benchmark's
``extra_info``), not the absolute times.

The workload: one pool of ``CHIPS`` chips, ~10^5 jobs over a year (Poisson
arrivals), 1, 2, 4 or 8 chips each, lognormal run times (median 3 h,
sigma 1, capped at 100 h), all drawn from one seeded ``numpy`` Generator:
utilisation ~0.76.

The bare model is the same queue written the usual SimPy way: a
``simpy.Container`` of chips (its get queue is served strictly first come,
first served, a large job at the head blocks the ones behind it, like the
engine's pool), a source process and one process per job (take chips,
``timeout(work)``, give them back).  It records nothing.  Both sides are
checked against each other: same mean queue wait, same busy chip-seconds.

Measured:

- bare SimPy;
- ``engine.simulate`` + ``engine.finish`` with the fixed/baseline policy and
  with a window-shift policy (12 h slack, planned per job against the CISO
  2022 hourly signal);
- ``accounting.integrate`` on the baseline run's intervals;
- ``simulation.run`` end to end for a scenario with a 10^5-job stream (its
  own seeded draws from the same distributions), baseline and window shift
  (the latter simulates the policy and its baseline).
"""
from __future__ import annotations

import datetime as dt
import math
import time
import warnings

import numpy as np
import pytest
import simpy

import carbonsim
from carbonsim.sim import fleet as engine
from carbonsim import grid
from carbonsim.sim import simulate as simulation
from carbonsim.sim.accounting import IntensityTable, integrate

HOUR = 3600.0
YEAR = 365 * 24 * HOUR
T0 = dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)
N_JOBS = 100_000            # expected number of jobs in the year
CHIPS = 280                 # pool size: utilisation ~0.76
BUSY_W, IDLE_W = 300.0, 60.0
SLACK_H = 12.0
SEED = 2024

CPU = pytest.mark.benchmark(timer=time.process_time)
_FIG: dict[str, dict] = {}
_RUN: dict[str, engine.EngineRun] = {}


# ---------------------------------------------------------------------------
# The job table and the grid signal
# ---------------------------------------------------------------------------


def job_table(seed: int = SEED) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(submit_s, chips, work_s): Poisson arrivals over a year, seeded sizes and run times."""
    rng = np.random.default_rng(seed)
    n = int(rng.poisson(N_JOBS))
    submit = np.sort(rng.uniform(0.0, YEAR, n))
    chips = rng.choice(np.array([1, 2, 4, 8]), n)
    work = np.minimum(rng.lognormal(math.log(3 * HOUR), 1.0, n), 100 * HOUR)
    return submit, chips, work


def hourly_ciso(n_hours: int) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", grid.GridDataWarning)
        return grid.align(grid.load_signal("eia:CISO"), T0, n_hours, overflow="wrap")


@pytest.fixture(scope="module")
def columns():
    return job_table()


@pytest.fixture(scope="module")
def inputs(columns):
    submit, chips, work = columns
    n = len(submit)
    jobs = engine.Jobs(submit_s=submit, chips=chips, work_s=work, power_w=np.full(n, BUSY_W), hardware=["tpu"] * n,
                       workload=np.zeros(n, np.int64), home=np.zeros(n, np.int64), policy=np.zeros(n, np.int64))
    forecast = engine.Forecast(hourly_ciso(math.ceil(YEAR / HOUR) + 24 * 30)[None, :])
    return jobs, forecast


POLICIES = {"baseline": engine.BASELINE, "window": engine.Policy(shift="window", slack_s=SLACK_H * HOUR)}


# ---------------------------------------------------------------------------
# The two simulations
# ---------------------------------------------------------------------------


def bare_simpy(submit: np.ndarray, chips: np.ndarray, work: np.ndarray, capacity: int) -> tuple[float, float]:
    """The same queue in plain SimPy.  Returns (total queue wait s, busy chip-s)."""
    env = simpy.Environment()
    pool = simpy.Container(env, capacity=capacity, init=capacity)
    stats = {"wait": 0.0, "busy": 0.0}

    def job(c, w):
        ready = env.now
        yield pool.get(c)
        stats["wait"] += env.now - ready
        yield env.timeout(w)
        yield pool.put(c)
        stats["busy"] += c * w

    def source():
        for s, c, w in zip(submit.tolist(), chips.tolist(), work.tolist()):
            if s > env.now:
                yield env.timeout(s - env.now)
            env.process(job(c, w))

    env.process(source())
    env.run()
    return stats["wait"], stats["busy"]


def engine_run(jobs: engine.Jobs, policy: engine.Policy, forecast: engine.Forecast) -> engine.EngineRun:
    run = engine.simulate(jobs, [engine.Pool(0, "tpu", CHIPS, IDLE_W)], [policy], [forecast])
    return engine.finish(run)


def _record(name: str, benchmark, **info):
    if benchmark.stats is None:     # --benchmark-disable
        return
    stats = benchmark.stats.stats
    if "bare" in _FIG:
        info["over_bare_simpy"] = stats.min / _FIG["bare"]["min"]
    _FIG[name] = dict(min=stats.min, median=stats.median, **info)
    benchmark.extra_info.update(info)


@CPU
def test_bare_simpy(benchmark, columns):
    submit, chips, work = columns
    wait, busy = benchmark.pedantic(bare_simpy, args=(submit, chips, work, CHIPS), rounds=5, iterations=1,
                                    warmup_rounds=1)
    _record("bare", benchmark, jobs=len(submit), mean_wait_s=wait / len(submit), busy_chip_s=busy,
            utilisation=busy / (CHIPS * YEAR))


@CPU
@pytest.mark.parametrize("policy", list(POLICIES))
def test_engine(benchmark, inputs, policy):
    jobs, forecast = inputs
    rounds = 5 if policy == "baseline" else 3
    run = benchmark.pedantic(engine_run, args=(jobs, POLICIES[policy], forecast), rounds=rounds, iterations=1,
                             warmup_rounds=1)
    assert np.all(np.isfinite(run.job_end_s))
    _record(f"engine-{policy}", benchmark, jobs=len(jobs), mean_wait_s=float(run.job_queue_s.mean()),
            busy_chip_s=float(run.pool_busy_chip_s.sum()), intervals=len(run.intervals["start_s"]),
            queued_share=float(np.mean(run.job_queue_s > 0)))
    if policy == "baseline":
        _RUN["baseline"] = run


@CPU
def test_integrate(benchmark):
    run = _RUN.get("baseline")
    if run is None:
        pytest.skip("run with the baseline engine benchmark")
    iv = run.intervals
    gross = hourly_ciso(math.ceil(run.t_end / HOUR))
    tbl = IntensityTable.from_values(T0, ("dc",), np.stack([gross, 0.5 * gross], axis=-1)[None])
    energy, _ = benchmark.pedantic(integrate, args=(iv["start_s"], iv["end_s"], iv["power_w"], iv["datacenter"], tbl),
                                   rounds=20, iterations=1, warmup_rounds=2)
    busy = iv["kind"] == engine.BUSY
    assert energy[busy].sum() == pytest.approx(run.pool_busy_chip_s.sum() * BUSY_W, rel=1e-9)
    _record("integrate", benchmark, intervals=len(iv["start_s"]))


def stream_scenario(policy: dict | None) -> carbonsim.Scenario:
    s = carbonsim.Scenario("year-of-jobs", seed=1, start="2022-01-01", end="2023-01-01")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO", grid_overflow="wrap")
    s.add_pool("cal", "v100", chips=CHIPS, idle_w_per_chip=IDLE_W)
    s.add_job_stream("jobs", hardware="v100", datacenter="cal", rate_per_day=N_JOBS / 365,
                     chips={"dist": "choice", "values": [1, 2, 4, 8]},
                     duration_hours={"dist": "lognormal", "median": 3.0, "sigma": 1.0, "high": 100.0},
                     policy=policy)
    return s


@CPU
@pytest.mark.parametrize("policy", list(POLICIES))
def test_scenario_run(benchmark, policy):
    resolved = stream_scenario(None if policy == "baseline" else {"shift": "window", "slack_hours": SLACK_H}).validate()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", grid.GridDataWarning)
        result = benchmark.pedantic(simulation.run, args=(resolved,), rounds=3 if policy == "baseline" else 2,
                                    iterations=1, warmup_rounds=1 if policy == "baseline" else 0)
    w = result.workload("jobs")
    _record(f"scenario-{policy}", benchmark, jobs=w.jobs, utilisation=result.datacenter("cal").pools[0].utilization)


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def paired_ratios(columns, inputs, rounds: int = 3) -> list[float]:
    """engine/bare CPU time, the two run back to back in each round (robust to load that comes and goes)."""
    jobs, forecast = inputs
    ratios = []
    for _ in range(rounds):
        t0 = time.process_time()
        bare_simpy(*columns, CHIPS)
        t1 = time.process_time()
        engine_run(jobs, engine.BASELINE, forecast)
        t2 = time.process_time()
        ratios.append((t2 - t1) / (t1 - t0))
    return ratios


@pytest.mark.benchmark
def test_figures(columns, inputs):
    """Engine (baseline) <= 2x bare SimPy on the same queue; integration is negligible."""
    needed = ("bare", "engine-baseline", "integrate")
    if any(k not in _FIG for k in needed):
        pytest.skip("run with the bare SimPy, engine and integrate benchmarks")
    bare, base, integ = (_FIG[k] for k in needed)
    paired = paired_ratios(columns, inputs)
    # the same queue: identical waits and busy time (up to summation order)
    assert base["mean_wait_s"] == pytest.approx(bare["mean_wait_s"], rel=1e-9)
    assert base["busy_chip_s"] == pytest.approx(bare["busy_chip_s"], rel=1e-12)
    ratio = base["min"] / bare["min"]
    share = integ["min"] / base["min"]
    rows = [("bare SimPy", bare), ("engine, baseline", base), ("engine, window shift", _FIG.get("engine-window")),
            ("integrate (baseline intervals)", integ), ("simulation.run, baseline", _FIG.get("scenario-baseline")),
            ("simulation.run, window shift", _FIG.get("scenario-window"))]
    lines = [f"\n{bare['jobs']} jobs, utilisation {bare['utilisation']:.3f}, "
             f"{base['queued_share']:.1%} of jobs queue, mean wait {bare['mean_wait_s'] / 60:.2f} min; "
             f"{integ['intervals']} intervals (baseline)",
             "| step | CPU s (min) | CPU s (median) | / bare SimPy (min) |", "|---|---:|---:|---:|"]
    for label, fig in rows:
        if fig is not None:
            lines.append(f"| {label} | {fig['min']:.3f} | {fig['median']:.3f} | {fig['min'] / bare['min']:.2f} |")
    if "engine-window" in _FIG:
        win = _FIG["engine-window"]
        lines.append(f"window shift: {win['queued_share']:.1%} of jobs queue, "
                     f"mean wait {win['mean_wait_s'] / HOUR:.2f} h")
    lines.append(f"engine/bare {ratio:.2f}x (best rounds), back to back {', '.join(f'{r:.2f}' for r in paired)} "
                 f"(median {float(np.median(paired)):.2f}x); integration {share:.2%} of simulate+finish")
    print("\n".join(lines))
    assert float(np.median(paired)) <= 2.0
    assert share <= 0.02


# ---------------------------------------------------------------------------
# The compiled fleet core beside the SimPy engine (carbonsim.sim.fleet_compiled)
# ---------------------------------------------------------------------------

GOAL_RATIO = 30.0           # compiled / SimPy engine, CPU time, 10^5-job year, baseline and 12 h window
GOAL_1M_S, GOAL_1M_MB = 2.0, 1024.0


def compiled_run(jobs: engine.Jobs, policy: engine.Policy, forecast: engine.Forecast) -> engine.EngineRun:
    from carbonsim.sim import fleet_compiled
    run = fleet_compiled.simulate(jobs, [engine.Pool(0, "tpu", CHIPS, IDLE_W)], [policy], [forecast])
    return engine.finish(run)


ONE_MILLION = """
import math, resource, sys, time
import numpy as np
sys.path.insert(0, {bench!r})
import bench_engine as b
from carbonsim.sim import fleet as engine, fleet_compiled
rng = np.random.default_rng(b.SEED)
n = int(rng.poisson(1_000_000))
submit = np.sort(rng.uniform(0.0, b.YEAR, n))
chips = rng.choice(np.array([1, 2, 4, 8]), n)
work = np.minimum(rng.lognormal(math.log(3 * b.HOUR), 1.0, n), 100 * b.HOUR)
jobs = engine.Jobs(submit_s=submit, chips=chips, work_s=work, power_w=np.full(n, b.BUSY_W), hardware=["tpu"] * n,
                   workload=np.zeros(n, np.int64), home=np.zeros(n, np.int64), policy=np.zeros(n, np.int64))
forecast = engine.Forecast(b.hourly_ciso(math.ceil(b.YEAR / b.HOUR) + 24 * 30)[None, :])
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
t = time.process_time()
run = engine.finish(fleet_compiled.simulate(jobs, [engine.Pool(0, "tpu", 10 * b.CHIPS, b.IDLE_W)],
                                            [engine.BASELINE], [forecast]))
cpu = time.process_time() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(n, cpu, peak, before, len(run.intervals["start_s"]), float(np.mean(run.job_queue_s > 0)))
"""


@pytest.mark.benchmark
def test_compiled_core(inputs):
    """The compiled core and the SimPy engine back to back on the same job table (identical runs), for the
    baseline and the 12 h window; then a 10^6-job year on the compiled core in a fresh process (CPU time
    and the process's peak memory, everything included: the job table, planning, loop, intervals)."""
    import subprocess
    import sys
    from pathlib import Path
    jobs, forecast = inputs
    lines = ["\n| case | SimPy engine CPU s | compiled CPU s | ratio (median of 3 pairs) |", "|---|---:|---:|---:|"]
    ratios = {}
    for name, policy in POLICIES.items():
        pairs = []
        for _ in range(3):
            t0 = time.process_time()
            ref = engine_run(jobs, policy, forecast)
            t1 = time.process_time()
            got = compiled_run(jobs, policy, forecast)
            t2 = time.process_time()
            pairs.append((t1 - t0, t2 - t1))
        for k in ("job_start_s", "job_end_s", "job_queue_s"):
            assert np.array_equal(getattr(ref, k), getattr(got, k), equal_nan=True)
        assert all(np.array_equal(ref.intervals[k], got.intervals[k]) for k in ref.intervals)
        ratio = float(np.median([a / b for a, b in pairs]))
        ratios[name] = ratio
        lines.append(f"| {len(jobs):,} jobs, {name} | {min(a for a, _ in pairs):.3f} | "
                     f"{min(b for _, b in pairs):.4f} | **{ratio:.1f}x** |")
    script = ONE_MILLION.format(bench=str(Path(__file__).resolve().parent))
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    n, cpu, peak, before = int(out[0]), float(out[1]), float(out[2]), float(out[3])
    lines.append(f"| {n:,} jobs, baseline, 2,800 chips | - | {cpu:.3f} | peak memory {peak:.0f} MB "
                 f"({before:.0f} MB before the run; {int(out[4]):,} intervals) |")
    print("\n".join(lines))
    assert ratios["baseline"] >= GOAL_RATIO and ratios["window"] >= GOAL_RATIO
    assert cpu < GOAL_1M_S and peak < GOAL_1M_MB
