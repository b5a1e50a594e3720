"""The serving configuration of the Python API: what a service is, validated by the model's rules.

:class:`ServingConfig` (with :class:`Batching` and :class:`Autoscaling`) describes an
inference service; :func:`resolve_serving` (``ServingConfig.validate()``) checks it
with the same constraint types as the file format (:mod:`.constraints`, through
pydantic) plus the rules between fields, and returns :class:`ResolvedServing` in
kernel units.  Errors are :class:`~carbonsim.ScenarioError` lines
``field.path: rule, got value``.  The engines are in :mod:`carbonsim.sim.serving`.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from pydantic import ConfigDict, TypeAdapter, ValidationError

from .constraints import (BatchSize, ChipsPerReplica, ControllerInterval, Fraction, MaxReplicas, MinReplicas,
                          NonNegative, Percentile, Positive, Replicas, ServiceTime)
from .errors import Problem, ScenarioError
from .hardware import CATALOG
from .problems import problems_from
from .units import J_PER_WH, SECONDS_PER_HOUR

SERVICE_TIMES = ("deterministic", "exponential")
_STRICT = ConfigDict(strict=True, allow_inf_nan=False)


def fail(path: str, rule: str, value) -> None:
    """A rule between fields (or arguments) broken: the same error, and line, as a field's own rule."""
    raise ScenarioError([Problem(path, rule, value)])


def check_value(path: str, value, constraint):
    """One argument against a constraint type (:mod:`.constraints`); returns the value."""
    try:
        return TypeAdapter(constraint, config=_STRICT).validate_python(value)
    except ValidationError as err:
        raise ScenarioError(problems_from(err, (path,), root=None)) from None


@dataclass(frozen=True, kw_only=True)
class Batching:
    """Dynamic batching and the batch latency model ``latency = a + b x batch``.

    A batch closes when ``max_batch_size`` requests are queued or when its
    first request has waited ``max_wait_s``, whichever is first, and is
    dispatched as soon as a replica is free (taking every request queued by
    then, up to ``max_batch_size``).  ``max_batch_size=1`` is no batching.

    ``latency_fixed_s`` (a) is the per-batch overhead; ``latency_per_query_s``
    (b) the per-query time, derived from the per-query cost of the
    :class:`ServingConfig` when left ``None``.  ``service_time`` is
    ``"deterministic"`` (latency exactly a + b x batch) or ``"exponential"``
    (exponentially distributed with that mean; M/M/c when unbatched).
    """

    max_batch_size: BatchSize = 1
    max_wait_s: NonNegative = 0.0
    latency_fixed_s: NonNegative = 0.0
    latency_per_query_s: Positive | None = None
    service_time: ServiceTime = "deterministic"


@dataclass(frozen=True, kw_only=True)
class Autoscaling:
    """Replica autoscaling (a horizontal-pod-autoscaler-like controller).

    Every ``interval_s`` the controller takes the busy time of the batches
    dispatched in the last interval, divided by the interval (the mean number
    of busy replicas), and sets ``desired = ceil(that / target_utilization)``
    clamped to ``[min_replicas, max_replicas]``.  New replicas draw idle power
    at once and serve after ``scale_up_delay_s``.  The fleet shrinks only
    after the desired count has stayed below it for ``scale_down_delay_s``,
    to the largest desired count seen meanwhile.  ``initial_replicas``
    (default: what the fluid model wants for the first hour) serve from t=0.
    """

    min_replicas: MinReplicas = 1
    max_replicas: MaxReplicas
    target_utilization: Fraction = 0.6
    scale_up_delay_s: NonNegative = 120.0
    scale_down_delay_s: NonNegative = 300.0
    interval_s: ControllerInterval = 60.0
    initial_replicas: MinReplicas | None = None


