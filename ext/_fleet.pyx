# The compiled fleet core (private module ``carbonsim.sim._fleet``): the control plane of
# carbonsim.sim.fleet.simulate, event for event, without SimPy.
#
# Reference: carbonsim/sim/fleet.py (SimPy), which stays the definition.  The core takes the
# jobs' planned run segments (computed before the loop: a plan depends only on the policy, the
# release time, the job and the forecast, never on the engine's state), and replays the
# engine's events in SimPy's order: a heap of (time, class, sequence), class 0 for a process's
# start (SimPy's URGENT Initialize) and 1 for everything else (NORMAL timeouts and granted
# requests), the sequence counting events in the order SimPy schedules them.  SimPy schedules a
# few more events that nothing waits on (a process's end); they take sequence numbers but do
# not change the order of the others, so they are left out.  Every time is computed with the
# same floating-point operations as the engine (a timeout at now + (target - now)), so the
# results are identical, not only close; tests/test_fleet_compiled.py checks that on random
# fleets.
#
# Per pool: chips handed out last-freed-first from a stack of idle batches (idle and
# powered-down chip-seconds exact per batch), and a queue ordered by (priority, sequence) with
# head-of-line blocking: when chips are freed, queued jobs are granted from the head while the
# head fits.  The interval log (start, end, watts, datacenter, workload, kind, chips, job)
# grows by doubling.  The loop runs without the GIL; invariants the Python layer has already
# checked (finite, non-negative lengths; segments in order; chips within the pool) are
# re-checked cheaply and reported as an error code, never a crash.
#
# The planners for window, lowest-slot and carbon-time shifts over a fixed hourly table
# (carbonsim.sim.planners with a Forecast: time 0 at the table's first hour) are here too,
# with the same operations as the numpy versions (floor division as Python and numpy do it).
from libc.math cimport INFINITY, ceil, floor, fmod, copysign, fabs
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memcpy

import numpy as np

from _typedefs cimport float64_t, int32_t, int64_t, intp_t

ctypedef signed char int8_t

cdef float64_t HOUR = 3600.0
cdef float64_t TOL = 1e-6
cdef float64_t REL = 1e-9

# events
cdef enum:
    EV_ARRIVALS = 0    # the arrivals process runs (its start, or its timeout to the next submission)
    EV_INIT = 1        # a job's process starts
    EV_WAKE = 2        # a job's wait until its next planned segment is over
    EV_GRANT = 3       # a job's request for chips is granted
    EV_END = 4         # a job's segment ends

# error codes (0: ok)
cdef enum:
    ERR_MEMORY = 1
    ERR_SEGMENT = 2    # a segment with a NaN, negative or infinite length or start
    ERR_CHIPS = 3      # a job asking for no chips


ctypedef struct Event:
    float64_t time
    int64_t seq
    int64_t job
    int32_t cls
    int32_t kind


ctypedef struct QItem:
    int64_t prio
    int64_t seq
    int64_t chips
    int64_t job


ctypedef struct Batch:
    float64_t chips
    float64_t since


ctypedef struct Pool:
    int limited
    float64_t free
    float64_t idle_w
    float64_t timeout
    int32_t datacenter
    int32_t index
    QItem* q
    intp_t qn
    intp_t qcap
    int64_t qseq
    Batch* idle
    intp_t bn
    intp_t bcap
    float64_t busy
    float64_t idle_cs
    float64_t off_cs


ctypedef struct Log:
    float64_t* start
    float64_t* end
    float64_t* power
    int32_t* datacenter
    int32_t* workload
    int8_t* kind
    float64_t* chips
    int64_t* job
    intp_t n
    intp_t cap


# ---------------------------------------------------------------------------
# Growable arrays
# ---------------------------------------------------------------------------

cdef int _grow(void** p, intp_t* cap, intp_t need, size_t size) noexcept nogil:
    cdef intp_t c = cap[0]
    cdef void* q
    if need <= c:
        return 0
    if c < 16:
        c = 16
    while c < need:
        c *= 2
    q = realloc(p[0], c * size)
    if q == NULL:
        return ERR_MEMORY
    p[0] = q
    cap[0] = c
    return 0


