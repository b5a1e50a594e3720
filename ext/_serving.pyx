# Request-level simulation of an inference service (private module
# ``carbonsim.sim._serving``).
#
# Design (as in ``_kernels.pyx``): ``carbonsim/serving.py`` validates the
# configuration and the traffic, resolves units (seconds, watts), allocates and
# zeroes every output; the ``def`` wrapper here only takes typed contiguous
# memoryviews and scalars; the whole simulation runs without the GIL.  The
# pure-Python twin is ``carbonsim/reference_serving.py``: it performs the same
# floating-point operations in the same order and draws the same random
# numbers, so the two agree exactly on small cases (tests/serving).
#
# The model (docs/serving.md has the full description):
#
# * Arrivals: non-homogeneous Poisson process with a rate that is constant
#   within each hour.  Inside hour h the gaps are -log(1 - U) / rate[h]; a gap
#   that crosses the end of the hour is discarded and the clock restarts at
#   the boundary (exact, by memorylessness).  U = (next_uint64 >> 11) * 2^-53,
#   numpy's ``next_double`` of a ``PCG64`` (the reference reads the same
#   numbers through ``PCG64.random_raw``).  Or a replayed trace of times.
# * One central FIFO queue in front of the replicas.  Batches are formed
#   from the head of the queue: the batch headed by the request arriving at
#   t_head is ready at min(t_head + max_wait, arrival of the max_batch-th
#   queued request) and is dispatched at d = max(ready, f) to the replica with
#   the earliest free time f (ties: lowest slot).  It takes every queued
#   request that arrived by d, at most max_batch, and keeps the replica busy
#   for L = a + b * m seconds (times an Exp(1) draw from a second stream when
#   the service time is exponential).  Dispatch times never decrease, so the
#   simulation is one pass over the batches: no event heap, no stored queue.
#   Only max_batch arrivals are ever held (a look-ahead ring buffer), so memory
#   does not grow with the number of requests or with the queue length.
# * Autoscaling (optional): a controller ticks every ``interval`` seconds.
#   The load it sees is the busy time of the batches dispatched since the last
#   tick divided by the interval (the mean number of busy replicas).  desired
#   = ceil(load / target), clamped to [min, max].  Scale-up is immediate (the
#   new replicas draw idle power at once and serve after ``up_delay``);
#   scale-down waits until the desired count has stayed below the fleet for
#   ``down_delay`` seconds, then removes the replicas that have been free the
#   longest, to the largest desired count seen in that window.  A removed
#   replica finishes its batch first (it stays provisioned until then).
# * Outputs per hour: arrivals (by arrival hour), busy and provisioned
#   replica-seconds (intervals split at hour boundaries; busy time after the
#   horizon goes to a drain total), latency and wait sums, maximum latency,
#   and a log-linear latency histogram (32 bins per octave).
#
# Hours are 3600 s; time 0 is the start of hour 0; the horizon is
# n_hours * 3600 s.
from libc.math cimport ceil, log
from libc.stdint cimport uint32_t, uint64_t
from libc.string cimport memcpy
from cpython.exc cimport PyErr_CheckSignals
from cpython.pycapsule cimport PyCapsule_GetPointer, PyCapsule_IsValid
from numpy.random cimport bitgen_t

import numpy as np

from _typedefs cimport float64_t, int64_t, intp_t

cdef float64_t SECONDS_PER_HOUR = 3600.0

#: Histogram layout: HIST_SUB linear bins per power-of-two octave.
HIST_SUB_BITS = 5
HIST_SUB = 1 << HIST_SUB_BITS
cdef int C_SUB_BITS = 5
# Pending signals (Ctrl-C) are checked every 2^16 batches: well under a millisecond apart.
cdef int64_t SIGNAL_CHECK_MASK = (1 << 16) - 1

# Return codes (turned into exceptions by carbonsim/serving.py).
cdef enum:
    STATUS_OK = 0
    STATUS_NO_REPLICA = 1
OK = STATUS_OK
ERR_NO_REPLICA = STATUS_NO_REPLICA


