"""Every built-in policy on a real trace and a real grid: 1,000 jobs of the Alibaba PAI trace as
published with GAIA (tests/data/traces/README.md, MIT) on California's 2022 hourly EIA-930 data.

With unlimited chips (GAIA's setting) and a perfect forecast, each rule's guarantees can be checked
job by job: no job starts before it is submitted or ends after its deadline, the work done is the
work asked for, and the exact planners never emit more than running at once (window: the run-now
start is a candidate; interruptible: any window plan is an interruptible plan, so it is never
worse than the window plan; carbon-time: a job waits only when that saves carbon).
"""
from pathlib import Path

import numpy as np
import pytest

import carbonsim

TRACE = Path(__file__).resolve().parent / "data" / "traces" / "pai_1k.csv"

POLICIES = {
    "none": "",
    "window": 'policy = { shift = "window", slack_hours = 12 }',
    "lowest-slot": 'policy = { shift = "lowest-slot", slack_hours = 12 }',
    "carbon-time": 'policy = { shift = "carbon-time", slack_hours = 12 }',
    "interruptible": 'policy = { shift = "interruptible", slack_hours = 12 }',
    "threshold": 'policy = { shift = "interruptible", interrupt = "threshold", threshold_percentile = 30, '
                 'slack_hours = 12 }',
    "spatial": 'policy = { placement = "lowest-carbon-mean", datacenters = ["california", "texas"], '
               'shift = "window", slack_hours = 12 }',
}


def scenario(tmp_path, policy: str) -> Path:
    f = tmp_path / f"pai-{abs(hash(policy))}.toml"
    f.write_text(f"""schema_version = 1
[scenario]
name = "pai"
start = 2022-06-01
[datacenters.california]
pue = 1.1
grid = "eia:CISO"
[datacenters.texas]
pue = 1.1
grid = "eia:ERCO"
[[workloads.job_stream]]
name = "pai"
hardware = "a100"
datacenter = "california"
power_w_per_chip = 300
trace = "{TRACE}"
{policy}
""")
    return f


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pai")
    return {k: carbonsim.run(str(scenario(tmp, p))) for k, p in POLICIES.items()}


def test_the_trace_is_read_as_published(results):
    j = results["none"].jobs
    assert len(j["submit_s"]) == 1000                                  # tests/data/traces/README.md
    assert j["chips"].min() == 1 and j["chips"].max() == 4


@pytest.mark.parametrize("name", sorted(POLICIES))
def test_every_job_runs_its_work_inside_its_window(results, name):
    r, base = results[name], results["none"]
    j = r.jobs
    assert np.all(np.isfinite(j["end_s"]))
    assert np.all(j["start_s"] >= j["submit_s"] - 1e-6)
    work = base.jobs["end_s"] - base.jobs["submit_s"]                  # unlimited chips: the baseline never waits
    assert np.all(j["wait_s"] == 0)
    if name != "none":
        assert np.all(j["end_s"] <= j["submit_s"] + work + 12 * 3600 + 1e-6)   # the deadline
    # the same work in chip-hours (no checkpoint overhead): the energy at the same PUE is the same
    assert r.totals.it_energy_kwh == pytest.approx(base.totals.it_energy_kwh, rel=1e-9)
    if name != "none":
        assert r.baseline.gross_co2e_kg == pytest.approx(base.totals.gross_co2e_kg, rel=1e-12)


def test_the_exact_planners_never_do_worse_than_running_now(results):
    base = results["none"].jobs["gross_kg"]
    for name in ("window", "carbon-time", "interruptible"):
        got = results[name].jobs["gross_kg"]
        assert np.all(got <= base * (1 + 1e-9) + 1e-12), name
    win, intr = results["window"].jobs["gross_kg"], results["interruptible"].jobs["gross_kg"]
    assert np.all(intr <= win * (1 + 1e-9) + 1e-12)
    # and on a real grid they save something
    assert results["interruptible"].totals.gross_co2e_kg < results["window"].totals.gross_co2e_kg \
        < results["none"].totals.gross_co2e_kg


def test_spatial_and_temporal_together_never_do_worse_than_temporal_alone(results):
    """Choosing the datacenter and the start jointly searches a superset of the window plans at home
    (same PUE): per job, never worse."""
    home, both = results["window"].jobs["gross_kg"], results["spatial"].jobs["gross_kg"]
    assert np.all(both <= home * (1 + 1e-9) + 1e-12)
    assert set(np.unique(results["spatial"].jobs["datacenter"]).tolist()) <= {0, 1}


def test_delays_to_first_start_and_to_completion(results):
    """For interruptible jobs the two differ: the first start may be now, the end hours later."""
    d = results["interruptible"].to_dict()
    q = d["workloads"][0]["queueing"]
    assert q["completion_delay_hours_mean"] >= q["delay_hours_mean"] - 1e-9
    assert q["completion_delay_hours_mean"] > 0
    assert d["policy"]["added_completion_delay_hours_mean"] == pytest.approx(q["completion_delay_hours_mean"], abs=1e-9)
    assert d["overload"] == []


def test_an_overloaded_pool_is_reported_in_warnings_and_json(tmp_path):
    """The trace on a pool of 4 chips: its jobs ask for several times the pool's chip-time over the
    week in which they are submitted, so queues grow without bound; the result says so rather than
    reporting a small added delay between two overloaded runs."""
    f = scenario(tmp_path, POLICIES["window"])
    f.write_text(f.read_text().replace('grid = "eia:CISO"\n', 'grid = "eia:CISO"\n'
                                       '[datacenters.california.pools.a100]\nchips = 4\n', 1))
    r = carbonsim.run(str(f))
    d = r.to_dict()
    runs = {o["run"]: o for o in d["overload"]}
    assert set(runs) == {"policy", "baseline"}
    for o in runs.values():
        assert o["pools"][0]["datacenter"] == "california" and o["pools"][0]["load"] > 1
        assert o["wait_hours_mean"] > 24 and o["ends_after_scenario_hours"] > 24
        assert o["message"] in d["warnings"]
    demand = float(r.jobs["chips"] @ (r.jobs["end_s"] - r.jobs["start_s"]))     # chip-seconds asked for
    period = float(r.jobs["submit_s"].max() - r.jobs["submit_s"].min())
    assert runs["baseline"]["pools"][0]["load"] == pytest.approx(demand / (4 * period), rel=1e-9)
