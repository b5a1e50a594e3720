"""Building a :class:`Result` from what the engines recorded (intervals, serving runs, pool accounting)."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np

from ..model.units import J_PER_KWH
from ..model.objects import TrainingRun
from ..model.units import SECONDS_PER_DAY

from .result import DatacenterResult, PoolResult, Result, Totals, WorkloadResult


def _sum_by(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index, weights, minlength=n)[:n] if len(index) else np.zeros(n)


def _totals(mask, a) -> Totals:
    return Totals(float(a.it_j[mask].sum() / J_PER_KWH), float(a.fac_j[mask].sum() / J_PER_KWH),
                  float(a.gross_g[mask].sum() / 1000), float(a.net_g[mask].sum() / 1000),
                  float(a.embodied_kg[mask].sum()))


_NO_REQUESTS = "undefined: no requests were served"


def _latency(res) -> dict:
    """Mean and percentiles of a deployment's latency; null (with a note) when it served no request."""
    keys = ("mean", "p50", "p95", "p99") if res.mode == "requests" else ("mean",)
    if not res.total_requests:
        return {**dict.fromkeys(keys), "note": _NO_REQUESTS}
    if res.mode == "requests":
        return {"mean": float(res.mean_latency()), "p50": float(res.latency_percentile(50)),
                "p95": float(res.latency_percentile(95)), "p99": float(res.latency_percentile(99))}
    return {"mean": float(res.mean_latency())}


def _serving_summary(deployments, duration_s, fac_kwh, gross_kg, net_kg) -> dict:
    """A service's figures over every datacenter it is deployed in (latency per datacenter
    when there are several: percentiles of different fleets do not add)."""
    requests = float(sum(r.total_requests for _, r in deployments))
    busy = sum(r.total_busy_chip_s for _, r in deployments)
    idle = sum(r.total_idle_chip_s for _, r in deployments)
    out = {
        "mode": ",".join(dict.fromkeys(r.mode for _, r in deployments)), "requests": requests,
        "queries_per_second_mean": requests / max(duration_s, 1.0),
        "replicas_mean": float(sum(np.mean(r.replicas) for _, r in deployments if len(r.replicas))),
        "replicas_max": float(sum(np.max(r.replicas) for _, r in deployments if len(r.replicas))),
        # chips provisioned (busy + idle): the mean over the service's duration, and the peak of the hourly
        # means (summed over datacenters), which is also the workload's "chips"
        "chips_mean": float((busy + idle) / max(duration_s, 1.0)),
        "chips_peak": math.ceil(float(sum(np.max(r.replicas) for _, r in deployments if len(r.replicas)))
                                * deployments[0][1].config.chips_per_replica),
        "utilization": float(busy / max(busy + idle, 1e-300)),
        "per_query": {"wh": fac_kwh * 1000 / requests if requests else None,
                      "gco2e": {"gross": gross_kg * 1000 / requests if requests else None,
                                "net": net_kg * 1000 / requests if requests else None}},
    }
    if len(deployments) == 1:
        out["latency_s"] = _latency(deployments[0][1])
    else:
        served = [(float(r.total_requests), r.mean_latency()) for _, r in deployments if r.total_requests]
        out["latency_s"] = ({"mean": float(np.average([m for _, m in served], weights=[w for w, _ in served]))}
                            if served else {"mean": None, "note": _NO_REQUESTS})
        out["datacenters"] = {dc: {"requests": float(r.total_requests), "latency_s": _latency(r),
                                   "replicas_mean": float(np.mean(r.replicas)) if len(r.replicas) else 0.0}
                              for dc, r in deployments}
    return out


def _idle_embodied(run, pools, scenario, datacenter: int | None = None) -> float:
    """Embodied carbon of pool chips while not running jobs (idle or powered down), by time."""
    total = 0.0
    for k, p in enumerate(pools):
        if p.chips is None or (datacenter is not None and p.datacenter != datacenter):
            continue
        rate = scenario.hardware[p.hardware].embodied_kg_per_chip_second
        total += (run.pool_idle_chip_s[k] + run.pool_off_chip_s[k]) * rate
    return total


