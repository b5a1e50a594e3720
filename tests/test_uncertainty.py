"""Uncertain inputs: distributions, the nominal pre-pass, re-weighting against full runs, known answers.

The re-weighting (one engine run, many samples) is checked against its slow,
obviously correct reference: substitute the sample's values into the document,
resolve and run it, to 1e-9 relative, on every output (totals, phases,
workloads).  Statistics and Sobol' indices are checked against analytic
answers through the same machinery a study uses.
"""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from scipy import stats

import carbonsim
from carbonsim.studies import montecarlo as study
from carbonsim.model import uncertain as unc
from carbonsim.model import distributions
from carbonsim.model import resolve
from carbonsim.sim.simulate import run
from carbonsim.studies.montecarlo import METRICS, Layout, monte_carlo

HOURS = 24.0


def base_doc(**dc):
    return {"schema_version": 1, "scenario": {"name": "u"},
            "datacenters": {"dc": {"pue": 1.1, "grid_intensity_gco2e_per_kwh": 400.0, **dc}},
            "workloads": {"training": [{"name": "run", "hardware": "v100", "chips": 10, "datacenter": "dc",
                                        "duration_hours": HOURS, "power_w_per_chip": 300.0}]}}


def rich_doc():
    """Every kind of re-weighted input, pools with idle power, an hourly grid with its own CFE, a
    published net intensity, a job stream, a search with a final training and a derived hardware."""
    u = lambda lo, hi: {"dist": "uniform", "low": lo, "high": hi}  # noqa: E731
    return {
        "schema_version": 1,
        "scenario": {"name": "rich", "start": "2022-01-01", "end": "2022-01-12", "seed": 3},
        "hardware": {
            "v100": {"system_power_w": {"dist": "normal", "mean": 325, "rel_std": 0.02},
                     "embodied_kgco2e": u(5, 200), "lifetime_years": u(3, 6), "idle_w": u(0, 60)},
            "big-v100": {"base": "v100", "lifetime_years": 4},
        },
        "datacenters": {
            "dc": {"pue": {"dist": "triangular", "low": 1.08, "mode": 1.1, "high": 1.2},
                   "grid_intensity_gco2e_per_kwh": u(300, 500), "cfe": u(0.1, 0.6),
                   "pools": {"v100": {"chips": 96}, "big-v100": {"chips": 16, "idle_w_per_chip": u(20, 80)}}},
            "hourly": {"pue": 1.15, "grid": "eia:CISO", "cfe": "grid", "grid_scale": u(0.8, 1.2)},
            "net": {"pue": {"dist": "pert", "low": 1.05, "mode": 1.1, "high": 1.3},
                    "grid_intensity_gco2e_per_kwh": 450, "net_grid_intensity_gco2e_per_kwh": u(100, 300)},
        },
        "workloads": {
            "training": [
                {"name": "a", "hardware": "v100", "chips": 32, "datacenter": "dc", "duration_hours": 30,
                 "start": "2022-01-02T05:30:00"},
                {"name": "b", "hardware": "big-v100", "chips": 8, "datacenter": "dc", "duration_hours": 50,
                 "power_w_per_chip": {"dist": "lognormal", "median": 300, "sigma": 0.1}},
                {"name": "c", "hardware": "v100", "chips": 64, "datacenter": "hourly", "duration_hours": 40,
                 "start": "2022-01-03T07:15:00", "phase": "experimentation"},
                {"name": "d", "hardware": "v100", "chips": 16, "datacenter": "net", "duration_hours": 12,
                 "power_w_per_chip": {"dist": "beta", "alpha": 2, "beta": 3, "low": 250, "high": 350}},
            ],
            "job_stream": [
                {"name": "s", "hardware": "v100", "datacenter": "dc", "rate_per_day": 12,
                 "chips": {"dist": "choice", "values": [1, 2, 4]},
                 "duration_hours": {"dist": "lognormal", "median": 3, "sigma": 1, "high": 48},
                 "end": "2022-01-10", "power_w_per_chip": {"dist": "empirical", "values": [280, 300, 310, 330]}},
            ],
            "search": [
                {"name": "nas", "hardware": "v100", "datacenter": "hourly", "trials": 6, "chips_per_trial": 2,
                 "trial_duration_hours": 5, "parallelism": 3, "start": "2022-01-04",
                 "final_training": {"name": "final", "hardware": "v100", "chips": 4, "datacenter": "hourly",
                                    "duration_hours": 9, "power_w_per_chip": u(250, 350)}},
            ],
        },
    }