@dataclass(frozen=True, kw_only=True)
class ServingConfig:
    """An inference service: replicas of ``chips_per_replica`` chips.

    Chip power is ``chip_idle_w + (chip_busy_w - chip_idle_w) x utilization``.

    Per-query cost, exactly one of:

    - ``energy_wh_per_query``: measured energy of one query at busy power;
      the per-query service time is ``b = energy x 3600 / (chips x busy W)``;
    - ``flops_per_query`` with ``chip_peak_flops`` (FLOP/s per chip) and
      ``hardware_efficiency`` (achieved fraction of peak):
      ``b = flops / (chips x peak x efficiency)``;
    - ``batching.latency_per_query_s`` given directly (a profiled latency model).

    Fleet, exactly one of ``replicas`` (fixed) or ``autoscaling``.

    ``latency_target_s`` / ``latency_target_percentile``: a service-level
    objective (e.g. p99 <= 0.5 s) checked against the result; misses and
    unreachable targets become warnings, not errors.
    """

    chip_busy_w: Positive
    chip_idle_w: NonNegative
    chips_per_replica: ChipsPerReplica = 1
    energy_wh_per_query: Positive | None = None
    flops_per_query: Positive | None = None
    chip_peak_flops: Positive | None = None
    hardware_efficiency: Fraction | None = None
    batching: Batching = field(default_factory=Batching)
    replicas: Replicas | None = None
    autoscaling: Autoscaling | None = None
    latency_target_s: Positive | None = None
    latency_target_percentile: Percentile = 99.0

    @classmethod
    def from_hardware(cls, hardware: str, **kwargs) -> "ServingConfig":
        """Fill chip powers and peak FLOP/s from :data:`carbonsim.CATALOG`.

        Busy power is the catalog's default (measured system power, else TDP);
        idle power must be published or given as ``chip_idle_w``.
        """
        if hardware not in CATALOG:
            fail("hardware", f"must be one of {sorted(CATALOG)}", hardware)
        chip = CATALOG[hardware]
        kwargs.setdefault("chip_busy_w", chip.default_power_w)
        if "chip_idle_w" not in kwargs:
            if chip.idle_w is None:
                fail("chip_idle_w", f"required: the catalog has no idle power for {hardware}", None)
            kwargs["chip_idle_w"] = chip.idle_w
        if kwargs.get("flops_per_query") is not None and chip.peak_tflops is not None:
            kwargs.setdefault("chip_peak_flops", chip.peak_tflops * 1e12)
        return cls(**kwargs)

    def validate(self) -> "ResolvedServing":
        """Check every field and return the resolved model (this object is not changed)."""
        return resolve_serving(self)


@dataclass(frozen=True)
class ResolvedServing:
    """A validated configuration in kernel units (s, W); built by :meth:`ServingConfig.validate`."""

    config: ServingConfig
    chips_per_replica: int
    chip_busy_w: float
    chip_idle_w: float
    batch_fixed_s: float          # a
    batch_per_query_s: float      # b
    cost_source: str              # "energy_wh_per_query" | "flops_per_query" | "latency_per_query_s"
    max_batch_size: int
    max_wait_s: float
    exponential_service: bool
    replicas: int | None          # fixed fleet, or None when autoscaled
    autoscale: bool
    min_replicas: int
    max_replicas: int
    target_utilization: float
    interval_s: float
    scale_up_delay_s: float
    scale_down_delay_s: float
    initial_replicas: int | None
    latency_target_s: float | None
    latency_target_percentile: float

    @property
    def replica_busy_w(self) -> float:
        return self.chips_per_replica * self.chip_busy_w

    @property
    def replica_idle_w(self) -> float:
        return self.chips_per_replica * self.chip_idle_w

    def batch_latency_s(self, batch_size):
        """Mean latency of a batch: a + b x batch."""
        return self.batch_fixed_s + self.batch_per_query_s * batch_size

    def summary(self) -> str:
        from ..cli.tables import serving_config_summary
        return serving_config_summary(self)




