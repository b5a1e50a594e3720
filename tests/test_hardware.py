"""The hardware catalog: every number present is sourced, and matches its source."""
import pytest

from carbonsim.model.hardware import CATALOG, EMBODIED_BOUNDARIES, find, suggest

NUMERIC = ("tdp_w", "system_power_w", "peak_tflops", "idle_w", "embodied_kgco2e", "lifetime_years")


def test_catalog_has_the_required_accelerators():
    assert set(CATALOG) == {"tpu-v2", "tpu-v3", "tpu-v4", "p100", "v100", "a100", "h100"}


@pytest.mark.parametrize("name", list(CATALOG))
def test_every_number_cites_a_source_and_embodied_names_its_boundary(name):
    h = CATALOG[name]
    for key in NUMERIC:
        if getattr(h, key) is not None:
            assert h.sources.get(key), f"{name}.{key} has no source"
    if h.embodied_kgco2e is not None:
        assert h.embodied_boundary in EMBODIED_BOUNDARIES
    assert h.default_power_w is not None


@pytest.mark.parametrize("name,tdp,power,peak", [
    # Patterson et al. 2021: Table 4 (TDP), Table 3 (measured average system power), Sec. 4 (peak)
    ("tpu-v2", 280, 221, 46),
    ("tpu-v3", 450, 283, 123),
    ("p100", 300, 271, 19),
    ("v100", 300, 325, 125),
])
def test_patterson_numbers(name, tdp, power, peak):
    h = CATALOG[name]
    assert (h.tdp_w, h.system_power_w, h.peak_tflops) == (tdp, power, peak)


def test_other_published_numbers():
    assert CATALOG["tpu-v4"].system_power_w == 378.5          # PaLM training, per chip
    assert CATALOG["a100"].idle_w == 50                        # BLOOM study
    assert CATALOG["a100"].embodied_kgco2e == 150              # BLOOM study, per card
    assert CATALOG["h100"].embodied_kgco2e == 164              # NVIDIA HGX H100 PCF, per card
    assert CATALOG["h100"].system_power_w == 10_200 / 8        # DGX H100, 8 GPUs incl. host
    assert CATALOG["v100"].embodied_boundary == "die"          # LLMCarbon, die only


def test_lookup_is_forgiving_and_suggests():
    assert find("TPU v3") is CATALOG["tpu-v3"]
    assert find("tpu_v3") is CATALOG["tpu-v3"]
    assert find("V100").name == "v100"
    assert find("tpu-v5") is None
    assert suggest("tpu-v5", CATALOG) in {"tpu-v2", "tpu-v3", "tpu-v4"}
