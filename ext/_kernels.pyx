# Compiled hot loops of carbonsim (private module ``carbonsim.sim._kernels``).
#
# Design (after scikit-learn's ``_loss.pyx``): the public Python layer
# validates and converts every input, allocates every output and fixes dtype
# and memory order; the ``def`` wrappers here only take typed, C-contiguous
# memoryviews; the loops run without the GIL and without bounds checks.  They
# still re-check one cheap invariant per interval (that it lies inside the
# intensity table) so that a bad input can never turn into an out-of-bounds
# read: such intervals get NaN outputs and are counted in the return value,
# and the Python wrapper turns that count into an exception.
#
# Units inside: seconds, watts, joules, gCO2e/kWh.  Time 0 is the start of the
# first hour of the intensity table.
#
# Exactness.  The integral of a power interval [s, e) against an hourly step
# function v is computed in the *split* form
#
#     v[hs] * (head) + 3600 * (P[he] - P[hs + 1]) + v[he] * (tail)
#
# (P the prefix sum of v, hs/he the hours holding s/e).  The naive form
# F(e) - F(s) of the cumulative integral F subtracts two numbers of size
# ~ 3600 * sum(v) (~3e10 late in a year) to get a result as small as a few
# joule-hours, losing ~1e-4 relative accuracy on short intervals; the split
# form only ever subtracts prefix sums over whole hours, whose rounding is
# relative to the hours actually covered.
#
# Speed (see bench/README.md).  The loop is branch-free apart from the
# (predictable) table check and the empty-interval test: an interval inside
# one hour and one spanning several hours go through the same expression,
#
#     c    = min(e, 3600 * (hs + 1))           # end of the head piece
#     head = c - s                             # = e - s inside one hour
#     tail = e - max(3600 * he, c)             # = 0 inside one hour
#     hp   = max(he, hs + 1)                   # P[hp] - P[hs + 1] = 0 inside one hour
#     w    = (v[hs] * head + 3600 * (P[hp] - P[hs + 1])) + v[min(he, n_hours - 1)] * tail
#
# which reduces exactly (x + 0.0 and x * 0.0 are exact for a finite table) to
# v[hs] * (e - s) inside one hour and to the split form above otherwise, with
# the same operations in the same order: the results are those of the branchy
# form bit for bit (up to the sign of a zero result if the table holds -0.0),
# only the unpredictable hs == he branch is gone (min/max compile to
# minsd/maxsd; energy_j is stored last because computing e - s first led gcc
# to turn the min back into a branch).  Every index stays inside the table:
# for e > s >= 0 and e <= t_max, hs <= n_hours - 1 and hs + 1, hp <= n_hours.
# Hours are found by division, not by multiplying with 1/3600: the correctly
# rounded quotient s / 3600 never rounds up across an integer for
# s < 3600 * m, so the truncation is exactly floor(s / 3600).
from cython.parallel cimport prange

from _typedefs cimport float64_t, int32_t, intp_t

cdef float64_t SECONDS_PER_HOUR = 3600.0
cdef float64_t NAN = float("nan")
# Intervals per block: the unit that prange hands out.  Blocks go to threads
# dynamically, so that on a shared machine a thread that loses its core for a
# while does not hold up the whole call (a static split waits for the slowest
# half); the results do not depend on the schedule.
cdef intp_t BLOCK = 16384


cdef inline intp_t _integrate_block(
    intp_t i0,
    intp_t i1,
    const float64_t* start_s,
    const float64_t* end_s,
    const float64_t* power_w,
    const int32_t* datacenter,
    const float64_t* values,   # (n_dc, n_hours, n_sig), C order
    const float64_t* prefix,   # (n_dc, n_hours + 1, n_sig), C order
    intp_t n_dc,
    intp_t n_hours,
    intp_t n_sig,
    float64_t* energy_j,       # OUT (n,)
    float64_t* weighted,       # OUT (n, n_sig), C order
) noexcept nogil:
    """Intervals i0 <= i < i1; returns how many lie outside the table (their
    outputs are NaN).  Called with the literal n_sig = 2 for the common case
    (gross and net), so that the compiler specialises it."""
    cdef float64_t t_max = n_hours * SECONDS_PER_HOUR
    cdef intp_t i, k, d, hs, he, hp, hv, n_bad = 0
    cdef float64_t s, e, p, x, c, head, tail
    cdef const float64_t* vs
    cdef const float64_t* ve
    cdef const float64_t* ps
    cdef const float64_t* pe
    cdef float64_t* out
    for i in range(i0, i1):
        s = start_s[i]
        e = end_s[i]
        d = datacenter[i]
        p = power_w[i]
        out = weighted + i * n_sig
        # Non-short-circuit &: one well-predicted branch; NaN fails every comparison.
        if not ((s >= 0.0) & (e >= s) & (e <= t_max) & (d >= 0) & (d < n_dc)):
            n_bad += 1
            energy_j[i] = NAN
            for k in range(n_sig):
                out[k] = NAN
            continue
        if e == s:   # also covers s == e == t_max, where hs would be n_hours
            energy_j[i] = 0.0 * p
            for k in range(n_sig):
                out[k] = 0.0 * p
            continue
        hs = <intp_t>(s / SECONDS_PER_HOUR)
        he = <intp_t>(e / SECONDS_PER_HOUR)
        x = (hs + 1) * SECONDS_PER_HOUR
        c = e if e < x else x
        head = c - s
        x = he * SECONDS_PER_HOUR
        x = c if c > x else x
        tail = e - x
        hp = he if he > hs + 1 else hs + 1
        hv = he if he < n_hours - 1 else n_hours - 1
        vs = values + (d * n_hours + hs) * n_sig
        ve = values + (d * n_hours + hv) * n_sig
        ps = prefix + (d * (n_hours + 1) + hs + 1) * n_sig
        pe = prefix + (d * (n_hours + 1) + hp) * n_sig
        for k in range(n_sig):
            out[k] = ((vs[k] * head + (pe[k] - ps[k]) * SECONDS_PER_HOUR) + ve[k] * tail) * p
        energy_j[i] = p * (e - s)
    return n_bad


