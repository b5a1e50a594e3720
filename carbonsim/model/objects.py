"""Resolved, immutable model objects in internal units (seconds, watts, gCO2e/kWh, UTC)."""
from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

from . import hardware as hw
from .spec import DEFAULT_START
from .units import SECONDS_PER_DAY

# ---------------------------------------------------------------------------
# Resolved, immutable model objects (internal units).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Pool:
    """A fixed number of accelerators of one type in one datacenter."""

    hardware: str
    chips: int
    idle_w_per_chip: float
    power_down_after_s: float | None = None


@dataclass(frozen=True)
class Datacenter:
    name: str
    pue: float
    grid: Any                                  # carbonsim.grid.GridSignal (hourly or constant)
    cfe: float | str | None = None             # share, "grid" (the signal's hourly CFE) or None
    net_grid_intensity_g_per_kwh: float | None = None   # a published constant net intensity
    grid_year_shift: str = "none"
    grid_overflow: str = "error"
    grid_scale: float = 1.0
    pools: Mapping[str, Pool] = dataclasses.field(default_factory=lambda: MappingProxyType({}))
    location: str = ""
    description: str = ""

    @property
    def grid_intensity_g_per_kwh(self) -> float:
        """The constant intensity, or the signal's mean."""
        return float(self.grid.values[0]) if self.grid.constant else float(self.grid.mean)

    @property
    def net_description(self) -> str:
        if self.net_grid_intensity_g_per_kwh is not None:
            return f"published net intensity {self.net_grid_intensity_g_per_kwh:g} gCO2e/kWh"
        if self.cfe == "grid":
            return "net = gross x (1 - hourly CFE of the grid signal)"
        if self.cfe is not None:
            return f"net = gross x (1 - {self.cfe:g})"
        return "net = gross (no carbon-free-energy share given)"


@dataclass(frozen=True)
class Policy:
    """Resolved ``policy`` table (see :class:`carbonsim.sim.fleet.Policy`)."""

    placement: str = "fixed"
    datacenters: tuple[str, ...] = ()
    shift: str = "none"
    slack_s: float = 0.0
    interrupt: str = "cheapest"
    threshold_g: float | None = None
    checkpoint_overhead_s: float = 0.0
    forecast_error: float = 0.0
    threshold_percentile: float | None = None
    horizon_s: float = 24 * 3600.0
    length_known: str = "exact"
    forecast: str = "perfect"
    forecast_error_model: str = "independent"
    forecast_error_phi: float = 0.9
    python: str | None = None        # a user policy class, "module:Class"
    params_json: str = "{}"          # its keyword arguments (canonical JSON)
    base_dir: str | None = None      # the scenario's folder (also searched for the policy's module)
    where: str = dataclasses.field(default="", compare=False)   # field path of the python key, for messages

    @property
    def is_baseline(self) -> bool:
        return self.placement == "fixed" and self.shift == "none" and self.python is None

    @property
    def is_builtin(self) -> bool:
        return self.python is None


BASELINE_POLICY = Policy()


@dataclass(frozen=True)
class TrainingRun:
    name: str
    hardware: hw.Hardware
    datacenter: str
    chips: int
    start: dt.datetime
    duration_s: float
    power_w_per_chip: float
    power_source: str
    flops: float | None = None
    achieved_flops_per_chip: float | None = None
    parameters: float | None = None
    activated_fraction: float | None = None
    published: Mapping | None = None
    description: str = ""
    phase: str = "training"
    priority: int = 0
    policy: Policy = BASELINE_POLICY

    kind = "training"

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)

    @property
    def days(self) -> float:
        return self.duration_s / SECONDS_PER_DAY


