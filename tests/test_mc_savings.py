"""What a policy saves, under uncertainty (`carbonsim mc`): the baseline, gross / net CO2e saved, the
share saved and the added delays, per workload with a policy and overall, with intervals and
Sobol' indices; proved against full runs of each sample on the fast path and on re-runs."""
from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from carbonsim import resolve
from carbonsim.cli.main import main
from carbonsim.sim.simulate import run as run_resolved
from carbonsim.studies import montecarlo as mc
from carbonsim.studies.reweight import SAVINGS_METRICS, outputs_of

DOC = {
    "schema_version": 1,
    "scenario": {"name": "mc-savings", "seed": 5, "start": "2022-06-01T00:00:00Z", "end": "2022-06-08T00:00:00Z"},
    "hardware": {"gpu": {"base": "a100", "system_power_w": 300.0, "idle_w": 50.0, "embodied_kgco2e": 150.0}},
    "datacenters": {
        "cal": {"pue": 1.1, "grid": "eia:CISO", "pools": {"gpu": {"chips": 32}}},
        "tex": {"pue": 1.2, "grid": "eia:ERCO", "pools": {"gpu": {"chips": 32}}},
    },
    "workloads": {"job_stream": [
        {"name": "shifted", "hardware": "gpu", "datacenter": "cal", "rate_per_day": 8.0, "chips": 2,
         "duration_hours": {"dist": "uniform", "low": 1.0, "high": 5.0},
         "policy": {"shift": "window", "slack_hours": 12.0}},
        {"name": "moved", "hardware": "gpu", "datacenter": "tex", "rate_per_day": 4.0, "chips": 4,
         "duration_hours": 3.0, "power_w_per_chip": 280.0,
         "policy": {"placement": "lowest-carbon-mean", "datacenters": ["cal", "tex"],
                    "shift": "interruptible", "slack_hours": 6.0}},
        {"name": "plain", "hardware": "gpu", "datacenter": "cal", "rate_per_day": 3.0, "chips": 1,
         "duration_hours": 2.0},
    ]},
}

REWEIGHTED = {
    ("datacenters", "cal", "pue"): {"dist": "uniform", "low": 1.05, "high": 1.3},
    ("workloads", "job_stream", 1, "power_w_per_chip"): {"dist": "uniform", "low": 200.0, "high": 350.0},
    ("hardware", "gpu", "idle_w"): {"dist": "uniform", "low": 30.0, "high": 70.0},
    ("hardware", "gpu", "embodied_kgco2e"): {"dist": "uniform", "low": 100.0, "high": 200.0},
}


def doc_with(inputs: dict) -> dict:
    from carbonsim.model import uncertain as unc
    d = copy.deepcopy(DOC)
    for loc, dist in inputs.items():
        unc.set_at(d, loc, copy.deepcopy(dist))
    return d


def assert_equal_to_full_runs(r: mc.UncertaintyResult):
    for i in range(r.n):
        full = outputs_of(run_resolved(resolve(r.scenario.document_at(r.inputs[i]))), r.layout)
        fast = r.values[i]
        scale = np.maximum(np.abs(full), 1e-12 * np.nanmax(np.abs(full)))
        ok = (np.abs(fast - full) <= 1e-9 * scale) | (np.isnan(fast) & np.isnan(full))
        assert ok.all(), [(r.layout.describe(k), fast[k], full[k]) for k in np.flatnonzero(~ok)[:5]]


def test_savings_on_the_fast_path_equal_full_runs():
    """Power, PUE, idle power and embodied carbon re-weight one engine run (its policy run and its
    baseline run): every sample's savings equal a full run of that sample to 1e-9."""
    r = mc.monte_carlo(doc_with(REWEIGHTED), samples=6, method="random", seed=2, verify=0, workers=1)
    assert r.engine_runs == 1
    assert r.layout.policies == ("shifted", "moved")
    assert_equal_to_full_runs(r)
    saved = r.samples("net_co2e_saved_kg")
    assert np.all(saved > 0)                 # exact planners on a perfect forecast, real grids


def test_savings_on_re_runs_equal_full_runs():
    """The grid scale changes what the policies see: every sample re-runs the engine."""
    inputs = {("datacenters", "tex", "grid_scale"): {"dist": "uniform", "low": 0.5, "high": 1.5}}
    r = mc.monte_carlo(doc_with(inputs), samples=4, method="random", seed=2, verify=0, workers=1)
    assert r.engine_runs == 4
    assert_equal_to_full_runs(r)


def test_common_random_numbers_make_the_share_saved_exact_under_a_common_factor():
    """Each sample's baseline runs the same jobs on the same draws as its policy run, so an input that
    scales both alike (the PUE of the only datacenter of a workload) leaves the share saved unchanged:
    its spread is 0 while the kg saved spread with the PUE."""
    d = doc_with({("datacenters", "cal", "pue"): {"dist": "uniform", "low": 1.05, "high": 1.5}})
    d["workloads"]["job_stream"] = [d["workloads"]["job_stream"][0]]
    del d["datacenters"]["tex"]
    r = mc.monte_carlo(d, samples=16, seed=4, workers=1)
    pct = r.samples("gross_co2e_saved_pct", workload="shifted")
    assert np.ptp(pct) <= 1e-9 * abs(pct.mean())
    assert r.stats("gross_co2e_saved_kg")["std"] > 0
    assert r.stats("added_delay_hours")["std"] == 0


