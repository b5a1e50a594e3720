"""The ``carbonsim`` command.

Exit codes: 0 success, 1 an unexpected internal error, 2 bad input (an invalid
scenario, an unreadable file, a bad option); errors are one line per problem
on stderr, never a traceback (set CARBONSIM_TRACEBACK=1 to see one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

from .._version import __version__
from ..model.errors import ScenarioError
from .importer import add_import_command
from .mc import add_mc_command

EXIT_OK, EXIT_INTERNAL, EXIT_BAD_INPUT = 0, 1, 2


def _cmd_run(args) -> int:
    from ..model import load
    result = load(args.file).run(hourly=args.hourly)
    if args.format == "json":
        text = result.to_json(hourly=args.hourly)
    elif args.format == "csv":
        text = result.to_csv()
    else:
        text = result.format_table()
    _emit(text, args.output)
    return EXIT_OK


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
    from ..studies.compare import compare
    result = compare(load(args.a).run(), load(args.b).run())
    _emit(result.to_json() if args.format == "json" else result.format_table(), args.output)
    return EXIT_OK


def _cmd_regions(args) -> int:
    from ..grid import list_signals
    listed = list_signals(args.prefix)
    cloud = [r for r in listed if "provider" in r]
    rows = [r for r in listed if args.all or args.prefix or (r.get("resolution") == "hourly" and "provider" not in r)]
    if args.format == "json":
        print(json.dumps(rows, indent=2))
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


def _cmd_sweep(args) -> int:
    from ..model import load
    from ..model.errors import Problem, ScenarioError
    from ..studies.sweep import sweep
    scenario = load(args.file)
    spec = scenario.to_dict().get("sweep") or {}
    regions = [r.strip() for r in args.regions.split(",") if r.strip()] if args.regions else spec.get("regions", [])
    if args.regions == "hourly":
        from ..grid import list_signals
        # one series per hourly region, all on the lifecycle basis (EIA's is lifecycle; Electricity Maps' /lifecycle)
        names = [r["name"] for r in list_signals() if r.get("resolution") == "hourly"]
        regions = [n for n in names if n.startswith("eia:") or n.endswith("/lifecycle")]
    months = spec.get("months", [])
    if args.months:
        try:
            months = [int(m) for m in args.months.split(",")]
        except ValueError:
            raise ScenarioError([Problem("--months", "must be comma-separated month numbers 1-12", args.months)])
    if not regions:
        raise ScenarioError([Problem("--regions", "no regions to sweep", has_value=False,
                                     fix="pass --regions eia:BPAT,em:DE-LU,... (or 'hourly'), or add [sweep] regions")],
                            args.file)
    result = sweep(scenario, regions, months or None)
    _emit(json.dumps(result.to_dict(), indent=2) if args.format == "json" else result.format_table(), args.output)
    return EXIT_OK


def _cmd_schema(args) -> int:
    from ..model import json_schema
    _emit(json.dumps(json_schema(), indent=2), args.output)
    return EXIT_OK


def _cmd_hardware(args) -> int:
    from ..model.hardware import ALIASES, CATALOG, POWER_BASIS_TEXT, SOURCE_YEARS
    if args.format == "json":
        print(json.dumps([h.to_dict() for h in CATALOG.values()], indent=2))
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
        with open(output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="carbonsim", description="Energy and carbon emissions of ML workloads.")
    p.add_argument("--version", action="version", version=f"carbonsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="simulate a scenario file and print its footprint")
    r.add_argument("file", help="scenario TOML file")
    r.add_argument("--format", choices=["table", "json", "csv"], default="table")
    r.add_argument("-o", "--output", help="write to this file instead of stdout")
    r.add_argument("--hourly", action="store_true", help="add hourly energy and emissions per datacenter (json)")
    r.set_defaults(func=_cmd_run)

    c = sub.add_parser("compare", help="compare two variants phase by phase, with the break-even serving")
    c.add_argument("a", help="scenario A (the reference)")
    c.add_argument("b", help="scenario B (the variant)")
    c.add_argument("--format", choices=["table", "json"], default="table")
    c.add_argument("-o", "--output")
    c.set_defaults(func=_cmd_compare)

    w = sub.add_parser("sweep", help="run a scenario in each of several regions (and start months), ranked")
    w.add_argument("file")
    w.add_argument("--regions", help="comma-separated grid signal names, or 'hourly' for every bundled hourly "
                                     "series (default: the file's [sweep] regions)")
    w.add_argument("--months", help="comma-separated start months 1-12 (default: the file's, else as given)")
    w.add_argument("--format", choices=["table", "json"], default="table")
    w.add_argument("-o", "--output")
    w.set_defaults(func=_cmd_sweep)

    g = sub.add_parser("regions", help="list the bundled grid signals with mean, min and max intensity")
    g.add_argument("--prefix", help="only names starting with this, e.g. eia: or em:")
    g.add_argument("--all", action="store_true", help="include the annual tables")
    g.add_argument("--format", choices=["table", "json"], default="table")
    g.set_defaults(func=_cmd_regions)

    v = sub.add_parser("validate", help="check a scenario file and summarise it")
    v.add_argument("file")
    v.set_defaults(func=_cmd_validate)

    s = sub.add_parser("schema", help="print the JSON Schema of the scenario file format")
    s.add_argument("-o", "--output")
    s.set_defaults(func=_cmd_schema)

    h = sub.add_parser("hardware", help="list the hardware catalog")
    h.add_argument("--format", choices=["table", "json"], default="table")
    h.set_defaults(func=_cmd_hardware)

    add_mc_command(sub)
    add_import_command(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
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