cdef int _log_reserve(Log* g, intp_t need) noexcept nogil:
    cdef intp_t c
    if need <= g.cap:
        return 0
    c = g.cap if g.cap >= 16 else 16
    while c < need:
        c *= 2
    cdef void* p
    p = realloc(g.start, c * sizeof(float64_t))
    if p == NULL:
        return ERR_MEMORY
    g.start = <float64_t*>p
    p = realloc(g.end, c * sizeof(float64_t))
    if p == NULL:
        return ERR_MEMORY
    g.end = <float64_t*>p
    p = realloc(g.power, c * sizeof(float64_t))
    if p == NULL:
        return ERR_MEMORY
    g.power = <float64_t*>p
    p = realloc(g.datacenter, c * sizeof(int32_t))
    if p == NULL:
        return ERR_MEMORY
    g.datacenter = <int32_t*>p
    p = realloc(g.workload, c * sizeof(int32_t))
    if p == NULL:
        return ERR_MEMORY
    g.workload = <int32_t*>p
    p = realloc(g.kind, c * sizeof(int8_t))
    if p == NULL:
        return ERR_MEMORY
    g.kind = <int8_t*>p
    p = realloc(g.chips, c * sizeof(float64_t))
    if p == NULL:
        return ERR_MEMORY
    g.chips = <float64_t*>p
    p = realloc(g.job, c * sizeof(int64_t))
    if p == NULL:
        return ERR_MEMORY
    g.job = <int64_t*>p
    g.cap = c
    return 0


cdef inline int _log_add(Log* g, float64_t s, float64_t e, float64_t w, int32_t d, int32_t wl, int8_t kind,
                         float64_t chips, int64_t job) noexcept nogil:
    """IntervalLog.add: only intervals with end > start are kept."""
    if not (e > s):
        return 0
    if g.n == g.cap and _log_reserve(g, g.n + 1):
        return ERR_MEMORY
    cdef intp_t k = g.n
    g.start[k] = s
    g.end[k] = e
    g.power[k] = w
    g.datacenter[k] = d
    g.workload[k] = wl
    g.kind[k] = kind
    g.chips[k] = chips
    g.job[k] = job
    g.n = k + 1
    return 0


# ---------------------------------------------------------------------------
# The event heap: (time, class, sequence), smallest first
# ---------------------------------------------------------------------------

cdef inline bint _ev_less(Event* a, Event* b) noexcept nogil:
    if a.time != b.time:
        return a.time < b.time
    if a.cls != b.cls:
        return a.cls < b.cls
    return a.seq < b.seq


cdef int _push(Event** heap, intp_t* n, intp_t* cap, float64_t time, int32_t cls, int64_t* seq, int32_t kind,
               int64_t job) noexcept nogil:
    if n[0] == cap[0] and _grow(<void**>heap, cap, n[0] + 1, sizeof(Event)):
        return ERR_MEMORY
    cdef Event* h = heap[0]
    cdef intp_t i = n[0], parent
    cdef Event ev
    ev.time = time
    ev.cls = cls
    ev.seq = seq[0]
    ev.kind = kind
    ev.job = job
    seq[0] += 1
    n[0] += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _ev_less(&ev, &h[parent]):
            h[i] = h[parent]
            i = parent
        else:
            break
    h[i] = ev
    return 0


cdef Event _pop(Event* h, intp_t* n) noexcept nogil:
    cdef Event top = h[0]
    cdef Event last
    cdef intp_t i = 0, c, m
    n[0] -= 1
    m = n[0]
    if m > 0:
        last = h[m]
        while True:
            c = 2 * i + 1
            if c >= m:
                break
            if c + 1 < m and _ev_less(&h[c + 1], &h[c]):
                c += 1
            if _ev_less(&h[c], &last):
                h[i] = h[c]
                i = c
            else:
                break
        h[i] = last
    return top


# ---------------------------------------------------------------------------
# A pool's queue: (priority, sequence), smallest first
# ---------------------------------------------------------------------------

cdef inline bint _q_less(QItem* a, QItem* b) noexcept nogil:
    if a.prio != b.prio:
        return a.prio < b.prio
    return a.seq < b.seq


cdef int _q_push(Pool* p, int64_t prio, int64_t chips, int64_t job) noexcept nogil:
    if p.qn == p.qcap and _grow(<void**>&p.q, &p.qcap, p.qn + 1, sizeof(QItem)):
        return ERR_MEMORY
    p.qseq += 1
    cdef QItem it
    it.prio = prio
    it.seq = p.qseq
    it.chips = chips
    it.job = job
    cdef intp_t i = p.qn, parent
    p.qn += 1
    while i > 0:
        parent = (i - 1) >> 1
        if _q_less(&it, &p.q[parent]):
            p.q[i] = p.q[parent]
            i = parent
        else:
            break
    p.q[i] = it
    return 0


