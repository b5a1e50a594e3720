"""The Monte Carlo fast path against full re-runs, for every workload kind and every input kind.

The fast path re-weights one engine run for every sample whose schedule-changing
inputs agree.  For each pair (workload kind, uncertain input kind) a small study
runs with the run-time check switched off (``verify=0``), so that what is proved
here is the classification and the re-weighting themselves: every sample's outputs
(totals, phases, workloads; energy, gross, net, embodied and total CO2e) must equal
a full run of that sample's own document to 1e-9.  Then the run-time check: a
re-weighting made wrong on purpose is caught and the study falls back to full runs.
"""
from __future__ import annotations

import copy

import numpy as np
import pytest

from carbonsim import resolve
from carbonsim.model import uncertain as unc
from carbonsim.sim.simulate import run as run_resolved
from carbonsim.studies import montecarlo as mc
from carbonsim.studies.reweight import outputs_of

HW = {"base": "a100", "system_power_w": 300.0, "idle_w": 50.0, "embodied_kgco2e": 150.0, "lifetime_years": 4.0}


def _doc(kind: str, grid: str = "constant") -> dict:
    dc = {"pue": 1.1}
    if grid == "constant":
        dc["grid_intensity_gco2e_per_kwh"] = 400.0
    else:
        dc.update(grid="eia:CISO", grid_year_shift="exact")
    doc = {"schema_version": 1, "scenario": {"name": f"fast-{kind}", "start": "2020-01-01T00:00:00Z"},
           "hardware": {"gpu": dict(HW)}, "datacenters": {"dc": dc}, "workloads": {}}
    wl = doc["workloads"]
    common = {"hardware": "gpu", "datacenter": "dc"}
    if kind in ("training", "training_own_power", "pool", "pool_own_idle"):
        t = {"name": "t", **common, "chips": 4, "start": "2020-01-01T03:00:00Z", "duration_hours": 30.5}
        if kind == "training_own_power":
            t["power_w_per_chip"] = 280.0
        wl["training"] = [t]
        if kind.startswith("pool"):
            doc["scenario"]["end"] = "2020-01-03T00:00:00Z"
            dc["pools"] = {"gpu": {"chips": 8, **({"idle_w_per_chip": 40.0} if kind == "pool_own_idle" else {})}}
    elif kind == "job_stream":
        wl["job_stream"] = [{"name": "j", **common, "start": "2020-01-01T00:00:00Z", "end": "2020-01-03T00:00:00Z",
                             "rate_per_day": 6.0, "chips": 2,
                             "duration_hours": {"dist": "uniform", "low": 1.0, "high": 5.0}}]
    elif kind == "search":
        wl["search"] = [{"name": "s", **common, "start": "2020-01-01T00:00:00Z", "trials": 6, "chips_per_trial": 2,
                         "trial_duration_hours": 5.0, "parallelism": 2, "power_w_per_chip": 250.0,
                         "final_training": {"name": "final", **common, "chips": 4, "duration_hours": 10.0}}]
    elif kind in ("service_requests", "service_fluid", "service_split"):
        wl["service"] = [{"name": "sv", **common, "start": "2020-01-01T00:00:00Z", "duration_days": 1.0,
                          "queries_per_second": 2.0, "energy_wh_per_query": 0.05, "replicas": 2,
                          "max_batch_size": 4, "max_wait_ms": 20.0,
                          "mode": "requests" if kind == "service_requests" else "fluid"}]
        if kind == "service_split":    # two datacenters, a second one on an hourly grid with its own CFE
            sv = wl["service"][0]
            del sv["datacenter"]
            sv.update(datacenters=["dc", "dc2"], traffic_split=[0.7, 0.3], queries_per_second=20.0)
            doc["datacenters"]["dc2"] = {"pue": 1.2, "grid": "em:DE-LU", "grid_year_shift": "exact", "cfe": "grid"}
            doc["workloads"]["training"] = [{"name": "t", "hardware": "v100", "datacenter": "dc2", "chips": 2,
                                             "duration_hours": 7.0}]
    return doc


