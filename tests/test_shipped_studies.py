"""The example studies shipped in scenarios/ say what they claim."""
from pathlib import Path

import pytest

import carbonsim

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def test_nas_proxy_vs_full_size():
    r = carbonsim.load(SCENARIOS / "nas-proxy-vs-full.toml").run()
    proxy = r.workload("ET NAS, proxy tasks (as run)")
    full = r.workload("ET NAS, misread as full size")
    # as run: Patterson et al. 2021 Table 4, 7.5 MWh and 3.2 tCO2e
    assert proxy.energy_kwh / 1000 == pytest.approx(7.5, rel=0.01)
    assert proxy.gross_co2e_kg / 1000 == pytest.approx(3.2, rel=0.01 + 0.05 / 3.2)
    # the full-size reading: 18.7x the energy (Patterson et al. Sec. 4.3), an order of magnitude
    assert full.energy_kwh / proxy.energy_kwh == pytest.approx(18.7, rel=1e-9)
    assert full.phase == proxy.phase == "experimentation"


@pytest.fixture(scope="module")
def carbon_aware():
    return carbonsim.load(SCENARIOS / "carbon-aware-training.toml").run()


def test_carbon_aware_training_reports_savings_and_delay(carbon_aware):
    r = carbon_aware
    d = r.to_dict()
    assert "policy" in d and d["policy"]["savings"]["co2e_kg"]["gross"] > 0
    assert d["policy"]["added_delay_hours_mean"] > 0
    shifted = r.workload("experiments (shift by up to 24 h)")
    placed = r.workload("training (placed across regions)")
    fixed = r.workload("training (fixed)")
    assert shifted.gross_co2e_kg < shifted.baseline["co2e_kg"]["gross"]     # CISO's solar dip
    assert placed.gross_co2e_kg < 0.5 * placed.baseline["co2e_kg"]["gross"]  # most jobs go to hydro (BPAT)
    assert max(placed.placements, key=placed.placements.get) == "pacific-northwest"
    assert fixed.baseline is None                                           # no policy, nothing to compare
    # a year of jobs on real data: every job ran, on every pool
    assert all(w.jobs > 500 for w in r.workloads)
    assert all(0.1 < p.utilization < 0.9 for dc in r.datacenters for p in dc.pools)


def test_carbon_aware_is_deterministic(carbon_aware):
    again = carbonsim.load(SCENARIOS / "carbon-aware-training.toml").run()
    assert again.to_dict()["totals"] == carbon_aware.to_dict()["totals"]
    assert again.to_dict()["policy"] == carbon_aware.to_dict()["policy"]
