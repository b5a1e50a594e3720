"""Inference serving: hand-computed traces, conservation, determinism, fluid mode, bad input."""
import math
import threading
import tracemalloc

import numpy as np
import pytest

from carbonsim.sim import serving
from carbonsim.sim.serving import Autoscaling, Batching, ServingConfig


def fixed(replicas=1, **kw):
    base = dict(chip_busy_w=300.0, chip_idle_w=100.0, chips_per_replica=2, replicas=replicas,
                batching=Batching(max_batch_size=3, max_wait_s=1.0, latency_fixed_s=0.5, latency_per_query_s=0.25))
    base.update(kw)
    return ServingConfig(**base)


# --- a deterministic trace, computed by hand ---------------------------------

def test_hand_computed_trace():
    """One replica of 2 chips (300 W busy, 100 W idle), latency 0.5 + 0.25 x batch, batch <= 3, wait <= 1 s.

    batch 1: head 10.0, third request at 10.4 fills it -> dispatch 10.4, m=3, L=1.25, ends 11.65
    batch 2: head 10.6, ready 11.6, replica free 11.65 -> dispatch 11.65, m=1 (next is 100), L=0.75
    batch 3: head 100, ready 101 (timeout) -> dispatch 101, m=1, L=0.75
    batch 4: head 200, stream ends -> ready 201, m=2 (200, 200.5), L=1.0
    busy = 1.25 + 0.75 + 0.75 + 1.0 = 3.75 replica-s = 7.5 chip-s
    energy = 7.5 x 300 + (7200 - 7.5) x 100 = 721500 J
    """
    times = [10.0, 10.2, 10.4, 10.6, 100.0, 200.0, 200.5]
    res = serving.simulate_trace(fixed(), times)
    latencies = [1.65, 1.45, 1.25, 1.8, 1.75, 2.0, 1.5]
    waits = [0.4, 0.2, 0.0, 1.05, 1.0, 1.0, 0.5]
    assert res.n_hours == 1 and res.requests.tolist() == [7] and res.batches == 4
    assert res.busy_chip_s[0] == pytest.approx(7.5, rel=1e-12)
    assert res.idle_chip_s[0] == pytest.approx(7200 - 7.5, rel=1e-12)
    assert res.it_energy_j[0] == pytest.approx(721500.0, rel=1e-12)
    assert res.total_energy_j == pytest.approx(721500.0, rel=1e-12)
    assert res.wh_per_query == pytest.approx(721500.0 / 3600 / 7, rel=1e-12)
    assert res.latency_mean_s[0] == pytest.approx(sum(latencies) / 7, rel=1e-12)
    assert res.wait_mean_s[0] == pytest.approx(sum(waits) / 7, rel=1e-9)
    assert res.latency_max_s[0] == pytest.approx(2.0, rel=1e-12)
    # Percentiles from the histogram: within one bin (1/32 of an octave) of the exact order statistic.
    assert res.latency_p50_s[0] == pytest.approx(1.65, rel=1 / 32)
    assert res.replicas.tolist() == [1.0] and res.drain_busy_chip_s == 0.0 and res.warnings == ()


def test_hand_computed_hour_boundaries_and_drain():
    """Batches straddling an hour boundary are split; work after the horizon is the drain."""
    cfg = fixed(batching=Batching(max_batch_size=1, latency_fixed_s=0.75, latency_per_query_s=0.25))
    res = serving.simulate_trace(cfg, [3599.5, 7199.8], n_hours=2)       # each batch lasts 1.0 s
    assert res.requests.tolist() == [1, 1]
    np.testing.assert_allclose(res.busy_chip_s, [2 * 0.5, 2 * (0.5 + 0.2)], rtol=1e-9)
    assert res.drain_busy_chip_s == pytest.approx(2 * 0.8, rel=1e-9)
    assert res.drain_energy_j == pytest.approx(2 * 0.8 * 300.0, rel=1e-9)
    assert res.drain_end_s == pytest.approx(7200.8, rel=1e-12)
    # hour 0: 1.0 busy chip-s; hour 1: 1.4; drain: 1.6 chip-s at busy power only
    hourly = [1.0 * 300 + (7200 - 1.0) * 100, 1.4 * 300 + (7200 - 1.4) * 100]
    np.testing.assert_allclose(res.it_energy_j, hourly, rtol=1e-12)
    assert res.total_energy_j == pytest.approx(sum(hourly) + 1.6 * 300, rel=1e-12)
    assert res.total_busy_chip_s == pytest.approx(4.0, rel=1e-9)


