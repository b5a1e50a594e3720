"""Measured runs: CodeCarbon logs, power traces and measured figures -> :class:`MeasuredRun`.

A CodeCarbon ``emissions.csv`` has one row per tracked run (``tracker.stop()``).  Its
columns changed over versions (CodeCarbon's ``output_methods/emissions_data.py``;
docs "Output"):

- 1.x: ``timestamp, experiment_id, project_name, duration, emissions, energy_consumed,
  country_name, country_iso_code, region, on_cloud, cloud_provider, cloud_region`` (no components);
- 2.0-2.2: ``run_id`` and ``cpu/gpu/ram_power``, ``cpu/gpu/ram_energy``, hardware columns;
- 2.3-2.7: ``codecarbon_version`` and ``pue``; 2.8-3.0: ``experiment_id`` after ``run_id``;
- 3.1+: ``water_consumed``, utilisation columns and ``wue``.

Units: ``duration`` seconds, energies kWh, ``emissions`` kg CO2e.  ``timestamp``
(``%Y-%m-%dT%H:%M:%S``, the machine's local time, no offset) is when the row was written,
at the end of the run: the run started ``duration`` earlier.  Since 2.3 CodeCarbon
multiplies every energy by its ``pue`` setting; it is divided out here, and the
datacenter's own PUE applies.  Columns are found by name, so their order and extra
columns do not matter.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from pathlib import Path

from . import hardware as hw
from ..grid.files import FileReadError, csv_rows, read_text
from .errors import Problem
from .objects import MeasuredRun
from .spec_measured import COMPONENTS, MeasuredSpec
from .units import SECONDS_PER_HOUR

J_PER_KWH = 3.6e6
TRACE_POWER_COLUMNS = {"watts": 1.0, "power_w": 1.0, "kilowatts": 1000.0, "power_kw": 1000.0}
#: gpu_model text (CodeCarbon writes e.g. "1 x NVIDIA A100-SXM4-40GB") -> catalog entry, first match wins.
GPU_MODELS = ((r"H100.*PCIE", "h100-pcie"), (r"H100", "h100"), (r"H200", "h200"), (r"B200", "b200"),
              (r"A100.*40\s*GB", "a100-40gb"), (r"A100", "a100"), (r"V100", "v100"), (r"P100", "p100"),
              (r"MI300X", "mi300x"), (r"MI250X", "mi250x"), (r"\bL4\b", "l4"), (r"\bT4\b", "t4"))


def _rows(path: str, key: str, file: Path, label: str, problems: list[Problem]) -> list[list[str]] | None:
    try:
        rows = csv_rows(file, read_text(file, what="log"))
    except FileReadError as err:
        problems.append(Problem(f"{path}.{key}", err.rule, label, fix=err.fix))
        return None
    return [r for _, r in rows if r and any(c.strip() for c in r)]


class _BadCell(ValueError):
    def __init__(self, column: str, rule: str, value: str):
        super().__init__(f"{column} {rule}")
        self.value = value


def _number(cell: str, column: str, *, low: float = 0.0, positive: bool = False) -> float:
    try:
        value = float(cell)
    except ValueError:
        raise _BadCell(column, "must be a number", cell) from None
    if not math.isfinite(value):
        raise _BadCell(column, "must be a finite number", cell)
    if value < low or (positive and value <= 0):
        raise _BadCell(column, f"must be {'>' if positive else '>='} {low:g}", cell)
    return value


def _time(cell: str, tz: zoneinfo.ZoneInfo) -> dt.datetime:
    t = dt.datetime.fromisoformat(cell.strip().replace("Z", "+00:00"))
    return (t.replace(tzinfo=tz) if t.tzinfo is None else t).astimezone(dt.timezone.utc)


def read_codecarbon(path: str, file: Path, timezone: str, problems: list[Problem], label: str | None = None
                    ) -> list[dict] | None:
    """The runs of a CodeCarbon emissions.csv, one dict per row (UTC start, seconds, kWh, kg);
    ``label``: the file as the user wrote it, for messages."""
    file = Path(file)
    label = label or str(file)
    rows = _rows(path, "codecarbon", file, label, problems)
    if rows is None:
        return None
    where = f"{path}.codecarbon"
    if not rows:
        problems.append(Problem(where, f"{label}: the file is empty", has_value=False,
                                fix="give the emissions.csv CodeCarbon writes"))
        return None
    header = [h.strip().lower() for h in rows[0]]
    col = {h: i for i, h in enumerate(header)}
    has_parts = all(f"{c}_energy" in col for c in COMPONENTS)
    missing = [c for c in ("timestamp", "duration") if c not in col]
    if not has_parts and "energy_consumed" not in col:
        missing.append("cpu_energy, gpu_energy, ram_energy (or energy_consumed)")
    if missing:
        problems.append(Problem(where, f"{label}: not a CodeCarbon emissions.csv: no column {', '.join(missing)}",
                                ",".join(rows[0])[:120], fix="give the emissions.csv CodeCarbon writes; "
                                "docs/scenario-format.md lists the columns read"))
        return None
    tz = zoneinfo.ZoneInfo(timezone)
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        cell = {h: (row[i].strip() if i < len(row) else "") for h, i in col.items()}
        here = f"{label}:{line_no}"
        try:
            end = _time(cell["timestamp"], tz)
        except ValueError:
            problems.append(Problem(where, f"{here}: timestamp must be a date-time such as 2024-05-27T11:31:35",
                                    cell["timestamp"]))
            return None
        try:
            duration = _number(cell["duration"], "duration (seconds)", positive=True)
            parts = ({c: _number(cell[f"{c}_energy"], f"{c}_energy (kWh)") for c in COMPONENTS} if has_parts
                     else {"total": _number(cell["energy_consumed"], "energy_consumed (kWh)")})
            pue = _number(cell["pue"], "pue", low=1.0) if cell.get("pue") else 1.0
            total = _number(cell["energy_consumed"], "energy_consumed (kWh)") if cell.get("energy_consumed") else None
            emissions = _number(cell["emissions"], "emissions (kg)") if cell.get("emissions") else None
            gpus = _number(cell["gpu_count"], "gpu_count") if cell.get("gpu_count") else 0.0
        except _BadCell as err:
            problems.append(Problem(where, f"{here}: {err}", err.value))
            return None
        out.append({"line": line_no, "run_id": cell.get("run_id", ""), "project_name": cell.get("project_name", ""),
                    "start": end - dt.timedelta(seconds=duration), "duration_s": duration, "parts_kwh": parts,
                    "pue": pue, "energy_consumed_kwh": total, "emissions_kg": emissions, "gpu_count": int(gpus),
                    "gpu_model": cell.get("gpu_model", ""), "version": cell.get("codecarbon_version", ""),
                    "country_iso_code": cell.get("country_iso_code", ""),
                    "cloud_provider": cell.get("cloud_provider", ""), "cloud_region": cell.get("cloud_region", ""),
                    "on_cloud": cell.get("on_cloud", "")})
    if not out:
        problems.append(Problem(where, f"{label}: the file has a header but no runs", has_value=False,
                                fix="CodeCarbon writes a row when a tracker stops"))
        return None
    return out


def read_power_trace(path: str, file: Path, timezone: str, problems: list[Problem], label: str | None = None):
    """``[(UTC time, W), ...]`` of a power trace: CSV ``timestamp,watts`` (or ``power_w``, ``kilowatts``,
    ``power_kw``); each row's power holds until the next row, the last row ends the trace."""
    label = label or str(file)
    rows = _rows(path, "power_trace", file, label, problems)
    if rows is None:
        return None
    where = f"{path}.power_trace"
    header = [h.strip().lower() for h in rows[0]] if rows else []
    power = next((h for h in header if h in TRACE_POWER_COLUMNS), None)
    if "timestamp" not in header or power is None:
        problems.append(Problem(where, f"{label}: header must name timestamp and watts (or power_w, kilowatts, "
                                "power_kw)", ",".join(header)[:120]))
        return None
    ti, pi, scale = header.index("timestamp"), header.index(power), TRACE_POWER_COLUMNS[power]
    tz = zoneinfo.ZoneInfo(timezone)
    samples = []
    for line_no, row in enumerate(rows[1:], start=2):
        here = f"{label}:{line_no}"
        try:
            t = _time(row[ti], tz)
        except (ValueError, IndexError):
            problems.append(Problem(where, f"{here}: timestamp must be a date-time such as 2022-07-04T10:30:00Z",
                                    row[ti] if ti < len(row) else ",".join(row)))
            return None
        try:
            w = _number(row[pi] if pi < len(row) else "", power) * scale
        except _BadCell as err:
            problems.append(Problem(where, f"{here}: {err}", err.value))
            return None
        if samples and t <= samples[-1][0]:
            problems.append(Problem(where, f"{here}: timestamps must increase", row[ti],
                                    fix="sort the trace by time; one row per time"))
            return None
        samples.append((t, w))
    if len(samples) < 2:
        problems.append(Problem(where, f"{label}: a trace needs at least two rows (the last one ends it)",
                                len(samples)))
        return None
    return samples


