"""The Python API and the command line, from a user's side."""
import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

import carbonsim
from carbonsim.cli import main

ROOT = Path(__file__).resolve().parent.parent
PATTERSON = ROOT / "scenarios" / "patterson2021.toml"


def small():
    s = carbonsim.Scenario("demo", start="2024-01-01")
    s.add_datacenter("iowa", pue=1.11, grid_intensity_gco2e_per_kwh=478, net_grid_intensity_gco2e_per_kwh=80)
    s.add_datacenter("green", pue=1.2, grid_intensity_gco2e_per_kwh=400, cfe=0.75)
    s.add_training_run("a", hardware="v100", chips=8, datacenter="iowa", duration_days=2)
    s.add_training_run("b", hardware="A100", chips=16, datacenter="green", duration_hours=10, start="2024-03-01T06:30:00")
    return s


def test_builder_run_by_hand():
    r = small().run()
    a, b = r.workload("a"), r.workload("b")
    # v100 catalog system power 325 W (Patterson Table 3); 48 h x 8 chips
    assert a.it_energy_kwh == pytest.approx(48 * 8 * 325 / 1000)
    assert a.energy_kwh == pytest.approx(48 * 8 * 325 / 1000 * 1.11)
    assert a.gross_co2e_kg == pytest.approx(a.energy_kwh * 0.478)
    assert a.net_co2e_kg == pytest.approx(a.energy_kwh * 0.080)
    # a100 has no measured system power: TDP 400 W, with a warning
    assert b.power_w_per_chip == 400
    assert any("no measured system power for a100" in w for w in r.warnings)
    assert b.net_co2e_kg == pytest.approx(b.gross_co2e_kg * 0.25)
    # embodied: chips x 150 kg x time / 5 years
    assert b.embodied_co2e_kg == pytest.approx(16 * 150 * 10 / (5 * 365.25 * 24))
    assert r.totals.total_co2e_kg == pytest.approx(a.net_co2e_kg + b.net_co2e_kg + a.embodied_co2e_kg + b.embodied_co2e_kg)
    assert b.start.isoformat() == "2024-03-01T06:30:00+00:00"


def test_validate_returns_immutable_copy_and_leaves_builder_alone():
    s = small()
    before = s.to_dict()
    resolved = s.validate()
    assert s.to_dict() == before
    with pytest.raises(Exception):
        resolved.training[0].chips = 3
    with pytest.raises(TypeError):
        resolved.datacenters["x"] = None
    assert "2 training run(s)" in resolved.summary()


def test_builder_and_file_give_the_same_scenario(tmp_path):
    from_file = carbonsim.load(PATTERSON)
    again = carbonsim.Scenario.from_dict(from_file.to_dict())
    assert again.validate().sha256 == from_file.validate().sha256


def test_hardware_override_in_scenario():
    s = carbonsim.Scenario("hw")
    s.add_hardware("v100", embodied_kgco2e=300.0, embodied_boundary="card")
    s.add_hardware("my-chip", base="a100", system_power_w=500.0)
    s.add_datacenter("dc", pue=1.0, grid_intensity_gco2e_per_kwh=100)
    s.add_training_run("x", hardware="v100", chips=1, datacenter="dc", duration_days=365.25 * 5)
    s.add_training_run("y", hardware="my-chip", chips=2, datacenter="dc", duration_hours=1)
    r = s.run()
    assert r.workload("x").embodied_co2e_kg == pytest.approx(300.0)  # whole lifetime used
    assert r.workload("y").it_energy_kwh == pytest.approx(1.0)
    assert carbonsim.CATALOG["v100"].embodied_kgco2e == 9.8  # the catalog itself is untouched


def test_json_contract_keys():
    d = carbonsim.load(PATTERSON).run().to_dict()
    assert {"schema_version", "scenario", "provenance", "totals", "workloads"} <= set(d)
    assert {"name", "sha256"} <= set(d["scenario"]) and len(d["scenario"]["sha256"]) == 64
    assert {"carbonsim_version", "seed", "data_sources"} <= set(d["provenance"])
    assert d["provenance"]["carbonsim_version"] == carbonsim.__version__
    assert {"it_energy_kwh", "energy_kwh", "co2e_kg", "embodied_co2e_kg", "total_co2e_kg"} <= set(d["totals"])
    assert set(d["totals"]["co2e_kg"]) == {"gross", "net"}
    for w in d["workloads"]:
        assert {"name", "kind", "datacenter", "hardware", "chips", "start", "end", "it_energy_kwh", "energy_kwh",
                "co2e_kg", "embodied_co2e_kg"} <= set(w)
        assert w["kind"] == "training"
        assert w["energy_kwh"] > w["it_energy_kwh"]  # PUE > 1 everywhere in Table 4
    json.dumps(d)  # serialisable


def test_csv_and_frame():
    r = carbonsim.load(PATTERSON).run()
    rows = list(csv.DictReader(io.StringIO(r.to_csv())))
    assert [row["name"] for row in rows] == [w.name for w in r.workloads]
    assert float(rows[5]["energy_kwh"]) == pytest.approx(r.workload("GPT-3").energy_kwh)
    pd = pytest.importorskip("pandas")
    frame = r.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) == 6
    assert frame["energy_kwh"].sum() == pytest.approx(r.totals.energy_kwh)


def test_cli_run_table_json_csv(capsys, tmp_path):
    assert main(["run", str(PATTERSON)]) == 0
    out = capsys.readouterr().out
    assert "GPT-3" in out and "published" in out and "difference" in out
    assert main(["run", str(PATTERSON), "--format", "json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["totals"]["energy_kwh"] == pytest.approx(carbonsim.load(PATTERSON).run().totals.energy_kwh)
    target = tmp_path / "out.csv"
    assert main(["run", str(PATTERSON), "--format", "csv", "-o", str(target)]) == 0
    assert target.read_text().startswith("name,")


def test_cli_validate_schema_hardware(capsys):
    assert main(["validate", str(PATTERSON)]) == 0
    assert "valid" in capsys.readouterr().out
    assert main(["schema"]) == 0
    schema = json.loads(capsys.readouterr().out)
    assert "schema_version" in schema["required"] and "TrainingSpec" in schema["$defs"]
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    for name in ("tpu-v2", "tpu-v3", "tpu-v4", "p100", "v100", "a100", "h100"):
        assert name in out
    assert main(["hardware", "--format", "json"]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert all(e["sources"] for e in entries)


def test_console_script_runs_in_a_subprocess():
    proc = subprocess.run([sys.executable, "-m", "carbonsim.cli", "run", str(PATTERSON), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["scenario"]["name"] == "patterson2021"


def test_missing_file_is_exit_2(capsys):
    assert main(["run", "no/such/file.toml"]) == 2
    err = capsys.readouterr().err
    assert "no/such/file.toml" in err and "Traceback" not in err
