"""Scenarios: the file format, the builder API and the one parse step.

Data flow::

    TOML file ──tomllib──▶ document (dict) ──┐
    Scenario builder (add_* calls) ──────────┴──▶ validate() ──▶ ResolvedScenario
                                                   (pydantic: types, ranges,
                                                    unknown keys; then
                                                    references and units)

``ResolvedScenario`` and everything in it is immutable and in internal units
(seconds, watts, gCO2e/kWh, UTC datetimes); nothing after it checks input.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import math
import tomllib
import warnings as _warnings
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import hardware as hw
from .errors import Problem, ScenarioError, field_path, pydantic_rule, toml_key

SCHEMA_VERSION = 1
SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = hw.SECONDS_PER_YEAR
DEFAULT_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------
# The file format (pydantic models).  Field order is the documented order.
# ---------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, validate_default=False
    )


def _to_utc(value: Any) -> Any:
    """TOML dates, datetimes and ISO strings -> aware UTC datetimes (naive = UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be a date or date-time such as 2020-04-01 or 2020-04-01T08:00:00Z")
    if isinstance(value, dt.datetime):
        try:
            value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
            raise ValueError("must be between 1970-01-01 and 2199-12-31")
    elif isinstance(value, dt.date):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    else:
        return value  # let the type check report it
    if not (_EARLIEST <= value < _LATEST):
        raise ValueError("must be between 1970-01-01 and 2199-12-31")
    return value


class ScenarioMeta(_Spec):
    """``[scenario]``: name and run-wide settings."""

    name: str = Field(min_length=1, max_length=200, examples=["patterson2021"])
    description: str = Field("", max_length=10_000)
    seed: int = Field(0, ge=0, lt=2**63, description="Seed of every random draw (none in this version).")
    start: dt.datetime | None = Field(
        None, description="Start of the simulated period and default start of workloads (UTC; naive times are UTC). "
                          "Default: the earliest workload start, else 2020-01-01.",
        examples=[dt.date(2022, 1, 1)],
    )
    end: dt.datetime | None = Field(
        None, description="End of the simulated period (idle power is counted until then).",
        examples=[dt.date(2023, 1, 1)],
    )

    _utc = field_validator("start", "end", mode="before")(_to_utc)

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end <= (self.start or DEFAULT_START):
            raise ValueError(f"end ({self.end:%Y-%m-%d %H:%M}) must be after start "
                             f"({self.start or DEFAULT_START:%Y-%m-%d %H:%M})")
        return self


class HardwareSpec(_Spec):
    """``[hardware.NAME]``: a new accelerator, or ``base = "v100"`` plus overrides."""

    base: str | None = Field(None, description="Catalog entry to start from.", examples=["v100"])
    description: str = ""
    tdp_w: float | None = Field(None, gt=0, le=1e5, examples=[300.0])
    system_power_w: float | None = Field(
        None, gt=0, le=1e5, description="Measured average system power per chip (W).", examples=[330.0]
    )
    system_power_rel_std: float | None = Field(None, ge=0, le=1)
    peak_tflops: float | None = Field(None, gt=0, le=1e6, description="Peak dense 16-bit TFLOP/s.")
    idle_w: float | None = Field(None, ge=0, le=1e5)
    embodied_kgco2e: float | None = Field(None, ge=0, le=1e6, examples=[150.0])
    embodied_boundary: Literal["die", "card", "card+host"] | None = None
    lifetime_years: float | None = Field(None, gt=0, le=50, examples=[5.0])


class GridFileSpec(_Spec):
    """``grid = {csv = "...", ...}``: an hourly intensity series from a CSV file."""

    csv: str = Field(min_length=1, description="Path, relative to the scenario file.", examples=["grid.csv"])
    format: Literal["generic", "electricitymaps", "eia930"] = "generic"
    timezone: str = Field("UTC", description="Timezone of naive timestamps (generic format).")
    unit: Literal["g/kWh", "kg/kWh", "lbs/MWh"] = "g/kWh"
    basis: Literal["direct", "lifecycle", "unspecified"] = "unspecified"


class PoolSpec(_Spec):
    """``[datacenters.NAME.pools.HARDWARE]``: a fixed number of accelerators."""

    chips: int = Field(ge=1, le=100_000_000, examples=[1024])
    idle_w_per_chip: float | None = Field(None, ge=0, le=1e5, description="Default: the hardware's idle_w.")
    power_down_after_minutes: float | None = Field(None, gt=0, le=1e7)


class DatacenterSpec(_Spec):
    """``[datacenters.NAME]``: efficiency, grid and (optionally) accelerator pools."""

    description: str = ""
    location: str = ""
    pue: float = Field(ge=1.0, le=5.0, description="Power usage effectiveness.", examples=[1.1])
    grid_intensity_gco2e_per_kwh: float | None = Field(
        None, ge=0, le=5000, description="Constant gross (location-based) grid intensity.", examples=[429.0]
    )
    grid: str | GridFileSpec | None = Field(
        None, description="Hourly grid signal: a bundled name (carbonsim regions) or a CSV file.",
        examples=["eia:CISO"],
    )
    grid_scale: float = Field(1.0, gt=0, le=10, description="Multiplier on the grid intensity (sensitivity studies).")
    grid_year_shift: Literal["none", "exact", "weekday"] = "none"
    grid_overflow: Literal["error", "wrap"] = "error"
    grid_max_gap_hours: int = Field(24, ge=0, le=8760)
    net_grid_intensity_gco2e_per_kwh: float | None = Field(
        None, ge=0, le=5000, description="Published net intensity after same-grid CFE; exclusive with cfe."
    )
    cfe: float | Literal["grid"] | None = Field(
        None, description="Carbon-free-energy share: net = gross x (1 - cfe); 'grid' for the signal's own.",
        examples=[0.3],
    )
    pools: dict[str, PoolSpec] = Field(default_factory=dict, max_length=100)

    @field_validator("cfe")
    @classmethod
    def _cfe_range(cls, v):
        if isinstance(v, float) and not 0 <= v <= 1:
            raise ValueError("must be a fraction between 0 and 1, or \"grid\"")
        return v

    @model_validator(mode="after")
    def _net_rules(self):
        if (self.grid is None) == (self.grid_intensity_gco2e_per_kwh is None):
            raise ValueError("give exactly one of grid_intensity_gco2e_per_kwh (a constant) or grid "
                             "(a signal name such as \"eia:CISO\", or a CSV file)")
        if self.cfe is not None and self.net_grid_intensity_gco2e_per_kwh is not None:
            raise ValueError("give either cfe or net_grid_intensity_gco2e_per_kwh, not both")
        net = self.net_grid_intensity_gco2e_per_kwh
        if net is not None and self.grid is not None:
            raise ValueError("net_grid_intensity_gco2e_per_kwh needs a constant grid_intensity_gco2e_per_kwh; "
                             "with an hourly grid use cfe")
        if net is not None and net > self.grid_intensity_gco2e_per_kwh:
            raise ValueError(
                f"net_grid_intensity_gco2e_per_kwh ({net}) must not exceed grid_intensity_gco2e_per_kwh "
                f"({self.grid_intensity_gco2e_per_kwh})"
            )
        return self


class PublishedSpec(_Spec):
    """``published``: figures to print beside the computed ones."""

    source: str = ""
    days: float | None = Field(None, gt=0, le=36500)
    energy_mwh: float | None = Field(None, ge=0, le=1e9)
    gross_tco2e: float | None = Field(None, ge=0, le=1e9)
    net_tco2e: float | None = Field(None, ge=0, le=1e9)


class PolicySpec(_Spec):
    """``policy = {...}``: where and when a workload's jobs run (docs/scenario-format.md, "Policies")."""

    placement: Literal["fixed", "lowest-carbon-now", "lowest-carbon-mean"] = "fixed"
    datacenters: list[str] = Field(default_factory=list, max_length=1000,
                                   description="Candidates for placement (default: the workload's datacenter).")
    shift: Literal["none", "window", "interruptible", "lowest-slot", "carbon-time"] = "none"
    slack_hours: float = Field(0.0, ge=0, le=87_600, examples=[24.0])
    interrupt: Literal["cheapest", "threshold"] = "cheapest"
    threshold_gco2e_per_kwh: float | None = Field(None, ge=0, le=5000)
    threshold_percentile: float | None = Field(None, ge=0, le=100, description="Threshold as a percentile of the "
                                               "forecast over the next horizon_hours.", examples=[30.0])
    horizon_hours: float = Field(24.0, gt=0, le=8760, description="Look-ahead of threshold_percentile.")
    checkpoint_overhead_minutes: float = Field(0.0, ge=0, le=10_000)
    length_known: Literal["exact", "mean", "distribution"] = "exact"
    forecast: Literal["perfect", "persistence", "day-ahead-mean"] = "perfect"
    forecast_error: float = Field(0.0, ge=0, le=3, description="Sigma of lognormal forecast errors.")
    forecast_error_model: Literal["independent", "ar1"] = "independent"
    forecast_error_phi: float = Field(0.9, ge=0, lt=1, description="AR(1) correlation from one lead hour to the next.")

    @model_validator(mode="after")
    def _rules(self):
        if self.shift != "none" and self.slack_hours <= 0:
            raise ValueError(f"shift = {self.shift!r} needs slack_hours > 0 (how long the job may be delayed)")
        if self.shift == "interruptible" and self.interrupt == "threshold" and \
                (self.threshold_gco2e_per_kwh is None) == (self.threshold_percentile is None):
            raise ValueError("interrupt = 'threshold' needs exactly one of threshold_gco2e_per_kwh or "
                             "threshold_percentile")
        if self.threshold_percentile is not None and not (self.shift == "interruptible"
                                                           and self.interrupt == "threshold"):
            raise ValueError("threshold_percentile needs shift = 'interruptible' and interrupt = 'threshold'")
        if self.placement != "fixed" and not self.datacenters:
            raise ValueError(f"placement = {self.placement!r} needs datacenters = [...] to choose from")
        if self.forecast != "perfect" and self.forecast_error > 0:
            raise ValueError(f"forecast = {self.forecast!r} is made from the data and has its own error; "
                             "remove forecast_error")
        return self


def _check_one_duration(self, keys=("duration_days", "duration_hours", "flops")):
    given = [k for k in keys if getattr(self, k) is not None]
    if len(given) != 1:
        raise ValueError(f"give exactly one of {', '.join(keys[:-1])} or {keys[-1]}"
                         + (f" (got {', '.join(given)})" if given else ""))
    if getattr(self, keys[-1]) is not None:
        rates = [k for k in ("achieved_tflops_per_chip", "hardware_efficiency") if getattr(self, k) is not None]
        if len(rates) != 1:
            raise ValueError(f"with {keys[-1]}, give exactly one of achieved_tflops_per_chip or hardware_efficiency")
    return self


class TrainingSpec(_Spec):
    """``[[workloads.training]]``: one training run."""

    name: str = Field(min_length=1, max_length=200, examples=["T5"])
    description: str = ""
    hardware: str = Field(min_length=1, examples=["tpu-v3"])
    chips: int = Field(ge=1, le=10_000_000, examples=[512])
    datacenter: str = Field(min_length=1, examples=["google-taiwan"])
    start: dt.datetime | None = Field(None, examples=["2019-09-01T00:00:00Z"])
    duration_days: float | None = Field(None, gt=0, le=36500, examples=[20.0])
    duration_hours: float | None = Field(None, gt=0, le=876_000, examples=[480.0])
    flops: float | None = Field(None, gt=0, le=1e32, description="Total training compute.", examples=[4.05e22])
    achieved_tflops_per_chip: float | None = Field(None, gt=0, le=1e6, examples=[45.6])
    hardware_efficiency: float | None = Field(None, gt=0, le=1, description="Achieved / peak.", examples=[0.37])
    power_w_per_chip: float | None = Field(
        None, gt=0, le=1e5, description="Measured average system power per chip.", examples=[310.0]
    )
    parameters: float | None = Field(None, gt=0, le=1e16, examples=[11e9])
    activated_fraction: float | None = Field(None, gt=0, le=1, examples=[1.0])
    phase: Literal["training", "experimentation"] = "training"
    priority: int = Field(0, ge=-1000, le=1000, description="Lower runs first when queueing.")
    policy: PolicySpec | None = None
    published: PublishedSpec | None = None

    _utc = field_validator("start", mode="before")(_to_utc)
    _one_duration = model_validator(mode="after")(_check_one_duration)


def _per_job(value):
    """A number, or a ``{dist = ...}`` table of a job stream -> a distribution drawn anew for
    every job (the vocabulary of docs/uncertainty.md).  Tables stay tables in the spec."""
    if isinstance(value, dict):
        from .uncertainty import per_job_distribution
        dist = per_job_distribution(value)
        low, _ = dist.bounds
        if low < 0:
            raise ValueError(f"a per-job distribution must not draw negative values ({dist.describe()} "
                             f"reaches {low:g}); truncate it with low = 0")
        return dist
    return value


def _check_per_job(value):
    _per_job(value)
    return value


class JobStreamSpec(_Spec):
    """``[[workloads.job_stream]]``: many jobs, from a Poisson arrival process or a CSV trace."""

    name: str = Field(min_length=1, max_length=200, examples=["research jobs"])
    description: str = ""
    phase: Literal["training", "experimentation"] = "experimentation"
    hardware: str = Field(min_length=1, examples=["v100"])
    datacenter: str = Field(min_length=1, examples=["iowa"])
    start: dt.datetime | None = Field(None, description="First possible arrival (default scenario.start).")
    end: dt.datetime | None = Field(None, description="No arrivals after this (default scenario.end).")
    rate_per_day: float | None = Field(None, gt=0, le=1e7, description="Poisson arrival rate.", examples=[40.0])
    trace: str | None = Field(None, min_length=1, description="CSV of submit,chips,duration_hours|flops.")
    chips: int | dict[str, Any] | None = Field(None, examples=[8], description="A number or a per-job distribution.")
    duration_hours: float | dict[str, Any] | None = Field(None, examples=[6.0])
    flops: float | dict[str, Any] | None = None
    achieved_tflops_per_chip: float | None = Field(None, gt=0, le=1e6)
    hardware_efficiency: float | None = Field(None, gt=0, le=1)
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5)
    priority: int = Field(0, ge=-1000, le=1000)
    policy: PolicySpec | None = None
    max_jobs: int = Field(1_000_000, ge=1, le=100_000_000, description="Refuse to generate more jobs than this.")

    _utc = field_validator("start", "end", mode="before")(_to_utc)

    @field_validator("chips")
    @classmethod
    def _chips(cls, v):
        if isinstance(v, int) and not 1 <= v <= 10_000_000:
            raise ValueError("must be between 1 and 10,000,000")
        return _check_per_job(v)

    @field_validator("duration_hours", "flops")
    @classmethod
    def _positive(cls, v):
        if isinstance(v, float) and not 0 < v <= 1e32:
            raise ValueError("must be greater than 0")
        return _check_per_job(v)

    @model_validator(mode="after")
    def _source(self):
        if (self.rate_per_day is None) == (self.trace is None):
            raise ValueError("give exactly one of rate_per_day (Poisson arrivals) or trace (a CSV file)")
        if self.rate_per_day is not None:
            if self.chips is None:
                raise ValueError("Poisson arrivals need chips (a number or a distribution)")
            _check_one_duration(self, ("duration_hours", "flops"))
        elif any(getattr(self, k) is not None for k in ("chips", "duration_hours", "flops")):
            raise ValueError("with a trace, chips and durations come from the file; remove chips/duration_hours/flops")
        return self