def test_trace_with_energy_per_query_and_flops_cost():
    # 0.01 Wh per query on 2 chips at 300 W -> b = 0.01 * 3600 / 600 = 0.06 s
    e = fixed(batching=Batching(), energy_wh_per_query=0.01).validate()
    assert e.batch_per_query_s == pytest.approx(0.06)
    # busy energy of an unbatched query with a = 0 is exactly the measured energy
    res = serving.simulate_trace(ServingConfig(chip_busy_w=300.0, chip_idle_w=0.0, chips_per_replica=2,
                                               energy_wh_per_query=0.01, replicas=1), [5.0, 6.0, 7.0])
    assert res.wh_per_query == pytest.approx(0.01, rel=1e-12)
    # 2e12 FLOP on 4 chips of 312 TFLOP/s at 40 % -> 2e12 / (4 * 312e12 * 0.4) s
    f = ServingConfig(chip_busy_w=400.0, chip_idle_w=50.0, chips_per_replica=4, flops_per_query=2e12,
                      chip_peak_flops=312e12, hardware_efficiency=0.4, replicas=1).validate()
    assert f.batch_per_query_s == pytest.approx(2e12 / (4 * 312e12 * 0.4))
    h = ServingConfig.from_hardware("a100", chips_per_replica=4, flops_per_query=2e12, hardware_efficiency=0.4,
                                    replicas=1).validate()
    assert (h.chip_busy_w, h.chip_idle_w, h.batch_per_query_s) == (400.0, 50.0, f.batch_per_query_s)


# --- conservation ---------------------------------------------------------------

@pytest.mark.parametrize("case", range(12))
def test_conservation(case, make_case):
    rng = np.random.default_rng([99, case])
    config, rate = make_case(rng, max_rate=30.0)
    r = config.validate()
    res = serving.simulate_requests(config, rate, seed=case)
    chips = r.chips_per_replica
    # busy + idle chip-seconds = provisioned replicas x chips x time, hour by hour
    np.testing.assert_allclose(res.busy_chip_s + res.idle_chip_s, res.replicas * chips * 3600.0, rtol=1e-12)
    assert np.all(res.busy_chip_s <= res.replicas * chips * 3600.0 * (1 + 1e-12))
    # energy = busy x P_busy + idle x P_idle
    np.testing.assert_allclose(res.it_energy_j, res.busy_chip_s * r.chip_busy_w + res.idle_chip_s * r.chip_idle_w,
                               rtol=1e-12)
    assert res.total_energy_j == pytest.approx(res.it_energy_j.sum() + res.drain_busy_chip_s * r.chip_busy_w,
                                               rel=1e-12)
    # every request is served exactly once
    assert res.latency_histogram.sum() == res.requests.sum()
    if not r.autoscale:
        assert np.all(res.replicas == r.replicas)
    if not r.exponential_service:
        # total busy time is a x batches + b x requests
        total = r.batch_fixed_s * res.batches + r.batch_per_query_s * res.requests.sum()
        assert res.total_busy_chip_s == pytest.approx(total * chips, rel=1e-9)


def test_idle_fleet_without_traffic():
    res = serving.simulate_requests(fixed(replicas=3), [0.0, 0.0], seed=1)
    assert res.requests.sum() == 0 and res.batches == 0
    np.testing.assert_array_equal(res.it_energy_j, [3 * 2 * 100.0 * 3600] * 2)
    assert math.isnan(res.wh_per_query) and np.isnan(res.latency_p99_s).all()
    assert serving.simulate_requests(fixed(replicas=0), [0.0], seed=1).total_energy_j == 0.0


def test_autoscaler_follows_traffic():
    cfg = ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0,
                        batching=Batching(latency_per_query_s=0.05),
                        autoscaling=Autoscaling(max_replicas=50, target_utilization=0.5))
    res = serving.simulate_requests(cfg, [20.0, 200.0, 200.0, 20.0, 20.0], seed=2)
    assert res.replicas[0] == pytest.approx(3.0, abs=0.5)            # ceil(20 * 0.05 / 0.5) = 2..3
    assert res.replicas[2] == pytest.approx(20.0, abs=1.5)           # 200 * 0.05 / 0.5 = 20
    assert res.replicas[4] < 4 and res.scale_ups >= 1 and res.scale_downs >= 1
    assert res.peak_replicas <= 50


# --- determinism ----------------------------------------------------------------