cdef QItem _q_pop(Pool* p) noexcept nogil:
    cdef QItem top = p.q[0]
    cdef QItem last
    cdef intp_t i = 0, c, m
    p.qn -= 1
    m = p.qn
    if m > 0:
        last = p.q[m]
        while True:
            c = 2 * i + 1
            if c >= m:
                break
            if c + 1 < m and _q_less(&p.q[c + 1], &p.q[c]):
                c += 1
            if _q_less(&p.q[c], &last):
                p.q[i] = p.q[c]
                i = c
            else:
                break
        p.q[i] = last
    return top


# ---------------------------------------------------------------------------
# Chips: _PoolState._take / release / _idle_interval
# ---------------------------------------------------------------------------

cdef inline int _idle_interval(Pool* p, Log* g, float64_t since, float64_t until, float64_t chips) noexcept nogil:
    cdef float64_t x = since + p.timeout
    cdef float64_t on_until = x if x < until else until      # min(until, since + timeout)
    p.idle_cs += (on_until - since) * chips
    p.off_cs += (until - on_until) * chips
    if p.idle_w > 0:
        return _log_add(g, since, on_until, chips * p.idle_w, p.datacenter, -1 - p.index, 1, chips, -1)
    return 0


cdef int _take(Pool* p, Log* g, float64_t chips, float64_t now) noexcept nogil:
    cdef float64_t take
    cdef Batch* b
    p.free -= chips
    if not p.limited:
        return 0
    while chips:
        if p.bn == 0:
            return ERR_CHIPS
        b = &p.idle[p.bn - 1]
        take = chips if chips < b.chips else b.chips
        if _idle_interval(p, g, b.since, now, take):
            return ERR_MEMORY
        b.chips -= take
        chips -= take
        if b.chips == 0:
            p.bn -= 1
    return 0


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------

cdef int _loop(
    intp_t n_order, const int64_t* order, const float64_t* submit, const int64_t* chips, const int64_t* prio,
    const int32_t* pool_of, const float64_t* watts, const int32_t* workload, const int32_t* dc_of,
    const int64_t* seg_ptr, const float64_t* seg_start, const float64_t* seg_len,
    Pool* pools, float64_t t_start, Log* g,
    float64_t* start, float64_t* end, float64_t* queued, int64_t* nseg, int64_t* cur, float64_t* ready,
    float64_t* run_from,
) noexcept nogil:
    cdef Event* heap = NULL
    cdef intp_t hn = 0, hcap = 0
    cdef int64_t seq = 0
    cdef int err = 0
    cdef Event ev
    cdef float64_t now = t_start, delay, s, length
    cdef intp_t k = 0
    cdef int64_t i, j
    cdef Pool* p
    cdef QItem it
    err = _push(&heap, &hn, &hcap, t_start, 0, &seq, EV_ARRIVALS, -1)
    while err == 0 and hn > 0:
        ev = _pop(heap, &hn)
        now = ev.time
        i = ev.job
        if ev.kind == EV_ARRIVALS:
            if i >= 0:            # woken by its timeout: start the job it waited for
                err = _push(&heap, &hn, &hcap, now, 0, &seq, EV_INIT, order[k])
                k += 1
            while err == 0 and k < n_order:
                j = order[k]
                delay = submit[j] - now
                if delay > 0:
                    err = _push(&heap, &hn, &hcap, now + delay, 1, &seq, EV_ARRIVALS, j)
                    break
                err = _push(&heap, &hn, &hcap, now, 0, &seq, EV_INIT, j)
                k += 1
            continue
        if ev.kind == EV_INIT or ev.kind == EV_WAKE:
            if ev.kind == EV_INIT:
                s = seg_start[seg_ptr[i] + cur[i]]
                if s > now:
                    err = _push(&heap, &hn, &hcap, now + (s - now), 1, &seq, EV_WAKE, i)
                    continue
            # request chips
            p = &pools[pool_of[i]]
            ready[i] = now
            if p.qn == 0 and chips[i] <= p.free:
                err = _take(p, g, <float64_t>chips[i], now)
                if err == 0:
                    err = _push(&heap, &hn, &hcap, now, 1, &seq, EV_GRANT, i)
            else:
                err = _q_push(p, prio[i], chips[i], i)
            continue
        if ev.kind == EV_GRANT:
            queued[i] += now - ready[i]
            if nseg[i] == 0:
                start[i] = now
            nseg[i] += 1
            run_from[i] = now
            err = _push(&heap, &hn, &hcap, now + seg_len[seg_ptr[i] + cur[i]], 1, &seq, EV_END, i)
            continue
        # EV_END: release, grant from the head of the queue, log, then the next segment or the end
        p = &pools[pool_of[i]]
        length = seg_len[seg_ptr[i] + cur[i]]
        p.free += chips[i]
        if p.limited:
            if p.bn == p.bcap and _grow(<void**>&p.idle, &p.bcap, p.bn + 1, sizeof(Batch)):
                err = ERR_MEMORY
                break
            p.idle[p.bn].chips = <float64_t>chips[i]
            p.idle[p.bn].since = now
            p.bn += 1
        while err == 0 and p.qn > 0 and p.q[0].chips <= p.free:
            it = _q_pop(p)
            err = _take(p, g, <float64_t>it.chips, now)
            if err == 0:
                err = _push(&heap, &hn, &hcap, now, 1, &seq, EV_GRANT, it.job)
        if err:
            break
        p.busy += length * chips[i]
        err = _log_add(g, run_from[i], now, watts[i], dc_of[i], workload[i], 0, <float64_t>chips[i], i)
        if err:
            break
        cur[i] += 1
        if seg_ptr[i] + cur[i] < seg_ptr[i + 1]:
            s = seg_start[seg_ptr[i] + cur[i]]
            if s > now:
                err = _push(&heap, &hn, &hcap, now + (s - now), 1, &seq, EV_WAKE, i)
            else:
                ready[i] = now
                if p.qn == 0 and chips[i] <= p.free:
                    err = _take(p, g, <float64_t>chips[i], now)
                    if err == 0:
                        err = _push(&heap, &hn, &hcap, now, 1, &seq, EV_GRANT, i)
                else:
                    err = _q_push(p, prio[i], chips[i], i)
        else:
            end[i] = now
    free(heap)
    return err