def reference_outputs(doc, layout: Layout) -> np.ndarray:
    """The slow, obvious way: resolve and run the document, read every output from the Result."""
    r = run(resolve(doc))
    out = np.zeros(layout.n_out)

    def put(entity, t):
        for metric in METRICS:
            out[layout.column(entity, metric)] = getattr(t, metric)

    put(("totals", None), r.totals)
    phases = r.by_phase()
    for p in layout.phases:
        put(("phase", p), phases.get(p, carbonsim.results.Totals()))
    for w in r.workloads:
        put(("workload", w.name), w)
    return out


def assert_close(got, expected, rel=1e-9):
    got, expected = np.asarray(got), np.asarray(expected)
    scale = np.maximum(np.abs(expected), 1e-12 * np.max(np.abs(expected)))
    worst = np.max(np.abs(got - expected) / scale)
    assert worst <= rel, f"worst relative difference {worst:.3g}"


# ---------------------------------------------------------------------------
# Distributions
# ---------------------------------------------------------------------------


U = np.linspace(0.0005, 0.9995, 999)


@pytest.mark.parametrize("table, reference", [
    ({"dist": "uniform", "low": 2, "high": 5}, stats.uniform(2, 3)),
    ({"dist": "triangular", "low": 1.08, "mode": 1.1, "high": 1.15}, stats.triang(0.02 / 0.07, 1.08, 0.07)),
    ({"dist": "normal", "mean": 330, "std": 6.6}, stats.norm(330, 6.6)),
    ({"dist": "normal", "mean": 330, "rel_std": 0.02}, stats.norm(330, 6.6)),
    ({"dist": "normal", "mean": 1.1, "std": 0.1, "low": 1.0, "high": 1.5}, stats.truncnorm(-1, 4, 1.1, 0.1)),
    ({"dist": "lognormal", "median": 429, "sigma": 0.2}, stats.lognorm(0.2, scale=429)),
    ({"dist": "beta", "alpha": 2, "beta": 5, "low": 10, "high": 20}, stats.beta(2, 5, loc=10, scale=10)),
    ({"dist": "pert", "low": 1, "mode": 2, "high": 5}, stats.beta(1 + 4 * 1 / 4, 1 + 4 * 3 / 4, loc=1, scale=4)),
])
def test_inverse_cdf_matches_scipy(table, reference):
    d = distributions.parse_distribution(table)
    np.testing.assert_allclose(d.ppf(U), reference.ppf(U), rtol=1e-9)
    assert d.median() == pytest.approx(reference.median(), rel=1e-9)


def test_truncated_lognormal_stays_in_bounds():
    d = distributions.parse_distribution({"dist": "lognormal", "median": 1, "sigma": 2, "low": 0.5, "high": 3})
    x = d.ppf(np.linspace(0, 1, 1001))
    assert x.min() == pytest.approx(0.5) and x.max() == pytest.approx(3) and np.all(np.diff(x) >= 0)


def test_choice_frequencies_and_lower_median():
    d = distributions.parse_distribution({"dist": "choice", "values": [30, 10, 20], "weights": [1, 2, 1]})
    u = (np.arange(100_000) + 0.5) / 100_000
    x = d.ppf(u)
    assert {v: float(np.mean(x == v)) for v in (10, 20, 30)} == pytest.approx({10: 0.5, 20: 0.25, 30: 0.25})
    assert d.median() == 10          # inverse CDF at 1/2: F(10) = 0.5 already
    regions = distributions.parse_distribution({"dist": "choice", "values": ["eia:CISO", "eia:PJM", "eia:BPAT"],
                                      "weights": [0.4, 0.4, 0.2]})
    assert regions.categorical and regions.median() == "eia:PJM"   # listed order: 0.4 < 0.5 <= 0.8
    assert list(regions.ppf(np.array([0.1, 0.5, 0.9]))) == [0, 1, 2]


