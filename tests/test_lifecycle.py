"""Inference services in scenarios, the lifecycle view, and compare's break-even."""
import json
from pathlib import Path

import pytest

import carbonsim
from carbonsim.cli import main
from carbonsim.studies.compare import compare

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


def seed_example(training_hours: float, wh_per_query: float) -> carbonsim.Scenario:
    """Training 10 chips x 100 W x `training_hours` h; serving 90,000 queries a day for 10 days
    at `wh_per_query` busy energy, no idle power, PUE 1: energy is exactly linear in both."""
    s = carbonsim.Scenario("seed-example", start="2024-01-01")
    s.add_datacenter("dc", pue=1.0, grid_intensity_gco2e_per_kwh=100)
    s.add_hardware("chip", system_power_w=100.0, idle_w=0.0, embodied_kgco2e=0.0)
    s.add_training_run("train", hardware="chip", chips=10, datacenter="dc", duration_hours=training_hours)
    s.add_service("serve", hardware="chip", datacenter="dc", start="2024-02-01", duration_days=10,
                  queries_per_day=90_000, diurnal="flat", energy_wh_per_query=wh_per_query, replicas=60, mode="fluid")
    return s


def test_seed_example_b_doubles_training_cuts_serving_20_percent():
    # Patterson et al. 2021: with a 10%/90% training/serving split, a model that doubles
    # training energy but cuts serving energy 20% lowers the lifecycle total.
    a = seed_example(100, 1.0).run()     # training 100 kWh, serving 900 kWh
    b = seed_example(200, 0.8).run()     # training 200 kWh, serving 720 kWh
    assert a.by_phase()["training"].energy_kwh == pytest.approx(100.0)
    assert a.by_phase()["inference"].energy_kwh == pytest.approx(900.0, rel=1e-9)
    c = compare(a, b)
    assert c.energy.winner == "B"
    assert c.energy.b / c.energy.a - 1 == pytest.approx(-0.08, rel=1e-6)          # 920 vs 1000 kWh
    assert c.energy.ratio == pytest.approx(100 / 180, rel=1e-6)                    # break-even at 5/9 of the serving
    assert c.energy.to_dict()["break_even_serving_days"] == pytest.approx(10 * 100 / 180, rel=1e-6)
    text = c.format_table()
    assert "B lowers the lifecycle total" in text and "wins beyond" in text


def test_lifecycle_scenario_inference_dominates():
    r = carbonsim.load(SCENARIOS / "lifecycle-serving.toml").run()
    d = r.to_dict()
    shares = {k: v["share"] for k, v in d["phases"].items()}
    assert set(shares) == {"experimentation", "training", "inference"}
    assert sum(shares.values()) == pytest.approx(1.0)
    assert 0.85 < shares["inference"] < 0.95          # ~90%, as the industry figures in the scenario say
    serving = next(w for w in d["workloads"] if w["kind"] == "service")
    assert serving["per_query"]["wh"] == pytest.approx(serving["energy_kwh"] * 1000 / serving["serving"]["requests"])
    assert 0.05 < serving["per_query"]["wh"] < 3.0    # within published per-query figures (0.24-2.9 Wh, NUMBERS.md §5)
    assert serving["per_query"]["gco2e"]["gross"] == pytest.approx(serving["per_query"]["wh"] * 0.429, rel=1e-9)
    assert serving["serving"]["mode"] == "fluid"      # 2e10 queries: beyond request level


def test_moe_uses_active_parameters():
    dense = carbonsim.load(SCENARIOS / "lifecycle-serving.toml").validate().services[0]
    moe = carbonsim.load(SCENARIOS / "lifecycle-serving-moe.toml").validate().services[0]
    assert dense.config.flops_per_query == pytest.approx(2 * 175e9 * 1000)
    assert moe.config.flops_per_query == pytest.approx(2 * 619e9 * 0.0025 * 1000)


