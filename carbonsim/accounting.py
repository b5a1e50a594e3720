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
import math
from dataclasses import dataclass

import numpy as np

from . import _kernels
from .errors import SimulationError
from .scenario import SECONDS_PER_YEAR, ResolvedScenario

SECONDS_PER_HOUR = 3600.0
J_PER_KWH = 3.6e6
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


def integrate(start_s, end_s, power_w, datacenter, table: IntensityTable, *, num_threads: int = 1):
    """Integrate power intervals against ``table``.

    Returns ``(energy_j, weighted)``: IT energy per interval (J) and, per
    interval and signal, the integral of power x intensity (J x gCO2e/kWh;
    divide by 3.6e6 for grams).  Times are seconds from ``table.start``.
    """
    start_s = np.ascontiguousarray(start_s, dtype=np.float64)
    end_s = np.ascontiguousarray(end_s, dtype=np.float64)
    power_w = np.ascontiguousarray(power_w, dtype=np.float64)
    datacenter = np.ascontiguousarray(datacenter, dtype=np.int32)
    n = start_s.shape[0]
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


def _hour_floor(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def run(scenario: ResolvedScenario, *, num_threads: int = 1):
    """Simulate a resolved scenario and return a :class:`carbonsim.results.Result`."""
    from .results import Result, WorkloadResult

    runs = scenario.training
    dc_names = tuple(scenario.datacenters)
    dc_index = {name: i for i, name in enumerate(dc_names)}
    warnings = list(scenario.warnings)

    if runs:
        t0 = _hour_floor(min(r.start for r in runs))
        t_end = max(r.end for r in runs)
    else:
        t0, t_end = _hour_floor(dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)), None
    n_hours = max(1, math.ceil((t_end - t0).total_seconds() / SECONDS_PER_HOUR)) if t_end else 1
    table = IntensityTable.constant(
        t0, n_hours,
        {name: (dc.grid_intensity_g_per_kwh, dc.net_grid_intensity_g_per_kwh) for name, dc in scenario.datacenters.items()},
    )

    # Workloads -> power intervals (one per training run in this version).
    start_s = np.array([table.seconds(r.start) for r in runs], dtype=np.float64)
    end_s = start_s + np.array([r.duration_s for r in runs], dtype=np.float64)
    power_w = np.array([r.chips * r.power_w_per_chip for r in runs], dtype=np.float64)
    dc = np.array([dc_index[r.datacenter] for r in runs], dtype=np.int32)
    workload = np.arange(len(runs), dtype=np.int64)

    energy_j, weighted = integrate(start_s, end_s, power_w, dc, table, num_threads=num_threads)
    pue = np.array([scenario.datacenters[n].pue for n in dc_names])[dc]
    it_kwh = np.bincount(workload, energy_j, minlength=len(runs)) / J_PER_KWH
    fac_kwh = np.bincount(workload, energy_j * pue, minlength=len(runs)) / J_PER_KWH
    gross_kg = np.bincount(workload, weighted[:, 0] * pue, minlength=len(runs)) / J_PER_KWH / 1000.0
    net_kg = np.bincount(workload, weighted[:, 1] * pue, minlength=len(runs)) / J_PER_KWH / 1000.0

    results = []
    for i, r in enumerate(runs):
        chip = r.hardware
        if chip.embodied_kgco2e is None:
            embodied = 0.0
            warnings.append(f"{r.name}: no published embodied carbon for {chip.name}; counted as 0 "
                            f"(set hardware.{chip.name}.embodied_kgco2e to include it)")
        else:
            embodied = r.chips * chip.embodied_kgco2e * r.duration_s / (chip.lifetime_years * SECONDS_PER_YEAR)
        results.append(WorkloadResult(
            name=r.name, kind=r.kind, phase=r.phase, datacenter=r.datacenter, hardware=chip.name,
            chips=r.chips, start=r.start, end=r.end, power_w_per_chip=r.power_w_per_chip,
            it_energy_kwh=float(it_kwh[i]), energy_kwh=float(fac_kwh[i]),
            gross_co2e_kg=float(gross_kg[i]), net_co2e_kg=float(net_kg[i]), embodied_co2e_kg=embodied,
            embodied_boundary=chip.embodied_boundary, parameters=r.parameters,
            activated_fraction=r.activated_fraction, flops=r.flops,
            published=dict(r.published) if r.published else None,
        ))
    return Result(scenario=scenario, workloads=tuple(results), warnings=tuple(dict.fromkeys(warnings)))
