"""Fluid mode against the request-level engine over a grid of services (slow).

These are the tolerances stated in docs/serving.md, "Fluid mode: measured
agreement": a diurnal day of traffic, hours sampled by compare_fluid, every
combination of batching, service-time law, load and idle power.
"""
import itertools

import numpy as np
import pytest

from carbonsim.sim import serving
from carbonsim.sim.serving import Autoscaling, Batching, ServingConfig

DIURNAL = 1 + 0.6 * np.sin(2 * np.pi * np.arange(24) / 24)
GRID = list(itertools.product([(1, 0.0, 0.0), (16, 0.02, 0.01), (64, 0.05, 0.02)],
                              ["deterministic", "exponential"], [30.0, 300.0], [60.0, 150.0]))


def config(batching, service, base, idle, fleet):
    B, W, a = batching
    if fleet == "fixed":
        kw = dict(replicas=int(np.ceil(base * 1.6 * (a / max(1, min(B, base * W + 1)) + 0.02) / 0.7)) + 1)
    else:
        kw = dict(autoscaling=Autoscaling(max_replicas=200))
    return ServingConfig(chip_busy_w=300.0, chip_idle_w=idle, energy_wh_per_query=0.02 * 300 / 3600,
                         batching=Batching(max_batch_size=B, max_wait_s=W, latency_fixed_s=a, service_time=service),
                         **kw)


@pytest.mark.slow
@pytest.mark.parametrize("batching, service, base, idle", GRID)
def test_fixed_fleet_hours(batching, service, base, idle):
    check = serving.compare_fluid(config(batching, service, base, idle, "fixed"), base * DIURNAL, seed=1,
                                  n_samples=6)
    assert check.max_abs_energy_rel_diff < 0.02
    assert np.max(np.abs(check.busy_rel_diff)) < 0.03


@pytest.mark.slow
@pytest.mark.parametrize("batching, service, base, idle", GRID)
def test_autoscaled_hours_and_day(batching, service, base, idle):
    cfg = config(batching, service, base, idle, "autoscaled")
    check = serving.compare_fluid(cfg, base * DIURNAL, seed=1, n_samples=6)
    big = check.request_replicas >= 8
    assert np.all(np.abs(check.energy_rel_diff[big]) < 0.05)
    assert np.all(np.abs(check.fluid_replicas - check.request_replicas) < 1.0)
    assert np.max(np.abs(check.busy_rel_diff)) < 0.05
    day_requests = serving.simulate_requests(cfg, base * DIURNAL, seed=2)
    day_fluid = serving.simulate_fluid(cfg, base * DIURNAL)
    assert day_fluid.total_energy_j == pytest.approx(day_requests.total_energy_j, rel=0.01)
