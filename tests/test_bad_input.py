"""The bad-input corpus: every malformed file gives one clear, located error.

Each file in ``tests/bad_input/`` is a near-valid scenario with one defect.
``EXPECTED`` maps it to the fragments its message must contain: the field
path, the value as given, the words of the rule and the fix or hint.  Loading
it must raise :class:`carbonsim.ScenarioError` (never another exception) whose
text names the file; the CLI must exit 2 with the message on stderr, nothing
on stdout and no traceback.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import carbonsim
from carbonsim.cli import EXIT_BAD_INPUT, main

CORPUS = Path(__file__).parent / "bad_input"
ROOT = Path(__file__).parent.parent
DEFINED_HW = ("defined hardware: a100, a100-40gb, b200, gaudi2, gaudi3, h100, h100-pcie, h200, l4, mi250x, "
              "mi300x, p100, t4, tpu-v2, tpu-v3, tpu-v4, tpu-v5e, tpu-v5p, v100")
GPT3 = "workloads.training[2]"
MS = "datacenters.microsoft-us"
MR = "workloads.measured[0]"
CC = "../data/codecarbon/"

#: file -> fragments its error message must contain (besides the file's name).
EXPECTED: dict[str, list[str]] = {
    # wrong types
    "chips_string.toml": [f"{GPT3}.chips: must be a valid integer, got '10000'", "for example chips = 512"],
    "chips_float.toml": [f"{GPT3}.chips: must be a whole number", "without a decimal point", "got 10000.5",
                         "for example chips = 512"],
    "chips_bool.toml": [f"{GPT3}.chips: must be a valid integer, got True"],
    "chips_table.toml": [f"{GPT3}.chips: must be a valid integer, got {{'count': 10000}}"],
    "pue_string.toml": [f"{MS}.pue: must be a valid number, got '1.10'", "for example pue = 1.1"],
    "start_number.toml": [f"{GPT3}.start: must be a valid datetime, got 20200101",
                          "for example start = 2019-09-01T00:00:00Z"],
    "scenario_not_table.toml": ["scenario: must be a table, got 'bad-input-demo'"],
    "training_not_array.toml": ["workloads.training: must be an array, got 'T5, Meena, GPT-3'"],
    "bad_boundary.toml": ["hardware.v100.embodied_boundary: must be 'die', 'card' or 'card+host', got 'server'"],
    # negative, zero, NaN, inf and absurd values
    "chips_negative.toml": [f"{GPT3}.chips: must be greater than or equal to 1, got -5"],
    "chips_zero.toml": [f"{GPT3}.chips: must be greater than or equal to 1, got 0"],
    "chips_huge.toml": [f"{GPT3}.chips: must be less than or equal to 10000000",
                        "got 1000000000000000000000000000000"],
    "chips_digits.toml": ["not valid TOML", "number is too long"],
    "pue_nan.toml": [f"{MS}.pue: must be a finite number (not NaN or inf), got nan", "for example pue = 1.1"],
    "pue_inf.toml": [f"{MS}.pue: must be a finite number (not NaN or inf), got inf"],
    "pue_huge.toml": [f"{MS}.pue: must be less than or equal to 5, got 1000000000.0"],
    "pue_below_one.toml": [f"{MS}.pue: must be greater than or equal to 1, got 0.9"],
    "grid_negative.toml": [f"{MS}.grid_intensity_gco2e_per_kwh: must be greater than or equal to 0, got -429"],
    "duration_zero.toml": [f"{GPT3}.duration_days: must be greater than 0, got 0"],
    "duration_neg_inf.toml": [f"{GPT3}.duration_days: must be a finite number", "got -inf"],
    "power_nan.toml": [f"{GPT3}.power_w_per_chip: must be a finite number", "got nan"],
    "flops_huge.toml": [f"{GPT3}.flops: must be less than or equal to 1e+32, got 1e+300"],
    "flops_too_long.toml": [f"{GPT3}.flops: implies a run longer than 100 years, got 1e+31",
                            "check flops and achieved_tflops_per_chip"],
    "cfe_above_one.toml": [f"{MS}.cfe: must be a fraction between 0 and 1, or \"grid\", got 1.5"],
    "empty_name.toml": ["scenario.name: must have at least 1 character, got ''"],
    # dates
    "date_feb30.toml": ["not valid TOML: Invalid date or datetime", "line 40"],
    "date_month13.toml": [f"{GPT3}.start: must be a date or date-time such as 2020-04-01", "got '2019-13-01'"],
    "date_1900.toml": [f"{GPT3}.start: must be between 1970-01-01 and 2199-12-31, got 1900-01-01"],
    "date_overflow.toml": [f"{GPT3}.start: must be between 1970-01-01 and 2199-12-31",
                           "got 9999-12-31T23:00:00-05:00"],
    "date_ends_after_2199.toml": [f"{GPT3}.start: run would end after 2199, got 2199-12-25", "start earlier"],
    # unknown keys
    "unknown_top_level.toml": ["scenarios: unknown key (did you mean 'scenario'?)"],
    "unknown_in_datacenter.toml": [f"{MS}.pue_value: unknown key (did you mean 'pue'?)"],
    "unknown_in_training.toml": [f"{GPT3}.chip: unknown key (did you mean 'chips'?)"],
    "unknown_in_published.toml": [f"{GPT3}.published.energy_mwhs: unknown key (did you mean 'energy_mwh'?)"],
    "not_a_scenario.toml": ["project: unknown key", "known keys: schema_version, scenario, hardware",
                            "schema_version: required key is missing"],
    # references
    "undefined_hardware.toml": [f"{GPT3}.hardware: hardware 'tpu-v5' is not defined", "did you mean 'tpu-v5p'?",
                                DEFINED_HW],
    "undefined_hardware_typo.toml": [f"{GPT3}.hardware: hardware 'TPUv3x' is not defined",
                                     "did you mean 'tpu-v3'?", DEFINED_HW],
    "undefined_datacenter.toml": [f"{GPT3}.datacenter: datacenter 'azure-us' is not defined",
                                  "defined datacenters: google-taiwan, microsoft-us"],
    "undefined_base.toml": ["hardware.v100-custom.base: hardware 'v1000' is not defined", "did you mean 'v100'?",
                            DEFINED_HW],
    # missing keys and versions
    "missing_schema_version.toml": ["schema_version: required key is missing (add schema_version = 1)"],
    "missing_scenario_name.toml": ["scenario.name: required key is missing", 'for example name = "'],
    "missing_datacenters.toml": ["datacenters: required key is missing",
                                 "add a [datacenters.NAME] table with pue, grid_intensity_gco2e_per_kwh"],
    "missing_pue.toml": [f"{MS}.pue: required key is missing (for example pue = 1.1)"],
    "missing_chips.toml": [f"{GPT3}.chips: required key is missing (for example chips = 512; or chip_hours = "],
    "schema_version_2.toml": ["schema_version: unsupported version (this carbonsim reads version 1), got 2",
                              "upgrade carbonsim"],
    "schema_version_string.toml": ["schema_version: must be the integer 1, got '1'", "without quotes"],
    # rules across fields
    "duplicate_name.toml": [f"{GPT3}.name: duplicate workload name, got 'T5'",
                            "already used by workloads.training[0]"],
    "cfe_and_net.toml": [f"{MS}: give either cfe or net_grid_intensity_gco2e_per_kwh, not both"],
    "net_above_gross.toml": [f"{MS}: net_grid_intensity_gco2e_per_kwh (500.0) must not exceed "
                             "grid_intensity_gco2e_per_kwh (429.0)"],
    "duration_and_flops.toml": [f"{GPT3}: give exactly one of duration_days, duration_hours, flops, tokens or "
                                "chip_hours", "(got duration_days, flops)"],
    "no_duration.toml": [f"{GPT3}: give exactly one of duration_days, duration_hours, flops, tokens or chip_hours"],
    "flops_without_rate.toml": [f"{GPT3}: with flops, give exactly one of achieved_tflops_per_chip or "
                                "hardware_efficiency"],
    "above_peak.toml": [f"{GPT3}.achieved_tflops_per_chip: exceeds the peak of v100 (125 TFLOP/s), got 200.0",
                        "check the units"],
    "new_hardware_no_power.toml": ["hardware.custom-npu: new hardware needs tdp_w or system_power_w",
                                   "add system_power_w = ..., or base = one of tpu-v2"],
    # intensities with units
    "intensity_no_unit.toml": [f"{MS}.grid_intensity: needs a unit", 'write "954 g/kWh"', "got 954"],
    "intensity_bad_unit.toml": [f"{MS}.grid_intensity: unit 'lbs/GWh' is not a carbon-intensity unit",
                                "use g/kWh, kg/kWh", "got '954 lbs/GWh'"],
    "intensity_not_number.toml": [f"{MS}.grid_intensity: must be a number and a unit such as \"954 lbs/MWh\"",
                                  "got 'lots of lbs/MWh'"],
    "intensity_out_of_range.toml": [f"{MS}.grid_intensity: must be between 0 and 5000 gCO2e/kWh "
                                    "(is 9071.85 gCO2e/kWh), got '20000 lbs/MWh'"],
    "intensity_twice.toml": [f"{MS}: give the constant intensity once", "not both"],
    "net_intensity_bad_unit.toml": [f"{MS}.net_grid_intensity: unit 'kg/kW' is not a carbon-intensity unit",
                                    "got '0.3 kg/kW'"],
    # accelerator-hours and training compute from tokens
    "chip_hours_negative.toml": [f"{GPT3}.chip_hours: must be greater than 0, got -5",
                                 "for example chip_hours = 184320"],
    "chip_hours_string.toml": [f"{GPT3}.chip_hours: must be a valid number, got '184,320'",
                               "for example chip_hours = 184320"],
    "chip_hours_and_duration.toml": [f"{GPT3}: give exactly one of", "(got duration_days, chip_hours)",
                                     "needs no chips"],
    "chip_hours_too_many_chips.toml": [f"{GPT3}.chip_hours: implies 1,388,888,889 chips, more than 10,000,000",
                                       "give chips, or a longer duration_days"],
    "tokens_without_parameters.toml": [f"{GPT3}: tokens needs parameters (training FLOPs = 6 x parameters x tokens)"],
    "tokens_and_flops.toml": [f"{GPT3}: give exactly one of", "(got flops, tokens)"],
    "tokens_without_rate.toml": [f"{GPT3}: with tokens, give exactly one of achieved_tflops_per_chip or "
                                 "hardware_efficiency"],
    "tokens_zero.toml": [f"{GPT3}.tokens: must be greater than 0, got 0"],
    # service-time law of a service
    "service_time_unknown.toml": ["workloads.service[0].service_time: must be 'deterministic' or 'exponential', "
                                  "got 'poisson'", 'for example service_time = "exponential"'],
    "service_time_number.toml": ["workloads.service[0].service_time: must be 'deterministic' or 'exponential', "
                                 "got 0.5"],
    # grid alignment: the same checks in validate and run, in the file's keys
    "grid_other_year.toml": ["datacenters.virginia.grid: the simulation starts in 2024, but eia:PJM covers "
                             "2022-01-01T00:00Z..2023-01-01T00:00Z and grid_year_shift is 'none'",
                             'set grid_year_shift = "weekday" in [scenario] for every datacenter or in '
                             "[datacenters.virginia]", "datacenters.iowa.grid: the simulation starts in 2024"],
    "grid_past_end.toml": ["datacenters.virginia.grid: the simulation needs 2022-12-26T00:00Z..2023-01-05T00:00Z "
                           "of eia:PJM (aligned by grid_year_shift = 'exact')",
                           'set grid_overflow = "wrap" in [scenario] for every datacenter'],
    "grid_override_none.toml": ["datacenters.iowa.grid: the simulation starts in 2024",
                                "grid_year_shift is 'none'", "[datacenters.iowa]"],
    "grid_year_shift_bad.toml": ["scenario.grid_year_shift: must be 'none', 'exact' or 'weekday', got 'monday'",
                                 'for example grid_year_shift = "weekday"'],
    "grid_overflow_bool.toml": ["scenario.grid_overflow: must be 'error' or 'wrap', got True"],
    "grid_gap_too_long.toml": ["datacenters.virginia.grid_max_gap_hours: eia:PJM has 22 consecutive missing hours "
                               "2022-03-13T07:00Z..2022-03-14T04:00Z", "got 12",
                               "raise grid_max_gap_hours to at least 22"],
    # measured runs: CodeCarbon logs, power traces, measured figures
    "measured_empty.toml": [f"{MR}.codecarbon: {CC}bad_empty.csv: the file is empty"],
    "measured_header_only.toml": [f"{MR}.codecarbon: {CC}bad_header_only.csv: the file has a header but no runs"],
    "measured_missing_duration.toml": [f"{MR}.codecarbon: {CC}bad_missing_duration.csv: not a CodeCarbon "
                                       "emissions.csv: no column duration", "lists the columns read"],
    "measured_missing_file.toml": [f"{MR}.codecarbon: cannot read file: No such file or directory, "
                                   f"got '{CC}nope.csv'"],
    "measured_nan_energy.toml": [f"{MR}.codecarbon: {CC}bad_nan_energy.csv:2: energy_consumed (kWh) must be a "
                                 "finite number, got 'nan'"],
    "measured_negative_energy.toml": [f"{MR}.codecarbon: {CC}bad_negative_energy.csv:2: gpu_energy (kWh) must be "
                                      ">= 0, got '-0.375'"],
    "measured_not_codecarbon.toml": [f"{MR}.codecarbon: {CC}bad_not_codecarbon.csv: not a CodeCarbon emissions.csv: "
                                     "no column timestamp, duration", "got 'submit,chips,duration_hours'"],
    "measured_pue.toml": [f"{MR}.codecarbon: {CC}bad_pue.csv:2: pue must be >= 1, got '0.5'"],
    "measured_text_number.toml": [f"{MR}.codecarbon: {CC}bad_text_number.csv:2: duration (seconds) must be a "
                                  "number, got 'one hour'"],
    "measured_timestamp.toml": [f"{MR}.codecarbon: {CC}bad_timestamp.csv:2: timestamp must be a date-time",
                                "got '15/03/2021 09:00'"],
    "measured_zero_duration.toml": [f"{MR}.codecarbon: {CC}bad_zero_duration.csv:2: duration (seconds) must be > 0, "
                                    "got '0'"],
    "measured_trace_backwards.toml": [f"{MR}.power_trace: {CC}bad_trace_backwards.csv:3: timestamps must increase",
                                      "got '2022-07-04T10:00:00Z'"],
    "measured_trace_header.toml": [f"{MR}.power_trace: {CC}bad_trace_header.csv: header must name timestamp and "
                                   "watts", "got 'time,power'"],
    "measured_trace_negative.toml": [f"{MR}.power_trace: {CC}bad_trace_negative.csv:3: watts must be >= 0, "
                                     "got '-5'"],
    "measured_trace_one_row.toml": [f"{MR}.power_trace: {CC}bad_trace_one_row.csv: a trace needs at least two rows",
                                    "got 1"],
    "measured_unknown_run.toml": [f"{MR}.runs: run '5b0fa12a' is not in {CC}v3_two_runs.csv",
                                  "its runs: 5b0fa12a-3dd7-4f1b-a0c4-6a5f3a2b9e01"],
    "measured_no_source.toml": [f"{MR}: give exactly one of codecarbon (an emissions.csv), power_trace"],
    "measured_two_sources.toml": [f"{MR}: give exactly one of codecarbon", "(got codecarbon, power_trace)"],
    "measured_pue_with_codecarbon.toml": [f"{MR}: a CodeCarbon log gives its PUE in its pue column; remove measured_pue"],
    "measured_energy_negative.toml": [f"{MR}.energy_kwh: must be greater than or equal to 0, got -3"],
    "measured_energy_string.toml": [f"{MR}.energy_kwh: must be a valid number, got '5.9 kWh'"],
    "measured_no_duration.toml": [f"{MR}: measured figures need duration_hours"],
    "measured_timezone_bad.toml": [f"{MR}: timezone 'Paris' is not an IANA name such as 'Europe/Paris'"],
    "measured_component_unknown.toml": [f"{MR}.components[1]: must be 'cpu', 'gpu' or 'ram', got 'disk'"],
    "measured_undefined_hardware.toml": [f"{MR}.hardware: hardware 'a1000' is not defined", "did you mean 'a100'?"],
    # limits of every workload kind (docs/scenario-format.md, "Limits")
    "search_ends_after_2199.toml": ["workloads.search[0].start: the search's trials would end after 2199",
                                    "got 2190-01-01", "start earlier"],
    "search_too_long.toml": ["workloads.search[0].trials: implies the search's trials of 8.76e+08 hours, longer than "
                             "the limit of 876,000 hours (100 years)"],
    "service_ends_after_2199.toml": ["workloads.service[0].start: the service would end after 2199", "got 2199-06-01"],
    "stream_lognormal_no_high.toml": ["workloads.job_stream[0].duration_hours: a per-job draw must be at most 876,000 "
                                      "hours", "is unbounded", "truncate it with high = ..."],
    "stream_chips_draw_huge.toml": ["workloads.job_stream[0].chips: a per-job draw must be at most 10,000,000 chips",
                                    "reaches 1e+30"],
    "stream_duration_huge.toml": ["workloads.job_stream[0].duration_hours: must be greater than 0 and at most 876,000",
                                  "got 1e+30"],
    # grid CSV files: the bounds of constants, dates, text and CSV (one reading function for every file)
    "grid_csv_huge_value.toml": [f"{MS}.grid: ", "bad_huge_value.csv:5: value must be at most 5000 g/kWh",
                                 "got '1e306'"],
    "grid_csv_year_one.toml": ["bad_year_one.csv:2: timestamp must be between 1970-01-01 and 2199-12-31",
                               "got '0001-01-01T00:00+05:00'"],
    "grid_csv_binary.toml": ["bad_binary.csv: not a UTF-8 text file (bad byte at offset 0)"],
    "grid_csv_long_field.toml": ["bad_long_field.csv:2: not a readable CSV line (field larger than field limit"],
    "grid_csv_not_data.toml": ["bad_not_data.csv:2: row needs a timestamp and a value",
                               "got 'daemon:x:1:1:daemon:/usr/sbin:/usr/s...'"],
    # whole-document problems
    "empty.toml": ["the scenario is empty", "start with schema_version = 1"],
    "comments_only.toml": ["the scenario is empty"],
    "binary.toml": ["not a UTF-8 text file (bad byte at offset 1)", "scenario files are TOML text"],
    "json_document.toml": ["not valid TOML: Invalid statement (at line 1, column 1)"],
    "toml_syntax_error.toml": ["not valid TOML: Illegal character", "line 39"],
    "toml_duplicate_key.toml": ["not valid TOML: Cannot overwrite a value", "line 39"],
}

FILES = sorted(p.name for p in CORPUS.iterdir() if p.is_file())
#: A few files also run through a real ``python -m carbonsim.cli`` process.
SUBPROCESS = ["chips_negative.toml", "undefined_datacenter.toml", "binary.toml", "empty.toml",
              "unknown_in_training.toml", "pue_nan.toml", "grid_other_year.toml", "measured_pue.toml"]


def test_corpus_is_complete():
    assert len(FILES) >= 30
    assert sorted(EXPECTED) == FILES, "every corpus file needs expected fragments, and vice versa"
    assert (CORPUS / "empty.toml").stat().st_size == 0
    with pytest.raises(UnicodeDecodeError):
        (CORPUS / "binary.toml").read_bytes().decode("utf-8")


def test_base_scenario_is_valid():
    """The corpus files are one defect away from this valid scenario."""
    text = (CORPUS / "chips_negative.toml").read_text().replace("chips = -5", "chips = 10000")
    resolved = carbonsim.resolve(__import__("tomllib").loads(text))
    assert [r.name for r in resolved.training] == ["T5", "Meena", "GPT-3"]


@pytest.mark.parametrize("name", FILES)
def test_load_raises_scenario_error(name):
    path = CORPUS / name
    with pytest.raises(carbonsim.ScenarioError) as info:
        carbonsim.load(path)
    err = info.value
    text = str(err)
    assert err.problems
    lines = text.split("\n")
    assert len(lines) == len(err.problems), "one line per problem"
    assert all(line.startswith(f"{path}: ") for line in lines), "every line names the file"
    for fragment in EXPECTED[name]:
        assert fragment in text, f"{fragment!r} not in {text!r}"
    assert "Traceback" not in text and "pydantic" not in text and "Input should" not in text
    assert "year_shift='" not in text and "overflow='" not in text, "Python argument names, not the file's keys"


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", FILES)
def test_cli_exit_2(name, command, capsys):
    path = str(CORPUS / name)
    assert main([command, path]) == EXIT_BAD_INPUT
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("carbonsim: ")
    assert path in err and "Traceback" not in err
    for fragment in EXPECTED[name]:
        assert fragment in err


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize("name", SUBPROCESS)
def test_cli_subprocess(name, command):
    path = str(CORPUS / name)
    proc = subprocess.run([sys.executable, "-m", "carbonsim.cli", command, path], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "CARBONSIM_TRACEBACK": ""})
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("carbonsim: ")
    assert path in proc.stderr
    for fragment in EXPECTED[name]:
        assert fragment in proc.stderr


def test_cli_one_error_is_one_line(capsys):
    assert main(["validate", str(CORPUS / "chips_zero.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("carbonsim: error: ")


def test_cli_several_errors_are_counted(capsys):
    assert main(["validate", str(CORPUS / "not_a_scenario.toml")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "carbonsim: 4 errors:"
    assert len(err) == 5


def test_cli_missing_file(tmp_path, capsys):
    missing = tmp_path / "nope.toml"
    assert main(["run", str(missing)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and str(missing) in err and "cannot read file" in err and "Traceback" not in err


def test_excerpt_of_a_bad_line_is_short(capsys):
    """An error quotes at most 40 characters of a file's line, never the whole line."""
    assert main(["validate", str(CORPUS / "grid_csv_not_data.toml")]) == 2
    err = capsys.readouterr().err
    assert "and-a-long-tail-of-text" not in err and "/usr/sbin/nologin" not in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