def test_choice_never_draws_a_zero_weight_value():
    d = distributions.parse_distribution({"dist": "choice", "values": [1, 2, 3], "weights": [0.5, 0, 0.5]})
    assert 2 not in d.ppf(np.array([0.0, 0.25, 0.5, 0.5000001, 1.0]))


def test_empirical_resamples_or_interpolates():
    d = distributions.parse_distribution({"dist": "empirical", "values": [4, 1, 3, 2]})
    u = (np.arange(4000) + 0.5) / 4000
    assert sorted(set(d.ppf(u))) == [1, 2, 3, 4] and d.median() == 2
    smooth = distributions.parse_distribution({"dist": "empirical", "values": [4, 1, 3, 2], "interpolate": True})
    assert smooth.median() == 2.5 and smooth.ppf(np.array([0.0, 1.0])).tolist() == [1, 4]


# ---------------------------------------------------------------------------
# Bad input: one located error per problem
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("pue, expected", [
    ({"dist": "normal", "mean": 1.1, "std": -0.05}, "datacenters.dc.pue.std: must be greater than 0, got -0.05"),
    ({"dist": "uniform", "low": 1.2, "high": 1.1}, "datacenters.dc.pue.low: must not exceed high (1.1), got 1.2"),
    ({"dist": "gaussian", "mean": 1.1, "std": 0.1},
     "datacenters.dc.pue.dist: unknown distribution, got 'gaussian' (did you mean 'normal'? known: fixed, uniform"),
    ({"dist": "weibull"}, "datacenters.dc.pue.dist: unknown distribution, got 'weibull'"),
    ({"dist": "triangular", "low": 1.0, "mode": 1.3, "high": 1.2},
     "datacenters.dc.pue.mode: must lie between low (1) and high (1.2), got 1.3"),
    ({"dist": "uniform", "low": 1.0}, "datacenters.dc.pue.high: required key of a uniform distribution is missing"),
    ({"dist": "uniform", "low": 1.0, "hihg": 1.2}, "datacenters.dc.pue.hihg: unknown key for a uniform "
                                                   "distribution (did you mean 'high'?)"),
    ({"dist": "uniform", "low": "1.0", "high": 1.2}, "datacenters.dc.pue.low: must be a valid number, got '1.0'"),
    ({"dist": "normal", "mean": 1.1, "std": 0.1, "rel_std": 0.1}, "datacenters.dc.pue.std: give exactly one of"),
    ({"dist": "choice", "values": [1.1, 1.2], "weights": [1]},
     "datacenters.dc.pue.weights: has 1 entries but values has 2"),
    ({"dist": "choice", "values": [1.1, 1.2], "weights": [1, -1]}, "datacenters.dc.pue.weights[1]: must be >= 0"),
    ({"dist": "choice", "values": []}, "datacenters.dc.pue.values: must have at least 1 item"),
    ({"dist": "normal", "mean": 1.1, "std": 0.01, "low": 2, "high": 3},
     "datacenters.dc.pue.low: leaves (almost) no probability"),
    ({"dist": 3}, "datacenters.dc.pue.dist: must be the name of a distribution, got 3"),
])
def test_bad_distributions_name_the_field(pue, expected):
    with pytest.raises(carbonsim.ScenarioError) as err:
        unc.nominal(base_doc(pue=pue), source="bad.toml")
    assert len(err.value.problems) == 1
    assert str(err.value).startswith("bad.toml: ") and expected in str(err.value), str(err.value)


