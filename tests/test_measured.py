"""Measured runs: CodeCarbon logs of each schema version, power traces and measured figures,
with carbonsim's grid, PUE, CFE and embodied accounting on top.  Bad logs are in the
bad-input corpus (tests/bad_input/measured_*.toml)."""
from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim.cli import main
from carbonsim.cli.importer import scenario_text
from carbonsim.model.measured import read_codecarbon

DATA = Path(__file__).parent / "data" / "codecarbon"
UTC = dt.timezone.utc

#: fixture -> (CodeCarbon versions it stands for, runs, first run's IT kWh, start, hardware, chips)
VERSIONS = {
    "v1.csv": ("1.x", 1, 0.4, dt.datetime(2021, 3, 15, 8, tzinfo=UTC), "measured", 1),
    "v2_0.csv": ("2.0-2.2", 1, 0.45645, dt.datetime(2022, 7, 12, 16, 30, tzinfo=UTC), "v100", 1),
    "v2_4.csv": ("2.3-2.7", 1, 0.3738, dt.datetime(2024, 2, 8, 23, 9, 17, tzinfo=UTC), "a100-40gb", 1),
    "v2_8.csv": ("2.8-3.0", 1, 0.17715, dt.datetime(2024, 11, 4, 9, 30, tzinfo=UTC), "a100-40gb", 1),
    "v3_two_runs.csv": ("3.1+", 2, 5.9, dt.datetime(2024, 5, 27, 11, tzinfo=UTC), "a100", 8),
}


def measured(source: dict, *, pue: float = 1.1, grid: dict | None = None, scenario: dict | None = None,
             **dc) -> carbonsim.Scenario:
    doc = {"schema_version": 1, "scenario": {"name": "m", **(scenario or {})},
           "datacenters": {"dc": {"pue": pue, **(grid or {"grid_intensity_gco2e_per_kwh": 400}), **dc}},
           "workloads": {"measured": [{"name": "run", "datacenter": "dc", **source}]}}
    return carbonsim.Scenario.from_dict(doc, str(DATA / "scenario.toml"))


@pytest.mark.parametrize("name", sorted(VERSIONS))
def test_every_codecarbon_schema_reads(name):
    _, n, it_kwh, start, hardware, chips = VERSIONS[name]
    result = measured({"codecarbon": name}).run()
    assert len(result.workloads) == n
    w = result.workloads[0]
    assert w.kind == "measured" and w.phase == "training"
    assert w.it_energy_kwh == pytest.approx(it_kwh, rel=1e-9)
    assert w.energy_kwh == pytest.approx(1.1 * it_kwh, rel=1e-9)
    assert w.gross_co2e_kg == pytest.approx(0.4 * 1.1 * it_kwh, rel=1e-9)
    assert w.start == start and (w.hardware, w.chips) == (hardware, chips)
    assert w.power_basis == "scenario" and w.measured["source"] == name


def test_codecarbon_pue_is_divided_out():
    runs = read_codecarbon("x", DATA / "v3_two_runs.csv", "UTC", [])
    assert [r["pue"] for r in runs] == [1.2, 1.2]
    w = measured({"codecarbon": "v3_two_runs.csv"}, pue=1.2).run().workloads[0]
    assert w.measured["components_kwh"] == {"cpu": 0.24, "gpu": 6.72, "ram": 0.12}
    assert w.it_energy_kwh == pytest.approx((0.24 + 6.72 + 0.12) / 1.2)
    assert w.energy_kwh == pytest.approx(7.08)               # CodeCarbon's energy_consumed, same PUE
    assert w.comparison()["energy_mwh"][2] == pytest.approx(0, abs=1e-12)


@pytest.mark.parametrize("name", ["v1.csv", "v2_0.csv", "v2_4.csv", "v2_8.csv", "v3_two_runs.csv"])
def test_codecarbon_emissions_reproduced_with_its_own_intensity(name):
    """With CodeCarbon's PUE and the intensity it used (emissions / energy_consumed), carbonsim's
    gross CO2e is the log's: the accounting on top of a measurement changes only what it should."""
    runs = read_codecarbon("x", DATA / name, "UTC", [])
    intensity = runs[0]["emissions_kg"] / runs[0]["energy_consumed_kwh"]
    result = measured({"codecarbon": name}, pue=runs[0]["pue"], grid={"grid_intensity": f"{intensity!r} kg/kWh"}).run()
    for r, w in zip(runs, result.workloads):
        assert w.gross_co2e_kg == pytest.approx(r["emissions_kg"], rel=1e-6)
        assert w.comparison()["gross_tco2e"][2] == pytest.approx(0, abs=1e-6)


def test_hourly_grid_cfe_and_embodied_on_top():
    s = measured({"codecarbon": "v3_two_runs.csv"}, pue=1.1, grid={"grid": "aws:us-east-1"}, cfe="grid",
                 scenario={"grid_year_shift": "weekday"})
    r = s.run(hourly=True)
    h = r.hourly
    assert h["energy_kwh"].sum() == pytest.approx(r.totals.energy_kwh)
    assert h["gross_kg"].sum() == pytest.approx(r.totals.gross_co2e_kg)
    assert (h["energy_kwh"][0] * h["intensity_g_per_kwh"][0]).sum() / 1000 == pytest.approx(r.totals.gross_co2e_kg)
    assert 0 < r.totals.net_co2e_kg < r.totals.gross_co2e_kg
    a100 = carbonsim.CATALOG["a100"]
    first = r.workloads[0]
    assert first.chip_hours == pytest.approx(16)
    assert first.embodied_co2e_kg == pytest.approx(16 * 3600 * a100.embodied_kg_per_chip_second)
    assert any("aws:us-east-1 = eia:PJM" in x for x in r.to_dict()["provenance"]["data_sources"])


