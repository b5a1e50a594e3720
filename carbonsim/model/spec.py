"""The file format: pydantic models of a scenario file and its JSON Schema.

Field order is the documented order (docs/scenario-format.md).  Validation here
checks types, ranges and unknown keys; references and units are checked by
:mod:`carbonsim.model.resolve`.
"""
from __future__ import annotations

import datetime as dt
import math
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from ..grid.signal import MAX_INTENSITY
from .constraints import (MAX_CHIPS, MAX_FLOPS, MAX_HOURS, BatchSize, ChipsPerReplica, Fraction, MaxReplicas,
                          MinReplicas, Percentile, Replicas, ServiceTime)
from .distributions import per_job_distribution
from .pyref import PATTERN as PYREF_PATTERN
from .spec_measured import MeasuredSpec
from .specbase import DEFAULT_START, EARLIEST, LATEST, StrictModel, to_utc  # noqa: F401  (part of this module's API)
from .units import intensity_g_per_kwh

SCHEMA_VERSION = 1

# ---------------------------------------------------------------------------
# The file format (pydantic models).  Field order is the documented order.
# ---------------------------------------------------------------------------


INTENSITY_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*\S.*$"


class ScenarioMeta(StrictModel):
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
    grid_year_shift: Literal["none", "exact", "weekday"] | None = Field(
        None, description="grid_year_shift of every datacenter that does not set its own.", examples=["weekday"])
    grid_overflow: Literal["error", "wrap"] | None = Field(
        None, description="grid_overflow of every datacenter that does not set its own.", examples=["wrap"])
    engine: Literal["auto", "compiled", "simpy"] = Field(
        "auto", description="The fleet engine: the compiled core, the SimPy engine, or auto (compiled whenever it "
                            "can run the scenario). Results are the same; not part of the scenario's hash.")

    _utc = field_validator("start", "end", mode="before")(to_utc)

    @model_validator(mode="after")
    def _order(self):
        if self.end is not None and self.end <= (self.start or DEFAULT_START):
            raise ValueError(f"end ({self.end:%Y-%m-%d %H:%M}) must be after start "
                             f"({self.start or DEFAULT_START:%Y-%m-%d %H:%M})")
        return self


class HardwareSpec(StrictModel):
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


class GridFileSpec(StrictModel):
    """``grid = {csv = "...", ...}``: an hourly intensity series from a CSV file."""

    csv: str = Field(min_length=1, description="Path, relative to the scenario file.", examples=["grid.csv"])
    format: Literal["generic", "electricitymaps", "eia930"] = "generic"
    timezone: str = Field("UTC", description="Timezone of naive timestamps (generic format).")
    unit: Literal["g/kWh", "kg/kWh", "lbs/MWh"] = "g/kWh"
    basis: Literal["direct", "lifecycle", "unspecified"] = "unspecified"


class PoolSpec(StrictModel):
    """``[datacenters.NAME.pools.HARDWARE]``: a fixed number of accelerators."""

    chips: int = Field(ge=1, le=100_000_000, examples=[1024])
    idle_w_per_chip: float | None = Field(None, ge=0, le=1e5, description="Default: the hardware's idle_w.")
    power_down_after_minutes: float | None = Field(None, gt=0, le=1e7)


