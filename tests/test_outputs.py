"""What people read and share: paper-ready tables and statements (golden files), figures, sweeps of
any value, per-job and per-workload frames, notebook displays, the progress bar and --help."""
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

import carbonsim
from carbonsim.cli import main
from carbonsim.cli.main import build_parser, parse_set
from carbonsim.cli.plots import input_label
from carbonsim.cli.progress import ProgressBar
from carbonsim.cli.tables import Table, fixed, latex_escape, markdown_table, mass, render
from carbonsim.model.errors import field_path, path_loc

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
GOLDEN = ROOT / "tests" / "golden"
SMALL = ROOT / "tests" / "data" / "report-small.toml"


def golden(name: str, text: str, regen: bool) -> None:
    """Compare ``text`` with tests/golden/NAME (``pytest --regen-expected`` rewrites it: review the diff)."""
    path = GOLDEN / name
    if regen or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert text == path.read_text(), f"{name} changed; if intended: pytest --regen-expected, review the diff"


def cli(capsys, *argv) -> str:
    assert main([*argv]) == 0
    return capsys.readouterr().out


# ---------------------------------------------------------------------------
# Golden files: Markdown, LaTeX, statements
# ---------------------------------------------------------------------------


def test_golden_run_markdown_and_latex(capsys, regen):
    golden("run-patterson2021.md", cli(capsys, "run", str(SCENARIOS / "patterson2021.toml"), "--format", "markdown"),
           regen)
    golden("run-patterson2021.tex", cli(capsys, "run", str(SCENARIOS / "patterson2021.toml"), "--format", "latex"),
           regen)


def test_golden_statement(capsys, regen):
    golden("statement-patterson2021.txt", cli(capsys, "statement", str(SCENARIOS / "patterson2021.toml")), regen)


def test_golden_statement_with_an_interval(capsys, regen):
    out = cli(capsys, "statement", str(SCENARIOS / "uncertainty-gpt3.toml"), "--samples", "256", "--format", "latex")
    assert "90\\% interval" in out and "Monte Carlo" in out
    golden("statement-uncertainty-gpt3.tex", out, regen)


def test_golden_compare_markdown(capsys, regen):
    out = cli(capsys, "compare", str(SCENARIOS / "lifecycle-serving.toml"), str(SCENARIOS / "lifecycle-serving-moe.toml"),
              "--format", "markdown")
    assert "| serving | A |" in out and "mean ms" in out
    golden("compare-lifecycle.md", out, regen)


def test_golden_sweep_markdown_and_latex(capsys, regen):
    args = ["sweep", str(SCENARIOS / "where-to-train.toml"), "--regions", "eia:BPAT,eia:CISO,em:DE-LU/lifecycle"]
    golden("sweep-where-to-train.md", cli(capsys, *args, "--format", "markdown"), regen)
    golden("sweep-where-to-train.tex", cli(capsys, *args, "--format", "latex"), regen)


def test_golden_mc_markdown(capsys, regen, tmp_path):
    out = cli(capsys, "mc", str(SCENARIOS / "uncertainty-gpt3.toml"), "-n", "256", "--sensitivity", "--bootstrap", "50",
              "--format", "markdown", "--no-progress", "--checkpoint", str(tmp_path / "c.npz"))
    assert sum(line.startswith(("|:---", "|---:")) for line in out.splitlines()) == 3    # three tables
    golden("mc-uncertainty-gpt3.md", out, regen)


def test_statement_names_hardware_hours_energy_grid_and_version():
    from carbonsim.cli.statement import statement
    result = carbonsim.load(SCENARIOS / "where-to-train.toml").run()
    text = statement(result)
    for part in ("accelerator-hours on tpu-v3", "PUE 1.12", "eia:BPAT", "EIA-930", "lifecycle basis",
                 f"carbonsim {carbonsim.__version__}", "embodied", "Sources:", "MWh"):
        assert part in text, part
    tex = statement(result, fmt="latex")
    assert tex.startswith("\\paragraph{Compute and emissions.}") and "\\footnote{Sources:" in tex
    assert "CO\\textsubscript{2}e" in tex and "_" not in tex.replace("\\_", "")
    md = statement(result, fmt="markdown")
    assert md.startswith("**Compute and emissions.**") and "CO₂e" in md


