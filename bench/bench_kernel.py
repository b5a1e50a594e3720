"""Speed of the integration kernel beside its baselines, in one run.

- ``kernel``: ``carbonsim.sim._kernels.integrate_intervals`` on 1 and 2 threads;
- ``stream``: ``carbonsim.sim._kernels.stream_intervals``, a loop that reads and
  writes the same bytes with no table look-up and no arithmetic to speak of:
  the memory ceiling of this machine for this access pattern;
- ``numpy``: :func:`integrate_numpy` below, the split form fully vectorized;
- ``python``: ``carbonsim.sim.accounting_reference`` on a sample, per event.

Run with ``python -m pytest bench -m benchmark``; the summary with events/s,
ratios and the goals is printed at the end (``bench/conftest.py``).
"""
from __future__ import annotations

import numpy as np
import pytest

from carbonsim.sim import _kernels
from carbonsim.sim import accounting_reference as reference
from _workload import PYTHON_SAMPLE, SIZES

SECONDS_PER_HOUR = 3600.0


def integrate_numpy(start_s, end_s, power_w, datacenter, values, prefix, energy_j, weighted, chunk=1 << 14):
    """The kernel's computation in vectorized NumPy, bit for bit the same result.

    Same split form and the same branch-free reformulation as the kernel
    (``ext/_kernels.pyx``): ``c = min(e, 3600 (hs + 1))``, ``head = c - s``,
    ``tail = e - max(3600 he, c)``, ``hp = max(he, hs + 1)``, then one
    expression with four row gathers (``take`` on the flattened tables, the
    fastest NumPy gather).  Intervals are processed in chunks of ``chunk`` so
    that every temporary stays in cache, and all temporaries are preallocated
    (``out=``): 2**14 was the fastest chunk here (2**12 .. 2**16 within ~25 %,
    one unchunked pass ~40 % slower).  Intervals outside the table get NaN and
    are counted, as in the kernel.
    """
    n_dc, n_hours, n_sig = values.shape
    t_max = n_hours * SECONDS_PER_HOUR
    vflat = values.reshape(n_dc * n_hours, n_sig)
    pflat = prefix.reshape(n_dc * (n_hours + 1), n_sig)
    n = start_s.shape[0]
    m = min(chunk, n)
    f1, f2, head, tail = (np.empty(m) for _ in range(4))
    hs, he, i1, i2, rv, rp = (np.empty(m, np.intp) for _ in range(6))
    acc, tmp = np.empty((m, n_sig)), np.empty((m, n_sig))
    ok_buf, t_buf = np.empty(m, bool), np.empty(m, bool)
    n_bad = 0
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        k = b - a
        s, e, p, d = start_s[a:b], end_s[a:b], power_w[a:b], datacenter[a:b]
        ok, t = ok_buf[:k], t_buf[:k]
        np.greater_equal(s, 0.0, out=ok)
        np.greater_equal(e, s, out=t)
        ok &= t
        np.less_equal(e, t_max, out=t)
        ok &= t
        np.greater_equal(d, 0, out=t)
        ok &= t
        np.less(d, n_dc, out=t)
        ok &= t
        all_ok = bool(ok.all())
        if not all_ok:  # send bad intervals to a harmless spot, NaN them below
            s, e, d = np.where(ok, s, 0.0), np.where(ok, e, 0.0), np.where(ok, d, 0)
        x1, x2, hd, tl = f1[:k], f2[:k], head[:k], tail[:k]
        HS, HE, I1, I2, RV, RP = hs[:k], he[:k], i1[:k], i2[:k], rv[:k], rp[:k]
        W, G = acc[:k], tmp[:k]
        np.divide(s, SECONDS_PER_HOUR, out=x1)
        HS[...] = x1                      # truncation = floor for s >= 0
        np.divide(e, SECONDS_PER_HOUR, out=x1)
        HE[...] = x1
        np.add(HS, 1, out=I1)             # hs + 1
        np.multiply(I1, SECONDS_PER_HOUR, out=x1)
        np.minimum(e, x1, out=x1)         # c
        np.subtract(x1, s, out=hd)        # head
        np.multiply(HE, SECONDS_PER_HOUR, out=x2)
        np.maximum(x2, x1, out=x2)
        np.subtract(e, x2, out=tl)        # tail
        np.multiply(d, n_hours, out=RV)   # first row of datacenter d in values
        np.add(RV, d, out=RP)             # ... and in prefix (n_hours + 1 rows)
        np.add(RV, HS, out=I2)
        vflat.take(I2, axis=0, out=W)     # v[hs]
        W *= hd[:, None]
        np.maximum(HE, I1, out=I2)        # hp
        I2 += RP
        pflat.take(I2, axis=0, out=G)     # P[hp]
        I1 += RP
        G -= pflat.take(I1, axis=0)       # - P[hs + 1]
        G *= SECONDS_PER_HOUR
        W += G
        np.minimum(HE, n_hours - 1, out=I2)
        I2 += RV
        vflat.take(I2, axis=0, out=G)     # v[min(he, n_hours - 1)]
        G *= tl[:, None]
        W += G
        np.multiply(W, p[:, None], out=weighted[a:b])
        np.subtract(e, s, out=x1)
        np.multiply(p, x1, out=energy_j[a:b])
        if not all_ok:
            bad = ~ok
            n_bad += int(bad.sum())
            energy_j[a:b][bad] = np.nan
            weighted[a:b][bad] = np.nan
    return n_bad


