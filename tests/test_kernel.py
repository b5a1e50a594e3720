"""The integration kernel against its plain-Python reference and by hand."""
import datetime as dt
import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carbonsim import SimulationError
from carbonsim.sim.accounting import IntensityTable, integrate
from carbonsim.sim.accounting_reference import integrate_intervals as reference

T0 = dt.datetime(2022, 1, 1, tzinfo=dt.timezone.utc)
HOUR = 3600.0


def table_of(values):
    values = np.asarray(values, dtype=float)
    if values.ndim == 2:
        values = values[:, :, None]
    return IntensityTable.from_values(T0, [f"dc{i}" for i in range(values.shape[0])], values)


def test_interval_crossing_two_hour_boundaries_by_hand():
    # 1 kW from 00:30 to 02:15 over hours valued 100, 200, 300 gCO2e/kWh:
    # 0.5 h x 100 + 1 h x 200 + 0.25 h x 300 = 325 g; energy 1.75 kWh.
    table = table_of([[100.0, 200.0, 300.0, 400.0]])
    energy, weighted = integrate([0.5 * HOUR], [2.25 * HOUR], [1000.0], [0], table)
    assert energy[0] / 3.6e6 == pytest.approx(1.75, rel=1e-15)
    assert weighted[0, 0] / 3.6e6 == pytest.approx(325.0, rel=1e-15)


def test_interval_inside_one_hour_and_on_boundaries():
    table = table_of([[10.0, 20.0, 30.0]])
    e, w = integrate([HOUR, 1.25 * HOUR, 0.0, 3 * HOUR], [2 * HOUR, 1.5 * HOUR, 3 * HOUR, 3 * HOUR],
                     [3.6e6 / HOUR] * 4, [0] * 4, table)
    # 1 kWh per hour of power: weighted/3.6e6 is intensity x hours
    assert w[:, 0] / 3.6e6 == pytest.approx([20.0, 5.0, 60.0, 0.0], rel=1e-15, abs=0)
    assert e[3] == 0.0


def test_several_signals_and_datacenters():
    values = np.array([[[1.0, 2.0], [3.0, 4.0]], [[10.0, 0.0], [20.0, 5.0]]])
    table = IntensityTable.from_values(T0, ["a", "b"], values)
    e, w = integrate([0.5 * HOUR, 0.5 * HOUR], [1.5 * HOUR, 1.5 * HOUR], [1.0, 2.0], [0, 1], table)
    assert w[0] == pytest.approx([0.5 * HOUR * 4, 0.5 * HOUR * 6])
    assert w[1] == pytest.approx([2 * 0.5 * HOUR * 30, 2 * 0.5 * HOUR * 5])


@st.composite
def cases(draw):
    n_dc = draw(st.integers(1, 3))
    n_h = draw(st.integers(1, 60))
    # Grid intensities: zero, or 0.001-1000 gCO2e/kWh.  (Denormal values such as 1e-45 next to
    # 1.0 are below the prefix sums' absolute resolution, eps x prefix; no grid data look like that.)
    value = st.one_of(st.just(0.0), st.floats(1e-3, 1000))
    vals = draw(st.lists(value, min_size=n_dc * n_h * 2, max_size=n_dc * n_h * 2))
    values = np.array(vals).reshape(n_dc, n_h, 2)
    t_max = n_h * HOUR
    n = draw(st.integers(1, 20))
    starts, ends, powers, dcs = [], [], [], []
    for _ in range(n):
        a = draw(st.floats(0, t_max, allow_nan=False))
        b = draw(st.floats(0, t_max, allow_nan=False))
        starts.append(min(a, b))
        ends.append(max(a, b))
        powers.append(draw(st.floats(0, 1e6, allow_nan=False)))
        dcs.append(draw(st.integers(0, n_dc - 1)))
    return values, np.array(starts), np.array(ends), np.array(powers), np.array(dcs, dtype=np.int32)


@settings(max_examples=300, deadline=None)
@given(cases())
def test_kernel_matches_reference(case):
    values, s, e, p, d = case
    energy, weighted = integrate(s, e, p, d, IntensityTable.from_values(T0, ["a", "b", "c"][: values.shape[0]], values))
    ref_e, ref_w = reference(s, e, p, d, values)
    np.testing.assert_allclose(energy, ref_e, rtol=1e-12, atol=0)
    # The only loss is rounding of whole-hour prefix differences, relative to the hours covered.
    scale = np.maximum(np.abs(np.array(ref_w)), 1e-300)
    err = np.abs(weighted - np.array(ref_w)) / scale
    small = np.array(ref_w) == 0
    assert np.all(err[~small] <= 1e-9), err.max()
    assert np.all(np.abs(weighted[small]) <= 1e-6)