cdef object _copy(void* src, intp_t n, object dtype, size_t size):
    out = np.empty(n, dtype=dtype)
    cdef int8_t[::1] raw = out.view(np.int8)
    if n:
        memcpy(&raw[0], src, n * size)
    return out


def run_fleet(
    const int64_t[::1] order,         # IN  jobs in arrival order (stable sort by submit)
    const float64_t[::1] submit,      # IN  (n,) submit times, s
    const int64_t[::1] chips,         # IN  (n,)
    const int64_t[::1] prio,          # IN  (n,)
    const int32_t[::1] pool_of,       # IN  (n,) the pool each job runs in
    const float64_t[::1] watts,       # IN  (n,) chips x power per chip
    const int32_t[::1] workload,      # IN  (n,)
    const int32_t[::1] dc_of,         # IN  (n,) datacenter of the pool
    const int64_t[::1] seg_ptr,       # IN  (n + 1,) segments of job i: seg_ptr[i] .. seg_ptr[i + 1]
    const float64_t[::1] seg_start,   # IN  planned segment starts
    const float64_t[::1] seg_len,     # IN  segment lengths (run time)
    const int8_t[::1] limited,        # IN  per pool: 1 if it has a chip count
    const float64_t[::1] capacity,    # IN  per pool: chips (inf when unlimited)
    const float64_t[::1] idle_w,      # IN  per pool: idle watts per chip
    const float64_t[::1] timeout,     # IN  per pool: power-down after (inf: never)
    const int32_t[::1] pool_dc,       # IN  per pool: its datacenter
    float64_t t_start,
    float64_t[::1] start,             # OUT (n,) first start (NaN: never ran)
    float64_t[::1] end,               # OUT (n,)
    float64_t[::1] queued,            # OUT (n,) zeros in: time spent waiting for chips
    int64_t[::1] nseg,                # OUT (n,) zeros in: segments run
):
    """Run the fleet's control plane.  Returns ``(error code, log columns, pool counters, idle
    batches left)``; error 0 means success (see the module comment for the rules)."""
    cdef intp_t n = submit.shape[0], n_order = order.shape[0], n_pools = capacity.shape[0]
    cdef intp_t i, k
    cdef int err = 0
    if chips.shape[0] != n or prio.shape[0] != n or pool_of.shape[0] != n or watts.shape[0] != n \
            or workload.shape[0] != n or dc_of.shape[0] != n or seg_ptr.shape[0] != n + 1 \
            or start.shape[0] != n or end.shape[0] != n or queued.shape[0] != n or nseg.shape[0] != n \
            or seg_len.shape[0] != seg_start.shape[0] or limited.shape[0] != n_pools \
            or idle_w.shape[0] != n_pools or timeout.shape[0] != n_pools or pool_dc.shape[0] != n_pools:
        raise ValueError("run_fleet: arrays of inconsistent lengths")
    # cheap invariants: every reference in range, every segment finite with a length >= 0
    for k in range(n_order):
        if not (0 <= order[k] < n):
            raise ValueError("run_fleet: order out of range")
    for i in range(n):
        if not (0 <= pool_of[i] < n_pools) or chips[i] < 1 or not (seg_ptr[i] < seg_ptr[i + 1]):
            return ERR_CHIPS, None, None, None
    if seg_ptr[0] != 0 or seg_ptr[n] != seg_start.shape[0]:
        raise ValueError("run_fleet: seg_ptr must run from 0 to the number of segments")
    for k in range(seg_start.shape[0]):
        if not (seg_len[k] >= 0 and seg_len[k] < INFINITY and seg_start[k] > -INFINITY and seg_start[k] < INFINITY):
            return ERR_SEGMENT, None, None, None
    cdef Pool* pools = <Pool*>malloc((n_pools if n_pools else 1) * sizeof(Pool))
    cdef int64_t* cur = <int64_t*>malloc((n if n else 1) * sizeof(int64_t))
    cdef float64_t* ready = <float64_t*>malloc((n if n else 1) * sizeof(float64_t))
    cdef float64_t* run_from = <float64_t*>malloc((n if n else 1) * sizeof(float64_t))
    cdef Log g
    g.start = NULL
    g.end = NULL
    g.power = NULL
    g.datacenter = NULL
    g.workload = NULL
    g.kind = NULL
    g.chips = NULL
    g.job = NULL
    g.n = 0
    g.cap = 0
    if pools == NULL or cur == NULL or ready == NULL or run_from == NULL or _log_reserve(&g, n + 16):
        err = ERR_MEMORY
    for k in range(n_pools if err == 0 else 0):
        pools[k].limited = limited[k]
        pools[k].free = capacity[k]
        pools[k].idle_w = idle_w[k]
        pools[k].timeout = timeout[k]
        pools[k].datacenter = pool_dc[k]
        pools[k].index = <int32_t>k
        pools[k].q = NULL
        pools[k].qn = 0
        pools[k].qcap = 0
        pools[k].qseq = 0
        pools[k].idle = NULL
        pools[k].bn = 0
        pools[k].bcap = 0
        pools[k].busy = 0.0
        pools[k].idle_cs = 0.0
        pools[k].off_cs = 0.0
        if limited[k]:
            if _grow(<void**>&pools[k].idle, &pools[k].bcap, 1, sizeof(Batch)):
                err = ERR_MEMORY
            else:
                pools[k].idle[0].chips = capacity[k]
                pools[k].idle[0].since = t_start
                pools[k].bn = 1
    if err == 0:
        for i in range(n):
            cur[i] = 0
            start[i] = float("nan")
            end[i] = float("nan")
        with nogil:
            err = _loop(n_order, &order[0] if n_order else NULL, &submit[0] if n else NULL,
                        &chips[0] if n else NULL, &prio[0] if n else NULL, &pool_of[0] if n else NULL,
                        &watts[0] if n else NULL, &workload[0] if n else NULL, &dc_of[0] if n else NULL,
                        &seg_ptr[0], &seg_start[0] if seg_start.shape[0] else NULL,
                        &seg_len[0] if seg_len.shape[0] else NULL, pools, t_start, &g,
                        &start[0] if n else NULL, &end[0] if n else NULL, &queued[0] if n else NULL,
                        &nseg[0] if n else NULL, cur, ready, run_from)
    log = counters = batches = None
    if err == 0:
        log = {"start_s": _copy(g.start, g.n, np.float64, 8), "end_s": _copy(g.end, g.n, np.float64, 8),
               "power_w": _copy(g.power, g.n, np.float64, 8), "datacenter": _copy(g.datacenter, g.n, np.int32, 4),
               "workload": _copy(g.workload, g.n, np.int32, 4), "kind": _copy(g.kind, g.n, np.int8, 1),
               "chips": _copy(g.chips, g.n, np.float64, 8), "job": _copy(g.job, g.n, np.int64, 8)}
        counters = np.array([[pools[k].busy, pools[k].idle_cs, pools[k].off_cs] for k in range(n_pools)],
                            dtype=np.float64).reshape(n_pools, 3)
        batches = [[(pools[k].idle[b].chips, pools[k].idle[b].since) for b in range(pools[k].bn)]
                   for k in range(n_pools)]
    for k in range(n_pools if pools != NULL else 0):
        free(pools[k].q)
        free(pools[k].idle)
    free(pools)
    free(cur)
    free(ready)
    free(run_from)
    free(g.start)
    free(g.end)
    free(g.power)
    free(g.datacenter)
    free(g.workload)
    free(g.kind)
    free(g.chips)
    free(g.job)
    return err, log, counters, batches