class SearchSpec(_Spec):
    """``[[workloads.search]]``: a neural architecture / hyper-parameter search of N trials."""

    name: str = Field(min_length=1, max_length=200, examples=["evolved-transformer-search"])
    description: str = ""
    hardware: str = Field(min_length=1, examples=["tpu-v2"])
    datacenter: str = Field(min_length=1)
    start: dt.datetime | None = None
    trials: int = Field(ge=1, le=10_000_000, examples=[200])
    chips_per_trial: int = Field(ge=1, le=10_000_000, examples=[1])
    trial_duration_hours: float | None = Field(None, gt=0, le=876_000, examples=[6.0])
    trial_flops: float | None = Field(None, gt=0, le=1e32)
    achieved_tflops_per_chip: float | None = Field(None, gt=0, le=1e6)
    hardware_efficiency: float | None = Field(None, gt=0, le=1)
    parallelism: int | None = Field(None, ge=1, le=10_000_000, description="Trials running at once (default all).")
    early_stopping_fraction: float = Field(0.0, ge=0, le=1, description="Share of trials stopped early.")
    early_stopped_length: float = Field(0.25, gt=0, le=1, description="Share of a full trial a stopped one runs.")
    final_training: TrainingSpec | None = Field(None, description="Optional full-size training after the search.")
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5)
    priority: int = Field(0, ge=-1000, le=1000)
    policy: PolicySpec | None = None

    _utc = field_validator("start", mode="before")(_to_utc)

    @model_validator(mode="after")
    def _duration(self):
        return _check_one_duration(self, ("trial_duration_hours", "trial_flops"))