cdef struct Arrivals:
    bitgen_t* rng
    const float64_t* rate
    const float64_t* trace
    intp_t n_trace
    intp_t i_trace
    bint use_trace
    intp_t n_hours
    intp_t h
    float64_t t


cdef inline bint _next_arrival(Arrivals* g, float64_t* t_out, intp_t* h_out) noexcept nogil:
    """Next arrival time and its hour; False when the horizon is exhausted."""
    cdef float64_t lam, t
    cdef intp_t h
    if g.use_trace:
        if g.i_trace >= g.n_trace:
            return False
        t = g.trace[g.i_trace]
        g.i_trace += 1
        h = <intp_t>(t / SECONDS_PER_HOUR)
        if h >= g.n_hours:   # t < horizon is checked in Python; guard the rounding
            h = g.n_hours - 1
        t_out[0] = t
        h_out[0] = h
        return True
    while g.h < g.n_hours:
        lam = g.rate[g.h]
        if lam > 0.0:
            t = g.t + (-log(1.0 - g.rng.next_double(g.rng.state))) / lam
            if t < (g.h + 1) * SECONDS_PER_HOUR:
                g.t = t
                t_out[0] = t
                h_out[0] = g.h
                return True
        g.h += 1
        g.t = g.h * SECONDS_PER_HOUR
    return False


cdef inline intp_t _hour_of(float64_t s) noexcept nogil:
    """floor(s / 3600) for s >= 0, corrected for the rounding of the division."""
    cdef intp_t h = <intp_t>(s * (1.0 / SECONDS_PER_HOUR))   # a guess, made exact below
    if h * SECONDS_PER_HOUR > s:
        h -= 1
    elif (h + 1) * SECONDS_PER_HOUR <= s:
        h += 1
    return h


cdef inline void _add_interval(float64_t s, float64_t e, float64_t* part, int64_t* full,
                               intp_t n_hours, float64_t* tail) noexcept nogil:
    """Add the length of [s, e) to hourly totals.

    Parts of hours go to ``part[h]``; whole hours are counted in the difference
    array ``full`` (full[h0] += 1, full[h1] -= 1), expanded at the end; the
    length beyond the horizon goes to ``tail[0]``.
    """
    cdef float64_t t_end = n_hours * SECONDS_PER_HOUR
    cdef intp_t hs, he
    if not (e > s):
        return
    if s >= t_end:
        tail[0] += e - s
        return
    if e > t_end:
        tail[0] += e - t_end
        e = t_end
    hs = _hour_of(s)
    if e < (hs + 1) * SECONDS_PER_HOUR:     # the common case: inside one hour
        part[hs] += e - s
        return
    he = _hour_of(e)
    part[hs] += (hs + 1) * SECONDS_PER_HOUR - s
    if he > hs + 1:
        full[hs + 1] += 1
        full[he] -= 1
    if he < n_hours:
        part[he] += e - he * SECONDS_PER_HOUR


cdef inline intp_t _hist_bin(float64_t x, int64_t exp0, intp_t n_bins) noexcept nogil:
    """Log-linear bin of x > 0: (octave above 2^exp0) * 32 + top 5 mantissa bits.

    Values below the first octave land in bin 0, values above the last in the
    last bin.
    """
    cdef uint64_t bits
    cdef int64_t octave
    cdef intp_t k
    memcpy(&bits, &x, 8)
    octave = <int64_t>((bits >> 52) & 0x7FF) - exp0
    if octave < 0:
        return 0
    k = <intp_t>(octave << C_SUB_BITS) + <intp_t>((bits >> (52 - C_SUB_BITS)) & ((1 << C_SUB_BITS) - 1))
    if k >= n_bins:
        return n_bins - 1
    return k


# --- replica heap: (free time, slot) pairs, smallest first ---------------------

cdef struct Item:
    float64_t t           # the replica's free time
    intp_t slot


cdef inline bint _before(Item a, Item b) noexcept nogil:
    return a.t < b.t or (a.t == b.t and a.slot < b.slot)