@pytest.mark.parametrize("kind", ["scenario", "grid"])
def test_special_files_are_refused(tmp_path, kind, capsys):
    """A FIFO (which would block forever) or a device is refused at once: only regular files are read."""
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    if kind == "scenario":
        targets = [fifo, Path("/dev/zero")]
    else:
        base = (CORPUS / "chips_negative.toml").read_text().replace("chips = -5", "chips = 10000")
        targets = []
        for i, name in enumerate([str(fifo), "/dev/zero"]):
            f = tmp_path / f"s{i}.toml"
            f.write_text(base.replace("grid_intensity_gco2e_per_kwh = 429", f'grid = {{csv = "{name}"}}', 1))
            targets.append(f)
    for target in targets:
        assert main(["validate", str(target)]) == 2
        err = capsys.readouterr().err
        assert "not a regular file" in err and "Traceback" not in err


def test_trace_and_profile_accept_a_bom(tmp_path):
    (tmp_path / "t.csv").write_text("\ufeffsubmit_hours,chips,duration_hours\n0,1,2\n", encoding="utf-8")
    (tmp_path / "p.csv").write_text("\ufeffhour,factor\n" + "".join(f"{h},1\n" for h in range(24)), encoding="utf-8")
    base = (CORPUS / "chips_negative.toml").read_text().replace("chips = -5", "chips = 10000")
    (tmp_path / "s.toml").write_text(base + '\n[[workloads.job_stream]]\nname = "jobs"\nhardware = "v100"\n'
                                     'datacenter = "microsoft-us"\ntrace = "t.csv"\n\n[[workloads.service]]\n'
                                     'name = "api"\nhardware = "v100"\ndatacenter = "microsoft-us"\nduration_days = 1\n'
                                     'queries_per_second = 1\nreplicas = 1\nenergy_wh_per_query = 0.1\n'
                                     'idle_w_per_chip = 50\nprofile = "p.csv"\n')
    resolved = carbonsim.load(tmp_path / "s.toml").validate()
    assert resolved is not None


