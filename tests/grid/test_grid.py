"""Bundled grid data, names, gap policy and glitch detection (uses only the bundled data)."""
import warnings
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from carbonsim import grid
from carbonsim.grid import GridDataWarning, GridError, GridSignal, fill_gaps, find_glitches, load_signal

UTC = timezone.utc
H = timedelta(hours=1)


def quiet(name, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GridDataWarning)
        return load_signal(name, **kw)


def at(sig, t):
    return (t - sig.start) // H


# Means from /work/shared/data/grid/README.md ("Per-region mean intensity"), which
# were computed over the non-NaN hours only, hence gap_policy="keep" below.
EIA_MEANS = {"BPAT": 54.7, "CISO": 256.2, "NYIS": 272.8, "ERCO": 347.2, "PJM": 362.6, "SOCO": 423.2,
             "MISO": 440.5, "AZPS": 575.0}
EM_MEANS = {"CA-ON": (46.9, 72.8), "BR-SP": (56.1, 90.3), "GB": (128.6, 187.5), "US-CAL-CISO": (194.0, 260.7),
            "US-NY-NYIS": (209.7, 277.8), "CL-SIC": (220.6, 275.6), "DE-LU": (307.7, 367.0),
            "US-TEX-ERCO": (316.7, 380.5), "US-MIDA-PJM": (321.8, 392.4), "SG": (369.2, 488.1),
            "KR": (378.2, 439.7), "JP-TK": (449.9, 539.7), "AU-VIC": (458.2, 504.4), "AU-NSW": (502.1, 554.2),
            "ZA": (644.5, 702.1), "IN-WE": (691.1, 749.2)}


@pytest.mark.parametrize("ba,mean", sorted(EIA_MEANS.items()))
def test_eia_means_match_readme(ba, mean):
    sig = load_signal(f"eia:{ba}", gap_policy="keep", glitch_policy="ignore")
    assert round(sig.mean, 1) == mean
    assert (sig.basis, sig.kind, sig.units, sig.year) == ("lifecycle", "average", "gCO2e/kWh", 2022)


@pytest.mark.parametrize("zone,means", sorted(EM_MEANS.items()))
def test_electricitymaps_means_match_readme(zone, means):
    direct, lca = load_signal(f"em:{zone}"), load_signal(f"em:{zone}/lifecycle")
    assert (round(direct.mean, 1), round(lca.mean, 1)) == means
    assert (direct.basis, lca.basis, direct.year) == ("direct", "lifecycle", 2023)
    assert np.array_equal(direct.cfe, lca.cfe) and 0 <= direct.cfe.min() and direct.cfe.max() <= 1


def test_every_hourly_series_loads_complete():
    hourly = [e for e in grid.list_signals() if e["resolution"] == "hourly" and "provider" not in e]  # not cloud names
    assert len(hourly) == 8 + 16 * 2  # 8 EIA BAs; 16 zones x (direct, lifecycle)
    assert len({(e["source"], e["region"]) for e in hourly}) == 24
    for e in hourly:
        sig = quiet(e["name"])
        assert sig.n_hours == 8760 and not np.isnan(sig.values).any()
        assert sig.start == datetime(sig.year, 1, 1, tzinfo=UTC) and sig.end == datetime(sig.year + 1, 1, 1, tzinfo=UTC)
        assert not sig.values.flags.writeable and sig.values.dtype == np.float64
        assert sig.cfe is not None and sig.cfe.shape == sig.values.shape and not np.isnan(sig.cfe).any()
        assert e["min"] <= sig.mean <= e["max"]


def test_list_signals_covers_annual_tables():
    names = {e["name"]: e for e in grid.list_signals()}
    for name in ("gcp:us-central1@annual", "gcp:us-central1@2019", "gcp:europe-west3@2024", "mlco2:aws:us-east-1@annual",
                 "mlco2:azure:westeurope", "mlco2:gcp:us-central1@annual", "country:DEU", "owid:DEU", "country:IND"):
        assert names[name]["resolution"] == "annual", name
    # cloud regions on a bundled hourly series use it (tests/grid/test_cloud_regions.py)
    for name in ("gcp:us-central1", "mlco2:aws:us-east-1", "mlco2:gcp:us-central1"):
        assert names[name]["resolution"] == "hourly", name
    assert {e["year"] for e in grid.list_signals("gcp:")} == set(range(2019, 2025))
    assert all(isinstance(e["mean"], (int, float)) for e in names.values())
    assert [e["name"] for e in grid.list_signals("eia:")] == [f"eia:{b}" for b in sorted(EIA_MEANS)]


def test_estimated_fractions_match_readme():
    # README: 100% of hours estimated for IN-WE and JP-TK, 8.4% for SG.
    assert load_signal("em:IN-WE").estimated_fraction == 1.0
    assert load_signal("em:JP-TK").estimated.all()
    assert round(load_signal("em:SG").estimated_fraction, 3) == 0.084
    assert load_signal("eia:BPAT").estimated_fraction is None


def test_gcp_years_and_bases():
    s19, s20, s22, latest = (load_signal(f"gcp:us-central1{y}") for y in ("@2019", "@2020", "@2022", "@annual"))
    assert (s19.values[0], s22.values[0]) == (479.0, 460.0)
    # 2019 and 2020 files are headed "Lifecycle grid carbon intensity"; 2021+ "Grid carbon intensity" (operational).
    assert (s19.basis, s20.basis, s22.basis) == ("lifecycle", "lifecycle", "direct")
    assert latest.year == 2024 and latest.constant and latest.end is None
    assert s22.cfe[0] == pytest.approx(0.92)


