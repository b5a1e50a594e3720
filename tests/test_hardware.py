"""The hardware catalog: every number present is sourced (with its year), matches its source, and says
on which power basis it is; runs, compare and sweep flag power on non-measured or mixed bases."""
import json

import pytest

import carbonsim
from carbonsim.cli import main
from carbonsim.studies.compare import compare
from carbonsim.model.errors import ScenarioError
from carbonsim.model.hardware import (ALIASES, CATALOG, EMBODIED_BOUNDARIES, POWER_BASES, POWER_BASIS_FIELD, SOURCE_YEARS,
                                SOURCES, Hardware, basis_warning, derive, find, suggest)
from carbonsim.studies.sweep import SweepResult, SweepRow

NUMERIC = ("tdp_w", "system_power_w", "system_power_rel_std", "system_max_w", "peak_tflops", "idle_w",
           "embodied_kgco2e", "lifetime_years")

REQUIRED = {"tpu-v2", "tpu-v3", "tpu-v4", "p100", "v100", "a100", "h100",
            # accelerators users have today (issue 13)
            "a100-40gb", "h100-pcie", "h200", "b200", "l4", "t4", "mi250x", "mi300x", "tpu-v5e", "tpu-v5p",
            "gaudi2", "gaudi3"}


def test_catalog_has_the_required_accelerators():
    assert set(CATALOG) == REQUIRED


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_number_cites_a_source_with_a_year(name):
    h = CATALOG[name]
    for key in NUMERIC:
        if getattr(h, key) is not None:
            src = h.sources.get(key)
            assert src, f"{name}.{key} has no source"
            assert src in SOURCES, f"{name}.{key}: source {src!r} is not in SOURCES"
            assert isinstance(SOURCE_YEARS.get(src), int), f"{name}.{key}: source {src!r} has no year"
            assert h.citation(key).endswith(f"({SOURCE_YEARS[src]})")
    assert set(h.sources) <= set(NUMERIC), f"{name} cites a source for a field it does not have"
    if h.embodied_kgco2e is not None:
        assert h.embodied_boundary in EMBODIED_BOUNDARIES


def test_every_source_has_a_year():
    assert set(SOURCE_YEARS) == set(SOURCES)
    assert all(isinstance(y, int) for k, y in SOURCE_YEARS.items() if k != "scenario")


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_entry_has_a_valid_basis_and_uses_its_figure(name):
    h = CATALOG[name]
    assert h.power_basis in POWER_BASES
    assert h.default_power_w == getattr(h, POWER_BASIS_FIELD[h.power_basis])
    if h.system_power_w is not None:
        assert h.power_basis == "measured"   # a published measurement is always the one used
    if h.default_power_w is None:
        assert h.power_basis == "tdp" and "no published power figure" in h.note
    elif h.power_basis != "measured":
        assert h.note and basis_warning(h).startswith(f"no measured system power for {name}")
    else:
        assert basis_warning(h) is None


@pytest.mark.parametrize("name,tdp,power,peak", [
    # Patterson et al. 2021: Table 4 (TDP), Table 3 (measured average system power), Sec. 4 (peak)
    ("tpu-v2", 280, 221, 46),
    ("tpu-v3", 450, 283, 123),
    ("p100", 300, 271, 19),
    ("v100", 300, 325, 125),
])
def test_patterson_numbers(name, tdp, power, peak):
    h = CATALOG[name]
    assert (h.tdp_w, h.system_power_w, h.peak_tflops, h.power_basis) == (tdp, power, peak, "measured")


