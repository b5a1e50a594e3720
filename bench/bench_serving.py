"""Request-level serving kernel beside a SimPy model of the same queue, in the same run.

Run: ``python -m pytest bench/bench_serving.py -m benchmark``.  Read the
ratios (printed at the end and stored in each benchmark's ``extra_info``),
not the absolute times: the machine is shared.

The SimPy model is the same system written the usual discrete-event way
(a source process, a dispatcher that forms batches from a central queue with
a timeout, a ``simpy.Resource`` of replicas) and is checked against the
kernel's mean latency, so both sides compute the same thing.

The 10^8-request case runs in a child process so that its peak RSS
(``ru_maxrss``) is its own:
``python bench/bench_serving.py --requests 1e8`` (or under ``/usr/bin/time -v``).
"""
from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time
from collections import deque

import numpy as np
import pytest

from carbonsim.sim import serving
from carbonsim.sim.serving import Batching, ServingConfig

#: name -> (replicas, max_batch, max_wait_s, a, b, rate_per_s, kernel hours, simpy requests)
CASES = {
    "unbatched": (8, 1, 0.0, 0.0, 0.005, 1200.0, 2, 60_000),
    "batched": (4, 16, 0.005, 0.004, 0.0005, 4000.0, 1, 100_000),
}
_PER_REQUEST_S: dict[tuple[str, str], float] = {}
_MEAN_LATENCY: dict[tuple[str, str], float] = {}


def config(name: str) -> ServingConfig:
    c, B, W, a, b, *_ = CASES[name]
    return ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0, replicas=c,
                         batching=Batching(max_batch_size=B, max_wait_s=W, latency_fixed_s=a, latency_per_query_s=b))


def simpy_serve(rate: float, n_requests: int, replicas: int, max_batch: int, max_wait_s: float, a: float, b: float,
                seed: int) -> tuple[int, float, float]:
    """The same queue in SimPy.  Returns (requests served, mean latency s, busy replica-s)."""
    import simpy

    env = simpy.Environment()
    rng = np.random.default_rng(seed)
    gaps = rng.exponential(1.0 / rate, n_requests)
    queue: deque[float] = deque()
    fleet = simpy.Resource(env, capacity=replicas)
    arrived = [env.event()]
    stats = {"n": 0, "latency": 0.0, "busy": 0.0}

    def source():
        for gap in gaps:
            yield env.timeout(gap)
            queue.append(env.now)
            event, arrived[0] = arrived[0], env.event()
            event.succeed()

    def serve(batch, request):
        latency = a + b * len(batch)
        yield env.timeout(latency)
        now = env.now
        stats["n"] += len(batch)
        stats["latency"] += sum(now - t for t in batch)
        stats["busy"] += latency
        fleet.release(request)

    def dispatcher():
        taken = 0
        while taken < n_requests:
            if not queue:
                yield arrived[0]
            deadline = queue[0] + max_wait_s
            while len(queue) < max_batch and env.now < deadline:
                yield arrived[0] | env.timeout(deadline - env.now)
            request = fleet.request()
            yield request                      # the first replica to be free
            batch = [queue.popleft() for _ in range(min(max_batch, len(queue)))]
            taken += len(batch)
            env.process(serve(batch, request))

    env.process(source())
    env.process(dispatcher())
    env.run()
    return stats["n"], stats["latency"] / stats["n"], stats["busy"]


@pytest.mark.benchmark
@pytest.mark.parametrize("name", list(CASES))
def test_kernel(benchmark, name):
    rate, hours = CASES[name][5], CASES[name][6]
    cfg = config(name).validate()
    res = benchmark.pedantic(serving.simulate_requests, args=(cfg, [rate] * hours), kwargs={"seed": 1},
                             rounds=5, iterations=1, warmup_rounds=1)
    n = int(res.requests.sum())
    per_request = benchmark.stats.stats.min / n
    _PER_REQUEST_S[("kernel", name)] = per_request
    _MEAN_LATENCY[("kernel", name)] = res.mean_latency()
    benchmark.extra_info.update(requests=n, requests_per_s=1.0 / per_request, mean_latency_s=res.mean_latency())


