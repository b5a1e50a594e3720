"""Cold-start load of every bundled hourly grid series.

Run: ``python -m pytest bench/bench_grid_load.py -m benchmark``.  Each round
starts with empty caches, so it measures reading the package data files
(npz decompression, JSON parsing) plus gap filling and glitch checks.
"""
import warnings

import pytest

from carbonsim import grid


def _load_all_hourly():
    names = [e["name"] for e in grid.list_signals() if e["resolution"] == "hourly"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", grid.GridDataWarning)
        return [grid.load_signal(name) for name in names]


@pytest.mark.benchmark
def test_load_every_hourly_series_cold(benchmark):
    signals = benchmark.pedantic(_load_all_hourly, setup=grid.clear_cache, rounds=10, iterations=1, warmup_rounds=1)
    assert len(signals) == 40 and all(s.n_hours == 8760 for s in signals)