def test_other_published_numbers():
    assert CATALOG["tpu-v4"].system_power_w == 378.5          # PaLM training, per chip
    assert CATALOG["a100"].idle_w == 50                        # BLOOM study
    assert CATALOG["a100"].embodied_kgco2e == 150              # BLOOM study, per card
    assert CATALOG["h100"].embodied_kgco2e == 164              # NVIDIA HGX H100 PCF, per card
    assert CATALOG["v100"].embodied_boundary == "die"          # LLMCarbon, die only
    # H100 SXM: measured node power in training, 76% of the DGX/HGX 10.2 kW rating (Newkirk et al. 2025)
    h100 = CATALOG["h100"]
    assert h100.system_power_w == pytest.approx(0.76 * 10_200 / 8) and h100.power_basis == "measured"
    assert h100.system_max_w == 10_200 / 8                     # DGX H100, 8 GPUs incl. host
    assert h100.tdp_w == 700                                   # data sheet; Llama 3 model card
    # A100: TDP basis (400 W, as Llama 2's model card), DGX A100 6.5 kW rating for reference
    a100 = CATALOG["a100"]
    assert (a100.default_power_w, a100.power_basis, a100.system_max_w) == (400, "tdp", 6500 / 8)
    assert CATALOG["b200"].system_max_w == 14_300 / 8           # DGX B200
    tdp = {"a100-40gb": 400, "h100-pcie": 350, "h200": 700, "b200": 1000, "l4": 72, "t4": 70, "mi250x": 560,
           "mi300x": 750, "gaudi2": 600, "gaudi3": 900}
    assert {n: CATALOG[n].tdp_w for n in tdp} == tdp
    peak = {"a100-40gb": 312, "h100-pcie": 756, "h200": 989, "b200": 2250, "l4": 121, "t4": 65, "mi250x": 383,
            "mi300x": 1307.4, "tpu-v5e": 197, "tpu-v5p": 459, "gaudi2": 432, "gaudi3": 1835}
    assert {n: CATALOG[n].peak_tflops for n in peak} == peak
    assert CATALOG["tpu-v5e"].default_power_w is None and CATALOG["tpu-v5p"].default_power_w is None


def test_lookup_is_forgiving_suggests_and_follows_aliases():
    assert find("TPU v3") is CATALOG["tpu-v3"]
    assert find("tpu_v3") is CATALOG["tpu-v3"]
    assert find("V100").name == "v100"
    assert find("tpu-v5") is None
    assert suggest("tpu-v5", CATALOG) in {"tpu-v5e", "tpu-v5p"}
    # the old names pick the variant of the published figures
    assert find("a100-80gb") is CATALOG["a100"] and find("A100 SXM4 80GB") is CATALOG["a100"]
    assert find("h100-sxm") is CATALOG["h100"] and find("H100 SXM5") is CATALOG["h100"]
    assert find("Gaudi 3") is CATALOG["gaudi3"] and find("A100-SXM4-40GB") is CATALOG["a100-40gb"]
    assert find("h100-sxm", aliases=False) is None
    assert all(target in CATALOG and alias not in CATALOG for alias, target in ALIASES.items())


def test_basis_is_inferred_validated_and_follows_overrides():
    assert Hardware("x", tdp_w=100).power_basis == "tdp"
    assert Hardware("x", tdp_w=100, system_power_w=150).power_basis == "measured"
    assert Hardware("x", system_max_w=900).default_power_w == 900
    with pytest.raises(ValueError, match="power_basis"):
        Hardware("x", tdp_w=100, power_basis="nameplate")
    with pytest.raises(ValueError, match="needs system_power_w"):
        Hardware("x", tdp_w=100, power_basis="measured")
    a = derive(CATALOG["a100"], "a100", system_power_w=330.0)   # a scenario's measured figure
    assert (a.power_basis, a.default_power_w, a.sources["system_power_w"]) == ("measured", 330, "scenario")
    assert derive(CATALOG["a100"], "a100", embodied_kgco2e=1.0).power_basis == "tdp"
    assert derive(CATALOG["h100"], "h100", tdp_w=650.0).default_power_w == CATALOG["h100"].system_power_w


def two_on(hardware, second=None, start="2024-01-01"):
    s = carbonsim.Scenario(f"on-{hardware}", start=start)
    s.add_datacenter("dc", pue=1.1, grid_intensity_gco2e_per_kwh=400)
    s.add_training_run("x", hardware=hardware, chips=8, datacenter="dc", duration_hours=10)
    s.add_training_run("y", hardware=second or hardware, chips=4, datacenter="dc", duration_hours=5)
    return s


def test_a_non_measured_basis_warns_once_per_hardware_and_is_in_the_results():
    r = two_on("a100").run()
    notes = [w for w in r.warnings if "no measured system power" in w]
    assert len(notes) == 1 and "no measured system power for a100" in notes[0] and "400 W" in notes[0]
    assert "nvidia-a100, 2021" in notes[0]
    assert [w.power_basis for w in r.workloads] == ["tdp", "tdp"]
    d = r.to_dict()
    assert d["provenance"]["power_bases"] == ["tdp"]
    assert d["provenance"]["hardware"]["a100"] == {"power_basis": "tdp", "power_w_per_chip": 400.0,
                                                   "field": "tdp_w", "source": "nvidia-a100", "year": 2021}
    assert d["workloads"][0]["power_basis"] == "tdp"
    assert len([w for w in two_on("a100").validate().warnings if "no measured" in w]) == 1
    # measured: no such warning; given in the scenario: basis "scenario"
    m = two_on("h100").run()
    assert not any("no measured" in w for w in m.warnings) and m.workloads[0].power_basis == "measured"
    assert m.workload("x").power_w_per_chip == pytest.approx(969)
    s = two_on("a100")
    s.add_training_run("z", hardware="a100", chips=1, datacenter="dc", duration_hours=1, power_w_per_chip=330)
    assert s.run().workload("z").power_basis == "scenario"


