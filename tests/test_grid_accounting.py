"""Hourly grid data in scenarios: alignment, gaps, net accounting, hourly results, the sweep."""
import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim import grid
from carbonsim.cli import main
from carbonsim.studies.sweep import sweep

ROOT = Path(__file__).resolve().parent.parent


def csv_scenario(tmp_path, values, start="2024-05-01T00:00:00Z", **dc):
    rows = ["timestamp,value"] + [
        f"{(dt.datetime(2024, 5, 1) + dt.timedelta(hours=h)).isoformat()},{v}" for h, v in enumerate(values)]
    (tmp_path / "grid.csv").write_text("\n".join(rows) + "\n")
    doc = {"schema_version": 1, "scenario": {"name": "csv", "start": start},
           "datacenters": {"dc": {"pue": 1.2, "grid": {"csv": "grid.csv"}, **dc}}, "workloads": {"training": []}}
    return doc


def run_doc(doc, tmp_path, hourly=False):
    return carbonsim.Scenario.from_dict(doc, str(tmp_path / "s.toml")).run(hourly=hourly)


def test_hand_computed_interval_across_two_hour_boundaries(tmp_path):
    # 10 chips x 100 W = 1 kW from 00:30 to 02:15 over hours of 100, 200, 300 g/kWh, PUE 1.2:
    # IT 1.75 kWh; gross = 1.2 x (0.5 x 100 + 1 x 200 + 0.25 x 300) g = 390 g
    doc = csv_scenario(tmp_path, [100, 200, 300, 400])
    doc["hardware"] = {"chip": {"system_power_w": 100.0}}
    doc["workloads"]["training"] = [{"name": "r", "hardware": "chip", "chips": 10, "datacenter": "dc",
                                     "start": "2024-05-01T00:30:00Z", "duration_hours": 1.75}]
    r = run_doc(doc, tmp_path, hourly=True)
    w = r.workload("r")
    assert w.it_energy_kwh == pytest.approx(1.75)
    assert w.gross_co2e_kg == pytest.approx(0.390)
    h = r.to_dict(hourly=True)["hourly"]["datacenters"]["dc"]
    assert h["energy_kwh"][:3] == pytest.approx([0.6, 1.2, 0.3])
    assert h["co2e_kg"]["gross"][:3] == pytest.approx([0.06, 0.24, 0.09])


def test_hourly_sums_equal_totals_and_cfe_grid_is_hour_by_hour():
    s = carbonsim.Scenario("h", start="2023-03-01")
    s.add_datacenter("de", pue=1.1, grid="em:DE-LU", cfe="grid")
    s.add_training_run("r", hardware="v100", chips=64, datacenter="de", start="2023-03-02T05:20:00Z",
                       duration_hours=100.5)
    r = s.run(hourly=True)
    h = r.hourly
    assert h["energy_kwh"].sum() == pytest.approx(r.totals.energy_kwh, rel=1e-12)
    assert h["gross_kg"].sum() == pytest.approx(r.totals.gross_co2e_kg, rel=1e-12)
    assert h["net_kg"].sum() == pytest.approx(r.totals.net_co2e_kg, rel=1e-12)
    # independently: net = sum_h energy_h x gross_h x (1 - cfe_h)
    sig = grid.load_signal("em:DE-LU")
    i0 = int((h["t0"] - sig.start).total_seconds() // 3600)
    n = h["energy_kwh"].shape[1]
    expected_net = np.sum(h["energy_kwh"][0] * sig.values[i0:i0 + n] * (1 - sig.cfe[i0:i0 + n])) / 1000
    assert r.totals.net_co2e_kg == pytest.approx(expected_net, rel=1e-9)
    assert r.totals.net_co2e_kg < 0.6 * r.totals.gross_co2e_kg   # Germany's low-carbon share is large


def test_other_year_needs_an_explicit_alignment():
    s = carbonsim.Scenario("y", start="2024-06-01")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="cal", duration_days=2)
    with pytest.raises(carbonsim.ScenarioError, match=r"datacenters.cal.grid: .*2024.*year_shift"):
        s.run()
    s2 = carbonsim.Scenario("y", start="2024-06-01")
    s2.add_datacenter("cal", pue=1.1, grid="eia:CISO", grid_year_shift="weekday")
    s2.add_training_run("r", hardware="v100", chips=8, datacenter="cal", duration_days=2)
    r = s2.run(hourly=True)
    # 2024-06-01 is a Saturday: the data used start on a Saturday of 2022 too
    sig = grid.load_signal("eia:CISO")
    used = r.hourly["intensity_g_per_kwh"][0, :48]
    hits = [k for k in range(sig.n_hours - 48) if np.allclose(sig.values[k:k + 48], used)]
    assert hits and all((sig.start + dt.timedelta(hours=k)).weekday() == 5 for k in hits)


def test_overflow_error_or_wrap():
    def scenario(overflow):
        s = carbonsim.Scenario("o", start="2022-12-20")
        s.add_datacenter("cal", pue=1.1, grid="eia:CISO", grid_overflow=overflow)
        s.add_training_run("r", hardware="v100", chips=8, datacenter="cal", duration_days=30)
        return s
    with pytest.raises(carbonsim.ScenarioError, match="overflow"):
        scenario("error").run()
    assert scenario("wrap").run().totals.gross_co2e_kg > 0