@dataclass(frozen=True)
class JobStream:
    name: str
    phase: str
    hardware: hw.Hardware
    datacenter: str
    start: dt.datetime
    end: dt.datetime
    power_w_per_chip: float
    power_source: str
    rate_per_s: float | None = None
    trace: Mapping | None = None          # {"submit": datetimes, "chips": ints, "duration_s": floats}
    chips: Any = None                      # int or Distribution
    duration_hours: Any = None             # float or Distribution
    flops: Any = None                      # float or Distribution (with achieved_flops_per_chip)
    achieved_flops_per_chip: float | None = None
    priority: int = 0
    policy: Policy = BASELINE_POLICY
    max_jobs: int = 1_000_000
    description: str = ""

    kind = "job_stream"


@dataclass(frozen=True)
class Search:
    name: str
    hardware: hw.Hardware
    datacenter: str
    start: dt.datetime
    trials: int
    chips_per_trial: int
    trial_duration_s: float
    power_w_per_chip: float
    power_source: str
    parallelism: int | None = None
    early_stopping_fraction: float = 0.0
    early_stopped_length: float = 0.25
    final_training: TrainingRun | None = None
    priority: int = 0
    policy: Policy = BASELINE_POLICY
    description: str = ""

    kind = "search"
    phase = "experimentation"


@dataclass(frozen=True)
class Service:
    name: str
    hardware: hw.Hardware
    datacenter: str                        # the first of datacenters
    start: dt.datetime                     # a whole UTC hour
    duration_s: float
    queries_per_second: float              # mean over a week, at the start
    shape: Any                             # 168 hourly factors by local hour of week (mean 1)
    timezone: str
    growth_per_year: float
    burstiness: float
    config: Any                            # carbonsim.model.serving.ServingConfig
    power_w_per_chip: float
    power_source: str
    mode: str = "auto"
    users: float | None = None
    parameters: float | None = None
    activated_fraction: float | None = None
    description: str = ""
    datacenters: tuple[str, ...] = ()      # where it is deployed
    split: tuple[float, ...] = ()          # share of traffic in each (sums to 1)

    kind = "service"
    phase = "inference"
    priority = 0
    policy = BASELINE_POLICY

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)


@dataclass(frozen=True)
class MeasuredRun:
    """A run whose IT energy was measured: ``segments`` of (offset from start s, length s, W per chip),
    each run as a job of ``chips`` at its measured power, so the grid, PUE, CFE and embodied
    accounting apply on top of the measurement."""

    name: str
    hardware: hw.Hardware
    datacenter: str
    chips: int
    start: dt.datetime
    segments: tuple[tuple[float, float, float], ...]
    phase: str = "training"
    measured: Mapping | None = None        # what was read: source, components (kWh), PUE divided out, ...
    published: Mapping | None = None       # what the measuring tool reported, shown beside ours
    description: str = ""

    kind = "measured"
    priority = -1000                       # they ran when they ran: first in any queue
    policy = BASELINE_POLICY
    power_source = "scenario"

    @property
    def duration_s(self) -> float:
        return max(off + length for off, length, _ in self.segments)

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)

    @property
    def power_w_per_chip(self) -> float:
        """Mean power per chip over the measured time."""
        busy = sum(length for _, length, _ in self.segments)
        return sum(length * w for _, length, w in self.segments) / busy if busy else 0.0


@dataclass(frozen=True)
class ResolvedScenario:
    name: str
    description: str
    seed: int
    schema_version: int
    sha256: str
    source: str | None
    hardware: Mapping[str, hw.Hardware]
    datacenters: Mapping[str, Datacenter]
    training: tuple[TrainingRun, ...]
    warnings: tuple[str, ...] = ()
    job_streams: tuple[JobStream, ...] = ()
    searches: tuple[Search, ...] = ()
    services: tuple[Service, ...] = ()
    start: dt.datetime = DEFAULT_START
    end: dt.datetime | None = None
    measured: tuple[MeasuredRun, ...] = ()
    engine: str = "auto"            # the fleet engine to run it on: auto | compiled | simpy

    @property
    def workloads(self) -> tuple:
        return self.training + self.job_streams + self.searches + self.services + self.measured

    def summary(self) -> str:
        from ..cli.tables import scenario_summary
        return scenario_summary(self)


