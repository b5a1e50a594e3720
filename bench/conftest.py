"""Shared data and the end-of-run summary of the kernel benchmarks.

Run with ``python -m pytest bench -m benchmark`` (the project's default
options deselect the ``benchmark`` marker).  Every figure is the *minimum*
over rounds (the least disturbed run on a shared machine); the summary at the
end turns them into events/s and ratios taken within the same run.  The
workload is described in ``_workload.py`` and README.md.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np
import pytest

from _workload import (BYTES_PER_EVENT, N_DATACENTERS, N_HOURS, PYTHON_SAMPLE, SHORT_FRACTION, SIZES, make_intervals,
                       make_table)
from carbonsim.sim.accounting import IntensityTable

# name -> {"seconds": min over rounds, "events": events per call, "threads": int}
RESULTS: dict[str, dict] = {}
_CPU_AT_START = None


class Data:
    """Inputs and preallocated outputs for one size (created once per session)."""

    def __init__(self, n: int, table: IntensityTable):
        self.n = n
        self.start, self.end, self.power, self.datacenter = make_intervals(n)
        self.energy = np.empty(n)
        self.weighted = np.empty((n, table.values.shape[2]))


@pytest.fixture(scope="session")
def table():
    return make_table()


@pytest.fixture(scope="session")
def data_by_size(table):
    cache: dict[int, Data] = {}

    def get(n: int) -> Data:
        if n not in cache:
            cache[n] = Data(n, table)
        return cache[n]

    return get


@pytest.fixture
def record():
    """``record(benchmark, name, events, threads)``: keep the minimum time of a
    finished benchmark for the summary, and put the rate into extra_info."""

    def _record(benchmark, name: str, events: int, threads: int = 1):
        stats = getattr(benchmark, "stats", None)
        if stats is None:  # --benchmark-disable
            return
        seconds = stats.stats.min
        RESULTS[name] = {"seconds": seconds, "events": events, "threads": threads}
        benchmark.extra_info.update(events=events, threads=threads, events_per_s=events / seconds)

    return _record


def _cpu_snapshot():
    """(wall s, CPU s used by every process, CPU s used by this one), or None
    where /proc/stat is missing: to tell how busy the cores were with others."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except OSError:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    busy = (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")
    t = os.times()
    return time.perf_counter(), busy, t.user + t.system


def pytest_sessionstart(session):
    global _CPU_AT_START
    _CPU_AT_START = _cpu_snapshot()


def _rate(name):
    r = RESULTS.get(name)
    return None if r is None else r["events"] / r["seconds"]


def _fmt_rate(x):
    if x is None:
        return "-"
    return f"{x / 1e6:9.2f} M/s" if x >= 1e5 else f"{x / 1e3:9.2f} k/s"


def _fmt_ratio(a, b):
    return "-" if a is None or b is None else f"{a / b:8.2f}"


