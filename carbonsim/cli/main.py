"""The ``carbonsim`` command.

Exit codes: 0 success, 1 an unexpected internal error, 2 bad input (an invalid
scenario, an unreadable file, a bad option); errors are one line per problem
on stderr, never a traceback (set CARBONSIM_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import os
import sys

from pathlib import Path

from .._version import __version__
from ..model.errors import Problem, ScenarioError
from ..results.jsonout import dumps
from .output import atomic_path, check_writable, write_file
from .importer import add_import_command
from .mc import add_mc_command
from .progress import ProgressBar

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _bar(args, label: str) -> ProgressBar:
    return ProgressBar(enabled=False if getattr(args, "no_progress", False) else None, label=label)


def _warn_stderr(warnings) -> None:
    for w in warnings:
        print(f"carbonsim: warning: {w}", file=sys.stderr)


def _plots(figures: dict, directory: str) -> None:
    from .plots import save
    for path in save(figures, directory):
        print(f"wrote {path}", file=sys.stderr)


def _cmd_run(args) -> int:
    from ..model import load
    from ..sim.simulate import run
    hourly = args.hourly or bool(args.plot)
    result = run(load(args.file).validate(), hourly=hourly, progress=_bar(args, "run"), engine=args.engine)
    if args.format == "json":
        text = result.to_json(hourly=args.hourly)
    elif args.format == "csv":
        text = result.to_csv().rstrip("\n")
    else:
        text = result.format_table("text" if args.format == "table" else args.format)
        if args.format != "table":
            _warn_stderr(result.warnings)
    _emit(text, args.output)
    if args.jobs:
        _write_jobs(result, args.jobs)
    if args.plot:
        from .plots import result_figures
        _plots(result_figures(result), args.plot)
    return EXIT_OK


def _write_jobs(result, path: str) -> None:
    if path.endswith(".parquet"):
        _parquet(result.jobs_frame(), path, "--jobs")
    else:
        write_file(path, result.jobs_csv(), "--jobs")
    print(f"wrote {path} ({len(result.jobs['submit_s']) if result.jobs else 0:,} jobs)", file=sys.stderr)


def _parquet(frame, path: str, flag: str) -> None:
    try:
        with atomic_path(path, flag) as tmp:
            frame.to_parquet(tmp, index=False)
    except ImportError:
        raise ScenarioError([Problem(flag, "Parquet needs pyarrow", path, fix='pip install "carbonsim[parquet]"')]) \
            from None


def _cmd_validate(args) -> int:
    from ..model import load
    resolved = load(args.file).validate()
    print(f"{args.file}: valid (schema_version {resolved.schema_version})")
    print(resolved.summary())
    for w in resolved.warnings:
        print(f"warning: {w}")
    return EXIT_OK


def _cmd_compare(args) -> int:
    from ..model import load
    from ..sim.simulate import run
    from ..studies.compare import compare
    bar = _bar(args, "compare")
    a = run(load(args.a).validate(), progress=bar, engine=args.engine)
    b = run(load(args.b).validate(), progress=bar, engine=args.engine)
    result = compare(a, b)
    if args.format == "json":
        text = result.to_json()
    else:
        text = result.format_table("text" if args.format == "table" else args.format)
        if args.format != "table":
            _warn_stderr(result.warnings)
    _emit(text, args.output)
    if args.plot:
        from .plots import comparison_figures
        _plots(comparison_figures(result), args.plot)
    return EXIT_OK


def _cmd_report(args) -> int:
    from .report import build_report
    if args.samples is not None and args.samples < 2:
        raise ScenarioError([Problem("--samples", "must be at least 2", args.samples)])
    out = args.output or f"{Path(args.file).stem}.html"
    check_writable(out)
    notes: list[str] = []
    text = build_report(args.file, samples=args.samples, sweep=not args.no_sweep, mc=not args.no_mc,
                        workers=max(1, args.workers), progress=_bar(args, "report"), notes=notes)
    write_file(out, text)
    for note in notes:
        print(f"carbonsim report: {note}", file=sys.stderr)
    print(f"wrote {out}", file=sys.stderr)
    return EXIT_OK


def _cmd_statement(args) -> int:
    from ..model import load, read_toml
    from ..model import uncertain as unc
    from ..sim.simulate import run
    from .statement import statement
    if args.samples is not None and args.samples < 2:
        raise ScenarioError([Problem("--samples", "must be at least 2", args.samples)])
    bar = _bar(args, "statement")
    result = run(load(args.file).validate(), progress=bar)
    uncertainty = None
    if unc.find_uncertain(read_toml(args.file)) and not args.no_mc:
        from ..studies.montecarlo import monte_carlo
        uncertainty = monte_carlo(args.file, samples=args.samples, workers=os.cpu_count() or 1, progress=bar,
                                  checkpoint=None)
    if args.format == "both":
        text = statement(result, uncertainty, "text") + "\n\nLaTeX:\n\n" + statement(result, uncertainty, "latex")
    else:
        text = statement(result, uncertainty, args.format)
    _warn_stderr(result.warnings)
    _emit(text, args.output)
    return EXIT_OK


def _cmd_regions(args) -> int:
    from ..grid import list_signals
    listed = list_signals(args.prefix)
    cloud = [r for r in listed if "provider" in r]
    rows = [r for r in listed if args.all or args.prefix or (r.get("resolution") == "hourly" and "provider" not in r)]
    if args.format == "json":
        print(dumps(rows, indent=2))
        return EXIT_OK
    head = ["name", "source", "year", "basis", "mean", "min", "max"]
    table = [[r["name"], r["source"], str(r.get("year") or "-"), r["basis"], f"{r['mean']:.1f}", f"{r['min']:.1f}",
              f"{r['max']:.1f}"] for r in rows]
    if args.prefix and cloud:   # cloud regions: which series each draws from
        head = ["name", "uses", "grid", "year", "basis", "mean"]
        table = [[r["name"], r.get("series", r["name"]) + ("" if r["resolution"] == "hourly" else " (annual)"),
                  r.get("grid") or "-", str(r.get("year") or "-"), r["basis"], f"{r['mean']:.1f}"] for r in rows]
    widths = [max(len(x[i]) for x in table + [head]) for i in range(len(head))]
    for r in [head] + table:
        print("  ".join(c.ljust(w) if i < len(head) - 3 or c == r[-2] else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    if not (args.all or args.prefix):
        n_hourly = sum(1 for r in cloud if r["resolution"] == "hourly")
        print(f"\n{len(rows)} hourly series (gCO2e/kWh); {n_hourly} cloud-region names draw on them (--prefix aws:, "
              "azure:, gcp: or mlco2: lists them); --all adds the annual tables (gcp:, mlco2:, country:, owid:)")
    return EXIT_OK


def parse_set(text: str) -> tuple[str, list]:
    """``PATH=V1,V2,...`` -> (path, values); each value read as a TOML value (number, boolean,
    date, quoted string), else taken as a string."""
    import tomllib
    path, sep, values = text.partition("=")
    if not sep or not path.strip() or not values.strip():
        raise ScenarioError([Problem("--set", "must be PATH=V1,V2,... (e.g. "
                                     "workloads.service[0].max_batch_size=1,8,64)", text)])
    out = []
    for v in values.split(","):
        v = v.strip()
        try:
            out.append(tomllib.loads(f"v = {v}")["v"])
        except tomllib.TOMLDecodeError:
            out.append(v)
    return path.strip(), out


def _cmd_sweep(args) -> int:
    from ..model import load
    from ..studies.sweep import sweep
    scenario = load(args.file)
    if args.engine:
        scenario.configure(engine=args.engine)
    spec = scenario.to_dict().get("sweep") or {}
    values = dict(parse_set(s) for s in args.set or [])
    regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else \
        ([] if values else spec.get("regions", []))
    if args.regions == "hourly":
        from ..grid import list_signals
        # one series per hourly region, all on the lifecycle basis (EIA's is lifecycle; Electricity Maps' /lifecycle)
        names = [r["name"] for r in list_signals() if r.get("resolution") == "hourly"]
        regions = [n for n in names if n.startswith("eia:") or n.endswith("/lifecycle")]
    months = [] if values and not args.months else spec.get("months", [])
    if args.months:
        try:
            months = [int(m) for m in args.months.split(",")]
        except ValueError:
            raise ScenarioError([Problem("--months", "must be comma-separated month numbers 1-12", args.months)])
    if not regions and not values and not months:
        raise ScenarioError([Problem("--regions", "no regions to sweep", has_value=False,
                                     fix="pass --regions eia:BPAT,em:DE-LU,... (or 'hourly'), --set PATH=V1,V2,..., "
                                         "or add [sweep] regions")],
                            args.file)
    if args.format == "parquet" and not args.output:
        raise ScenarioError([Problem("--format", "parquet needs a file", "parquet", fix="add -o FILE.parquet")])
    result = sweep(scenario, regions, months or None, values, progress=_bar(args, "sweep"))
    if args.format == "parquet":
        _parquet(result.to_frame(), args.output, "--format")
        print(f"wrote {args.output}", file=sys.stderr)
    elif args.format == "json":
        _emit(dumps(result.to_dict(), indent=2), args.output)
    elif args.format == "csv":
        _emit(result.to_csv().rstrip("\n"), args.output)
    else:
        _emit(result.format_table("text" if args.format == "table" else args.format), args.output)
    if args.plot:
        from .plots import sweep_figures
        _plots(sweep_figures(result), args.plot)
    return EXIT_OK


def _cmd_schema(args) -> int:
    from ..model import json_schema
    _emit(dumps(json_schema(), indent=2), args.output)
    return EXIT_OK


def _cmd_hardware(args) -> int:
    from ..model.hardware import ALIASES, CATALOG, POWER_BASIS_TEXT, SOURCE_YEARS
    if args.format == "json":
        print(dumps([h.to_dict() for h in CATALOG.values()], indent=2))
        return EXIT_OK

    def num(v, fmt="g"):
        return "-" if v is None else format(v, fmt)

    head = ["name", "basis", "power W", "source (year)", "TDP W", "measured W", "max W", "peak TFLOP/s", "idle W",
            "embodied kg", "boundary", "life y", "description"]
    rows = [[h.name, h.power_basis, num(h.default_power_w, ".6g") if h.default_power_w is not None else "none",
             f"{h.power_source} ({SOURCE_YEARS.get(h.power_source)})" if h.power_source else "-", num(h.tdp_w), num(h.system_power_w, ".6g"), num(h.system_max_w, ".6g"),
             num(h.peak_tflops), num(h.idle_w), num(h.embodied_kgco2e), h.embodied_boundary or "-",
             num(h.lifetime_years), h.description] for h in CATALOG.values()]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(c.ljust(w) if i in (0, 1, 3, 12) else c.rjust(w)
                        for i, (c, w) in enumerate(zip(r, widths))).rstrip())
    print("\npower W: what a run uses when a workload gives no power_w_per_chip, on the entry's basis:")
    for basis, text in POWER_BASIS_TEXT.items():
        print(f"  {basis}: {text}")
    print("Runs on a non-measured basis warn; 'none': no published figure, give power_w_per_chip.")
    print("aliases: " + ", ".join(f"{k} = {v}" for k, v in ALIASES.items()))
    print("Sources and years: carbonsim.hardware.SOURCES / SOURCE_YEARS, or --format json.")
    return EXIT_OK


def _emit(text: str, output: str | None) -> None:
    if output:
        write_file(output, text + "\n")
    else:
        print(text)


def _command(sub, name: str, help: str, description: str, examples: str):
    return sub.add_parser(name, help=help, description=description,
                          epilog="examples:\n" + "\n".join(f"  {line}" for line in examples.strip().splitlines()),
                          formatter_class=argparse.RawDescriptionHelpFormatter)


TEXT_FORMATS = ["table", "markdown", "latex"]


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carbonsim", description="Energy and carbon emissions of ML workloads: "
                                "simulate a scenario file, compare and sweep variants, study uncertainty, and "
                                "write reports, figures and compute statements.",
                                epilog="Run 'carbonsim COMMAND --help' for a command's options and examples.")
    p.add_argument("--version", action="version", version=f"carbonsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = _command(sub, "run", "simulate a scenario file and print its footprint",
                 "Simulate a scenario (TOML) and print energy and CO2e per workload: the engine's jobs, services, "
                 "idle capacity, carbon-aware policies against their baseline, and warnings.",
                 """carbonsim run scenarios/patterson2021.toml