# ---------------------------------------------------------------------------
# Number formats and table rendering
# ---------------------------------------------------------------------------


def test_small_values_keep_their_digits():
    assert fixed(12.345) == "12.35" and fixed(0) == "0.00" and fixed(0.25) == "0.25"
    assert fixed(0.042) == "0.042" and fixed(0.0042) == "0.0042" and fixed(3.1e-6) == "3.1e-06"
    assert fixed(-0.003) == "-0.003" and fixed(0.0123, 3) == "0.012" and fixed(1234.5, comma=True) == "1,234.50"
    assert mass(216_200) == "216.20 t" and mass(340) == "340 kg" and mass(1.234) == "1.23 kg" and mass(0) == "0.00 t"


def test_a_small_run_shows_no_zero_for_nonzero_values(capsys):
    s = carbonsim.Scenario("tiny", start="2024-01-01")
    s.add_datacenter("dc", pue=1.1, grid_intensity_gco2e_per_kwh=50)
    s.add_training_run("probe", hardware="v100", chips=1, datacenter="dc", duration_hours=1)
    out = s.run().format_table()
    row = next(line for line in out.splitlines() if line.startswith("probe"))
    # 325 W x 1 h x PUE 1.1 = 0.3575 kWh; x 50 g/kWh = 17.9 g
    assert " 0.00 " not in row + " " and " 0.00036 " in row and " 1.8e-05 " in row
    assert "total CO2e (net operational + embodied): 0.0181 kg" in out   # with embodied


def test_markdown_and_latex_rendering():
    t = Table(["name", "value"], [["a_b & c", "1.00"], ["total", "2.00"]], right=frozenset({1}),
              caption="50% of CO2e", rules=frozenset({1}), notes=["note #1"])
    md = markdown_table(t)
    assert md.splitlines()[2:4] == ["| name | value |", "|:---|---:|"]
    assert "| a_b & c | 1.00 |" in md and md.startswith("**50% of CO2e**")
    tex = render(t, "latex")
    assert "\\caption{50\\% of CO\\textsubscript{2}e}" in tex and "a\\_b \\& c & 1.00 \\\\" in tex
    assert tex.index("\\midrule\ntotal") > 0 and "\\begin{tabular}{lr}" in tex and "note \\#1" in tex
    assert latex_escape("~^\\") == "\\textasciitilde{}\\textasciicircum{}\\textbackslash{}"


# ---------------------------------------------------------------------------
# Sweeps of any value
# ---------------------------------------------------------------------------


def two_runs():
    s = carbonsim.Scenario("grid", start="2022-06-01")
    s.add_datacenter("dc", pue=1.1, grid="eia:CISO", grid_overflow="wrap")
    s.add_training_run("run", hardware="v100", chips=8, datacenter="dc", duration_hours=24)
    return s


def test_paths_round_trip():
    for p in ("workloads.service[0].max_batch_size", 'datacenters."us east".pue', "scenario.seed"):
        assert field_path(path_loc(p)) == p
    with pytest.raises(ValueError):
        path_loc("workloads..training")


def test_sweep_over_a_value_and_regions():
    s = two_runs()
    r = carbonsim.sweep(s, {"workloads.training[0].chips": [8, 16]})
    assert [dict(row.settings) for row in r.rows] == [{"workloads.training[0].chips": 8},
                                                      {"workloads.training[0].chips": 16}]
    assert not r.ranked and r.rows[1].energy_kwh == pytest.approx(2 * r.rows[0].energy_kwh)
    grid = carbonsim.sweep(s, ["eia:BPAT", "eia:CISO"], values={"workloads.training[0].chips": [8, 16],
                                                               "datacenters.dc.pue": [1.1, 1.5]})
    assert len(grid.rows) == 8 and grid.ranked
    assert [r.gross_co2e_kg for r in grid.rows] == sorted(r.gross_co2e_kg for r in grid.rows)
    frame = grid.to_frame()
    assert {"workloads.training[0].chips", "datacenters.dc.pue", "region", "total_co2e_kg",
            "embodied_co2e_kg", "ratio_to_best"} <= set(frame.columns)
    assert len(frame) == 8
    d = grid.to_dict()
    assert d["parameters"] == ["workloads.training[0].chips", "datacenters.dc.pue"]
    assert d["rows"][0]["settings"] and "total_co2e_kg" in d["rows"][0]
    assert "<table" in grid._repr_html_() and repr(grid).startswith("<SweepResult grid: 8 runs")
    with pytest.raises(carbonsim.ScenarioError, match="no workloads.service"):
        carbonsim.sweep(s, {"workloads.service[0].max_batch_size": [1, 8]})