def test_same_seed_same_result_and_different_seed_differs():
    cfg = fixed(batching=Batching(max_batch_size=4, max_wait_s=0.05, latency_per_query_s=0.01,
                                  service_time="exponential"), replicas=2)
    a = serving.simulate_requests(cfg, [40.0, 10.0], seed=123)
    b = serving.simulate_requests(cfg, [40.0, 10.0], seed=123)
    c = serving.simulate_requests(cfg, [40.0, 10.0], seed=124)
    for name in ("requests", "busy_chip_s", "it_energy_j", "latency_histogram", "latency_mean_s"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.array_equal(a.latency_histogram, c.latency_histogram)
    assert a.seed_entropy == 123
    # a SeedSequence is accepted and used as is
    d = serving.simulate_requests(cfg, [40.0, 10.0], seed=np.random.SeedSequence(123))
    np.testing.assert_array_equal(a.it_energy_j, d.it_energy_j)


def test_same_result_on_several_threads_at_once():
    cfg = fixed(batching=Batching(max_batch_size=8, max_wait_s=0.02, latency_per_query_s=0.002,
                                  service_time="exponential"),
                replicas=None, autoscaling=Autoscaling(max_replicas=20, interval_s=30.0))
    rate = [300.0, 900.0, 100.0]
    serial = serving.simulate_requests(cfg, rate, seed=7)
    out = [None] * 4

    def work(i):
        out[i] = serving.simulate_requests(cfg, rate, seed=7)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for res in out:
        np.testing.assert_array_equal(res.it_energy_j, serial.it_energy_j)
        np.testing.assert_array_equal(res.latency_histogram, serial.latency_histogram)


def test_arrivals_do_not_depend_on_the_service_model():
    """Arrivals and service times use separate streams: same arrivals for any batching or service."""
    rate = [5.0, 0.0, 9.0]
    a = serving.simulate_requests(fixed(), rate, seed=11)
    b = serving.simulate_requests(fixed(replicas=4, batching=Batching(service_time="exponential",
                                                                      latency_per_query_s=0.3)), rate, seed=11)
    np.testing.assert_array_equal(a.requests, b.requests)


# --- memory does not grow with the number of requests --------------------------

def test_memory_does_not_grow_with_requests():
    cfg = fixed(batching=Batching(latency_per_query_s=1e-4), replicas=1)

    def peak(rate):
        tracemalloc.start()
        try:
            res = serving.simulate_requests(cfg, [rate], seed=1)
            return tracemalloc.get_traced_memory()[1], res.requests.sum()
        finally:
            tracemalloc.stop()

    small, n_small = peak(100.0)
    big, n_big = peak(2000.0)
    assert n_big > 15 * n_small
    assert big - small < 64 * 1024


# --- fluid mode -------------------------------------------------------------------

DIURNAL = 1 + 0.6 * np.sin(2 * np.pi * np.arange(24) / 24)


@pytest.mark.parametrize("fleet", ["fixed", "autoscaled"])
def test_fluid_agrees_with_request_level(fleet):
    """Tolerances (docs/serving.md): energy per hour within 2 % (fixed fleet) or 5 % (autoscaled)."""
    kw = (dict(replicas=12) if fleet == "fixed" else
          dict(autoscaling=Autoscaling(max_replicas=100, target_utilization=0.6)))
    cfg = ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0, chips_per_replica=2, energy_wh_per_query=0.004,
                        batching=Batching(max_batch_size=16, max_wait_s=0.02, latency_fixed_s=0.01), **kw)
    check = serving.compare_fluid(cfg, 200.0 * DIURNAL, seed=4, n_samples=4)
    assert check.hours.size == 4
    assert check.max_abs_energy_rel_diff < (0.02 if fleet == "fixed" else 0.05)
    assert np.max(np.abs(check.busy_rel_diff)) < 0.02


def test_fluid_mode_fields():
    cfg = fixed(replicas=3, batching=Batching(latency_per_query_s=0.01))
    res = serving.simulate_fluid(cfg, [100.0, 0.0])
    assert res.mode == "fluid"
    np.testing.assert_allclose(res.requests, [360000.0, 0.0])
    np.testing.assert_allclose(res.busy_chip_s, [360000 * 0.01 * 2, 0.0])
    np.testing.assert_allclose(res.busy_chip_s + res.idle_chip_s, 3 * 2 * 3600.0)
    assert np.isnan(res.latency_p99_s).all() and res.latency_mean_s[0] >= 0.01
    assert any("fluid mode" in w for w in res.warnings)
    with pytest.raises(serving.SimulationError, match="request-level"):
        res.latency_percentile(99)