def test_every_bad_distribution_is_reported_at_once():
    doc = base_doc(pue={"dist": "uniform", "low": 2, "high": 1}, grid_scale={"dist": "nope"})
    doc["workloads"]["training"][0]["chips"] = {"dist": "uniform", "low": 8.5, "high": 9}
    with pytest.raises(carbonsim.ScenarioError) as err:
        unc.parse(doc)
    assert [p.path for p in err.value.problems] == ["datacenters.dc.pue.low", "datacenters.dc.grid_scale.dist"]
    doc = base_doc()
    doc["workloads"]["training"][0]["chips"] = {"dist": "choice", "values": [8, 8.5]}
    with pytest.raises(carbonsim.ScenarioError, match=r"workloads.training\[0\].chips.values: must be whole"):
        unc.parse(doc)


def test_names_and_reports_cannot_be_uncertain():
    doc = base_doc()
    doc["workloads"]["training"][0]["name"] = {"dist": "choice", "values": ["x", "y"]}
    with pytest.raises(carbonsim.ScenarioError, match=r"workloads.training\[0\].name: cannot be uncertain"):
        unc.parse(doc)


def test_draws_outside_the_fields_range_are_errors_with_the_fix():
    doc = base_doc(pue={"dist": "normal", "mean": 1.05, "std": 0.05})
    with pytest.raises(carbonsim.ScenarioError) as err:
        monte_carlo(doc, samples=256, method="random")
    text = str(err.value)
    assert text.startswith("datacenters.dc.pue: must be greater than or equal to 1, got 0.")
    assert "the lowest of 256 draws of normal(mean=1.05, std=0.05)" in text and "truncate" in text
    doc = base_doc(pue={"dist": "normal", "mean": 1.05, "std": 0.05, "low": 1.0})
    assert monte_carlo(doc, samples=256).n == 256     # truncated: fine


def test_bad_uncertainty_table_and_correlations():
    doc = base_doc(pue={"dist": "uniform", "low": 1.05, "high": 1.2})
    doc["uncertainty"] = {"samples": 1, "methd": "sobol",
                          "correlations": [{"inputs": ["datacenters.dc.pue", "datacenters.dc.nope"], "rho": 0.5}]}
    with pytest.raises(carbonsim.ScenarioError) as err:
        unc.parse(doc)
    paths = [p.path for p in err.value.problems]
    assert paths == ["uncertainty.samples", "uncertainty.methd", "uncertainty.correlations[0].inputs[1]"]
    assert "uncertain inputs: datacenters.dc.pue" in str(err.value)


# ---------------------------------------------------------------------------
# The nominal pre-pass
# ---------------------------------------------------------------------------


def test_nominal_is_the_identity_without_distributions():
    doc = base_doc()
    assert unc.nominal(doc) is doc


def test_nominal_takes_medians_and_leaves_per_job_distributions_alone():
    doc = rich_doc()
    doc["uncertainty"] = {"samples": 10}
    notes = []
    nom = unc.nominal(doc, notes)
    assert "uncertainty" not in nom and "uncertainty" in doc     # the caller's document is not changed
    assert nom["datacenters"]["dc"]["grid_intensity_gco2e_per_kwh"] == 400.0
    assert nom["datacenters"]["dc"]["pue"] == pytest.approx(stats.triang(0.02 / 0.12, 1.08, 0.12).median())
    stream = nom["workloads"]["job_stream"][0]
    assert stream["chips"] == {"dist": "choice", "values": [1, 2, 4]}       # a per-job distribution
    assert stream["power_w_per_chip"] == 300.0                              # lower median of 4 values
    assert len(notes) == 1 and "ran the nominal case, each at its median" in notes[0]
    resolve(nom)   # a valid scenario


