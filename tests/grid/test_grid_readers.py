"""User-file loaders on the committed excerpts in tests/data/grid, and their error messages."""
import warnings
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from carbonsim.grid import (GridDataWarning, GridError, find_glitches, load_signal, read_csv,
                            read_eia930_csv, read_electricitymaps_csv)

DATA = Path(__file__).resolve().parent.parent / "data" / "grid"
UTC = timezone.utc
H = timedelta(hours=1)


def bundled(name, start, n):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GridDataWarning)
        sig = load_signal(name)
    i = (start - sig.start) // H
    return sig.values[i:i + n]


def write(tmp_path, text, name="f.csv"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_eia_excerpt_with_pjm_gap_matches_bundle():
    with pytest.warns(GridDataWarning, match=r"eia:PJM: filled 22 missing hours.*2022-03-13T07:00Z..2022-03-14T04:00Z"):
        sig = read_eia930_csv(DATA / "PJM_gap_excerpt.csv")
    assert (sig.name, sig.start, sig.n_hours, sig.basis) == ("eia:PJM", datetime(2022, 3, 13, tzinfo=UTC), 34, "lifecycle")
    np.testing.assert_allclose(sig.values, bundled("eia:PJM", sig.start, 34), rtol=1e-6)
    assert set(sig.generation) == {"WND", "SUN", "WAT", "OIL", "NG", "COL", "NUC", "OTH"}
    with pytest.raises(GridError, match="22 consecutive missing hours.*max_gap_hours=12"):
        read_eia930_csv(DATA / "PJM_gap_excerpt.csv", max_gap_hours=12)


def test_eia_excerpt_ciso_single_nan_hour():
    with pytest.warns(GridDataWarning, match=r"eia:CISO: filled 1 missing hours.*2022-01-05T10:00Z \(1 h\)"):
        sig = read_eia930_csv(DATA / "CISO_excerpt.csv")
    assert sig.n_hours == 24
    assert sig.values[10] == pytest.approx((sig.values[9] + sig.values[11]) / 2)


def test_eia_excerpt_glitch_detection():
    with pytest.warns(GridDataWarning, match="eia:PJM: 5 glitch hours"):
        sig = read_eia930_csv(DATA / "PJM_glitch_excerpt.csv")
    hours = find_glitches(sig)
    assert [t.strftime("%m-%d %H") for t in hours] == ["10-01 05", "10-01 06", "10-01 07", "10-01 08", "10-02 04"]
    assert find_glitches(sig, min_fraction=0.001) == []


def test_electricitymaps_excerpt_matches_bundle():
    sig = read_electricitymaps_csv(DATA / "DE-LU_excerpt.csv")
    lca = read_electricitymaps_csv(DATA / "DE-LU_excerpt.csv", basis="lifecycle")
    assert (sig.name, lca.name, sig.region) == ("em:DE", "em:DE/lifecycle", "DE")  # the file's Zone Id
    assert sig.start == datetime(2023, 4, 14, 18, tzinfo=UTC) and sig.n_hours == 36
    np.testing.assert_allclose(sig.values, bundled("em:DE-LU", sig.start, 36), rtol=1e-6)
    np.testing.assert_allclose(lca.values, bundled("em:DE-LU/lifecycle", sig.start, 36), rtol=1e-6)
    assert sig.estimated.sum() == 22 and sig.estimated_fraction == pytest.approx(22 / 36)
    assert sig.cfe[0] == pytest.approx(0.4855)


def test_generic_sub_hourly_csv_is_averaged_to_hours():
    sig = read_csv(DATA / "ciso_15min.csv", name="ciso15")
    assert (sig.name, sig.start, sig.n_hours, sig.basis) == ("ciso15", datetime(2022, 7, 1, tzinfo=UTC), 12, "unspecified")
    # samples are v-3, v-1, v+1, v+3 around the real hourly CISO value v
    np.testing.assert_allclose(sig.values, bundled("eia:CISO", sig.start, 12), atol=1e-3)


@pytest.mark.parametrize("fname,first_utc,n", [
    ("nyis_local_fall_back.csv", datetime(2022, 11, 6, 2, tzinfo=UTC), 12),  # 01:00 local appears twice
    ("nyis_local_spring_forward.csv", datetime(2022, 3, 13, 3, tzinfo=UTC), 10),  # 02:00 local does not exist
])
def test_local_time_csv_across_dst_is_converted_to_utc(fname, first_utc, n):
    sig = read_csv(DATA / fname, timezone="America/New_York")
    assert sig.start == first_utc and sig.n_hours == n and not np.isnan(sig.values).any()
    np.testing.assert_allclose(sig.values, bundled("eia:NYIS", first_utc, n), atol=1e-3)


def test_local_time_read_as_utc_is_shifted():
    sig = read_csv(DATA / "nyis_local_spring_forward.csv", gap_policy="keep")  # wrongly taken as UTC: the skipped hour is a gap
    assert sig.start == datetime(2022, 3, 12, 22, tzinfo=UTC) and sig.missing_hours == 1


def test_lbs_per_mwh_is_converted():
    sig = read_csv(DATA / "azps_lbs_per_mwh.csv", unit="lbs/MWh")
    np.testing.assert_allclose(sig.values, bundled("eia:AZPS", datetime(2022, 6, 1, tzinfo=UTC), 24), atol=1e-3)


def test_kg_per_kwh_and_offsets(tmp_path):
    p = write(tmp_path, "timestamp,value\n2023-05-01T00:00+02:00,0.25\n2023-05-01T01:00+02:00,0.5\n")
    sig = read_csv(p, unit="kgCO2e/kWh")
    assert sig.start == datetime(2023, 4, 30, 22, tzinfo=UTC) and sig.values.tolist() == [250.0, 500.0]


def test_missing_row_becomes_a_filled_gap(tmp_path):
    p = write(tmp_path, "2023-01-01 00:00,100\n2023-01-01 01:00,110\n2023-01-01 03:00,130\n")  # no header
    with pytest.warns(GridDataWarning, match=r"file:f: filled 1 missing hours.*2023-01-01T02:00Z"):
        sig = read_csv(p)
    assert sig.values.tolist() == [100.0, 110.0, 120.0, 130.0]


@pytest.mark.parametrize("body,kw,pattern", [
    ("timestamp,value\n2023-01-01 00:00,100\n2023-01-01 01:00,abc\n", {},
     r"f\.csv:3: value is not a number, got 'abc' \(fix the value"),
    ("timestamp,value\n2023-01-01 00:00,100\nyesterday,5\n", {}, r"f\.csv:3: timestamp is not ISO 8601, got 'yesterday'"),
    ("timestamp,value\n2023-01-01 00:00,100\n2023-01-01 00:00,101\n", {},
     r"f\.csv:3: duplicate timestamp \(same UTC time as line 2\).*remove the duplicate row"),
    ("timestamp,value\n2023-01-01 02:00,100\n2023-01-01 01:00,101\n", {},
     r"f\.csv:3: timestamp goes back in time \(line 2 is 2023-01-01T02:00:00Z\).*sort the rows"),
    ("timestamp,value\n2023-01-01 00:00,100\n2023-01-01 01:00,-4\n", {}, r"f\.csv:3: value must be >= 0, got '-4'"),
    ("timestamp,value\n2023-01-01 00:00,inf\n", {}, r"f\.csv:2: value must be finite"),
    ("timestamp,value\n2022-03-13 02:30,100\n", {"timezone": "America/New_York"},
     r"f\.csv:2: local time does not exist in America/New_York"),
    ("timestamp,value\n2023-01-01 00:00,100\n", {"unit": "MWh"}, r"unknown unit, got 'MWh' \(use 'g/kWh'"),
    ("timestamp,value\n2023-01-01 00:00,100\n", {"timezone": "Mars/Olympus"}, r"unknown timezone, got 'Mars/Olympus'"),
    ("timestamp,value\n", {}, r"no data rows"),
    ("timestamp,value\n2023-01-01 00:00\n", {}, r"f\.csv:2: row needs a timestamp and a value"),
])
def test_generic_csv_errors_name_file_line_value_rule(tmp_path, body, kw, pattern):
    with pytest.raises(GridError, match=pattern):
        read_csv(write(tmp_path, body), **kw)


def test_format_specific_errors(tmp_path):
    with pytest.raises(GridError, match=r"f\.csv:1: missing column containing 'carbon intensity' and '\(direct\)'"):
        read_electricitymaps_csv(write(tmp_path, "Datetime (UTC),Zone Id\n2023-01-01 00:00:00,DE\n"))
    with pytest.raises(GridError, match=r"header needs 'timestamp' and 'avg_CI'"):
        read_eia930_csv(write(tmp_path, "time,WND\n2022-01-01,1\n"))
    body = (DATA / "CISO_excerpt.csv").read_text().replace(",296.88716185921385", ",-296.9")
    with pytest.raises(GridError, match=r"f\.csv:13: avg_CI must be >= 0, got '-296.9'"):
        read_eia930_csv(write(tmp_path, body))
    with pytest.raises(GridError, match="Data Estimated must be true or false"):
        read_electricitymaps_csv(write(tmp_path, (DATA / "DE-LU_excerpt.csv").read_text().replace(",false,", ",maybe,", 1)))
