"""Inference serving: energy, replicas and latency of a model behind an API.

Two engines share one configuration and one result type:

- :func:`simulate_requests`, request level: seeded non-homogeneous Poisson
  arrivals, dynamic batching on a fleet of replicas with a central queue,
  optional autoscaling, per-hour aggregates and latency histograms (compiled
  kernel ``carbonsim.sim._serving``; memory does not grow with the number of
  requests).  :func:`simulate_trace` replays given arrival times instead.
- :func:`simulate_fluid`, per-hour expectations (no randomness), for volumes
  far beyond request level.

:func:`simulate` picks one (``mode="auto"``): request level while the expected
number of requests is at most ``request_limit`` (5e7, a few seconds of
kernel time), fluid beyond.  :func:`compare_fluid` measures the agreement of
the two on sampled hours.  The model and its equations: docs/serving.md.

Units everywhere: seconds, watts, joules (Wh only where a name says so).

>>> cfg = ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0, energy_wh_per_query=0.002,
...                     batching=Batching(max_batch_size=8, max_wait_s=0.01), replicas=2)
>>> res = simulate(cfg, [50.0] * 3, seed=1)
>>> res.mode, int(res.requests.sum()) > 0
('requests', True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from ..model.constraints import NonNegative
from ..model.errors import SimulationError
from ..model.serving import (  # noqa: F401
    SERVICE_TIMES,
    Autoscaling,
    Batching,
    ResolvedServing,
    ServingConfig,
    check_value,
    fail,
    resolve_serving,
)
from ..model.units import SECONDS_PER_HOUR
from . import _serving
from .serving_fluid import (  # noqa: F401
    fluid_batch_size,
    initial_replicas,
    run_fluid_model,
    simulate_fluid,
)
from .serving_result import (  # noqa: F401
    DEFAULT_REQUEST_LIMIT,
    HIST_MAX_BYTES,
    HIST_OCTAVES,
    HIST_OCTAVES_BELOW,
    HIST_SUB,
    HOURLY_COUNT_LIMIT,
    MAX_HOURS,
    N_HIST_BINS,
    ServingResult,
    check_fleet_for_traffic,
    histogram_edges,
    histogram_percentiles,
    hourly_target_warnings,
    parse_rate,
    replica_energy,
    seed_sequence,
    static_warnings,
)

# --------------------------------------------------------------------------
# request-level engine
# --------------------------------------------------------------------------

def _hist_exp0(r: ResolvedServing) -> int:
    """Biased IEEE exponent of the first histogram edge, HIST_OCTAVES_BELOW octaves under a + b."""
    _, e = math.frexp(r.batch_latency_s(1))
    return max(1, (e - 1) - HIST_OCTAVES_BELOW + 1023)


def simulate_requests(config, hourly_rate_per_s, *, seed) -> ServingResult:
    """Request-level simulation (compiled kernel), seeded.

    ``seed``: an int, a :class:`numpy.random.SeedSequence` or None (fresh
    entropy, recorded in ``result.seed_entropy``).  Arrivals and exponential
    service times use two streams spawned from it, so changing the service
    model keeps the same arrivals.
    """
    return _simulate_requests(config, hourly_rate_per_s, None, seed=seed, engine=_serving.simulate)


def simulate_trace(config, arrival_times_s, *, n_hours: int | None = None, seed=None) -> ServingResult:
    """Replay given arrival times (s from the start of hour 0, sorted) through the request-level engine.

    ``n_hours`` defaults to the hours the trace spans; ``seed`` only matters
    for exponential service times.
    """
    return _simulate_trace(config, arrival_times_s, n_hours=n_hours, seed=seed, engine=_serving.simulate)


def _simulate_trace(config, arrival_times_s, *, n_hours, seed, engine):
    t = np.ascontiguousarray(arrival_times_s, dtype=np.float64)
    if t.ndim != 1:
        fail("arrival_times_s", "must be a 1-D array of seconds", t.shape)
    if t.size:
        bad = ~(np.isfinite(t) & (t >= 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            fail(f"arrival_times_s[{i}]", "must be finite and >= 0", float(t[i]))
        dec = np.flatnonzero(np.diff(t) < 0)
        if dec.size:
            fail(f"arrival_times_s[{int(dec[0]) + 1}]", "must not be earlier than the time before it",
                  float(t[dec[0] + 1]))
    span = int(t[-1] // SECONDS_PER_HOUR) + 1 if t.size else 1
    if n_hours is None:
        n_hours = span
    n_hours = check_value("n_hours", n_hours, Annotated[int, Field(ge=span, le=MAX_HOURS)])
    counts = np.bincount((t // SECONDS_PER_HOUR).astype(np.int64), minlength=n_hours)
    rate = counts / SECONDS_PER_HOUR          # the trace's hourly rate, for the fluid estimate
    return _simulate_requests(config, rate, t, seed=seed, engine=engine)


def _simulate_requests(config, hourly_rate_per_s, trace, *, seed, engine, reason="mode='requests'"):
    r = resolve_serving(config)
    rate = parse_rate(hourly_rate_per_s)
    n_hours = rate.size
    check_fleet_for_traffic(r, bool(rate.max() > 0))
    hour_max = float(rate.max()) * SECONDS_PER_HOUR
    if hour_max + 10.0 * math.sqrt(hour_max) + 10.0 > HOURLY_COUNT_LIMIT:
        h = int(np.argmax(rate))
        fail(f"hourly_rate_per_s[{h}]", "is too high for the request-level engine (more than 2**32 requests in "
              "one hour); use simulate_fluid or mode='auto'", float(rate[h]))
    if n_hours * N_HIST_BINS * 4 > HIST_MAX_BYTES:
        fail("hourly_rate_per_s", f"is too long for the request-level engine's hourly latency histograms "
              f"(at most {HIST_MAX_BYTES // (N_HIST_BINS * 4)} hours); use simulate_fluid", n_hours)
    if r.autoscale and n_hours * SECONDS_PER_HOUR / r.interval_s > 1e9:
        fail("autoscaling.interval_s", f"is too short for {n_hours} hours (more than 1e9 controller ticks)",
              r.interval_s)
    ss = seed_sequence(seed)
    arrival_ss, service_ss = ss.spawn(2)
    arrival_bg, service_bg = np.random.PCG64(arrival_ss), np.random.PCG64(service_ss)

    exp0 = _hist_exp0(r)
    n0 = initial_replicas(r, rate)
    out = dict(
        requests=np.zeros(n_hours, dtype=np.int64), busy_replica_s=np.zeros(n_hours),
        provisioned_replica_s=np.zeros(n_hours), latency_sum_s=np.zeros(n_hours), wait_sum_s=np.zeros(n_hours),
        latency_max_s=np.zeros(n_hours), latency_hist=np.zeros((n_hours, N_HIST_BINS), dtype=np.uint32),
        totals=np.zeros(2), counts=np.zeros(4, dtype=np.int64))
    use_trace = trace is not None
    status = engine(
        rate, trace if use_trace else np.zeros(0), use_trace, arrival_bg, service_bg,
        r.batch_fixed_s, r.batch_per_query_s, r.max_batch_size, r.max_wait_s, r.exponential_service,
        n0, r.autoscale, r.min_replicas, r.max_replicas, r.target_utilization, r.interval_s,
        r.scale_up_delay_s, r.scale_down_delay_s, exp0, **out)
    if status != _serving.OK:
        raise SimulationError(f"serving kernel failed with status {status} (no replica to serve a batch)")

    busy_chip, idle_chip, energy = replica_energy(r, out["busy_replica_s"], out["provisioned_replica_s"])
    n = out["requests"]
    hist = out["latency_hist"]
    edges = histogram_edges(exp0)
    p50, p95, p99 = histogram_percentiles(hist, edges, (50.0, 95.0, 99.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        lat_mean = np.where(n > 0, out["latency_sum_s"] / n, np.nan)
        wait_mean = np.where(n > 0, out["wait_sum_s"] / n, np.nan)
    lat_max = np.where(n > 0, out["latency_max_s"], np.nan)
    drain_busy, last_end = out["totals"]
    drain_chip = float(drain_busy) * r.chips_per_replica

    warnings = static_warnings(r, rate)
    if r.latency_target_s is not None:
        pct = histogram_percentiles(hist, edges, r.latency_target_percentile)[0]
        warnings += hourly_target_warnings(r, pct)
    t_end = n_hours * SECONDS_PER_HOUR
    if last_end > t_end and drain_busy > 0:
        hours_over = (last_end - t_end) / SECONDS_PER_HOUR
        if hours_over > 0.01:
            warnings.append(
                f"capacity exceeded: requests were still queued at the end of the horizon; the last batch ends "
                f"{last_end - t_end:.6g} s ({hours_over:.3g} h) after it (drain energy "
                f"{drain_chip * r.chip_busy_w / 3.6e6:.6g} kWh is in the totals)")
    if hist[:, -1].any():
        warnings.append(f"{int(hist[:, -1].sum())} latencies above {edges[-2]:.4g} s are counted in the last "
                        f"histogram bin; percentiles there are lower bounds")
    return ServingResult(
        mode="requests", config=r, hourly_rate_per_s=rate, requests=n, busy_chip_s=busy_chip,
        idle_chip_s=idle_chip, it_energy_j=energy, replicas=out["provisioned_replica_s"] / SECONDS_PER_HOUR,
        latency_mean_s=lat_mean, wait_mean_s=wait_mean, latency_p50_s=p50, latency_p95_s=p95,
        latency_p99_s=p99, latency_max_s=lat_max, drain_busy_chip_s=drain_chip,
        drain_energy_j=drain_chip * r.chip_busy_w, drain_end_s=float(max(last_end, t_end)),
        batches=int(out["counts"][0]), scale_ups=int(out["counts"][1]), scale_downs=int(out["counts"][2]),
        peak_replicas=int(out["counts"][3]), warnings=tuple(warnings), mode_reason=reason,
        seed_entropy=ss.entropy, latency_histogram=hist, histogram_edges_s=edges)


# --------------------------------------------------------------------------
# choosing, comparing
# --------------------------------------------------------------------------

def simulate(config, hourly_rate_per_s, *, seed, mode: str = "auto",
             request_limit: float = DEFAULT_REQUEST_LIMIT) -> ServingResult:
    """Simulate a service; ``mode`` is ``"requests"``, ``"fluid"`` or ``"auto"``.

    ``"auto"`` runs request level when the expected number of requests
    (sum of rate x 3600) is at most ``request_limit``, fluid otherwise; the
    choice and its reason are in ``result.mode`` and ``result.mode_reason``.
    """
    if mode not in ("auto", "requests", "fluid"):
        fail("mode", "must be 'auto', 'requests' or 'fluid'", mode)
    r = resolve_serving(config)
    rate = parse_rate(hourly_rate_per_s)
    check_fleet_for_traffic(r, bool(rate.max() > 0))
    expected = float(rate.sum()) * SECONDS_PER_HOUR
    if mode == "auto":
        limit = float(check_value("request_limit", request_limit, NonNegative))
        too_long = rate.size * N_HIST_BINS * 4 > HIST_MAX_BYTES
        mode = "requests" if expected <= limit and not too_long else "fluid"
        reason = (f"auto: {expected:.3g} expected requests {'<=' if mode == 'requests' else '>'} "
                  f"request_limit {limit:.3g}")
    else:
        reason = f"mode={mode!r}"
    if mode == "fluid":
        return run_fluid_model(r, rate, reason=reason)
    return _simulate_requests(r, rate, None, seed=seed, engine=_serving.simulate, reason=reason)


@dataclass(frozen=True)
class FluidCheck:
    """Fluid vs request level on sampled hours (relative differences, fluid / request - 1)."""

    hours: np.ndarray
    request_energy_j: np.ndarray
    fluid_energy_j: np.ndarray
    request_busy_chip_s: np.ndarray
    fluid_busy_chip_s: np.ndarray
    request_replicas: np.ndarray
    fluid_replicas: np.ndarray
    request_latency_mean_s: np.ndarray
    fluid_latency_mean_s: np.ndarray

    @property
    def energy_rel_diff(self) -> np.ndarray:
        return self.fluid_energy_j / self.request_energy_j - 1.0

    @property
    def busy_rel_diff(self) -> np.ndarray:
        return self.fluid_busy_chip_s / self.request_busy_chip_s - 1.0

    @property
    def max_abs_energy_rel_diff(self) -> float:
        return float(np.max(np.abs(self.energy_rel_diff)))


def compare_fluid(config, hourly_rate_per_s, *, seed, hours=None, n_samples: int = 6,
                  request_limit: float = DEFAULT_REQUEST_LIMIT) -> FluidCheck:
    """Run both engines on sampled hours and return the per-hour comparison.

    Each sampled hour h is simulated at request level after one warm-up hour at
    the rate of hour h-1 (the fleet starts where the fluid model puts it), and
    compared with the fluid model on the same two hours.  ``hours`` defaults
    to ``n_samples`` evenly spaced hours with traffic.
    """
    r = resolve_serving(config)
    rate = parse_rate(hourly_rate_per_s)
    check_fleet_for_traffic(r, bool(rate.max() > 0))
    if hours is None:
        busy_hours = np.flatnonzero(rate > 0)
        if busy_hours.size == 0:
            fail("hourly_rate_per_s", "has no traffic to compare", 0)
        pick = np.unique(np.linspace(0, busy_hours.size - 1, min(n_samples, busy_hours.size)).round().astype(int))
        hours = busy_hours[pick]
    ha = np.asarray(hours)
    if ha.ndim != 1 or ha.dtype.kind not in "iu" or (ha.size and (ha.min() < 0 or ha.max() >= rate.size)):
        fail("hours", f"must be whole hour numbers between 0 and {rate.size - 1}", hours)
    hours = ha.astype(np.int64)
    ss = seed_sequence(seed)
    children = ss.spawn(hours.size)
    rows = []
    for h, child in zip(hours, children):
        pair = np.array([rate[h - 1] if h > 0 else rate[h], rate[h]])
        if pair.sum() * SECONDS_PER_HOUR > request_limit:
            fail(f"hourly_rate_per_s[{h}]", f"is too high to compare at request level within request_limit "
                  f"{request_limit:g}", float(rate[h]))
        rr = _simulate_requests(r, pair, None, seed=child, engine=_serving.simulate)
        fl = run_fluid_model(r, pair, reason="compare")
        rows.append((rr.it_energy_j[1], fl.it_energy_j[1], rr.busy_chip_s[1], fl.busy_chip_s[1],
                     rr.replicas[1], fl.replicas[1], rr.latency_mean_s[1], fl.latency_mean_s[1]))
    cols = np.array(rows, dtype=np.float64).reshape(-1, 8).T
    return FluidCheck(hours, *cols)


__all__ = [
    "Autoscaling", "Batching", "DEFAULT_REQUEST_LIMIT", "FluidCheck", "ResolvedServing", "ServingConfig",
    "ServingResult", "compare_fluid", "fluid_batch_size", "histogram_edges", "histogram_percentiles",
    "simulate", "simulate_fluid", "simulate_requests", "simulate_trace",
]
