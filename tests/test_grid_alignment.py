"""Grid alignment set once for a scenario, checked by validate as by run, in the file's keys;
data warnings only about the data hours a run uses."""
from __future__ import annotations

import pytest

import carbonsim
from carbonsim.cli import main

FOUR = {"cal": "eia:CISO", "tex": "eia:ERCO", "nw": "eia:BPAT", "va": "eia:PJM"}


def four_datacenters(**scenario_keys) -> carbonsim.Scenario:
    s = carbonsim.Scenario("four", start="2024-06-03", **scenario_keys)
    for name, grid in FOUR.items():
        s.add_datacenter(name, pue=1.1, grid=grid)
        s.add_training_run(f"run-{name}", hardware="v100", chips=8, datacenter=name, duration_days=2,
                           power_w_per_chip=330)
    return s


def test_scenario_wide_alignment_applies_to_every_datacenter():
    with pytest.raises(carbonsim.ScenarioError) as info:
        four_datacenters().validate()
    assert len(info.value.problems) == 4
    resolved = four_datacenters(grid_year_shift="weekday", grid_overflow="wrap").validate()
    assert {(d.grid_year_shift, d.grid_overflow) for d in resolved.datacenters.values()} == {("weekday", "wrap")}


def test_a_datacenter_overrides_the_scenario_setting():
    s = carbonsim.Scenario("o", start="2024-06-03", grid_year_shift="weekday")
    s.add_datacenter("a", pue=1.1, grid="eia:CISO")
    s.add_datacenter("b", pue=1.1, grid="eia:PJM", grid_year_shift="exact")
    s.add_datacenter("c", pue=1.1, grid="eia:MISO", grid_year_shift="none")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="a", duration_days=1, power_w_per_chip=330)
    with pytest.raises(carbonsim.ScenarioError) as info:
        s.validate()
    assert [p.path for p in info.value.problems] == ["datacenters.c.grid"]
    s._doc["datacenters"]["c"].pop("grid_year_shift")
    resolved = s.validate()
    assert [resolved.datacenters[n].grid_year_shift for n in "abc"] == ["weekday", "exact", "weekday"]


def test_validate_fails_where_run_fails(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text('schema_version = 1\n[scenario]\nname = "y"\nstart = 2024-01-01\n'
                    '[datacenters.va]\npue = 1.1\ngrid = "eia:PJM"\n'
                    '[[workloads.training]]\nname = "r"\nhardware = "v100"\nchips = 8\ndatacenter = "va"\n'
                    'duration_days = 3\npower_w_per_chip = 330\n')
    for command in ("validate", "run"):
        assert main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert "datacenters.va.grid: the simulation starts in 2024" in err and 'grid_year_shift = "weekday"' in err
        assert "year_shift='weekday'" not in err


def test_the_run_checks_what_the_parse_step_cannot_know():
    """Poisson arrivals are drawn at run time: a job running past the data fails then, in the same words."""
    s = carbonsim.Scenario("late", start="2022-12-20")
    s.add_datacenter("cal", pue=1.1, grid="eia:CISO")
    s.add_job_stream("jobs", hardware="v100", datacenter="cal", rate_per_day=20, chips=1, duration_hours=200,
                     end="2022-12-30", power_w_per_chip=300)
    s.validate()
    with pytest.raises(carbonsim.ScenarioError, match=r'datacenters.cal.grid: the simulation needs .*set grid_overflow '
                                                      r'= "wrap" in \[scenario\]'):
        s.run()


def _pjm_run(start: str, days: float):
    s = carbonsim.Scenario("pjm", start=start)
    s.add_datacenter("va", pue=1.1, grid="eia:PJM")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="va", duration_days=days, power_w_per_chip=330)
    return s


def test_pjm_warnings_only_about_the_hours_used():
    assert _pjm_run("2022-07-01", 10).validate().warnings == ()
    assert _pjm_run("2022-07-01", 10).run().warnings == ()
    october = _pjm_run("2022-09-30", 3).validate().warnings
    assert len(october) == 1 and "5 of the data hours used are glitch hours" in october[0]
    assert "2022-10-01T05:00Z..2022-10-01T08:00Z (4 h)" in october[0] and "March" not in october[0]
    march = _pjm_run("2022-03-13", 1).validate().warnings
    assert len(march) == 1 and "17 of the data hours used are missing in the data" in march[0]
    assert "2022-03-13T07:00Z..2022-03-13T23:00Z (17 h)" in march[0]


def test_shifted_runs_warn_about_the_data_hours_they_use():
    s = carbonsim.Scenario("shifted", start="2025-10-01", grid_year_shift="exact")
    s.add_datacenter("va", pue=1.1, grid="eia:PJM")
    s.add_training_run("r", hardware="v100", chips=8, datacenter="va", duration_days=2, power_w_per_chip=330)
    (warning,) = s.validate().warnings
    assert warning.startswith("datacenter va: eia:PJM: 5 of the data hours used are glitch hours")