def test_classification():
    u = unc.parse(rich_doc())
    effects = {i.path: i.effect for i in u.inputs}
    assert set(effects.values()) == {unc.REWEIGHT}
    doc = rich_doc()
    doc["workloads"]["training"][0]["chips"] = {"dist": "choice", "values": [16, 32]}
    doc["datacenters"]["dc"]["pools"]["v100"]["chips"] = {"dist": "uniform", "low": 90, "high": 100}
    doc["workloads"]["training"][1]["policy"] = {"shift": "window", "slack_hours": 6}
    u = unc.parse(doc)
    effects = {i.path: i for i in u.inputs}
    assert effects["workloads.training[0].chips"].effect == unc.SCHEDULE
    assert effects["datacenters.dc.pools.v100.chips"].integer
    # a carbon-aware policy reads the grid: intensity and scale then change the schedule; PUE never does
    assert effects["datacenters.dc.grid_intensity_gco2e_per_kwh"].effect == unc.SCHEDULE
    assert effects["datacenters.hourly.grid_scale"].effect == unc.SCHEDULE
    assert effects["datacenters.dc.pue"].effect == unc.REWEIGHT
    assert unc.parse(base_doc(pue={"dist": "fixed", "value": 1.2})).inputs[0].effect == unc.FIXED


# ---------------------------------------------------------------------------
# Re-weighting = re-running, on every output
# ---------------------------------------------------------------------------


def test_reweighting_equals_full_runs():
    doc = rich_doc()
    u = unc.parse(doc)
    pl = study.plan(u)
    assert len(pl.reweighted) == len(u.sampled) and not pl.warnings and not pl.direct
    layout = pl.layout
    basis = study.build_basis(pl.resolved, pl.mapping, layout)
    x = u.transform(u.design(5, "random", 11))
    x = np.vstack([x, u.transform(np.full((1, len(u.sampled)), 0.5))])   # and the nominal case
    got = basis.evaluate(x)
    for i in range(len(x)):
        assert_close(got[i], reference_outputs(u.document_at(x[i]), layout))
    # evaluating one sample alone gives the same bits as in a block (no cross-sample arithmetic)
    assert np.array_equal(basis.evaluate(x[2:3])[0], got[2])


def test_schedule_changing_inputs_rerun_the_engine_and_still_match():
    doc = rich_doc()
    doc["workloads"]["job_stream"][0]["rate_per_day"] = {"dist": "uniform", "low": 6, "high": 18}
    doc["workloads"]["training"][2]["datacenter"] = {"dist": "choice", "values": ["hourly", "dc"]}
    r = monte_carlo(doc, samples=6, method="random", seed=5)
    assert r.effects.count(unc.SCHEDULE) == 2 and r.engine_runs == 6
    for i in range(r.n):
        assert_close(r.values[i], reference_outputs(r.scenario.document_at(r.inputs[i]), r.layout))


def test_a_choice_of_hardware_reruns_once_per_choice_and_reweights_its_figures():
    doc = base_doc()
    w = doc["workloads"]["training"][0]
    w["hardware"] = {"dist": "choice", "values": ["v100", "a100", "h100"]}
    del w["power_w_per_chip"]          # the catalog's (or the file's) power of the chosen hardware
    doc["hardware"] = {"a100": {"system_power_w": {"dist": "uniform", "low": 250, "high": 400},
                                "embodied_kgco2e": {"dist": "uniform", "low": 100, "high": 300}},
                       "v100": {"lifetime_years": {"dist": "uniform", "low": 3, "high": 6}}}
    r = monte_carlo(doc, samples=12, method="random", seed=3)
    assert r.engine_runs == 3 and r.effects == (unc.SCHEDULE, unc.REWEIGHT, unc.REWEIGHT, unc.REWEIGHT)
    for i in range(r.n):
        assert_close(r.values[i], reference_outputs(r.scenario.document_at(r.inputs[i]), r.layout))


def test_integer_inputs_are_rounded_and_share_engine_runs():
    doc = base_doc()
    doc["workloads"]["training"][0]["chips"] = {"dist": "uniform", "low": 7.6, "high": 9.4}
    r = monte_carlo(doc, samples=64)
    assert r.engine_runs == 2      # 8 or 9 chips
    energy = r.samples("it_energy_kwh")
    assert set(np.round(energy / (300 * HOURS / 1000), 9)) == {8.0, 9.0}


# ---------------------------------------------------------------------------
# Known answers
# ---------------------------------------------------------------------------