class DatacenterSpec(StrictModel):
    """``[datacenters.NAME]``: efficiency, grid and (optionally) accelerator pools."""

    description: str = ""
    location: str = ""
    pue: float = Field(ge=1.0, le=5.0, description="Power usage effectiveness.", examples=[1.1])
    grid_intensity_gco2e_per_kwh: float | None = Field(
        None, ge=0, le=MAX_INTENSITY, description="Constant gross (location-based) grid intensity.", examples=[429.0]
    )
    grid_intensity: str | None = Field(
        None, description="Constant gross grid intensity with its unit (g/kWh, kg/kWh, t/MWh, kg/MWh, lbs/MWh, "
                          "lbs/kWh); exclusive with grid_intensity_gco2e_per_kwh and grid.",
        examples=["954 lbs/MWh"], json_schema_extra={"pattern": INTENSITY_PATTERN},
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
        None, ge=0, le=MAX_INTENSITY, description="Published net intensity after same-grid CFE; exclusive with cfe."
    )
    net_grid_intensity: str | None = Field(
        None, description="net_grid_intensity_gco2e_per_kwh with its unit, as grid_intensity.",
        examples=["0.330 kg/kWh"], json_schema_extra={"pattern": INTENSITY_PATTERN},
    )
    cfe: float | Literal["grid"] | None = Field(
        None, description="Carbon-free-energy share: net = gross x (1 - cfe); 'grid' for the signal's own.",
        examples=[0.3],
    )
    pools: dict[str, PoolSpec] = Field(default_factory=dict, max_length=100)

    @field_validator("grid_intensity", "net_grid_intensity", mode="before")
    @classmethod
    def _intensity_text(cls, v):
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            raise ValueError(f"needs a unit: write \"{v:g} g/kWh\" (or \"... lbs/MWh\", \"... kg/kWh\"), "
                             "or give the number as grid_intensity_gco2e_per_kwh")
        if isinstance(v, str):
            intensity_g_per_kwh(v)
        return v

    @property
    def gross_constant_g(self) -> float | None:
        """The constant gross intensity in gCO2e/kWh, from either way of writing it (None with a grid)."""
        if self.grid_intensity is not None:
            return intensity_g_per_kwh(self.grid_intensity)
        return self.grid_intensity_gco2e_per_kwh

    @property
    def net_constant_g(self) -> float | None:
        if self.net_grid_intensity is not None:
            return intensity_g_per_kwh(self.net_grid_intensity)
        return self.net_grid_intensity_gco2e_per_kwh

    @field_validator("cfe")
    @classmethod
    def _cfe_range(cls, v):
        if isinstance(v, float) and not 0 <= v <= 1:
            raise ValueError("must be a fraction between 0 and 1, or \"grid\"")
        return v

    @model_validator(mode="after")
    def _net_rules(self):
        sources = [k for k in ("grid_intensity_gco2e_per_kwh", "grid_intensity", "grid") if getattr(self, k) is not None]
        if len(sources) == 2 and "grid" not in sources:
            raise ValueError("give the constant intensity once: grid_intensity_gco2e_per_kwh = 432.7 or "
                             "grid_intensity = \"954 lbs/MWh\", not both")
        if len(sources) != 1:
            raise ValueError("give exactly one of grid_intensity_gco2e_per_kwh (a constant) or grid "
                             "(a signal name such as \"eia:CISO\", or a CSV file)")
        net_keys = [k for k in ("net_grid_intensity_gco2e_per_kwh", "net_grid_intensity") if getattr(self, k) is not None]
        net_key = net_keys[0] if net_keys else "net_grid_intensity_gco2e_per_kwh"
        gross_key = sources[0]
        if len(net_keys) > 1:
            raise ValueError("give the net intensity once: net_grid_intensity_gco2e_per_kwh or net_grid_intensity")
        if self.cfe is not None and net_keys:
            raise ValueError(f"give either cfe or {net_key}, not both")
        net = self.net_constant_g
        if net is not None and self.grid is not None:
            raise ValueError(f"{net_key} needs a constant grid_intensity_gco2e_per_kwh; "
                             "with an hourly grid use cfe")
        if net is not None and net > self.gross_constant_g:
            raise ValueError(
                f"{net_key} ({net}) must not exceed {gross_key} ({self.gross_constant_g})"
            )
        return self


class PublishedSpec(StrictModel):
    """``published``: figures to print beside the computed ones."""

    source: str = ""
    days: float | None = Field(None, gt=0, le=36500)
    energy_mwh: float | None = Field(None, ge=0, le=1e9)
    gross_tco2e: float | None = Field(None, ge=0, le=1e9)
    net_tco2e: float | None = Field(None, ge=0, le=1e9)