carbonsim run scenarios/patterson2021.toml --format markdown      # a table for a README or a paper
carbonsim run scenarios/carbon-aware-training.toml --jobs jobs.csv --plot figures/
carbonsim run FILE --format json --hourly -o result.json""")
    r.add_argument("file", help="scenario TOML file")
    r.add_argument("--format", choices=["table", "json", "csv", "markdown", "latex"], default="table",
                   help="table (the terminal's), json (the result contract, docs/results.md), csv (one row per "
                        "workload), markdown or latex (the per-workload table)")
    r.add_argument("-o", "--output", help="write to this file instead of stdout")
    r.add_argument("--hourly", action="store_true", help="add hourly energy and emissions per datacenter (json)")
    r.add_argument("--jobs", metavar="FILE", help="write every job (submit, start, end, wait, delay, datacenter, "
                                                  "energy, CO2e) to FILE.csv or FILE.parquet")
    r.add_argument("--plot", metavar="DIR", help="write the lifecycle split, hourly CO2e per datacenter and per "
                                                 "workload, grid intensity and policy savings as PNG and SVG "
                                                 '(needs matplotlib: pip install "carbonsim[plot]")')
    r.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    r.add_argument("--engine", choices=["auto", "compiled", "simpy"],
                     help="fleet engine (default: the file's [scenario] engine, else auto: the compiled core "
                          "whenever it can run the scenario; results are the same)")
    r.set_defaults(func=_cmd_run)

    c = _command(sub, "compare", "compare two variants phase by phase, with the break-even serving",
                 "Run two scenarios, A (the reference) and B (the variant), and compare facility energy and total "
                 "CO2e phase by phase, serving latency and per-query figures, and the break-even: how much serving "
                 "it takes for a variant that costs more up front and less to serve to win.",
                 """carbonsim compare scenarios/lifecycle-serving.toml scenarios/lifecycle-serving-moe.toml
