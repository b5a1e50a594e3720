"""Slow, plain-Python twin of the request-level serving kernel.

:func:`simulate` has the signature of ``carbonsim.sim._serving.simulate`` and
fills the same (zeroed) output arrays.  It is written for reading, with
``heapq`` for the replicas, a ``deque`` for the look-ahead and a generator
for the arrivals, but it performs the same floating-point operations in the
same order and draws the same random numbers, so on any input the two give
identical counts and identical sums (tests/serving/test_differential.py).

Random numbers: U = (next_uint64 >> 11) * 2**-53, which is numpy's
``next_double`` for ``PCG64``; here the 64-bit words come from
``PCG64.random_raw`` and the conversion is done in Python.

:func:`simulate_requests` runs a configuration through this twin and the same
post-processing as :func:`carbonsim.sim.serving.simulate_requests`.
"""
from __future__ import annotations

import heapq
import math
import struct
from collections import deque

SECONDS_PER_HOUR = 3600.0
HIST_SUB_BITS = 5
OK = 0
ERR_NO_REPLICA = 1


class _Uniforms:
    """U in [0, 1) from a numpy bit generator, as numpy's C ``next_double`` makes them."""

    def __init__(self, bit_generator, chunk: int = 4096):
        self._bg = bit_generator
        self._chunk = chunk
        self._words: list[int] = []
        self._i = 0

    def next(self) -> float:
        if self._i == len(self._words):
            self._words = [int(w) for w in self._bg.random_raw(self._chunk)]
            self._i = 0
        word = self._words[self._i]
        self._i += 1
        return (word >> 11) * (1.0 / 9007199254740992.0)


def _arrivals(rate_per_s, uniforms: _Uniforms):
    """Yield (time, hour) of a Poisson process whose rate is constant within each hour."""
    n_hours = len(rate_per_s)
    h = 0
    t = 0.0
    while h < n_hours:
        lam = float(rate_per_s[h])
        if lam > 0.0:
            t_next = t + (-math.log(1.0 - uniforms.next())) / lam
            if t_next < (h + 1) * SECONDS_PER_HOUR:
                t = t_next
                yield t, h
                continue
        # No arrival left in hour h (the overshooting gap is discarded).
        h += 1
        t = h * SECONDS_PER_HOUR


def _trace_arrivals(trace_s, n_hours):
    for t in trace_s:
        t = float(t)
        yield t, min(int(t / SECONDS_PER_HOUR), n_hours - 1)


def _hour_of(s: float) -> int:
    h = int(s / SECONDS_PER_HOUR)
    if h * SECONDS_PER_HOUR > s:
        h -= 1
    elif (h + 1) * SECONDS_PER_HOUR <= s:
        h += 1
    return h


class _HourlyIntervals:
    """Hourly sums of interval lengths: parts of hours added directly, whole hours counted."""

    def __init__(self, part, n_hours: int):
        self.part = part
        self.full = [0] * (n_hours + 1)
        self.n_hours = n_hours
        self.tail = 0.0

    def add(self, s: float, e: float) -> None:
        t_end = self.n_hours * SECONDS_PER_HOUR
        if not e > s:
            return
        if s >= t_end:
            self.tail += e - s
            return
        if e > t_end:
            self.tail += e - t_end
            e = t_end
        hs, he = _hour_of(s), _hour_of(e)
        if hs == he:
            self.part[hs] += e - s
            return
        self.part[hs] += (hs + 1) * SECONDS_PER_HOUR - s
        if he > hs + 1:
            self.full[hs + 1] += 1
            self.full[he] -= 1
        if he < self.n_hours:
            self.part[he] += e - he * SECONDS_PER_HOUR

    def finish(self) -> None:
        count = 0
        for h in range(self.n_hours):
            count += self.full[h]
            self.part[h] += count * SECONDS_PER_HOUR


def _hist_bin(x: float, exp0: int, n_bins: int) -> int:
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    octave = ((bits >> 52) & 0x7FF) - exp0
    if octave < 0:
        return 0
    k = (octave << HIST_SUB_BITS) + ((bits >> (52 - HIST_SUB_BITS)) & ((1 << HIST_SUB_BITS) - 1))
    return min(k, n_bins - 1)


