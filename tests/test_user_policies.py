"""User policies in Python (docs/scenario-format.md, "User policies in Python"): the documented
example runs from a scenario file, in the engine, in `carbonsim mc` workers and on Dask, and
every broken policy is a one-line error with exit code 2."""
import json
import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim.cli.main import main

DOC = (Path(__file__).resolve().parent.parent / "docs" / "scenario-format.md").read_text()
SECTION = DOC[DOC.index("## User policies in Python"):]
EXAMPLE = re.search(r"```python\n(# mypolicies.py\n.*?)```", SECTION, re.S).group(1)
EXAMPLE_TOML = re.search(r"```toml\n(.*?)```", SECTION, re.S).group(1)

HEADER = """schema_version = 1
[scenario]
name = "user-policy"
seed = 7
start = 2022-03-01
end = 2022-03-08
[datacenters.texas]
pue = 1.1
grid = "eia:ERCO"
[datacenters.texas.pools.a100]
chips = 64
[datacenters.california]
pue = 1.1
grid = "eia:CISO"
[datacenters.california.pools.a100]
chips = 64
"""


def write(tmp_path: Path, toml: str, module: str | None = EXAMPLE, name="mypolicies") -> Path:
    if module is not None:
        (tmp_path / f"{name}.py").write_text(module)
    f = tmp_path / "s.toml"
    f.write_text(HEADER + toml)
    return f


def run_json(capsys, *argv) -> tuple[int, dict | None, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 and out.strip() else None), err


def test_the_documented_example_runs_from_a_scenario_file(tmp_path):
    f = write(tmp_path, EXAMPLE_TOML)
    result = carbonsim.run(str(f))
    jobs = result.jobs
    assert len(jobs["submit_s"]) > 100
    t0 = jobs["t0"]
    hours = np.array([(t0.hour + math.floor(s / 3600)) % 24 for s in jobs["start_s"]])
    delayed = jobs["start_s"] > jobs["submit_s"] + 1e-6
    # the rule of the example: every delayed job starts in a night hour (22..5 UTC) on an hour boundary
    assert delayed.any()
    assert np.all((hours[delayed] >= 22) | (hours[delayed] < 6))
    on_hour = np.isclose(np.mod(jobs["start_s"][delayed], 3600), 0) | \
        np.isclose(np.mod(jobs["start_s"][delayed], 3600), 3600)
    # a job may queue for chips after its planned start, so on the hour for those that did not wait
    waited = jobs["wait_s"][delayed] > 1e-6
    assert np.all(on_hour | waited)
    # ... and never later than its deadline allows (2 h jobs, 24 h slack)
    assert np.all(jobs["start_s"] - jobs["submit_s"] - jobs["wait_s"] <= 24 * 3600 + 1e-6)
    # both datacenters are used: the example picks the cleaner forecast per job
    assert set(np.unique(jobs["datacenter"]).tolist()) == {0, 1}
    # the result compares with the baseline (run now at home), as for built-in policies
    assert result.baseline is not None


def test_the_example_plans_exactly_what_it_says_on_a_hand_worked_case(tmp_path, monkeypatch):
    """One job released at 20:30 UTC, 2 h long, 24 h slack: the first night hour is 22:00;
    datacenter chosen by the forecast integral over [22:00, 24:00)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "mypolicies.py").write_text(EXAMPLE)
    import importlib
    mod = importlib.import_module("mypolicies")
    from carbonsim.sim import custom
    from carbonsim.sim.fleet import Forecast
    import datetime as dt
    hourly = np.array([[300.0] * 48, [300.0] * 48])
    hourly[1, 22:24] = 100.0          # california is cleaner at 22:00-24:00
    fc = custom.ForecastView(Forecast(hourly), ["texas", "california"],
                             dt.datetime(2022, 3, 1, tzinfo=dt.timezone.utc), 20.5 * 3600)
    job = custom.Job(0, "w", "a100", 8, 2 * 3600.0, 20.5 * 3600, 20.5 * 3600 + 26 * 3600, "texas",
                     ("texas", "california"))
    plan = mod.NightOnly().plan(job, fc, [])
    assert plan == carbonsim.Plan("california", [(22 * 3600.0, 2 * 3600.0)])
    # with a 1 h slack no night start fits (22:00 + 2 h > 20:30 + 3 h): start now
    tight = custom.Job(0, "w", "a100", 8, 2 * 3600.0, 20.5 * 3600, 20.5 * 3600 + 3 * 3600, "texas", ("texas",))
    assert mod.NightOnly().plan(tight, fc, []).segments == [(20.5 * 3600, 2 * 3600.0)]


POLICY_TOML = """
[[workloads.job_stream]]
name = "jobs"
hardware = "a100"
datacenter = "texas"
rate_per_day = 12
chips = 8
duration_hours = {{ dist = "uniform", low = 1, high = 3 }}
policy = {{ python = "{ref}", slack_hours = 12, datacenters = ["texas", "california"] {extra}}}
"""

CLEANEST = """
import carbonsim