def service_doc(batch=8):
    return {"schema_version": 1, "scenario": {"name": "svc", "start": "2024-01-01"},
            "datacenters": {"dc": {"pue": 1.1, "grid_intensity_gco2e_per_kwh": 300}},
            "workloads": {"service": [{"name": "api", "hardware": "v100", "datacenter": "dc", "duration_days": 1,
                                       "queries_per_second": 5, "energy_wh_per_query": 0.01, "replicas": 2,
                                       "idle_w_per_chip": 60, "max_batch_size": batch, "batch_latency_ms": 20,
                                       "mode": "requests"}]}}


def test_sweep_of_a_service_carries_latency(tmp_path, capsys):
    path = tmp_path / "svc.toml"
    path.write_text(_toml(service_doc()))
    out = cli(capsys, "sweep", str(path), "--set", "workloads.service[0].max_batch_size=1,4,16", "--no-progress")
    head = out.splitlines()[1].split()
    assert head[:2] == ["run", "max_batch_size"] and "p99" in head
    rows = json.loads(cli(capsys, "sweep", str(path), "--set", "workloads.service[0].max_batch_size=1,16",
                          "--format", "json"))["rows"]
    assert [r["settings"]["workloads.service[0].max_batch_size"] for r in rows] == [1, 16]
    assert all({"p50", "p95", "p99", "mean"} <= set(r["serving"]["api"]["latency_s"]) for r in rows)
    text = cli(capsys, "sweep", str(path), "--set", "workloads.service[0].max_batch_size=1,16", "--format", "csv")
    records = list(csv.DictReader(io.StringIO(text)))
    assert len(records) == 2 and float(records[0]["api: latency p99 s"]) > 0
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    target = tmp_path / "sweep.parquet"
    assert main(["sweep", str(path), "--set", "workloads.service[0].max_batch_size=1,16", "--format", "parquet",
                 "-o", str(target)]) == 0
    assert len(pd.read_parquet(target)) == 2


def test_sweep_set_errors(tmp_path, capsys):
    assert parse_set("a.b=1,2.5,true,x,\"y\"") == ("a.b", [1, 2.5, True, "x", "y"])
    path = str(SCENARIOS / "where-to-train.toml")
    assert main(["sweep", path, "--set", "nonsense"]) == 2
    assert "--set: must be PATH=V1,V2" in capsys.readouterr().err
    assert main(["sweep", path, "--set", "workloads.training[3].chips=1,2"]) == 2
    assert "workloads.training[3].chips" in capsys.readouterr().err
    assert main(["sweep", path, "--format", "parquet"]) == 2
    assert "-o FILE.parquet" in capsys.readouterr().err


def _toml(doc) -> str:
    """A small TOML writer for the test documents (tables of scalars and arrays of tables)."""
    lines = []

    def value(v):
        return json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else repr(v)

    def table(prefix, d):
        scalars = {k: v for k, v in d.items() if not isinstance(v, (dict, list))}
        if prefix and scalars:
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {value(v)}" for k, v in scalars.items())
        for k, v in d.items():
            name = f"{prefix}.{k}" if prefix else k
            if isinstance(v, dict):
                table(name, v)
            elif isinstance(v, list):
                for item in v:
                    lines.append(f"[[{name}]]")
                    lines.extend(f"{a} = {value(b)}" for a, b in item.items())

    table("", doc)
    return "\n".join(lines) + "\n"


def test_compare_has_latency_columns(tmp_path):
    a = carbonsim.Scenario.from_dict(service_doc(1)).run()
    b = carbonsim.Scenario.from_dict(service_doc(16)).run()
    c = carbonsim.compare(a, b)
    sa, sb = c.services()["api"]
    assert sa["latency_s"]["p99"] != sb["latency_s"]["p99"]
    table = c.format_table()
    assert "p99 ms" in table and "serving: latency percentiles" in table
    assert c.to_dict()["serving"]["api"]["b"]["latency_s"]["p50"] == sb["latency_s"]["p50"]
    assert "<table" in c._repr_html_() and repr(c).startswith("<Comparison A: svc")


