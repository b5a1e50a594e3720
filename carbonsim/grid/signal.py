"""Grid signals: hourly carbon intensity with its basis, gap filling, glitch detection and alignment to a run."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import MappingProxyType
from typing import Mapping

import numpy as np

from .files import EXCERPT_CHARS, excerpt

UNITS = "gCO2e/kWh"
#: The largest carbon intensity accepted from any source (constants, CSV files, bundled and cloud
#: data): 5000 gCO2e/kWh, well above any grid (lignite plants emit about 1200).
MAX_INTENSITY = 5000
#: Dates every signal and run must fall in: 1970-01-01 to 2199-12-31 (the scenario date limit).
FIRST_YEAR, LAST_YEAR = 1970, 2199
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


class GridSpanError(GridError):
    """A run's hours are not in the data (structured, so callers can word their own fix).

    ``kind``: ``"year"`` (another year, no year shift), ``"overflow"`` (the span leaves the
    data) or ``"missing"`` (missing hours inside the span); ``needed`` is the span asked
    for in the data's time (start, exclusive end), ``data`` the data's own; ``year`` the
    simulation's start year; ``hours`` the number of missing hours.
    """

    def __init__(self, message, *, kind, signal=None, name=None, needed=None, year=None, hours=0):
        super().__init__(str(message))
        self.kind, self.needed, self.year, self.hours = kind, needed, year, hours
        self.signal_name = signal.name if signal is not None else name
        self.data = (signal.start, signal.end) if signal is not None else None


class GridDataWarning(UserWarning):
    """Grid data were changed or look suspect (filled gaps, glitch hours)."""


def grid_error(where, rule, value=None, fix=None, *, show_value=True):
    text = f"{where}: {rule}" + (f", got {_quote(value)}" if show_value else "")
    return GridError(text + (f" ({fix})" if fix else ""))


def _quote(value) -> str:
    """A value for a message: a file's text is cut to a short excerpt (an error never echoes a whole line)."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return f"<{type(value).__name__} too large to show>"
    # the closing quote of a cut string stays
    return text if len(text) <= EXCERPT_CHARS + 2 else excerpt(text[:-1]) + text[-1:]


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
    filled: np.ndarray | None = None       # hours missing in the data, filled by interpolation
    glitch: np.ndarray | None = None       # hours found to be glitches (kept, or filled)
    series: str | None = None              # the bundled series this signal is, under another name (cloud regions)

    def __post_init__(self):
        where = f"GridSignal {self.name!r}"
        if self.basis not in BASES:
            raise grid_error(where, f"basis must be one of {BASES}", self.basis)
        if self.kind not in KINDS:
            raise grid_error(where, f"kind must be one of {KINDS}", self.kind)
        if self.units != UNITS:
            raise grid_error(where, f"units must be {UNITS!r} (convert when reading)", self.units)
        object.__setattr__(self, "start", _utc_hour(self.start, where + " start"))
        try:
            values = _frozen(self.values)
        except (TypeError, ValueError):
            raise grid_error(where, "values must be numbers in gCO2e/kWh", type(self.values).__name__) from None
        if values.ndim != 1 or values.size == 0 or (self.constant and values.size != 1):
            raise grid_error(where, "values must be a non-empty 1-D array (exactly one value if constant)", values.shape)
        bad = (values < 0) | np.isinf(values) | (values > MAX_INTENSITY)
        if np.any(bad):
            raise grid_error(where, "values must be finite and >= 0", float(values[bad][0]),
                             f"and at most {MAX_INTENSITY:g} gCO2e/kWh; check the unit and the values")
        object.__setattr__(self, "values", values)
        for field in ("cfe", "estimated", "filled", "glitch"):
            arr = getattr(self, field)
            if arr is not None:
                arr = _frozen(arr, np.float64 if field == "cfe" else bool)
                if arr.shape != values.shape:
                    raise grid_error(where, f"{field} must have the shape of values {values.shape}", arr.shape)
                object.__setattr__(self, field, arr)
        if self.cfe is not None and np.any((self.cfe < 0) | (self.cfe > 1)):
            raise grid_error(where, "cfe must be a fraction in 0..1", float(self.cfe[(self.cfe < 0) | (self.cfe > 1)][0]))
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
        raise grid_error(what, "must be a timezone-aware datetime", t, "e.g. datetime(2023, 1, 1, tzinfo=timezone.utc)")
    t = t.astimezone(UTC)
    if (t.minute, t.second, t.microsecond) != (0, 0, 0):
        raise grid_error(what, "must be on a whole UTC hour", t.isoformat(), "round it to the hour")
    return t