class PolicySpec(StrictModel):
    """``policy = {...}``: where and when a workload's jobs run (docs/scenario-format.md, "Policies")."""

    placement: Literal["fixed", "lowest-carbon-now", "lowest-carbon-mean"] = "fixed"
    datacenters: list[str] = Field(default_factory=list, max_length=1000,
                                   description="Candidates for placement (default: the workload's datacenter).")
    shift: Literal["none", "window", "interruptible", "lowest-slot", "carbon-time"] = "none"
    slack_hours: float = Field(0.0, ge=0, le=87_600, examples=[24.0])
    interrupt: Literal["cheapest", "threshold"] = "cheapest"
    threshold_gco2e_per_kwh: float | None = Field(None, ge=0, le=MAX_INTENSITY)
    threshold_percentile: float | None = Field(None, ge=0, le=100, description="Threshold as a percentile of the "
                                               "forecast over the next horizon_hours.", examples=[30.0])
    horizon_hours: float = Field(24.0, gt=0, le=8760, description="Look-ahead of threshold_percentile.")
    checkpoint_overhead_minutes: float = Field(0.0, ge=0, le=10_000)
    length_known: Literal["exact", "mean", "distribution"] = "exact"
    forecast: Literal["perfect", "persistence", "day-ahead-mean"] = "perfect"
    forecast_error: float = Field(0.0, ge=0, le=3, description="Sigma of lognormal forecast errors.")
    forecast_error_model: Literal["independent", "ar1"] = "independent"
    forecast_error_phi: float = Field(0.9, ge=0, lt=1, description="AR(1) correlation from one lead hour to the next.")
    python: str | None = Field(None, max_length=500, pattern=PYREF_PATTERN,
                               description="A user policy: 'package.module:Class' whose plan() chooses the "
                                           "datacenter and run segments (docs/scenario-format.md, 'User policies').",
                               examples=["mypolicies:NightOnly"])
    params: dict[str, Any] = Field(default_factory=dict, max_length=1000,
                                   description="Keyword arguments of the python policy's class.")

    @model_validator(mode="after")
    def _rules(self):
        if self.python is not None:
            set_here = [k for k in ("placement", "shift", "interrupt", "threshold_gco2e_per_kwh", "threshold_percentile")
                        if k in self.model_fields_set]
            if set_here:
                raise ValueError(f"python = {self.python!r} chooses the plan itself; remove {', '.join(set_here)} "
                                 "(datacenters, slack_hours, checkpoint_overhead_minutes, length_known and the "
                                 "forecast keys apply to it)")
            _json_params(self.params)
        elif self.params:
            raise ValueError("params are the keyword arguments of a python policy; add python = 'module:Class' "
                             "or remove params")
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