TOML = """schema_version = 1
[scenario]
name = "mc-savings"
seed = 5
start = 2022-06-01
end = 2022-06-08
[datacenters.cal]
pue = { dist = "uniform", low = 1.05, high = 1.3 }
grid = "eia:CISO"
[datacenters.cal.pools.a100]
chips = 32
[datacenters.tex]
pue = 1.2
grid = "eia:ERCO"
grid_scale = { dist = "uniform", low = 0.5, high = 1.5 }
[datacenters.tex.pools.a100]
chips = 32
[[workloads.job_stream]]
name = "shifted"
hardware = "a100"
datacenter = "cal"
rate_per_day = 8
chips = 2
duration_hours = { dist = "uniform", low = 1, high = 5 }
power_w_per_chip = 300
policy = { shift = "window", slack_hours = 12 }
[[workloads.job_stream]]
name = "moved"
hardware = "a100"
datacenter = "tex"
rate_per_day = 4
chips = 4
duration_hours = 3
power_w_per_chip = 280
policy = { placement = "lowest-carbon-mean", datacenters = ["cal", "tex"], shift = "interruptible", slack_hours = 6 }
"""


def test_savings_in_the_json_with_intervals_and_sobol_indices(tmp_path, capsys):
    f = tmp_path / "s.toml"
    f.write_text(TOML)
    assert main(["mc", str(f), "-n", "8", "--sensitivity", "--format", "json", "--no-progress",
                 "--workers", "1"]) == 0
    doc = json.loads(capsys.readouterr().out, parse_constant=lambda c: pytest.fail(f"{c} in JSON"))
    sv = doc["uncertainty"]["savings"]
    assert set(sv["totals"]) == set(SAVINGS_METRICS) and set(sv["workloads"]) == {"shifted", "moved"}
    t = sv["totals"]["net_co2e_saved_kg"]
    assert t["percentiles"]["5"] <= t["median"] <= t["percentiles"]["95"]
    sens = sv["sensitivity"]
    assert sens["output"] == "net_co2e_saved_kg" and {i["path"] for i in sens["inputs"]} == {
        "datacenters.tex.grid_scale", "datacenters.cal.pue"}
    # the table says it too
    assert main(["mc", str(f), "-n", "8", "--no-progress", "--workers", "1"]) == 0
    out = capsys.readouterr().out
    assert "saved" in out and "added delay" in out


def test_a_baseline_that_emits_nothing_gives_a_null_share(tmp_path, capsys):
    d = copy.deepcopy(DOC)
    for dc in d["datacenters"].values():
        dc.pop("grid")
        dc["grid_intensity_gco2e_per_kwh"] = 0.0
    d["datacenters"]["cal"]["pue"] = {"dist": "uniform", "low": 1.05, "high": 1.3}
    r = mc.monte_carlo(d, samples=4, seed=1, workers=1)
    s = r.stats("gross_co2e_saved_pct")
    assert s["mean"] is None and s["undefined_samples"] == 4 and "baseline" in s["reason"]
    assert r.stats("gross_co2e_saved_kg")["mean"] == 0
    json.dumps(r.to_dict(), allow_nan=False)       # valid JSON: no NaN anywhere


FAMILIES_TOML = """schema_version = 1
[scenario]
name = "families"
seed = 9
start = 2022-06-01
end = 2022-06-05
[datacenters.cal]
pue = 1.1
grid = "eia:CISO"
grid_scale = { dist = "uniform", low = 0.8, high = 1.2 }
[datacenters.tex]
pue = 1.1
grid = "eia:ERCO"
"""
FAMILIES = [
    '{ shift = "lowest-slot", slack_hours = 8 }',
    '{ shift = "carbon-time", slack_hours = 8, forecast = "persistence" }',
    '{ shift = "interruptible", interrupt = "threshold", threshold_percentile = 30, slack_hours = 8, '
    'forecast_error = 0.2, forecast_error_model = "ar1" }',
    '{ shift = "window", slack_hours = 8, length_known = "distribution", forecast = "day-ahead-mean" }',
    '{ placement = "lowest-carbon-mean", datacenters = ["cal", "tex"], shift = "interruptible", slack_hours = 8, '
    'checkpoint_overhead_minutes = 5, forecast_error = 0.3 }',
]


def families_file(tmp_path):
    text = FAMILIES_TOML
    for k, policy in enumerate(FAMILIES):
        text += f"""[[workloads.job_stream]]
name = "w{k}"
hardware = "a100"
datacenter = "cal"
rate_per_day = 6
chips = 2
duration_hours = {{ dist = "lognormal", median = 2, sigma = 0.6, high = 12 }}
power_w_per_chip = 300
policy = {policy}
"""
    f = tmp_path / "families.toml"
    f.write_text(text)
    return f


def _mc_json(f, *extra):
    import subprocess
    import sys
    out = f.parent / f"out{abs(hash(extra))}.json"
    proc = subprocess.run([sys.executable, "-m", "carbonsim", "mc", str(f), "-n", "8", "--seed", "2", "--format",
                           "json", "-o", str(out), "--no-progress", *extra], capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr
    d = json.loads(out.read_text())["uncertainty"]
    return json.dumps([d["totals"], d["workloads"], d["savings"]], sort_keys=True)


def test_every_policy_family_gives_the_same_study_for_any_worker_count(tmp_path):
    """The published families, data-made and AR(1) forecasts and estimated lengths, run from a file in
    `carbonsim mc`: 1 and 2 worker processes give identical numbers."""
    f = families_file(tmp_path)
    assert _mc_json(f, "--workers", "1") == _mc_json(f, "--workers", "2")


@pytest.mark.slow
def test_every_policy_family_gives_the_same_study_on_dask(tmp_path):
    pytest.importorskip("dask.distributed")
    f = families_file(tmp_path)
    assert _mc_json(f, "--workers", "1") == _mc_json(f, "--dask", "local", "--workers", "2")
