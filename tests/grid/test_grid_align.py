"""Year alignment and overflow.  A synthetic signal whose value is its own hour index shows where each hour came from."""
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from carbonsim.grid import GridDataWarning, GridError, GridSignal, align, constant_signal, load_signal

UTC = timezone.utc
H = timedelta(hours=1)
DATA_START = datetime(2022, 1, 1, tzinfo=UTC)
# Each hour's value is half its index (signals hold at most 5000 gCO2e/kWh): hour = 2 x value.
INDEX = GridSignal(name="index", region="x", source="test", year=2022, basis="direct", start=DATA_START,
                   values=np.arange(8760.0) / 2)


def source_times(values):
    return [DATA_START + int(2 * v) * H for v in values]


def test_same_year_needs_no_shift():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GridDataWarning)
        ciso = load_signal("eia:CISO")
    out = align(ciso, datetime(2022, 3, 1, tzinfo=UTC), 48)
    i = (datetime(2022, 3, 1, tzinfo=UTC) - ciso.start) // H
    np.testing.assert_array_equal(out, ciso.values[i:i + 48])
    assert out.dtype == np.float64 and out.flags.writeable


def test_other_year_without_year_shift_raises_with_options():
    with pytest.raises(GridError, match=r"simulation starts in 2025 but the data cover 2022.*year_shift='weekday'.*year_shift='exact'"):
        align(INDEX, datetime(2025, 6, 1, tzinfo=UTC), 24)
    with pytest.raises(GridError, match="simulation starts in 2025"):
        align(INDEX, datetime(2025, 6, 1, tzinfo=UTC), 24, year_shift="none", overflow="wrap")


def test_exact_uses_hour_of_year():
    out = align(INDEX, datetime(2025, 6, 1, 5, tzinfo=UTC), 3, year_shift="exact")
    assert source_times(out)[0] == datetime(2022, 6, 1, 5, tzinfo=UTC)
    # 2024 is a leap year: 1 March 2024 is hour 60*24 of the year, which is 2 March in 2022.
    out = align(INDEX, datetime(2024, 3, 1, tzinfo=UTC), 1, year_shift="exact")
    assert source_times(out) == [datetime(2022, 3, 2, tzinfo=UTC)]


@pytest.mark.parametrize("start", [datetime(2025, 6, 2, 13, tzinfo=UTC), datetime(2023, 9, 30, tzinfo=UTC),
                                   datetime(2024, 12, 1, 23, tzinfo=UTC), datetime(2026, 2, 28, 7, tzinfo=UTC)])
def test_weekday_keeps_weekday_and_hour_within_three_days(start):
    n = 24 * 14
    out = align(INDEX, start, n, year_shift="weekday")
    exact = DATA_START + (start - datetime(start.year, 1, 1, tzinfo=UTC))
    src = source_times(out)
    assert abs(src[0] - exact) <= timedelta(days=3)
    for k, t in enumerate(src):
        sim = start + k * H
        assert (t.weekday(), t.hour) == (sim.weekday(), sim.hour)
    assert np.all(np.diff(2 * out) == 1)  # contiguous


def test_weekday_near_the_year_edges_stays_in_the_data():
    # 1 Jan 2025 is a Wednesday; the nearest Wednesday to 1 Jan 2022 (a Saturday) is 29 Dec 2021, before the data,
    # so the start moves one week later, to 5 Jan 2022.
    out = align(INDEX, datetime(2025, 1, 1, tzinfo=UTC), 24, year_shift="weekday")
    assert source_times(out)[0] == datetime(2022, 1, 5, tzinfo=UTC)
    wrapped = align(INDEX, datetime(2025, 1, 1, tzinfo=UTC), 24, year_shift="weekday", overflow="wrap")
    assert source_times(wrapped)[0] == datetime(2022, 1, 5, tzinfo=UTC)  # the start is always moved into the data
    # 31 Dec 2024 (Tuesday, leap year: hour of year -> 1 Jan 2023, past the data) moves back to Tuesday 27 Dec 2022
    late = align(INDEX, datetime(2024, 12, 31, tzinfo=UTC), 48, year_shift="weekday", overflow="wrap")
    assert source_times(late)[0] == datetime(2022, 12, 27, tzinfo=UTC)
    end = align(INDEX, datetime(2025, 12, 30, tzinfo=UTC), 48, year_shift="weekday")
    assert source_times(end)[-1] < datetime(2023, 1, 1, tzinfo=UTC)
    assert source_times(end)[0].weekday() == datetime(2025, 12, 30).weekday()


def test_overflow_error_or_wrap():
    start = datetime(2022, 12, 31, 12, tzinfo=UTC)
    with pytest.raises(GridError, match=r"needs 2022-12-31T12:00Z..2023-01-01T12:00Z but the data cover.*overflow='wrap'"):
        align(INDEX, start, 24)
    out = align(INDEX, start, 24, overflow="wrap")
    np.testing.assert_array_equal(2 * out, np.r_[np.arange(8748, 8760), np.arange(12)])
    out = align(INDEX, datetime(2022, 1, 1, tzinfo=UTC), 3 * 8760, overflow="wrap")
    assert out.size == 3 * 8760 and out[8760] == 0


def test_constant_signal_applies_to_any_year():
    np.testing.assert_array_equal(align(constant_signal(123.0), datetime(2031, 5, 5, tzinfo=UTC), 4), [123.0] * 4)
    gcp = load_signal("gcp:europe-west1@2021")
    assert align(gcp, datetime(2030, 1, 1, tzinfo=UTC), 2).tolist() == [gcp.values[0]] * 2


def test_bad_arguments():
    with pytest.raises(GridError, match="timezone-aware"):
        align(INDEX, datetime(2022, 1, 1), 1)
    with pytest.raises(GridError, match="whole UTC hour"):
        align(INDEX, datetime(2022, 1, 1, 0, 30, tzinfo=UTC), 1)
    with pytest.raises(GridError, match="year_shift must be"):
        align(INDEX, DATA_START, 1, year_shift="nearest")
    with pytest.raises(GridError, match="overflow must be"):
        align(INDEX, DATA_START, 1, overflow="clip")
    with pytest.raises(GridError, match="n_hours must be an integer"):
        align(INDEX, DATA_START, -1)
    # a tz-aware start in another zone is converted: 01:00+01:00 is 00:00 UTC
    assert align(INDEX, datetime(2022, 1, 1, 1, tzinfo=timezone(H)), 1).tolist() == [0.0]


def test_missing_hours_in_the_window_raise():
    raw = load_signal("eia:PJM", gap_policy="keep", glitch_policy="ignore")
    with pytest.raises(GridError, match="22 of the requested hours are missing.*gap_policy='interpolate'"):
        align(raw, datetime(2022, 3, 13, tzinfo=UTC), 48)