def test_short_intervals_late_in_a_year_stay_exact():
    # The naive F(end) - F(start) form loses ~1e-4 relative here; the split form must not.
    rng = np.random.default_rng(7)
    values = rng.uniform(50, 800, size=(1, 8760, 2))
    s = rng.uniform(8700 * HOUR, 8759 * HOUR, size=2000)
    e = s + rng.uniform(0.001, 1.0, size=2000)  # milliseconds to a second
    p = np.full(2000, 400.0)
    d = np.zeros(2000, dtype=np.int32)
    _, w = integrate(s, e, p, d, table_of(values))
    _, ref_w = reference(s, e, p, d, values)
    np.testing.assert_allclose(w, ref_w, rtol=1e-9)
    # and the naive form really would fail, so this test can tell the difference
    F = np.concatenate([[0.0], np.cumsum(values[0, :, 0]) * HOUR])
    naive = p * (np.interp(e, np.arange(8761) * HOUR, F) - np.interp(s, np.arange(8761) * HOUR, F))
    assert np.max(np.abs(naive / np.array(ref_w)[:, 0] - 1)) > 1e-7


def test_many_random_intervals_over_a_year_match_reference():
    rng = np.random.default_rng(1)
    values = rng.uniform(0, 900, size=(8, 8760, 2))
    n = 3000
    s = rng.uniform(0, 8760 * HOUR - 1, size=n)
    e = np.minimum(s + rng.exponential(20 * HOUR, size=n), 8760 * HOUR)
    p = rng.uniform(100, 1e6, size=n)
    d = rng.integers(0, 8, size=n).astype(np.int32)
    energy, w = integrate(s, e, p, d, table_of(values))
    ref_e, ref_w = reference(s, e, p, d, values)
    np.testing.assert_allclose(energy, ref_e, rtol=1e-12)
    np.testing.assert_allclose(w, ref_w, rtol=1e-9)
    # three ways to one total: kernel, reference, and the definition sum(P x t)
    assert energy.sum() == pytest.approx(np.sum(p * (e - s)), rel=1e-12)


@pytest.mark.parametrize("start,end,dc", [
    (-1.0, 10.0, 0),           # before the table
    (0.0, 3 * HOUR + 1, 0),    # past its end
    (20.0, 10.0, 0),           # end before start
    (float("nan"), 10.0, 0),   # NaN
    (0.0, float("inf"), 0),    # inf
    (0.0, 10.0, 5),            # no such datacenter
    (0.0, 10.0, -1),
])
def test_intervals_outside_the_table_raise_instead_of_reading_out_of_bounds(start, end, dc):
    table = table_of([[1.0, 2.0, 3.0]])
    with pytest.raises(SimulationError, match="outside the intensity table"):
        integrate([0.0, start], [1.0, end], [1.0, 1.0], [0, dc], table)


def test_bad_power_and_shapes_are_rejected_before_the_kernel():
    table = table_of([[1.0]])
    with pytest.raises(ValueError, match="power_w"):
        integrate([0.0], [1.0], [-1.0], [0], table)
    with pytest.raises(ValueError, match="one length"):
        integrate([0.0, 1.0], [1.0], [1.0], [0], table)
    with pytest.raises(ValueError, match="finite and non-negative"):
        table_of([[1.0, float("nan")]])


def test_threads_give_identical_results():
    rng = np.random.default_rng(3)
    values = rng.uniform(0, 900, size=(8, 8760, 2))
    table = table_of(values)
    n = 200_000
    s = rng.uniform(0, 8000 * HOUR, size=n)
    e = s + rng.exponential(10 * HOUR, size=n)
    p = rng.uniform(100, 1e5, size=n)
    d = rng.integers(0, 8, size=n).astype(np.int32)
    base = integrate(s, e, p, d, table)
    # prange inside one call
    for threads in (2, 4):
        got = integrate(s, e, p, d, table, num_threads=threads)
        assert np.array_equal(got[0], base[0]) and np.array_equal(got[1], base[1])
    # several Python threads calling the kernel at once (the GIL is released)
    out = [None] * 4

    def work(i):
        out[i] = integrate(s, e, p, d, table)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for got in out:
        assert np.array_equal(got[0], base[0]) and np.array_equal(got[1], base[1])