def test_country_signals():
    ember, owid = load_signal("country:DEU"), load_signal("owid:DEU")
    assert (ember.values[0], ember.year, ember.basis) == (342.06, 2024, "lifecycle")
    assert (owid.values[0], owid.year) == (380.95, 2023)
    assert "Ember" in ember.source and "Our World in Data" in owid.source
    assert "Our World in Data" in load_signal("country:BMU").source  # Ember lacks Bermuda
    assert load_signal("mlco2:aws:us-east-1@annual").basis == "unspecified"


def test_unknown_name_suggests_and_tells_how_to_list():
    with pytest.raises(GridError, match=r"did you mean 'eia:CISO'.*list_signals\(\)") as info:
        load_signal("eia:CISOO")
    assert isinstance(info.value, ValueError)
    with pytest.raises(GridError, match="em:DE-LU"):
        load_signal("em:DE-LU/lca")
    assert quiet("EIA:ciso").name == "eia:CISO"  # case-insensitive


def test_pjm_22_hour_gap_fills_with_warning_by_default():
    with pytest.warns(GridDataWarning) as rec:
        sig = load_signal("eia:PJM", glitch_policy="ignore")
    (msg,) = [str(w.message) for w in rec]
    assert "eia:PJM" in msg and "2022-03-13T07:00Z..2022-03-14T04:00Z (22 h)" in msg and "2022-11-07T05:00Z" in msg
    raw = load_signal("eia:PJM", gap_policy="keep", glitch_policy="ignore")
    i = at(sig, datetime(2022, 3, 13, 7, tzinfo=UTC))
    assert np.isnan(raw.values[i:i + 22]).all() and raw.missing_hours == 23
    before, after = raw.values[i - 1], raw.values[i + 22]
    np.testing.assert_allclose(sig.values[i - 1:i + 23], np.linspace(before, after, 24))


def test_pjm_gap_fails_with_lower_limit_or_error_policy():
    with pytest.raises(GridError, match=r"eia:PJM: 22 consecutive missing hours 2022-03-13T07:00Z.*max_gap_hours=12"):
        load_signal("eia:PJM", max_gap_hours=12, glitch_policy="ignore")
    with pytest.raises(GridError, match="23 missing hours"):
        load_signal("eia:PJM", gap_policy="error", glitch_policy="ignore")
    with pytest.raises(GridError, match="gap_policy must be one of"):
        load_signal("eia:PJM", gap_policy="zero")


def test_pjm_glitch_hours_are_found_and_reported():
    expected = [datetime(2022, 10, 1, h, tzinfo=UTC) for h in (5, 6, 7, 8)] + [datetime(2022, 10, 2, 4, tzinfo=UTC)]
    with pytest.warns(GridDataWarning, match=r"eia:PJM: 5 glitch hours.*2022-10-01T05:00Z..2022-10-01T08:00Z"):
        sig = load_signal("eia:PJM", gap_policy="keep")
    assert find_glitches(sig) == expected
    assert all(40 < sig.values[at(sig, t)] < 50 for t in expected)  # kept as published
    with pytest.warns(GridDataWarning) as rec:
        filled = load_signal("eia:PJM", glitch_policy="fill")
    assert "set to missing" in str(rec[0].message) and "filled 28 missing hours" in str(rec[1].message)
    assert all(filled.values[at(sig, t)] > 250 for t in expected)
    for ba in sorted(set(EIA_MEANS) - {"PJM"}):
        assert find_glitches(quiet(f"eia:{ba}")) == [], ba


def test_eia_cfe_from_generation():
    sig = load_signal("eia:BPAT")
    gen = sig.generation
    i = 100
    clean = sum(gen[f][i] for f in ("WND", "SUN", "WAT", "NUC"))
    assert sig.cfe[i] == pytest.approx(clean / sum(g[i] for g in gen.values()))
    assert sig.cfe.mean() > 0.8 > quiet("eia:AZPS").cfe.mean()


def test_fill_gaps_interpolates_holds_edges_and_names_hours():
    start = datetime(2023, 1, 1, tzinfo=UTC)
    with pytest.warns(GridDataWarning, match=r"zoneX: filled 4 missing hours.*2023-01-01T02:00Z..2023-01-01T03:00Z"):
        out = fill_gaps([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan], name="zoneX", start=start)
    np.testing.assert_array_equal(out, [1, 1, 2, 3, 4, 4])
    with pytest.raises(GridError, match="3 consecutive missing hours hour 1..hour 3.*max_gap_hours=2"):
        fill_gaps([1.0, np.nan, np.nan, np.nan, 5.0], max_gap_hours=2)
    with pytest.raises(GridError, match="every hour is missing"):
        fill_gaps([np.nan, np.nan])


def test_signal_validation_and_constant():
    t = datetime(2023, 1, 1, tzinfo=UTC)
    with pytest.raises(GridError, match="values must be finite and >= 0, got -1.0"):
        GridSignal(name="x", region="x", source="s", year=2023, basis="direct", start=t, values=[1.0, -1.0])
    with pytest.raises(GridError, match="timezone-aware"):
        GridSignal(name="x", region="x", source="s", year=2023, basis="direct", start=datetime(2023, 1, 1), values=[1.0])
    with pytest.raises(GridError, match="basis must be one of"):
        GridSignal(name="x", region="x", source="s", year=2023, basis="market", start=t, values=[1.0])
    c = grid.constant_signal(400, name="flat")
    assert c.constant and c.values.tolist() == [400.0] and c.mean == 400.0 and "constant" in c.describe()
    with pytest.raises(GridError, match="finite and >= 0"):
        grid.constant_signal(-5)


def test_describe_and_cache_clear():
    text = quiet("eia:PJM").describe()
    assert "lifecycle average" in text and "glitch" in text and "8760 h" in text
    grid.clear_cache()
    assert load_signal("em:GB").n_hours == 8760
