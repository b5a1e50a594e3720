"""Electricity-grid carbon intensity: bundled real data, user files, gaps, years.

Every signal is a :class:`GridSignal`: hourly values in gCO2e/kWh from a
UTC, hour-aligned start, tagged with its basis (``"direct"`` combustion only,
``"lifecycle"``, or ``"unspecified"`` where the source does not say) so that
different bases are never mixed silently.

Names (see ``docs/grid-data.md``; ``list_signals()`` lists every one)::

    eia:<BA>                  EIA-930 2022 hourly, lifecycle        eia:CISO
    em:<zone>[/lifecycle]     Electricity Maps 2023 hourly, direct   em:DE-LU, em:DE-LU/lifecycle
    gcp:<region>[@<year>]     Google Cloud annual (latest year)      gcp:us-central1@2022
    mlco2:<provider>:<region> mlco2/impact cloud regions, annual     mlco2:aws:us-east-1
    country:<ISO3>            Ember annual (OWID where Ember lacks)  country:DEU
    owid:<ISO3>               Our World in Data annual               owid:DEU

Annual and constant signals have ``constant=True`` and one value.  Missing
hours are filled at load time by ``gap_policy`` (default: linear interpolation
of runs up to ``max_gap_hours``, with a :class:`GridDataWarning`).
Everything here needs numpy and the standard library only.
"""
from __future__ import annotations

import csv
import difflib
import functools
import io
import json
import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

__all__ = [
    "GridError", "GridDataWarning", "GridSignal", "load_signal", "list_signals", "constant_signal",
    "read_csv", "read_electricitymaps_csv", "read_eia930_csv", "fill_gaps", "find_glitches",
    "align", "clear_cache", "UNITS", "DEFAULT_MAX_GAP_HOURS",
]

UNITS = "gCO2e/kWh"
DEFAULT_MAX_GAP_HOURS = 24
#: An EIA hour whose total generation is below this fraction of the series'
#: median total generation is reported as a glitch.
GLITCH_FRACTION = 0.05
BASES = ("direct", "lifecycle", "unspecified")
KINDS = ("average", "marginal")
UTC = timezone.utc
HOUR = timedelta(hours=1)
EIA_FUELS = ("WND", "SUN", "WAT", "OIL", "NG", "COL", "NUC", "OTH")
#: Fuels counted as carbon-free for the hourly CFE of EIA series (OTH is not:
#: it mixes biomass, geothermal, batteries and unknown sources).
EIA_CARBON_FREE = ("WND", "SUN", "WAT", "NUC")
#: Multipliers to g/kWh.  1 lb/MWh = 453.59237 g / 1000 kWh.
UNIT_FACTORS = {"g/kwh": 1.0, "kg/kwh": 1000.0, "lbs/mwh": 0.45359237, "lb/mwh": 0.45359237}
GAP_POLICIES = ("interpolate", "error", "keep")
GLITCH_POLICIES = ("warn", "fill", "ignore")


class GridError(ValueError):
    """Bad grid data or a bad request for it; the message says where, what, which rule and the fix."""


class GridDataWarning(UserWarning):
    """Grid data were changed or look suspect (filled gaps, glitch hours)."""


def _err(where, rule, value=None, fix=None, *, show_value=True):
    text = f"{where}: {rule}" + (f", got {value!r}" if show_value else "")
    return GridError(text + (f" ({fix})" if fix else ""))


