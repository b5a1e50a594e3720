"""Keys users reach for: accelerator-hours, intensities with units, FLOPs from tokens,
the service-time law of a service, and a service's mean and peak chips.

Each is checked against a published figure where one exists:

- Touvron et al. 2023, "Llama 2" (arXiv:2307.09288), Table 2: GPU hours, power and tCO2eq of
  the four pretraining runs.
- Strubell et al. 2019, "Energy and Policy Considerations for Deep Learning in NLP" (ACL),
  eq. 1-2 and Table 3: kWh x PUE 1.58 and 0.954 lbs CO2e per kWh.
- Patterson et al. 2021 (arXiv:2104.10350), Table 4: GPT-3 3.14e23 FLOPs, 14.8 days on
  10,000 V100 at 24.6 TFLOP/s; Brown et al. 2020: 175B parameters, 300B tokens.
- Queueing theory: M/M/1 mean time in system 1 / (mu - lambda), its p99 ln(100) / (mu - lambda);
  M/D/1 (Pollaczek-Khinchine) 1/mu + rho / (2 mu (1 - rho)).
"""
from __future__ import annotations

import math

import pytest

import carbonsim
from carbonsim.model.units import intensity_g_per_kwh

LB_KG = 0.45359237


def scenario(intensity: str | None = None, pue: float = 1.0, **dc) -> carbonsim.Scenario:
    s = carbonsim.Scenario("inputs")
    if intensity is not None:
        dc["grid_intensity"] = intensity
    s.add_datacenter("dc", pue=pue, **dc)
    return s


# ---------------------------------------------------------------------------
# chip_hours
# ---------------------------------------------------------------------------

#: Llama 2 Table 2: model -> (GPU hours, power W per GPU, tCO2eq).  Meta's power is "the peak power
#: capacity per GPU device ... adjusted for power usage efficiency", so the PUE is 1 here.
LLAMA2 = {"7B": (184_320, 400, 31.22), "13B": (368_640, 400, 62.44), "34B": (1_038_336, 350, 153.90),
          "70B": (1_720_320, 400, 291.42)}
#: The one grid intensity implied by the table's total row (539 tCO2eq).
LLAMA2_G_PER_KWH = 539e6 / sum(h * w / 1000 for h, w, _ in LLAMA2.values())


def test_llama2_gpu_hours_reproduce_table_2():
    s = scenario(f"{LLAMA2_G_PER_KWH:.4f} g/kWh")
    for name, (hours, watts, _) in LLAMA2.items():
        s.add_training_run(f"llama2-{name}", hardware="a100", datacenter="dc", chip_hours=hours,
                           power_w_per_chip=watts, start="2023-01-01")
    result = s.run()
    assert not result.warnings
    for w, (hours, watts, published_t) in zip(result.workloads, LLAMA2.values()):
        assert w.chip_hours == pytest.approx(hours, rel=1e-9)
        assert w.energy_kwh == pytest.approx(hours * watts / 1000, rel=1e-9)
        assert w.gross_co2e_kg / 1000 == pytest.approx(published_t, rel=1e-3)   # the table rounds to 0.01 t
    assert result.totals.gross_co2e_kg / 1000 == pytest.approx(539.00, rel=1e-6)


def test_chip_hours_with_chips_sets_the_duration():
    s = scenario("429 g/kWh")
    s.add_training_run("run", hardware="v100", chips=64, datacenter="dc", chip_hours=6400, power_w_per_chip=300)
    (run,) = s.validate().training
    assert run.chips == 64 and run.duration_s == pytest.approx(100 * 3600)


def test_chip_hours_with_a_duration_sets_the_chips():
    s = scenario("429 g/kWh")
    s.add_training_run("run", hardware="v100", datacenter="dc", chip_hours=184_320, duration_days=30,
                       power_w_per_chip=300)
    resolved = s.validate()
    assert resolved.training[0].chips == 256 and resolved.training[0].days == pytest.approx(30)
    assert not resolved.warnings


