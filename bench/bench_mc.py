"""Speed of Monte Carlo studies beside the naive loop, in one run.

The study: ``scenarios/patterson2021.toml`` (six training runs, Patterson et al.
2021 Table 4) with 18 uncertain inputs - each run's measured power per chip
(normal, with Table 3's relative standard deviation of its accelerator), each
datacenter's PUE (triangular, -2% / +5%) and grid scale (triangular 0.85 / 1 /
1.15).  None of them changes the schedule, so a study runs the engine once and
re-weights it for every sample.

- ``mc-10k``: ``carbonsim.studies.montecarlo.monte_carlo`` with 10,000 samples, in-process
  (the first round also pays scipy's import);
- ``mc-10k-sensitivity``: the same with Sobol' indices (16,384 x 20 evaluations,
  1,000 bootstrap resamples) and the tornado;
- ``cli-10k``: ``carbonsim mc`` as a user runs it, a new process (Python start,
  imports, parse, study, output);
- ``naive``: the re-run-everything loop: per sample, write the values into
  the document, resolve it, run the engine and the kernel, build the result
  (timed on a sample of NAIVE samples; per-sample time x 10,000 is the
  equivalent).

Run with ``python -m pytest bench/bench_mc.py -m benchmark``; the summary
(seconds, samples/s, the fast / naive ratio and the 10 s goal) is printed
at the end.  Figures: ``bench/README-mc.md``.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carbonsim.studies import montecarlo as study
from carbonsim.model import uncertain as unc
from carbonsim.model.hardware import CATALOG
from carbonsim.model import read_toml, resolve
from carbonsim.sim.simulate import run

ROOT = Path(__file__).resolve().parent.parent
PATTERSON = ROOT / "scenarios" / "patterson2021.toml"
N = 10_000
NAIVE = 200
GOAL_S = 10.0
TIMES: dict[str, float] = {}


def uncertain_patterson() -> dict:
    doc = read_toml(PATTERSON)
    for dc in doc["datacenters"].values():
        dc["pue"] = {"dist": "triangular", "low": round(dc["pue"] * 0.98, 4), "mode": dc["pue"],
                     "high": round(dc["pue"] * 1.05, 4)}
        dc["grid_scale"] = {"dist": "triangular", "low": 0.85, "mode": 1.0, "high": 1.15}
    for w in doc["workloads"]["training"]:
        rel = CATALOG[w["hardware"]].system_power_rel_std or 0.05     # Patterson et al. Table 3
        w["power_w_per_chip"] = {"dist": "normal", "mean": w["power_w_per_chip"], "rel_std": rel}
    return doc


@pytest.fixture(scope="module")
def doc():
    return uncertain_patterson()


@pytest.fixture(scope="module", autouse=True)
def summary(request):
    yield
    tr = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    if tr is None or not TIMES:
        return
    if capture is not None:
        with capture.global_and_fixture_disabled():
            _summary(tr.write_line)
    else:
        _summary(tr.write_line)


def _summary(w):
    w("")
    w("carbonsim Monte Carlo summary (min over rounds; patterson2021 with 18 uncertain inputs)")
    for key, label in (("mc-10k", "monte_carlo, 10,000 samples"),
                       ("mc-10k-sensitivity", "monte_carlo + Sobol' indices + tornado"),
                       ("cli-10k", "carbonsim mc, 10,000 samples (new process)")):
        if key in TIMES:
            w(f"  {label:<46} {TIMES[key]:8.2f} s")
    if "naive" in TIMES:
        per = TIMES["naive"] / NAIVE
        w(f"  {'naive loop, per sample':<46} {per * 1e3:8.2f} ms  (x 10,000 = {per * N:.0f} s)")
        if "mc-10k" in TIMES:
            w(f"  {'fast / naive speed ratio (10,000 samples)':<46} {per * N / TIMES['mc-10k']:8.0f} x")
    key = "cli-10k" if "cli-10k" in TIMES else "mc-10k" if "mc-10k" in TIMES else None
    if key is not None:
        worst = TIMES[key + "-max"]
        w(f"  goal: 10,000 samples in under {GOAL_S:g} s, worst round of {key}: "
          f"{'met' if worst < GOAL_S else 'NOT met'} ({worst:.2f} s; best {TIMES[key]:.2f} s)")


def _record(benchmark, key):
    stats = getattr(benchmark, "stats", None)
    if stats is not None:
        TIMES[key] = stats.stats.min
        TIMES[key + "-max"] = stats.stats.max


@pytest.mark.benchmark
def test_mc_10k(benchmark, doc):
    r = benchmark.pedantic(lambda: study.monte_carlo(doc, samples=N), rounds=3, iterations=1)
    assert r.n == N and r.engine_runs == 1
    _record(benchmark, "mc-10k")


@pytest.mark.benchmark
def test_mc_10k_sensitivity(benchmark, doc):
    r = benchmark.pedantic(lambda: study.monte_carlo(doc, samples=N, sensitivity=True), rounds=2, iterations=1)
    assert r.sensitivity is not None
    _record(benchmark, "mc-10k-sensitivity")


@pytest.mark.benchmark
def test_cli_10k(benchmark, doc, tmp_path):
    path = tmp_path / "patterson-uncertain.toml"
    path.write_text(_toml(doc))
    cmd = [sys.executable, "-m", "carbonsim.cli", "mc", str(path), "-n", str(N), "--format", "json",
           "-o", str(tmp_path / "out.json"), "--checkpoint", str(tmp_path / "c.npz")]
    benchmark.pedantic(lambda: subprocess.run(cmd, check=True), rounds=3, iterations=1)
    _record(benchmark, "cli-10k")


@pytest.mark.benchmark
def test_naive_loop(benchmark, doc):
    u = unc.parse(doc)
    x = u.transform(u.design(NAIVE, "sobol", 0))
    layout = study.Layout.of(resolve(u.nominal_document))

    def loop():
        out = np.empty((NAIVE, layout.n_out))
        for i in range(NAIVE):
            out[i] = study.outputs_of(run(resolve(u.document_at(x[i]))), layout)
        return out

    naive = benchmark.pedantic(loop, rounds=2, iterations=1)
    _record(benchmark, "naive")
    # the same answers as the fast path
    pl = study.plan(u)
    np.testing.assert_allclose(pl.basis.evaluate(x), naive, rtol=1e-9)


def _toml(doc) -> str:
    """The benchmark's document as TOML (dates, tables, arrays of tables, inline tables)."""
    import datetime as dt
    import json

    def value(v):
        if isinstance(v, dict):
            return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
        if isinstance(v, list):
            return "[" + ", ".join(value(x) for x in v) + "]"
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()
        return repr(v)

    lines = [f"schema_version = {doc['schema_version']}", "[scenario]"]
    lines += [f"{k} = {value(v)}" for k, v in doc["scenario"].items()]
    for name, dc in doc["datacenters"].items():
        lines.append(f"[datacenters.{name}]")
        lines += [f"{k} = {value(v)}" for k, v in dc.items()]
    for w in doc["workloads"]["training"]:
        lines.append("[[workloads.training]]")
        lines += [f"{k} = {value(v)}" for k, v in w.items()]
    return "\n".join(lines) + "\n"



