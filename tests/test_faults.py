"""Faults a user meets: a changed input under a checkpoint, a damaged checkpoint, two studies
on one checkpoint, an output that cannot be written, a closed pipe, an interrupt; and outputs
that are always valid JSON (null, with a note, where a value is undefined)."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carbonsim.cli import main
from carbonsim.model import uncertain as unc
from carbonsim.model.errors import SimulationError
from carbonsim.results.jsonout import dumps, finite
from carbonsim.studies.execution import Checkpoint

ROOT = Path(__file__).resolve().parent.parent

def _training(name: str, datacenter: str, start: str = "2020-01-01", extra: str = "") -> str:
    """A scenario of one 8-chip, one-day V100 training run in datacenter ``dc``."""
    return f"""schema_version = 1
[scenario]
name = "{name}"
[datacenters.dc]
{datacenter}
[[workloads.training]]
name = "t"
hardware = "v100"
chips = 8
datacenter = "dc"
start = {start}
duration_days = 1
{extra}"""


STUDY = _training("faults", 'pue = { dist = "uniform", low = 1.05, high = 1.2 }\ngrid = { csv = "grid.csv" }',
                  start="2022-01-01")
CONSTANT_DC = "pue = 1.1\ngrid_intensity_gco2e_per_kwh = 429"


def _study(tmp_path) -> Path:
    path = tmp_path / "study.toml"
    if path.exists():
        return path
    t0 = dt.datetime(2022, 1, 1)
    rows = [f"{(t0 + dt.timedelta(hours=h)).isoformat()}Z,{300 + 100 * (h % 24 > 12)}" for h in range(24 * 40)]
    (tmp_path / "grid.csv").write_text("timestamp,value\n" + "\n".join(rows) + "\n")
    path.write_text(STUDY)
    return path


def _mc(tmp_path, *extra) -> list[str]:
    return ["mc", str(_study(tmp_path)), "-n", "8", "--workers", "1", "--no-progress",
            "--checkpoint", str(tmp_path / "c.npz"), *extra]


def _cli(args, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "carbonsim", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def test_an_output_that_cannot_be_written_keeps_the_study_and_says_how_to_resume(tmp_path):
    """/dev/full: the disk is full when the results are written (a subprocess, as users run it)."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    args = _mc(tmp_path, "--format", "json")
    p = _cli(args + ["-o", "/dev/full"], tmp_path)
    assert p.returncode == 2, p.stderr
    assert "No space left on device" in p.stderr and "kept in" in p.stderr and "--resume" in p.stderr
    assert "Traceback" not in p.stderr
    with np.load(tmp_path / "c.npz") as z:
        assert z["done"].all()
    # resuming writes the same results without running anything again
    p = _cli(args + ["--resume", "-o", "out.json"], tmp_path)
    assert p.returncode == 0, p.stderr
    assert not (tmp_path / "c.npz").exists()
    resumed = json.loads((tmp_path / "out.json").read_text())["uncertainty"]
    assert resumed["backend"] == "checkpoint"
    assert main(["mc", str(tmp_path / "study.toml"), "-n", "8", "--workers", "1", "--no-progress", "--format", "json",
                 "--checkpoint", str(tmp_path / "other.npz"), "-o", str(tmp_path / "straight.json")]) == 0
    straight = json.loads((tmp_path / "straight.json").read_text())["uncertainty"]
    for doc in (resumed, straight):
        for key in ("backend", "seconds", "elapsed_s"):
            doc.pop(key, None)
    assert resumed == straight


def test_resume_after_a_referenced_file_changed_is_refused_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("carbonsim.cli.mc.write_file", _full_disk)
    assert main(_mc(tmp_path, "-o", str(tmp_path / "out.txt"))) == 2     # the study is kept
    capsys.readouterr()
    grid = tmp_path / "grid.csv"
    grid.write_text(grid.read_text().replace(",300\n", ",301\n", 1))
    assert main(_mc(tmp_path, "--resume")) == 2
    err = capsys.readouterr().err
    assert "cannot resume: changed since the checkpoint was written" in err
    assert f"file {grid.resolve()}" in err and "Traceback" not in err


