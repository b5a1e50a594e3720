"""The compiled fleet core (ext/_fleet.pyx, carbonsim.sim.fleet_compiled) against the SimPy engine it
replaces (carbonsim.sim.fleet), which stays the reference: on random fleets (pools limited and
unlimited, idle power, power-down, priorities, jobs up to and beyond their pool, submissions out of
order and tied, lengths across hour boundaries, every built-in policy with and without candidate
datacenters, estimated lengths, forecasts with seeded AR(1) errors), both engines give the same
intervals in the same order, the same job starts, ends, waits, placements and segments, and the same
pool accounting, bit for bit (np.array_equal, not a tolerance)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim.cli.main import main
from carbonsim.model.errors import SimulationError
from carbonsim.sim import _fleet, fleet
from carbonsim.sim import fleet_compiled as fc
from carbonsim.sim.forecast import IssuedForecast

ROOT = Path(__file__).resolve().parent.parent


def random_case(seed: int):
    rng = np.random.default_rng(seed)
    n_dc = int(rng.integers(1, 4))
    pools = []
    for d in range(n_dc):
        for h in ("a", "b")[: int(rng.integers(1, 3))]:
            chips = None if rng.random() < 0.25 else int(rng.integers(4, 40))
            pools.append(fleet.Pool(d, h, chips, float(rng.choice([0.0, 50.0])),
                                    None if rng.random() < 0.5 else float(rng.uniform(0, 7200))))
    n = int(rng.integers(1, 300))
    homes, hws, chips = [], [], []
    for _ in range(n):
        p = pools[int(rng.integers(len(pools)))]
        homes.append(p.datacenter)
        hws.append(p.hardware)
        chips.append(int(rng.integers(1, (p.chips if p.chips is not None else 64) + 1)))
    if rng.random() < 0.7:
        submit = np.sort(rng.uniform(0, 3 * 86400, n))
    else:                                    # many jobs submitted at the same times
        submit = np.round(rng.uniform(0, 86400, n) / 1800) * 1800
    if rng.random() < 0.5:
        submit = rng.permutation(submit)
    work = np.where(rng.random(n) < 0.5, rng.uniform(60, 4 * 3600, n), np.minimum(rng.lognormal(8.5, 1.2, n), 30 * 3600))
    if rng.random() < 0.3:                   # whole quarter hours: ends on hour boundaries, ties
        work = np.round(work / 900) * 900 + 900
    vals = rng.uniform(50, 600, (n_dc, 24 * 8))
    cands = tuple(range(n_dc))
    policies = [fleet.BASELINE]
    for shift in ("window", "lowest-slot", "carbon-time", "interruptible"):
        for placement in ("fixed", "lowest-carbon-mean"):
            policies.append(fleet.Policy(placement=placement, candidates=cands if placement != "fixed" else (),
                                         shift=shift, slack_s=float(rng.uniform(0.5, 12)) * 3600,
                                         checkpoint_overhead_s=float(rng.choice([0.0, 300.0]))))
    policies.append(fleet.Policy(shift="interruptible", interrupt="threshold", threshold_percentile=30.0,
                                 slack_s=6 * 3600.0))
    policies.append(fleet.Policy(shift="interruptible", interrupt="threshold", threshold_g=300.0, slack_s=8 * 3600.0))
    policies.append(fleet.Policy(placement="lowest-carbon-now", candidates=cands))
    policies.append(fleet.Policy(shift="window", slack_s=5 * 3600.0, length_known="mean"))
    policies.append(fleet.Policy(shift="interruptible", slack_s=5 * 3600.0, length_known="distribution",
                                 checkpoint_overhead_s=120.0))
    jobs = fleet.Jobs(submit_s=submit, chips=np.array(chips), work_s=work, power_w=rng.uniform(100, 400, n),
                      hardware=hws, workload=rng.integers(0, 3, n), home=np.array(homes),
                      policy=rng.integers(0, len(policies), n), priority=rng.integers(0, 3, n),
                      plan_work_s=work * rng.uniform(0.5, 1.5, n))
    base = fleet.Forecast(vals)
    forecasts = [base] * len(policies)
    if rng.random() < 0.3:
        issued = IssuedForecast(vals, "ar1", sigma=0.3, phi=0.8, seed=seed, max_lead_hours=60)
        forecasts = [issued if rng.random() < 0.5 else base for _ in policies]
    t_start = float(rng.uniform(0, submit.min())) if rng.random() < 0.5 else 0.0
    return jobs, pools, policies, forecasts, t_start


def assert_identical(a: fleet.EngineRun, b: fleet.EngineRun):
    horizon = max(a.t_end, b.t_end)
    fleet.finish(a, horizon)
    fleet.finish(b, horizon)
    for k in ("job_start_s", "job_end_s", "job_queue_s", "job_datacenter", "job_segments", "deadline_s",
              "pool_busy_chip_s", "pool_idle_chip_s", "pool_off_chip_s"):
        assert np.array_equal(getattr(a, k), getattr(b, k), equal_nan=True), k
    assert a.intervals.keys() == b.intervals.keys()
    for k in a.intervals:
        assert a.intervals[k].dtype == b.intervals[k].dtype, k
        assert np.array_equal(a.intervals[k], b.intervals[k]), k
    assert a.t_end == b.t_end


def _check(seed: int):
    jobs, pools, policies, forecasts, t_start = random_case(seed)
    for baseline in (False, True):
        ref = fleet.simulate(jobs, pools, policies, forecasts, t_start=t_start, baseline=baseline)
        got = fc.simulate(jobs, pools, policies, forecasts, t_start=t_start, baseline=baseline)
        assert_identical(ref, got)


@pytest.mark.parametrize("seed", range(150))
def test_the_compiled_core_equals_simpy_on_random_fleets(seed):
    _check(seed)


@pytest.mark.slow
def test_the_compiled_core_equals_simpy_on_many_random_fleets():
    for seed in range(150, 2150):
        _check(seed)


def test_the_compiled_planners_equal_the_python_planners():
    """Window, lowest-slot and carbon-time over a fixed table, with and without candidates, including
    plans that reach past the table (the held step function) and releases on hour boundaries."""
    rng = np.random.default_rng(1)
    for trial in range(300):
        n_dc, n_h = int(rng.integers(1, 4)), int(rng.integers(2, 60))
        vals = rng.choice([rng.uniform(0, 500, (n_dc, n_h)), np.round(rng.uniform(0, 5, (n_dc, n_h))) * 100])
        f = fleet.Forecast(vals)
        pools_by_key = {(d, "x"): d for d in range(n_dc)}
        for shift, kind in (("window", 1), ("lowest-slot", 2), ("carbon-time", 3)):
            pol = fleet.Policy(shift=shift, slack_s=float(rng.uniform(0, 30)) * 3600,
                               placement="fixed" if rng.random() < 0.5 else "lowest-carbon-mean",
                               candidates=tuple(range(n_dc)))
            n = 20
            release = np.where(rng.random(n) < 0.3, np.floor(rng.uniform(0, n_h, n)) * 3600,
                               rng.uniform(0, n_h * 3600 * 1.2, n))
            length = np.where(rng.random(n) < 0.3, np.floor(rng.uniform(1, 8, n)) * 3600, rng.uniform(1, 40000, n))
            home = rng.integers(0, n_dc, n)
            ptr, flat = fc._candidate_table(pol, home, np.zeros(n, np.int64), ["x"], pools_by_key)
            out_dc, out_start = np.zeros(n, np.int64), np.zeros(n)
            _fleet.plan_shifted(kind, np.arange(n, dtype=np.int64), release, length, home.astype(np.int64), ptr, flat,
                                pol.slack_s, f.values, f.prefix, out_dc, out_start)
            for i in range(n):
                d, segs = fleet.plan(pol, float(release[i]), float(length[i]), int(home[i]), "x", f, pools_by_key)
                assert (out_dc[i], out_start[i]) == (d, segs[0][0]), (trial, shift, i)


def test_the_core_reports_a_broken_invariant_instead_of_crashing():
    jobs, pools, policies, forecasts, _ = random_case(3)
    n = len(jobs)
    args = dict(order=np.arange(n, dtype=np.int64), submit=np.asarray(jobs.submit_s, float),
                chips=np.asarray(jobs.chips, np.int64), prio=np.zeros(n, np.int64), pool_of=np.zeros(n, np.int32),
                watts=np.ones(n), workload=np.zeros(n, np.int32), dc_of=np.zeros(n, np.int32),
                seg_ptr=np.arange(n + 1, dtype=np.int64), seg_start=np.asarray(jobs.submit_s, float),
                seg_len=np.asarray(jobs.work_s, float))
    pool = dict(limited=np.zeros(1, np.int8), capacity=np.array([np.inf]), idle_w=np.zeros(1),
                timeout=np.array([np.inf]), pool_dc=np.zeros(1, np.int32))
    out = dict(start=np.empty(n), end=np.empty(n), queued=np.zeros(n), nseg=np.zeros(n, np.int64))
    err, log, _, _ = _fleet.run_fleet(*args.values(), *pool.values(), 0.0, *out.values())
    assert err == 0 and len(log["start_s"]) == n
    args["seg_len"] = args["seg_len"].copy()
    args["seg_len"][1] = np.nan
    assert _fleet.run_fleet(*args.values(), *pool.values(), 0.0, *out.values())[0] == 2
    args["seg_len"][1] = -1.0
    assert _fleet.run_fleet(*args.values(), *pool.values(), 0.0, *out.values())[0] == 2
    args["seg_len"][1] = 1.0
    args["pool_of"] = args["pool_of"].copy()
    args["pool_of"][0] = 5                  # no such pool
    assert _fleet.run_fleet(*args.values(), *pool.values(), 0.0, *out.values())[0] == 3
    with pytest.raises(ValueError, match="inconsistent lengths"):
        _fleet.run_fleet(*args.values(), *pool.values(), 0.0, np.empty(n + 1), *list(out.values())[1:])


SHIPPED = sorted(p.name for p in (ROOT / "scenarios").glob("*.toml"))


@pytest.mark.parametrize("name", SHIPPED)
def test_every_shipped_scenario_gives_the_same_result_on_both_engines(name):
    path = str(ROOT / "scenarios" / name)
    simpy = carbonsim.run(path, engine="simpy")
    auto = carbonsim.run(path, engine="auto")
    a, b = simpy.to_dict(), auto.to_dict()
    assert a["provenance"].pop("engine") == "simpy"
    assert b["provenance"].pop("engine") in ("compiled", "simpy")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def test_auto_uses_the_compiled_core_whenever_it_can():
    assert carbonsim.run(str(ROOT / "scenarios" / "carbon-aware-training.toml")).engine == "compiled"
    # a search's trials run under a concurrency limit: SimPy
    assert carbonsim.run(str(ROOT / "scenarios" / "nas-proxy-vs-full.toml")).engine == "simpy"


def test_engine_choice_from_the_file_and_the_command_line(tmp_path, capsys):
    text = (ROOT / "scenarios" / "carbon-aware-training.toml").read_text()
    f = tmp_path / "s.toml"
    f.write_text(text.replace('seed = 2022', 'seed = 2022\nengine = "simpy"'))
    assert main(["run", str(f), "--format", "json", "--no-progress"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["engine"] == "simpy"
    assert main(["run", str(f), "--format", "json", "--no-progress", "--engine", "compiled"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["engine"] == "compiled"
    f.write_text(text.replace('seed = 2022', 'seed = 2022\nengine = "fast"'))
    assert main(["validate", str(f)]) == 2
    assert "scenario.engine" in capsys.readouterr().err


def test_compiled_on_a_scenario_it_cannot_run_is_a_clear_error(capsys):
    path = str(ROOT / "scenarios" / "nas-proxy-vs-full.toml")
    assert main(["run", path, "--engine", "compiled", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "the compiled fleet core cannot run jobs with a concurrency limit" in err and '"simpy"' in err
    assert len(err.strip().splitlines()) == 1


def test_the_engine_does_not_change_a_study(tmp_path):
    """`carbonsim mc` on the shipped study with schedule-changing inputs: the same numbers on either engine
    (the engine is a run option, not part of the scenario's hash)."""
    path = str(ROOT / "scenarios" / "uncertainty-lifecycle.toml")
    outs = {}
    for engine in ("simpy", "compiled"):
        out = tmp_path / f"{engine}.json"
        proc = subprocess.run([sys.executable, "-m", "carbonsim", "mc", path, "-n", "4", "--format", "json",
                               "-o", str(out), "--no-progress", "--engine", engine, "--workers", "1"],
                              capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        d = json.loads(out.read_text())
        outs[engine] = (d["scenario"]["sha256"], d["totals"], d["uncertainty"]["totals"], d["uncertainty"]["workloads"])
    assert outs["simpy"] == outs["compiled"]


@pytest.mark.slow
def test_a_debug_build_with_bounds_checks_runs_the_differential_cases(tmp_path):
    """CARBONSIM_DEBUG_KERNELS=1 builds the core with bounds and wrap-around checks: a subset of the random
    cases runs on that build, in a fresh process, identical to SimPy."""
    build = tmp_path / "build"
    env = {**os.environ, "CARBONSIM_DEBUG_KERNELS": "1"}
    proc = subprocess.run([sys.executable, "setup.py", "build_ext", "--build-lib", str(build), "--build-temp",
                           str(tmp_path / "tmp")], cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    so = next(build.rglob("_fleet*.so"))
    script = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("carbonsim.sim._fleet", {str(so)!r})
mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
import carbonsim.sim._fleet
sys.modules["carbonsim.sim._fleet"] = mod
import carbonsim.sim.fleet_compiled as fc
fc._fleet = mod
sys.path.insert(0, {str(ROOT / 'tests')!r})
import test_fleet_compiled as t
for seed in range(40):
    t._check(seed)
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=1800)
    assert run.returncode == 0 and "ok" in run.stdout, run.stderr[-2000:]