def test_gap_policy_in_scenarios():
    s = carbonsim.Scenario("g", start="2022-03-12")
    s.add_datacenter("pjm", pue=1.1, grid="eia:PJM")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="pjm", duration_days=3)
    r = s.run()
    assert any("PJM" in w and "2022-03-13T07:00Z" in w and "22 h" in w for w in r.warnings), r.warnings
    s2 = carbonsim.Scenario("g", start="2022-03-12")
    s2.add_datacenter("pjm", pue=1.1, grid="eia:PJM", grid_max_gap_hours=12)
    s2.add_training_run("r", hardware="v100", chips=8, datacenter="pjm", duration_days=3)
    with pytest.raises(carbonsim.ScenarioError, match=r"datacenters.pjm.grid_max_gap_hours: eia:PJM has 22 consecutive"):
        s2.validate()


def test_unknown_region_is_a_clear_error():
    s = carbonsim.Scenario("u")
    s.add_datacenter("x", pue=1.1, grid="eia:CISOO")
    with pytest.raises(carbonsim.ScenarioError, match=r"datacenters.x.grid: .*did you mean 'eia:CISO'"):
        s.validate()


def test_mixed_bases_are_flagged():
    s = carbonsim.Scenario("b", start="2023-03-01")
    s.add_datacenter("de", pue=1.1, grid="em:DE-LU")            # direct
    s.add_datacenter("gb", pue=1.1, grid="em:GB/lifecycle")     # lifecycle
    s.add_training_run("a", hardware="v100", chips=8, datacenter="de", duration_days=1)
    s.add_training_run("b", hardware="v100", chips=8, datacenter="gb", duration_days=1)
    r = s.run()
    assert any("different bases" in w for w in r.warnings)
    assert r.to_dict()["provenance"]["bases"] == ["direct", "lifecycle"]


def test_where_to_train_spread_is_what_the_data_imply():
    scenario = carbonsim.load(ROOT / "scenarios" / "where-to-train.toml")
    regions = scenario.to_dict()["sweep"]["regions"]
    assert len(regions) == 24
    result = sweep(scenario, regions)
    # independently of the engine: facility energy x the mean of the aligned hourly series
    start = dt.datetime(2022, 9, 1, tzinfo=dt.timezone.utc)
    facility_kwh = 512 * 310 * 20 * 24 * 1.12 / 1000            # Patterson Table 4 inputs
    expected = {}
    for name in regions:
        values = grid.align(grid.load_signal(name), start, 480, year_shift="weekday", overflow="wrap")
        expected[name] = facility_kwh * values.mean() / 1000
    for row in result.rows:
        assert row.energy_kwh == pytest.approx(facility_kwh, rel=1e-12)
        assert row.gross_co2e_kg == pytest.approx(expected[row.region], rel=1e-9)
    assert result.spread == pytest.approx(max(expected.values()) / min(expected.values()), rel=1e-9)
    assert result.best.region == "eia:BPAT"                        # hydro (BPAT mean 54.7 g/kWh over 2022)
    assert 5 < result.spread < 12                                  # "5-10x" by location (Patterson et al.)
    eia = {r.region: r.gross_co2e_kg for r in result.rows if r.region.startswith("eia:")}
    assert max(eia, key=eia.get) == "eia:AZPS"                     # AZPS mean 575 g/kWh over 2022


def test_sweep_months_and_cli(capsys):
    path = str(ROOT / "scenarios" / "where-to-train.toml")
    assert main(["sweep", path, "--regions", "eia:BPAT,eia:CISO", "--months", "1,7", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["rows"]) == 4 and out["rows"][0]["ratio_to_best"] == 1.0
    assert {(r["region"], r["month"]) for r in out["rows"]} == {(a, m) for a in ("eia:BPAT", "eia:CISO") for m in (1, 7)}
    assert main(["sweep", path, "--regions", "eia:NOPE"]) == 2
    assert "did you mean" in capsys.readouterr().err


def test_run_hourly_json_and_regions_cli(capsys):
    path = str(ROOT / "scenarios" / "where-to-train.toml")
    assert main(["run", path, "--format", "json"]) == 0
    assert "hourly" not in json.loads(capsys.readouterr().out)
    assert main(["run", path, "--format", "json", "--hourly"]) == 0
    d = json.loads(capsys.readouterr().out)
    hourly = d["hourly"]["datacenters"]["dc"]
    assert sum(hourly["co2e_kg"]["gross"]) == pytest.approx(d["totals"]["co2e_kg"]["gross"], rel=1e-12)
    assert main(["regions"]) == 0
    out = capsys.readouterr().out
    assert "eia:BPAT" in out and "em:DE-LU/lifecycle" in out and "54.7" in out


def test_hourly_frame():
    pd = pytest.importorskip("pandas")
    s = carbonsim.Scenario("f", start="2022-07-01")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO")
    s.add_datacenter("tx", pue=1.2, grid="eia:ERCO")
    s.add_training_run("a", hardware="v100", chips=8, datacenter="cal", duration_hours=30)
    s.add_training_run("b", hardware="v100", chips=4, datacenter="tx", start="2022-07-01T05:30:00Z", duration_hours=3)
    r = s.run(hourly=True)
    frame = r.hourly_frame()
    assert isinstance(frame.index, pd.DatetimeIndex) and set(frame["datacenter"]) == {"cal", "tx"}
    assert frame["energy_kwh"].sum() == pytest.approx(r.totals.energy_kwh, rel=1e-12)
    by_dc = frame.groupby("datacenter")["gross_co2e_kg"].sum()
    assert by_dc["tx"] == pytest.approx(r.workload("b").gross_co2e_kg, rel=1e-12)
    with pytest.raises(ValueError, match="hourly=True"):
        s.run().hourly_frame()
