"""Inference serving: energy, replicas and latency of a model behind an API.

Two engines share one configuration and one result type:

- :func:`simulate_requests`, request level: seeded non-homogeneous Poisson
  arrivals, dynamic batching on a fleet of replicas with a central queue,
  optional autoscaling, per-hour aggregates and latency histograms (compiled
  kernel ``carbonsim._serving``; memory does not grow with the number of
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
import numbers
import statistics
from dataclasses import dataclass
from typing import Annotated

import numpy as np
from pydantic import Field

from . import _serving
from .._version import __version__
from ..model.errors import SimulationError
from ..model.constraints import NonNegative
from ..model.serving import (SERVICE_TIMES, Autoscaling, Batching, ResolvedServing, ServingConfig,  # noqa: F401
                             check_value, fail, resolve_serving)

from ..model.units import J_PER_WH, SECONDS_PER_HOUR  # noqa: E402,F401
#: Latency histogram: HIST_SUB linear bins per octave, HIST_OCTAVES octaves,
#: starting HIST_OCTAVES_BELOW octaves below the single-query latency a + b.
HIST_SUB = 1 << _serving.HIST_SUB_BITS
HIST_OCTAVES = 40
HIST_OCTAVES_BELOW = 8
N_HIST_BINS = HIST_SUB * HIST_OCTAVES
#: ``simulate(mode="auto")`` uses the request-level engine up to this many
#: expected requests, the fluid engine beyond.
DEFAULT_REQUEST_LIMIT = 50_000_000
_MAX_HOURS = 10_000_000
_HIST_MAX_BYTES = 1 << 30
_HOURLY_COUNT_LIMIT = 2**32 - 1          # histogram cells are uint32


# --------------------------------------------------------------------------
# run arguments
# --------------------------------------------------------------------------

def _parse_rate(hourly_rate_per_s) -> np.ndarray:
    try:
        rate = np.array(hourly_rate_per_s, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"hourly_rate_per_s: must be a 1-D array of numbers, got {hourly_rate_per_s!r:.60}") from exc
    if rate.ndim != 1 or rate.size == 0:
        fail("hourly_rate_per_s", "must be a non-empty 1-D array (one rate per hour)", rate.shape)
    if rate.size > _MAX_HOURS:
        fail("hourly_rate_per_s", f"must have at most {_MAX_HOURS} hours", rate.size)
    bad = ~(np.isfinite(rate) & (rate >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(f"hourly_rate_per_s[{i}]", "must be finite and >= 0 (requests per second)", float(rate[i]))
    rate.setflags(write=False)
    return rate


def _check_fleet_for_traffic(r: ResolvedServing, has_traffic: bool) -> None:
    if has_traffic and not r.autoscale and r.replicas < 1:
        fail("replicas", "must be >= 1 when traffic is > 0", r.replicas)


def _seed_sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.SeedSequence(seed)
    fail("seed", "must be a non-negative integer, a numpy SeedSequence or None", seed)




# --------------------------------------------------------------------------
# result
# --------------------------------------------------------------------------

def histogram_edges(hist_exp0: int) -> np.ndarray:
    """Bin edges (s) of the latency histogram whose first octave starts at 2**(hist_exp0 - 1023).

    Bin 0 also holds every shorter latency (its lower edge is 0); the last bin
    holds every longer one.
    """
    k = np.arange(N_HIST_BINS + 1)
    octave, sub = k // HIST_SUB, k % HIST_SUB
    edges = np.ldexp(1.0 + sub / HIST_SUB, (hist_exp0 - 1023) + octave)
    edges[0] = 0.0
    return edges


def histogram_percentiles(hist: np.ndarray, edges: np.ndarray, q) -> np.ndarray:
    """Percentiles ``q`` (0-100) of each row of a latency histogram.

    Linear interpolation inside the bin holding the rank ``q/100 x count``;
    the error is at most one bin width (3% of the value above bin 0).  Rows
    without counts give NaN.  Returns shape ``(len(q), n_rows)``.
    """
    q = np.atleast_1d(np.asarray(q, dtype=np.float64))
    hist = np.atleast_2d(hist)
    out = np.full((q.size, hist.shape[0]), np.nan)
    lo, width = edges[:-1], np.diff(edges)
    for start in range(0, hist.shape[0], 1024):
        block = hist[start:start + 1024].astype(np.int64)
        cum = np.cumsum(block, axis=1)
        n = cum[:, -1]
        rows = np.flatnonzero(n > 0)
        if rows.size == 0:
            continue
        cum, block, n = cum[rows], block[rows], n[rows]
        for i, qi in enumerate(q):
            rank = qi / 100.0 * n
            k = np.minimum((cum < rank[:, None]).sum(axis=1), block.shape[1] - 1)
            k = np.maximum(k, np.argmax(block > 0, axis=1) * (rank <= 0))
            idx = np.arange(rows.size)
            inbin = block[idx, k]
            frac = np.clip((rank - (cum[idx, k] - inbin)) / np.maximum(inbin, 1), 0.0, 1.0)
            out[i, start + rows] = lo[k] + frac * width[k]
    return out


@dataclass(frozen=True, eq=False)
class ServingResult:
    """Per-hour aggregates of a serving simulation (s, W, J).

    Hour ``h`` covers ``[3600 h, 3600 (h + 1))`` s.  Requests and latencies
    are counted in the hour the request *arrived*; busy, idle and energy are
    split at hour boundaries.  Work still running at the end of the horizon
    (queued requests that arrived in time) is the *drain*: its busy time and
    energy are outside the hourly arrays and included in the totals.
    """

    mode: str                          # "requests" or "fluid"
    config: ResolvedServing
    hourly_rate_per_s: np.ndarray
    requests: np.ndarray               # arrivals per hour (expected value in fluid mode)
    busy_chip_s: np.ndarray
    idle_chip_s: np.ndarray
    it_energy_j: np.ndarray
    replicas: np.ndarray               # time-averaged provisioned replicas
    latency_mean_s: np.ndarray
    wait_mean_s: np.ndarray            # queueing + batch-formation wait
    latency_p50_s: np.ndarray          # NaN in fluid mode
    latency_p95_s: np.ndarray
    latency_p99_s: np.ndarray
    latency_max_s: np.ndarray
    drain_busy_chip_s: float
    drain_energy_j: float
    drain_end_s: float                 # when the last batch ends (horizon + drain), s
    batches: float
    scale_ups: int
    scale_downs: int
    peak_replicas: int
    warnings: tuple[str, ...]
    mode_reason: str = ""
    seed_entropy: object = None
    latency_histogram: np.ndarray | None = None   # (n_hours, N_HIST_BINS) uint32, request level
    histogram_edges_s: np.ndarray | None = None
    version: str = __version__

    @property
    def n_hours(self) -> int:
        return self.requests.shape[0]

    @property
    def total_requests(self) -> float:
        return float(self.requests.sum())

    @property
    def total_busy_chip_s(self) -> float:
        return float(self.busy_chip_s.sum()) + self.drain_busy_chip_s

    @property
    def total_idle_chip_s(self) -> float:
        return float(self.idle_chip_s.sum())

    @property
    def total_energy_j(self) -> float:
        """IT energy of the whole run, drain included."""
        return float(self.it_energy_j.sum()) + self.drain_energy_j

    @property
    def total_energy_kwh(self) -> float:
        return self.total_energy_j / 3.6e6

    @property
    def wh_per_query(self) -> float:
        """IT energy per served query (idle and drain included), Wh."""
        n = self.total_requests
        return self.total_energy_j / J_PER_WH / n if n else math.nan

    @property
    def utilization(self) -> np.ndarray:
        """Busy fraction of the provisioned chips, per hour."""
        total = self.busy_chip_s + self.idle_chip_s
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, self.busy_chip_s / total, np.nan)

    def latency_percentile(self, q, hours=None) -> float | np.ndarray:
        """Latency percentile(s) over ``hours`` (an index or slice; default all), from the histograms."""
        if self.latency_histogram is None:
            raise SimulationError("latency percentiles need the request-level engine (mode='requests')")
        hist = self.latency_histogram if hours is None else np.atleast_2d(self.latency_histogram[hours])
        total = hist.sum(axis=0, dtype=np.int64)[None, :]
        out = histogram_percentiles(total, self.histogram_edges_s, q)[:, 0]
        return float(out[0]) if np.ndim(q) == 0 else out

    def mean_latency(self) -> float:
        n = self.requests.sum()
        return float(np.nansum(self.latency_mean_s * self.requests) / n) if n else math.nan

    def summary(self) -> str:
        from ..cli.tables import serving_summary
        return serving_summary(self)


def _energy(r: ResolvedServing, busy_replica_s, provisioned_replica_s):
    busy_chip_s = busy_replica_s * r.chips_per_replica
    idle_chip_s = np.maximum(provisioned_replica_s * r.chips_per_replica - busy_chip_s, 0.0)
    return busy_chip_s, idle_chip_s, busy_chip_s * r.chip_busy_w + idle_chip_s * r.chip_idle_w


def _static_warnings(r: ResolvedServing, rate: np.ndarray) -> list[str]:
    out = []
    if r.latency_target_s is not None:
        p = r.latency_target_percentile
        fastest = r.batch_latency_s(1)
        if r.exponential_service:
            fastest *= -math.log1p(-min(p, 99.999999) / 100.0)
        if fastest > r.latency_target_s:
            out.append(
                f"latency target unreachable: p{p:g} <= {r.latency_target_s:g} s is below the fastest possible "
                f"response ({fastest:.4g} s for a batch of one with no queueing, latency = "
                f"{r.batch_fixed_s:g} + {r.batch_per_query_s:.4g} x batch); no fleet size can meet it")
    return out


def _hourly_target_warnings(r: ResolvedServing, pct_values: np.ndarray) -> list[str]:
    if r.latency_target_s is None:
        return []
    miss = np.flatnonzero(pct_values > r.latency_target_s)
    if miss.size == 0:
        return []
    worst = int(miss[np.argmax(pct_values[miss])])
    return [f"latency target missed: p{r.latency_target_percentile:g} > {r.latency_target_s:g} s in "
            f"{miss.size} of {int(np.isfinite(pct_values).sum())} hours with traffic (worst: hour {worst}, "
            f"{pct_values[worst]:.4g} s)"]


# --------------------------------------------------------------------------
# fluid engine
# --------------------------------------------------------------------------

def fluid_batch_size(rate_per_s, max_batch: int, max_wait_s: float) -> np.ndarray:
    """Mean size of timeout-closed batches, E[min(B, 1 + N)], N ~ Poisson(rate x max_wait).

    ``max_wait_s`` may be an array (one window per hour).
    """
    lam = np.asarray(rate_per_s, dtype=np.float64)
    mu = lam * np.asarray(max_wait_s, dtype=np.float64)
    m = np.ones_like(mu)
    pos = mu > 0
    if max_batch == 1 or not pos.any():
        return m
    mu_p = mu[pos]
    log_mu = np.log(mu_p)
    log_pmf = -mu_p
    cdf = np.exp(log_pmf)
    acc = np.ones_like(mu_p)
    for j in range(1, max_batch):
        tail = np.clip(1.0 - cdf, 0.0, 1.0)       # P(N >= j)
        if tail.max() < 1e-15:
            break
        acc += tail
        log_pmf = log_pmf + log_mu - math.log(j)
        cdf = cdf + np.exp(log_pmf)
    m[pos] = acc
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
        before = np.append(float(_initial_replicas(r, rate)), replicas[:-1])
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
    rate = _parse_rate(hourly_rate_per_s)
    _check_fleet_for_traffic(r, bool(rate.max() > 0))
    return _simulate_fluid(r, rate, reason="mode='fluid'")


def _simulate_fluid(r: ResolvedServing, rate: np.ndarray, *, reason: str) -> ServingResult:
    f = _run_fluid(r, rate)
    prov = f["provisioned_replica_s"]
    busy_chip, idle_chip, energy = _energy(r, f["busy_replica_s"], prov)
    lat, wait = _fluid_latency(r, rate, f)
    warnings = _static_warnings(r, rate)
    if f["unstable"]:
        h0 = f["unstable"][0]
        warnings.append(
            f"capacity exceeded: demand is above what {'max_replicas' if r.autoscale else 'the fleet'} "
            f"can serve in {len(f['unstable'])} hour(s) (first: hour {h0}, "
            f"{rate[h0]:.6g} requests/s); the queue grows, see drain_end_s")
    warnings.append("fluid mode: latency percentiles are not computed (NaN); mean latency is an approximation")
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


# --------------------------------------------------------------------------
# request-level engine
# --------------------------------------------------------------------------

def _hist_exp0(r: ResolvedServing) -> int:
    """Biased IEEE exponent of the first histogram edge, HIST_OCTAVES_BELOW octaves under a + b."""
    _, e = math.frexp(r.batch_latency_s(1))
    return max(1, (e - 1) - HIST_OCTAVES_BELOW + 1023)


def _initial_replicas(r: ResolvedServing, rate: np.ndarray) -> int:
    if not r.autoscale:
        return r.replicas
    if r.initial_replicas is not None:
        return r.initial_replicas
    m = fluid_batch_size(rate[:1], r.max_batch_size, r.max_wait_s)[0]
    load = rate[0] * (r.batch_fixed_s / m + r.batch_per_query_s)
    return int(_fluid_replicas(r, load, _window_load_sd(r, rate[0], m)))


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
    n_hours = check_value("n_hours", n_hours, Annotated[int, Field(ge=span, le=_MAX_HOURS)])
    counts = np.bincount((t // SECONDS_PER_HOUR).astype(np.int64), minlength=n_hours)
    rate = counts / SECONDS_PER_HOUR          # the trace's hourly rate, for the fluid estimate
    return _simulate_requests(config, rate, t, seed=seed, engine=engine)


def _simulate_requests(config, hourly_rate_per_s, trace, *, seed, engine, reason="mode='requests'"):
    r = resolve_serving(config)
    rate = _parse_rate(hourly_rate_per_s)
    n_hours = rate.size
    _check_fleet_for_traffic(r, bool(rate.max() > 0))
    hour_max = float(rate.max()) * SECONDS_PER_HOUR
    if hour_max + 10.0 * math.sqrt(hour_max) + 10.0 > _HOURLY_COUNT_LIMIT:
        h = int(np.argmax(rate))
        fail(f"hourly_rate_per_s[{h}]", "is too high for the request-level engine (more than 2**32 requests in "
              "one hour); use simulate_fluid or mode='auto'", float(rate[h]))
    if n_hours * N_HIST_BINS * 4 > _HIST_MAX_BYTES:
        fail("hourly_rate_per_s", f"is too long for the request-level engine's hourly latency histograms "
              f"(at most {_HIST_MAX_BYTES // (N_HIST_BINS * 4)} hours); use simulate_fluid", n_hours)
    if r.autoscale and n_hours * SECONDS_PER_HOUR / r.interval_s > 1e9:
        fail("autoscaling.interval_s", f"is too short for {n_hours} hours (more than 1e9 controller ticks)",
              r.interval_s)
    ss = _seed_sequence(seed)
    arrival_ss, service_ss = ss.spawn(2)
    arrival_bg, service_bg = np.random.PCG64(arrival_ss), np.random.PCG64(service_ss)

    exp0 = _hist_exp0(r)
    n0 = _initial_replicas(r, rate)
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

    busy_chip, idle_chip, energy = _energy(r, out["busy_replica_s"], out["provisioned_replica_s"])
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

    warnings = _static_warnings(r, rate)
    if r.latency_target_s is not None:
        pct = histogram_percentiles(hist, edges, r.latency_target_percentile)[0]
        warnings += _hourly_target_warnings(r, pct)
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
    rate = _parse_rate(hourly_rate_per_s)
    _check_fleet_for_traffic(r, bool(rate.max() > 0))
    expected = float(rate.sum()) * SECONDS_PER_HOUR
    if mode == "auto":
        limit = float(check_value("request_limit", request_limit, NonNegative))
        too_long = rate.size * N_HIST_BINS * 4 > _HIST_MAX_BYTES
        mode = "requests" if expected <= limit and not too_long else "fluid"
        reason = (f"auto: {expected:.3g} expected requests {'<=' if mode == 'requests' else '>'} "
                  f"request_limit {limit:.3g}")
    else:
        reason = f"mode={mode!r}"
    if mode == "fluid":
        return _simulate_fluid(r, rate, reason=reason)
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
    rate = _parse_rate(hourly_rate_per_s)
    _check_fleet_for_traffic(r, bool(rate.max() > 0))
    if hours is None:
        busy_hours = np.flatnonzero(rate > 0)
        if busy_hours.size == 0:
            fail("hourly_rate_per_s", "has no traffic to compare", 0)
        pick = np.unique(np.linspace(0, busy_hours.size - 1, min(n_samples, busy_hours.size)).round().astype(int))
        hours = busy_hours[pick]
    hours = np.asarray(hours, dtype=np.int64)
    ss = _seed_sequence(seed)
    children = ss.spawn(hours.size)
    rows = []
    for h, child in zip(hours, children):
        pair = np.array([rate[h - 1] if h > 0 else rate[h], rate[h]])
        if pair.sum() * SECONDS_PER_HOUR > request_limit:
            fail(f"hourly_rate_per_s[{h}]", f"is too high to compare at request level within request_limit "
                  f"{request_limit:g}", float(rate[h]))
        rr = _simulate_requests(r, pair, None, seed=child, engine=_serving.simulate)
        fl = _simulate_fluid(r, pair, reason="compare")
        rows.append((rr.it_energy_j[1], fl.it_energy_j[1], rr.busy_chip_s[1], fl.busy_chip_s[1],
                     rr.replicas[1], fl.replicas[1], rr.latency_mean_s[1], fl.latency_mean_s[1]))
    cols = np.array(rows, dtype=np.float64).reshape(-1, 8).T
    return FluidCheck(hours, *cols)


__all__ = [
    "Autoscaling", "Batching", "DEFAULT_REQUEST_LIMIT", "FluidCheck", "ResolvedServing", "ServingConfig",
    "ServingResult", "compare_fluid", "fluid_batch_size", "histogram_edges", "histogram_percentiles",
    "simulate", "simulate_fluid", "simulate_requests", "simulate_trace",
]
