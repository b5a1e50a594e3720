"""``carbonsim import codecarbon emissions.csv``: a scenario from a CodeCarbon log.

One ``[[workloads.measured]]`` table per run with the measured figures written out (start,
duration, energy per component, the PUE CodeCarbon applied), so the scenario stands alone,
can be edited, and takes distributions like any other (docs/uncertainty.md).  The
datacenter's grid: ``--grid``, else the run's cloud region (``aws:us-east-1``, ...) when
CodeCarbon saw one, else its country (``country:FRA``), else the intensity CodeCarbon used
(its emissions / energy).  Its PUE: ``--pue``, else CodeCarbon's ``pue`` column, else 1.
"""
from __future__ import annotations

import argparse

import datetime as dt
import json
import re
import sys
from pathlib import Path

from ..model.errors import Problem, ScenarioError
from ..model.measured import guess_hardware, read_codecarbon
from .output import write_file


def add_import_command(sub) -> None:
    """Register ``carbonsim import`` on the CLI's subparsers."""
    p = sub.add_parser("import", help="write a scenario from a measurement log (CodeCarbon emissions.csv)",
                       description="Write a scenario whose [[workloads.measured]] tables hold the runs of a "
                                   "CodeCarbon emissions.csv, so that carbonsim adds the hourly grid, PUE, net (CFE) "
                                   "and embodied accounting on top of the measurement.",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog="examples:\n  carbonsim import codecarbon emissions.csv -o finetune.toml\n"
                              "  carbonsim import codecarbon emissions.csv --grid eia:CISO --pue 1.1 -o run.toml\n"
                              "  carbonsim run finetune.toml")
    p.add_argument("kind", choices=["codecarbon"], help="format of the log")
    p.add_argument("file", help="the log, e.g. emissions.csv")
    p.add_argument("-o", "--output", help="write the scenario here (default: stdout)")
    p.add_argument("--grid", help="grid of the datacenter: a signal name (carbonsim regions) "
                                  "(default: the run's cloud region, else its country, else CodeCarbon's intensity)")
    p.add_argument("--pue", type=float, help="PUE of the datacenter (default: CodeCarbon's pue column, else 1)")
    p.add_argument("--datacenter", help="name of the datacenter table (default: from the grid)")
    p.add_argument("--hardware", help="accelerator of the runs (default: from CodeCarbon's gpu_model)")
    p.add_argument("--timezone", default="UTC", help="timezone of the log's timestamps, which CodeCarbon writes in "
                                                     "the machine's local time (default UTC)")
    p.set_defaults(func=_cmd_import)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return json.dumps(str(value))


def _key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _grid(runs: list[dict], given: str | None) -> tuple[dict, str]:
    """(datacenter keys for the grid, how it was chosen)."""
    from ..grid import list_signals
    names = {e["name"]: e for e in list_signals()}
    if given:
        return {"grid": given}, "given with --grid"
    r = runs[0]
    cloud = f"{r['cloud_provider'].lower()}:{r['cloud_region'].lower()}"
    if r["on_cloud"].upper() == "Y" and cloud in names:
        return {"grid": cloud}, f"the run's cloud region ({names[cloud]['resolution']})"
    country = f"country:{r['country_iso_code'].upper()}"
    if r["country_iso_code"] and country in names:
        return {"grid": country}, "the run's country (annual average)"
    if r["emissions_kg"] is not None and r["energy_consumed_kwh"]:
        kg = r["emissions_kg"] / r["energy_consumed_kwh"]
        return ({"grid_intensity": f"{kg:.6g} kg/kWh"},
                "the intensity CodeCarbon used (its emissions / energy), constant")
    raise ScenarioError([Problem("--grid", "the log names no cloud region or country carbonsim knows",
                                 has_value=False, fix="give --grid eia:PJM (or another name from carbonsim regions)")])