# ---------------------------------------------------------------------------
# Frames, jobs, notebook displays
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small():
    return carbonsim.load(SMALL).run(hourly=True)


def test_jobs_frame_adds_up(small):
    pytest.importorskip("pandas")
    jobs = small.jobs_frame()
    assert list(jobs.columns[:4]) == ["workload", "submit", "start", "end"]
    by = jobs.groupby("workload")[["energy_kwh", "gross_co2e_kg", "embodied_co2e_kg"]].sum()
    for w in small.workloads:
        if w.serving:
            assert w.name not in by.index          # services are not jobs
            continue
        assert by.loc[w.name, "energy_kwh"] == pytest.approx(w.energy_kwh, rel=1e-9)
        assert by.loc[w.name, "gross_co2e_kg"] == pytest.approx(w.gross_co2e_kg, rel=1e-9)
        assert by.loc[w.name, "embodied_co2e_kg"] == pytest.approx(w.embodied_co2e_kg, rel=1e-9)
    exp = jobs[jobs.workload == "experiments"]
    assert (exp.delay_hours >= 0).all() and exp.delay_hours.max() <= 12 + 1e-9     # the 12 h window
    assert str(jobs.start.dt.tz) == "UTC"


def test_hourly_frame_per_workload(small):
    pytest.importorskip("pandas")
    h = small.hourly_frame(by="workload")
    sums = h.groupby("workload")["energy_kwh"].sum()
    for w in small.workloads:
        assert sums[w.name] == pytest.approx(w.energy_kwh, rel=1e-9)
    assert sums["(idle capacity)"] == pytest.approx(small.idle.energy_kwh, rel=1e-9)
    assert h["net_co2e_kg"].sum() == pytest.approx(small.totals.net_co2e_kg, rel=1e-9)
    dc = small.hourly_frame()
    assert set(dc.datacenter) == {"california", "oregon"} and "intensity_gco2e_per_kwh" in dc.columns
    with pytest.raises(ValueError):
        small.hourly_frame(by="hardware")


def test_run_jobs_export(tmp_path, capsys):
    target = tmp_path / "jobs.csv"
    assert main(["run", str(SMALL), "--jobs", str(target), "--format", "json", "--no-progress"]) == 0
    result = json.loads(capsys.readouterr().out)
    rows = list(csv.DictReader(target.open()))
    exp = next(w for w in result["workloads"] if w["name"] == "experiments")
    assert len([r for r in rows if r["workload"] == "experiments"]) == exp["jobs"]
    assert set(rows[0]) >= {"submit", "start", "end", "wait_hours", "delay_hours", "datacenter", "energy_kwh",
                            "gross_co2e_kg", "net_co2e_kg"}
    assert sum(float(r["energy_kwh"]) for r in rows if r["workload"] == "experiments") == \
        pytest.approx(exp["energy_kwh"], rel=1e-9)
    pytest.importorskip("pyarrow")
    pd = pytest.importorskip("pandas")
    assert main(["run", str(SMALL), "--jobs", str(tmp_path / "jobs.parquet"), "--no-progress"]) == 0
    assert len(pd.read_parquet(tmp_path / "jobs.parquet")) == len(rows)


def test_notebook_displays(small):
    text = repr(small)
    assert text.startswith("<Result report-small: 3 workloads,") and len(text) < 200
    html = small._repr_html_()
    assert html.count("<table") == 1 and "experiments" in html and "<script" not in html


def test_uncertainty_frames_and_display():
    pytest.importorskip("pandas")
    r = carbonsim.monte_carlo(SCENARIOS / "uncertainty-gpt3.toml", samples=64)
    f = r.to_frame()
    assert len(f) == 64
    assert {inp.path for inp in r.scenario.sampled} <= set(f.columns)
    assert np.array_equal(f["total_co2e_kg"].to_numpy(), r.samples())
    assert "workload GPT-3: energy_kwh" in f.columns
    s = r.summary_frame()
    assert s.loc[("totals", "total", "total_co2e_kg"), "mean"] == pytest.approx(r.stats()["mean"])
    assert {"p5", "p95", "median", "sem"} <= set(s.columns)
    assert repr(r).startswith("<UncertaintyResult uncertainty-gpt3: total CO2e:") and len(repr(r)) < 300
    assert r._repr_html_().count("<table") == 2


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------