def _check_fields(obj, prefix: tuple = ()) -> None:
    """Every field of a config dataclass against its constraint type (the file format's rules)."""
    values = {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    nested = {k: v for k, v in values.items() if dataclasses.is_dataclass(v)}
    plain = {k: v for k, v in values.items() if k not in nested}
    try:
        _ADAPTERS[type(obj)].validate_python(plain)
    except ValidationError as err:
        raise ScenarioError(problems_from(err, prefix, root=None)) from None
    for k, v in nested.items():
        _check_fields(v, prefix + (k,))


def _field_model(cls):
    """A pydantic view of a config dataclass's own fields, with their constraint types."""
    from typing import get_type_hints

    from pydantic import create_model
    hints = get_type_hints(cls, include_extras=True)
    fields = {}
    for f in dataclasses.fields(cls):
        if f.name in ("batching", "autoscaling"):
            continue
        fields[f.name] = (hints[f.name], ...)
    return TypeAdapter(create_model(f"{cls.__name__}Fields", __config__=_STRICT, **fields))


_ADAPTERS = {cls: _field_model(cls) for cls in (Batching, Autoscaling, ServingConfig)}


def resolve_serving(cfg) -> ResolvedServing:
    """Check a :class:`ServingConfig` (field rules, then rules between fields) and resolve it."""
    if isinstance(cfg, ResolvedServing):
        return cfg
    if not isinstance(cfg, ServingConfig):
        fail("config", "must be a ServingConfig", type(cfg).__name__)
    for name, cls in (("batching", Batching), ("autoscaling", Autoscaling)):
        v = getattr(cfg, name)
        if v is not None and not isinstance(v, cls):
            fail(name, f"must be a {cls.__name__}", type(v).__name__)
    _check_fields(cfg)
    busy, idle, chips, bt = float(cfg.chip_busy_w), float(cfg.chip_idle_w), cfg.chips_per_replica, cfg.batching
    if idle > busy:
        fail("chip_idle_w", f"must be less than or equal to chip_busy_w ({busy:g})", idle)
    a = float(bt.latency_fixed_s)

    given = [k for k, v in (("energy_wh_per_query", cfg.energy_wh_per_query),
                            ("flops_per_query", cfg.flops_per_query),
                            ("batching.latency_per_query_s", bt.latency_per_query_s)) if v is not None]
    if len(given) != 1:
        fail("energy_wh_per_query | flops_per_query | batching.latency_per_query_s",
              "give exactly one per-query cost (flops_per_query with chip_peak_flops and hardware_efficiency)",
              given or None)
    if cfg.flops_per_query is None:
        for name in ("chip_peak_flops", "hardware_efficiency"):
            if getattr(cfg, name) is not None:
                fail(name, "only used with flops_per_query", getattr(cfg, name))
    if cfg.energy_wh_per_query is not None:
        b = cfg.energy_wh_per_query * J_PER_WH / (chips * busy)
        source = "energy_wh_per_query"
    elif cfg.flops_per_query is not None:
        if cfg.chip_peak_flops is None:
            fail("chip_peak_flops", "required with flops_per_query (FLOP/s per chip)", None)
        if cfg.hardware_efficiency is None:
            fail("hardware_efficiency", "required with flops_per_query (achieved fraction of peak, 0-1]", None)
        b = cfg.flops_per_query / (chips * cfg.chip_peak_flops * cfg.hardware_efficiency)
        source = "flops_per_query"
    else:
        b = float(bt.latency_per_query_s)
        source = "latency_per_query_s"
    if not (math.isfinite(b) and b >= 1e-12 and a + b <= 1e9):
        fail("batching.latency_per_query_s", "the per-query service time must lie in [1e-12, 1e9] s", b)

    if (cfg.replicas is None) == (cfg.autoscaling is None):
        fail("replicas", "give either a fixed fleet (replicas) or autoscaling, exactly one",
              {"replicas": cfg.replicas, "autoscaling": cfg.autoscaling})
    if cfg.replicas is not None:
        n = cfg.replicas
        fleet = dict(replicas=n, autoscale=False, min_replicas=n, max_replicas=n, target_utilization=1.0,
                     interval_s=SECONDS_PER_HOUR, scale_up_delay_s=0.0, scale_down_delay_s=0.0,
                     initial_replicas=n)
    else:
        asc = cfg.autoscaling
        lo, hi = asc.min_replicas, asc.max_replicas
        if hi < lo:
            fail("autoscaling.max_replicas", f"must be greater than or equal to min_replicas ({lo})", hi)
        init = asc.initial_replicas
        if init is not None and not lo <= init <= hi:
            fail("autoscaling.initial_replicas", f"must be an integer in [{lo}, {hi}]", init)
        fleet = dict(replicas=None, autoscale=True, min_replicas=lo, max_replicas=hi,
                     target_utilization=float(asc.target_utilization), interval_s=float(asc.interval_s),
                     scale_up_delay_s=float(asc.scale_up_delay_s), scale_down_delay_s=float(asc.scale_down_delay_s),
                     initial_replicas=init)
    target = None if cfg.latency_target_s is None else float(cfg.latency_target_s)
    return ResolvedServing(
        config=cfg, chips_per_replica=chips, chip_busy_w=busy, chip_idle_w=idle, batch_fixed_s=a,
        batch_per_query_s=b, cost_source=source, max_batch_size=bt.max_batch_size, max_wait_s=float(bt.max_wait_s),
        exponential_service=bt.service_time == "exponential", latency_target_s=target,
        latency_target_percentile=float(cfg.latency_target_percentile), **fleet)