class AutoscalingSpec(_Spec):
    """``autoscaling = {...}``: replicas follow utilisation."""

    min_replicas: int = Field(1, ge=0, le=1_000_000)
    max_replicas: int = Field(ge=1, le=1_000_000, examples=[64])
    target_utilization: float = Field(0.6, gt=0, le=1)
    scale_up_minutes: float = Field(2.0, ge=0, le=10_000)
    scale_down_minutes: float = Field(5.0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _order(self):
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})")
        return self


class ServiceSpec(_Spec):
    """``[[workloads.service]]``: a model served for a period at a traffic level."""

    name: str = Field(min_length=1, max_length=200, examples=["assistant"])
    description: str = ""
    hardware: str = Field(min_length=1, examples=["h100"])
    datacenter: str | None = Field(None, min_length=1, examples=["us-east"])
    datacenters: list[str] = Field(default_factory=list, max_length=1000,
                                   description="Deploy in several datacenters (instead of datacenter).")
    traffic_split: list[float] = Field(default_factory=list, max_length=1000,
                                       description="Share of traffic per datacenter (default: equal).")
    start: dt.datetime | None = None
    duration_days: float = Field(gt=0, le=36500, examples=[730.0])
    queries_per_second: float | None = Field(None, ge=0, le=1e9, examples=[600.0])
    queries_per_day: float | None = Field(None, ge=0, le=1e14)
    diurnal: Literal["flat", "web", "business"] = "web"
    timezone: str = Field("UTC", description="Local time of the users, for the daily and weekly shape.")
    weekend_factor: float = Field(1.0, ge=0, le=10)
    profile: str | None = Field(None, min_length=1, description="CSV of hour (0-23) or hour_of_week (0-167), factor.")
    growth_per_year: float = Field(0.0, gt=-1, le=100, description="Compound traffic growth, e.g. 0.5 = +50%/year.")
    burstiness: float = Field(0.0, ge=0, le=2, description="Sigma of a lognormal factor per hour (mean 1, seeded).")
    energy_wh_per_query: float | None = Field(None, gt=0, le=1e6, examples=[0.3])
    flops_per_query: float | None = Field(None, gt=0, le=1e24)
    tokens_per_query: float | None = Field(None, gt=0, le=1e9, description="With parameters: 2 x active params x tokens.")
    parameters: float | None = Field(None, gt=0, le=1e16)
    activated_fraction: float | None = Field(None, gt=0, le=1)
    hardware_efficiency: float | None = Field(None, gt=0, le=1)
    chips_per_replica: int = Field(1, ge=1, le=100_000)
    replicas: int | None = Field(None, ge=0, le=10_000_000)
    autoscaling: AutoscalingSpec | None = None
    max_batch_size: int = Field(1, ge=1, le=100_000)
    max_wait_ms: float = Field(0.0, ge=0, le=1e7)
    batch_latency_ms: float = Field(0.0, ge=0, le=1e7, description="Fixed time per batch (a in a + b x batch).")
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5, description="Busy power per chip.")
    idle_w_per_chip: float | None = Field(None, ge=0, le=1e5)
    latency_target_ms: float | None = Field(None, gt=0, le=1e9)
    latency_percentile: float = Field(99.0, gt=0, lt=100)
    mode: Literal["auto", "requests", "fluid"] = "auto"
    users: float | None = Field(None, gt=0, le=1e11, description="People served, for per-user figures.")

    _utc = field_validator("start", mode="before")(_to_utc)

    @model_validator(mode="after")
    def _rules(self):
        if (self.datacenter is None) == (not self.datacenters):
            raise ValueError("give exactly one of datacenter or datacenters = [...]")
        if self.traffic_split:
            if len(self.traffic_split) != len(self.datacenters):
                raise ValueError(f"traffic_split has {len(self.traffic_split)} shares for "
                                 f"{len(self.datacenters)} datacenters")
            if any(x < 0 for x in self.traffic_split) or sum(self.traffic_split) <= 0:
                raise ValueError("traffic_split shares must be >= 0 with a positive sum")
        if len(set(self.datacenters)) != len(self.datacenters):
            raise ValueError("datacenters lists a datacenter twice")
        if (self.queries_per_second is None) == (self.queries_per_day is None):
            raise ValueError("give exactly one of queries_per_second or queries_per_day")
        costs = [k for k in ("energy_wh_per_query", "flops_per_query", "tokens_per_query")
                 if getattr(self, k) is not None]
        if len(costs) != 1:
            raise ValueError("give exactly one per-query cost: energy_wh_per_query, flops_per_query, or "
                             "tokens_per_query with parameters" + (f" (got {', '.join(costs)})" if costs else ""))
        if self.tokens_per_query is not None and self.parameters is None:
            raise ValueError("tokens_per_query needs parameters (FLOPs per query = 2 x active parameters x tokens)")
        if costs[0] != "energy_wh_per_query" and self.hardware_efficiency is None:
            raise ValueError("per-query compute needs hardware_efficiency (achieved / peak)")
        if (self.replicas is None) == (self.autoscaling is None):
            raise ValueError("give exactly one of replicas (a fixed fleet) or autoscaling")
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(self.timezone)
        except Exception:
            raise ValueError(f"timezone {self.timezone!r} is not an IANA name such as 'America/New_York'")
        return self


class WorkloadsSpec(_Spec):
    """``[workloads]``: lists of workloads by kind."""

    training: list[TrainingSpec] = Field(default_factory=list, max_length=1_000_000)
    job_stream: list[JobStreamSpec] = Field(default_factory=list, max_length=10_000)
    search: list[SearchSpec] = Field(default_factory=list, max_length=10_000)
    service: list[ServiceSpec] = Field(default_factory=list, max_length=10_000)


class SweepSpec(_Spec):
    """``[sweep]``: regions (and start months) for ``carbonsim sweep``."""

    regions: list[str] = Field(min_length=1, max_length=1000, examples=[["eia:BPAT", "eia:AZPS"]])
    months: list[int] = Field(default_factory=list, max_length=12)

    @field_validator("months")
    @classmethod
    def _months(cls, v):
        bad = [m for m in v if not 1 <= m <= 12]
        if bad:
            raise ValueError(f"months must be 1-12, got {bad[0]}")
        return v


class ScenarioFile(_Spec):
    """A whole scenario file."""

    schema_version: Literal[1] = Field(description="Version of this file format.")
    scenario: ScenarioMeta
    hardware: dict[str, HardwareSpec] = Field(default_factory=dict)
    datacenters: dict[str, DatacenterSpec] = Field(min_length=1)
    workloads: WorkloadsSpec = Field(default_factory=WorkloadsSpec)
    sweep: SweepSpec | None = None