def scenario_text(file: str, *, grid: str | None = None, pue: float | None = None, datacenter: str | None = None,
                  hardware: str | None = None, timezone: str = "UTC") -> str:
    """The scenario, as TOML text, for the runs of a CodeCarbon log."""
    from ..model import hardware as hw
    from ..model.resolve import resolve
    import tomllib

    problems: list[Problem] = []
    runs = read_codecarbon("", Path(file), timezone, problems, file)
    if runs is None:
        raise ScenarioError([Problem("codecarbon", p.rule, p.value, p.fix, p.has_value) for p in problems], file)
    grid_keys, how = _grid(runs, grid)
    name = datacenter or re.sub(r"[^A-Za-z0-9_-]+", "-", next(iter(grid_keys.values()))).strip("-") or "site"
    pue = pue if pue is not None else max(runs[0]["pue"], 1.0)
    project = runs[0]["project_name"] or Path(file).stem
    versions = sorted({r["version"] for r in runs if r["version"]}) or ["before 2.3"]
    hourly = "grid" in grid_keys and ":" in grid_keys["grid"] and not grid_keys["grid"].endswith("@annual") \
        and any(e.get("resolution") == "hourly" for e in _signals(grid_keys["grid"]))
    out = [f"# Written by carbonsim import codecarbon from {Path(file).name}: {len(runs)} run(s), "
           f"CodeCarbon {', '.join(versions)}.",
           f"# Timestamps read as {timezone} (CodeCarbon writes the machine's local time); each run started",
           "# `duration` before its timestamp.  Energies are as CodeCarbon measured them, with its PUE",
           f"# (measured_pue) divided out; the datacenter's PUE applies.  Grid: {how}.",
           "", "schema_version = 1", "", "[scenario]", f"name = {_toml(project)}",
           f"description = {_toml(f'CodeCarbon log {Path(file).name}')}"]
    if hourly:
        out += ['grid_year_shift = "weekday"   # the bundled hourly data are of 2022/2023',
                'grid_overflow = "wrap"']
    out += ["", f"[datacenters.{_key(name)}]", f"pue = {_toml(pue)}"]
    out += [f"{k} = {_toml(v)}" for k, v in grid_keys.items()]
    catalog = dict(hw.CATALOG)
    for k, r in enumerate(runs, start=1):
        chip = hardware or (guess_hardware(r["gpu_model"], catalog) if r["gpu_model"] else None)
        out += ["", "[[workloads.measured]]", f"name = {_toml(project if len(runs) == 1 else f'{project}/{k}')}"]
        if r["run_id"]:
            out.append(f"description = {_toml('CodeCarbon run ' + r['run_id'])}")
        out.append(f"datacenter = {_toml(name)}")
        if chip:
            out.append(f"hardware = {_toml(chip)}" + ("" if hardware else f"   # from gpu_model {r['gpu_model']!r}"))
        if r["gpu_count"]:
            out.append(f"chips = {r['gpu_count']}")
        out += [f"start = {_toml(r['start'])}", f"duration_hours = {_toml(r['duration_s'] / 3600)}"]
        if "total" in r["parts_kwh"]:
            out.append(f"energy_kwh = {_toml(r['parts_kwh']['total'])}")
        else:
            out += [f"{c}_energy_kwh = {_toml(v)}" for c, v in r["parts_kwh"].items()]
        out.append(f"measured_pue = {_toml(r['pue'])}")
        if r["energy_consumed_kwh"] is not None:
            out.append(f"reported_energy_kwh = {_toml(r['energy_consumed_kwh'])}")
        if r["emissions_kg"] is not None:
            out.append(f"reported_co2e_kg = {_toml(r['emissions_kg'])}")
    text = "\n".join(out) + "\n"
    resolve(tomllib.loads(text), file)      # what we write is a valid scenario
    return text


def _signals(name: str) -> list[dict]:
    from ..grid import list_signals
    return [e for e in list_signals(name) if e["name"] == name]


def _cmd_import(args) -> int:
    text = scenario_text(args.file, grid=args.grid, pue=args.pue, datacenter=args.datacenter,
                         hardware=args.hardware, timezone=args.timezone)
    if args.output:
        write_file(args.output, text)
        print(f"{args.output}: {text.count('[[workloads.measured]]')} measured run(s) from {args.file}",
              file=sys.stderr)
    else:
        print(text, end="")
    return 0