WORKLOADS = ("training", "training_own_power", "job_stream", "search", "service_requests", "service_fluid",
             "service_split", "pool", "pool_own_idle")


def _uniform(low, high):
    return {"dist": "uniform", "low": low, "high": high}


#: input kind -> (location, distribution); workload-specific locations are filled in by _inputs.
INPUTS = {
    "hardware.system_power_w": (("hardware", "gpu", "system_power_w"), _uniform(250.0, 350.0)),
    "hardware.idle_w": (("hardware", "gpu", "idle_w"), _uniform(30.0, 70.0)),
    "hardware.tdp_w": (("hardware", "gpu", "tdp_w"), _uniform(350.0, 450.0)),
    "hardware.embodied_kgco2e": (("hardware", "gpu", "embodied_kgco2e"), _uniform(100.0, 300.0)),
    "hardware.lifetime_years": (("hardware", "gpu", "lifetime_years"), _uniform(3.0, 6.0)),
    "datacenter.pue": (("datacenters", "dc", "pue"), _uniform(1.05, 1.3)),
    "datacenter.grid_intensity": (("datacenters", "dc", "grid_intensity_gco2e_per_kwh"), _uniform(200.0, 500.0)),
    "datacenter.grid_scale": (("datacenters", "dc", "grid_scale"), _uniform(0.5, 1.5)),
    "datacenter.grid_scale_hourly": (("datacenters", "dc", "grid_scale"), _uniform(0.5, 1.5)),
    "datacenter.cfe": (("datacenters", "dc", "cfe"), _uniform(0.0, 0.5)),
    "datacenter.net_intensity": (("datacenters", "dc", "net_grid_intensity_gco2e_per_kwh"), _uniform(50.0, 150.0)),
    "workload.power_w_per_chip": (None, _uniform(200.0, 320.0)),
    "workload.final_training_power": (None, _uniform(200.0, 320.0)),
    "service.idle_w_per_chip": (None, _uniform(10.0, 40.0)),
    "pool.idle_w_per_chip": (("datacenters", "dc", "pools", "gpu", "idle_w_per_chip"), _uniform(20.0, 60.0)),
    "schedule.chips": (None, {"dist": "choice", "values": [2, 4]}),
}


def _loc(kind: str, name: str):
    loc, _ = INPUTS[name]
    if loc is not None:
        return loc
    key = {"training": "training", "training_own_power": "training", "pool": "training", "pool_own_idle": "training",
           "job_stream": "job_stream", "search": "search", "service_requests": "service",
           "service_fluid": "service", "service_split": "service"}[kind]
    if name == "workload.power_w_per_chip":
        return ("workloads", key, 0, "power_w_per_chip")
    if name == "workload.final_training_power":
        return ("workloads", "search", 0, "final_training", "power_w_per_chip") if kind == "search" else None
    if name == "service.idle_w_per_chip":
        return ("workloads", "service", 0, "idle_w_per_chip") if key == "service" else None
    if name == "schedule.chips":
        return {"training": ("workloads", "training", 0, "chips"), "job_stream": ("workloads", "job_stream", 0, "rate_per_day"),
                "search": ("workloads", "search", 0, "chips_per_trial"),
                "service": ("workloads", "service", 0, "chips_per_replica")}[key]
    raise AssertionError(name)


def _pairs():
    for kind in WORKLOADS:
        for name in INPUTS:
            if name == "pool.idle_w_per_chip" and kind != "pool_own_idle":
                continue
            if name == "datacenter.grid_scale_hourly" and kind not in ("training", "service_fluid", "pool",
                                                                       "service_split"):
                continue
            if _loc(kind, name) is None:
                continue
            yield kind, name