def json_schema() -> dict:
    """The JSON Schema of the scenario file format."""
    schema = ScenarioFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "carbonsim scenario file"
    return schema


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
    """Resolved ``policy`` table (see :class:`carbonsim.engine.Policy`)."""

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

    @property
    def is_baseline(self) -> bool:
        return self.placement == "fixed" and self.shift == "none"


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
    config: Any                            # carbonsim.serving.ServingConfig
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

    @property
    def workloads(self) -> tuple:
        return self.training + self.job_streams + self.searches + self.services

    def summary(self) -> str:
        lines = [f"scenario {self.name!r}: {len(self.datacenters)} datacenter(s), {len(self.training)} training run(s), "
                 f"{len(self.job_streams)} job stream(s), {len(self.searches)} search(es)"]
        for dc in self.datacenters.values():
            grid = (f"grid {dc.grid_intensity_g_per_kwh:g} gCO2e/kWh" if dc.grid.constant else
                    f"grid {dc.grid.name} (hourly, mean {dc.grid.mean:.1f} gCO2e/kWh, {dc.grid.basis})")
            pools = "".join(f", {p.chips} x {p.hardware}" for p in dc.pools.values())
            lines.append(f"  datacenter {dc.name}: PUE {dc.pue:g}, {grid}; {dc.net_description}{pools}")
        for run in self.training:
            lines.append(
                f"  training {run.name}: {run.chips} x {run.hardware.name} at {run.power_w_per_chip:g} W"
                f" in {run.datacenter}, {run.days:.2f} days from {run.start:%Y-%m-%d %H:%M}Z"
            )
        for st in self.job_streams:
            src = f"{st.rate_per_s * 86400:g} jobs/day" if st.rate_per_s else f"trace of {len(st.trace['chips'])} jobs"
            lines.append(f"  job stream {st.name} ({st.phase}): {src} on {st.hardware.name} in {st.datacenter}, "
                         f"{st.start:%Y-%m-%d} to {st.end:%Y-%m-%d}")
        for se in self.searches:
            lines.append(f"  search {se.name}: {se.trials} trials x {se.chips_per_trial} {se.hardware.name} x "
                         f"{se.trial_duration_s / 3600:g} h in {se.datacenter}"
                         + (f", then training {se.final_training.name}" if se.final_training else ""))
        for sv in self.services:
            lines.append(f"  service {sv.name}: {sv.queries_per_second:g} queries/s on {sv.hardware.name} in "
                         f"{sv.datacenter} for {sv.duration_s / SECONDS_PER_DAY:g} days from {sv.start:%Y-%m-%d}")
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Errors: pydantic's messages turned into path / value / rule / fix lines.
# ---------------------------------------------------------------------------


_key = toml_key
_path = field_path


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _unwrap(t: Any) -> Any:
    """``Model | None`` -> ``Model``."""
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(t) if _is_model(a)]
        return models[0] if models else t
    return t


def _model_at(loc: tuple, root: type[BaseModel] = ScenarioFile) -> type[BaseModel] | None:
    """The spec class that holds the field at ``loc`` (for "did you mean")."""
    model: Any = root
    for part in loc:
        model = _unwrap(model)
        if _is_model(model):
            if isinstance(part, str) and part in model.model_fields:
                model = model.model_fields[part].annotation
            else:
                return None
        else:  # list[...] or dict[str, ...]: step into the item type
            args = getattr(model, "__args__", ())
            model = args[-1] if args else None
    model = _unwrap(model)
    return model if _is_model(model) else None


def _missing_fix(parent: type[BaseModel] | None, key: str | None, loc: tuple) -> str | None:
    """How to add a missing (or empty) field: a value, a [table] or a [table.NAME]."""
    if parent is None or key not in parent.model_fields:
        return None
    ann = _unwrap(parent.model_fields[key].annotation)
    if typing.get_origin(ann) is Literal:
        return f"add {key} = {typing.get_args(ann)[0]!r}"
    table, item = _path(loc), ann
    if typing.get_origin(ann) is dict:
        table, item = table + ".NAME", typing.get_args(ann)[-1]
    if not _is_model(item):
        return _example(parent, key)
    required = [name for name, f in item.model_fields.items() if f.is_required()]
    if item is DatacenterSpec:
        required.append("grid_intensity_gco2e_per_kwh (or grid)")
    return f"add a [{table}] table" + (f" with {', '.join(required)}" if required else "")


def _example(model: type[BaseModel] | None, key: str) -> str | None:
    if model is None or key not in model.model_fields:
        return None
    examples = model.model_fields[key].examples
    if not examples:
        return None
    ex = examples[0]
    ann = model.model_fields[key].annotation
    if isinstance(ex, str) and dt.datetime not in (typing.get_args(ann) or (ann,)):
        ex = json.dumps(ex)  # dates are TOML literals, not strings
    return f"for example {key} = {ex}"


def _problems_from(err: ValidationError, prefix: tuple = (), root: type[BaseModel] = ScenarioFile) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(prefix) + tuple(p for p in e["loc"] if p not in ("function-after",))
        kind = e["type"]
        value = e.get("input")
        parent = _model_at(loc[:-1], root) if loc else None
        key = loc[-1] if loc and isinstance(loc[-1], str) else None
        if kind == "extra_forbidden":
            known = list(parent.model_fields) if parent else []
            word = str(key)
            guess = difflib.get_close_matches(word, known, n=1, cutoff=0.6) or sorted(  # else pue_value -> pue
                (k for k in known if min(len(k), len(word)) >= 3 and (word.startswith(k) or k.startswith(word))),
                key=len, reverse=True)[:1]
            fix = f"did you mean {guess[0]!r}?" if guess else (f"known keys: {', '.join(known)}" if known else None)
            problems.append(Problem(_path(loc), "unknown key", fix=fix, has_value=False))
        elif kind == "missing":
            fix = _missing_fix(parent, key, loc) if key else None
            problems.append(Problem(_path(loc), "required key is missing", fix=fix or f"add {key} = ...", has_value=False))
        elif kind == "invalid_key" or (loc and loc[-1] == "[key]"):  # non-string keys: Python documents only
            where = loc[:-1] if kind == "invalid_key" else loc[:-2]
            problems.append(Problem(_path(where), "keys must be strings", loc[len(where)]))
        elif kind == "value_error":
            rule = str(e.get("ctx", {}).get("error", e["msg"]))
            problems.append(Problem(_path(loc), rule, value, has_value=not isinstance(value, dict)))
        elif kind == "literal_error" and loc == ("schema_version",) and type(value) not in (int, float):
            problems.append(Problem("schema_version", f"must be the integer {SCHEMA_VERSION}", value,
                                    fix=f"write schema_version = {SCHEMA_VERSION}, without quotes"))
        elif kind == "literal_error" and loc == ("schema_version",):
            problems.append(
                Problem("schema_version", f"unsupported version (this carbonsim reads version {SCHEMA_VERSION})", value,
                        fix="upgrade carbonsim, or write the file for version 1")
            )
        else:
            rule = pydantic_rule(e)
            owner = _model_at(loc[:-1], root) if loc else None
            fix = _example(owner, key) if key else None
            if kind == "too_short" and not value:
                fix = _missing_fix(owner, key, loc) if key else None
            problems.append(Problem(_path(loc), rule, value, fix=fix))
    return problems


# ---------------------------------------------------------------------------
# The parse step.
# ---------------------------------------------------------------------------


