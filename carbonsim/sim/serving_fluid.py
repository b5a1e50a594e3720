"""The fluid serving engine: per-hour expectations (no randomness), for volumes far beyond request level.

Batches form as in the request-level engine (:func:`fluid_batch_size`), replicas follow
the controller's target or stay fixed, and latency comes from an M/D/c-like queue per
hour (Erlang C).  The equations: docs/serving.md.
"""
from __future__ import annotations

import math
import statistics

import numpy as np

from ..model.serving import (
    ResolvedServing,
    resolve_serving,
)
from ..model.units import SECONDS_PER_HOUR
from .serving_result import (
    ServingResult,
    check_fleet_for_traffic,
    parse_rate,
    replica_energy,
    static_warnings,
)

# --------------------------------------------------------------------------
# fluid engine
# --------------------------------------------------------------------------

def fluid_batch_size(rate_per_s, max_batch: int, max_wait_s: float) -> np.ndarray:
    """Mean size of timeout-closed batches, E[min(B, 1 + N)], N ~ Poisson(mu = rate x max_wait).

    In closed form, with K = B - 1: E[min(K, N)] = mu P(N <= K - 1) + K P(N > K) (from
    E[min(K, N)] = E[N] - E[(N - K)+] and sum_{n>K} n p(n) = mu P(N >= K)), so the cost is
    independent of the batch limit.  ``max_wait_s`` may be an array (one window per hour).
    """
    from scipy.stats import poisson

    lam = np.asarray(rate_per_s, dtype=np.float64)
    mu = lam * np.asarray(max_wait_s, dtype=np.float64)
    m = np.ones_like(mu)
    pos = mu > 0
    if max_batch == 1 or not pos.any():
        return m
    mu_p = mu[pos]
    k = float(max_batch - 1)
    m[pos] = 1.0 + mu_p * poisson.cdf(k - 1, mu_p) + k * poisson.sf(k, mu_p)
    return m