def _kernel(data, table, threads):
    return _kernels.integrate_intervals(data.start, data.end, data.power, data.datacenter, table.values,
                                        table.prefix, data.energy, data.weighted, threads)


def _stream(data, threads):
    return _kernels.stream_intervals(data.start, data.end, data.power, data.datacenter, data.energy,
                                     data.weighted, threads)


def _numpy(data, table):
    return integrate_numpy(data.start, data.end, data.power, data.datacenter, table.values, table.prefix,
                           data.energy, data.weighted)


def _exp(n):
    return f"1e{int(round(np.log10(n)))}"


@pytest.mark.benchmark
def test_baselines_compute_what_the_kernel_computes(table, data_by_size):
    """Not timed: the baselines must do the same work, or their speed says nothing."""
    data = data_by_size(SIZES[0])
    assert _kernel(data, table, 1) == 0
    e1, w1 = data.energy.copy(), data.weighted.copy()
    assert _kernel(data, table, 2) == 0
    assert np.array_equal(data.energy, e1) and np.array_equal(data.weighted, w1)
    assert _numpy(data, table) == 0
    assert np.array_equal(data.energy, e1) and np.array_equal(data.weighted, w1)  # bit for bit
    k = PYTHON_SAMPLE
    ref_e, ref_w = reference.integrate_intervals(data.start[:k], data.end[:k], data.power[:k], data.datacenter[:k],
                                                 table.values.tolist())
    np.testing.assert_allclose(e1[:k], ref_e, rtol=1e-12)
    np.testing.assert_allclose(w1[:k], ref_w, rtol=1e-9)
    # the workload really mixes both kinds of interval
    hours = (data.end - data.start) / SECONDS_PER_HOUR
    assert 0.6 < np.mean(hours < 1) < 0.8 and hours.max() > 100


CASES = []
for _n in SIZES:
    for _threads in (1, 2):
        # kernel and its ceiling side by side, so that both see the same machine
        CASES.append(pytest.param("kernel", _n, _threads, id=f"kernel-{_exp(_n)}-{_threads}t"))
        CASES.append(pytest.param("stream", _n, _threads, id=f"stream-{_exp(_n)}-{_threads}t"))
    CASES.append(pytest.param("numpy", _n, 1, id=f"numpy-{_exp(_n)}"))

#: rounds per case: enough that the minimum is likely a quiet run on a shared
#: machine; about 1-5 s per case, under a minute in all
ROUNDS = {("kernel", 10**6): 60, ("stream", 10**6): 100, ("numpy", 10**6): 15,
          ("kernel", 10**7): 20, ("stream", 10**7): 30, ("numpy", 10**7): 5}


@pytest.mark.benchmark
@pytest.mark.parametrize("what,n,threads", CASES)
def test_rate(benchmark, record, table, data_by_size, what, n, threads):
    data = data_by_size(n)
    if what == "kernel":
        fn = lambda: _kernel(data, table, threads)  # noqa: E731
    elif what == "stream":
        fn = lambda: _stream(data, threads)  # noqa: E731
    else:
        fn = lambda: _numpy(data, table)  # noqa: E731
    benchmark.group = f"n={_exp(n)}"
    benchmark.pedantic(fn, rounds=ROUNDS[what, n], warmup_rounds=1, iterations=1)
    name = f"{what}-{n}" if what == "numpy" else f"{what}-{n}-{threads}t"
    record(benchmark, name, n, threads)


@pytest.mark.benchmark(group="python sample")
def test_python_reference(benchmark, record, table, data_by_size):
    """``reference.integrate_intervals`` as it is, on the sample (table passed
    as nested lists): its hour-by-hour loop plus its one conversion of the
    whole table per call, spread over the sample."""
    data = data_by_size(SIZES[0])
    k = PYTHON_SAMPLE
    args = (data.start[:k].tolist(), data.end[:k].tolist(), data.power[:k].tolist(), data.datacenter[:k].tolist(),
            table.values.tolist())
    benchmark.pedantic(reference.integrate_intervals, args=args, rounds=3, iterations=1)
    record(benchmark, "python-reference", k)


@pytest.mark.benchmark(group="python sample")
def test_python_reference_per_interval(benchmark, record, table, data_by_size):
    """Only the reference's per-interval routine ``reference.integrate_interval``,
    with the table converted to lists once, outside the timing: the faster of
    the two Python figures, so the one the >= 80x goal is judged on."""
    data = data_by_size(SIZES[0])
    k = PYTHON_SAMPLE
    hourly = [table.values[d].tolist() for d in range(table.values.shape[0])]
    rows = list(zip(data.start[:k].tolist(), data.end[:k].tolist(), data.power[:k].tolist(),
                    data.datacenter[:k].tolist()))

    def run():
        return [reference.integrate_interval(s, e, p, hourly[d]) for s, e, p, d in rows]

    benchmark.pedantic(run, rounds=5, warmup_rounds=1, iterations=1)
    record(benchmark, "python-core", k)