cdef inline void _sift_down(Item* heap, intp_t n, intp_t pos) noexcept nogil:
    cdef Item item = heap[pos]
    cdef intp_t child
    while True:
        child = 2 * pos + 1
        if child >= n:
            break
        if child + 1 < n and _before(heap[child + 1], heap[child]):
            child += 1
        if not _before(heap[child], item):
            break
        heap[pos] = heap[child]
        pos = child
    heap[pos] = item


cdef inline void _sift_up(Item* heap, intp_t pos) noexcept nogil:
    cdef Item item = heap[pos]
    cdef intp_t parent
    while pos > 0:
        parent = (pos - 1) >> 1
        if not _before(item, heap[parent]):
            break
        heap[pos] = heap[parent]
        pos = parent
    heap[pos] = item


cdef struct Fleet:
    Item* heap            # provisioned replicas, a min-heap on (free time, slot)
    intp_t n              # provisioned replicas
    intp_t* spare         # stack of unused slots (top = lowest)
    intp_t n_spare
    float64_t* created    # per slot: time it was provisioned
    float64_t* ready      # per slot: time it starts serving
    signed char* alive           # per slot: provisioned (in the heap)
    # controller
    bint autoscale
    intp_t min_r
    intp_t max_r
    float64_t target
    float64_t interval
    float64_t up_delay
    float64_t down_delay
    float64_t window_busy     # busy seconds dispatched since the last tick
    bint below                # desired < fleet since down_since
    float64_t down_since
    intp_t down_max
    int64_t n_up
    int64_t n_down
    intp_t peak


cdef void _tick(Fleet* fl, float64_t T, float64_t* prov_part, int64_t* prov_full,
                intp_t n_hours, float64_t* dummy) noexcept nogil:
    """One autoscaler decision at time T (see the header)."""
    cdef intp_t desired = <intp_t>ceil(fl.window_busy / (fl.interval * fl.target))
    cdef intp_t k, slot
    cdef float64_t retire
    cdef Item top
    fl.window_busy = 0.0
    if desired < fl.min_r:
        desired = fl.min_r
    if desired > fl.max_r:
        desired = fl.max_r
    if desired > fl.n:
        fl.below = False
        for k in range(desired - fl.n):
            fl.n_spare -= 1
            slot = fl.spare[fl.n_spare]
            fl.created[slot] = T
            fl.ready[slot] = T + fl.up_delay
            fl.alive[slot] = 1
            fl.heap[fl.n].t = T + fl.up_delay
            fl.heap[fl.n].slot = slot
            fl.n += 1
            _sift_up(fl.heap, fl.n - 1)
        fl.n_up += 1
        if fl.n > fl.peak:
            fl.peak = fl.n
    elif desired < fl.n:
        if not fl.below:
            fl.below = True
            fl.down_since = T
            fl.down_max = desired
        elif desired > fl.down_max:
            fl.down_max = desired
        if T - fl.down_since >= fl.down_delay:
            for k in range(fl.n - fl.down_max):
                top = fl.heap[0]
                slot = top.slot
                fl.n -= 1
                fl.heap[0] = fl.heap[fl.n]
                _sift_down(fl.heap, fl.n, 0)
                if fl.ready[slot] > T:      # still starting: cancelled now
                    retire = T
                elif top.t > T:             # finishes its batch first
                    retire = top.t
                else:
                    retire = T
                _add_interval(fl.created[slot], retire, prov_part, prov_full, n_hours, dummy)
                fl.alive[slot] = 0
                fl.spare[fl.n_spare] = slot
                fl.n_spare += 1
            fl.n_down += 1
            fl.below = False
    else:
        fl.below = False


cdef bitgen_t* _bitgen(object bit_generator) except NULL:
    capsule = bit_generator.capsule
    if not PyCapsule_IsValid(capsule, "BitGenerator"):
        raise ValueError("not a numpy BitGenerator")
    return <bitgen_t*>PyCapsule_GetPointer(capsule, "BitGenerator")


