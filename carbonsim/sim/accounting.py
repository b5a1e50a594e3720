"""The accounting core: workloads -> power intervals -> energy and CO2e.

A run turns every workload into power intervals ``(start, end, watts,
datacenter, workload)``, integrates them in one call to the compiled kernel
against each datacenter's hourly intensity table (gross and net signals), and
sums the per-interval results by workload and datacenter with ``bincount``.

Accounting (Patterson et al. 2021, Sec. 2.5):

- IT energy = sum of power x time;
- facility energy = IT energy x PUE;
- gross CO2e = facility energy x hourly grid intensity (location based);
- net CO2e = facility energy x net intensity, where net = gross x (1 - CFE)
  for a datacenter with a carbon-free-energy share (24/7, same-grid,
  hour-matched CFE as in Patterson et al.), or the published net intensity;
- embodied CO2e = chips x embodied kgCO2e x time used / lifetime, reported
  apart from operational CO2e and added into the total.
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass

import numpy as np

from ..model.errors import SimulationError
from ..model.units import (
    J_PER_KWH,  # noqa: E402,F401  (re-exported)
    SECONDS_PER_HOUR,  # noqa: E402
)
from . import _kernels

#: Order of the signals in an intensity table's last axis.
SIGNALS = ("gross", "net")


@dataclass(frozen=True)
class IntensityTable:
    """Hourly signals per datacenter, aligned on one UTC hour grid.

    ``values[d, h, k]`` is signal ``SIGNALS[k]`` (gCO2e/kWh) of datacenter ``d``
    during hour ``h``; hour 0 starts at ``start``.
    """

    start: dt.datetime
    datacenters: tuple[str, ...]
    values: np.ndarray
    prefix: np.ndarray

    @classmethod
    def from_values(cls, start: dt.datetime, datacenters, values) -> "IntensityTable":
        values = np.ascontiguousarray(values, dtype=np.float64)
        if values.ndim != 3 or values.shape[0] != len(datacenters) or values.shape[1] < 1:
            raise ValueError(f"values must have shape (n_datacenters, n_hours>=1, n_signals), got {values.shape}")
        if not np.all(np.isfinite(values)) or np.any(values < 0):
            raise ValueError("intensity values must be finite and non-negative")
        if start.tzinfo is None or start.minute or start.second or start.microsecond:
            raise ValueError("table start must be an hour-aligned aware datetime")
        prefix = np.zeros((values.shape[0], values.shape[1] + 1, values.shape[2]))
        np.cumsum(values, axis=1, out=prefix[:, 1:, :])
        values.setflags(write=False)
        prefix.setflags(write=False)
        return cls(start.astimezone(dt.timezone.utc), tuple(datacenters), values, prefix)

    @classmethod
    def constant(cls, start: dt.datetime, n_hours: int, rows: dict[str, tuple[float, ...]]) -> "IntensityTable":
        names = tuple(rows)
        values = np.empty((len(names), n_hours, len(SIGNALS)))
        for d, name in enumerate(names):
            values[d, :, :] = rows[name]
        return cls.from_values(start, names, values)

    @property
    def n_hours(self) -> int:
        return self.values.shape[1]

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(hours=self.n_hours)

    def seconds(self, when: dt.datetime) -> float:
        """Seconds from the table start (the kernel's time axis)."""
        return (when - self.start).total_seconds()


def _floats(name: str, x, finite: bool = True) -> np.ndarray:
    """``x`` as a contiguous float64 array: real numbers only (no complex, text or objects);
    finite unless ``finite=False`` (times: the kernel reports non-finite ones as outside the table)."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be real numbers, got an array of {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float64)
    if finite and not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return a


def _indices(name: str, x, n: int) -> np.ndarray:
    """``x`` as contiguous int32 row numbers in [0, n): whole numbers only (1.9 is not a row)."""
    a = np.asarray(x)
    if a.dtype.kind == "b" or a.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be integers, got an array of {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a) & (a == np.round(a))):
        raise ValueError(f"{name} must be whole numbers")
    if a.size and (a.min() < 0 or a.max() >= n):
        raise SimulationError(f"{name} outside the intensity table: must be between 0 and {n - 1}, "
                              f"got {a.min()!r}..{a.max()!r}")
    return np.ascontiguousarray(a, dtype=np.int32)


def _thread_count(num_threads) -> int:
    """A thread count of at least 1, at most the machine's CPUs (more would only oversubscribe)."""
    if isinstance(num_threads, bool) or not isinstance(num_threads, (int, np.integer)):
        raise ValueError(f"num_threads must be an integer, got {num_threads!r}")
    if num_threads < 1:
        raise ValueError(f"num_threads must be at least 1, got {num_threads}")
    return int(min(num_threads, os.cpu_count() or 1))


def integrate(start_s, end_s, power_w, datacenter, table: IntensityTable, *, num_threads: int = 1):
    """Integrate power intervals against ``table``.

    Returns ``(energy_j, weighted)``: IT energy per interval (J) and, per
    interval and signal, the integral of power x intensity (J x gCO2e/kWh;
    divide by 3.6e6 for grams).  Times are seconds from ``table.start``.
    """
    num_threads = _thread_count(num_threads)
    start_s, end_s = _floats("start_s", start_s, finite=False), _floats("end_s", end_s, finite=False)
    power_w = _floats("power_w", power_w)
    datacenter = _indices("datacenter", datacenter, table.values.shape[0])
    n = start_s.shape[0] if start_s.ndim == 1 else -1
    if not (start_s.ndim == end_s.ndim == power_w.ndim == datacenter.ndim == 1) or not (
        n == end_s.shape[0] == power_w.shape[0] == datacenter.shape[0]
    ):
        raise ValueError("start_s, end_s, power_w and datacenter must be 1-D arrays of one length")
    if n and not (np.all(np.isfinite(power_w)) and power_w.min() >= 0):
        raise ValueError("power_w must be finite and non-negative")
    energy_j = np.empty(n)
    weighted = np.empty((n, table.values.shape[2]))
    n_bad = _kernels.integrate_intervals(start_s, end_s, power_w, datacenter, table.values, table.prefix,
                                         energy_j, weighted, num_threads)
    if n_bad:
        t_max = table.n_hours * SECONDS_PER_HOUR
        ok = (start_s >= 0) & (end_s >= start_s) & (end_s <= t_max) & (datacenter >= 0) & (
            datacenter < table.values.shape[0])
        i = int(np.flatnonzero(~ok)[0])
        raise SimulationError(
            f"{n_bad} interval(s) outside the intensity table; first: interval {i} "
            f"[{start_s[i]!r}, {end_s[i]!r}) s in datacenter {int(datacenter[i])}, "
            f"table covers [0, {t_max!r}) s for {table.values.shape[0]} datacenter(s)"
        )
    return energy_j, weighted


def hourly_energy(start_s, end_s, power_w, datacenter, n_datacenters: int, n_hours: int) -> np.ndarray:
    """IT energy (J) per datacenter and hour, shape ``(n_datacenters, n_hours)``.

    Exact and O(n + hours): each interval adds its partial first and last hours
    directly and its whole hours through a difference array.  Multiplying by
    the hourly intensity gives hourly emissions exactly, because intensity is
    constant within an hour.
    """
    for name, v in (("n_datacenters", n_datacenters), ("n_hours", n_hours)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")
    s, e, p = _floats("start_s", start_s), _floats("end_s", end_s), _floats("power_w", power_w)
    d = _indices("datacenter", datacenter, n_datacenters).astype(np.int64)
    if not (s.ndim == e.ndim == p.ndim == d.ndim == 1 and s.shape == e.shape == p.shape == d.shape):
        raise ValueError("start_s, end_s, power_w and datacenter must be 1-D arrays of one length")
    if s.size:
        if s.min() < 0 or e.max() > n_hours * SECONDS_PER_HOUR:
            raise ValueError(f"intervals must lie in [0, {n_hours * SECONDS_PER_HOUR:g}] s (n_hours = {n_hours})")
        if np.any(e < s):
            raise ValueError("every interval must end at or after its start (end_s >= start_s)")
        if p.min() < 0:
            raise ValueError("power_w must be non-negative")
    out = np.zeros(n_datacenters * n_hours)
    diff = np.zeros(n_datacenters * (n_hours + 1))
    hs = np.minimum((s // SECONDS_PER_HOUR).astype(np.int64), n_hours - 1)
    he = np.minimum((e // SECONDS_PER_HOUR).astype(np.int64), n_hours)
    same = hs == he
    # intervals inside one hour
    np.add.at(out, d[same] * n_hours + hs[same], p[same] * (e[same] - s[same]))
    m = ~same
    hs, he, s, e, p, d = hs[m], he[m], s[m], e[m], p[m], d[m]
    np.add.at(out, d * n_hours + hs, p * ((hs + 1) * SECONDS_PER_HOUR - s))
    tail = e - he * SECONDS_PER_HOUR
    has_tail = (tail > 0) & (he < n_hours)
    np.add.at(out, d[has_tail] * n_hours + he[has_tail], p[has_tail] * tail[has_tail])
    np.add.at(diff, d * (n_hours + 1) + hs + 1, p)
    np.add.at(diff, d * (n_hours + 1) + he, -p)
    whole = np.cumsum(diff.reshape(n_datacenters, n_hours + 1), axis=1)[:, :n_hours] * SECONDS_PER_HOUR
    return out.reshape(n_datacenters, n_hours) + whole