def test_cli_directory(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and str(tmp_path) in err and "Traceback" not in err


def test_valid_file_still_passes(capsys):
    assert main(["validate", str(ROOT / "scenarios" / "patterson2021.toml")]) == 0
    assert "valid" in capsys.readouterr().out


# ---------------------------------------------------------------------------
# The builder API and Python documents.
# ---------------------------------------------------------------------------


def test_builder_negative_chips():
    s = carbonsim.Scenario("demo")
    with pytest.raises(carbonsim.ScenarioError) as info:
        s.add_training_run("run", hardware="v100", chips=-5, datacenter="iowa", duration_days=1)
    assert "workloads.training[0].chips" in str(info.value)
    assert "got -5" in str(info.value)
    assert info.value.problems[0].path == "workloads.training[0].chips"
    assert s.to_dict()["workloads"]["training"] == [], "a rejected run is not added"


def test_builder_second_run_path_and_unknown_key():
    s = carbonsim.Scenario("demo")
    s.add_datacenter("iowa", pue=1.1, grid_intensity_gco2e_per_kwh=478)
    s.add_training_run("a", hardware="v100", chips=8, datacenter="iowa", duration_days=1)
    with pytest.raises(carbonsim.ScenarioError) as info:
        s.add_training_run("b", hardware="v100", chips=8, datacenter="iowa", duration_dayz=1)
    assert "workloads.training[1].duration_dayz: unknown key (did you mean 'duration_days'?)" in str(info.value)


def test_builder_datacenter_nan_and_quoted_name():
    with pytest.raises(carbonsim.ScenarioError) as info:
        carbonsim.Scenario("demo").add_datacenter("my dc", pue=float("nan"), grid_intensity_gco2e_per_kwh=1)
    assert 'datacenters."my dc".pue: must be a finite number' in str(info.value)


def test_builder_undefined_references():
    s = carbonsim.Scenario("demo")
    s.add_datacenter("iowa", pue=1.1, grid_intensity_gco2e_per_kwh=478)
    s.add_training_run("a", hardware="v1OO", chips=8, datacenter="iowaa", duration_days=1)
    with pytest.raises(carbonsim.ScenarioError) as info:
        s.validate()
    text = str(info.value)
    assert "workloads.training[0].hardware: hardware 'v1OO' is not defined" in text
    assert "workloads.training[0].datacenter: datacenter 'iowaa' is not defined" in text
    assert "did you mean 'iowa'? defined datacenters: iowa" in text


def test_builder_without_datacenters():
    with pytest.raises(carbonsim.ScenarioError) as info:
        carbonsim.Scenario("demo").validate()
    assert "datacenters: must have at least 1 item" in str(info.value)
    assert "add a [datacenters.NAME] table" in str(info.value)


@pytest.mark.parametrize("document", [[], "schema_version = 1", None, 3, b"\x00"])
def test_resolve_non_table(document):
    with pytest.raises(carbonsim.ScenarioError) as info:
        carbonsim.resolve(document)
    assert str(info.value).startswith("a scenario must be a table of keys, got ")


def test_resolve_non_string_keys():
    with pytest.raises(carbonsim.ScenarioError) as info:
        carbonsim.resolve({"schema_version": 1, 3: 4})
    assert "3: keys must be strings" not in str(info.value)
    assert any(p.rule == "keys must be strings" and p.value == 3 and p.path == "" for p in info.value.problems)