def simulate(
    const float64_t[::1] rate_per_s,            # IN  (n_hours,) arrival rate per hour, 1/s
    const float64_t[::1] trace_s,               # IN  (n_trace,) sorted arrival times (used if use_trace)
    bint use_trace,
    object arrival_bitgen,                      # IN  numpy PCG64 for arrivals
    object service_bitgen,                      # IN  numpy PCG64 for exponential service times
    float64_t batch_fixed_s,                    # a in L = a + b * m
    float64_t batch_per_query_s,                # b
    intp_t max_batch,
    float64_t max_wait_s,
    bint exponential_service,
    intp_t initial_replicas,
    bint autoscale,
    intp_t min_replicas,
    intp_t max_replicas,
    float64_t target_utilization,
    float64_t interval_s,
    float64_t up_delay_s,
    float64_t down_delay_s,
    int64_t hist_exp0,                          # biased IEEE exponent of the first bin's edge
    int64_t[::1] requests,                      # OUT (n_hours,) arrivals by arrival hour
    float64_t[::1] busy_replica_s,              # OUT (n_hours,)
    float64_t[::1] provisioned_replica_s,       # OUT (n_hours,)
    float64_t[::1] latency_sum_s,               # OUT (n_hours,)
    float64_t[::1] wait_sum_s,                  # OUT (n_hours,)
    float64_t[::1] latency_max_s,               # OUT (n_hours,)
    uint32_t[:, ::1] latency_hist,              # OUT (n_hours, n_bins)
    float64_t[::1] totals,                      # OUT (2,) drain busy replica-s, end of last batch (s)
    int64_t[::1] counts,                        # OUT (4,) batches, scale-ups, scale-downs, peak replicas
):
    """Run the request-level simulation; outputs must arrive zeroed.

    Returns OK, or ERR_NO_REPLICA if a batch found no provisioned replica.
    """
    cdef intp_t n_hours = rate_per_s.shape[0]
    cdef intp_t n_bins = latency_hist.shape[1]
    cdef float64_t t_end = n_hours * SECONDS_PER_HOUR
    cdef intp_t n_slots = max_replicas if max_replicas > 0 else 1
    cdef intp_t cap = 1
    while cap < max_batch:
        cap <<= 1
    cdef intp_t mask = cap - 1

    # Work space, owned here so that the caller cannot pass a wrong size.
    cdef int64_t[::1] busy_full = np.zeros(n_hours + 1, dtype=np.int64)
    cdef int64_t[::1] prov_full = np.zeros(n_hours + 1, dtype=np.int64)
    cdef float64_t[::1] buf_t = np.zeros(cap)
    cdef intp_t[::1] buf_h = np.zeros(cap, dtype=np.intp)
    cdef unsigned char[::1] heap_mem = np.zeros(n_slots * sizeof(Item), dtype=np.uint8)
    cdef Item* heap = <Item*>&heap_mem[0]      # numpy memory is aligned for doubles
    cdef intp_t[::1] spare = np.zeros(n_slots, dtype=np.intp)
    cdef float64_t[::1] created = np.zeros(n_slots)
    cdef float64_t[::1] ready = np.zeros(n_slots)
    cdef signed char[::1] alive = np.zeros(n_slots, dtype=np.int8)
    cdef float64_t drain = 0.0
    cdef float64_t dummy = 0.0

    cdef Arrivals g
    g.rng = _bitgen(arrival_bitgen)
    g.rate = &rate_per_s[0] if n_hours > 0 else NULL
    g.trace = &trace_s[0] if trace_s.shape[0] > 0 else NULL
    g.n_trace = trace_s.shape[0]
    g.i_trace = 0
    g.use_trace = use_trace
    g.n_hours = n_hours
    g.h = 0
    g.t = 0.0
    cdef bitgen_t* srng = _bitgen(service_bitgen)

    cdef Fleet fl
    fl.heap = heap
    fl.spare = &spare[0]
    fl.created = &created[0]
    fl.ready = &ready[0]
    fl.alive = &alive[0]
    fl.autoscale = autoscale
    fl.min_r = min_replicas
    fl.max_r = max_replicas
    fl.target = target_utilization
    fl.interval = interval_s
    fl.up_delay = up_delay_s
    fl.down_delay = down_delay_s
    fl.window_busy = 0.0
    fl.below = False
    fl.down_since = 0.0
    fl.down_max = 0
    fl.n_up = 0
    fl.n_down = 0

    cdef intp_t i, j, k, r, m, h, head = 0, n_buf = 0
    cdef int64_t n_batches = 0
    cdef int64_t tick_k = 1
    cdef float64_t next_tick = interval_s
    cdef float64_t t_head, ready_t, f, d, L, end, w, lat, last_end = 0.0
    cdef bint exhausted = False
    cdef int status = STATUS_OK

    with arrival_bitgen.lock, service_bitgen.lock, nogil:
        # Initial fleet: slots 0..n0-1 provisioned and serving at time 0.
        fl.n = initial_replicas
        for k in range(initial_replicas):
            heap[k].t = 0.0  # equal free times: slot order is already a heap
            heap[k].slot = k
            alive[k] = 1
        fl.n_spare = 0
        for k in range(n_slots - 1, initial_replicas - 1, -1):
            spare[fl.n_spare] = k
            fl.n_spare += 1
        fl.peak = fl.n

        while True:
            while n_buf < max_batch and not exhausted:
                i = (head + n_buf) & mask
                if _next_arrival(&g, &buf_t[i], &buf_h[i]):
                    n_buf += 1
                else:
                    exhausted = True
            if n_buf == 0:
                break
            t_head = buf_t[head]
            ready_t = t_head + max_wait_s
            if n_buf == max_batch and buf_t[(head + max_batch - 1) & mask] < ready_t:
                ready_t = buf_t[(head + max_batch - 1) & mask]
            while True:
                if fl.n == 0:
                    f = t_end + 1.0   # nobody serves until a tick adds a replica
                else:
                    f = heap[0].t
                d = f if f > ready_t else ready_t
                if autoscale and next_tick <= d and next_tick < t_end:
                    _tick(&fl, next_tick, &provisioned_replica_s[0], &prov_full[0], n_hours, &dummy)
                    tick_k += 1
                    next_tick = tick_k * interval_s
                    continue
                break
            if fl.n == 0:
                status = STATUS_NO_REPLICA
                break
            r = heap[0].slot
            m = 1
            while m < n_buf and buf_t[(head + m) & mask] <= d:
                m += 1
            L = batch_fixed_s + batch_per_query_s * m
            if exponential_service:
                L = L * (-log(1.0 - srng.next_double(srng.state)))
            end = d + L
            heap[0].t = end
            _sift_down(heap, fl.n, 0)
            fl.window_busy += L
            n_batches += 1
            if (n_batches & SIGNAL_CHECK_MASK) == 0:
                with gil:           # Ctrl-C stops a long run: KeyboardInterrupt propagates from here
                    PyErr_CheckSignals()
            if end > last_end:
                last_end = end
            _add_interval(d, end, &busy_replica_s[0], &busy_full[0], n_hours, &drain)
            for j in range(m):
                i = (head + j) & mask
                h = buf_h[i]
                w = d - buf_t[i]
                lat = w + L
                requests[h] += 1
                latency_sum_s[h] += lat
                wait_sum_s[h] += w
                if lat > latency_max_s[h]:
                    latency_max_s[h] = lat
                latency_hist[h, _hist_bin(lat, hist_exp0, n_bins)] += 1
            head = (head + m) & mask
            n_buf -= m

        if status == STATUS_OK:
            if autoscale:
                while next_tick < t_end:
                    _tick(&fl, next_tick, &provisioned_replica_s[0], &prov_full[0], n_hours, &dummy)
                    tick_k += 1
                    next_tick = tick_k * interval_s
            for r in range(n_slots):    # slot order, as the reference
                if not alive[r]:
                    continue
                _add_interval(created[r], t_end, &provisioned_replica_s[0], &prov_full[0], n_hours, &dummy)
            # Expand the whole-hour difference arrays.
            i = 0
            j = 0
            for h in range(n_hours):
                i += busy_full[h]
                j += prov_full[h]
                busy_replica_s[h] += i * SECONDS_PER_HOUR
                provisioned_replica_s[h] += j * SECONDS_PER_HOUR

    totals[0] = drain
    totals[1] = last_end
    counts[0] = n_batches
    counts[1] = fl.n_up
    counts[2] = fl.n_down
    counts[3] = fl.peak
    return status