def test_fluid_mean_batch_size():
    # no wait -> batches of one; E[min(B, 1 + Poisson(mu))] otherwise
    np.testing.assert_array_equal(serving.fluid_batch_size([10.0, 0.0], 8, 0.0), [1.0, 1.0])
    mu = 2.5
    pmf = [math.exp(-mu) * mu**k / math.factorial(k) for k in range(60)]
    expected = sum(min(4, 1 + k) * p for k, p in enumerate(pmf))
    assert serving.fluid_batch_size([mu / 0.1], 4, 0.1)[0] == pytest.approx(expected, rel=1e-12)
    assert serving.fluid_batch_size([1e5], 16, 1.0)[0] == pytest.approx(16.0)


def test_auto_mode_choice():
    cfg = fixed(replicas=2, batching=Batching(latency_per_query_s=0.001))
    small = serving.simulate(cfg, [10.0], seed=1)
    assert small.mode == "requests" and "auto" in small.mode_reason
    big = serving.simulate(cfg, [10.0], seed=1, request_limit=1000)
    assert big.mode == "fluid"
    years = serving.simulate(ServingConfig(chip_busy_w=400.0, chip_idle_w=100.0, energy_wh_per_query=0.001,
                                           autoscaling=Autoscaling(max_replicas=1000)),
                             3000.0 * np.tile(DIURNAL, 365 * 3), seed=1)
    assert years.mode == "fluid" and years.n_hours == 365 * 3 * 24
    assert serving.simulate(cfg, [10.0], seed=1, mode="fluid").mode == "fluid"


# --- histogram percentiles ------------------------------------------------------------

def test_histogram_percentiles_within_one_bin():
    rng = np.random.default_rng(0)
    x = rng.lognormal(-3, 1.0, 200_000)
    exp0 = 1023 - 12
    edges = serving.histogram_edges(exp0)
    k = np.searchsorted(edges, x, side="right") - 1
    hist = np.bincount(k, minlength=serving.N_HIST_BINS)[None, :].astype(np.uint32)
    got = serving.histogram_percentiles(hist, edges, [50, 95, 99])[:, 0]
    np.testing.assert_allclose(got, np.percentile(x, [50, 95, 99]), rtol=1 / 32)


# --- bad input ---------------------------------------------------------------------

def test_traffic_with_zero_replicas_is_an_error():
    with pytest.raises(ValueError, match=r"^replicas: must be >= 1 when traffic is > 0, got 0$"):
        serving.simulate(fixed(replicas=0), [0.0, 5.0], seed=1)
    for fn in (serving.simulate_requests, serving.simulate_fluid):
        with pytest.raises(ValueError, match="replicas: must be >= 1"):
            fn(fixed(replicas=0), [1.0], **({"seed": 1} if fn is serving.simulate_requests else {}))


def test_unreachable_latency_target_is_a_warning():
    cfg = fixed(latency_target_s=0.5, latency_target_percentile=99)      # a + b = 0.75 s > 0.5 s
    res = serving.simulate(cfg, [0.2], seed=1)
    assert any(w.startswith("latency target unreachable") for w in res.warnings)
    assert any("0.75" in w and "no fleet size" in w for w in res.warnings)
    fl = serving.simulate_fluid(cfg, [0.2])
    assert any(w.startswith("latency target unreachable") for w in fl.warnings)


def test_missed_latency_target_and_overload_are_warnings():
    cfg = fixed(latency_target_s=3.0, replicas=1)                        # reachable, but one replica is too few
    res = serving.simulate(cfg, [3.0, 0.0], seed=1)
    assert not any("unreachable" in w for w in res.warnings)
    assert any(w.startswith("latency target missed") for w in res.warnings)
    over = serving.simulate(cfg, [8.0], seed=1)                          # capacity 3 / 1.25 s = 2.4 req/s
    assert any(w.startswith("capacity exceeded") for w in over.warnings)
    assert over.drain_busy_chip_s > 0 and over.drain_end_s > 3600.0
    assert any(w.startswith("capacity exceeded") for w in serving.simulate_fluid(cfg, [8.0]).warnings)