def _sha256(doc: ScenarioFile) -> str:
    canonical = json.dumps(doc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _not_defined(path: str, kind: str, name: str, defined) -> Problem:
    defined = sorted(defined)
    guess = hw.suggest(name, defined)
    kinds = kind if kind == "hardware" else kind + "s"
    fix = (f"did you mean {guess!r}? " if guess else "") + f"defined {kinds}: {', '.join(map(_key, defined)) or 'none'}"
    return Problem(path, f"{kind} {name!r} is not defined", name, fix=fix, has_value=False)


def _resolve_hardware(spec: ScenarioFile, problems: list[Problem]) -> dict[str, hw.Hardware]:
    table: dict[str, hw.Hardware] = dict(hw.CATALOG)
    for name, h in spec.hardware.items():
        path = f"hardware.{_key(name)}"
        values = {k: v for k, v in h.model_dump(exclude={"base", "description"}).items() if v is not None}
        base_name = h.base if h.base is not None else name
        base = hw.find(base_name, table)
        if base is None and h.base is not None:
            problems.append(_not_defined(f"{path}.base", "hardware", h.base, table))
            continue
        if base is None:
            if "tdp_w" not in values and "system_power_w" not in values:
                problems.append(Problem(path, "new hardware needs tdp_w or system_power_w", has_value=False,
                                        fix=f"add system_power_w = ..., or base = one of {', '.join(hw.CATALOG)}"))
                continue
            base = hw.Hardware(name=name)
        entry = hw.derive(base, name, **values)
        if h.description:
            entry = dataclasses.replace(entry, description=h.description)
        existing = hw.find(name, table)
        if existing is not None and existing.name != name:
            table.pop(existing.name)
        table[name] = entry
    return table


def _base_dir(source: str | None) -> Path:
    return Path(source).resolve().parent if source else Path.cwd()


def _resolve_grid(name: str, d: DatacenterSpec, source: str | None, problems: list[Problem], warnings: list[str]):
    from . import grid as gridmod

    path = f"datacenters.{_key(name)}.grid"
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", gridmod.GridDataWarning)
        try:
            if d.grid is None:
                signal = gridmod.constant_signal(d.grid_intensity_gco2e_per_kwh,
                                                 name=f"constant {d.grid_intensity_gco2e_per_kwh:g} gCO2e/kWh",
                                                 region=name)
            elif isinstance(d.grid, str):
                signal = gridmod.load_signal(d.grid, max_gap_hours=d.grid_max_gap_hours)
            else:
                f = d.grid
                file = _base_dir(source) / f.csv
                if f.format == "electricitymaps":
                    basis = f.basis if f.basis != "unspecified" else "direct"
                    signal = gridmod.read_electricitymaps_csv(file, basis=basis, max_gap_hours=d.grid_max_gap_hours)
                elif f.format == "eia930":
                    signal = gridmod.read_eia930_csv(file, max_gap_hours=d.grid_max_gap_hours)
                else:
                    signal = gridmod.read_csv(file, timezone=f.timezone, unit=f.unit, basis=f.basis,
                                              max_gap_hours=d.grid_max_gap_hours)
        except gridmod.GridError as err:
            problems.append(Problem(path, str(err), has_value=False,
                                    fix="carbonsim regions lists the bundled signals" if isinstance(d.grid, str) else None))
            return None
        except OSError as err:
            problems.append(Problem(f"{path}.csv", f"cannot read file: {err.strerror}", str(err.filename)))
            return None
    warnings.extend(f"datacenter {name}: {w.message}" for w in caught if issubclass(w.category, gridmod.GridDataWarning))
    if d.cfe == "grid" and signal.cfe is None and not signal.constant:
        problems.append(Problem(f"datacenters.{_key(name)}.cfe", f"grid signal {signal.name!r} has no hourly CFE",
                                "grid", fix="give cfe as a number, or use a signal with CFE (em:..., eia:...)"))
    if d.cfe == "grid" and signal.constant and signal.cfe is None:
        problems.append(Problem(f"datacenters.{_key(name)}.cfe", f"grid {signal.name!r} has no CFE figure", "grid",
                                fix="give cfe as a number"))
    return signal


def _resolve_datacenters(spec: ScenarioFile, hardware, source, problems, warnings) -> dict[str, Datacenter]:
    out = {}
    for name, d in spec.datacenters.items():
        signal = _resolve_grid(name, d, source, problems, warnings)
        pools = {}
        for hw_name, ps in d.pools.items():
            path = f"datacenters.{_key(name)}.pools.{_key(hw_name)}"
            chip = hw.find(hw_name, hardware)
            if chip is None:
                problems.append(_not_defined(path, "hardware", hw_name, hardware))
                continue
            idle = ps.idle_w_per_chip if ps.idle_w_per_chip is not None else chip.idle_w
            if idle is None:
                problems.append(Problem(f"{path}.idle_w_per_chip", f"no published idle power for {chip.name}",
                                        has_value=False, fix="set idle_w_per_chip = ... (watts per idle chip)"))
                continue
            pools[chip.name] = Pool(hardware=chip.name, chips=ps.chips, idle_w_per_chip=idle,
                                    power_down_after_s=None if ps.power_down_after_minutes is None
                                    else ps.power_down_after_minutes * 60.0)
        if signal is None:
            continue
        out[name] = Datacenter(
            name=name, pue=d.pue, grid=signal, cfe=d.cfe, net_grid_intensity_g_per_kwh=d.net_grid_intensity_gco2e_per_kwh,
            grid_year_shift=d.grid_year_shift, grid_overflow=d.grid_overflow, grid_scale=d.grid_scale,
            pools=MappingProxyType(pools),
            location=d.location, description=d.description,
        )
    return out


def _resolve_power(path, name, chip, given, warnings, problems):
    if given is not None:
        return given, "scenario"
    if chip.system_power_w is not None:
        return chip.system_power_w, "catalog measured system power"
    if chip.tdp_w is not None:
        warnings.append(f"{name}: no measured system power for {chip.name}; using TDP {chip.tdp_w:g} W "
                        f"(set power_w_per_chip to override)")
        return chip.tdp_w, "catalog TDP (no measured system power published)"
    problems.append(Problem(f"{path}.power_w_per_chip", f"hardware {chip.name!r} has no power figure",
                            has_value=False, fix="set power_w_per_chip = ..."))
    return None, None


def _resolve_rate(path, chip, achieved_tflops, efficiency, problems):
    """Achieved FLOP/s per chip from either form; None (with a problem) if impossible."""
    if achieved_tflops is not None:
        if chip.peak_tflops is not None and achieved_tflops > chip.peak_tflops * (1 + 1e-9):
            problems.append(Problem(f"{path}.achieved_tflops_per_chip",
                                    f"exceeds the peak of {chip.name} ({chip.peak_tflops:g} TFLOP/s)",
                                    achieved_tflops, fix="check the units: TFLOP/s per chip"))
            return None
        return achieved_tflops * 1e12
    if chip.peak_tflops is None:
        problems.append(Problem(f"{path}.hardware_efficiency", f"hardware {chip.name!r} has no peak_tflops",
                                has_value=False, fix="give achieved_tflops_per_chip instead"))
        return None
    return efficiency * chip.peak_tflops * 1e12


def _resolve_policy(path, p: PolicySpec | None, datacenters, problems) -> Policy:
    if p is None:
        return BASELINE_POLICY
    for j, name in enumerate(p.datacenters):
        if name not in datacenters:
            problems.append(_not_defined(f"{path}.policy.datacenters[{j}]", "datacenter", name, datacenters))
    return Policy(placement=p.placement, datacenters=tuple(p.datacenters), shift=p.shift, slack_s=p.slack_hours * 3600.0,
                  interrupt=p.interrupt, threshold_g=p.threshold_gco2e_per_kwh,
                  checkpoint_overhead_s=p.checkpoint_overhead_minutes * 60.0, forecast_error=p.forecast_error,
                  threshold_percentile=p.threshold_percentile, horizon_s=p.horizon_hours * 3600.0,
                  length_known=p.length_known, forecast=p.forecast, forecast_error_model=p.forecast_error_model,
                  forecast_error_phi=p.forecast_error_phi)


def _lookup(path, spec_hw, spec_dc, hardware, datacenters, problems):
    chip = hw.find(spec_hw, hardware)
    ok = True
    if chip is None:
        problems.append(_not_defined(f"{path}.hardware", "hardware", spec_hw, hardware))
        ok = False
    if spec_dc not in datacenters:
        problems.append(_not_defined(f"{path}.datacenter", "datacenter", spec_dc, datacenters))
        ok = False
    return chip if ok else None


def _resolve_training(path: str, t: TrainingSpec, meta: ScenarioMeta, hardware, datacenters,
                      problems: list[Problem], warnings: list[str]) -> TrainingRun | None:
    chip = _lookup(path, t.hardware, t.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, t.name, chip, t.power_w_per_chip, warnings, problems)
    if power is None:
        return None
    achieved = None
    if t.duration_days is not None:
        duration = t.duration_days * SECONDS_PER_DAY
    elif t.duration_hours is not None:
        duration = t.duration_hours * 3600.0
    else:
        achieved = _resolve_rate(path, chip, t.achieved_tflops_per_chip, t.hardware_efficiency, problems)
        if achieved is None:
            return None
        duration = t.flops / (t.chips * achieved)
        if duration > 36500 * SECONDS_PER_DAY:
            problems.append(Problem(f"{path}.flops", "implies a run longer than 100 years", t.flops,
                                    fix="check flops and achieved_tflops_per_chip"))
            return None
    start = t.start or meta.start or DEFAULT_START
    if start + dt.timedelta(seconds=duration) >= _LATEST:
        problems.append(Problem(f"{path}.start", "run would end after 2199", start,
                                fix=f"start earlier: the run lasts {duration / SECONDS_PER_DAY:g} days"))
        return None
    return TrainingRun(
        name=t.name, description=t.description, hardware=chip, datacenter=t.datacenter, chips=t.chips,
        start=start, duration_s=duration, power_w_per_chip=power, power_source=power_source,
        flops=t.flops, achieved_flops_per_chip=achieved, parameters=t.parameters,
        activated_fraction=t.activated_fraction,
        published=MappingProxyType(t.published.model_dump(exclude_none=True)) if t.published else None,
        phase=t.phase, priority=t.priority, policy=_resolve_policy(path, t.policy, datacenters, problems),
    )


def _read_trace(path: str, file: Path, start: dt.datetime, problems: list[Problem]) -> dict | None:
    """A job trace: CSV with a header ``submit,chips,duration_hours`` (or ``flops``
    instead of duration_hours; ``submit_hours`` = hours after the stream start instead of ``submit``)."""
    import csv

    try:
        text = file.read_text()
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(f"{path}.trace", f"cannot read trace file: {getattr(err, 'strerror', err)}", str(file)))
        return None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        problems.append(Problem(f"{path}.trace", "trace file is empty", str(file)))
        return None
    header = [h.strip() for h in rows[0]]
    when = "submit" if "submit" in header else "submit_hours" if "submit_hours" in header else None
    size = "duration_hours" if "duration_hours" in header else "flops" if "flops" in header else None
    if when is None or "chips" not in header or size is None:
        problems.append(Problem(f"{path}.trace", f"{file}: header must name submit (or submit_hours), chips and "
                                f"duration_hours (or flops)", ",".join(header)))
        return None
    col = {h: i for i, h in enumerate(header)}
    submit, chips, amount = [], [], []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        where = f"{file}:{line_no}"
        try:
            if when == "submit":
                t = _to_utc(row[col["submit"]])
            else:
                t = start + dt.timedelta(hours=float(row[col["submit_hours"]]))
            c = int(row[col["chips"]])
            x = float(row[col[size]])
        except (ValueError, IndexError, OverflowError) as err:
            problems.append(Problem(f"{path}.trace", f"{where}: bad row ({err})", ",".join(row)))
            return None
        if c < 1 or not (x > 0 and math.isfinite(x)):
            problems.append(Problem(f"{path}.trace", f"{where}: chips must be >= 1 and {size} > 0", ",".join(row)))
            return None
        submit.append(t)
        chips.append(c)
        amount.append(x)
    if not submit:
        problems.append(Problem(f"{path}.trace", "trace file has no jobs", str(file)))
        return None
    return {"submit": tuple(submit), "chips": tuple(chips), size: tuple(amount)}