class Cleanest:
    '''Interruptible: run in the cheapest whole hours of the forecast (a simple user rule).'''
    def __init__(self, pieces=2):
        self.pieces = pieces

    def plan(self, job, forecast, pools):
        n = self.pieces
        part = job.length_s / n + job.overhead_s
        best = min(job.candidates, key=lambda dc: forecast.integral(dc, job.release_s, job.release_s + job.length_s))
        segs, t = [], job.release_s
        for _ in range(n):
            segs.append((t, part))
            t += part + 600.0
        return carbonsim.Plan(best, segs)
"""


def test_a_user_policy_with_segments_runs_them_as_planned(tmp_path):
    """Two planned segments 10 min apart, each L/2 + 6 min (the checkpoint overhead): the engine
    runs each job's busy intervals there, stopping when the job's work is done (like a plan for
    an estimated length), unless it queued for chips."""
    from carbonsim.sim.simulate import simulate
    f = write(tmp_path, POLICY_TOML.format(ref="cleanest:Cleanest", extra=", checkpoint_overhead_minutes = 6"),
              CLEANEST, "cleanest")
    sim = simulate(carbonsim.load(str(f)).validate())
    run = sim.accounted["policy"].run
    iv = run.intervals
    busy = iv["job"] >= 0
    work = sim.jobs.work_s
    assert len(work) > 20
    for i in range(len(work)):
        mine = np.flatnonzero(busy & (iv["job"] == i))
        if run.job_queue_s[i] > 0:
            continue
        assert len(mine) == 2
        (s0, s1), (e0, e1) = iv["start_s"][mine], iv["end_s"][mine]
        assert s0 == pytest.approx(sim.jobs.submit_s[i], abs=1e-6)
        assert e0 - s0 == pytest.approx(work[i] / 2 + 360, rel=1e-12)
        assert s1 - e0 == pytest.approx(600.0, abs=1e-6)
        # the plan holds 12 min more than needed (each piece has the overhead, the first needs none):
        # the first segment runs whole (L/2 + 6 min of work), the second only the rest plus its overhead
        assert e1 - s1 == pytest.approx(work[i] / 2 - 360 + 360, rel=1e-9)
        assert run.job_segments[i] == 2


@pytest.mark.parametrize("ref, module, extra, expect", [
    ("nosuchmodule_xyz:P", None, "", "no module named 'nosuchmodule_xyz'"),
    ("mypolicies:Missing", EXAMPLE, "", "has no attribute 'Missing'"),
    ("broken:P", "raise RuntimeError('boom')\n", "", "raised RuntimeError: boom"),
    ("mypolicies:NightOnly", EXAMPLE, ", params = { nope = 1 }", "params do not fit NightOnly"),
    ("noplan:P", "class P:\n    pass\n", "", "has no plan() method"),
])
def test_a_policy_that_cannot_be_used_is_a_one_line_error(tmp_path, capsys, ref, module, extra, expect):
    name = ref.split(":")[0]
    f = write(tmp_path, POLICY_TOML.format(ref=ref, extra=extra), module, name)
    code, _, err = run_json(capsys, "run", str(f), "--format", "json")
    assert code == 2, err
    assert expect in err
    assert "workloads.job_stream[0].policy.python" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


BAD_PLANS = {
    "outside the window": ("carbonsim.Plan(job.datacenter, [(job.deadline_s, job.length_s)])", "after the deadline"),
    "before release": ("carbonsim.Plan(job.datacenter, [(job.release_s - 100, job.length_s)])", "before the release"),
    "too little work": ("carbonsim.Plan(job.datacenter, [(job.release_s, job.length_s / 2)])", "less than"),
    "not a candidate": ("carbonsim.Plan('elsewhere', [(job.release_s, job.length_s)])", "not one of its candidates"),
    "overlapping": ("carbonsim.Plan(job.datacenter, [(job.release_s, job.length_s), (job.release_s, 10.0)])",
                    "overlapping"),
    "nan": ("carbonsim.Plan(job.datacenter, [(float('nan'), job.length_s)])", "must be finite"),
    "not a plan": ("42", "not a Plan"),
    "empty": ("carbonsim.Plan(job.datacenter, [])", "no segments"),
    "raises": ("1 / 0", "raised ZeroDivisionError"),
}


@pytest.mark.parametrize("case", sorted(BAD_PLANS))
def test_an_invalid_plan_stops_the_run_with_exit_2(tmp_path, capsys, case):
    body, expect = BAD_PLANS[case]
    module = f"import carbonsim\nclass P:\n    def plan(self, job, forecast, pools):\n        return {body}\n"
    name = "badplan_" + re.sub(r"\W", "_", case)      # one module per case: Python caches imported modules
    f = write(tmp_path, POLICY_TOML.format(ref=f"{name}:P", extra=""), module, name)
    code, _, err = run_json(capsys, "run", str(f), "--format", "json")
    assert code == 2, err
    assert expect in err and f"{name}:P.plan() for job" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_a_datacenter_without_the_hardware_is_refused(tmp_path, capsys):
    toml = POLICY_TOML.format(ref="anywhere:P", extra="").replace('"texas", "california"', '"texas", "oslo"')
    toml = '[datacenters.oslo]\npue = 1.1\ngrid = 20\n[datacenters.oslo.pools.v100]\nchips = 8\n' + toml
    module = "import carbonsim\nclass P:\n    def plan(self, job, forecast, pools):\n" \
             "        return carbonsim.Plan('oslo', [(job.release_s, job.length_s)])\n"
    f = write(tmp_path, toml, module, "anywhere")
    code, _, err = run_json(capsys, "run", str(f), "--format", "json")
    assert code == 2
    assert "no pool of 'a100'" in err or "cannot host" in err or "oslo" in err


@pytest.mark.parametrize("extra", ['shift = "window", ', 'placement = "lowest-carbon-now", ', 'interrupt = "threshold", '])
def test_builtin_rule_keys_beside_python_are_errors(tmp_path, capsys, extra):
    toml = POLICY_TOML.format(ref="mypolicies:NightOnly", extra="").replace("python =", extra + "python =")
    f = write(tmp_path, toml)
    code, _, err = run_json(capsys, "validate", str(f))
    assert code == 2
    assert "chooses the plan itself" in err


def test_params_without_python_are_an_error(tmp_path, capsys):
    toml = POLICY_TOML.format(ref="x:Y", extra="").replace('python = "x:Y", ', 'params = { a = 1 }, ')
    f = write(tmp_path, toml, None)
    code, _, err = run_json(capsys, "validate", str(f))
    assert code == 2 and "params are the keyword arguments of a python policy" in err


MC_TOML = EXAMPLE_TOML.replace("rate_per_day = 24", "rate_per_day = 6") + """
[datacenters.texas.grid_scale]
dist = "uniform"
low = 0.8
high = 1.2
"""


def _mc(tmp_path, *extra) -> dict:
    f = write(tmp_path, "")
    text = f.read_text().replace('grid = "eia:ERCO"', 'grid = "eia:ERCO"\ngrid_scale = { dist = "uniform", low = 0.8, '
                                                       'high = 1.2 }')
    f.write_text(text + EXAMPLE_TOML.replace("rate_per_day = 24", "rate_per_day = 6"))
    out = tmp_path / f"mc{len(extra)}{'-'.join(extra).replace('-', '')}.json"
    proc = subprocess.run([sys.executable, "-m", "carbonsim", "mc", str(f), "-n", "8", "--seed", "3", "--format",
                           "json", "-o", str(out), "--no-progress", *extra], capture_output=True, text=True,
                          cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def _outputs(doc: dict):
    u = doc["uncertainty"]
    assert u["engine_runs"] == 8 and u["totals"]["gross_co2e_kg"]["std"] > 0   # the policy re-ran per sample
    return json.dumps([doc["totals"], u["totals"], u["workloads"]], sort_keys=True)


def test_user_policies_run_in_mc_workers_with_identical_results(tmp_path):
    """The policy module sits beside the scenario (not on sys.path of the workers): it is found there
    in worker processes, and 1 or 2 workers give the same numbers."""
    one = _mc(tmp_path, "--workers", "1")
    two = _mc(tmp_path, "--workers", "2")
    assert _outputs(one) == _outputs(two)


@pytest.mark.slow
def test_user_policies_run_on_dask(tmp_path):
    pytest.importorskip("dask.distributed")
    one = _mc(tmp_path, "--workers", "1")
    dask = _mc(tmp_path, "--dask", "local", "--workers", "2")
    assert _outputs(one) == _outputs(dask)


def test_user_policy_scenarios_pickle_for_workers(tmp_path):
    import pickle
    f = write(tmp_path, EXAMPLE_TOML)
    policy = carbonsim.load(str(f)).validate().job_streams[0].policy
    again = pickle.loads(pickle.dumps(policy))     # a reference and plain data, not the class
    assert again == policy and not again.is_builtin and again.python == "mypolicies:NightOnly"


def test_a_user_policy_in_a_subprocess_without_the_folder_on_the_path(tmp_path):
    f = write(tmp_path, EXAMPLE_TOML)
    proc = subprocess.run([sys.executable, "-m", "carbonsim", "run", str(f), "--format", "json"],
                          capture_output=True, text=True, cwd="/", timeout=300)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["policy"]["savings"] is not None