#: A pool is overloaded when the chip-time its jobs ask for exceeds this share of its capacity over
#: the period in which they are submitted (queues then grow without bound), or when the run ends
#: more than OVERDUE_DAYS after the scenario's end and every job's own end (deadline, or submit + run time).
MAX_LOAD = 1.0
OVERDUE_DAYS = 7.0


def overload_of(which: str, run, jobs, pools, scenario, dc_names, t0) -> dict | None:
    """Whether a run (``"policy"`` or ``"baseline"``) could not keep up with its jobs, and how badly."""
    n = len(jobs)
    if n == 0:
        return None
    first, last = float(np.min(jobs.submit_s)), float(np.max(jobs.submit_s))
    period = last - first
    loads = []
    for k, p in enumerate(pools):
        if p.chips is None or period <= 0:
            continue
        load = run.pool_busy_chip_s[k] / (p.chips * period)
        if load > MAX_LOAD:
            loads.append({"datacenter": dc_names[p.datacenter], "hardware": p.hardware, "chips": p.chips,
                          "load": float(load)})
    # the latest a job would end without queueing: at its deadline if it has one, else submit + run time
    own = np.where(np.isfinite(run.deadline_s), run.deadline_s, jobs.submit_s + jobs.work_s)
    end_s = max(float(np.max(own)), (scenario.end - t0).total_seconds() if scenario.end is not None else -np.inf)
    finish = float(np.nanmax(run.job_end_s)) if np.isfinite(run.job_end_s).any() else end_s
    overdue_h = max(0.0, finish - end_s) / 3600
    if not loads and overdue_h <= OVERDUE_DAYS * 24:
        return None
    wait = float(np.mean(run.job_queue_s) / 3600)
    what = "with its policies" if which == "policy" else "as the baseline (every job at submission, at home)"
    parts = [f"{d['datacenter']}/{d['hardware']} asked for {d['load']:.0%} of its {d['chips']:,} chips"
             for d in loads]
    message = (f"the fleet cannot keep up {what}: jobs wait {wait:,.1f} h for chips on average and the last "
               f"ends {overdue_h:,.1f} h after the scenario's end (or the last job's deadline)" + (f" ({'; '.join(parts)})" if parts else "")
               + "; totals include that backlog and delays compare overloaded queues (add chips or lower the load)")
    return {"run": which, "wait_hours_mean": wait, "ends_after_scenario_hours": overdue_h, "pools": loads,
            "message": message}


