"""Readers of users' grid CSV files: generic, Electricity Maps and EIA-930 exports."""
from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from .files import FileReadError, csv_rows, read_text
from .signal import (
    DEFAULT_MAX_GAP_HOURS,
    EIA_FUELS,
    FIRST_YEAR,
    HOUR,
    LAST_YEAR,
    MAX_INTENSITY,
    UNIT_FACTORS,
    UTC,
    GridSignal,
    eia_cfe,
    finish_signal,
    grid_error,
)

# ---------------------------------------------------------------- user files

def _zone(tz: str, path) -> ZoneInfo | timezone:
    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise grid_error(str(path), "unknown timezone", tz, "use an IANA name such as 'Europe/Berlin' or 'UTC'") from None


def _timestamp(text: str, tz, prev: datetime | None, where: str) -> datetime:
    """Parse ISO 8601; naive times are local in ``tz`` (ambiguous DST hours take the later fold after the earlier)."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise grid_error(where, "timestamp is not ISO 8601", text,
                   "use e.g. 2023-01-01 00:00:00 or 2023-01-01T00:00:00+00:00") from None
    fixed = t.tzinfo is not None or tz is UTC     # no local time to resolve
    try:
        if fixed:
            early = late = t.astimezone(UTC) if t.tzinfo is not None else t.replace(tzinfo=UTC)
        else:
            early, late = (t.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    except OverflowError:
        early = late = None
    if early is None or not (FIRST_YEAR <= early.year <= LAST_YEAR and late.year <= LAST_YEAR):
        raise grid_error(where, f"timestamp must be between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31 (UTC)",
                         text.strip(), "check the year of the row")
    if fixed:
        return early
    if early.astimezone(tz).replace(tzinfo=None) != t:
        raise grid_error(where, f"local time does not exist in {tz.key} (skipped by a DST change)", text,
                   "check the timezone argument or fix the row")
    return late if prev is not None and early <= prev < late else early


def _number(text: str, where: str, column: str, *, allow_negative=False, limit: float | None = None,
            unit: str = "gCO2e/kWh") -> float:
    t = text.strip()
    if t == "" or t.lower() in ("nan", "na", "null"):
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise grid_error(where, f"{column} is not a number", text,
                   "fix the value or leave it empty for a missing hour") from None
    if math.isinf(v):
        raise grid_error(where, f"{column} must be finite", text, "leave it empty for a missing hour")
    if v < 0 and not allow_negative:
        raise grid_error(where, f"{column} must be >= 0", text, "carbon intensity cannot be negative; fix the row")
    if limit is not None and v > limit:
        raise grid_error(where, f"{column} must be at most {limit:g} {unit} ({MAX_INTENSITY:g} gCO2e/kWh)", text,
                         "check the unit and the row")
    return v


def _hourly(path, stamps: list[tuple[int, datetime]], columns: dict[str, list[float]]):
    """Check order, then average (sub-)hourly samples into UTC hours; hours with no sample are NaN."""
    if not stamps:
        raise grid_error(str(path), "no data rows", None, "the file needs a header and at least one row", show_value=False)
    for (l0, t0), (l1, t1) in zip(stamps, stamps[1:]):
        if t1 == t0:
            raise grid_error(f"{path}:{l1}", f"duplicate timestamp (same UTC time as line {l0})", _fmt_utc(t1),
                       "remove the duplicate row")
        if t1 < t0:
            raise grid_error(f"{path}:{l1}", f"timestamp goes back in time (line {l0} is {_fmt_utc(t0)})", _fmt_utc(t1),
                       "sort the rows by time")
    first = stamps[0][1].replace(minute=0, second=0, microsecond=0)
    idx = np.array([(t - first) // HOUR for _, t in stamps])
    n = int(idx[-1]) + 1
    out = {}
    for key, vals in columns.items():
        v = np.asarray(vals, dtype=np.float64)
        ok = ~np.isnan(v)
        total = np.bincount(idx[ok], weights=v[ok], minlength=n)
        count = np.bincount(idx[ok], minlength=n)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[key] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return first, out


def _fmt_utc(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _rows(path):
    """(line number, row) for each non-empty CSV row; first is the header."""
    try:
        rows = csv_rows(path, read_text(path, what="grid CSV"))
    except FileReadError as err:
        raise grid_error(err.path, err.rule, fix=err.fix, show_value=False) from None
    return [(line, row) for line, row in rows if any(c.strip() for c in row)]


def read_csv(path, *, timezone: str = "UTC", unit: str = "g/kWh", name: str | None = None,
             region: str | None = None, basis: str = "unspecified", kind: str = "average",
             gap_policy: str = "interpolate", max_gap_hours: int = DEFAULT_MAX_GAP_HOURS) -> GridSignal:
    """Read a generic ``timestamp,value`` CSV (first two columns; a header row is optional).

    Timestamps are ISO 8601, labelling the start of each interval; those
    without an offset are local times in ``timezone`` (IANA name).  ``unit``
    is g/kWh, kg/kWh or lbs/MWh (a CO2/CO2e/CO2eq after the mass is accepted).
    Sub-hourly samples are averaged into UTC hours; missing hours follow
    ``gap_policy`` as in :func:`load_signal`.
    """
    key = unit.lower().replace(" ", "").replace("₂", "2")
    for tag in ("co2eq", "co2e", "co2"):
        key = key.replace(tag, "")
    if key not in UNIT_FACTORS:
        raise grid_error(str(path), "unknown unit", unit, "use 'g/kWh', 'kg/kWh' or 'lbs/MWh'")
    tz = _zone(timezone, path)
    rows = _rows(path)
    if rows:
        try:  # header row if the first cell is not a timestamp
            datetime.fromisoformat(rows[0][1][0].strip())
        except (ValueError, IndexError):
            rows = rows[1:]
    stamps, vals = [], []
    for line, row in rows:
        where = f"{path}:{line}"
        if len(row) < 2:
            raise grid_error(where, "row needs a timestamp and a value", ",".join(row), "write rows as timestamp,value")
        t = _timestamp(row[0], tz, stamps[-1][1] if stamps else None, where)
        stamps.append((line, t))
        vals.append(_number(row[1], where, "value", limit=MAX_INTENSITY / UNIT_FACTORS[key], unit=unit))
    start, cols = _hourly(path, stamps, {"v": vals})
    stem = Path(path).stem
    fields = dict(name=name or f"file:{stem}", region=region or stem, source=f"file {Path(path).name}",
                  year=start.year, basis=basis, kind=kind, start=start, values=cols["v"] * UNIT_FACTORS[key],
                  notes=f"read from {unit} in {timezone}")
    return finish_signal(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy="ignore")


def _columns(path, header: list[str], wanted: dict[str, tuple[str, ...]], required: tuple[str, ...]):
    """Map logical column -> index by case-insensitive substring match on the header."""
    low = [h.strip().lower() for h in header]
    found = {}
    for key, needles in wanted.items():
        hits = [i for i, h in enumerate(low) if all(n in h for n in needles)]
        if hits:
            found[key] = hits[0]
        elif key in required:
            raise grid_error(f"{path}:1", f"missing column containing {' and '.join(repr(n) for n in needles)}",
                       header, "is this the right file format?")
    return found


def read_electricitymaps_csv(path, *, basis: str = "direct", gap_policy: str = "interpolate",
                             max_gap_hours: int = DEFAULT_MAX_GAP_HOURS) -> GridSignal:
    """Read an Electricity Maps data-portal CSV (hourly or finer; ``Datetime (UTC)`` column).

    ``basis`` picks the ``(direct)`` or ``(LCA)`` intensity column ("direct" or
    "lifecycle").  ``Low Carbon Percentage`` becomes ``cfe``; ``Data Estimated``
    becomes ``estimated``.  The name is ``em:<Zone Id>`` (plus ``/lifecycle``).
    """
    if basis not in ("direct", "lifecycle"):
        raise grid_error(str(path), "basis must be 'direct' or 'lifecycle'", basis)
    rows = _rows(path)
    if not rows:
        raise grid_error(str(path), "empty file", None, "expected an Electricity Maps CSV", show_value=False)
    col = _columns(path, rows[0][1], {
        "time": ("datetime",), "direct": ("carbon intensity", "(direct)"), "lca": ("carbon intensity", "(lca)"),
        "low": ("low carbon percentage",), "est": ("data estimated",), "zone": ("zone id",)},
        required=("time", "direct" if basis == "direct" else "lca"))
    vcol = col["direct" if basis == "direct" else "lca"]
    stamps, vals, low, est, zones = [], [], [], [], set()
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) < len(rows[0][1]):
            raise grid_error(where, f"row has {len(row)} fields, header has {len(rows[0][1])}", ",".join(row))
        stamps.append((line, _timestamp(row[col["time"]], UTC, None, where)))
        vals.append(_number(row[vcol], where, rows[0][1][vcol].strip(), limit=MAX_INTENSITY))
        if "low" in col:
            pct = _number(row[col["low"]], where, "Low Carbon Percentage")
            if pct > 100:
                raise grid_error(where, "Low Carbon Percentage must be in 0..100", row[col["low"]])
            low.append(pct / 100.0)
        if "est" in col:
            flag = row[col["est"]].strip().lower()
            if flag not in ("true", "false", ""):
                raise grid_error(where, "Data Estimated must be true or false", row[col["est"]])
            est.append(1.0 if flag == "true" else 0.0)
        if "zone" in col:
            zones.add(row[col["zone"]].strip())
    columns = {"v": vals, **({"cfe": low} if low else {}), **({"est": est} if est else {})}
    start, cols = _hourly(path, stamps, columns)
    zone = zones.pop() if len(zones) == 1 else Path(path).stem
    fields = dict(name=f"em:{zone}" + ("/lifecycle" if basis == "lifecycle" else ""), region=zone,
                  source=f"Electricity Maps file {Path(path).name}", year=start.year, basis=basis, start=start,
                  values=cols["v"], cfe=cols.get("cfe"), licence="odbl-1.0",
                  notes="consumption (flow-traced) basis")
    if "est" in cols:
        e = cols["est"]
        fields.update(estimated=np.nan_to_num(e) > 0, estimated_fraction=float(np.nanmean(e)))
    return finish_signal(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy="ignore")


def read_eia930_csv(path, *, region: str | None = None, gap_policy: str = "interpolate",
                    max_gap_hours: int = DEFAULT_MAX_GAP_HOURS, glitch_policy: str = "warn") -> GridSignal:
    """Read an EIA-930 per-BA CSV as published by HewlettPackard/dc-rl.

    Columns: ``timestamp`` (ISO 8601 with offset; naive means UTC), net
    generation in MWh for any of WND,SUN,WAT,OIL,NG,COL,NUC,OTH (negative net
    generation is allowed), and ``avg_CI`` (lifecycle gCO2e/kWh, required).
    ``region`` defaults to the file name before the first ``_`` (``PJM_NG_&_avgCI.csv`` -> PJM).
    """
    rows = _rows(path)
    if not rows:
        raise grid_error(str(path), "empty file", None, "expected an EIA-930 CSV", show_value=False)
    header = [h.strip() for h in rows[0][1]]
    if "timestamp" not in header or "avg_CI" not in header:
        raise grid_error(f"{path}:1", "header needs 'timestamp' and 'avg_CI' columns", rows[0][1],
                   "expected timestamp,WND,SUN,WAT,OIL,NG,COL,NUC,OTH,avg_CI")
    it, ici = header.index("timestamp"), header.index("avg_CI")
    fuels = {f: header.index(f) for f in EIA_FUELS if f in header}
    stamps, vals, gen = [], [], {f: [] for f in fuels}
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise grid_error(where, f"row has {len(row)} fields, header has {len(header)}", ",".join(row))
        stamps.append((line, _timestamp(row[it], UTC, None, where)))
        vals.append(_number(row[ici], where, "avg_CI", limit=MAX_INTENSITY))
        for f, i in fuels.items():
            gen[f].append(_number(row[i], where, f, allow_negative=True))
    start, cols = _hourly(path, stamps, {"v": vals, **gen})
    ba = region or Path(path).stem.split("_")[0]
    g = {f: cols[f] for f in fuels}
    fields = dict(name=f"eia:{ba}", region=ba, source=f"EIA-930 file {Path(path).name}", year=start.year,
                  basis="lifecycle", start=start, values=cols["v"], generation=g or None,
                  cfe=eia_cfe(g) if g else None, licence="eia-public-domain", notes="production basis")
    return finish_signal(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy=glitch_policy)


# ---------------------------------------------------------------- year alignment