def simulate(rate_per_s, trace_s, use_trace, arrival_bitgen, service_bitgen,
             batch_fixed_s, batch_per_query_s, max_batch, max_wait_s, exponential_service,
             initial_replicas, autoscale, min_replicas, max_replicas, target_utilization,
             interval_s, up_delay_s, down_delay_s, hist_exp0,
             requests, busy_replica_s, provisioned_replica_s, latency_sum_s, wait_sum_s,
             latency_max_s, latency_hist, totals, counts):
    """Same contract as ``carbonsim.sim._serving.simulate`` (see ext/_serving.pyx)."""
    n_hours = len(rate_per_s)
    n_bins = latency_hist.shape[1]
    t_end = n_hours * SECONDS_PER_HOUR
    busy = _HourlyIntervals(busy_replica_s, n_hours)
    provisioned = _HourlyIntervals(provisioned_replica_s, n_hours)
    service = _Uniforms(service_bitgen)
    if use_trace:
        arrivals = _trace_arrivals(trace_s, n_hours)
    else:
        arrivals = _arrivals(rate_per_s, _Uniforms(arrival_bitgen))

    # Replicas: a heap of (free time, slot); per slot its provisioning and ready times.
    n_slots = max(max_replicas, 1)
    heap = [(0.0, slot) for slot in range(initial_replicas)]
    created = [0.0] * n_slots
    ready = [0.0] * n_slots
    spare = list(range(n_slots - 1, initial_replicas - 1, -1))   # pop() gives the lowest
    ctl = {"window_busy": 0.0, "below": False, "down_since": 0.0, "down_max": 0,
           "n_up": 0, "n_down": 0, "peak": initial_replicas}

    def tick(T):
        desired = math.ceil(ctl["window_busy"] / (interval_s * target_utilization))
        ctl["window_busy"] = 0.0
        desired = min(max(desired, min_replicas), max_replicas)
        if desired > len(heap):
            ctl["below"] = False
            for _ in range(desired - len(heap)):
                slot = spare.pop()
                created[slot] = T
                ready[slot] = T + up_delay_s
                heapq.heappush(heap, (T + up_delay_s, slot))
            ctl["n_up"] += 1
            ctl["peak"] = max(ctl["peak"], len(heap))
        elif desired < len(heap):
            if not ctl["below"]:
                ctl["below"], ctl["down_since"], ctl["down_max"] = True, T, desired
            elif desired > ctl["down_max"]:
                ctl["down_max"] = desired
            if T - ctl["down_since"] >= down_delay_s:
                for _ in range(len(heap) - ctl["down_max"]):
                    free, slot = heapq.heappop(heap)
                    if ready[slot] > T:
                        retire = T          # still starting up: cancelled
                    elif free > T:
                        retire = free       # finishes its batch first
                    else:
                        retire = T
                    provisioned.add(created[slot], retire)
                    spare.append(slot)
                ctl["n_down"] += 1
                ctl["below"] = False
        else:
            ctl["below"] = False

    lookahead = deque()      # (arrival time, arrival hour), at most max_batch
    exhausted = False
    tick_k = 1
    next_tick = interval_s
    n_batches = 0
    last_end = 0.0
    status = OK
    while True:
        while len(lookahead) < max_batch and not exhausted:
            nxt = next(arrivals, None)
            if nxt is None:
                exhausted = True
            else:
                lookahead.append(nxt)
        if not lookahead:
            break
        ready_t = lookahead[0][0] + max_wait_s
        if len(lookahead) == max_batch and lookahead[max_batch - 1][0] < ready_t:
            ready_t = lookahead[max_batch - 1][0]
        while True:
            f = heap[0][0] if heap else t_end + 1.0
            d = f if f > ready_t else ready_t
            if autoscale and next_tick <= d and next_tick < t_end:
                tick(next_tick)
                tick_k += 1
                next_tick = tick_k * interval_s
                continue
            break
        if not heap:
            status = ERR_NO_REPLICA
            break
        m = 1
        while m < len(lookahead) and lookahead[m][0] <= d:
            m += 1
        L = batch_fixed_s + batch_per_query_s * m
        if exponential_service:
            L = L * (-math.log(1.0 - service.next()))
        end = d + L
        r = heap[0][1]
        heapq.heapreplace(heap, (end, r))
        ctl["window_busy"] += L
        n_batches += 1
        last_end = max(last_end, end)
        busy.add(d, end)
        for _ in range(m):
            t, h = lookahead.popleft()
            w = d - t
            lat = w + L
            requests[h] += 1
            latency_sum_s[h] += lat
            wait_sum_s[h] += w
            latency_max_s[h] = max(latency_max_s[h], lat)
            latency_hist[h, _hist_bin(lat, hist_exp0, n_bins)] += 1

    if status == OK:
        if autoscale:
            while next_tick < t_end:
                tick(next_tick)
                tick_k += 1
                next_tick = tick_k * interval_s
        for slot in sorted(slot for _, slot in heap):
            provisioned.add(created[slot], t_end)
        busy.finish()
        provisioned.finish()
    totals[0] = busy.tail
    totals[1] = last_end
    counts[:] = (n_batches, ctl["n_up"], ctl["n_down"], ctl["peak"])
    return status


def simulate_requests(config, hourly_rate_per_s, *, seed):
    """:func:`carbonsim.sim.serving.simulate_requests` computed by this reference (slow)."""
    from . import serving

    return serving._simulate_requests(config, hourly_rate_per_s, None, seed=seed, engine=simulate)


def simulate_trace(config, arrival_times_s, *, n_hours=None, seed=None):
    """:func:`carbonsim.sim.serving.simulate_trace` computed by this reference (slow)."""
    from . import serving

    return serving._simulate_trace(config, arrival_times_s, n_hours=n_hours, seed=seed, engine=simulate)