_ERLANG_EXACT_MAX = 500
_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def _erlang_c(servers: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """Probability of waiting in M/M/c (c = servers, offered load in servers); 1 when unstable.

    Exact (Erlang B recursion) up to 500 servers; beyond, the Halfin-Whitt
    limit 1 / (1 + beta Phi(beta) / phi(beta)), beta = (c - A) / sqrt(A).
    """
    servers = np.asarray(servers, dtype=np.float64)
    offered = np.asarray(offered, dtype=np.float64)
    out = np.ones_like(offered)
    ok = (servers >= 1) & (offered < servers)
    large = ok & (servers > _ERLANG_EXACT_MAX)
    if large.any():
        beta = (servers[large] - offered[large]) / np.sqrt(np.maximum(offered[large], 1e-300))
        big_phi = 0.5 * _erfc(-beta / math.sqrt(2.0))
        small_phi = np.exp(-0.5 * beta * beta) / math.sqrt(2.0 * math.pi)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            out[large] = np.where(small_phi > 0, 1.0 / (1.0 + beta * big_phi / small_phi), 0.0)
    ok &= ~large
    if not ok.any():
        return out
    c, a = servers[ok].astype(np.int64), offered[ok]
    erl_b = np.ones_like(a)
    res = np.ones_like(a)
    for k in range(1, int(c.max()) + 1):
        erl_b = a * erl_b / (k + a * erl_b)
        at = c == k
        res[at] = erl_b[at]
    rho = a / c
    out[ok] = res / (1.0 - rho * (1.0 - res))
    return out


def _controller_z(r: ResolvedServing) -> float:
    """Expected maximum of k standard normals, k = ticks in the scale-down window (Blom's approximation)."""
    k = 1 + int(r.scale_down_delay_s // r.interval_s)
    if k <= 1:
        return 0.0
    return statistics.NormalDist().inv_cdf((k - 0.375) / (k + 0.25))


def _fluid_replicas(r: ResolvedServing, load, load_sd=0.0) -> np.ndarray:
    """Replicas the autoscaler settles on for a mean number of busy replicas ``load``.

    The controller sees the load through windows of ``interval_s`` with
    standard deviation ``load_sd``; it scales up on any high window and down
    only after a whole scale-down window of low ones, so it settles near the
    largest of those windows: load + z x sd, z the expected maximum of that
    many normal draws.
    """
    if not r.autoscale:
        return np.full(np.shape(load), float(r.replicas))
    seen = np.asarray(load) + _controller_z(r) * np.asarray(load_sd)
    want = np.ceil(seen / r.target_utilization - 1e-9)
    return np.clip(want, r.min_replicas, r.max_replicas)


def _window_load_sd(r: ResolvedServing, rate, batch):
    """Standard deviation of busy replicas measured over one controller interval.

    Busy time in a window of length I is a x N_b + b x N_r (deterministic
    service): N_r ~ Poisson(rate I) requests in N_b ~ N_r / m batches.
    Timeout-closed batches come nearly regularly (squared coefficient of
    variation ~ 1/m^2), so Var N_b ~ rate I / m^3 and Cov(N_b, N_r) ~
    rate I / m^2, which gives rate I (b^2 + 2ab / m^2 + a^2 / m^3); exact for
    m = 1.  Exponential service adds (rate I / m) L^2.
    """
    rate = np.asarray(rate, dtype=np.float64)
    a, b, m = r.batch_fixed_s, r.batch_per_query_s, np.asarray(batch, dtype=np.float64)
    var = rate * (b * b + 2.0 * a * b / m**2 + a * a / m**3)
    if r.exponential_service:
        L = r.batch_latency_s(m)
        var = var + rate / m * L * L
    return np.sqrt(var / r.interval_s)


def _run_fluid(r: ResolvedServing, rate: np.ndarray):
    """The fluid model, per hour (docs/serving.md, 'Fluid mode').  Returns a dict of arrays."""
    n_hours = rate.size
    a, b, B = r.batch_fixed_s, r.batch_per_query_s, r.max_batch_size
    m_t = fluid_batch_size(rate, B, r.max_wait_s)
    arrivals = rate * SECONDS_PER_HOUR
    busy = np.zeros(n_hours)
    replicas = np.zeros(n_hours)
    batch = np.zeros(n_hours)
    backlog_start = np.zeros(n_hours)
    backlog = 0.0                     # requests queued at the start of the hour
    work_full = a / B + b             # replica-s per request in full batches
    unstable = []
    for h in range(n_hours):
        m = float(m_t[h])
        work = a / m + b
        demand = (arrivals[h] + backlog) * work          # replica-s wanted this hour
        sd = _window_load_sd(r, rate[h], m) if r.autoscale else 0.0
        n = float(_fluid_replicas(r, demand / SECONDS_PER_HOUR, sd))
        cap = n * SECONDS_PER_HOUR
        backlog_start[h] = backlog
        if demand <= cap:
            busy[h] = demand
            backlog = 0.0
        elif (arrivals[h] + backlog) * work_full <= cap:
            # Queues build until batches grow enough to keep up: the fleet runs flat out.
            busy[h] = cap
            m = a * (arrivals[h] + backlog) / max(cap - b * (arrivals[h] + backlog), 1e-300) if a > 0 else m
            m = min(max(m, float(m_t[h])), B)
            backlog = 0.0
        else:
            busy[h] = cap
            m = float(B)
            served = cap / work_full
            backlog = arrivals[h] + backlog - served
            unstable.append(h)
        replicas[h] = n
        batch[h] = m
    # The controller follows a change of level with a lag: the first tick of
    # the hour sees the new load (new replicas draw power from that tick);
    # shrinking waits a further scale_down_delay_s.
    provisioned = replicas * SECONDS_PER_HOUR
    if r.autoscale and n_hours:
        before = np.append(float(initial_replicas(r, rate)), replicas[:-1])
        lag = np.where(replicas > before, r.interval_s, r.interval_s + r.scale_down_delay_s)
        provisioned += (before - replicas) * np.minimum(lag, SECONDS_PER_HOUR)
    drain_replica_s = backlog * work_full
    return dict(arrivals=arrivals, busy_replica_s=busy, replicas=replicas, provisioned_replica_s=provisioned,
                batch=batch, backlog=backlog_start,
                drain_replica_s=drain_replica_s, end_backlog=backlog, unstable=unstable, m_timeout=m_t)


def _fluid_latency(r: ResolvedServing, rate, f) -> tuple[np.ndarray, np.ndarray]:
    """Mean latency and wait per hour, approximately (docs/serving.md)."""
    m, n = f["batch"], f["replicas"]
    L = r.batch_latency_s(m)
    B, W = r.max_batch_size, r.max_wait_s
    with np.errstate(divide="ignore", invalid="ignore"):
        window = np.where(rate > 0, np.minimum(W, (B - 1) / rate), 0.0) if B > 1 else np.zeros_like(rate)
        form = (window + (m - 1.0) * window / 2.0) / m
        offered = np.where(m > 0, rate / m * L, 0.0)        # busy replicas
        pw = _erlang_c(n, offered)
        cs2 = 1.0 if r.exponential_service else 0.0
        queue = np.where(offered < n, pw * L / np.maximum(n - offered, 1e-300) * (1.0 + cs2) / 2.0, np.inf)
        # Requests queued at hour boundaries wait for the backlog ahead of them to clear.
        q_next = np.append(f["backlog"][1:], f["end_backlog"])
        backlog_wait = (f["backlog"] + q_next) / 2.0 * (r.batch_fixed_s / B + r.batch_per_query_s) / np.maximum(n, 1)
        queue = np.where(np.isfinite(queue), queue, 0.0) + backlog_wait
    wait = np.where(rate > 0, form + queue, np.nan)
    return np.where(rate > 0, wait + L, np.nan), wait


def simulate_fluid(config, hourly_rate_per_s) -> ServingResult:
    """Per-hour expected energy, replicas and utilization (no randomness).

    Latency percentiles are NaN; the mean latency is an M/G/c approximation.
    """
    r = resolve_serving(config)
    rate = parse_rate(hourly_rate_per_s)
    check_fleet_for_traffic(r, bool(rate.max() > 0))
    return run_fluid_model(r, rate, reason="mode='fluid'")


def run_fluid_model(r: ResolvedServing, rate: np.ndarray, *, reason: str) -> ServingResult:
    f = _run_fluid(r, rate)
    prov = f["provisioned_replica_s"]
    busy_chip, idle_chip, energy = replica_energy(r, f["busy_replica_s"], prov)
    lat, wait = _fluid_latency(r, rate, f)
    warnings = static_warnings(r, rate)
    if f["unstable"]:
        h0 = f["unstable"][0]
        warnings.append(
            f"capacity exceeded: demand is above what {'max_replicas' if r.autoscale else 'the fleet'} "
            f"can serve in {len(f['unstable'])} hour(s) (first: hour {h0}, "
            f"{rate[h0]:.6g} requests/s); the queue grows, see drain_end_s")
    warnings.append("fluid mode: latency percentiles are not computed; mean latency is an approximation")
    drain_chip_s = f["drain_replica_s"] * r.chips_per_replica
    n_end = f["replicas"][-1] if f["replicas"].size else 1.0
    nan = np.full(rate.size, np.nan)
    return ServingResult(
        mode="fluid", config=r, hourly_rate_per_s=rate, requests=f["arrivals"], busy_chip_s=busy_chip,
        idle_chip_s=idle_chip, it_energy_j=energy, replicas=prov / SECONDS_PER_HOUR, latency_mean_s=lat,
        wait_mean_s=wait,
        latency_p50_s=nan, latency_p95_s=nan.copy(), latency_p99_s=nan.copy(), latency_max_s=nan.copy(),
        drain_busy_chip_s=float(drain_chip_s), drain_energy_j=float(drain_chip_s * r.chip_busy_w),
        drain_end_s=rate.size * SECONDS_PER_HOUR + f["drain_replica_s"] / max(n_end, 1.0),
        batches=float(np.sum(np.divide(f["arrivals"], f["batch"], out=np.zeros(rate.size), where=f["batch"] > 0))),
        scale_ups=0, scale_downs=0, peak_replicas=int(f["replicas"].max()),
        warnings=tuple(warnings), mode_reason=reason)


def initial_replicas(r: ResolvedServing, rate: np.ndarray) -> int:
    if not r.autoscale:
        return r.replicas
    if r.initial_replicas is not None:
        return r.initial_replicas
    m = fluid_batch_size(rate[:1], r.max_batch_size, r.max_wait_s)[0]
    load = rate[0] * (r.batch_fixed_s / m + r.batch_per_query_s)
    return int(_fluid_replicas(r, load, _window_load_sd(r, rate[0], m)))