LIFECYCLE = ROOT / "scenarios" / "uncertainty-lifecycle.toml"
LIFECYCLE_GOAL_S = 300.0


@pytest.mark.benchmark
def test_lifecycle_study_on_both_engines(tmp_path):
    """`carbonsim mc scenarios/uncertainty-lifecycle.toml -n 4096 --sensitivity --workers 2` as a user runs
    it (wall time, a new process) on the compiled fleet core; beside it, the same study with 256 samples on
    each engine (the schedule-changing samples re-run the engine: the ratio is the engine's share)."""
    import time as _time
    times = {}
    for engine, n in (("simpy", 256), ("compiled", 256), ("compiled", 4096)):
        t = _time.monotonic()
        subprocess.run([sys.executable, "-m", "carbonsim", "mc", str(LIFECYCLE), "-n", str(n), "--sensitivity",
                        "--workers", "2", "--engine", engine, "--no-progress", "-o", str(tmp_path / f"{engine}{n}.txt")],
                       check=True, cwd=tmp_path)
        times[(engine, n)] = _time.monotonic() - t
    ratio = times[("simpy", 256)] / times[("compiled", 256)]
    print(f"\nuncertainty-lifecycle, --sensitivity, 2 workers: 256 samples {times[('simpy', 256)]:.1f} s on SimPy, "
          f"{times[('compiled', 256)]:.1f} s compiled ({ratio:.1f}x); 4096 samples compiled "
          f"{times[('compiled', 4096)]:.1f} s (goal < {LIFECYCLE_GOAL_S:.0f} s)")
    assert times[("compiled", 4096)] < LIFECYCLE_GOAL_S
