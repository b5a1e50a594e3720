"""Readers of the files a scenario names: TOML scenario files, job traces and traffic profiles."""
from __future__ import annotations

import datetime as dt
import math
import tomllib
from pathlib import Path

from ..grid.files import FileReadError, csv_rows, excerpt, read_text
from .constraints import MAX_CHIPS, MAX_FLOPS, MAX_HOURS
from .errors import Problem, ScenarioError
from .spec import to_utc
from .specbase import DATE_RANGE, EARLIEST, LATEST

#: The header of GAIA's job traces (umassos/GAIA, src/cluster_traces): seconds, seconds, count.
GAIA_COLUMNS = frozenset({"arrival_time", "length", "cpus"})

#: The largest scenario file read (bytes).
MAX_SCENARIO_BYTES = 16 * 1024 * 1024


def read_trace(path: str, file: Path, start: dt.datetime, problems: list[Problem]) -> dict | None:
    """A job trace: CSV with a header ``submit,chips,duration_hours`` (or ``flops``
    instead of duration_hours; ``submit_hours`` = hours after the stream start instead of ``submit``)."""
    try:
        rows = [row for _, row in csv_rows(file, read_text(file, what="trace"))]
    except FileReadError as err:
        problems.append(Problem(f"{path}.trace", f"{err.path}: {err.rule}", has_value=False, fix=err.fix))
        return None
    if not rows:
        problems.append(Problem(f"{path}.trace", "trace file is empty", str(file)))
        return None
    header = [h.strip() for h in rows[0]]
    if not {"submit", "submit_hours", "chips"} & set(header) and GAIA_COLUMNS <= set(header):
        # GAIA's traces (Hanafy et al., ASPLOS 2024): arrival_time and length in seconds, cpus held
        header = [{"arrival_time": "submit_seconds", "length": "duration_seconds", "cpus": "chips"}.get(h, h)
                  for h in header]
    when = next((k for k in ("submit", "submit_hours", "submit_seconds") if k in header), None)
    size = next((k for k in ("duration_hours", "flops", "duration_seconds") if k in header), None)
    if when is None or "chips" not in header or size is None:
        problems.append(Problem(f"{path}.trace", f"{file}: header must name submit (or submit_hours), chips and "
                                f"duration_hours (or flops), or be GAIA's arrival_time,length,cpus",
                                excerpt(",".join(header))))
        return None
    col = {h: i for i, h in enumerate(header)}
    submit, chips, amount = [], [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{file}:{line_no}"
        try:
            if when == "submit":
                t = to_utc(row[col["submit"]])
            elif when == "submit_hours":
                t = start + dt.timedelta(hours=float(row[col["submit_hours"]]))
            else:
                t = start + dt.timedelta(seconds=float(row[col["submit_seconds"]]))
            c = int(row[col["chips"]])
            x = float(row[col[size]])
            if size == "duration_seconds":
                x /= 3600.0
        except (ValueError, IndexError, OverflowError) as err:
            problems.append(Problem(f"{path}.trace", f"{where}: bad row ({excerpt(str(err), 80)})", excerpt(",".join(row))))
            return None
        most = MAX_FLOPS if size == "flops" else MAX_HOURS
        if not 1 <= c <= MAX_CHIPS or not (0 < x <= most):
            problems.append(Problem(f"{path}.trace", f"{where}: chips must be 1..{MAX_CHIPS:,} and "
                                    f"{'length / 3600' if size == 'duration_seconds' else size} > 0 and at "
                                    f"most {most:,g}", excerpt(",".join(row)), fix="the limits of a job"))
            return None
        if not EARLIEST <= t < LATEST:
            problems.append(Problem(f"{path}.trace", f"{where}: submit must be {DATE_RANGE}",
                                    excerpt(",".join(row))))
            return None
        submit.append(t)
        chips.append(c)
        amount.append(x)
    if not submit:
        problems.append(Problem(f"{path}.trace", "trace file has no jobs", str(file)))
        return None
    return {"submit": tuple(submit), "chips": tuple(chips),
            ("flops" if size == "flops" else "duration_hours"): tuple(amount)}




DIURNAL_SHAPES = {
    "flat": [1.0] * 24,
    "web": [0.62, 0.48, 0.40, 0.36, 0.36, 0.42, 0.58, 0.80, 0.98, 1.10, 1.16, 1.20,
            1.22, 1.22, 1.20, 1.18, 1.18, 1.22, 1.30, 1.38, 1.42, 1.36, 1.12, 0.86],
    "business": [0.25] * 8 + [1.0] + [2.1] * 9 + [1.0] + [0.35] * 5,
}


def read_profile(path: str, file: Path, problems: list[Problem]):
    """An hourly traffic profile: CSV ``hour,factor`` (24 rows) or ``hour_of_week,factor`` (168, Monday 00:00 = 0)."""
    try:
        rows = [row for _, row in csv_rows(file, read_text(file, what="profile"))]
    except FileReadError as err:
        problems.append(Problem(f"{path}.profile", f"{err.path}: {err.rule}", has_value=False, fix=err.fix))
        return None
    header = [h.strip() for h in rows[0]] if rows else []
    if len(header) != 2 or header[0] not in ("hour", "hour_of_week"):
        problems.append(Problem(f"{path}.profile", f"{file}: header must be 'hour,factor' or 'hour_of_week,factor'",
                                excerpt(",".join(header))))
        return None
    n = 24 if header[0] == "hour" else 168
    values = [None] * n
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        try:
            k, f = int(row[0]), float(row[1])
            if not (0 <= k < n and f >= 0 and math.isfinite(f)):
                raise ValueError(f"{header[0]} must be 0..{n - 1} and factor >= 0")
        except (ValueError, IndexError) as err:
            problems.append(Problem(f"{path}.profile", f"{file}:{line_no}: bad row ({excerpt(str(err), 80)})", excerpt(",".join(row))))
            return None
        values[k] = f
    missing = [k for k, v in enumerate(values) if v is None]
    if missing or sum(values) == 0:
        problems.append(Problem(f"{path}.profile", f"{file}: needs a factor for every {header[0]} 0..{n - 1} "
                                f"(missing {missing[:5]}) and a positive sum", has_value=False))
        return None
    return values * 7 if n == 24 else values




def read_toml(path: str | Path) -> dict:
    """Read a TOML file into a document; unreadable or malformed files raise ScenarioError."""
    path = Path(path)
    try:
        text = read_text(path, limit=MAX_SCENARIO_BYTES, what="scenario")
    except FileReadError as err:
        fix = "scenario files are TOML text" if err.rule.startswith("not a UTF-8") else err.fix
        raise ScenarioError([Problem("", err.rule, has_value=False, fix=fix)], str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([Problem("", f"not valid TOML: {err}", has_value=False)], str(path)) from None
    except ValueError:  # an integer literal longer than Python converts (4300 digits)
        raise ScenarioError([Problem("", "not valid TOML: a number is too long", has_value=False)], str(path)) from None
    except RecursionError:
        raise ScenarioError([Problem("", "not valid TOML: arrays or tables nested too deeply", has_value=False)],
                            str(path)) from None