BAD_CONFIGS = [
    (dict(chip_busy_w=-1.0), r"^chip_busy_w: must be greater than 0, got -1\.0$"),
    (dict(chip_busy_w=float("nan")), r"^chip_busy_w: must be a finite number \(not NaN or inf\), got nan$"),
    (dict(chip_idle_w=500.0), r"^chip_idle_w: must be less than or equal to chip_busy_w \(300\), got 500\.0$"),
    (dict(chips_per_replica=0), r"^chips_per_replica: must be greater than or equal to 1, got 0$"),
    (dict(chips_per_replica=2.0), r"^chips_per_replica: must be a whole number \(an integer, without a decimal point\), got 2\.0$"),
    (dict(replicas=True), r"^replicas: must be a valid integer, got True$"),
    (dict(replicas=-2), r"^replicas: must be greater than or equal to 0, got -2$"),
    (dict(replicas=None), r"^replicas: give either a fixed fleet"),
    (dict(autoscaling=Autoscaling(max_replicas=3)), r"^replicas: give either a fixed fleet"),
    (dict(replicas=None, autoscaling=Autoscaling(min_replicas=4, max_replicas=3)),
     r"^autoscaling.max_replicas: must be greater than or equal to min_replicas \(4\), got 3$"),
    (dict(replicas=None, autoscaling=Autoscaling(max_replicas=3, target_utilization=0.0)),
     r"^autoscaling.target_utilization: must be greater than 0, got 0\.0$"),
    (dict(replicas=None, autoscaling=Autoscaling(max_replicas=3, scale_up_delay_s=-5)),
     r"^autoscaling.scale_up_delay_s: must be greater than or equal to 0, got -5$"),
    (dict(replicas=None, autoscaling=Autoscaling(max_replicas=3, initial_replicas=9)),
     r"^autoscaling.initial_replicas: must be an integer in \[1, 3\], got 9$"),
    (dict(batching=Batching(max_batch_size=0, latency_per_query_s=0.1)),
     r"^batching.max_batch_size: must be greater than or equal to 1, got 0$"),
    (dict(batching=Batching(max_wait_s=-1.0, latency_per_query_s=0.1)), r"^batching.max_wait_s: must be greater than or equal to 0, got -1\.0$"),
    (dict(batching=Batching(service_time="normal", latency_per_query_s=0.1)),
     r"^batching.service_time: must be 'deterministic' or 'exponential', got 'normal'$"),
    (dict(batching=Batching()), r"give exactly one per-query cost"),
    (dict(energy_wh_per_query=0.01), r"give exactly one per-query cost"),
    (dict(batching=Batching(), flops_per_query=1e12), r"^chip_peak_flops: required with flops_per_query"),
    (dict(batching=Batching(), flops_per_query=1e12, chip_peak_flops=1e14, hardware_efficiency=1.5),
     r"^hardware_efficiency: must be less than or equal to 1, got 1\.5$"),
    (dict(chip_peak_flops=1e14), r"^chip_peak_flops: only used with flops_per_query"),
    (dict(latency_target_s=0.0), r"^latency_target_s: must be greater than 0, got 0\.0$"),
]


@pytest.mark.parametrize("change, message", BAD_CONFIGS)
def test_bad_config_names_field_value_and_rule(change, message):
    with pytest.raises(ValueError, match=message):
        fixed(**change).validate()


@pytest.mark.parametrize("rate, message", [
    ([1.0, -2.0], r"^hourly_rate_per_s\[1\]: must be finite and >= 0 \(requests per second\), got -2\.0$"),
    ([float("nan")], r"^hourly_rate_per_s\[0\]: must be finite and >= 0"),
    ([], r"^hourly_rate_per_s: must be a non-empty 1-D array"),
    ([[1.0, 2.0]], r"^hourly_rate_per_s: must be a non-empty 1-D array"),
    (["fast"], r"^hourly_rate_per_s: must be a 1-D array of numbers"),
    ([2e6], r"^hourly_rate_per_s\[0\]: is too high for the request-level engine"),
])
def test_bad_traffic(rate, message):
    with pytest.raises(ValueError, match=message):
        serving.simulate_requests(fixed(), rate, seed=1)


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"^mode: must be 'auto', 'requests' or 'fluid', got 'exact'$"):
        serving.simulate(fixed(), [1.0], seed=1, mode="exact")
    with pytest.raises(ValueError, match=r"^seed: must be a non-negative integer"):
        serving.simulate_requests(fixed(), [1.0], seed=-3)
    with pytest.raises(ValueError, match=r"^arrival_times_s\[2\]: must not be earlier than the time before it"):
        serving.simulate_trace(fixed(), [1.0, 5.0, 2.0])
    with pytest.raises(ValueError, match=r"^n_hours: must be greater than or equal to 2, got 1$"):
        serving.simulate_trace(fixed(), [1.0, 4000.0], n_hours=1)
    with pytest.raises(ValueError, match=r"^config: must be a ServingConfig"):
        serving.simulate_fluid({"replicas": 1}, [1.0])