def _goal(label, value, target, fmt="{:.2f}"):
    if value is None:
        return f"  {label:<44} not measured"
    ok = "met" if value >= target else "NOT met"
    return f"  {label:<44} {fmt.format(value)} (goal >= {fmt.format(target)}): {ok}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not RESULTS:
        return
    w = terminalreporter.write_line
    terminalreporter.section("carbonsim kernel summary (min over rounds; events/s)")
    others = None
    end = _cpu_snapshot()
    if _CPU_AT_START is not None and end is not None:
        others = max(0.0, ((end[1] - _CPU_AT_START[1]) - (end[2] - _CPU_AT_START[2])) / (end[0] - _CPU_AT_START[0]))
    w(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; "
      + ("other processes kept %.2f CPUs busy on average during the run" % others if others is not None else ""))
    w(f"table {N_DATACENTERS} dc x {N_HOURS} h x 2 signals; intervals {SHORT_FRACTION:.0%} in [1 min, 1 h), "
      f"{1 - SHORT_FRACTION:.0%} in [1 h, 7 d], log-uniform, random order; {BYTES_PER_EVENT} B streamed per event")
    w("")
    header = f"  {'':<34}" + "".join(f"{f'n = 1e{int(np.log10(n))}':>16}" for n in SIZES)
    w(header)
    rows = [
        ("kernel, 1 thread", "kernel-{n}-1t"),
        ("kernel, 2 threads", "kernel-{n}-2t"),
        ("memory ceiling (stream), 1 thread", "stream-{n}-1t"),
        ("memory ceiling (stream), 2 threads", "stream-{n}-2t"),
        ("NumPy, vectorized split form", "numpy-{n}"),
    ]
    for label, key in rows:
        w(f"  {label:<34}" + "".join(f"{_fmt_rate(_rate(key.format(n=n))):>16}" for n in SIZES))
    for label, key in [("Python reference", "python-reference"),
                       ("Python, per-interval routine only", "python-core")]:
        r = _rate(key)
        w(f"  {label:<34}{_fmt_rate(r):>16}   (sample of {PYTHON_SAMPLE}, per event)")
    for n in SIZES:
        s = _rate(f"stream-{n}-1t")
        if s is not None:
            w(f"  ceiling at n = 1e{int(np.log10(n))}: {s * BYTES_PER_EVENT / 1e9:.1f} GB/s (1 thread), "
              + (f"{_rate(f'stream-{n}-2t') * BYTES_PER_EVENT / 1e9:.1f} GB/s (2 threads)"
                 if _rate(f"stream-{n}-2t") else "- (2 threads)"))
    w("")
    w(f"  {'ratios':<34}" + "".join(f"{f'n = 1e{int(np.log10(n))}':>16}" for n in SIZES))
    py_core, py_ref = _rate("python-core"), _rate("python-reference")
    ratio_rows = [
        ("kernel / ceiling, 1 thread", lambda n: (_rate(f"kernel-{n}-1t"), _rate(f"stream-{n}-1t"))),
        ("kernel / ceiling, 2 threads", lambda n: (_rate(f"kernel-{n}-2t"), _rate(f"stream-{n}-2t"))),
        ("kernel / NumPy, 1 thread", lambda n: (_rate(f"kernel-{n}-1t"), _rate(f"numpy-{n}"))),
        ("kernel / Python (routine only)", lambda n: (_rate(f"kernel-{n}-1t"), py_core)),
        ("kernel / Python reference", lambda n: (_rate(f"kernel-{n}-1t"), py_ref)),
        ("kernel 2 threads / 1 thread", lambda n: (_rate(f"kernel-{n}-2t"), _rate(f"kernel-{n}-1t"))),
        ("ceiling 2 threads / 1 thread", lambda n: (_rate(f"stream-{n}-2t"), _rate(f"stream-{n}-1t"))),
    ]
    for label, f in ratio_rows:
        w(f"  {label:<34}" + "".join(f"{_fmt_ratio(*f(n)):>16}" for n in SIZES))
    w("")
    w("goals (worst of the two sizes):")

    def worst(f):
        vals = [a / b for a, b in (f(n) for n in SIZES) if a is not None and b is not None]
        return min(vals) if vals else None

    w(_goal("kernel / memory ceiling (same threads)",
            min([v for v in (worst(ratio_rows[0][1]), worst(ratio_rows[1][1])) if v is not None], default=None),
            0.65, "{:.0%}"))
    w(_goal("kernel / best NumPy", worst(ratio_rows[2][1]), 3.0))
    w(_goal("kernel / pure Python (routine only)", worst(ratio_rows[3][1]), 80.0, "{:.0f}"))
    w(_goal("kernel 2 threads / 1 thread", worst(ratio_rows[5][1]), 1.7))
    if others is not None and others > 0.25:
        w(f"  note: other processes used {others:.2f} CPUs on average while this ran, so the 2-thread figures")
        w("  understate what two free cores give (a 2-thread call needs both cores at once).")