def product_doc():
    """total CO2e = chips x P x hours x PUE x c (no embodied: tpu-v2 has no figure): a product of
    three independent uniforms, whose moments and Sobol' indices are known in closed form."""
    doc = base_doc(pue={"dist": "uniform", "low": 1.0, "high": 1.6},
                   grid_intensity_gco2e_per_kwh={"dist": "uniform", "low": 100, "high": 700})
    w = doc["workloads"]["training"][0]
    w["hardware"] = "tpu-v2"
    w["power_w_per_chip"] = {"dist": "uniform", "low": 200, "high": 300}
    return doc


BOUNDS = [(200, 300), (1.0, 1.6), (100, 700)]       # power, PUE, intensity
SCALE = 10 * HOURS / 1000 / 1000                   # kWh per W, kg per g


def analytic_product():
    mu = np.array([(a + b) / 2 for a, b in BOUNDS])
    m2 = np.array([(a * a + a * b + b * b) / 3 for a, b in BOUNDS])
    var = np.prod(m2) - np.prod(mu ** 2)
    s1 = np.array([(m2[i] - mu[i] ** 2) * np.prod(np.delete(mu, i) ** 2) for i in range(3)]) / var
    st = np.array([1 - mu[i] ** 2 * (np.prod(np.delete(m2, i)) - np.prod(np.delete(mu, i) ** 2)) / var
                   for i in range(3)])
    return np.prod(mu), var, s1, st


def test_monte_carlo_mean_converges_to_the_analytic_mean():
    mean, var, _, _ = analytic_product()
    for method, tol in (("sobol", 2e-4), ("lhs", 2e-3), ("random", 1e-2)):
        r = monte_carlo(product_doc(), samples=4096, method=method, seed=1)
        s = r.stats()
        assert s["mean"] == pytest.approx(mean * SCALE, rel=tol), method
        assert s["std"] == pytest.approx(math.sqrt(var) * SCALE, rel=3 * tol + 5e-3), method
        assert s["sem"] == pytest.approx(s["std"] / 64)
    # a linear output: facility energy = chips x P x hours x PUE with only P uncertain
    doc = base_doc(power_dummy=None)
    doc["datacenters"]["dc"].pop("power_dummy")
    doc["workloads"]["training"][0]["power_w_per_chip"] = {"dist": "triangular", "low": 200, "mode": 250, "high": 400}
    r = monte_carlo(doc, samples=1024)
    assert r.stats("energy_kwh")["mean"] == pytest.approx(10 * HOURS * 1.1 * (200 + 250 + 400) / 3 / 1000, rel=1e-4)


def test_sensitivity_known_answer_through_the_scenario():
    _, _, s1, st = analytic_product()
    r = monte_carlo(product_doc(), samples=8192, sensitivity=True, seed=4)
    s = r.sensitivity
    paths = [i.path for i in r.scenario.sampled]
    order = [paths.index(p) for p in ("workloads.training[0].power_w_per_chip", "datacenters.dc.pue",
                                      "datacenters.dc.grid_intensity_gco2e_per_kwh")]
    np.testing.assert_allclose(s["S1"][order], s1, atol=0.02)
    np.testing.assert_allclose(s["ST"][order], st, atol=0.02)
    for k, truth in (("S1", s1), ("ST", st)):
        lo, hi = s[f"{k}_interval"][order].T
        assert np.all(lo <= truth + 0.01) and np.all(truth - 0.01 <= hi), k
    assert r.ranking()[0] == order[2]     # intensity has the widest relative range
    tor = {t["path"]: t for t in r.tornado}
    # tornado: one input at p5 / p95, the others at their medians: linear in that input
    pue = tor["datacenters.dc.pue"]
    nominal = 250 * 1.3 * 400 * SCALE
    assert pue["nominal"] == pytest.approx(nominal)
    assert pue["low"] == pytest.approx(250 * 1.03 * 400 * SCALE) and pue["high"] == pytest.approx(250 * 1.57 * 400 * SCALE)