def _json_params(value, where="params"):
    """A python policy's params are plain data (numbers, strings, booleans, arrays, tables), so a
    scenario's hash and the policy's arguments are the same in every process."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not str(k).isidentifier():
                raise ValueError(f"{where}: key {k!r} is not a Python identifier (params are keyword arguments)")
            _json_params(v, f"{where}.{k}")
    elif isinstance(value, list):
        for j, v in enumerate(value):
            _json_params(v, f"{where}[{j}]")
    elif isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value!r}")
    elif not isinstance(value, (str, int, float, bool)):
        raise ValueError(f"{where} must be a number, string, boolean, array or table, got {type(value).__name__}")


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


TRAINING_LENGTH_KEYS = ("duration_days", "duration_hours", "flops", "tokens", "chip_hours")


def check_training_length(self):
    """How long a training run lasts: exactly one of the length keys, or chip_hours without chips
    and with one duration (then chips = chip_hours / duration)."""
    given = [k for k in TRAINING_LENGTH_KEYS if getattr(self, k) is not None]
    if (self.chip_hours is not None and self.chips is None and len(given) == 2
            and given[0] in ("duration_days", "duration_hours")):
        return self
    if len(given) != 1:
        extra = ("; chip_hours with one of duration_days or duration_hours needs no chips"
                 if self.chip_hours is not None and self.chips is not None else "")
        raise ValueError(f"give exactly one of {', '.join(TRAINING_LENGTH_KEYS[:-1])} or {TRAINING_LENGTH_KEYS[-1]}"
                         + (f" (got {', '.join(given)})" if given else "") + extra)
    if given[0] == "tokens" and self.parameters is None:
        raise ValueError("tokens needs parameters (training FLOPs = 6 x parameters x tokens)")
    if given[0] in ("flops", "tokens"):
        rates = [k for k in ("achieved_tflops_per_chip", "hardware_efficiency") if getattr(self, k) is not None]
        if len(rates) != 1:
            raise ValueError(f"with {given[0]}, give exactly one of achieved_tflops_per_chip or hardware_efficiency")
    return self


class TrainingSpec(StrictModel):
    """``[[workloads.training]]``: one training run."""

    name: str = Field(min_length=1, max_length=200, examples=["T5"])
    description: str = ""
    hardware: str = Field(min_length=1, examples=["tpu-v3"])
    chips: int | None = Field(None, ge=1, le=10_000_000, examples=[512],
                              description="Accelerators for the whole run (required unless chip_hours is given).")
    datacenter: str = Field(min_length=1, examples=["google-taiwan"])
    start: dt.datetime | None = Field(None, examples=["2019-09-01T00:00:00Z"])
    duration_days: float | None = Field(None, gt=0, le=36500, examples=[20.0])
    duration_hours: float | None = Field(None, gt=0, le=876_000, examples=[480.0])
    chip_hours: float | None = Field(
        None, gt=0, le=1e12, examples=[184320.0],
        description="Accelerator-hours of the run (\"GPU hours\"): with chips, duration = chip_hours / chips; "
                    "without, chips = chip_hours / duration_days or duration_hours (or a 30-day span).")
    flops: float | None = Field(None, gt=0, le=1e32, description="Total training compute.", examples=[4.05e22])
    tokens: float | None = Field(
        None, gt=0, le=1e16, examples=[300e9],
        description="Training tokens: with parameters, flops = 6 x parameters x activated_fraction x tokens "
                    "(Kaplan et al. 2020; Hoffmann et al. 2022).")
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

    _utc = field_validator("start", mode="before")(to_utc)
    _length = model_validator(mode="after")(check_training_length)


def per_job(value, limit: float | None = None, unit: str = "", unbounded: bool = False):
    """A number, or a ``{dist = ...}`` table of a job stream -> a distribution drawn anew for
    every job (the vocabulary of docs/uncertainty.md).  Tables stay tables in the spec.
    With ``limit``, every draw must be at most ``limit``: an unbounded distribution needs ``high``
    (unless ``unbounded``: chips, whose unbounded draws are checked against the pools they run on)."""
    if isinstance(value, dict):
        dist = per_job_distribution(value)
        low, high = dist.bounds
        if low < 0:
            raise ValueError(f"a per-job distribution must not draw negative values ({dist.describe()} "
                             f"reaches {low:g}); truncate it with low = 0")
        if limit is not None and not high <= limit and not (unbounded and math.isinf(high)):
            reach = "is unbounded" if math.isinf(high) else f"reaches {high:g}"
            most = f"{int(limit):,}" if limit < 1e16 else f"{limit:g}"
            raise ValueError(f"a per-job draw must be at most {most}{unit} ({dist.describe()} {reach}); "
                             f"truncate it with high = ... (at most {most})")
        return dist
    return value


def check_per_job(value, limit: float | None = None, unit: str = "", unbounded: bool = False):
    per_job(value, limit, unit, unbounded)
    return value


#: A job's amount field -> (largest value of one job, its unit, the limit as messages state it).
JOB_AMOUNT_LIMITS = {"duration_hours": (MAX_HOURS, " hours", f"{MAX_HOURS:,} (100 years)"),
                     "flops": (MAX_FLOPS, " FLOP", f"{MAX_FLOPS:g}")}


class JobStreamSpec(StrictModel):
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
    hardware_efficiency: Fraction | None = None
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5)
    priority: int = Field(0, ge=-1000, le=1000)
    policy: PolicySpec | None = None
    max_jobs: int = Field(1_000_000, ge=1, le=100_000_000, description="Refuse to generate more jobs than this.")

    _utc = field_validator("start", "end", mode="before")(to_utc)

    @field_validator("chips")
    @classmethod
    def _chips(cls, v):
        if isinstance(v, int) and not 1 <= v <= MAX_CHIPS:
            raise ValueError(f"must be between 1 and {MAX_CHIPS:,}")
        return check_per_job(v, MAX_CHIPS, " chips", unbounded=True)

    @field_validator("duration_hours", "flops")
    @classmethod
    def _amount(cls, v, info):
        most, unit, stated = JOB_AMOUNT_LIMITS[info.field_name]
        if isinstance(v, float) and not 0 < v <= most:
            raise ValueError(f"must be greater than 0 and at most {stated}")
        return check_per_job(v, most, unit)

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


class SearchSpec(StrictModel):
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
    hardware_efficiency: Fraction | None = None
    parallelism: int | None = Field(None, ge=1, le=10_000_000, description="Trials running at once (default all).")
    early_stopping_fraction: float = Field(0.0, ge=0, le=1, description="Share of trials stopped early.")
    early_stopped_length: float = Field(0.25, gt=0, le=1, description="Share of a full trial a stopped one runs.")
    final_training: TrainingSpec | None = Field(None, description="Optional full-size training after the search.")
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5)
    priority: int = Field(0, ge=-1000, le=1000)
    policy: PolicySpec | None = None

    _utc = field_validator("start", mode="before")(to_utc)

    @model_validator(mode="after")
    def _duration(self):
        return _check_one_duration(self, ("trial_duration_hours", "trial_flops"))


class AutoscalingSpec(StrictModel):
    """``autoscaling = {...}``: replicas follow utilisation."""

    min_replicas: MinReplicas = 1
    max_replicas: MaxReplicas = Field(examples=[64])
    target_utilization: Fraction = 0.6
    scale_up_minutes: float = Field(2.0, ge=0, le=10_000)
    scale_down_minutes: float = Field(5.0, ge=0, le=10_000)

    @model_validator(mode="after")
    def _order(self):
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"min_replicas ({self.min_replicas}) must not exceed max_replicas ({self.max_replicas})")
        return self


class ServiceSpec(StrictModel):
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
    hardware_efficiency: Fraction | None = None
    chips_per_replica: ChipsPerReplica = 1
    replicas: Replicas | None = None
    autoscaling: AutoscalingSpec | None = None
    max_batch_size: BatchSize = 1
    max_wait_ms: float = Field(0.0, ge=0, le=1e7)
    batch_latency_ms: float = Field(0.0, ge=0, le=1e7, description="Fixed time per batch (a in a + b x batch).")
    service_time: ServiceTime = Field(
        "deterministic", description="Law of a batch's service time: exactly a + b x batch, or exponential with "
                                     "that mean (M/M/c when unbatched).", examples=["exponential"])
    power_w_per_chip: float | None = Field(None, gt=0, le=1e5, description="Busy power per chip.")
    idle_w_per_chip: float | None = Field(None, ge=0, le=1e5)
    latency_target_ms: float | None = Field(None, gt=0, le=1e9)
    latency_percentile: Percentile = 99.0
    mode: Literal["auto", "requests", "fluid"] = "auto"
    users: float | None = Field(None, gt=0, le=1e11, description="People served, for per-user figures.")

    _utc = field_validator("start", mode="before")(to_utc)

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


class WorkloadsSpec(StrictModel):
    """``[workloads]``: lists of workloads by kind."""

    training: list[TrainingSpec] = Field(default_factory=list, max_length=1_000_000)
    job_stream: list[JobStreamSpec] = Field(default_factory=list, max_length=10_000)
    search: list[SearchSpec] = Field(default_factory=list, max_length=10_000)
    service: list[ServiceSpec] = Field(default_factory=list, max_length=10_000)
    measured: list[MeasuredSpec] = Field(default_factory=list, max_length=10_000)


class SweepSpec(StrictModel):
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


class ScenarioFile(StrictModel):
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