@pytest.mark.benchmark
@pytest.mark.parametrize("name", list(CASES))
def test_simpy(benchmark, name):
    c, B, W, a, b, rate, _, n_requests = CASES[name]
    n, latency, _ = benchmark.pedantic(simpy_serve, args=(rate, n_requests, c, B, W, a, b, 1), rounds=2,
                                       iterations=1)
    assert n == n_requests
    per_request = benchmark.stats.stats.min / n
    _PER_REQUEST_S[("simpy", name)] = per_request
    _MEAN_LATENCY[("simpy", name)] = latency
    benchmark.extra_info.update(requests=n, requests_per_s=1.0 / per_request, mean_latency_s=latency)


@pytest.mark.benchmark
@pytest.mark.parametrize("name", list(CASES))
def test_ratio(name):
    """Same queue, same run: >= 50x faster per request than SimPy and >= 5 M requests/s."""
    if ("kernel", name) not in _PER_REQUEST_S or ("simpy", name) not in _PER_REQUEST_S:
        pytest.skip("run with the kernel and SimPy benchmarks")
    kernel, simpy_ = _PER_REQUEST_S[("kernel", name)], _PER_REQUEST_S[("simpy", name)]
    ratio = simpy_ / kernel
    print(f"\n{name}: kernel {1 / kernel / 1e6:.1f} M requests/s, SimPy {1 / simpy_ / 1e3:.1f} k requests/s, "
          f"ratio {ratio:.0f}x; mean latency kernel {_MEAN_LATENCY[('kernel', name)] * 1e3:.3f} ms, "
          f"SimPy {_MEAN_LATENCY[('simpy', name)] * 1e3:.3f} ms")
    assert _MEAN_LATENCY[("simpy", name)] == pytest.approx(_MEAN_LATENCY[("kernel", name)], rel=0.05)
    assert ratio >= 50
    assert 1 / kernel >= 5e6


def _child(requests: float, max_batch: int = 16) -> dict:
    """Run ~`requests` requests (autoscaled fleet) and report time and peak RSS."""
    rate = 10_000.0
    hours = requests / (rate * 3600.0)
    rates = [rate] * math.ceil(hours)
    rates[-1] = rate * (hours - (len(rates) - 1))
    batching = (Batching(max_batch_size=max_batch, max_wait_s=0.005, latency_fixed_s=0.004) if max_batch > 1
                else Batching())
    cfg = ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0, energy_wh_per_query=0.0005 * 400 / 3600,
                        batching=batching, autoscaling=serving.Autoscaling(max_replicas=64))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = serving.simulate_requests(cfg, rates, seed=1)
    seconds = time.perf_counter() - t0
    n = int(res.requests.sum())
    return dict(requests=n, seconds=seconds, requests_per_s=n / seconds, hours=len(rates),
                peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                rss_before_run_mb=rss_before / 1024, p99_s=res.latency_percentile(99),
                wh_per_query=res.wh_per_query)


@pytest.mark.benchmark
def test_peak_rss_does_not_grow_with_requests():
    """10^6 vs 10^8 requests in child processes: peak RSS stays flat."""
    runs = {}
    for n in (1e6, 1e8):
        out = subprocess.run([sys.executable, __file__, "--requests", str(n)], capture_output=True, text=True,
                             check=True)
        runs[n] = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"\n1e6: {runs[1e6]}\n1e8: {runs[1e8]}")
    assert runs[1e8]["requests"] > 0.99e8
    assert runs[1e8]["peak_rss_mb"] - runs[1e6]["peak_rss_mb"] < 16


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=float, default=1e8)
    parser.add_argument("--max-batch", type=int, default=16, help="1: no batching")
    args = parser.parse_args()
    print(json.dumps(_child(args.requests, args.max_batch)))
