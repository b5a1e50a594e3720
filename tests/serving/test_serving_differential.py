"""The compiled kernel against its plain-Python twin (carbonsim/reference_serving.py).

Both draw the same random numbers and do the same floating-point operations in
the same order, so every output must be *identical*, not merely close.
"""
import dataclasses

import numpy as np
import pytest

from carbonsim.sim import serving_reference as reference_serving
from carbonsim.sim import serving

FIELDS = ("requests", "busy_chip_s", "idle_chip_s", "it_energy_j", "replicas", "latency_mean_s", "wait_mean_s",
          "latency_p50_s", "latency_p95_s", "latency_p99_s", "latency_max_s", "latency_histogram")
SCALARS = ("drain_busy_chip_s", "drain_energy_j", "drain_end_s", "batches", "scale_ups", "scale_downs",
           "peak_replicas")


def assert_identical(a: serving.ServingResult, b: serving.ServingResult):
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    for name in SCALARS:
        assert getattr(a, name) == getattr(b, name), name
    assert a.warnings == b.warnings


@pytest.mark.parametrize("case", range(40))
def test_kernel_equals_reference_on_random_cases(case, make_case):
    rng = np.random.default_rng([20240601, case])
    config, rate = make_case(rng)
    fast = serving.simulate_requests(config, rate, seed=case)
    slow = reference_serving.simulate_requests(config, rate, seed=case)
    assert_identical(fast, slow)
    assert fast.requests.sum() == slow.requests.sum()


@pytest.mark.slow
@pytest.mark.parametrize("case", range(40, 400))
def test_kernel_equals_reference_on_many_random_cases(case, make_case):
    rng = np.random.default_rng([20240601, case])
    config, rate = make_case(rng, max_rate=20.0)
    assert_identical(serving.simulate_requests(config, rate, seed=case),
                     reference_serving.simulate_requests(config, rate, seed=case))


@pytest.mark.parametrize("case", range(8))
def test_kernel_equals_reference_on_traces(case, make_case):
    rng = np.random.default_rng([7, case])
    config, _ = make_case(rng)
    n_hours = 2
    times = np.sort(rng.uniform(0, n_hours * 3600.0, int(rng.integers(0, 5000))))
    times[: len(times) // 10] = np.round(times[: len(times) // 10])   # ties
    times.sort()
    fast = serving.simulate_trace(config, times, n_hours=n_hours, seed=case)
    slow = reference_serving.simulate_trace(config, times, n_hours=n_hours, seed=case)
    assert_identical(fast, slow)
    assert fast.requests.sum() == len(times)


def test_reference_overloaded_and_autoscaling_at_the_cap():
    """A fleet that cannot keep up: long queues, a drain after the horizon, scaling pinned at max."""
    config = serving.ServingConfig(
        chip_busy_w=400.0, chip_idle_w=100.0,
        batching=serving.Batching(max_batch_size=4, max_wait_s=0.1, latency_fixed_s=0.05, latency_per_query_s=0.2),
        autoscaling=serving.Autoscaling(max_replicas=3, interval_s=10.0, scale_up_delay_s=5.0,
                                        scale_down_delay_s=30.0))
    rate = [30.0, 0.0, 2.0]
    fast = serving.simulate_requests(config, rate, seed=3)
    slow = reference_serving.simulate_requests(config, rate, seed=3)
    assert_identical(fast, slow)
    assert fast.peak_replicas == 3 and fast.scale_downs >= 1


def test_resolved_config_is_accepted_and_unchanged(make_case):
    config, rate = make_case(np.random.default_rng(1))
    before = dataclasses.replace(config)
    resolved = config.validate()
    a = serving.simulate_requests(resolved, rate, seed=5)
    b = serving.simulate_requests(config, rate, seed=5)
    assert_identical(a, b)
    assert config == before