def constant_signal(value_g_per_kwh: float, *, name: str = "constant", region: str = "",
                    basis: str = "unspecified", cfe: float | None = None) -> GridSignal:
    """A signal with the same intensity (gCO2e/kWh) at every hour."""
    try:
        v = float(value_g_per_kwh)
    except (TypeError, ValueError):
        raise grid_error(name, "constant intensity must be a number in gCO2e/kWh", value_g_per_kwh) from None
    if not math.isfinite(v) or v < 0:
        raise grid_error(name, "constant intensity must be finite and >= 0 gCO2e/kWh", value_g_per_kwh)
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
        raise grid_error(name, "every hour is missing (NaN)", None, "check the data source", show_value=False)
    runs = _runs(nan)
    i, j = max(runs, key=lambda r: r[1] - r[0])
    if j - i > max_gap_hours:
        raise GridSpanError(grid_error(
            name, f"{j - i} consecutive missing hours {_describe_runs([(i, j)], start)} "
            f"exceed max_gap_hours={max_gap_hours}", None,
            f"raise max_gap_hours to at least {j - i}, or load with gap_policy='keep' and handle NaN yourself",
            show_value=False), kind="gap", name=name, hours=j - i, needed=_describe_runs([(i, j)], start))
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


def finish_signal(fields: dict, *, gap_policy: str, max_gap_hours: int, glitch_policy: str) -> GridSignal:
    """Build a signal from raw (NaN-holding) arrays, then apply the glitch and gap policies."""
    name = fields["name"]
    if gap_policy not in GAP_POLICIES:
        raise grid_error(name, f"gap_policy must be one of {GAP_POLICIES}", gap_policy)
    if glitch_policy not in GLITCH_POLICIES:
        raise grid_error(name, f"glitch_policy must be one of {GLITCH_POLICIES}", glitch_policy)
    sig = GridSignal(**fields)
    values, cfe, notes = np.array(sig.values), None if sig.cfe is None else np.array(sig.cfe), []
    glitches = find_glitches(sig) if glitch_policy != "ignore" else []
    glitch_mask = None
    if glitches:
        hours = np.array([(t - sig.start) // HOUR for t in glitches])
        glitch_mask = np.isin(np.arange(values.size), hours)
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
    filled_mask = nan.copy() if nan.any() and gap_policy == "interpolate" else None
    if nan.any() and gap_policy == "error":
        raise grid_error(name, f"{int(nan.sum())} missing hours {_describe_runs(_runs(nan), sig.start)}", None,
                   "use gap_policy='interpolate' (default) or 'keep'", show_value=False)
    if nan.any() and gap_policy == "interpolate":
        values, message = _fill(values, max_gap_hours, name, sig.start)
        warnings.warn(message, GridDataWarning, stacklevel=3)
        notes.append(f"{int(nan.sum())} missing hours filled by linear interpolation")
    if gap_policy == "interpolate" and cfe is not None and np.isnan(cfe).any() and not np.isnan(cfe).all():
        cfe = _fill(cfe, cfe.size, name, None)[0]  # follows the values' policy
    fields = dict(fields, values=values, cfe=cfe, notes="; ".join(filter(None, [fields.get("notes", "")] + notes)),
                  filled=filled_mask, glitch=glitch_mask)
    return GridSignal(**fields)


def used_hours_notes(signal: GridSignal, index: np.ndarray | None) -> list[str]:
    """What was changed or looks suspect in the data hours ``index`` (from :func:`align_index`):
    filled gaps and glitch hours of those hours only, one sentence each."""
    if index is None or signal.constant or not len(index):
        return []
    used = np.zeros(signal.n_hours, dtype=bool)
    used[np.asarray(index) % signal.n_hours] = True
    out = []
    if signal.glitch is not None and (signal.glitch & used).any():
        mask = signal.glitch & used
        hours = np.flatnonzero(mask)
        kept = signal.filled is None or not signal.filled[hours].all()
        out.append(f"{signal.name}: {int(mask.sum())} of the data hours used are glitch hours (total generation "
                   f"below {GLITCH_FRACTION:.0%} of the median): {_describe_runs(_runs(mask), signal.start)}"
                   + (f" (kept as published: {', '.join(f'{signal.values[h]:.1f}' for h in hours[:5])} gCO2e/kWh)"
                      if kept else " (filled as missing hours)"))
    if signal.filled is not None:
        mask = signal.filled & used & ~(signal.glitch if signal.glitch is not None else np.zeros_like(used))
        if mask.any():
            out.append(f"{signal.name}: {int(mask.sum())} of the data hours used are missing in the data and filled "
                       f"by linear interpolation: {_describe_runs(_runs(mask), signal.start)}")
    return out




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
    Constant signals give their value at every hour, whatever the year.  A span that
    cannot be served raises :class:`GridSpanError` (a :class:`GridError`).
    """
    idx = align_index(signal, start, n_hours, year_shift=year_shift, overflow=overflow)
    if idx is None:
        return np.full(int(n_hours), signal.values[0], dtype=np.float64)
    out = signal.values[idx].astype(np.float64)
    if np.isnan(out).any():
        missing = int(np.isnan(out).sum())
        raise GridSpanError(grid_error(f"align({signal.name})", f"{missing} of the requested hours are missing (NaN)",
                                       None, "load the signal with gap_policy='interpolate'", show_value=False),
                            kind="missing", signal=signal, hours=missing)
    return out


def align_index(signal: GridSignal, start: datetime, n_hours: int, *, year_shift: str | None = None,
                overflow: str = "error") -> np.ndarray | None:
    """The data hours (indexes into ``signal.values``) :func:`align` takes; ``None`` for a constant signal."""
    where = f"align({signal.name})"
    start = _utc_hour(start, f"{where}: start")
    if isinstance(n_hours, bool) or not isinstance(n_hours, (int, np.integer)) or n_hours < 0:
        raise grid_error(where, "n_hours must be an integer >= 0", n_hours)
    n_hours = int(n_hours)
    if year_shift not in (None, "none", "exact", "weekday"):
        raise grid_error(where, "year_shift must be None, 'none', 'exact' or 'weekday'", year_shift)
    if overflow not in ("wrap", "error"):
        raise grid_error(where, "overflow must be 'wrap' or 'error'", overflow)
    if signal.constant:
        return None
    first, end, n = signal.start, signal.end, signal.n_hours
    if year_shift in (None, "none"):
        if not first <= start < end and start.year != first.year:
            raise GridSpanError(grid_error(
                where, f"simulation starts in {start.year} but the data cover {_fmt(first)}..{_fmt(end)}", None,
                "pass year_shift='weekday' (same hour of year, moved <= 3 days to keep weekdays), "
                "year_shift='exact' (same hour of year), or use data for that year", show_value=False),
                kind="year", signal=signal, needed=(start, start + n_hours * HOUR), year=start.year)
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
        raise GridSpanError(grid_error(
            where, f"needs {_fmt(target)}..{_fmt(target + n_hours * HOUR)} but the data cover "
            f"{_fmt(first)}..{_fmt(end)}", None,
            "pass overflow='wrap' to repeat the data cyclically, or shorten the simulation", show_value=False),
            kind="overflow", signal=signal, needed=(target, target + n_hours * HOUR), year=start.year)
    return idx


def eia_cfe(gen: Mapping[str, np.ndarray]) -> np.ndarray:
    """Hourly carbon-free fraction from net generation (negative net generation counts as 0)."""
    clean = sum(np.clip(gen[f], 0, None) for f in EIA_CARBON_FREE if f in gen)
    total = sum(np.clip(g, 0, None) for g in gen.values())
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, clean / total, np.nan)