def build_result(sim) -> Result:
    scenario, rows, pools, jobs, accounted, t0 = sim.scenario, sim.rows, sim.pools, sim.jobs, sim.accounted, sim.t0
    a = accounted["policy"]
    run = a.run
    iv = run.intervals
    n_rows = len(rows)
    wl = iv["workload"]
    busy = wl >= 0
    w_idx = np.where(busy, wl, 0)
    it = _sum_by(w_idx[busy], a.it_j[busy], n_rows) / J_PER_KWH
    fac = _sum_by(w_idx[busy], a.fac_j[busy], n_rows) / J_PER_KWH
    gross = _sum_by(w_idx[busy], a.gross_g[busy], n_rows) / 1000
    net = _sum_by(w_idx[busy], a.net_g[busy], n_rows) / 1000
    emb = _sum_by(w_idx[busy], a.embodied_kg[busy], n_rows)
    chip_h = _sum_by(w_idx[busy], (iv["chips"] * (iv["end_s"] - iv["start_s"]))[busy], n_rows) / 3600
    dc_names = list(scenario.datacenters)
    warnings = list(scenario.warnings)
    delay = run.job_start_s - jobs.submit_s
    completion = run.job_end_s - jobs.submit_s - jobs.work_s     # later than run at submit without waiting
    wait = run.job_queue_s

    def at(s):
        return None if not np.isfinite(s) else t0 + dt.timedelta(seconds=float(s))

    base_rows = None
    if "baseline" in accounted:
        b = accounted["baseline"]
        bw = b.run.intervals["workload"]
        bb = bw >= 0
        bi = np.where(bb, bw, 0)[bb]
        b_delay = b.run.job_start_s - jobs.submit_s
        base_rows = {"it_kwh": _sum_by(bi, b.it_j[bb], n_rows) / J_PER_KWH,
                     "energy_kwh": _sum_by(bi, b.fac_j[bb], n_rows) / J_PER_KWH,
                     "gross": _sum_by(bi, b.gross_g[bb], n_rows) / 1000, "net": _sum_by(bi, b.net_g[bb], n_rows) / 1000,
                     "embodied": _sum_by(bi, b.embodied_kg[bb], n_rows),
                     "delay": b_delay, "completion": b.run.job_end_s - jobs.submit_s - jobs.work_s}

    results = []
    for i, row in enumerate(rows):
        src = row.source
        mask = jobs.workload == i
        chip = row.hardware
        if chip.embodied_kgco2e is None:
            fix = ("give hardware = ... in its [[workloads.measured]] table" if row.kind == "measured"
                   and chip.name == "measured" else f"set hardware.{chip.name}.embodied_kgco2e")
            warnings.append(f"{row.name}: no published embodied carbon for {chip.name}; counted as 0 "
                            f"({fix} to include it)")
        placed = run.job_datacenter[mask]
        placements = {dc_names[d]: int(c) for d, c in zip(*np.unique(placed[placed >= 0], return_counts=True))}
        n_jobs = int(mask.sum())
        is_run = isinstance(src, TrainingRun)
        serving = None
        if i in sim.services:
            deployments = sim.services[i]
            for dc_name, res in deployments:
                warnings.extend(f"{row.name} in {dc_name}: {w}" if len(deployments) > 1 else f"{row.name}: {w}"
                                for w in res.warnings)
            serving = _serving_summary(deployments, src.duration_s, fac[i], gross[i], net[i])
            placements = {dc_name: float(res.total_requests) for dc_name, res in deployments}
            days = src.duration_s / SECONDS_PER_DAY
            serving["per_day"] = {"energy_kwh": fac[i] / days, "co2e_kg": net[i] / days}
            if src.users:
                serving["per_user"] = {"wh": fac[i] * 1000 / src.users, "gco2e": net[i] * 1000 / src.users,
                                       "per_day_gco2e": net[i] * 1000 / src.users / days}
        results.append(WorkloadResult(
            name=row.name, kind=row.kind, phase=row.phase, datacenter=row.datacenter, hardware=chip.name,
            chips=int(jobs.chips[mask].max()) if n_jobs else
            serving["chips_peak"] if serving else 0,
            start=at(np.nanmin(run.job_start_s[mask])) if n_jobs else getattr(src, "start", None),
            end=at(np.nanmax(run.job_end_s[mask])) if n_jobs else getattr(src, "end", None),
            power_w_per_chip=src.power_w_per_chip,
            it_energy_kwh=float(it[i]), energy_kwh=float(fac[i]), gross_co2e_kg=float(gross[i]),
            net_co2e_kg=float(net[i]), embodied_co2e_kg=float(emb[i]), embodied_boundary=chip.embodied_boundary,
            parameters=getattr(src, "parameters", None),
            activated_fraction=getattr(src, "activated_fraction", None),
            flops=src.flops if is_run else None,
            published=dict(src.published) if getattr(src, "published", None) else None,
            measured=dict(src.measured) if getattr(src, "measured", None) else None,
            jobs=n_jobs, chip_hours=float(chip_h[i]),
            queue_wait_h_mean=float(wait[mask].mean() / 3600) if n_jobs else 0.0,
            queue_wait_h_p95=float(np.percentile(wait[mask], 95) / 3600) if n_jobs else 0.0,
            delay_h_mean=float(np.nanmean(delay[mask]) / 3600) if n_jobs else 0.0,
            completion_delay_h_mean=float(np.nanmean(completion[mask]) / 3600) if n_jobs else 0.0,
            deadline_misses=int(np.sum(run.job_end_s[mask] > run.deadline_s[mask] + 1e-6)),
            placements=placements, serving=serving,
            power_basis="scenario" if src.power_source == "scenario" else chip.power_basis,
            baseline=None if base_rows is None or src.policy.is_baseline else {
                "it_energy_kwh": float(base_rows["it_kwh"][i]), "energy_kwh": float(base_rows["energy_kwh"][i]),
                "co2e_kg": {"gross": float(base_rows["gross"][i]), "net": float(base_rows["net"][i])},
                "embodied_co2e_kg": float(base_rows["embodied"][i]),
                "total_co2e_kg": float(base_rows["net"][i] + base_rows["embodied"][i]),
                "delay_hours_mean": float(np.nanmean(base_rows["delay"][mask]) / 3600) if n_jobs else 0.0,
                "completion_delay_hours_mean": float(np.nanmean(base_rows["completion"][mask]) / 3600)
                if n_jobs else 0.0},
        ))

    datacenters = []
    dcol = iv["datacenter"]
    for d, name in enumerate(dc_names):
        dc = scenario.datacenters[name]
        in_dc = dcol == d
        pool_results = [PoolResult(p.hardware, p.chips, run.pool_busy_chip_s[k] / 3600,
                                   run.pool_idle_chip_s[k] / 3600, run.pool_off_chip_s[k] / 3600)
                        for k, p in enumerate(pools)
                        if p.datacenter == d and (p.chips is not None or run.pool_busy_chip_s[k] > 0)]
        idle_emb = _idle_embodied(run, pools, scenario, d)
        idle_t = _totals(in_dc & ~busy, a)
        idle_t = Totals(idle_t.it_energy_kwh, idle_t.energy_kwh, idle_t.gross_co2e_kg, idle_t.net_co2e_kg, idle_emb)
        datacenters.append(DatacenterResult(
            name=name, pue=dc.pue, grid=dc.grid.name, basis=dc.grid.basis,
            busy=_totals(in_dc & busy, a), idle=idle_t, pools=tuple(pool_results)))
    bases = {d.basis for d in datacenters if d.basis != "unspecified"}
    if len(bases) > 1:
        warnings.append(f"totals add emissions on different bases ({', '.join(sorted(bases))}): "
                        "direct and lifecycle intensities measure different things")

    power_bases = {w.power_basis for w in results if w.power_basis not in (None, "scenario")}
    if len(power_bases) > 1:
        warnings.append(f"totals add power on different bases ({', '.join(sorted(power_bases))}): measured "
                        "system power, chip TDP and system maximum ratings are not comparable")

    baseline = baseline_delay = baseline_completion = None
    if "baseline" in accounted:
        b = accounted["baseline"]
        everything = np.ones(len(b.it_j), dtype=bool)
        bt = _totals(everything, b)
        baseline = Totals(bt.it_energy_kwh, bt.energy_kwh, bt.gross_co2e_kg, bt.net_co2e_kg,
                          bt.embodied_co2e_kg + _idle_embodied(b.run, pools, scenario))
        d_b = b.run.job_start_s - jobs.submit_s
        baseline_delay = float(np.nanmean(d_b) / 3600) if len(d_b) else 0.0
        c_b = b.run.job_end_s - jobs.submit_s - jobs.work_s
        baseline_completion = float(np.nanmean(c_b) / 3600) if len(c_b) else 0.0
    overload = [o for key, acc in accounted.items() if (o := overload_of(key, acc.run, jobs, pools, scenario,
                                                                          list(scenario.datacenters), t0))]
    for o in overload:
        warnings.append(o["message"])
    job = iv["job"] if "job" in iv else np.full(len(wl), -1, np.int64)
    has_job = job >= 0
    n_jobs_all = len(jobs)
    job_table = {
        "t0": t0, "workload": np.asarray(jobs.workload, dtype=np.int64), "submit_s": jobs.submit_s,
        "start_s": run.job_start_s, "end_s": run.job_end_s, "wait_s": wait, "delay_s": delay,
        "datacenter": run.job_datacenter, "chips": np.asarray(jobs.chips, dtype=np.int64),
        "energy_kwh": _sum_by(job[has_job], a.fac_j[has_job], n_jobs_all) / J_PER_KWH,
        "gross_kg": _sum_by(job[has_job], a.gross_g[has_job], n_jobs_all) / 1000,
        "net_kg": _sum_by(job[has_job], a.net_g[has_job], n_jobs_all) / 1000,
        "embodied_kg": _sum_by(job[has_job], a.embodied_kg[has_job], n_jobs_all),
    }
    return Result(scenario=scenario, workloads=tuple(results), warnings=tuple(dict.fromkeys(warnings)),
                  datacenters=tuple(datacenters), baseline=baseline, baseline_delay_h_mean=baseline_delay,
                  baseline_completion_delay_h_mean=baseline_completion, overload=tuple(overload),
                  engine=getattr(sim, "engine", "simpy"),
                  hourly=sim.hourly, jobs=job_table)
