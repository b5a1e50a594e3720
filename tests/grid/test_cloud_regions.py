"""Cloud regions on the hourly series of the grids they draw from (carbonsim/grid/cloud.py)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import carbonsim
from carbonsim import grid
from carbonsim.cli import main
from carbonsim.grid.cloud import REGIONS

MAPPED = [(p, r, row[0]) for p, regions in REGIONS.items() for r, row in regions.items() if row[0]]


def quiet(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", grid.GridDataWarning)
        return grid.load_signal(name)


@pytest.mark.parametrize("provider, region, series", MAPPED, ids=[f"{p}:{r}" for p, r, _ in MAPPED])
def test_a_mapped_region_is_its_series(provider, region, series):
    sig, base = quiet(f"{provider}:{region}"), quiet(series)
    assert not sig.constant and sig.series == series and sig.name == f"{provider}:{region}"
    np.testing.assert_array_equal(sig.values, base.values)
    np.testing.assert_array_equal(sig.cfe, base.cfe)
    assert (sig.basis, sig.year, sig.start) == (base.basis, base.year, base.start) and sig.basis == "lifecycle"
    assert series in sig.notes and "Green Software Foundation" in sig.notes


def test_the_examples_of_the_issue():
    assert quiet("gcp:us-central1").series == "eia:MISO"
    assert quiet("aws:us-east-1").series == "eia:PJM"
    assert quiet("mlco2:aws:us-east-1").series == "eia:PJM"
    with pytest.warns(grid.GridDataWarning, match=r"europe-west4, Eemshaven, Netherlands, draws from the "
                                                  r"Netherlands \(NL\) grid, which has no bundled hourly series"):
        nl = grid.load_signal("gcp:europe-west4")
    assert nl.constant and nl.values[0] == quiet("gcp:europe-west4@2024").values[0]


def test_every_provider_has_hourly_regions_in_the_us_europe_and_asia():
    for provider in REGIONS:
        mapped = {r: row[0] for r, row in REGIONS[provider].items() if row[0]}
        assert any(s.startswith("eia:") for s in mapped.values()), provider
        assert any(s in ("em:DE-LU/lifecycle", "em:GB/lifecycle") for s in mapped.values()), provider
        assert any(s in ("em:JP-TK/lifecycle", "em:SG/lifecycle", "em:KR/lifecycle") for s in mapped.values()), provider


def test_annual_tables_stay_available():
    assert quiet("gcp:us-central1@annual").values[0] == quiet("gcp:us-central1@2024").values[0] == 412.72
    assert quiet("mlco2:aws:us-east-1@annual").values[0] == 367.8
    assert quiet("aws:us-east-1@annual").values[0] == 367.8
    with warnings.catch_warnings():
        warnings.simplefilter("error", grid.GridDataWarning)
        grid.load_signal("gcp:europe-west4@annual")        # chosen explicitly: no warning


def test_every_series_named_in_the_table_is_bundled():
    hourly = {e["name"] for e in grid.list_signals() if e["resolution"] == "hourly"}
    assert {s for _, _, s in MAPPED} <= hourly


def test_a_scenario_on_a_cloud_region_uses_the_hourly_series():
    s = carbonsim.Scenario("cloud", start="2022-07-04")
    s.add_datacenter("use1", pue=1.1, grid="aws:us-east-1")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="use1", duration_days=3, power_w_per_chip=300)
    r = s.run(hourly=True)
    pjm = quiet("eia:PJM")
    i0 = int((r.hourly["t0"] - pjm.start).total_seconds() // 3600)
    np.testing.assert_allclose(r.hourly["intensity_g_per_kwh"][0, :72], pjm.values[i0:i0 + 72])
    d = r.to_dict()
    assert d["datacenters"]["use1"]["basis"] == "lifecycle"
    assert any("aws:us-east-1 = eia:PJM" in x for x in d["provenance"]["data_sources"])
    assert "aws:us-east-1 = eia:PJM (hourly" in s.validate().summary()


def test_a_region_without_an_hourly_series_warns_in_the_scenario():
    s = carbonsim.Scenario("cloud", start="2024-07-01")
    s.add_datacenter("nl", pue=1.1, grid="azure:westeurope")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="nl", duration_days=1, power_w_per_chip=300)
    (warning,) = s.validate().warnings
    assert warning.startswith("datacenter nl: azure:westeurope: Azure westeurope") and "azure:westeurope@annual" in warning


def test_regions_command_lists_cloud_names(capsys):
    assert main(["regions"]) == 0
    out = capsys.readouterr().out
    assert "cloud-region names draw on them" in out and "aws:us-east-1 " not in out
    assert main(["regions", "--prefix", "aws:us-east-1"]) == 0
    out = capsys.readouterr().out
    assert "eia:PJM" in out and "PJM" in out