def _fmt(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%MZ")


@dataclass(frozen=True, eq=False, kw_only=True)
class GridSignal:
    """Hourly grid carbon intensity in gCO2e/kWh, one value per UTC hour from ``start``.

    ``constant`` signals (annual tables, :func:`constant_signal`) hold one value
    that applies at every hour; their ``start`` is 1 January of ``year``
    (1970 when unknown) and is informational only.  ``cfe`` is the hourly
    carbon-free fraction (0..1) where the source gives one.  Arrays are
    float64 copies and read-only.  ``mean``/``min``/``max`` ignore NaN hours.
    ``basis`` is ``"direct"``, ``"lifecycle"`` or ``"unspecified"``; ``kind`` is
    ``"average"`` or ``"marginal"``; ``units`` is always ``"gCO2e/kWh"``.
    """

    name: str
    region: str
    source: str
    year: int | None
    basis: str
    kind: str = "average"
    units: str = UNITS
    start: datetime
    values: np.ndarray
    cfe: np.ndarray | None = None
    estimated: np.ndarray | None = None
    estimated_fraction: float | None = None
    generation: Mapping[str, np.ndarray] | None = None
    constant: bool = False
    licence: str | None = None
    notes: str = ""

    def __post_init__(self):
        where = f"GridSignal {self.name!r}"
        if self.basis not in BASES:
            raise _err(where, f"basis must be one of {BASES}", self.basis)
        if self.kind not in KINDS:
            raise _err(where, f"kind must be one of {KINDS}", self.kind)
        if self.units != UNITS:
            raise _err(where, f"units must be {UNITS!r} (convert when reading)", self.units)
        object.__setattr__(self, "start", _utc_hour(self.start, where + " start"))
        try:
            values = _frozen(self.values)
        except (TypeError, ValueError):
            raise _err(where, "values must be numbers in gCO2e/kWh", type(self.values).__name__) from None
        if values.ndim != 1 or values.size == 0 or (self.constant and values.size != 1):
            raise _err(where, "values must be a non-empty 1-D array (exactly one value if constant)", values.shape)
        if np.any(values < 0) or np.any(np.isinf(values)):
            raise _err(where, "values must be finite and >= 0", float(values[(values < 0) | np.isinf(values)][0]))
        object.__setattr__(self, "values", values)
        for field in ("cfe", "estimated"):
            arr = getattr(self, field)
            if arr is not None:
                arr = _frozen(arr, bool if field == "estimated" else np.float64)
                if arr.shape != values.shape:
                    raise _err(where, f"{field} must have the shape of values {values.shape}", arr.shape)
                object.__setattr__(self, field, arr)
        if self.cfe is not None and np.any((self.cfe < 0) | (self.cfe > 1)):
            raise _err(where, "cfe must be a fraction in 0..1", float(self.cfe[(self.cfe < 0) | (self.cfe > 1)][0]))
        if self.generation is not None:
            object.__setattr__(self, "generation", MappingProxyType(
                {k: _frozen(v) for k, v in self.generation.items()}))

    @property
    def n_hours(self) -> int:
        return int(self.values.size)

    @property
    def end(self) -> datetime | None:
        """Exclusive end of the data (``start + n_hours``); ``None`` for constant signals."""
        return None if self.constant else self.start + self.n_hours * HOUR

    @property
    def mean(self) -> float:
        return float(np.nanmean(self.values))

    @property
    def min(self) -> float:
        return float(np.nanmin(self.values))

    @property
    def max(self) -> float:
        return float(np.nanmax(self.values))

    @property
    def missing_hours(self) -> int:
        return int(np.isnan(self.values).sum())

    def describe(self) -> str:
        span = ("constant (applies at every hour)" if self.constant
                else f"{self.n_hours} h, {_fmt(self.start)} to {_fmt(self.end)} (exclusive)")
        lines = [f"{self.name}: {self.region}, {self.source}, year {self.year}",
                 f"  {self.basis} {self.kind} intensity, {self.units}; {span}",
                 f"  mean {self.mean:.1f}, min {self.min:.1f}, max {self.max:.1f}"
                 + (f"; {self.missing_hours} missing hours (NaN)" if self.missing_hours else "")]
        if self.cfe is not None:
            lines.append(f"  carbon-free fraction mean {np.nanmean(self.cfe):.3f}")
        if self.estimated_fraction is not None:
            lines.append(f"  {100 * self.estimated_fraction:.1f}% of hours estimated by the source")
        if self.licence:
            lines.append(f"  licence: {self.licence}")
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


def _frozen(a, dtype=np.float64) -> np.ndarray:
    arr = np.array(a, dtype=dtype, copy=True)
    arr.flags.writeable = False
    return arr


def _utc_hour(t, what: str) -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise _err(what, "must be a timezone-aware datetime", t, "e.g. datetime(2023, 1, 1, tzinfo=timezone.utc)")
    t = t.astimezone(UTC)
    if (t.minute, t.second, t.microsecond) != (0, 0, 0):
        raise _err(what, "must be on a whole UTC hour", t.isoformat(), "round it to the hour")
    return t


def constant_signal(value_g_per_kwh: float, *, name: str = "constant", region: str = "",
                    basis: str = "unspecified", cfe: float | None = None) -> GridSignal:
    """A signal with the same intensity (gCO2e/kWh) at every hour."""
    try:
        v = float(value_g_per_kwh)
    except (TypeError, ValueError):
        raise _err(name, "constant intensity must be a number in gCO2e/kWh", value_g_per_kwh) from None
    if not math.isfinite(v) or v < 0:
        raise _err(name, "constant intensity must be finite and >= 0 gCO2e/kWh", value_g_per_kwh)
    return GridSignal(name=name, region=region or name, source="user constant", year=None, basis=basis,
                      start=datetime(1970, 1, 1, tzinfo=UTC), values=[v], constant=True,
                      cfe=None if cfe is None else [cfe])


# ---------------------------------------------------------------- gaps and glitches

def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Half-open [i, j) index ranges where mask is True."""
    d = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def _describe_runs(runs, start: datetime | None) -> str:
    def at(i):
        return _fmt(start + i * HOUR) if start is not None else f"hour {i}"
    parts = [f"{at(i)}..{at(j - 1)} ({j - i} h)" if j - i > 1 else f"{at(i)} (1 h)" for i, j in runs]
    return ", ".join(parts[:8]) + (f" and {len(parts) - 8} more runs" if len(parts) > 8 else "")


def fill_gaps(values, *, max_gap_hours: int = DEFAULT_MAX_GAP_HOURS, name: str = "series",
              start: datetime | None = None, warn: bool = True) -> np.ndarray:
    """Fill NaN runs of at most ``max_gap_hours`` by linear interpolation; return a new float64 array.

    Runs at either end of the series are held at the nearest value.  A
    :class:`GridDataWarning` names ``name`` and the filled UTC hours (hour
    indexes when ``start`` is not given).  A longer run raises :class:`GridError`.
    """
    filled, message = _fill(values, max_gap_hours, name, start)
    if message and warn:
        warnings.warn(message, GridDataWarning, stacklevel=2)
    return filled


def _fill(values, max_gap_hours, name, start):
    v = np.array(values, dtype=np.float64)
    nan = np.isnan(v)
    if not nan.any():
        return v, None
    if nan.all():
        raise _err(name, "every hour is missing (NaN)", None, "check the data source", show_value=False)
    runs = _runs(nan)
    i, j = max(runs, key=lambda r: r[1] - r[0])
    if j - i > max_gap_hours:
        raise _err(name, f"{j - i} consecutive missing hours {_describe_runs([(i, j)], start)} "
                         f"exceed max_gap_hours={max_gap_hours}", None,
                   f"raise max_gap_hours to at least {j - i}, or load with gap_policy='keep' and handle NaN yourself",
                   show_value=False)
    idx = np.arange(v.size)
    v[nan] = np.interp(idx[nan], idx[~nan], v[~nan])
    return v, (f"{name}: filled {int(nan.sum())} missing hours by linear interpolation "
               f"(max_gap_hours={max_gap_hours}): {_describe_runs(runs, start)}")


def find_glitches(signal: GridSignal, *, min_fraction: float = GLITCH_FRACTION) -> list[datetime]:
    """UTC hours whose total generation is below ``min_fraction`` of the median total.

    Only signals that carry ``generation`` (EIA series) can be checked; others
    give ``[]``.  Hours with missing generation are not glitches (they are gaps).
    """
    if not signal.generation:
        return []
    total = np.sum([np.asarray(g) for g in signal.generation.values()], axis=0)
    ok = ~np.isnan(total)
    if not ok.any():
        return []
    limit = min_fraction * float(np.median(total[ok]))
    return [signal.start + int(i) * HOUR for i in np.flatnonzero(ok & (total < limit))]


def _finish(fields: dict, *, gap_policy: str, max_gap_hours: int, glitch_policy: str) -> GridSignal:
    """Build a signal from raw (NaN-holding) arrays, then apply the glitch and gap policies."""
    name = fields["name"]
    if gap_policy not in GAP_POLICIES:
        raise _err(name, f"gap_policy must be one of {GAP_POLICIES}", gap_policy)
    if glitch_policy not in GLITCH_POLICIES:
        raise _err(name, f"glitch_policy must be one of {GLITCH_POLICIES}", glitch_policy)
    sig = GridSignal(**fields)
    values, cfe, notes = np.array(sig.values), None if sig.cfe is None else np.array(sig.cfe), []
    glitches = find_glitches(sig) if glitch_policy != "ignore" else []
    if glitches:
        hours = np.array([(t - sig.start) // HOUR for t in glitches])
        text = (f"{len(glitches)} glitch hours with total generation below {GLITCH_FRACTION:.0%} of the median: "
                f"{_describe_runs(_runs(np.isin(np.arange(values.size), hours)), sig.start)}")
        if glitch_policy == "fill":
            values[hours] = np.nan
            if cfe is not None:
                cfe[hours] = np.nan
            text += " (set to missing, then filled by gap_policy)"
        else:
            text += f" (kept as published: {', '.join(f'{values[h]:.1f}' for h in hours[:5])} gCO2e/kWh; " \
                    "glitch_policy='fill' treats them as gaps)"
        warnings.warn(f"{name}: {text}", GridDataWarning, stacklevel=3)
        notes.append(text)
    nan = np.isnan(values)
    if nan.any() and gap_policy == "error":
        raise _err(name, f"{int(nan.sum())} missing hours {_describe_runs(_runs(nan), sig.start)}", None,
                   "use gap_policy='interpolate' (default) or 'keep'", show_value=False)
    if nan.any() and gap_policy == "interpolate":
        values, message = _fill(values, max_gap_hours, name, sig.start)
        warnings.warn(message, GridDataWarning, stacklevel=3)
        notes.append(f"{int(nan.sum())} missing hours filled by linear interpolation")
    if gap_policy == "interpolate" and cfe is not None and np.isnan(cfe).any() and not np.isnan(cfe).all():
        cfe = _fill(cfe, cfe.size, name, None)[0]  # follows the values' policy
    fields = dict(fields, values=values, cfe=cfe, notes="; ".join(filter(None, [fields.get("notes", "")] + notes)))
    return GridSignal(**fields)


# ---------------------------------------------------------------- bundled data

def _resource(name: str):
    return resources.files("carbonsim.grid").joinpath("data", name)


@functools.cache
def _hourly_arrays() -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(_resource("grid_hourly.npz").read_bytes()), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@functools.cache
def _index() -> dict:
    return json.loads(_resource("grid_index.json").read_text(encoding="utf-8"))


@functools.cache
def _annual() -> dict:
    return json.loads(_resource("grid_annual.json").read_text(encoding="utf-8"))


def clear_cache() -> None:
    """Forget the bundled data read so far (the next load reads the package files again)."""
    for f in (_hourly_arrays, _index, _annual, _catalog):
        f.cache_clear()


@functools.cache
def _catalog() -> dict[str, dict]:
    """Every loadable name -> its metadata (public keys) plus '_load' instructions."""
    cat = {}

    def add(name, region, source, year, basis, value, licence, resolution="annual", **extra):
        cat[name] = {"name": name, "region": region, "source": source, "year": year, "basis": basis,
                     "kind": "average", "resolution": resolution, "mean": value, "min": value, "max": value,
                     "licence": licence, **extra}

    for s in _index()["series"]:
        add(s["name"], s["region"], s["source"], s["year"], s["basis"], s["mean"], s["licence"], "hourly",
            n_hours=s["n_hours"], _load=("hourly", s))
        cat[s["name"]].update(min=s["min"], max=s["max"])
    ann = _annual()
    gcp = ann["gcp"]
    for year, table in sorted(gcp["years"].items()):
        for region, row in table["regions"].items():
            load = ("const", row["intensity"], row["cfe"], f"{row['location']}; Google CFE includes Google's "
                    f"own clean-energy purchases; file header: {table['header']!r}")
            for name in (f"gcp:{region}@{year}", f"gcp:{region}"):  # later years overwrite the plain name
                add(name, region, gcp["source"], int(year), table["basis"], row["intensity"], gcp["licence"],
                    _load=load)
    ml = ann["mlco2"]
    for r in ml["regions"]:
        note = f"{r['region_name'] or r['city']}, {r['country']}; source: {r['source']}"
        add(f"mlco2:{r['provider']}:{r['region']}", r["region"], ml["source"], None, ml["basis"],
            r["intensity"], ml["licence"],
            _load=("const", r["intensity"], None, note + (f"; {r['comment']}" if r["comment"] else "")))
    for prefix, tables in (("country", ("owid", "ember")), ("owid", ("owid",))):
        for table in tables:  # for country:, Ember overwrites OWID where it has the country
            t = ann[table]
            for iso, c in t["countries"].items():
                add(f"{prefix}:{iso}", iso, t["source"], c["year"], t["basis"], c["intensity"], t["licence"],
                    _load=("const", c["intensity"], c.get("cfe"), f"{c['name']}; production-based annual average"))
    return cat


def list_signals(prefix: str | None = None) -> list[dict]:
    """Metadata of every name :func:`load_signal` accepts (optionally those starting with ``prefix``).

    Keys: name, region, source, year, basis, kind, resolution ("hourly" or
    "annual"), mean, min, max (gCO2e/kWh), licence; hourly ones add n_hours.
    """
    return [{k: v for k, v in e.items() if not k.startswith("_")}
            for name, e in _catalog().items() if prefix is None or name.startswith(prefix)]


def _lookup(name: str) -> dict:
    cat = _catalog()
    if not isinstance(name, str):
        raise _err("grid signal name", "must be a string like 'eia:CISO'", name)
    if name in cat:
        return cat[name]
    folded = {k.casefold(): k for k in cat}
    if name.strip().casefold() in folded:
        return cat[folded[name.strip().casefold()]]
    close = difflib.get_close_matches(name, list(cat), n=3, cutoff=0.6)
    if not close:  # try within the prefix, ignoring case
        close = [folded[k] for k in difflib.get_close_matches(name.casefold(), list(folded), n=3, cutoff=0.5)]
    hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
    raise _err("grid signal", "unknown name", name,
               f"{hint}carbonsim.grid.list_signals() lists all {len(cat)} names; syntax in docs/grid-data.md")


def load_signal(name: str, *, gap_policy: str = "interpolate", max_gap_hours: int = DEFAULT_MAX_GAP_HOURS,
                glitch_policy: str = "warn") -> GridSignal:
    """Load a bundled signal by name, e.g. ``eia:CISO``, ``em:DE-LU/lifecycle``, ``gcp:us-central1@2022``.

    ``gap_policy``: ``"interpolate"`` (fill NaN runs up to ``max_gap_hours``
    with a warning, longer runs raise), ``"error"`` (any NaN raises) or
    ``"keep"`` (NaN stay).  ``glitch_policy`` (EIA only): ``"warn"`` (report
    glitch hours, keep them), ``"fill"`` (treat them as gaps) or ``"ignore"``.
    """
    entry = _lookup(name)
    load = entry["_load"]
    if load[0] == "const":
        _, value, cfe, notes = load
        year = entry["year"]
        return GridSignal(name=entry["name"], region=entry["region"], source=entry["source"], year=year,
                          basis=entry["basis"], start=datetime(year or 1970, 1, 1, tzinfo=UTC), values=[value],
                          cfe=None if cfe is None else [cfe], constant=True, licence=entry["licence"], notes=notes)
    s = load[1]
    arr = _hourly_arrays()
    keys = s["arrays"]
    notes = f"{s['region_name']}; {s['accounting']} basis"
    if s.get("zone_id", s["region"]) != s["region"]:
        notes += f"; Electricity Maps zone id {s['zone_id']}"
    fields = dict(name=s["name"], region=s["region"], source=s["source"], year=s["year"], basis=s["basis"],
                  kind=s["kind"], start=datetime.fromisoformat(s["start"]), values=arr[keys["values"]],
                  licence=s["licence"], estimated_fraction=s["estimated_fraction"], notes=notes)
    if "generation" in keys:
        gen = {f: arr[k].astype(np.float64) for f, k in keys["generation"].items()}
        fields.update(generation=gen, cfe=_eia_cfe(gen))
    if "cfe_pct" in keys:
        fields.update(cfe=arr[keys["cfe_pct"]] / 100.0, estimated=arr[keys["estimated"]].astype(bool))
    return _finish(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy=glitch_policy)


def _eia_cfe(gen: Mapping[str, np.ndarray]) -> np.ndarray:
    """Hourly carbon-free fraction from net generation (negative net generation counts as 0)."""
    clean = sum(np.clip(gen[f], 0, None) for f in EIA_CARBON_FREE if f in gen)
    total = sum(np.clip(g, 0, None) for g in gen.values())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, clean / total, np.nan)


# ---------------------------------------------------------------- user files

def _zone(tz: str, path) -> ZoneInfo | timezone:
    if tz.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise _err(str(path), "unknown timezone", tz, "use an IANA name such as 'Europe/Berlin' or 'UTC'") from None


def _timestamp(text: str, tz, prev: datetime | None, where: str) -> datetime:
    """Parse ISO 8601; naive times are local in ``tz`` (ambiguous DST hours take the later fold after the earlier)."""
    try:
        t = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _err(where, "timestamp is not ISO 8601", text,
                   "use e.g. 2023-01-01 00:00:00 or 2023-01-01T00:00:00+00:00") from None
    if t.tzinfo is not None:
        return t.astimezone(UTC)
    if tz is UTC:
        return t.replace(tzinfo=UTC)
    early, late = (t.replace(tzinfo=tz, fold=f).astimezone(UTC) for f in (0, 1))
    if early.astimezone(tz).replace(tzinfo=None) != t:
        raise _err(where, f"local time does not exist in {tz.key} (skipped by a DST change)", text,
                   "check the timezone argument or fix the row")
    return late if prev is not None and early <= prev < late else early


def _number(text: str, where: str, column: str, *, allow_negative=False) -> float:
    t = text.strip()
    if t == "" or t.lower() in ("nan", "na", "null"):
        return math.nan
    try:
        v = float(t)
    except ValueError:
        raise _err(where, f"{column} is not a number", text,
                   "fix the value or leave it empty for a missing hour") from None
    if math.isinf(v):
        raise _err(where, f"{column} must be finite", text, "leave it empty for a missing hour")
    if v < 0 and not allow_negative:
        raise _err(where, f"{column} must be >= 0", text, "carbon intensity cannot be negative; fix the row")
    return v


def _hourly(path, stamps: list[tuple[int, datetime]], columns: dict[str, list[float]]):
    """Check order, then average (sub-)hourly samples into UTC hours; hours with no sample are NaN."""
    if not stamps:
        raise _err(str(path), "no data rows", None, "the file needs a header and at least one row", show_value=False)
    for (l0, t0), (l1, t1) in zip(stamps, stamps[1:]):
        if t1 == t0:
            raise _err(f"{path}:{l1}", f"duplicate timestamp (same UTC time as line {l0})", _fmt_utc(t1),
                       "remove the duplicate row")
        if t1 < t0:
            raise _err(f"{path}:{l1}", f"timestamp goes back in time (line {l0} is {_fmt_utc(t0)})", _fmt_utc(t1),
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
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise _err(str(p), "cannot read file", str(e), show_value=True) from None
    reader = csv.reader(io.StringIO(text))
    return [(reader.line_num, row) for row in reader if any(c.strip() for c in row)]


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
        raise _err(str(path), "unknown unit", unit, "use 'g/kWh', 'kg/kWh' or 'lbs/MWh'")
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
            raise _err(where, "row needs a timestamp and a value", ",".join(row), "write rows as timestamp,value")
        t = _timestamp(row[0], tz, stamps[-1][1] if stamps else None, where)
        stamps.append((line, t))
        vals.append(_number(row[1], where, "value"))
    start, cols = _hourly(path, stamps, {"v": vals})
    stem = Path(path).stem
    fields = dict(name=name or f"file:{stem}", region=region or stem, source=f"file {Path(path).name}",
                  year=start.year, basis=basis, kind=kind, start=start, values=cols["v"] * UNIT_FACTORS[key],
                  notes=f"read from {unit} in {timezone}")
    return _finish(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy="ignore")


def _columns(path, header: list[str], wanted: dict[str, tuple[str, ...]], required: tuple[str, ...]):
    """Map logical column -> index by case-insensitive substring match on the header."""
    low = [h.strip().lower() for h in header]
    found = {}
    for key, needles in wanted.items():
        hits = [i for i, h in enumerate(low) if all(n in h for n in needles)]
        if hits:
            found[key] = hits[0]
        elif key in required:
            raise _err(f"{path}:1", f"missing column containing {' and '.join(repr(n) for n in needles)}",
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
        raise _err(str(path), "basis must be 'direct' or 'lifecycle'", basis)
    rows = _rows(path)
    if not rows:
        raise _err(str(path), "empty file", None, "expected an Electricity Maps CSV", show_value=False)
    col = _columns(path, rows[0][1], {
        "time": ("datetime",), "direct": ("carbon intensity", "(direct)"), "lca": ("carbon intensity", "(lca)"),
        "low": ("low carbon percentage",), "est": ("data estimated",), "zone": ("zone id",)},
        required=("time", "direct" if basis == "direct" else "lca"))
    vcol = col["direct" if basis == "direct" else "lca"]
    stamps, vals, low, est, zones = [], [], [], [], set()
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) < len(rows[0][1]):
            raise _err(where, f"row has {len(row)} fields, header has {len(rows[0][1])}", ",".join(row))
        stamps.append((line, _timestamp(row[col["time"]], UTC, None, where)))
        vals.append(_number(row[vcol], where, rows[0][1][vcol].strip()))
        if "low" in col:
            pct = _number(row[col["low"]], where, "Low Carbon Percentage")
            if pct > 100:
                raise _err(where, "Low Carbon Percentage must be in 0..100", row[col["low"]])
            low.append(pct / 100.0)
        if "est" in col:
            flag = row[col["est"]].strip().lower()
            if flag not in ("true", "false", ""):
                raise _err(where, "Data Estimated must be true or false", row[col["est"]])
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
    return _finish(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy="ignore")


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
        raise _err(str(path), "empty file", None, "expected an EIA-930 CSV", show_value=False)
    header = [h.strip() for h in rows[0][1]]
    if "timestamp" not in header or "avg_CI" not in header:
        raise _err(f"{path}:1", "header needs 'timestamp' and 'avg_CI' columns", rows[0][1],
                   "expected timestamp,WND,SUN,WAT,OIL,NG,COL,NUC,OTH,avg_CI")
    it, ici = header.index("timestamp"), header.index("avg_CI")
    fuels = {f: header.index(f) for f in EIA_FUELS if f in header}
    stamps, vals, gen = [], [], {f: [] for f in fuels}
    for line, row in rows[1:]:
        where = f"{path}:{line}"
        if len(row) != len(header):
            raise _err(where, f"row has {len(row)} fields, header has {len(header)}", ",".join(row))
        stamps.append((line, _timestamp(row[it], UTC, None, where)))
        vals.append(_number(row[ici], where, "avg_CI"))
        for f, i in fuels.items():
            gen[f].append(_number(row[i], where, f, allow_negative=True))
    start, cols = _hourly(path, stamps, {"v": vals, **gen})
    ba = region or Path(path).stem.split("_")[0]
    g = {f: cols[f] for f in fuels}
    fields = dict(name=f"eia:{ba}", region=ba, source=f"EIA-930 file {Path(path).name}", year=start.year,
                  basis="lifecycle", start=start, values=cols["v"], generation=g or None,
                  cfe=_eia_cfe(g) if g else None, licence="eia-public-domain", notes="production basis")
    return _finish(fields, gap_policy=gap_policy, max_gap_hours=max_gap_hours, glitch_policy=glitch_policy)


# ---------------------------------------------------------------- year alignment

def align(signal: GridSignal, start: datetime, n_hours: int, *, year_shift: str | None = None,
          overflow: str = "error") -> np.ndarray:
    """Hourly values (float64, length ``n_hours``) for a simulation starting at ``start`` (whole UTC hour).

    ``year_shift`` when the simulation is not within the data:

    - ``None``/``"none"``: no shift; a simulation in another year than the data raises.
    - ``"exact"``: same hour of year (hours since 1 January 00:00 UTC) in the data's year.
    - ``"weekday"``: as ``"exact"``, then moved by the whole number of days in -3..+3
      that puts the start on the same weekday.  A start that would fall before
      (after) the data moves one week later (earlier); with ``overflow="error"``
      so does a span that would run past the end, when that keeps it in the data.

    The span then runs contiguously, so weekdays stay aligned throughout.
    ``overflow``: ``"error"`` if the span leaves the data, ``"wrap"`` to repeat it cyclically.
    Constant signals give their value at every hour, whatever the year.
    """
    where = f"align({signal.name})"
    start = _utc_hour(start, f"{where}: start")
    if isinstance(n_hours, bool) or not isinstance(n_hours, (int, np.integer)) or n_hours < 0:
        raise _err(where, "n_hours must be an integer >= 0", n_hours)
    n_hours = int(n_hours)
    if year_shift not in (None, "none", "exact", "weekday"):
        raise _err(where, "year_shift must be None, 'none', 'exact' or 'weekday'", year_shift)
    if overflow not in ("wrap", "error"):
        raise _err(where, "overflow must be 'wrap' or 'error'", overflow)
    if signal.constant:
        return np.full(n_hours, signal.values[0], dtype=np.float64)
    first, end, n = signal.start, signal.end, signal.n_hours
    if year_shift in (None, "none"):
        if not first <= start < end and start.year != first.year:
            raise _err(where, f"simulation starts in {start.year} but the data cover {_fmt(first)}..{_fmt(end)}",
                       None, "pass year_shift='weekday' (same hour of year, moved <= 3 days to keep weekdays), "
                       "year_shift='exact' (same hour of year), or use data for that year", show_value=False)
        target = start
    else:
        target = datetime(first.year, 1, 1, tzinfo=UTC) + (start - datetime(start.year, 1, 1, tzinfo=UTC))
        if year_shift == "weekday":
            delta = (start.weekday() - target.weekday()) % 7
            target += timedelta(days=delta - 7 if delta > 3 else delta)
            week = timedelta(days=7)
            if target < first:
                target += week
            elif target >= end or (overflow == "error" and target + n_hours * HOUR > end and target - week >= first):
                target -= week
    offset = (target - first) // HOUR
    idx = offset + np.arange(n_hours)
    if overflow == "wrap":
        idx %= n
    elif n_hours and (idx[0] < 0 or idx[-1] >= n):
        raise _err(where, f"needs {_fmt(target)}..{_fmt(target + n_hours * HOUR)} but the data cover "
                          f"{_fmt(first)}..{_fmt(end)}", None,
                   "pass overflow='wrap' to repeat the data cyclically, or shorten the simulation", show_value=False)
    out = signal.values[idx].astype(np.float64)
    if np.isnan(out).any():
        raise _err(where, f"{int(np.isnan(out).sum())} of the requested hours are missing (NaN)", None,
                   "load the signal with gap_policy='interpolate'", show_value=False)
    return out