def release_times(const int64_t[::1] order, const float64_t[::1] submit, float64_t t_start,
                  float64_t[::1] out):
    """The engine's clock when each job is released: the arrivals process waits
    ``submit - now`` whenever that is positive, so ``now`` is ``now + (submit - now)``."""
    cdef intp_t k
    cdef int64_t i
    cdef float64_t now = t_start, delay
    with nogil:
        for k in range(order.shape[0]):
            i = order[k]
            delay = submit[i] - now
            if delay > 0:
                now = now + delay
            out[i] = now


# ---------------------------------------------------------------------------
# Planners over a fixed table (carbonsim.sim.planners, Forecast.view offset 0)
# ---------------------------------------------------------------------------

cdef inline float64_t _floordiv(float64_t a, float64_t b) noexcept nogil:
    """a // b for floats as Python and numpy compute it (fmod-based, then rounded)."""
    cdef float64_t mod = fmod(a, b)
    cdef float64_t div = (a - mod) / b
    cdef float64_t fl
    if mod:
        if (b < 0) != (mod < 0):
            div -= 1.0
    if div:
        fl = floor(div)
        if div - fl > 0.5:
            fl += 1.0
    else:
        fl = copysign(0.0, a / b)
    return fl


cdef inline float64_t _cum(const float64_t* v, const float64_t* p, intp_t n, float64_t t) noexcept nogil:
    """planners._cumulative1: the integral of the held step function from 0 to t."""
    cdef intp_t h = <intp_t>_floordiv(t, HOUR)
    if h < 0:
        h = 0
    if h > n - 1:
        h = n - 1
    return p[h] * HOUR + v[h] * (t - h * HOUR)