def _resolve_stream(path, st: JobStreamSpec, meta: ScenarioMeta, hardware, datacenters, source, problems, warnings):
    chip = _lookup(path, st.hardware, st.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, st.name, chip, st.power_w_per_chip, warnings, problems)
    start = st.start or meta.start or DEFAULT_START
    end = st.end or meta.end
    if power is None:
        return None
    achieved = None
    if st.flops is not None or st.trace is not None:
        if st.achieved_tflops_per_chip is not None or st.hardware_efficiency is not None:
            achieved = _resolve_rate(path, chip, st.achieved_tflops_per_chip, st.hardware_efficiency, problems)
    trace = None
    if st.trace is not None:
        trace = _read_trace(path, _base_dir(source) / st.trace, start, problems)
        if trace is None:
            return None
        if "flops" in trace and achieved is None:
            problems.append(Problem(f"{path}.achieved_tflops_per_chip", "a trace with flops needs a rate",
                                    has_value=False, fix="give achieved_tflops_per_chip or hardware_efficiency"))
            return None
        end = end or max(trace["submit"]) + dt.timedelta(seconds=1)
    if end is None:
        problems.append(Problem(f"{path}.end", "a Poisson job stream needs an end", has_value=False,
                                fix="set end = 2023-01-01 here or in [scenario]"))
        return None
    if end <= start:
        problems.append(Problem(f"{path}.end", f"must be after the stream's start {start:%Y-%m-%d %H:%M}", end))
        return None
    rate = st.rate_per_day / SECONDS_PER_DAY if st.rate_per_day is not None else None
    if rate is not None:
        expected = rate * (end - start).total_seconds()
        if expected > st.max_jobs:
            problems.append(Problem(f"{path}.rate_per_day", f"would generate about {expected:,.0f} jobs, more than "
                                    f"max_jobs = {st.max_jobs:,}", st.rate_per_day,
                                    fix="raise max_jobs if you mean it, or lower the rate"))
            return None
    return JobStream(
        name=st.name, description=st.description, phase=st.phase, hardware=chip, datacenter=st.datacenter,
        start=start, end=end, power_w_per_chip=power, power_source=power_source, rate_per_s=rate,
        trace=MappingProxyType(trace) if trace else None, chips=_per_job(st.chips),
        duration_hours=_per_job(st.duration_hours), flops=_per_job(st.flops), achieved_flops_per_chip=achieved, priority=st.priority,
        policy=_resolve_policy(path, st.policy, datacenters, problems), max_jobs=st.max_jobs,
    )


def _resolve_search(path, se: SearchSpec, meta: ScenarioMeta, hardware, datacenters, problems, warnings):
    chip = _lookup(path, se.hardware, se.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, se.name, chip, se.power_w_per_chip, warnings, problems)
    if power is None:
        return None
    if se.trial_duration_hours is not None:
        trial_s = se.trial_duration_hours * 3600.0
    else:
        achieved = _resolve_rate(path, chip, se.achieved_tflops_per_chip, se.hardware_efficiency, problems)
        if achieved is None:
            return None
        trial_s = se.trial_flops / (se.chips_per_trial * achieved)
    final = None
    start = se.start or meta.start or DEFAULT_START
    if se.final_training is not None:
        final = _resolve_training(f"{path}.final_training", se.final_training, meta, hardware, datacenters,
                                  problems, warnings)
        if final is None:
            return None
    return Search(
        name=se.name, description=se.description, hardware=chip, datacenter=se.datacenter, start=start,
        trials=se.trials, chips_per_trial=se.chips_per_trial, trial_duration_s=trial_s, power_w_per_chip=power,
        power_source=power_source, parallelism=se.parallelism, early_stopping_fraction=se.early_stopping_fraction,
        early_stopped_length=se.early_stopped_length, final_training=final, priority=se.priority,
        policy=_resolve_policy(path, se.policy, datacenters, problems),
    )

#: Illustrative daily traffic shapes by local hour (mean 1 over a day): "web" is low
#: overnight and highest in the evening; "business" follows office hours.
DIURNAL_SHAPES = {
    "flat": [1.0] * 24,
    "web": [0.62, 0.48, 0.40, 0.36, 0.36, 0.42, 0.58, 0.80, 0.98, 1.10, 1.16, 1.20,
            1.22, 1.22, 1.20, 1.18, 1.18, 1.22, 1.30, 1.38, 1.42, 1.36, 1.12, 0.86],
    "business": [0.25] * 8 + [1.0] + [2.1] * 9 + [1.0] + [0.35] * 5,
}


def _read_profile(path: str, file: Path, problems: list[Problem]):
    """An hourly traffic profile: CSV ``hour,factor`` (24 rows) or ``hour_of_week,factor`` (168, Monday 00:00 = 0)."""
    import csv
    try:
        rows = list(csv.reader(file.read_text().splitlines()))
    except (OSError, UnicodeDecodeError) as err:
        problems.append(Problem(f"{path}.profile", f"cannot read profile: {getattr(err, 'strerror', err)}", str(file)))
        return None
    header = [h.strip() for h in rows[0]] if rows else []
    if len(header) != 2 or header[0] not in ("hour", "hour_of_week"):
        problems.append(Problem(f"{path}.profile", f"{file}: header must be 'hour,factor' or 'hour_of_week,factor'",
                                ",".join(header)))
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
            problems.append(Problem(f"{path}.profile", f"{file}:{line_no}: bad row ({err})", ",".join(row)))
            return None
        values[k] = f
    missing = [k for k, v in enumerate(values) if v is None]
    if missing or sum(values) == 0:
        problems.append(Problem(f"{path}.profile", f"{file}: needs a factor for every {header[0]} 0..{n - 1} "
                                f"(missing {missing[:5]}) and a positive sum", has_value=False))
        return None
    return values * 7 if n == 24 else values