def test_chip_hours_with_an_uneven_duration_keeps_chip_hours_exact():
    s = scenario("429 g/kWh")
    s.add_training_run("run", hardware="v100", datacenter="dc", chip_hours=100, duration_hours=7,
                       power_w_per_chip=300)
    resolved = s.validate()
    run = resolved.training[0]
    assert run.chips == 14 and run.chips * run.duration_s / 3600 == pytest.approx(100)
    assert "not a whole number of chips" in resolved.warnings[0]


def test_chip_hours_alone_on_an_hourly_grid_warns_about_timing():
    s = carbonsim.Scenario("inputs")
    s.add_datacenter("dc", pue=1.1, grid="eia:CISO")
    s.add_training_run("run", hardware="v100", datacenter="dc", chip_hours=1000, power_w_per_chip=300,
                       start="2022-03-01")
    resolved = s.validate()
    assert resolved.training[0].chips == 2 and resolved.training[0].duration_s == pytest.approx(500 * 3600)
    assert any("without chips or a duration" in w for w in resolved.warnings)


# ---------------------------------------------------------------------------
# Intensities with units
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("text, grams", [
    ("429 g/kWh", 429.0), ("0.429 kg/kWh", 429.0), ("0.429 t/MWh", 429.0), ("429 kg/MWh", 429.0),
    ("954 lbs/MWh", 954 * LB_KG), ("954 lb/MWh", 954 * LB_KG), ("0.954 lbs/kWh", 954 * LB_KG),
    ("0.954 lbsCO2e/kWh", 954 * LB_KG), (" 1e3 gCO2eq/kWh ", 1000.0), ("0 g/kWh", 0.0), ("429000 g/MWh", 429.0),
])
def test_intensity_units(text, grams):
    assert intensity_g_per_kwh(text) == pytest.approx(grams, rel=1e-12)


@pytest.mark.parametrize("text", ["954", "lbs/MWh", "954 lbs/GWh", "954 W", "-1 g/kWh", "6000 g/kWh", "nan g/kWh"])
def test_intensity_units_refuse(text):
    with pytest.raises(ValueError):
        intensity_g_per_kwh(text)


def test_strubell_table_3_in_lbs():
    """kWh x PUE 1.58 x 0.954 lbs/kWh (Strubell et al. eq. 1-2): Transformer big 192 lbs, BERT base 1438 lbs,
    NAS 626,155 lbs (written as its 274,120 hours on 8 P100 = 2,192,960 GPU hours)."""
    s = scenario("0.954 lbs/kWh", pue=1.58)
    s.add_training_run("transformer-big", hardware="p100", chips=8, datacenter="dc", duration_hours=84,
                       power_w_per_chip=1515.43 / 8)
    s.add_training_run("bert-base", hardware="v100", chips=64, datacenter="dc", duration_hours=79.2,
                       power_w_per_chip=12_041.51 / 64)
    s.add_training_run("nas", hardware="p100", datacenter="dc", chip_hours=8 * 274_120,
                       power_w_per_chip=1515.43 / 8)
    result = s.run()
    for w, kwh, lbs in zip(result.workloads, (201, 1507, 656_347), (192, 1438, 626_155)):
        assert w.energy_kwh == pytest.approx(kwh, abs=0.6)
        assert w.gross_co2e_kg / LB_KG == pytest.approx(lbs, abs=0.6)
    assert result.datacenters[0].grid == "constant 432.727 gCO2e/kWh (0.954 lbs/kWh)"


def test_net_intensity_with_a_unit():
    s = scenario("0.545 kg/kWh", net_grid_intensity="0.330 kg/kWh")
    s.add_training_run("run", hardware="v100", chips=1, datacenter="dc", duration_hours=1000, power_w_per_chip=1000)
    w = s.run().workloads[0]
    assert (w.gross_co2e_kg, w.net_co2e_kg) == (pytest.approx(545.0), pytest.approx(330.0))


# ---------------------------------------------------------------------------
# Training FLOPs from parameters and tokens
# ---------------------------------------------------------------------------