def _study_doc(kind: str, names) -> dict:
    grid = "hourly" if any(n == "datacenter.grid_scale_hourly" for n in names) else "constant"
    doc = _doc(kind, grid)
    for name in names:
        unc.set_at(doc, _loc(kind, name), copy.deepcopy(INPUTS[name][1]))
    return doc


def _check_against_full_runs(doc: dict, samples: int = 3) -> mc.UncertaintyResult:
    r = mc.monte_carlo(doc, samples=samples, method="random", seed=11, verify=0, workers=1)
    for i in range(r.n):
        full = outputs_of(run_resolved(resolve(r.scenario.document_at(r.inputs[i]))), r.layout)
        fast = r.values[i]
        scale = np.maximum(np.abs(full), 1e-12 * np.max(np.abs(full)))
        bad = np.flatnonzero(~(np.abs(fast - full) <= 1e-9 * scale))
        assert not len(bad), [(r.layout.entities[k // 6], k % 6, fast[k], full[k]) for k in bad[:5]]
    return r


@pytest.mark.parametrize(("kind", "name"), list(_pairs()), ids=lambda v: v)
def test_fast_path_equals_full_runs(kind, name):
    r = _check_against_full_runs(_study_doc(kind, [name]))
    effect = r.effects[0]
    if name == "schedule.chips" or name == "hardware.tdp_w":
        assert effect == unc.SCHEDULE
    elif kind.startswith("service") and name in ("hardware.system_power_w", "hardware.idle_w",
                                                 "service.idle_w_per_chip", "workload.power_w_per_chip"):
        assert effect == unc.SCHEDULE     # the serving model: busy power sets the service time
    elif name == "hardware.system_power_w" and kind in ("training_own_power", "search", "job_stream"):
        pass                              # no effect on these (they give their own power), either is right
    elif name == "hardware.idle_w" and kind != "pool":
        pass
    else:
        assert effect == unc.REWEIGHT, "this pair should take the fast path"


@pytest.mark.parametrize("kind", WORKLOADS)
def test_fast_path_all_inputs_at_once(kind):
    """Every input kind that applies, all uncertain together (cfe and a net intensity are exclusive)."""
    names = [n for k, n in _pairs() if k == kind and n not in ("datacenter.net_intensity",
                                                               "datacenter.grid_scale_hourly")]
    _check_against_full_runs(_study_doc(kind, names), samples=4)


def test_service_power_spread_is_not_zero():
    """The case of the issue: an uncertain system power of the hardware a service runs on."""
    doc = _study_doc("service_fluid", ["hardware.system_power_w", "hardware.idle_w"])
    r = mc.monte_carlo(doc, samples=8, workers=1)
    assert r.stats("energy_kwh")["std"] > 0
    assert r.effects == (unc.SCHEDULE, unc.SCHEDULE)


def test_runtime_check_falls_back_to_full_runs(monkeypatch):
    """A re-weighting made wrong on purpose (the classification and the probe both fooled) is caught
    by the run-time check: the study runs every sample in full and says so."""
    monkeypatch.setattr(unc, "HW_SERVING", set())
    monkeypatch.setattr(mc, "schedule_signature", lambda resolved: {})
    doc = _study_doc("service_fluid", ["hardware.system_power_w"])
    r = mc.monte_carlo(doc, samples=6, method="random", seed=3, workers=1)
    assert any("fast-path check failed" in w for w in r.warnings), r.warnings
    assert r.effects == (unc.SCHEDULE,) and r.engine_runs == 6
    for i in range(r.n):
        full = outputs_of(run_resolved(resolve(r.scenario.document_at(r.inputs[i]))), r.layout)
        np.testing.assert_allclose(r.values[i], full, rtol=1e-12)
    # without the check the same study is wrong: that is what the check is for
    wrong = mc.monte_carlo(doc, samples=6, method="random", seed=3, workers=1, verify=0)
    assert wrong.effects == (unc.REWEIGHT,)
    assert not np.allclose(wrong.values, r.values, rtol=1e-6)
