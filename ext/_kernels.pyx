# Compiled hot loops of carbonsim (private module ``carbonsim._kernels``).
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
from cython.parallel cimport prange

from _typedefs cimport float64_t, int32_t, intp_t

cdef float64_t SECONDS_PER_HOUR = 3600.0
cdef float64_t NAN = float("nan")


cdef inline bint _integrate_one(
    float64_t s,
    float64_t e,
    int32_t d,
    const float64_t[:, :, ::1] values,
    const float64_t[:, :, ::1] prefix,
    float64_t t_max,
    intp_t n_dc,
    float64_t* out,            # OUT: K weighted integrals, in W-less units (s * g/kWh)
) noexcept nogil:
    """Integrate the unit-power interval [s, e) of datacenter d against each
    of the K hourly signals.  Returns False (and writes nothing) if the
    interval is not inside the table."""
    cdef intp_t n_sig = values.shape[2]
    cdef intp_t hs, he, k
    cdef float64_t head, tail, acc
    # Written so that NaN fails every comparison and lands in the error branch.
    if not (s >= 0.0 and e >= s and e <= t_max and d >= 0 and d < n_dc):
        return False
    if e == s:
        for k in range(n_sig):
            out[k] = 0.0
        return True
    hs = <intp_t>(s / SECONDS_PER_HOUR)
    he = <intp_t>(e / SECONDS_PER_HOUR)
    if hs == he:
        for k in range(n_sig):
            out[k] = values[d, hs, k] * (e - s)
        return True
    head = (hs + 1) * SECONDS_PER_HOUR - s
    tail = e - he * SECONDS_PER_HOUR
    for k in range(n_sig):
        acc = values[d, hs, k] * head + (prefix[d, he, k] - prefix[d, hs + 1, k]) * SECONDS_PER_HOUR
        if tail > 0.0:   # tail > 0 implies he < n_hours, since e <= t_max
            acc = acc + values[d, he, k] * tail
        out[k] = acc
    return True


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
    cdef intp_t n_sig = values.shape[2]
    cdef float64_t t_max = values.shape[1] * SECONDS_PER_HOUR
    cdef intp_t i, k
    cdef intp_t n_bad = 0
    cdef float64_t p
    if num_threads < 1:
        num_threads = 1
    with nogil:
        for i in prange(n, num_threads=num_threads, schedule="static"):
            p = power_w[i]
            if _integrate_one(start_s[i], end_s[i], datacenter[i], values, prefix,
                              t_max, n_dc, &weighted[i, 0]):
                energy_j[i] = p * (end_s[i] - start_s[i])
                for k in range(n_sig):
                    weighted[i, k] = weighted[i, k] * p
            else:
                n_bad += 1
                energy_j[i] = NAN
                for k in range(n_sig):
                    weighted[i, k] = NAN
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
        for i in prange(n, num_threads=num_threads, schedule="static"):
            p = power_w[i] + datacenter[i]
            energy_j[i] = p * (end_s[i] - start_s[i])
            for k in range(n_sig):
                weighted[i, k] = p * start_s[i]
    return 0