cdef inline float64_t _vmin(float64_t a, float64_t b) noexcept nogil:
    return b if b < a else a      # Python's min(a, b)


cdef inline float64_t _vmax(float64_t a, float64_t b) noexcept nogil:
    return b if b > a else a      # Python's max(a, b)


cdef void _window_general(const float64_t* v, const float64_t* p, intp_t n, float64_t release, float64_t latest,
                          float64_t length, float64_t* out_start, float64_t* out_cost) noexcept nogil:
    cdef int64_t b0 = <int64_t>ceil(release / HOUR), b1 = <int64_t>floor(latest / HOUR)
    cdef int64_t e0 = <int64_t>ceil((release + length) / HOUR), e1 = <int64_t>floor((latest + length) / HOUR)
    cdef float64_t best = INFINITY, s, c, thr, bs = INFINITY, bc = 0.0
    cdef int64_t k
    cdef int pass_
    # two passes over the same candidates (numpy's order): the least cost, then the earliest tied start
    for pass_ in range(2):
        if pass_ == 1:
            thr = best + REL * fabs(best) + 1e-12
        for k in range(-1, (b1 - b0 + 1 if b1 >= b0 else 0) + (e1 - e0 + 1 if e1 >= e0 else 0) + 1):
            if k == -1:
                s = release
            elif k < (b1 - b0 + 1 if b1 >= b0 else 0):
                s = (<float64_t>(b0 + k)) * HOUR
            elif k < (b1 - b0 + 1 if b1 >= b0 else 0) + (e1 - e0 + 1 if e1 >= e0 else 0):
                s = (<float64_t>(e0 + k - (b1 - b0 + 1 if b1 >= b0 else 0))) * HOUR - length
            else:
                s = latest
            s = s if s > release else release        # np.maximum(starts, release)
            s = s if s < latest else latest          # np.minimum(..., latest)
            c = _cum(v, p, n, s + length) - _cum(v, p, n, s)
            if pass_ == 0:
                if c < best:
                    best = c
            elif c <= thr and s < bs:
                bs = s
                bc = c
    out_start[0] = bs
    out_cost[0] = bc