def _resolve_service(path, sv: ServiceSpec, meta: ScenarioMeta, hardware, datacenters, source, problems, warnings):
    from . import serving

    names = [sv.datacenter] if sv.datacenter is not None else list(sv.datacenters)
    chip = _lookup(path, sv.hardware, names[0], hardware, datacenters, problems)
    for j, name in enumerate(names[1:], start=1):
        if name not in datacenters:
            problems.append(_not_defined(f"{path}.datacenters[{j}]", "datacenter", name, datacenters))
    if chip is None or any(n not in datacenters for n in names):
        return None
    split = sv.traffic_split or [1.0] * len(names)
    split = tuple(x / sum(split) for x in split)
    busy, power_source = _resolve_power(path, sv.name, chip, sv.power_w_per_chip, warnings, problems)
    idle = sv.idle_w_per_chip if sv.idle_w_per_chip is not None else chip.idle_w
    if idle is None:
        problems.append(Problem(f"{path}.idle_w_per_chip", f"no published idle power for {chip.name}",
                                has_value=False, fix="set idle_w_per_chip = ... (watts per idle chip)"))
    qps = sv.queries_per_second if sv.queries_per_second is not None else sv.queries_per_day / SECONDS_PER_DAY
    if sv.replicas == 0 and qps > 0:
        problems.append(Problem(f"{path}.replicas", "a service with traffic needs at least one replica", 0,
                                fix="set replicas >= 1, or use autoscaling"))
    flops = sv.flops_per_query
    if sv.tokens_per_query is not None:
        flops = 2.0 * sv.parameters * (sv.activated_fraction or 1.0) * sv.tokens_per_query
    if flops is not None and chip.peak_tflops is None:
        problems.append(Problem(f"{path}.hardware", f"hardware {chip.name!r} has no peak_tflops for per-query compute",
                                has_value=False, fix="give energy_wh_per_query, or set hardware peak_tflops"))
    shape = None
    if sv.profile is not None:
        shape = _read_profile(path, _base_dir(source) / sv.profile, problems)
    if busy is None or idle is None or any(p.path.startswith(path) for p in problems):
        return None
    if shape is None:
        day = DIURNAL_SHAPES[sv.diurnal]
        shape = [f * (sv.weekend_factor if d >= 5 else 1.0) for d in range(7) for f in day]
    mean = sum(shape) / len(shape)
    shape = tuple(f / mean for f in shape)
    auto = None
    if sv.autoscaling is not None:
        a = sv.autoscaling
        auto = serving.Autoscaling(min_replicas=a.min_replicas, max_replicas=a.max_replicas,
                                   target_utilization=a.target_utilization, scale_up_delay_s=a.scale_up_minutes * 60,
                                   scale_down_delay_s=a.scale_down_minutes * 60)
    try:
        config = serving.ServingConfig(
            chip_busy_w=busy, chip_idle_w=idle, chips_per_replica=sv.chips_per_replica,
            energy_wh_per_query=sv.energy_wh_per_query, flops_per_query=flops,
            chip_peak_flops=chip.peak_tflops * 1e12 if flops is not None else None,
            hardware_efficiency=sv.hardware_efficiency if flops is not None else None,
            batching=serving.Batching(max_batch_size=sv.max_batch_size, max_wait_s=sv.max_wait_ms / 1000,
                                      latency_fixed_s=sv.batch_latency_ms / 1000),
            replicas=sv.replicas,
            autoscaling=auto,
            latency_target_s=None if sv.latency_target_ms is None else sv.latency_target_ms / 1000,
            latency_target_percentile=sv.latency_percentile)
        if sv.replicas != 0:
            config.validate()
    except ValueError as err:
        problems.append(Problem(path, f"serving model: {err}", has_value=False))
        return None
    start = (sv.start or meta.start or DEFAULT_START).replace(minute=0, second=0, microsecond=0)
    return Service(name=sv.name, description=sv.description, hardware=chip, datacenter=names[0],
                   datacenters=tuple(names), split=split, start=start,
                   duration_s=sv.duration_days * SECONDS_PER_DAY, queries_per_second=qps, shape=shape,
                   timezone=sv.timezone, growth_per_year=sv.growth_per_year, burstiness=sv.burstiness, config=config,
                   power_w_per_chip=busy, power_source=power_source, mode=sv.mode, users=sv.users,
                   parameters=sv.parameters, activated_fraction=sv.activated_fraction)


def _max_chips(value) -> float:
    """The largest job size a chips value can produce (inf if unbounded)."""
    if isinstance(value, int):
        return value
    high = value.bounds[1]
    return round(high) if math.isfinite(high) else math.inf


def _check_capacity(path: str, w, datacenters: Mapping[str, Datacenter], problems: list[Problem]) -> None:
    """Every job must fit in each datacenter it may be placed in (else it would wait forever)."""
    if isinstance(w, JobStream):
        biggest = max(w.trace["chips"]) if w.trace else _max_chips(w.chips)
        what = "the largest job of the trace" if w.trace else "chips"
    elif isinstance(w, Search):
        biggest, what = w.chips_per_trial, "chips_per_trial"
    else:
        biggest, what = w.chips, "chips"
    names = w.policy.datacenters if w.policy.placement != "fixed" else ()
    for dc_name in (w.datacenter, *names):
        dc = datacenters.get(dc_name)
        if dc is None or not dc.pools:
            continue  # undefined (reported elsewhere) or unlimited capacity
        pool = dc.pools.get(w.hardware.name)
        if pool is None:
            problems.append(Problem(f"{path}.hardware", f"datacenter {dc_name!r} has no pool of {w.hardware.name}",
                                    w.hardware.name, fix=f"its pools: {', '.join(dc.pools)}; add "
                                    f"[datacenters.{_key(dc_name)}.pools.{w.hardware.name}]"))
        elif biggest > pool.chips:
            problems.append(Problem(f"{path}.{what}", f"a job of {biggest:g} chips can never fit in datacenter "
                                    f"{dc_name!r}, which has {pool.chips} {pool.hardware}", biggest if what == "chips"
                                    else None, has_value=what == "chips",
                                    fix="use fewer chips, a bounded distribution (high = ...), or a larger pool"))


def resolve(document: Mapping, source: str | None = None) -> ResolvedScenario:
    """Validate a scenario document (the dict a TOML file parses to) and resolve it.

    Raises :class:`ScenarioError` listing every problem found.
    """
    if not isinstance(document, Mapping):
        raise ScenarioError([Problem("", "a scenario must be a table of keys", type(document).__name__)], source)
    if not document:
        raise ScenarioError([Problem("", "the scenario is empty", has_value=False,
                                     fix="start with schema_version = 1, a [scenario] name, [datacenters.*] and workloads")],
                            source)
    from .uncertainty import nominal            # {dist = ...} values -> their medians (docs/uncertainty.md)
    uncertain_notes: list[str] = []
    document = nominal(document, uncertain_notes, source)
    try:
        spec = ScenarioFile.model_validate(dict(document))
    except ValidationError as err:
        raise ScenarioError(_problems_from(err), source) from None

    problems: list[Problem] = []
    warnings: list[str] = uncertain_notes
    meta = spec.scenario
    hardware = _resolve_hardware(spec, problems)
    datacenters = _resolve_datacenters(spec, hardware, source, problems, warnings)
    if len(datacenters) < len(spec.datacenters):   # a grid failed to load: references would mislead
        raise ScenarioError(problems, source)

    resolved: dict[str, list] = {"training": [], "job_stream": [], "search": [], "service": []}
    seen: dict[str, str] = {}
    kinds = (("training", spec.workloads.training), ("job_stream", spec.workloads.job_stream),
             ("search", spec.workloads.search), ("service", spec.workloads.service))
    for kind, items in kinds:
        for i, w in enumerate(items):
            path = f"workloads.{kind}[{i}]"
            if w.name in seen:
                problems.append(Problem(f"{path}.name", "duplicate workload name", w.name,
                                        fix=f"already used by {seen[w.name]}"))
                continue
            seen[w.name] = path
            if kind == "training":
                out = _resolve_training(path, w, meta, hardware, datacenters, problems, warnings)
            elif kind == "job_stream":
                out = _resolve_stream(path, w, meta, hardware, datacenters, source, problems, warnings)
            elif kind == "search":
                out = _resolve_search(path, w, meta, hardware, datacenters, problems, warnings)
            else:
                out = _resolve_service(path, w, meta, hardware, datacenters, source, problems, warnings)
                if out is not None:
                    resolved[kind].append(out)
                continue
            if out is not None:
                _check_capacity(path, out, datacenters, problems)
                if isinstance(out, Search) and out.final_training is not None:
                    _check_capacity(f"{path}.final_training", out.final_training, datacenters, problems)
                resolved[kind].append(out)
    if problems:
        raise ScenarioError(problems, source)
    starts = [w.start for ws in resolved.values() for w in ws]
    start = meta.start or (min(starts) if starts else DEFAULT_START)
    return ResolvedScenario(
        name=meta.name, description=meta.description, seed=meta.seed,
        schema_version=spec.schema_version, sha256=_sha256(spec), source=source,
        hardware=MappingProxyType(hardware), datacenters=MappingProxyType(datacenters),
        training=tuple(resolved["training"]), job_streams=tuple(resolved["job_stream"]),
        searches=tuple(resolved["search"]), services=tuple(resolved["service"]), warnings=tuple(warnings),
        start=start, end=meta.end,
    )