def test_gpt3_flops_from_parameters_and_tokens():
    s = scenario("429 g/kWh", pue=1.1)
    s.add_training_run("gpt3", hardware="v100", chips=10_000, datacenter="dc", parameters=175e9, tokens=300e9,
                       achieved_tflops_per_chip=24.6, power_w_per_chip=330)
    w = s.run().workloads[0]
    assert w.flops == pytest.approx(6 * 175e9 * 300e9)
    assert w.flops == pytest.approx(3.14e23, rel=0.005)          # Patterson et al. Table 4
    assert w.days == pytest.approx(14.8, rel=0.005)
    assert w.energy_kwh / 1000 == pytest.approx(1287, rel=0.005)


def test_moe_tokens_use_activated_parameters():
    s = scenario("429 g/kWh")
    s.add_training_run("moe", hardware="tpu-v3", chips=1024, datacenter="dc", parameters=619e9,
                       activated_fraction=0.0025, tokens=1e12, hardware_efficiency=0.39, power_w_per_chip=288)
    (run,) = s.validate().training
    assert run.flops == pytest.approx(6 * 619e9 * 0.0025 * 1e12)
    assert run.duration_s == pytest.approx(run.flops / (1024 * 0.39 * 123e12))


# ---------------------------------------------------------------------------
# Services: the service-time law, mean and peak chips
# ---------------------------------------------------------------------------


def _queue(law: str) -> dict:
    s = scenario("400 g/kWh")
    # per-query service time b = energy x 3600 / (chips x busy W) = 0.1 x 3600 / 360 = 1 s; lambda = 0.5/s
    s.add_service("svc", hardware="a100", duration_days=4, datacenter="dc", queries_per_second=0.5, diurnal="flat",
                  energy_wh_per_query=0.1, power_w_per_chip=360, idle_w_per_chip=0, replicas=1, service_time=law,
                  mode="requests")
    return s.run().workloads[0].serving


def test_exponential_service_is_mm1():
    sv = _queue("exponential")
    mu, lam = 1.0, 0.5
    assert sv["latency_s"]["mean"] == pytest.approx(1 / (mu - lam), rel=0.03)
    assert sv["latency_s"]["p99"] == pytest.approx(math.log(100) / (mu - lam), rel=0.05)


def test_deterministic_service_is_md1():
    sv = _queue("deterministic")
    mu, rho = 1.0, 0.5
    assert sv["latency_s"]["mean"] == pytest.approx(1 / mu + rho / (2 * mu * (1 - rho)), rel=0.03)


def test_service_mean_and_peak_chips():
    s = scenario("400 g/kWh")
    s.add_service("fixed", hardware="a100", duration_days=2, datacenter="dc", queries_per_second=10,
                  energy_wh_per_query=0.05, power_w_per_chip=400, idle_w_per_chip=50, chips_per_replica=2, replicas=3)
    s.add_service("scaled", hardware="a100", duration_days=7, datacenter="dc", queries_per_second=200,
                  energy_wh_per_query=0.05, power_w_per_chip=400, idle_w_per_chip=50, chips_per_replica=2,
                  autoscaling={"min_replicas": 1, "max_replicas": 50}, diurnal="web", mode="fluid")
    fixed, scaled = s.run().workloads
    assert fixed.serving["chips_mean"] == pytest.approx(6, rel=1e-3) and fixed.serving["chips_peak"] == 6
    assert fixed.chips == fixed.serving["chips_peak"]
    assert scaled.chips == scaled.serving["chips_peak"] > scaled.serving["chips_mean"] > 0
    assert scaled.serving["chips_mean"] == pytest.approx(2 * scaled.serving["replicas_mean"], rel=0.02)


# ---------------------------------------------------------------------------
# Newer keys at their default do not change a file's hash
# ---------------------------------------------------------------------------


def test_hash_ignores_newer_keys_at_their_default():
    def sha(**extra):
        s = scenario(None, grid_intensity_gco2e_per_kwh=400)
        s.add_service("svc", hardware="a100", duration_days=1, datacenter="dc", queries_per_second=1,
                      energy_wh_per_query=0.1, power_w_per_chip=360, idle_w_per_chip=0, replicas=1, **extra)
        return s.validate().sha256
    assert sha() == sha(service_time="deterministic") != sha(service_time="exponential")