def integrate_intervals(
    const float64_t[::1] start_s,        # IN  (n,)  seconds since table start
    const float64_t[::1] end_s,          # IN  (n,)
    const float64_t[::1] power_w,        # IN  (n,)  watts drawn during the interval
    const int32_t[::1] datacenter,       # IN  (n,)  row of the table
    const float64_t[:, :, ::1] values,   # IN  (n_dc, n_hours, K)  hourly signals
    const float64_t[:, :, ::1] prefix,   # IN  (n_dc, n_hours + 1, K)  prefix sums of values
    float64_t[::1] energy_j,             # OUT (n,)  joules
    float64_t[:, ::1] weighted,          # OUT (n, K)  joules * signal unit (J * g/kWh)
    int num_threads=1,
):
    """Integrate n power intervals against K hourly signals per datacenter.

    Returns the number of intervals outside the table (their outputs are NaN).
    """
    cdef intp_t n = start_s.shape[0]
    cdef intp_t n_dc = values.shape[0]
    cdef intp_t n_hours = values.shape[1]
    cdef intp_t n_sig = values.shape[2]
    cdef intp_t n_blocks = (n + BLOCK - 1) // BLOCK
    cdef intp_t b, i0, i1
    cdef intp_t n_bad = 0
    if prefix.shape[0] != n_dc or prefix.shape[1] != n_hours + 1 or prefix.shape[2] != n_sig:
        raise ValueError("prefix must have shape (n_dc, n_hours + 1, K) of values")
    if end_s.shape[0] != n or power_w.shape[0] != n or datacenter.shape[0] != n \
            or energy_j.shape[0] != n or weighted.shape[0] != n or weighted.shape[1] != n_sig:
        raise ValueError("interval arrays and outputs must have one length n and weighted shape (n, K)")
    if n == 0:
        return 0
    if num_threads < 1:
        num_threads = 1
    with nogil:
        for b in prange(n_blocks, num_threads=num_threads, schedule="dynamic"):
            i0 = b * BLOCK
            i1 = i0 + BLOCK if i0 + BLOCK < n else n
            if n_sig == 2:
                n_bad += _integrate_block(i0, i1, &start_s[0], &end_s[0], &power_w[0], &datacenter[0],
                                          &values[0, 0, 0], &prefix[0, 0, 0], n_dc, n_hours, 2,
                                          &energy_j[0], &weighted[0, 0])
            else:
                n_bad += _integrate_block(i0, i1, &start_s[0], &end_s[0], &power_w[0], &datacenter[0],
                                          &values[0, 0, 0], &prefix[0, 0, 0], n_dc, n_hours, n_sig,
                                          &energy_j[0], &weighted[0, 0])
    return n_bad


def stream_intervals(
    const float64_t[::1] start_s,        # IN
    const float64_t[::1] end_s,          # IN
    const float64_t[::1] power_w,        # IN
    const int32_t[::1] datacenter,       # IN
    float64_t[::1] energy_j,             # OUT
    float64_t[:, ::1] weighted,          # OUT
    int num_threads=1,
):
    """Read and write exactly the bytes ``integrate_intervals`` streams, with no
    table look-ups: the machine's memory ceiling for the benchmark."""
    cdef intp_t n = start_s.shape[0]
    cdef intp_t n_sig = weighted.shape[1]
    cdef intp_t i, k
    cdef float64_t p
    if num_threads < 1:
        num_threads = 1
    with nogil:
        # scheduled like integrate_intervals (blocks of BLOCK, dynamic)
        for i in prange(n, num_threads=num_threads, schedule="dynamic", chunksize=BLOCK):
            p = power_w[i] + datacenter[i]
            energy_j[i] = p * (end_s[i] - start_s[i])
            for k in range(n_sig):
                weighted[i, k] = p * start_s[i]
    return 0
