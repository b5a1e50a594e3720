"""What a serving run returns (:class:`ServingResult`, latency histograms) and the checks of its run arguments."""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np

from .._version import __version__
from ..model.errors import SimulationError
from ..model.serving import (
    ResolvedServing,
    fail,
)
from ..model.units import J_PER_WH
from . import _serving

#: Latency histogram: HIST_SUB linear bins per octave, HIST_OCTAVES octaves,
#: starting HIST_OCTAVES_BELOW octaves below the single-query latency a + b.
HIST_SUB = 1 << _serving.HIST_SUB_BITS
HIST_OCTAVES = 40
HIST_OCTAVES_BELOW = 8
N_HIST_BINS = HIST_SUB * HIST_OCTAVES
#: ``simulate(mode="auto")`` uses the request-level engine up to this many
#: expected requests, the fluid engine beyond.
DEFAULT_REQUEST_LIMIT = 50_000_000
MAX_HOURS = 10_000_000
HIST_MAX_BYTES = 1 << 30
HOURLY_COUNT_LIMIT = 2**32 - 1          # histogram cells are uint32



# --------------------------------------------------------------------------
# run arguments
# --------------------------------------------------------------------------

def parse_rate(hourly_rate_per_s) -> np.ndarray:
    try:
        rate = np.array(hourly_rate_per_s, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"hourly_rate_per_s: must be a 1-D array of numbers, got {hourly_rate_per_s!r:.60}") from exc
    if rate.ndim != 1 or rate.size == 0:
        fail("hourly_rate_per_s", "must be a non-empty 1-D array (one rate per hour)", rate.shape)
    if rate.size > MAX_HOURS:
        fail("hourly_rate_per_s", f"must have at most {MAX_HOURS} hours", rate.size)
    bad = ~(np.isfinite(rate) & (rate >= 0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        fail(f"hourly_rate_per_s[{i}]", "must be finite and >= 0 (requests per second)", float(rate[i]))
    rate.setflags(write=False)
    return rate


def check_fleet_for_traffic(r: ResolvedServing, has_traffic: bool) -> None:
    if has_traffic and not r.autoscale and r.replicas < 1:
        fail("replicas", "must be >= 1 when traffic is > 0", r.replicas)


def seed_sequence(seed) -> np.random.SeedSequence:
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
        qa = np.asarray(q)
        if qa.dtype.kind not in "iuf" or not np.all(np.isfinite(qa) & (qa >= 0) & (qa <= 100)):
            raise ValueError(f"q must be percentiles between 0 and 100, got {q!r}")
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


def replica_energy(r: ResolvedServing, busy_replica_s, provisioned_replica_s):
    busy_chip_s = busy_replica_s * r.chips_per_replica
    idle_chip_s = np.maximum(provisioned_replica_s * r.chips_per_replica - busy_chip_s, 0.0)
    return busy_chip_s, idle_chip_s, busy_chip_s * r.chip_busy_w + idle_chip_s * r.chip_idle_w


def static_warnings(r: ResolvedServing, rate: np.ndarray) -> list[str]:
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


def hourly_target_warnings(r: ResolvedServing, pct_values: np.ndarray) -> list[str]:
    if r.latency_target_s is None:
        return []
    miss = np.flatnonzero(pct_values > r.latency_target_s)
    if miss.size == 0:
        return []
    worst = int(miss[np.argmax(pct_values[miss])])
    return [f"latency target missed: p{r.latency_target_percentile:g} > {r.latency_target_s:g} s in "
            f"{miss.size} of {int(np.isfinite(pct_values).sum())} hours with traffic (worst: hour {worst}, "
            f"{pct_values[worst]:.4g} s)"]


