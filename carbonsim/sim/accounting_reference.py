"""Slow, obviously correct reference implementations of the compiled kernels.

They exist to be compared against (see ``tests/test_kernel.py``); nothing in
the package calls them on a hot path.
"""
from __future__ import annotations

import math

SECONDS_PER_HOUR = 3600.0


def integrate_interval(start_s: float, end_s: float, power_w: float, hourly: list[list[float]]):
    """Energy (J) and per-signal weighted integrals (J x signal unit) of one
    interval, splitting it hour by hour.

    ``hourly[h][k]`` is signal k during hour h (hour 0 starts at time 0).
    """
    n_sig = len(hourly[0])
    pieces: list[list[float]] = [[] for _ in range(n_sig)]
    t = start_s
    while t < end_s:
        hour = math.floor(t / SECONDS_PER_HOUR)
        stop = min(end_s, (hour + 1) * SECONDS_PER_HOUR)
        for k in range(n_sig):
            pieces[k].append(power_w * (stop - t) * hourly[hour][k])
        t = stop
    return power_w * (end_s - start_s), [math.fsum(p) for p in pieces]


def integrate_intervals(start_s, end_s, power_w, datacenter, values):
    """Loop of :func:`integrate_interval` over many intervals.

    ``values[d][h][k]``: signal k of datacenter d in hour h.
    """
    tables = [[[float(x) for x in row] for row in dc] for dc in values]
    energy, weighted = [], []
    for s, e, p, d in zip(start_s, end_s, power_w, datacenter):
        en, w = integrate_interval(float(s), float(e), float(p), tables[int(d)])
        energy.append(en)
        weighted.append(w)
    return energy, weighted