def test_compare_cli(capsys):
    a, b = str(SCENARIOS / "lifecycle-serving.toml"), str(SCENARIOS / "lifecycle-serving-moe.toml")
    assert main(["compare", a, b, "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["energy_kwh"]["winner"] == "B"
    assert d["phases"]["training"]["delta"]["energy_kwh"] < 0
    assert d["phases"]["inference"]["delta"]["energy_kwh"] < 0


def service_scenario(**service):
    s = carbonsim.Scenario("svc", start="2024-01-01")
    s.add_datacenter("dc", pue=1.1, grid_intensity_gco2e_per_kwh=300)
    values = {"datacenter": "dc", "queries_per_second": 5.0, "energy_wh_per_query": 0.01, "replicas": 2,
              "mode": "requests", **service}
    s.add_service("svc", hardware="a100", duration_days=1, **values)
    return s


def test_overload_is_reported_and_its_backlog_counted():
    r = service_scenario(energy_wh_per_query=0.1).run()     # 0.9 s per query, 4.5 busy servers needed, 2 given
    assert any("capacity" in w or "overload" in w.lower() for w in r.warnings), r.warnings
    w = r.workload("svc")
    assert w.it_energy_kwh == pytest.approx(w.serving["requests"] * 0.1 / 1000, rel=1e-3)   # all queries served


def test_zero_replicas_with_traffic_is_a_clear_error():
    with pytest.raises(carbonsim.ScenarioError, match=r"workloads.service\[0\].replicas: a service with traffic"):
        service_scenario(replicas=0).validate()


def test_unreachable_latency_target_is_a_warning():
    r = service_scenario(latency_target_ms=1.0).run()
    assert any("latency" in w and "svc" in w for w in r.warnings), r.warnings


def test_request_level_service_by_hand():
    # 5 queries/s for a day at 0.01 Wh busy energy each (0.09 s at 400 W): busy IT energy =
    # queries x 0.01 Wh; idle: 2 replicas x 1 chip x 50 W (A100, BLOOM) for the chip-time not busy
    r = service_scenario(diurnal="flat").run()
    w = r.workload("svc")
    sv = w.serving
    busy_kwh = sv["requests"] * 0.01 / 1000
    busy_h = sv["requests"] * 0.01 / 400                       # busy chip-hours at 400 W
    idle_kwh = (2 * 24 - busy_h) * 50 / 1000
    assert w.it_energy_kwh == pytest.approx(busy_kwh + idle_kwh, rel=1e-6)
    assert sv["requests"] == pytest.approx(432_000, rel=0.01)   # Poisson count, seeded
    assert {"p50", "p95", "p99"} <= set(sv["latency_s"])


def test_service_in_several_datacenters_splits_traffic():
    s = carbonsim.Scenario("multi", start="2022-06-01")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO")
    s.add_datacenter("ore", pue=1.2, grid="eia:BPAT")
    s.add_service("svc", hardware="a100", datacenters=["cal", "ore"], traffic_split=[3, 1], duration_days=2,
                  queries_per_second=20.0, energy_wh_per_query=0.01, replicas=4, mode="requests")
    r = s.run()
    w = r.workload("svc")
    assert w.placements["cal"] == pytest.approx(3 * w.placements["ore"], rel=0.05)   # Poisson counts, 3:1
    assert set(w.serving["datacenters"]) == {"cal", "ore"}
    by_dc = r.by_datacenter()
    assert by_dc["cal"].energy_kwh > 0 and by_dc["ore"].energy_kwh > 0
    assert by_dc["cal"].energy_kwh + by_dc["ore"].energy_kwh == pytest.approx(r.totals.energy_kwh)
    with pytest.raises(carbonsim.ScenarioError, match="traffic_split has 1 shares for 2 datacenters"):
        s2 = carbonsim.Scenario("bad")
        s2.add_datacenter("a", pue=1.1, grid_intensity_gco2e_per_kwh=1)
        s2.add_service("svc", hardware="a100", datacenters=["a", "b"], traffic_split=[1], duration_days=1,
                       queries_per_second=1.0, energy_wh_per_query=0.01, replicas=1)