def test_one_run_mixing_bases_warns():
    r = two_on("a100", "h100").run()
    assert any("totals add power on different bases (measured, tdp)" in w for w in r.warnings)
    assert r.to_dict()["provenance"]["power_bases"] == ["measured", "tdp"]


def test_hardware_without_a_power_figure_asks_for_one():
    with pytest.raises(ScenarioError) as err:
        two_on("tpu-v5e").run()
    text = str(err.value)
    assert "power_w_per_chip" in text and "no power figure" in text and "Google publishes neither" in text
    s = carbonsim.Scenario("v5e", start="2024-01-01")
    s.add_datacenter("dc", pue=1.1, grid_intensity_gco2e_per_kwh=400)
    s.add_training_run("x", hardware="tpu-v5e", chips=8, datacenter="dc", duration_hours=10, power_w_per_chip=250)
    assert s.run().workload("x").it_energy_kwh == pytest.approx(8 * 10 * 250 / 1000)


def test_an_override_under_an_alias_keeps_the_catalog_entry():
    s = two_on("a100", "a100-80gb")
    s.add_hardware("a100-80gb", embodied_kgco2e=300.0)
    r = s.run()
    assert r.workload("x").hardware == "a100" and r.workload("y").hardware == "a100-80gb"
    assert r.workload("y").embodied_co2e_kg == pytest.approx(2 * r.workload("x").embodied_co2e_kg / 4)


def test_compare_warns_on_different_power_bases():
    a, b = two_on("a100").run(), two_on("h100").run()
    c = compare(a, b)
    assert len(c.warnings) == 1 and "different bases" in c.warnings[0]
    assert "A: tdp" in c.warnings[0] and "B: measured" in c.warnings[0]
    assert c.to_dict()["warnings"] == list(c.warnings)
    assert c.to_dict()["power_bases"] == {"a": ["tdp"], "b": ["measured"]}
    assert "warning: A and B use power on different bases" in c.format_table()
    same = compare(a, two_on("a100-40gb").run())
    assert same.warnings == () and "warning" not in same.format_table()


def test_sweep_notes_mixed_power_bases():
    def row(region, bases):
        return SweepRow(region, None, 1.0, 1.0, 1.0, 1.0, "direct", bases)
    mixed = SweepResult("s", (row("a", ("measured",)), row("b", ("measured", "tdp"))))
    assert "note: the runs add power on different bases (measured, tdp)" in mixed.format_table()
    assert mixed.to_dict()["rows"][1]["power_bases"] == ["measured", "tdp"]
    assert "different bases" not in SweepResult("s", (row("a", ("tdp",)), row("b", ("tdp",)))).format_table()


def test_sweep_carries_the_power_bases_of_its_runs():
    from carbonsim.studies.sweep import sweep
    s = two_on("a100", "h100", start="2022-06-01")
    result = sweep(s, ["eia:BPAT"])
    assert result.rows[0].power_bases == ("measured", "tdp")
    assert "power on different bases" in result.format_table()


def test_cli_shows_the_basis(capsys):
    assert main(["hardware"]) == 0
    out = capsys.readouterr().out
    head, *lines = out.splitlines()
    assert "basis" in head.split() and "power" in head
    rows = {line.split()[0]: line.split() for line in lines[:len(CATALOG)]}
    assert set(rows) == set(CATALOG)
    assert rows["a100"][1] == "tdp" and rows["h100"][1] == "measured" and rows["tpu-v5e"][2] == "none"
    assert "max_rating" in out and "aliases: a100-80gb = a100" in out
    assert main(["hardware", "--format", "json"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)}
    assert entries["h100"]["power_basis"] == "measured" and entries["h100"]["source_years"]["system_power_w"] == 2025
    assert all(e["power_basis"] in POWER_BASES for e in entries.values())