def test_plots_of_run_sweep_compare_and_mc(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["run", str(SMALL), "--plot", str(tmp_path / "run"), "--no-progress"]) == 0
    names = {p.name for p in (tmp_path / "run").iterdir()}
    assert {f"{n}.{e}" for n in ("lifecycle", "hourly_by_datacenter", "hourly_by_workload", "grid_intensity",
                                 "policy_savings") for e in ("png", "svg")} <= names
    assert main(["sweep", str(SCENARIOS / "where-to-train.toml"), "--regions", "eia:BPAT,eia:CISO",
                 "--plot", str(tmp_path / "sweep")]) == 0
    svg = (tmp_path / "sweep" / "sweep.svg").read_text()
    assert "eia:BPAT" in svg and "gross CO2e (t)" in svg
    assert main(["compare", str(SCENARIOS / "patterson2021.toml"), str(SCENARIOS / "patterson2021-from-compute.toml"),
                 "--plot", str(tmp_path / "cmp")]) == 0
    assert "facility energy (MWh)" in (tmp_path / "cmp" / "comparison.svg").read_text()
    assert main(["mc", str(SCENARIOS / "uncertainty-gpt3.toml"), "-n", "128", "--sensitivity", "--bootstrap", "20",
                 "--plot", str(tmp_path / "mc"), "--checkpoint", str(tmp_path / "c.npz")]) == 0
    tornado = (tmp_path / "mc" / "tornado.svg").read_text()
    assert "GPT-3: power per chip (W)" in tornado and "input at p5" in tornado
    hist = (tmp_path / "mc" / "total_co2e.svg").read_text()
    assert "p5 = " in hist and "p95 = " in hist and "median = " in hist


def test_input_labels():
    doc = {"workloads": {"training": [{"name": "GPT-3"}]}}
    assert input_label("workloads.training[0].power_w_per_chip", doc) == "GPT-3: power per chip (W)"
    assert input_label("datacenters.iowa.pue") == "datacenter iowa: PUE"
    assert input_label("hardware.v100.embodied_kgco2e") == "hardware v100: embodied carbon (kgCO2e per chip)"
    assert input_label("workloads.service[0].autoscaling.max_replicas", {}) == "service 1: autoscaling max replicas"


# ---------------------------------------------------------------------------
# Terminal habits
# ---------------------------------------------------------------------------


class Tty(io.StringIO):
    def isatty(self):
        return True


class Recorder:
    def __init__(self):
        self.calls = []

    def start(self, total, done=0, unit=""):
        self.calls.append(("start", total, unit))

    def update(self, k):
        self.calls.append(("update", k))

    def close(self):
        self.calls.append(("close",))


def test_the_engine_reports_progress():
    rec = Recorder()
    result = carbonsim.run(carbonsim.load(SMALL).validate(), progress=rec)
    jobs = sum(w.jobs for w in result.workloads if not w.serving)
    assert rec.calls[0] == ("start", 2 * jobs, "jobs")                 # the policy run and its baseline
    assert sum(c[1] for c in rec.calls if c[0] == "update") == 2 * jobs and rec.calls[-1] == ("close",)


def test_progress_bar_status_eta_and_pipes():
    tty, pipe = Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream=stream, label="sweep")
        bar.status("nominal run")
        bar.start(3, unit="runs")
        for _ in range(3):
            bar.update(1)
        bar.close()
    assert "sweep: nominal run ..." in tty.getvalue() and "3/3 runs" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_every_command_has_a_description_and_an_example():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, p in sub.choices.items():
        text = p.format_help()
        assert p.description and len(p.description) > 40, name
        assert p.description.rstrip().endswith((".", ")")), name         # not cut off mid-sentence
        assert "examples:" in text and f"carbonsim {name}" in text.split("examples:")[1], name
