"""The benchmark workload: a year of hourly intensity for 8 datacenters and
random power intervals (see README.md for the reasoning).

- intensity table: 8 datacenters x 8760 hours (one year) x 2 signals (gross,
  net), built with :meth:`carbonsim.sim.accounting.IntensityTable.from_values`;
- intervals: 70 % short, duration log-uniform in [1 min, 1 h); 30 % long,
  log-uniform in [1 h, 7 days]; start uniform so that the interval fits in the
  year; power log-uniform in [50 W, 500 kW]; datacenter uniform; in random
  (unsorted) order, so that table look-ups have no locality.
"""
from __future__ import annotations

import datetime as dt

import numpy as np

from carbonsim.sim.accounting import IntensityTable

N_DATACENTERS = 8
N_HOURS = 8760
SIZES = (10**6, 10**7)
PYTHON_SAMPLE = 2000
SHORT_FRACTION = 0.7
MINUTE, HOUR, DAY = 60.0, 3600.0, 86400.0
SEED = 20240611
#: Bytes per interval that both kernels stream: start, end, power (8 B each)
#: and datacenter (4 B) read; energy (8 B) and 2 signals (16 B) written.
BYTES_PER_EVENT = 3 * 8 + 4 + 8 + 2 * 8


def make_table(seed: int = SEED) -> IntensityTable:
    """A year of hourly gross/net intensity for 8 datacenters: a per-site
    level, daily and seasonal cycles, noise, and a per-site CFE share."""
    rng = np.random.default_rng(seed)
    h = np.arange(N_HOURS)
    level = rng.uniform(30, 700, N_DATACENTERS)[:, None]
    daily = 1 + 0.25 * np.sin(2 * np.pi * (h % 24) / 24 + rng.uniform(0, 2 * np.pi, (N_DATACENTERS, 1)))
    season = 1 + 0.15 * np.cos(2 * np.pi * h / N_HOURS + rng.uniform(0, 2 * np.pi, (N_DATACENTERS, 1)))
    noise = rng.lognormal(0.0, 0.1, (N_DATACENTERS, N_HOURS))
    gross = level * daily * season * noise
    cfe = rng.uniform(0.0, 0.9, N_DATACENTERS)[:, None]
    values = np.stack([gross, gross * (1 - cfe)], axis=2)
    start = dt.datetime(2023, 1, 1, tzinfo=dt.timezone.utc)
    return IntensityTable.from_values(start, [f"dc{i}" for i in range(N_DATACENTERS)], values)


def make_intervals(n: int, seed: int = SEED + 1):
    """``n`` random power intervals inside the year (see the module docstring)."""
    rng = np.random.default_rng(seed)
    short = rng.random(n) < SHORT_FRACTION
    log_dur = np.where(short, rng.uniform(np.log(MINUTE), np.log(HOUR), n),
                       rng.uniform(np.log(HOUR), np.log(7 * DAY), n))
    duration = np.exp(log_dur)
    start = rng.random(n) * (N_HOURS * HOUR - duration)
    end = start + duration
    power = np.exp(rng.uniform(np.log(50.0), np.log(5e5), n))
    datacenter = rng.integers(0, N_DATACENTERS, n).astype(np.int32)
    return start, end, power, datacenter