def test_runs_components_and_timezone():
    s = measured({"codecarbon": "v3_two_runs.csv", "runs": ["c3d4e5f6-1111-4222-8333-444455556666"],
                  "components": ["gpu"], "timezone": "Europe/Paris"})
    (w,) = s.run().workloads
    assert w.it_energy_kwh == pytest.approx(3.36 / 1.2)
    assert w.start == dt.datetime(2024, 5, 27, 12, 30, tzinfo=UTC)    # 14:30 in Paris (CEST) was 12:30 UTC


@pytest.mark.parametrize("trace", ["trace.csv", "trace_kilowatts.csv"])
def test_power_trace_is_integrated_hour_by_hour(trace):
    # 10:30-11:00 2400 W, 11:00-11:45 3000 W, 11:45-13:15 1200 W
    s = measured({"power_trace": trace, "chips": 4}, pue=1.0)
    r = s.run(hourly=True)
    (w,) = r.workloads
    assert w.it_energy_kwh == pytest.approx(5.25)
    assert (w.start, w.end) == (dt.datetime(2022, 7, 4, 10, 30, tzinfo=UTC), dt.datetime(2022, 7, 4, 13, 15, tzinfo=UTC))
    assert w.chips == 4 and w.chip_hours == pytest.approx(4 * 2.75)
    h = r.hourly["it_kwh"][0]
    k = int((dt.datetime(2022, 7, 4, 10, tzinfo=UTC) - r.hourly["t0"]).total_seconds() // 3600)
    np.testing.assert_allclose(h[k:k + 4], [1.2, 2.55, 1.2, 0.3])
    assert h.sum() == pytest.approx(5.25)


def test_measured_figures_inline():
    s = measured({"start": "2024-03-01T08:00:00Z", "duration_hours": 2, "gpu_energy_kwh": 5.6, "cpu_energy_kwh": 0.2,
                  "ram_energy_kwh": 0.1, "hardware": "h100", "chips": 8, "phase": "inference",
                  "reported_co2e_kg": 2.0})
    (w,) = s.run().workloads
    assert (w.it_energy_kwh, w.phase, w.hardware) == (pytest.approx(5.9), "inference", "h100")
    assert w.power_w_per_chip == pytest.approx(5900 / 2 / 8)
    assert w.published["gross_tco2e"] == 0.002


def test_measured_run_takes_chips_from_a_pool():
    s = measured({"codecarbon": "v3_two_runs.csv"}, pools={"a100": {"chips": 16, "idle_w_per_chip": 50}},
                 scenario={"start": "2024-05-27T10:00:00Z", "end": "2024-05-27T16:00:00Z"})
    r = s.run()
    pool = r.datacenters[0].pools[0]
    assert pool.busy_chip_hours == pytest.approx(8 * 3)
    assert r.idle.it_energy_kwh == pytest.approx((16 * 6 - 24) * 50 / 1000)


def test_import_writes_a_scenario_that_runs_like_the_log(tmp_path, capsys):
    out = tmp_path / "s.toml"
    assert main(["import", "codecarbon", str(DATA / "v3_two_runs.csv"), "-o", str(out)]) == 0
    text = out.read_text()
    doc = tomllib.loads(text)
    assert doc["datacenters"]["aws-us-east-1"] == {"pue": 1.2, "grid": "aws:us-east-1"}
    assert doc["scenario"]["grid_year_shift"] == "weekday" and len(doc["workloads"]["measured"]) == 2
    imported = carbonsim.load(out).run()
    direct = measured({"codecarbon": "v3_two_runs.csv"}, pue=1.2, grid={"grid": "aws:us-east-1"},
                      scenario={"grid_year_shift": "weekday", "grid_overflow": "wrap"}).run()
    assert imported.totals.gross_co2e_kg == pytest.approx(direct.totals.gross_co2e_kg, rel=1e-12)
    assert imported.totals.embodied_co2e_kg == pytest.approx(direct.totals.embodied_co2e_kg, rel=1e-12)
    assert [w.start for w in imported.workloads] == [w.start for w in direct.workloads]
    assert main(["import", "codecarbon", str(DATA / "v1.csv")]) == 0
    printed = capsys.readouterr().out
    assert 'grid = "country:USA"' in printed and "energy_kwh = 0.4" in printed


@pytest.mark.parametrize("name", ["v2_0.csv", "v2_4.csv", "v2_8.csv"])
def test_import_every_version(name):
    text = scenario_text(str(DATA / name))
    assert carbonsim.resolve(tomllib.loads(text)).measured


def test_import_bad_log_exits_2(capsys):
    assert main(["import", "codecarbon", str(DATA / "bad_negative_energy.csv")]) == 2
    err = capsys.readouterr().err
    assert "bad_negative_energy.csv:2: gpu_energy (kWh) must be >= 0, got '-0.375'" in err


def test_measured_uncertainty_on_top():
    """Distributions on the datacenter (re-weighted) and on a measured figure (re-run)."""
    doc = tomllib.loads(scenario_text(str(DATA / "v3_two_runs.csv")))
    doc["datacenters"]["aws-us-east-1"]["pue"] = {"dist": "uniform", "low": 1.1, "high": 1.4}
    doc["workloads"]["measured"][0]["gpu_energy_kwh"] = {"dist": "normal", "mean": 6.72, "std": 0.3}
    study = carbonsim.monte_carlo(doc, samples=8, method="random", seed=1)
    assert study.n == 8
    energy = study.samples("energy_kwh")
    assert energy.min() > 0 and energy.std() > 0