cdef void _window(const float64_t* v, const float64_t* p, intp_t n, float64_t release, float64_t latest,
                  float64_t length, float64_t* out_start, float64_t* out_cost) noexcept nogil:
    """planners.window, operation for operation."""
    cdef int64_t m, b0, b1, e0, e1, k, ib = -1, ie = -1
    cdef float64_t phi, c_first, c_last, mb = INFINITY, me = INFINITY, best, thr, start, c, x
    if latest <= release:
        out_start[0] = release
        out_cost[0] = _cum(v, p, n, release + length) - _cum(v, p, n, release)
        return
    m = <int64_t>_floordiv(length, HOUR)
    phi = length - m * HOUR
    b0 = <int64_t>ceil(release / HOUR)
    b1 = <int64_t>floor(latest / HOUR)
    e0 = <int64_t>ceil((release + length) / HOUR)
    e1 = <int64_t>floor((latest + length) / HOUR)
    if b0 < 0 or b1 + m > n - 1 or e0 - m - 1 < 0 or e1 > n:
        _window_general(v, p, n, release, latest, length, out_start, out_cost)
        return
    for k in range(b0, b1 + 1):
        x = (p[k + m] - p[k]) * HOUR + v[k + m] * phi
        if x < mb:
            mb = x
    for k in range(e0, e1 + 1):
        x = (p[k] - p[k - m]) * HOUR + v[k - m - 1] * phi
        if x < me:
            me = x
    c_first = _cum(v, p, n, release + length) - _cum(v, p, n, release)
    c_last = _cum(v, p, n, latest + length) - _cum(v, p, n, latest)
    best = _vmin(_vmin(_vmin(c_first, c_last), mb), me)
    thr = best + REL * fabs(best) + 1e-12
    if c_first <= thr:
        out_start[0] = release
        out_cost[0] = c_first
        return
    start = INFINITY
    c = best
    if mb <= thr:
        for k in range(b0, b1 + 1):
            x = (p[k + m] - p[k]) * HOUR + v[k + m] * phi
            if x <= thr:
                start = (<float64_t>k) * HOUR
                c = x
                break
    if me <= thr:
        for k in range(e0, e1 + 1):
            x = (p[k] - p[k - m]) * HOUR + v[k - m - 1] * phi
            if x <= thr:
                if (<float64_t>k) * HOUR - length < start:
                    start = (<float64_t>k) * HOUR - length
                    c = x
                break
    if c_last <= thr and latest < start:
        start = latest
        c = c_last
    out_start[0] = _vmin(_vmax(start, release), latest)
    out_cost[0] = c


cdef void _lowest_slot(const float64_t* v, intp_t n, float64_t release, float64_t latest,
                       float64_t* out_start, float64_t* out_value) noexcept nogil:
    """planners.lowest_slot."""
    cdef int64_t h0 = <int64_t>floor(release / HOUR)
    cdef int64_t h1 = <int64_t>floor((latest + TOL) / HOUR)
    cdef int64_t h, idx, best_h = h0
    cdef float64_t best = INFINITY, x
    if h1 < h0:
        h1 = h0
    for h in range(h0, h1 + 1):
        idx = h if h < n - 1 else n - 1
        idx = idx if idx > 0 else 0
        x = v[idx]
        if x < best:
            best = x
            best_h = h
    out_start[0] = _vmin(_vmax((<float64_t>best_h) * HOUR, release), _vmax(latest, release))
    out_value[0] = best


