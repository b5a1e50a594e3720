"""Shared helpers for the serving tests: small random configurations."""
import numpy as np
import pytest

from carbonsim.sim.serving import Autoscaling, Batching, ServingConfig


def random_case(rng: np.random.Generator, *, max_rate: float = 6.0):
    """A small random configuration and traffic that exercise every branch of the kernel."""
    n_hours = int(rng.integers(1, 4))
    rate = rng.uniform(0.0, max_rate, n_hours)
    rate[rng.random(n_hours) < 0.2] = 0.0          # some silent hours
    batching = Batching(
        max_batch_size=int(rng.choice([1, 2, 3, 8])),
        max_wait_s=float(rng.choice([0.0, 0.05, 0.5])),
        latency_fixed_s=float(rng.choice([0.0, 0.02, 0.2])),
        latency_per_query_s=float(rng.uniform(0.01, 0.3)),
        service_time=str(rng.choice(["deterministic", "exponential"])),
    )
    if rng.random() < 0.4:
        fleet = dict(replicas=int(rng.integers(1, 5)))
    else:
        lo = int(rng.integers(1, 3))
        fleet = dict(autoscaling=Autoscaling(
            min_replicas=lo, max_replicas=lo + int(rng.integers(0, 6)),
            target_utilization=float(rng.uniform(0.3, 0.9)),
            interval_s=float(rng.choice([5.0, 30.0, 60.0])),
            scale_up_delay_s=float(rng.choice([0.0, 10.0, 60.0])),
            scale_down_delay_s=float(rng.choice([0.0, 20.0, 120.0])),
        ))
    config = ServingConfig(chip_busy_w=float(rng.uniform(200, 700)), chip_idle_w=float(rng.uniform(20, 150)),
                           chips_per_replica=int(rng.integers(1, 9)), batching=batching, **fleet)
    return config, rate


@pytest.fixture
def make_case():
    return random_case