def ishigami(x, a=7.0, b=0.1):
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_indices_of_the_ishigami_function():
    """The same design and estimator as a study, on the classic test function (Ishigami & Homma 1990;
    analytic indices as in Saltelli et al. 2008)."""
    d, n = 3, 1 << 14
    ab = unc.unit_design(n, 2 * d, "sobol", 0)
    to_x = distributions.parse_distribution({"dist": "uniform", "low": -math.pi, "high": math.pi}).ppf
    a, b = to_x(ab[:, :d]), to_x(ab[:, d:])
    f_ab = []
    for i in range(d):
        m = a.copy()
        m[:, i] = b[:, i]
        f_ab.append(ishigami(m))
    s = study.sobol_indices(ishigami(a), ishigami(b), np.array(f_ab), seed=0, n_resamples=300)
    np.testing.assert_allclose(s["S1"], [0.3139, 0.4424, 0.0], atol=0.015)
    np.testing.assert_allclose(s["ST"], [0.5576, 0.4424, 0.2437], atol=0.015)
    assert np.all(s["S1_interval"][:, 0] <= s["S1"]) and np.all(s["S1"] <= s["S1_interval"][:, 1])
    again = study.sobol_indices(ishigami(a), ishigami(b), np.array(f_ab), seed=0, n_resamples=300)
    assert np.array_equal(again["ST_interval"], s["ST_interval"])      # seeded bootstrap


def test_correlated_inputs_follow_the_copula():
    doc = base_doc(pue={"dist": "uniform", "low": 1.05, "high": 1.25},
                   grid_intensity_gco2e_per_kwh={"dist": "normal", "mean": 400, "std": 40})
    doc["uncertainty"] = {"correlations": [{"inputs": ["datacenters.dc.pue",
                                                       "datacenters.dc.grid_intensity_gco2e_per_kwh"], "rho": 0.8}]}
    r = monte_carlo(doc, samples=4096, seed=2)
    x = r.inputs
    rho = stats.spearmanr(x[:, 0], x[:, 1]).statistic
    assert rho == pytest.approx(6 / math.pi * math.asin(0.8 / 2), abs=0.02)   # Spearman of a Gaussian copula
    assert x[:, 0].min() >= 1.05 and x[:, 0].max() <= 1.25                  # marginals kept
    bad = copy.deepcopy(doc)
    bad["workloads"]["training"][0]["power_w_per_chip"] = {"dist": "uniform", "low": 200, "high": 300}
    bad["uncertainty"]["correlations"] += [
        {"inputs": ["datacenters.dc.pue", "workloads.training[0].power_w_per_chip"], "rho": 0.9},
        {"inputs": ["datacenters.dc.grid_intensity_gco2e_per_kwh", "workloads.training[0].power_w_per_chip"],
         "rho": -0.9}]
    with pytest.raises(carbonsim.ScenarioError, match="not positive definite"):
        unc.parse(bad)


def test_designs_are_seeded():
    a = unc.unit_design(100, 3, "sobol", 7)
    assert np.array_equal(a, unc.unit_design(100, 3, "sobol", 7))
    assert not np.array_equal(a, unc.unit_design(100, 3, "sobol", 8))
    lhs = unc.unit_design(50, 2, "lhs", 1)
    assert all(sorted(np.floor(lhs[:, j] * 50).astype(int)) == list(range(50)) for j in range(2))
    r = unc.unit_design(3000, 2, "random", 1)
    assert np.array_equal(r[:1024], unc.unit_design(1024, 2, "random", 1))   # blocks do not depend on n


def test_result_sections_and_headline():
    r = monte_carlo(product_doc(), samples=512, percentiles=[2.5, 50, 97.5])
    d = r.to_dict()
    assert set(d["totals"]) == set(METRICS)
    t = d["totals"]["total_co2e_kg"]
    assert set(t) == {"mean", "std", "sem", "median", "min", "max", "percentiles"}
    assert list(t["percentiles"]) == ["2.5", "50", "97.5"] and t["percentiles"]["50"] == t["median"]
    assert d["phases"]["training"]["total_co2e_kg"] == t and list(d["workloads"]) == ["run"]
    assert [i["effect"] for i in d["inputs"]] == [unc.REWEIGHT] * 3
    assert "95% interval" in r.headline() and "sensitivity" not in d