cdef void _carbon_time(const float64_t* v, const float64_t* p, intp_t n, float64_t release, float64_t latest,
                       float64_t length, float64_t reference, float64_t* out_start, float64_t* out_score) noexcept nogil:
    """planners.carbon_time with a reference cost (run now at home)."""
    cdef float64_t span = latest - release
    cdef int64_t kmax = <int64_t>floor(((span if span > 0.0 else 0.0) + TOL) / HOUR)
    cdef int64_t k, ib = 0
    cdef float64_t s, cost, saved, most = -INFINITY, score, best = -INFINITY, ref = reference
    for k in range(kmax + 1):
        s = release + (<float64_t>k) * HOUR
        cost = _cum(v, p, n, s + length) - _cum(v, p, n, s)
        saved = ref - cost
        if saved > most:
            most = saved
    if most <= REL * fabs(ref) + 1e-12:
        out_start[0] = release
        out_score[0] = 0.0
        return
    for k in range(kmax + 1):
        s = release + (<float64_t>k) * HOUR
        cost = _cum(v, p, n, s + length) - _cum(v, p, n, s)
        score = (ref - cost) / ((<float64_t>k) * HOUR + length)
        if score > best:
            best = score
    for k in range(kmax + 1):
        s = release + (<float64_t>k) * HOUR
        cost = _cum(v, p, n, s + length) - _cum(v, p, n, s)
        score = (ref - cost) / ((<float64_t>k) * HOUR + length)
        if score >= best - REL * fabs(best):
            out_start[0] = s
            out_score[0] = score
            return
    out_start[0] = release
    out_score[0] = 0.0


cdef inline bint _earlier(float64_t cost, float64_t start, bint have, float64_t best_cost,
                          float64_t best_start) noexcept nogil:
    """fleet._earlier: lower cost, or the same cost and an earlier start."""
    if not have:
        return True
    cdef float64_t tol = 1e-9 * fabs(best_cost) + 1e-12
    return cost < best_cost - tol or (cost <= best_cost + tol and start < best_start - TOL)


def plan_shifted(
    int kind,                          # 1 window, 2 lowest-slot, 3 carbon-time
    const int64_t[::1] jobs,           # IN  the jobs to plan
    const float64_t[::1] release,      # IN  (n,) release times
    const float64_t[::1] length,       # IN  (n,) the length each job is planned with
    const int64_t[::1] home,           # IN  (n,)
    const int64_t[::1] cand_ptr,       # IN  (n + 1,) candidate datacenters of job i
    const int64_t[::1] cand,           # IN
    float64_t slack,
    const float64_t[:, ::1] values,    # IN  (n_dc, n_hours) forecast
    const float64_t[:, ::1] prefix,    # IN  (n_dc, n_hours + 1)
    int64_t[::1] out_dc,               # OUT (n,)
    float64_t[::1] out_start,          # OUT (n,) the planned start (>= release)
):
    """fleet.plan for the uninterrupted shifts on a fixed table: datacenter and start per job."""
    cdef intp_t n_dc = values.shape[0], n_h = values.shape[1]
    cdef intp_t a, q
    cdef int64_t i, d, best_d
    cdef float64_t now, work, s, c, ref, best_c, best_s
    cdef bint have
    if prefix.shape[0] != n_dc or prefix.shape[1] != n_h + 1 or n_h < 1:
        raise ValueError("plan_shifted: prefix must be (n_dc, n_hours + 1) and the table not empty")
    for a in range(jobs.shape[0]):
        i = jobs[a]
        for q in range(cand_ptr[i], cand_ptr[i + 1]):
            if not (0 <= cand[q] < n_dc):
                raise ValueError("plan_shifted: candidate datacenter out of range")
        if not (0 <= home[i] < n_dc) or cand_ptr[i] >= cand_ptr[i + 1]:
            raise ValueError("plan_shifted: home datacenter out of range or no candidates")
    with nogil:
        for a in range(jobs.shape[0]):
            i = jobs[a]
            now = release[i]
            work = length[i]
            have = False
            best_c = 0.0
            best_s = 0.0
            best_d = home[i]
            ref = 0.0
            if kind == 3:
                ref = _cum(&values[home[i], 0], &prefix[home[i], 0], n_h, now + work) \
                    - _cum(&values[home[i], 0], &prefix[home[i], 0], n_h, now)
            for q in range(cand_ptr[i], cand_ptr[i + 1]):
                d = cand[q]
                if kind == 1:
                    _window(&values[d, 0], &prefix[d, 0], n_h, now, now + slack, work, &s, &c)
                elif kind == 2:
                    _lowest_slot(&values[d, 0], n_h, now, now + slack, &s, &c)
                else:
                    _carbon_time(&values[d, 0], &prefix[d, 0], n_h, now, now + slack, work, ref, &s, &c)
                    if not (c > 0):
                        continue
                    c = -c
                if _earlier(c, s, have, best_c, best_s):
                    have = True
                    best_c = c
                    best_s = s
                    best_d = d
            if not have:          # carbon-time without a saving: now, at home
                out_dc[i] = home[i]
                out_start[i] = now
            else:
                out_dc[i] = best_d
                out_start[i] = _vmax(best_s, now)