def test_every_part_of_the_identity_counts(tmp_path):
    """The scenario text, the data files, the version, the bundled data and the options."""
    from carbonsim.studies.montecarlo import study_identity
    base = study_identity({"a": 1}, {"/x/grid.csv": "ab" * 32}, {"n": 8})
    assert set(base) == {"scenario document", "carbonsim version", "bundled data", "study options",
                         "file /x/grid.csv"}
    assert study_identity({"a": 2}, {"/x/grid.csv": "ab" * 32}, {"n": 8})["scenario document"] \
        != base["scenario document"]
    assert study_identity({"a": 1}, {"/x/grid.csv": "cd" * 32}, {"n": 8})["file /x/grid.csv"] \
        != base["file /x/grid.csv"]
    assert study_identity({"a": 1}, {"/x/grid.csv": "ab" * 32}, {"n": 9})["study options"] != base["study options"]
    assert base["bundled data"].startswith("sha256:")


def _full_disk(path, data, flag="--output"):
    from carbonsim.cli.output import atomic_path
    with atomic_path(path, flag):
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"not a checkpoint at all"])
def test_a_damaged_checkpoint_is_a_clear_error(tmp_path, capsys, content):
    (tmp_path / "c.npz").write_bytes(content)
    assert main(_mc(tmp_path, "--resume")) == 2
    err = capsys.readouterr().err
    assert "cannot read checkpoint" in err and "delete it to start over" in err


def test_a_truncated_real_checkpoint_is_a_clear_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("carbonsim.cli.mc.write_file", _full_disk)
    assert main(_mc(tmp_path, "-o", str(tmp_path / "out.txt"))) == 2
    ckpt = tmp_path / "c.npz"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    capsys.readouterr()
    assert main(_mc(tmp_path, "--resume")) == 2
    assert "cannot read checkpoint" in capsys.readouterr().err


def test_a_second_study_on_the_same_checkpoint_is_refused(tmp_path, capsys):
    other = Checkpoint(tmp_path / "c.npz", "x", 1, 1, 5.0)
    other.lock()                  # another study holds the checkpoint
    try:
        assert main(_mc(tmp_path)) == 2
        err = capsys.readouterr().err
        assert "another study is using this checkpoint" in err and f"process {os.getpid()}" in err
    finally:
        other.unlock()
    assert main(_mc(tmp_path)) == 0            # free again once it is done
    assert not (tmp_path / "c.npz.lock").exists()


def test_temporary_checkpoint_files_are_per_process(tmp_path):
    c = Checkpoint(tmp_path / "c.npz", "x", 2, 1, 0.0)
    assert str(os.getpid()) in c._tmp().name
    c.record(np.array([0]), np.array([[1.0]]))
    assert (tmp_path / "c.npz").exists() and not list(tmp_path.glob("*.tmp"))