def read_toml(path: str | Path) -> dict:
    """Read a TOML file into a document; unreadable or malformed files raise ScenarioError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ScenarioError([Problem("", f"cannot read file: {err.strerror}", has_value=False)], str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError([Problem("", f"not a UTF-8 text file (bad byte at offset {err.start})", has_value=False,
                                     fix="scenario files are TOML text")], str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([Problem("", f"not valid TOML: {err}", has_value=False)], str(path)) from None
    except ValueError:  # an integer literal longer than Python converts (4300 digits)
        raise ScenarioError([Problem("", "not valid TOML: a number is too long", has_value=False)], str(path)) from None
    except RecursionError:
        raise ScenarioError([Problem("", "not valid TOML: arrays or tables nested too deeply", has_value=False)],
                            str(path)) from None


# ---------------------------------------------------------------------------
# The builder API.
# ---------------------------------------------------------------------------


def _element(model: type[_Spec], prefix: tuple, values: dict) -> _Spec:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ScenarioError(_prefixed(err, prefix, model)) from None


def _prefixed(err: ValidationError, prefix: tuple, model: type[BaseModel]) -> list[Problem]:
    problems = _problems_from(err, (), root=model)
    head = _path(prefix)
    return [dataclasses.replace(p, path=f"{head}.{p.path}" if p.path else head) for p in problems]


class Scenario:
    """A scenario under construction, from Python or from a file.

    >>> s = Scenario("demo")
    >>> s.add_datacenter("iowa", pue=1.11, grid_intensity_gco2e_per_kwh=478)  # doctest: +ELLIPSIS
    DatacenterSpec(...)
    >>> s.add_training_run("run", hardware="v100", chips=8, datacenter="iowa", duration_days=1)  # doctest: +ELLIPSIS
    TrainingSpec(...)
    >>> round(s.run().totals.energy_kwh, 3)
    69.264

    Each ``add_*`` checks its own arguments at once (raising ScenarioError with
    the field path); references between parts are checked by :meth:`validate`,
    which returns an immutable :class:`ResolvedScenario` and leaves this object
    unchanged.
    """

    def __init__(self, name: str = "scenario", *, description: str = "", seed: int = 0,
                 start: dt.datetime | dt.date | str | None = None, end: dt.datetime | dt.date | str | None = None,
                 source: str | None = None):
        meta = {"name": name, "description": description, "seed": seed}
        if start is not None:
            meta["start"] = start
        if end is not None:
            meta["end"] = end
        _element(ScenarioMeta, ("scenario",), meta)
        self._doc: dict = {"schema_version": SCHEMA_VERSION, "scenario": meta, "hardware": {},
                           "datacenters": {}, "workloads": {"training": []}}
        self.source = source

    @classmethod
    def from_dict(cls, document: Mapping, source: str | None = None) -> "Scenario":
        resolve(document, source)  # fail early, with the file's name
        self = cls.__new__(cls)
        self._doc = copy.deepcopy(dict(document))
        self.source = source
        return self

    @classmethod
    def from_toml(cls, path: str | Path) -> "Scenario":
        return cls.from_dict(read_toml(path), str(path))

    def to_dict(self) -> dict:
        """The scenario as a document (what its TOML file would parse to)."""
        return copy.deepcopy(self._doc)

    @property
    def name(self) -> str:
        return self._doc["scenario"]["name"]

    def add_hardware(self, name: str, *, base: str | None = None, **values) -> HardwareSpec:
        if base is not None:
            values["base"] = base
        spec = _element(HardwareSpec, ("hardware", name), values)
        self._doc.setdefault("hardware", {})[name] = values
        return spec

    def add_datacenter(self, name: str, *, pue: float, grid_intensity_gco2e_per_kwh: float | None = None,
                       grid=None, **values) -> DatacenterSpec:
        """A datacenter with a constant grid intensity, or ``grid=`` a signal name or CSV table."""
        values = {"pue": pue, "grid_intensity_gco2e_per_kwh": grid_intensity_gco2e_per_kwh, "grid": grid, **values}
        values = {k: v for k, v in values.items() if v is not None}
        spec = _element(DatacenterSpec, ("datacenters", name), values)
        self._doc.setdefault("datacenters", {})[name] = values
        return spec

    def add_pool(self, datacenter: str, hardware: str, *, chips: int, **values) -> PoolSpec:
        """``chips`` accelerators of one type in a datacenter added before."""
        if datacenter not in self._doc.get("datacenters", {}):
            raise ScenarioError([_not_defined(f"datacenters.{_key(datacenter)}", "datacenter", datacenter,
                                              self._doc.get("datacenters", {}))])
        values = {"chips": chips, **values}
        spec = _element(PoolSpec, ("datacenters", datacenter, "pools", hardware), values)
        self._doc["datacenters"][datacenter].setdefault("pools", {})[hardware] = values
        return spec

    def _add(self, kind: str, model, values: dict):
        values = {k: v for k, v in values.items() if v is not None}
        items = self._doc.setdefault("workloads", {}).setdefault(kind, [])
        spec = _element(model, ("workloads", kind, len(items)), values)
        items.append(values)
        return spec

    def add_training_run(self, name: str, *, hardware: str, chips: int, datacenter: str, **values) -> TrainingSpec:
        return self._add("training", TrainingSpec, {"name": name, "hardware": hardware, "chips": chips,
                                                    "datacenter": datacenter, **values})

    def add_job_stream(self, name: str, *, hardware: str, datacenter: str, **values) -> JobStreamSpec:
        return self._add("job_stream", JobStreamSpec, {"name": name, "hardware": hardware,
                                                       "datacenter": datacenter, **values})

    def add_search(self, name: str, *, hardware: str, datacenter: str, trials: int, chips_per_trial: int,
                   **values) -> SearchSpec:
        return self._add("search", SearchSpec, {"name": name, "hardware": hardware, "datacenter": datacenter,
                                                "trials": trials, "chips_per_trial": chips_per_trial, **values})

    def add_service(self, name: str, *, hardware: str, duration_days: float, **values) -> ServiceSpec:
        """An inference service: ``datacenter=`` (or ``datacenters=[...]``), traffic
        (``queries_per_second=`` or ``queries_per_day=``), a per-query cost and a fleet."""
        return self._add("service", ServiceSpec, {"name": name, "hardware": hardware,
                                                  "duration_days": duration_days, **values})

    def validate(self) -> ResolvedScenario:
        return resolve(self._doc, self.source)

    def run(self, *, hourly: bool = False):
        """Validate and simulate; returns a :class:`carbonsim.results.Result`."""
        from .simulation import run
        return run(self.validate(), hourly=hourly)

    def __repr__(self) -> str:
        n = len(self._doc.get("workloads", {}).get("training", []))
        return f"Scenario({self.name!r}, datacenters={list(self._doc.get('datacenters', {}))}, training_runs={n})"


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming the file and field."""
    return Scenario.from_toml(path)