carbonsim compare A.toml B.toml --format latex -o comparison.tex --plot figures/""")
    c.add_argument("a", help="scenario A (the reference)")
    c.add_argument("b", help="scenario B (the variant)")
    c.add_argument("--format", choices=["table", "json", "markdown", "latex"], default="table")
    c.add_argument("-o", "--output", help="write to this file instead of stdout")
    c.add_argument("--plot", metavar="DIR", help="write A beside B by phase as PNG and SVG (needs matplotlib)")
    c.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    c.add_argument("--engine", choices=["auto", "compiled", "simpy"],
                     help="fleet engine (default: the file's [scenario] engine, else auto: the compiled core "
                          "whenever it can run the scenario; results are the same)")
    c.set_defaults(func=_cmd_compare)

    w = _command(sub, "sweep", "run a scenario over a grid of values, regions and start months",
                 "Run a scenario once per combination of values (--set, repeatable: a grid), regions (every "
                 "datacenter given that grid signal) and start months.  Rows carry every total, the policy savings "
                 "and serving latency; ranked by gross CO2e when regions or months are swept, else in grid order.",
                 """carbonsim sweep scenarios/where-to-train.toml                      # the file's [sweep] regions
carbonsim sweep FILE --regions hourly --months 1,4,7,10
carbonsim sweep scenarios/lifecycle-serving.toml --set 'workloads.service[0].max_batch_size=1,8,64'
carbonsim sweep FILE --set 'datacenters.dc.pue=1.1,1.5' --regions eia:CISO,eia:BPAT --format csv -o sweep.csv""")
    w.add_argument("file", help="scenario TOML file")
    w.add_argument("--set", action="append", metavar="PATH=V1,V2,...",
                   help="vary the value at PATH (as in error messages, e.g. workloads.service[0].max_batch_size) "
                        "over V1, V2, ...; repeat for a grid of values")
    w.add_argument("--regions", help="comma-separated grid signal names, or 'hourly' for every bundled hourly "
                                     "series (default: the file's [sweep] regions, unless --set is given)")
    w.add_argument("--months", help="comma-separated start months 1-12 (default: the file's, else as given)")
    w.add_argument("--format", choices=["table", "json", "csv", "parquet", "markdown", "latex"], default="table",
                   help='parquet needs -o and pyarrow (pip install "carbonsim[parquet]")')
    w.add_argument("-o", "--output", help="write to this file instead of stdout")
    w.add_argument("--plot", metavar="DIR", help="write the ranking (or CO2e and latency against the value) as PNG "
                                                 "and SVG (needs matplotlib)")
    w.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    w.add_argument("--engine", choices=["auto", "compiled", "simpy"],
                     help="fleet engine (default: the file's [scenario] engine, else auto: the compiled core "
                          "whenever it can run the scenario; results are the same)")
    w.set_defaults(func=_cmd_sweep)

    rp = _command(sub, "report", "write a self-contained HTML report of a scenario",
                  "Run a scenario (hourly) and write one HTML file that opens without a network: summary and data "
                  "sources, the per-workload table, the lifecycle split, hourly emissions per datacenter and per "
                  "workload, and where the file has them the policy savings, serving, the [sweep] ranking and a "
                  "Monte Carlo study of its distributions (histogram, CDF, tornado).  Needs matplotlib.",
                  """carbonsim report scenarios/carbon-aware-training.toml -o report.html