def test_saved_to_is_said_only_when_a_checkpoint_was_written(tmp_path, capsys, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr("carbonsim.studies.montecarlo.execute", interrupted)
    assert main(_mc(tmp_path)) == 130
    err = capsys.readouterr().err
    assert "interrupted after 0 of" in err and "nothing saved" in err and "saved to" not in err
    assert not (tmp_path / "c.npz").exists()


@pytest.mark.parametrize("where", ["folder", "missing"])
def test_an_unwritable_output_is_refused_before_the_study_runs(tmp_path, capsys, where):
    out = tmp_path if where == "folder" else tmp_path / "no-such-folder" / "out.json"
    assert main(_mc(tmp_path, "-o", str(out))) == 2
    err = capsys.readouterr().err
    assert ("is a folder" in err) if where == "folder" else ("does not exist" in err)
    assert not (tmp_path / "c.npz").exists()


def test_outputs_are_written_atomically(tmp_path, capsys, monkeypatch):
    out = tmp_path / "run.json"
    out.write_text("previous")
    monkeypatch.setattr("carbonsim.cli.output.os.replace", lambda a, b: (_ for _ in ()).throw(OSError(28, "full")))
    assert main(["run", str(ROOT / "scenarios" / "patterson2021.toml"), "--format", "json", "-o", str(out)]) == 2
    assert out.read_text() == "previous" and not list(tmp_path.glob(".*.tmp"))
    assert "cannot write the file" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Interrupts
# ---------------------------------------------------------------------------


def test_an_interrupt_while_scipy_builds_the_sobol_tables_is_held_then_raised(monkeypatch):
    from scipy.stats import qmc
    expected = unc.unit_design(64, 6, "sobol", 11)
    original = qmc.Sobol.__init__

    def interrupted_init(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGINT)       # Ctrl-C arrives mid set-up
        original(self, *args, **kwargs)
    monkeypatch.setattr(qmc.Sobol, "__init__", interrupted_init)
    with pytest.raises(KeyboardInterrupt):
        unc.unit_design(64, 6, "sobol", 11)
    monkeypatch.setattr(qmc.Sobol, "__init__", original)
    assert np.array_equal(unc.unit_design(64, 6, "sobol", 11), expected)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_ctrl_c_stops_a_long_request_level_serving_run(tmp_path):
    """5e5 queries a second at request level for a year would take half an hour: SIGINT ends it."""
    scenario = tmp_path / "busy.toml"
    scenario.write_text("""schema_version = 1
[scenario]
name = "busy"
[datacenters.dc]
pue = 1.1
grid_intensity_gco2e_per_kwh = 400
[[workloads.service]]
name = "s"
hardware = "a100"
datacenter = "dc"
start = 2022-01-01
duration_days = 365
queries_per_day = 4.32e10
parameters = 1e8
tokens_per_query = 10
hardware_efficiency = 0.3
chips_per_replica = 1
autoscaling = { min_replicas = 10, max_replicas = 5000, target_utilization = 0.6 }
max_batch_size = 64
max_wait_ms = 5
batch_latency_ms = 2
mode = "requests"
""")
    import time
    p = subprocess.Popen([sys.executable, "-m", "carbonsim", "run", str(scenario), "--no-progress"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(6.0)
    assert p.poll() is None, p.communicate()
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=30)
    assert p.returncode == 130, err
    assert time.monotonic() - t0 < 5.0
    assert "interrupted" in err and "Traceback" not in err


# ---------------------------------------------------------------------------
# Outputs
# ---------------------------------------------------------------------------


def test_finite_replaces_every_non_finite_number():
    doc = {"a": float("nan"), "b": [float("inf"), -float("inf"), 1.5], "c": np.float64("nan"),
           "d": np.array([1.0, np.nan]), "e": (np.int64(3), np.bool_(True)), "f": "NaN"}
    assert finite(doc) == {"a": None, "b": [None, None, 1.5], "c": None, "d": [1.0, None], "e": [3, True],
                           "f": "NaN"}
    json.loads(dumps(doc))


def _write(tmp_path, name, text) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


SERVICE = """schema_version = 1
[scenario]
name = "split"
[datacenters.a]
pue = 1.1
grid_intensity_gco2e_per_kwh = 429
[datacenters.b]
pue = 1.1
grid_intensity_gco2e_per_kwh = 0
[[workloads.service]]
name = "serving"
hardware = "a100"
datacenters = ["a", "b"]
traffic_split = [1, 0]
start = 2020-03-01
duration_days = 2
queries_per_day = QPD
parameters = 1e9
tokens_per_query = 100
hardware_efficiency = 0.30
chips_per_replica = 1
autoscaling = { min_replicas = 1, max_replicas = 6, target_utilization = 0.6 }
max_batch_size = 16
max_wait_ms = 50
batch_latency_ms = 20
mode = "MODE"
"""


@pytest.mark.parametrize("mode", ["requests", "fluid"])
@pytest.mark.parametrize("qpd", ["1e5", "0"])
def test_a_datacenter_or_service_with_no_requests_has_null_latency_with_a_note(tmp_path, capsys, mode, qpd):
    path = _write(tmp_path, "s.toml", SERVICE.replace("QPD", qpd).replace("MODE", mode))
    assert main(["run", str(path), "--format", "json", "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "NaN" not in text and "Infinity" not in text
    sv = json.loads(text)["workloads"][0]["serving"]
    b = sv["datacenters"]["b"]["latency_s"]
    assert b["mean"] is None and b["note"] == "undefined: no requests were served"
    if qpd == "0":
        assert sv["latency_s"]["mean"] is None and "no requests" in sv["latency_s"]["note"]
    else:
        assert sv["latency_s"]["mean"] == pytest.approx(sv["datacenters"]["a"]["latency_s"]["mean"])
    assert main(["run", str(path), "--no-progress"]) == 0       # the table too


def test_a_published_zero_gives_a_null_difference_with_a_note(tmp_path, capsys):
    path = _write(tmp_path, "p.toml", _training("pub0", CONSTANT_DC,
                                                extra="published = { energy_mwh = 0, gross_tco2e = 0.1 }\n"))
    assert main(["run", str(path), "--format", "json"]) == 0
    pub = json.loads(capsys.readouterr().out)["workloads"][0]["published"]
    assert pub["energy_mwh"]["relative_difference"] is None
    assert pub["energy_mwh"]["relative_difference_note"] == "undefined: the published value is 0"
    assert pub["gross_tco2e"]["relative_difference"] == pytest.approx(0.06864 * 0.429 / 0.1 - 1)
    assert main(["run", str(path)]) == 0
    diff = [line for line in capsys.readouterr().out.splitlines() if "difference" in line][0]
    assert " - " in diff and "%" in diff


def test_a_sweep_with_a_zero_carbon_run_has_no_infinite_spread_and_no_kg_in_x_best(tmp_path, capsys):
    path = _write(tmp_path, "p.toml", _training("sw", CONSTANT_DC))
    args = ["sweep", str(path), "--set", "datacenters.dc.grid_intensity_gco2e_per_kwh=0,429", "--no-progress"]
    assert main(args + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["spread"] is None and "no gross CO2e" in doc["spread_note"]
    assert [r["ratio_to_best"] for r in doc["rows"]] == [None, None]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "worst / best undefined" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1] in "12" and "unspecified" in line]
    assert [r[-1] for r in rows] == ["-", "-"]      # the x best column shows no ratio, never kg


def test_a_closed_pipe_ends_quietly_with_exit_0():
    for args in (["regions", "--all"], ["hardware"], ["schema"], ["--help"]):
        p = subprocess.run(f"{sys.executable} -m carbonsim {' '.join(args)} | head -c 10 >/dev/null; "
                           "exit ${PIPESTATUS[0]}", shell=True, executable="/bin/bash", capture_output=True,
                           text=True, timeout=120)
        assert p.returncode == 0, (args, p.stderr)
        assert p.stderr == "", (args, p.stderr)


# ---------------------------------------------------------------------------
# Kernels from the Python API: arguments checked before any compiled loop runs
# ---------------------------------------------------------------------------


def _table(n_dc=2, hours=4):
    from carbonsim.sim.accounting import IntensityTable
    return IntensityTable.constant(dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc), hours,
                                   {f"dc{i}": (100.0 * (i + 1), 50.0) for i in range(n_dc)})


@pytest.mark.parametrize("num_threads", [0, -3, 1.5, True, "4"])
def test_integrate_refuses_a_bad_thread_count(num_threads):
    from carbonsim.sim.accounting import integrate
    with pytest.raises(ValueError, match="num_threads"):
        integrate([0.0], [10.0], [100.0], [0], _table(), num_threads=num_threads)


def test_integrate_clamps_a_huge_thread_count_and_gives_the_same_result():
    from carbonsim.sim.accounting import integrate
    args = ([0.0, 100.0], [3600.0, 7300.0], [100.0, 250.0], [0, 1], _table())
    e1, w1 = integrate(*args, num_threads=1)
    e2, w2 = integrate(*args, num_threads=100000)       # was a segfault
    assert np.array_equal(e1, e2) and np.array_equal(w1, w2)


@pytest.mark.parametrize("field,value,match", [
    ("datacenter", [2 ** 32], "outside the intensity table"),
    ("datacenter", [1.9], "whole numbers"), ("datacenter", [-1], "outside the intensity table"), ("datacenter", [True], "integers"),
    ("start_s", [0j + 1], "real numbers"), ("start_s", ["0"], "real numbers"),
    ("end_s", [np.nan], "outside the intensity table"), ("power_w", [np.inf], "finite")])
def test_integrate_checks_dtype_range_and_finiteness(field, value, match):
    from carbonsim.sim.accounting import integrate
    args = {"start_s": [0.0], "end_s": [10.0], "power_w": [100.0], "datacenter": [0]}
    args[field] = value
    with pytest.raises((ValueError, SimulationError), match=match):
        integrate(args["start_s"], args["end_s"], args["power_w"], args["datacenter"], _table())


@pytest.mark.parametrize("start,end,dc,match", [
    (-1.0, 10.0, 0, r"lie in \[0"), (0.0, 5 * 3600.0, 0, r"lie in \[0"), (10.0, 5.0, 0, "end at or after"),
    (0.0, 10.0, 2, "outside the intensity table")])
def test_hourly_energy_checks_its_intervals(start, end, dc, match):
    from carbonsim.sim.accounting import hourly_energy
    with pytest.raises((ValueError, SimulationError), match=match):
        hourly_energy([start], [end], [100.0], [dc], 2, 4)


def test_hourly_energy_on_good_intervals_is_the_energy():
    from carbonsim.sim.accounting import hourly_energy
    out = hourly_energy([1800.0, 0.0], [5400.0, 14400.0], [100.0, 10.0], [0, 1], 2, 4)
    assert out.shape == (2, 4)
    assert out[0].tolist() == [180000.0, 180000.0, 0.0, 0.0] and out[1].tolist() == [36000.0] * 4


def test_latency_percentile_must_be_between_0_and_100():
    from carbonsim.sim import serving
    res = serving.simulate(_config(), np.full(2, 5.0), seed=1, mode="requests")
    assert 0 < res.latency_percentile(50) <= res.latency_percentile(99)
    for q in (150, -1, float("nan")):
        with pytest.raises(ValueError, match="between 0 and 100"):
            res.latency_percentile(q)


def test_compare_fluid_hours_must_be_in_the_run():
    from carbonsim.model.errors import ScenarioError
    from carbonsim.sim.serving import compare_fluid
    for hours in ([-1], [3], [0.5]):
        with pytest.raises(ScenarioError, match="hours: must be whole hour numbers between 0 and 2"):
            compare_fluid(_config(), np.full(3, 5.0), seed=1, hours=hours)


def _config():
    from carbonsim.sim.serving import Batching, ServingConfig
    return ServingConfig(chip_busy_w=300.0, chip_idle_w=100.0, chips_per_replica=1, replicas=2,
                         batching=Batching(max_batch_size=8, max_wait_s=0.01, latency_fixed_s=0.01,
                                           latency_per_query_s=0.001))


# ---------------------------------------------------------------------------
# Sweeps of things that cannot be swept
# ---------------------------------------------------------------------------


def test_sweep_refuses_a_distribution_in_regions_or_a_sampled_start(tmp_path, capsys):
    doc = _training("ds", 'pue = 1.1\ngrid = "eia:CISO"', start="START", extra="[sweep]\nregions = REGIONS\n")
    sampled = _write(tmp_path, "a.toml", doc.replace("START", '{ dist = "choice", values = [2022-01-01, 2022-03-01] }')
                     .replace("REGIONS", '["eia:CISO"]'))
    assert main(["sweep", str(sampled), "--months", "1,2", "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "workloads.training[0].start: is a distribution" in err and "carbonsim mc" in err
    regions = _write(tmp_path, "b.toml", doc.replace("START", "2022-01-01")
                     .replace("REGIONS", '["eia:CISO", { dist = "choice", values = ["eia:BPAT"] }]'))
    assert main(["sweep", str(regions), "--no-progress"]) == 2
    assert "sweep.regions[1]: must be a grid signal name" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Fuzzing the command line: exit 0 or 2, never 1, never a traceback, valid JSON on 0
# ---------------------------------------------------------------------------

FUZZ_BASE = {
    "schema_version": 1,
    "scenario": {"name": "fuzz"},
    "datacenters": {"dc": {"pue": 1.1, "grid": {"csv": "grid.csv"}}},
    "workloads": {"training": [{"name": "t", "hardware": "v100", "chips": 8, "datacenter": "dc",
                                "start": "2022-01-01", "duration_days": 1}]},
}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == -float("inf") else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"


def _fuzz_toml(doc) -> str:
    """The document as TOML, every table inline on its own line."""
    return "".join(f"{json.dumps(str(k))} = {_toml_value(v)}\n" for k, v in doc.items())


def test_fuzz_the_cli_on_random_documents_and_csv_files(tmp_path):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    import contextlib
    import copy
    import io

    scalars = st.one_of(st.integers(-10 ** 20, 10 ** 20), st.floats(allow_nan=True, allow_infinity=True),
                        st.text(max_size=12), st.booleans(), st.dates().map(str))
    values = st.recursive(scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=6), c,
                                                                                          max_size=3), max_leaves=5)
    paths = st.sampled_from([("scenario", "name"), ("scenario", "start"), ("datacenters", "dc", "pue"),
                             ("datacenters", "dc", "grid"), ("datacenters", "dc", "cfe"),
                             ("workloads", "training", 0, "chips"), ("workloads", "training", 0, "start"),
                             ("workloads", "training", 0, "duration_days"), ("workloads", "training", 0, "hardware"),
                             ("workloads", "training", 0, "power_w_per_chip"), ("schema_version",),
                             ("workloads", "training", 0, "published")])
    cell = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=8),
                     st.integers(-10 ** 30, 10 ** 30).map(str))
    csv_rows = st.lists(st.tuples(st.sampled_from(["2022-01-01T{:02d}:00Z", "2022-01-{:02d}", "x{}", "1970-01-01T00:{:02d}Z"]),
                                  st.integers(0, 30), cell), max_size=30)

    seen = {0: 0, 2: 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
    @given(st.lists(st.tuples(paths, values | st.none()), max_size=3), csv_rows,
           st.sampled_from([["run"], ["validate"], ["run", "--format", "json"], ["run", "--hourly", "--format", "json"]]))
    def check(edits, rows, command):
        doc = copy.deepcopy(FUZZ_BASE)
        for path, v in edits:
            target = doc
            for k in path[:-1]:
                target = target[k] if isinstance(target, (dict, list)) else None
                if target is None:
                    break
            if isinstance(target, dict):
                if v is None:
                    target.pop(path[-1], None)
                else:
                    target[path[-1]] = v
            elif isinstance(target, list) and v is not None:
                target[path[-1]] = v
        (tmp_path / "grid.csv").write_text("timestamp,value\n" + "".join(
            f"{pat.format(h) if '{' in pat else pat},{c}\n" for pat, h, c in rows)
            if rows else "timestamp,value\n" + "".join(f"2022-01-01T{h:02d}:00Z,{300 + h}\n" for h in range(24))
            + "".join(f"2022-01-02T{h:02d}:00Z,{300 + h}\n" for h in range(24)))
        text = _fuzz_toml(doc)
        path = tmp_path / "fuzz.toml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main([command[0], str(path), *command[1:]])
        assert code in (0, 2), (text, err.getvalue())
        seen[code] += 1
        assert "internal error" not in err.getvalue() and "Traceback" not in err.getvalue()
        if code == 0 and "json" in command:
            json.loads(out.getvalue())
        if code == 2:
            assert err.getvalue().startswith("carbonsim")

    check()
    assert seen[0] and seen[2], seen       # the fuzzing reached both good and bad inputs


def test_request_level_traffic_past_two_to_the_32_an_hour_names_the_service(tmp_path, capsys):
    path = _write(tmp_path, "big.toml", SERVICE.replace("QPD", "4e11").replace("MODE", "requests")
                  .replace("max_replicas = 6", "max_replicas = 100000"))
    assert main(["run", str(path), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "big.toml: workloads.service[0]: a: " in err and "more than 2**32 requests in one hour" in err
    assert 'mode = "fluid"' in err


def test_fluid_batch_size_is_closed_form_and_matches_the_direct_sum():
    """E[min(B, 1 + N)], N ~ Poisson: the closed form against the sum over N, on random cases,
    and a batch limit of 100,000 costs no more than a limit of 8."""
    from scipy.stats import poisson
    from carbonsim.sim.serving_fluid import fluid_batch_size
    rng = np.random.default_rng(7)
    for _ in range(200):
        lam, batch, wait = 10 ** rng.uniform(-3, 4), int(rng.integers(1, 200)), 10 ** rng.uniform(-4, 0)
        mu = lam * wait
        n = np.arange(0, int(mu + 60 * np.sqrt(mu + 1) + batch + 60))
        direct = float(np.sum(np.minimum(batch, 1 + n) * poisson.pmf(n, mu)))
        assert fluid_batch_size([lam], batch, wait)[0] == pytest.approx(direct, rel=1e-9)
    big = fluid_batch_size(np.full(10, 1e9), 100_000, 0.05)
    assert np.allclose(big, 100_000.0)