def _hourly_segments(samples, start: dt.datetime):
    """The trace's energy per UTC hour as (offset s, length s, W): exact for hourly accounting."""
    out = []
    hour = dt.timedelta(hours=1)
    for (t, w), (t_next, _) in zip(samples, samples[1:]):
        while t < t_next:
            edge = min(t.replace(minute=0, second=0, microsecond=0) + hour, t_next)
            out.append([(t - start).total_seconds(), (edge - t).total_seconds(), w])
            t = edge
    merged: list[list[float]] = []
    for off, length, w in out:      # one segment per UTC hour: its mean power
        if merged and math.floor((off + start.timestamp()) / SECONDS_PER_HOUR) == \
                math.floor((merged[-1][0] + start.timestamp()) / SECONDS_PER_HOUR):
            m = merged[-1]
            m[2] = (m[1] * m[2] + length * w) / (m[1] + length)
            m[1] += length
        else:
            merged.append([off, length, w])
    return tuple(tuple(m) for m in merged)


def guess_hardware(gpu_model: str, table) -> str | None:
    for pattern, name in GPU_MODELS:
        if re.search(pattern, gpu_model.upper()) and hw.find(name, table) is not None:
            return name
    return None


def resolve_measured(path: str, m: MeasuredSpec, chip: hw.Hardware | None, default_start: dt.datetime, hardware,
                     source_dir: Path, problems: list[Problem]) -> list[MeasuredRun]:
    """One :class:`MeasuredRun` per run of the table (several for a CodeCarbon log); ``chip`` is the
    table's ``hardware`` (None: from the log's gpu_model, else unnamed)."""
    if m.codecarbon is not None:
        runs = read_codecarbon(path, source_dir / m.codecarbon, m.timezone, problems, m.codecarbon)
        if runs is None:
            return []
        if m.runs:
            unknown = [r for r in m.runs if r not in {x["run_id"] for x in runs}]
            if unknown:
                problems.append(Problem(f"{path}.runs", f"run {unknown[0]!r} is not in {m.codecarbon}", unknown[0],
                                        fix=f"its runs: {', '.join(x['run_id'] for x in runs[:5])}"))
                return []
            runs = [x for x in runs if x["run_id"] in m.runs]
    elif m.power_trace is not None:
        samples = read_power_trace(path, source_dir / m.power_trace, m.timezone, problems, m.power_trace)
        if samples is None:
            return []
        start = samples[0][0]
        energy = sum(w * (t2 - t1).total_seconds() for (t1, w), (t2, _) in zip(samples, samples[1:])) / J_PER_KWH
        runs = [{"start": start, "duration_s": (samples[-1][0] - start).total_seconds(),
                 "parts_kwh": {"total": energy}, "pue": m.measured_pue, "trace": samples,
                 "gpu_count": 0, "gpu_model": "", "run_id": "", "emissions_kg": None, "energy_consumed_kwh": None}]
    else:
        parts = ({c: getattr(m, f"{c}_energy_kwh") or 0.0 for c in COMPONENTS} if m.energy_kwh is None
                 else {"total": m.energy_kwh})
        runs = [{"start": m.start or default_start, "duration_s": m.duration_hours * SECONDS_PER_HOUR,
                 "parts_kwh": parts, "pue": m.measured_pue, "gpu_count": 0, "gpu_model": "", "run_id": "",
                 "emissions_kg": m.reported_co2e_kg, "energy_consumed_kwh": m.reported_energy_kwh}]
    out = []
    for k, run in enumerate(runs, start=1):
        this = chip
        if this is None and run["gpu_model"]:
            guess = guess_hardware(run["gpu_model"], hardware)
            this = hw.find(guess, hardware) if guess else None
        if this is None:
            this = hw.Hardware(name="measured", description="hardware of a measured run (not given)")
        chips = m.chips or run["gpu_count"] or 1
        counted = {c: v for c, v in run["parts_kwh"].items() if c == "total" or c in m.components}
        it_kwh = sum(counted.values()) / run["pue"]
        if "trace" in run:
            segments = _hourly_segments(run["trace"], run["start"])
            segments = tuple((off, length, w / run["pue"] / chips) for off, length, w in segments)
        else:
            segments = ((0.0, run["duration_s"], it_kwh * J_PER_KWH / run["duration_s"] / chips),)
        name = m.name if len(runs) == 1 else f"{m.name}/{k}"
        what = m.codecarbon or m.power_trace or "measured figures"
        measured = {"source": what, "run_id": run["run_id"], "it_energy_kwh": it_kwh, "pue_divided_out": run["pue"],
                    "components_kwh": dict(run["parts_kwh"]), "counted": sorted(counted), "chips": chips,
                    "hardware": this.name}
        if run.get("version"):
            measured["codecarbon_version"] = run["version"]
        published = None
        if run["emissions_kg"] is not None or run["energy_consumed_kwh"] is not None:
            tool = f"CodeCarbon {run.get('version', '')}".strip() if m.codecarbon else "the measurement"
            published = {"source": f"as reported by {tool} (its own PUE and grid intensity)"}
            if run["energy_consumed_kwh"] is not None:
                published["energy_mwh"] = run["energy_consumed_kwh"] / 1000
            if run["emissions_kg"] is not None:
                published["gross_tco2e"] = run["emissions_kg"] / 1000
        out.append(MeasuredRun(name=name, hardware=this, datacenter=m.datacenter, chips=chips, start=run["start"],
                               segments=segments, phase=m.phase, measured=measured, published=published,
                               description=m.description or (f"run {run['run_id']}" if run["run_id"] else "")))
    return out