carbonsim report scenarios/uncertainty-gpt3.toml --samples 1024""")
    rp.add_argument("file", help="scenario TOML file")
    rp.add_argument("-o", "--output", help="the HTML file (default: FILE-STEM.html in the current directory)")
    rp.add_argument("--samples", type=int, help="Monte Carlo samples (default: the file's [uncertainty] samples)")
    rp.add_argument("--no-mc", action="store_true", help="leave out the Monte Carlo study")
    rp.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="local processes for the study's engine re-runs (default: all cores)")
    rp.add_argument("--no-sweep", action="store_true", help="leave out the [sweep] regions")
    rp.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    rp.set_defaults(func=_cmd_report)

    st = _command(sub, "statement", "print a compute statement for a paper (text and LaTeX)",
                  "Print a paragraph stating the hardware and its power basis, accelerator-hours, energy and PUE, each "
                  "grid with its source, CO2e (with the Monte Carlo interval when the file has distributions), "
                  "embodied carbon and the carbonsim version, with every data source cited.",
                  """carbonsim statement scenarios/patterson2021.toml
carbonsim statement scenarios/uncertainty-gpt3.toml --format latex -o statement.tex""")
    st.add_argument("file", help="scenario TOML file")
    st.add_argument("--format", choices=["both", "text", "markdown", "latex"], default="both",
                    help="both (default: the text, then its LaTeX), text, markdown or latex")
    st.add_argument("--samples", type=int, help="Monte Carlo samples (default: the file's [uncertainty] samples)")
    st.add_argument("--no-mc", action="store_true", help="no interval, even when the file has distributions")
    st.add_argument("-o", "--output", help="write to this file instead of stdout")
    st.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    st.set_defaults(func=_cmd_statement)

    g = _command(sub, "regions", "list the bundled grid signals with mean, min and max intensity",
                 "List the bundled grid signals (hourly series by default) with source, year, basis and mean, "
                 "minimum and maximum intensity in gCO2e/kWh.",
                 """carbonsim regions
