"""Monte Carlo studies as users run them: workers, Dask, checkpoints, the command line, shipped studies.

Every study's outputs are a pure function of each sample's inputs, so 1
worker, N workers, a Dask LocalCluster and a run killed midway then resumed
must all give the same bits.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim.cli import main
from carbonsim.cli.progress import ProgressBar
from carbonsim.model import uncertain as unc
from carbonsim.studies import execution
from carbonsim.studies import montecarlo as study
from carbonsim.studies.montecarlo import monte_carlo

ROOT = Path(__file__).resolve().parent.parent
GPT3 = ROOT / "scenarios" / "uncertainty-gpt3.toml"
LIFECYCLE = ROOT / "scenarios" / "uncertainty-lifecycle.toml"


def rerun_doc(days=30, seed=1):
    """A small fleet whose job arrival rate is uncertain (each sample re-runs the engine, ~20-50 ms)."""
    return {
        "schema_version": 1,
        "scenario": {"name": "rerun", "start": "2022-01-01",
                     "end": (dt.date(2022, 1, 1) + dt.timedelta(days=days)).isoformat(), "seed": seed},
        "datacenters": {"dc": {"pue": {"dist": "uniform", "low": 1.05, "high": 1.3}, "grid": "eia:ERCO",
                               "pools": {"a100": {"chips": 64, "idle_w_per_chip": {"dist": "uniform", "low": 30,
                                                                                   "high": 70}}}}},
        "workloads": {"job_stream": [{
            "name": "jobs", "hardware": "a100", "datacenter": "dc",
            "rate_per_day": {"dist": "triangular", "low": 10, "mode": 20, "high": 40},
            "chips": {"dist": "choice", "values": [1, 2, 4, 8]},
            "duration_hours": {"dist": "lognormal", "median": 4, "sigma": 1, "high": 48},
            "power_w_per_chip": {"dist": "uniform", "low": 250, "high": 400}}]},
    }


def write(tmp_path, doc, name="study.toml") -> Path:
    """A document as a TOML file (only the shapes used here)."""
    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return json.dumps(v)
        return repr(v)

    lines = ["schema_version = 1", "[scenario]"] + [f"{k} = {value(v)}" for k, v in doc["scenario"].items()]
    for name_, dc in doc["datacenters"].items():
        lines.append(f"[datacenters.{name_}]")
        lines += [f"{k} = {value(v)}" for k, v in dc.items() if k != "pools"]
        for hw, pool in dc.get("pools", {}).items():
            lines.append(f"[datacenters.{name_}.pools.{hw}]")
            lines += [f"{k} = {value(v)}" for k, v in pool.items()]
    for kind, items in doc["workloads"].items():
        for w in items:
            lines.append(f"[[workloads.{kind}]]")
            lines += [f"{k} = {value(v)}" for k, v in w.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------------------------------------------------------------------------
# Determinism across execution backends
# ---------------------------------------------------------------------------


def test_one_worker_and_a_process_pool_give_the_same_bits():
    one = monte_carlo(rerun_doc(), samples=12, workers=1)
    two = monte_carlo(rerun_doc(), samples=12, workers=2)
    assert one.backend == "serial" and two.backend == "processes"
    assert one.engine_runs == 12
    assert np.array_equal(one.values, two.values) and np.array_equal(one.inputs, two.inputs)


def test_dask_local_cluster_gives_the_same_bits():
    pytest.importorskip("distributed")
    one = monte_carlo(rerun_doc(), samples=8, workers=1)
    dask = monte_carlo(rerun_doc(), samples=8, workers=2, dask="local")
    assert dask.backend == "dask-local"
    assert np.array_equal(one.values, dask.values)


def test_a_per_sample_seed_is_independent_of_workers():
    a = monte_carlo(rerun_doc(), samples=6, vary_seed=True, workers=1)
    b = monte_carlo(rerun_doc(), samples=6, vary_seed=True, workers=2)
    assert a.engine_runs == 6 and np.array_equal(a.values, b.values)
    fixed = monte_carlo(rerun_doc(), samples=6)
    assert not np.array_equal(a.values, fixed.values)      # the Poisson arrivals differ per sample
    assert a.to_dict()["scenario_seed"].startswith("per sample")


def test_reweight_only_studies_need_one_engine_run():
    doc = rerun_doc()
    doc["workloads"]["job_stream"][0]["rate_per_day"] = 20
    r = monte_carlo(doc, samples=2000, workers=2)
    assert r.engine_runs == 1 and r.backend == "serial" and r.n == 2000
    with_seeds = monte_carlo(doc, samples=4, vary_seed=True)
    assert with_seeds.engine_runs == 4 and set(with_seeds.effects) == {unc.SCHEDULE}


def test_the_work_pickles_for_any_process_start_method():
    """What a worker gets travels by plain pickle (spawn, forkserver, Dask) and computes the same bits."""
    u = unc.parse(rerun_doc())
    pl = study.plan(u)
    x = u.transform(u.design(4, "sobol", 0))
    schedule = tuple(j for j in range(len(u.sampled)) if j not in pl.reweighted)
    ctx = execution.StudyContext(u, x, None, schedule, pl.mapping, pl.layout, "test")
    chunk = [(k, np.array([i])) for i, k in enumerate(ctx.keys(np.arange(4)))]
    here = execution.run_chunk(ctx, chunk)
    there = execution.run_chunk(pickle.loads(pickle.dumps(ctx)), chunk)
    assert here[0] == there[0] == "ok"
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(here[1], there[1]))


def test_progress_bar_on_a_terminal_only():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream=stream)
        bar.start(10)
        for _ in range(10):
            bar.update(1)
        bar.close()
    assert "10/10 samples" in tty.getvalue() and "ETA" in tty.getvalue()
    assert pipe.getvalue() == ""


# ---------------------------------------------------------------------------
# Checkpoints: Ctrl-C and kill, then --resume
# ---------------------------------------------------------------------------


def _uncertainty(path):
    d = json.loads(Path(path).read_text())
    u = d.pop("uncertainty")
    for k in ("seconds", "backend"):
        u.pop(k)
    return d, u


def _checkpoint_done(path) -> int:
    try:
        with np.load(path) as z:
            return int(z["done"].sum())
    except (OSError, ValueError, KeyError, EOFError):
        return 0


def _start(args, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "carbonsim.cli", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_progress(proc, ckpt, total, at_least, timeout=60):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        done = _checkpoint_done(ckpt)
        if done >= at_least:
            return done
        if proc.poll() is not None:
            pytest.fail(f"the study ended before it could be interrupted: {proc.stderr.read()}")
        time.sleep(0.05)
    pytest.fail("no checkpoint appeared")


def test_interrupt_and_kill_then_resume_lose_nothing(tmp_path):
    psutil = pytest.importorskip("psutil")
    doc = rerun_doc(days=45)
    scenario = write(tmp_path, doc)
    n = 64
    common = ["mc", str(scenario), "-n", str(n), "--format", "json", "--checkpoint-every", "0.1", "--no-progress"]
    ckpt = tmp_path / "study.ckpt.npz"

    # 1. Ctrl-C (SIGINT) midway: exit 130, the checkpoint holds what was done
    p = _start(common + ["--workers", "1", "--checkpoint", str(ckpt), "-o", "out.json"], tmp_path)
    _wait_for_progress(p, ckpt, n, 1)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted after" in err and "--resume" in err
    first = _checkpoint_done(ckpt)
    assert 1 <= first < n

    # 2. resume on a pool of 2 workers, then kill -9 the parent midway: its workers go too
    p = _start(common + ["--workers", "2", "--checkpoint", str(ckpt), "--resume", "-o", "out.json"], tmp_path)
    _wait_for_progress(p, ckpt, n, first + 2)
    children = psutil.Process(p.pid).children(recursive=True)
    p.kill()
    p.communicate(timeout=60)
    second = _checkpoint_done(ckpt)
    assert first < second < n, (first, second)
    gone, alive = psutil.wait_procs(children, timeout=10)
    assert not alive, "workers outlived a killed study"

    # 3. resume to the end: the same result as an uninterrupted run, and no checkpoint left behind
    p = _start(common + ["--workers", "1", "--checkpoint", str(ckpt), "--resume", "-o", "resumed.json"], tmp_path)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert not ckpt.exists()
    assert main(common + ["--workers", "2", "--checkpoint", str(tmp_path / "other.npz"),
                          "-o", str(tmp_path / "straight.json")]) == 0
    assert _uncertainty(tmp_path / "resumed.json") == _uncertainty(tmp_path / "straight.json")


def test_a_checkpoint_of_another_study_is_refused(tmp_path, capsys):
    scenario = write(tmp_path, rerun_doc())
    ckpt = tmp_path / "c.npz"
    r = monte_carlo(rerun_doc(), samples=4, checkpoint=ckpt, checkpoint_every=0.0, source=str(scenario))
    assert r.n == 4 and not ckpt.exists()          # removed once the study completed
    fp = "0" * 64
    with open(ckpt, "wb") as f:
        np.savez(f, fingerprint=np.array(fp), done=np.zeros(4, bool), values=np.zeros((4, r.layout.n_out)))
    assert main(["mc", str(scenario), "-n", "4", "--checkpoint", str(ckpt), "--resume", "--workers", "1"]) == 2
    assert "the checkpoint is of another study" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def test_cli_table_and_json(tmp_path, capsys):
    assert main(["mc", str(GPT3), "-n", "2048", "--sensitivity", "--bootstrap", "200",
                 "--checkpoint", str(tmp_path / "c.npz")]) == 0
    out = capsys.readouterr().out
    assert "90% interval" in out and "driven mostly by datacenters.microsoft-2020.grid_intensity" in out
    assert "what drives the variance of total CO2e" in out
    assert main(["mc", str(GPT3), "-n", "1024", "--format", "json", "--percentiles", "2.5,97.5",
                 "--checkpoint", str(tmp_path / "c.npz"), "-o", str(tmp_path / "r.json")]) == 0
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["totals"]["co2e_kg"]["net"] > 0               # the nominal run's result contract
    u = d["uncertainty"]
    assert u["samples"] == 1024 and u["method"] == "sobol" and u["seed"] == 2021
    assert set(u["totals"]["total_co2e_kg"]["percentiles"]) == {"2.5", "97.5"}
    assert [i["effect"] for i in u["inputs"]] == ["re-weighted"] * 3


def test_cli_bad_input_exits_2_with_the_path(tmp_path, capsys):
    doc = rerun_doc()
    doc["datacenters"]["dc"]["pue"] = {"dist": "uniform", "low": 1.3, "high": 1.05}
    path = write(tmp_path, doc)
    assert main(["mc", str(path), "-n", "8"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: datacenters.dc.pue.low: must not exceed high (1.05), got 1.3" in err
    doc["datacenters"]["dc"]["pue"] = 1.1
    doc["datacenters"]["dc"]["pools"]["a100"]["idle_w_per_chip"] = 40
    doc["workloads"]["job_stream"][0] = {**doc["workloads"]["job_stream"][0], "rate_per_day": 10,
                                         "power_w_per_chip": 300}
    assert main(["mc", str(write(tmp_path, doc, "plain.toml")), "-n", "8"]) == 2
    assert "no uncertain inputs" in capsys.readouterr().err
    assert main(["mc", str(GPT3), "-n", "1"]) == 2
    assert "--samples: must be at least 2" in capsys.readouterr().err


def test_cli_plots(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["mc", str(GPT3), "-n", "512", "--sensitivity", "--bootstrap", "50", "--plot", str(tmp_path / "p"),
                 "--checkpoint", str(tmp_path / "c.npz")]) == 0
    assert (tmp_path / "p" / "total_co2e.png").stat().st_size > 1000
    assert (tmp_path / "p" / "tornado.png").stat().st_size > 1000


# ---------------------------------------------------------------------------
# The shipped studies
# ---------------------------------------------------------------------------


def test_gpt3_study_brackets_the_published_figure():
    r = monte_carlo(GPT3, samples=4096, sensitivity=True, bootstrap=200)
    med, lo, hi = r.interval()
    # Patterson et al. 2021 Table 4: 552.1 tCO2e for GPT-3
    assert lo < 552.1e3 < hi
    assert 0.1 < (hi - lo) / med < 0.4
    top = r.scenario.sampled[r.ranking()[0]].path
    assert top == "datacenters.microsoft-2020.grid_intensity_gco2e_per_kwh"
    assert r.engine_runs == 1


def test_lifecycle_study_reruns_for_traffic_and_region():
    r = monte_carlo(LIFECYCLE, samples=4, workers=1)
    effects = {i.path: e for i, e in zip(r.scenario.sampled, r.effects)}
    assert effects["workloads.job_stream[0].rate_per_day"] == unc.SCHEDULE
    assert effects["datacenters.fleet.grid"] == unc.SCHEDULE
    assert effects["datacenters.fleet.pue"] == unc.REWEIGHT
    assert r.engine_runs == 4 and set(r.layout.phases) == {"training", "experimentation", "idle"}


def _hook_wired() -> bool:
    try:
        carbonsim.load(GPT3)
    except carbonsim.ScenarioError:
        return False
    return True


@pytest.mark.skipif(not _hook_wired(), reason="needs carbonsim.model.uncertain.nominal called from scenario.resolve")
def test_run_on_a_file_with_distributions_runs_the_nominal_case(capsys):
    r = carbonsim.load(GPT3).run()
    assert any("ran the nominal case, each at its median" in w for w in r.warnings)
    nominal = unc.nominal(unc.parse(carbonsim.model.read_toml(GPT3)).document)
    w = nominal["workloads"]["training"][0]
    assert r.workload("GPT-3").power_w_per_chip == w["power_w_per_chip"] == 330
    assert main(["run", str(GPT3)]) == 0
    assert "ran the nominal case" in capsys.readouterr().out


def test_a_service_is_reweighted_by_its_energy():
    """Workloads whose intervals do not draw chips x one power figure (inference services) are
    re-weighted by their recorded energy: PUE, grid and embodied inputs still need no re-run."""
    if "service" not in carbonsim.model.WorkloadsSpec.model_fields:
        pytest.skip("no service workloads in this version")
    doc = carbonsim.model.read_toml(ROOT / "scenarios" / "lifecycle-serving.toml")
    doc["workloads"]["service"][0]["duration_days"] = 10
    doc["datacenters"]["us-cloud"]["pue"] = {"dist": "uniform", "low": 1.08, "high": 1.2}
    doc["datacenters"]["us-cloud"]["grid_intensity_gco2e_per_kwh"] = {"dist": "uniform", "low": 350, "high": 500}
    doc["hardware"] = {"a100": {"embodied_kgco2e": {"dist": "uniform", "low": 100, "high": 300}}}
    r = monte_carlo(doc, samples=64)
    assert r.engine_runs == 1 and not r.warnings
    from carbonsim.model import resolve
    from carbonsim.sim.simulate import run
    for i in range(3):
        full = study.outputs_of(run(resolve(r.scenario.document_at(r.inputs[i]))), r.layout)
        np.testing.assert_allclose(r.values[i], full, rtol=1e-9)
