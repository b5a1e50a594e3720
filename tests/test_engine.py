"""The fleet engine: queueing theory, hand-computed schedules, conservation,
determinism, policy correctness and bad input."""
import math

import numpy as np
import pytest

import carbonsim
from carbonsim.sim import fleet as engine

HOUR = 3600.0


def erlang_c_wait(lam: float, mu: float, c: int) -> float:
    """Mean wait in queue of an M/M/c queue (Erlang C)."""
    a = lam / mu
    rho = a / c
    top = a ** c / math.factorial(c) / (1 - rho)
    p_wait = top / (sum(a ** k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def mmc(n, lam, mu, c, seed):
    rng = np.random.default_rng(seed)
    submit = np.cumsum(rng.exponential(1 / lam, n))
    work = rng.exponential(1 / mu, n)
    jobs = engine.Jobs(submit_s=submit, chips=np.ones(n, int), work_s=work, power_w=np.full(n, 100.0),
                       hardware=["x"] * n, workload=np.zeros(n, int), home=np.zeros(n, int), policy=np.zeros(n, int))
    fc = engine.Forecast(np.full((1, int(submit[-1] / HOUR) + 1000), 300.0))
    return engine.finish(engine.simulate(jobs, [engine.Pool(0, "x", c, 50.0)], [engine.BASELINE], [fc]))


def test_mmc_queue_matches_erlang_c():
    lam, mu, c = 3 / HOUR, 1 / HOUR, 4          # utilisation 0.75
    waits = [mmc(40_000, lam, mu, c, seed).job_queue_s.mean() for seed in range(3)]
    expected = erlang_c_wait(lam, mu, c)         # 0.509 h
    assert np.mean(waits) == pytest.approx(expected, rel=0.08)


@pytest.mark.slow
def test_mmc_queue_matches_erlang_c_tightly():
    lam, mu, c = 7 / HOUR, 1 / HOUR, 8
    waits = [mmc(200_000, lam, mu, c, seed).job_queue_s.mean() for seed in range(5)]
    assert np.mean(waits) == pytest.approx(erlang_c_wait(lam, mu, c), rel=0.03)


def scenario_with_pool(chips=4, idle=50.0, end=None, **pool):
    s = carbonsim.Scenario("hand", start="2024-01-01T00:00:00Z", end=end)
    s.add_datacenter("dc", pue=1.5, grid_intensity_gco2e_per_kwh=200)
    s.add_hardware("chip", system_power_w=100.0, tdp_w=120.0, embodied_kgco2e=0.0)
    s.add_pool("dc", "chip", chips=chips, idle_w_per_chip=idle, **pool)
    return s


def test_hand_computed_schedule_with_queueing_and_idle_power():
    # 4 chips, idle 50 W, busy 100 W per chip, PUE 1.5, 200 g/kWh, horizon 4 h.
    # A: 2 chips, 0-2 h.  B: 4 chips submitted at 1 h, waits for A, runs 2-3 h.
    s = scenario_with_pool(end="2024-01-01T04:00:00Z")
    s.add_training_run("A", hardware="chip", chips=2, datacenter="dc", start="2024-01-01T00:00:00Z", duration_hours=2)
    s.add_training_run("B", hardware="chip", chips=4, datacenter="dc", start="2024-01-01T01:00:00Z", duration_hours=1)
    r = s.run()
    a, b = r.workload("A"), r.workload("B")
    assert a.it_energy_kwh == pytest.approx(2 * 100 * 2 / 1000)             # 0.4 kWh
    assert b.it_energy_kwh == pytest.approx(4 * 100 * 1 / 1000)             # 0.4 kWh
    assert b.queue_wait_h_mean == pytest.approx(1.0)
    assert b.start.hour == 2 and b.end.hour == 3
    # idle: 2 chips x 2 h (0-2) + 0 (2-3) + 4 chips x 1 h (3-4) = 8 chip-hours x 50 W = 0.4 kWh
    dc = r.datacenter("dc")
    assert dc.idle.it_energy_kwh == pytest.approx(0.4)
    assert dc.idle.energy_kwh == pytest.approx(0.6)
    assert dc.idle.gross_co2e_kg == pytest.approx(0.6 * 0.2)
    assert r.totals.energy_kwh == pytest.approx((0.4 + 0.4 + 0.4) * 1.5)
    pool = dc.pools[0]
    assert pool.busy_chip_hours == pytest.approx(8.0) and pool.idle_chip_hours == pytest.approx(8.0)
    assert pool.utilization == pytest.approx(0.5)


def test_power_down_after_timeout():
    # one 1-chip job 0-1 h in a 2-chip pool, horizon 5 h, power down after 60 min:
    # chip 1 idles 0-1 h (then off), chip 0 idles 1-2 h after the job (then off) -> 2 chip-hours idle
    s = scenario_with_pool(chips=2, end="2024-01-01T05:00:00Z", power_down_after_minutes=60)
    s.add_training_run("A", hardware="chip", chips=1, datacenter="dc", duration_hours=1)
    r = s.run()
    pool = r.datacenter("dc").pools[0]
    assert pool.idle_chip_hours == pytest.approx(2.0)
    assert pool.off_chip_hours == pytest.approx(10 - 1 - 2.0)
    assert r.datacenter("dc").idle.it_energy_kwh == pytest.approx(2 * 50 / 1000)


def stream_scenario(seed=0, policy=None, grid="eia:CISO", rate=30.0, chips=64):
    """chips=None: unlimited capacity (no queueing, no idle power)."""
    s = carbonsim.Scenario("stream", seed=seed, start="2022-03-01", end="2022-04-01")
    s.add_datacenter("cal", pue=1.1, grid=grid)
    s.add_datacenter("ore", pue=1.1, grid="eia:BPAT")
    if chips is not None:
        s.add_pool("cal", "v100", chips=chips, idle_w_per_chip=60.0)
        s.add_pool("ore", "v100", chips=chips, idle_w_per_chip=60.0)
    s.add_job_stream("jobs", hardware="v100", datacenter="cal", rate_per_day=rate,
                     chips={"dist": "choice", "values": [1, 2, 4, 8]},
                     duration_hours={"dist": "lognormal", "median": 3.0, "sigma": 1.0, "high": 100.0},
                     policy=policy)
    return s


def test_conservation_busy_plus_idle_is_capacity_times_time():
    r = stream_scenario().run()
    horizon_h = (r.workload("jobs").end - r.scenario.start).total_seconds() / 3600
    horizon_h = max(horizon_h, (r.scenario.end - r.scenario.start).total_seconds() / 3600)
    for d in r.datacenters:
        for p in d.pools:
            assert p.busy_chip_hours + p.idle_chip_hours + p.off_chip_hours == pytest.approx(p.chips * horizon_h)
    # energy = busy chip-hours x 325 W + idle chip-hours x 60 W (IT), then x PUE
    busy = sum(p.busy_chip_hours for d in r.datacenters for p in d.pools)
    idle = sum(p.idle_chip_hours for d in r.datacenters for p in d.pools)
    assert r.totals.it_energy_kwh == pytest.approx((busy * 325 + idle * 60) / 1000, rel=1e-9)
    assert r.totals.energy_kwh == pytest.approx(r.totals.it_energy_kwh * 1.1, rel=1e-12)


def test_same_seed_same_result_different_seed_different():
    a = stream_scenario(seed=3).run().to_dict()
    b = stream_scenario(seed=3).run().to_dict()
    c = stream_scenario(seed=4).run().to_dict()
    assert a["totals"] == b["totals"] and a["workloads"] == b["workloads"]
    assert a["totals"] != c["totals"]


def test_window_shift_starts_inside_the_window_and_saves_carbon():
    policy = {"shift": "window", "slack_hours": 12}
    s = stream_scenario(policy=policy, rate=10, chips=None)   # unlimited capacity: no queueing
    r = s.run()
    run_info = r.to_dict()["policy"]
    assert run_info["savings"]["co2e_kg"]["gross"] > 0          # CISO's midday solar dip is worth waiting for
    w = r.workload("jobs")
    assert 0 <= w.delay_h_mean <= 12 and w.deadline_misses == 0
    assert run_info["added_delay_hours_mean"] > 0


def test_shifted_jobs_never_start_outside_their_window():
    # straight at the engine: every job's first start lies in [submit, submit + slack]
    rng = np.random.default_rng(5)
    n = 300
    submit = np.sort(rng.uniform(0, 200 * HOUR, n))
    work = rng.uniform(0.2, 6, n) * HOUR
    values = 300 + 200 * np.sin(np.arange(400) * 2 * np.pi / 24)[None, :]
    fc = engine.Forecast(values)
    for shift in ("window", "interruptible"):
        pol = engine.Policy(shift=shift, slack_s=10 * HOUR, checkpoint_overhead_s=300.0)
        jobs = engine.Jobs(submit_s=submit, chips=np.ones(n, int), work_s=work, power_w=np.full(n, 1.0),
                           hardware=["x"] * n, workload=np.zeros(n, int), home=np.zeros(n, int),
                           policy=np.zeros(n, int))
        run = engine.finish(engine.simulate(jobs, [engine.Pool(0, "x", None)], [pol], [fc]))
        assert np.all(run.job_start_s >= submit - 1e-9)
        assert np.all(run.job_start_s <= submit + 10 * HOUR + 1e-9)
        assert np.all(run.job_end_s <= submit + work + 10 * HOUR + 1e-6)   # no contention: deadlines hold
        iv = run.intervals
        busy = iv["end_s"] - iv["start_s"]
        # all work is done: run time = work + one overhead per resumption
        total_run = busy.sum()
        expected = work.sum() + 300.0 * (run.job_segments - 1).sum()
        assert total_run == pytest.approx(expected, rel=1e-9)
        assert np.all(np.isfinite(run.job_end_s))
        if shift == "interruptible":
            assert (run.job_segments > 1).any()


def test_interruptible_threshold_runs_only_in_clean_hours_unless_deadline_forces():
    values = np.tile(np.r_[np.full(12, 100.0), np.full(12, 500.0)], 5)[None, :]   # clean mornings
    fc = engine.Forecast(values)
    pol = engine.Policy(shift="interruptible", slack_s=48 * HOUR, interrupt="threshold", threshold_g=200.0)
    segs = engine.plan(pol, 0.0, 20 * HOUR, 0, "x", fc, {(0, "x"): 0})[1]
    for start, length in segs:
        h0, h1 = int(start // HOUR), int(math.ceil((start + length) / HOUR))
        assert np.all(values[0, h0:h1] <= 200.0)
    assert sum(length for _, length in segs) == pytest.approx(20 * HOUR)


def test_lowest_carbon_placement_picks_the_cleaner_region():
    r = stream_scenario(policy={"placement": "lowest-carbon-mean", "datacenters": ["cal", "ore"]},
                        chips=None).run()
    w = r.workload("jobs")
    assert w.placements.get("ore", 0) > 0.9 * w.jobs      # BPAT (hydro) is far cleaner than CISO
    assert r.to_dict()["policy"]["savings"]["co2e_kg"]["gross"] > 0


def test_search_parallelism_early_stopping_and_final_training():
    s = carbonsim.Scenario("nas", start="2024-01-01")
    s.add_datacenter("dc", pue=1.0, grid_intensity_gco2e_per_kwh=100)
    s.add_search("search", hardware="v100", datacenter="dc", trials=10, chips_per_trial=2, trial_duration_hours=3,
                 parallelism=4, early_stopping_fraction=0.5, early_stopped_length=0.5,
                 final_training={"name": "final", "hardware": "v100", "chips": 8, "datacenter": "dc",
                                 "duration_hours": 10})
    r = s.run()
    se, final = r.workload("search"), r.workload("final")
    # 5 full trials x 3 h + 5 stopped x 1.5 h, 2 chips each, 325 W per chip
    assert se.chip_hours == pytest.approx(2 * (5 * 3 + 5 * 1.5))
    assert se.it_energy_kwh == pytest.approx(se.chip_hours * 0.325)
    assert se.phase == "experimentation" and final.phase == "training"
    assert final.start >= se.end                               # starts when every trial is done
    assert final.it_energy_kwh == pytest.approx(8 * 10 * 0.325)
    phases = r.to_dict()["phases"]
    assert phases["experimentation"]["share"] + phases["training"]["share"] == pytest.approx(1.0)


def test_job_larger_than_every_pool_is_a_parse_error():
    s = scenario_with_pool(chips=4)
    s.add_training_run("big", hardware="chip", chips=8, datacenter="dc", duration_hours=1)
    with pytest.raises(carbonsim.ScenarioError, match=r"workloads.training\[0\].chips: a job of 8 chips can never fit"):
        s.validate()


def test_unbounded_chips_distribution_needs_a_max():
    s = scenario_with_pool(chips=4, end="2024-02-01")
    s.add_job_stream("jobs", hardware="chip", datacenter="dc", rate_per_day=5, duration_hours=1,
                     chips={"dist": "exponential", "mean": 2})
    with pytest.raises(carbonsim.ScenarioError, match="can never fit"):
        s.validate()


def test_missing_pool_and_idle_power_are_parse_errors():
    s = carbonsim.Scenario("x")
    s.add_datacenter("dc", pue=1.1, grid_intensity_gco2e_per_kwh=100)
    s.add_pool("dc", "v100", chips=8)     # V100 has no published idle power
    with pytest.raises(carbonsim.ScenarioError, match="no published idle power for v100"):
        s.validate()


def test_trace_stream(tmp_path):
    trace = tmp_path / "jobs.csv"
    trace.write_text("submit,chips,duration_hours\n2024-01-01T00:00:00Z,2,1\n2024-01-01T00:30:00Z,4,2\n")
    doc = {"schema_version": 1, "scenario": {"name": "t", "start": "2024-01-01"},
           "datacenters": {"dc": {"pue": 1.0, "grid_intensity_gco2e_per_kwh": 100}},
           "workloads": {"job_stream": [{"name": "trace", "hardware": "v100", "datacenter": "dc",
                                         "trace": "jobs.csv"}]}}
    r = carbonsim.resolve(doc, source=str(tmp_path / "s.toml"))
    from carbonsim.sim.simulate import run
    res = run(r)
    assert res.workload("trace").jobs == 2
    assert res.workload("trace").it_energy_kwh == pytest.approx((2 * 1 + 4 * 2) * 0.325)
    trace.write_text("submit,chips,duration_hours\n2024-01-01T00:00:00Z,two,1\n")
    with pytest.raises(carbonsim.ScenarioError, match="jobs.csv:2: bad row"):
        carbonsim.resolve(doc, source=str(tmp_path / "s.toml"))