carbonsim regions --prefix em: --format json""")
    g.add_argument("--prefix", help="only names starting with this, e.g. eia: or em:")
    g.add_argument("--all", action="store_true", help="include the annual tables")
    g.add_argument("--format", choices=["table", "json"], default="table")
    g.set_defaults(func=_cmd_regions)

    v = _command(sub, "validate", "check a scenario file and summarise it",
                 "Check a scenario file against the file format without simulating it; print a summary of what it "
                 "defines and its warnings.  Errors are one line per problem, with the path and a fix.",
                 """carbonsim validate scenarios/patterson2021.toml""")
    v.add_argument("file", help="scenario TOML file")
    v.set_defaults(func=_cmd_validate)

    s = _command(sub, "schema", "print the JSON Schema of the scenario file format",
                 "Print the JSON Schema of the scenario file format (for editors and validators).",
                 """carbonsim schema -o scenario.schema.json""")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.set_defaults(func=_cmd_schema)

    h = _command(sub, "hardware", "list the hardware catalog",
                 "List the hardware catalog: power basis (measured, tdp, max_rating) with source and year, TDP, "
                 "measured and maximum power, peak TFLOP/s, idle power, embodied carbon and lifetime.",
                 """carbonsim hardware
carbonsim hardware --format json""")
    h.add_argument("--format", choices=["table", "json"], default="table")
    h.set_defaults(func=_cmd_hardware)

    add_mc_command(sub)
    add_import_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code (0 done, 2 bad input or environment, 130
    interrupted, 1 a bug in carbonsim).  A reader that closes the pipe early
    (``carbonsim regions | head``) ends the run quietly with 0."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        _stdout_to_devnull()
        return EXIT_OK


def _stdout_to_devnull() -> None:
    """Point stdout at /dev/null so the interpreter's last flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):   # no file descriptor (stdout replaced in-process)
        pass


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        for attr, flag in (("output", "--output"), ("jobs", "--jobs")):   # before the work, not after
            if getattr(args, attr, None):
                check_writable(getattr(args, attr), flag)
        return args.func(args)
    except BrokenPipeError:
        raise
    except ScenarioError as err:
        print(f"carbonsim: error: {err}" if len(err.problems) == 1 else f"carbonsim: {len(err.problems)} errors:\n{err}",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as err:
        print(f"carbonsim: error: {err.filename or ''}: {err.strerror}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("carbonsim: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # pragma: no cover - the last line of defence
        if os.environ.get("CARBONSIM_TRACEBACK"):
            raise
        print(f"carbonsim: internal error: {type(err).__name__}: {err} "
              "(please report it; CARBONSIM_TRACEBACK=1 shows the traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
