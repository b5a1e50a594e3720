"""Queueing theory checks of the request-level engine.

Without batching and with exponential service the engine is an M/M/c queue
(Poisson arrivals, c replicas, one FIFO queue): the mean wait must match
Erlang C, Wq = C(c, A) / (c mu - lambda) with A = lambda / mu (e.g. Kleinrock,
Queueing Systems vol. 1, eq. 3.39), and for c = 1 the response time is
exponential with rate mu - lambda.  Hourly means serve as batch means for the
standard error (the relaxation time of these queues is seconds, an hour is
thousands of them).
"""
import math

import numpy as np
import pytest

from carbonsim.sim import serving
from carbonsim.sim.serving import Batching, ServingConfig


def erlang_c_wait(c: int, lam: float, mu: float) -> float:
    a = lam / mu
    top = a**c / math.factorial(c) * c / (c - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(c)) + top)
    return p_wait / (c * mu - lam)


def mmc(c: int, mu: float, **kw) -> ServingConfig:
    return ServingConfig(chip_busy_w=300.0, chip_idle_w=60.0, replicas=c,
                         batching=Batching(latency_per_query_s=1.0 / mu, service_time="exponential"), **kw)


def check_mean_wait(c, rho, mu, hours, seed, n_se=4.0):
    lam = rho * c * mu
    res = serving.simulate_requests(mmc(c, mu), [lam] * hours, seed=seed)
    hourly = res.wait_mean_s
    mean = float(np.average(hourly, weights=res.requests))
    se = float(np.std(hourly, ddof=1) / math.sqrt(hours))
    expected = erlang_c_wait(c, lam, mu)
    assert abs(mean - expected) < n_se * se + 1e-3 * expected, (mean, expected, se)
    # and the mean latency is the wait plus the mean service time
    lat = float(np.average(res.latency_mean_s, weights=res.requests))
    assert lat == pytest.approx(expected + 1 / mu, rel=0.05)
    return mean, expected, se


def test_mmc_mean_wait_matches_erlang_c():
    mean, expected, se = check_mean_wait(c=4, rho=0.8, mu=20.0, hours=8, seed=1)
    assert se < 0.05 * expected          # the check has teeth


def test_mm1_response_time_is_exponential():
    lam, mu = 50.0, 100.0
    res = serving.simulate_requests(mmc(1, mu), [lam] * 8, seed=2)
    for q in (50, 95, 99):
        expected = -math.log(1 - q / 100) / (mu - lam)
        assert res.latency_percentile(q) == pytest.approx(expected, rel=0.05), q


def test_mmc_energy_matches_utilization():
    """Busy chip-seconds are lambda / mu per second of time (utilization law)."""
    c, mu, lam = 3, 10.0, 21.0
    res = serving.simulate_requests(mmc(c, mu), [lam] * 4, seed=3)
    busy = res.total_busy_chip_s / (4 * 3600.0)
    assert busy == pytest.approx(lam / mu, rel=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("c, rho", [(1, 0.5), (1, 0.9), (2, 0.7), (8, 0.85), (32, 0.95), (100, 0.9)])
def test_mmc_mean_wait_matches_erlang_c_many(c, rho):
    check_mean_wait(c=c, rho=rho, mu=10.0, hours=48, seed=c * 100 + int(rho * 100), n_se=4.0)
