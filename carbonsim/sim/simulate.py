"""From a resolved scenario to a result.

    ResolvedScenario ──jobs()──▶ job table (seeded draws, all before the simulation)
                     ──grid──▶  hourly intensity table (gross, net) per datacenter
    fleet.simulate (SimPy) or fleet_compiled.simulate (compiled core, the same events)
                            ──▶ power intervals (busy, idle)   [+ the baseline run]
    accounting.integrate (compiled kernel) ──▶ energy and CO2e per interval
    bincount by workload / datacenter; hourly_energy ──▶ Result
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math

import numpy as np

from .. import grid as gridmod
from ..model.errors import Problem, ScenarioError
from ..model.gridcheck import span_problem
from ..model.objects import JobStream, MeasuredRun, ResolvedScenario, Search, Service, TrainingRun
from ..model.units import SECONDS_PER_HOUR as HOUR  # noqa: E402
from ..results import build_result
from . import custom
from . import fleet
from . import fleet_compiled
from . import serving
from .accounting import J_PER_KWH, IntensityTable, hourly_energy, integrate


@dataclasses.dataclass(frozen=True)
class WorkloadRow:
    """One row of the results: a workload, or the final training of a search."""

    name: str
    kind: str
    phase: str
    hardware: object
    datacenter: str
    source: object


def workload_rows(scenario: ResolvedScenario) -> list[WorkloadRow]:
    rows = []
    for w in scenario.workloads:
        rows.append(WorkloadRow(w.name, w.kind, w.phase, w.hardware, w.datacenter, w))
        if isinstance(w, Search) and w.final_training is not None:
            f = w.final_training
            rows.append(WorkloadRow(f.name, "training", f.phase, f.hardware, f.datacenter, f))
    return rows


def _hour_floor(t: dt.datetime) -> dt.datetime:
    return t.replace(minute=0, second=0, microsecond=0)


def _secs(t: dt.datetime, t0: dt.datetime) -> float:
    return (t - t0).total_seconds()


# ---------------------------------------------------------------------------
# Jobs
# ---------------------------------------------------------------------------


def _draw(value, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` per-job values: a number, or a distribution sampled through its inverse CDF."""
    if isinstance(value, (int, float)):
        return np.full(n, float(value))
    return value.ppf(rng.random(n))


def _stream_jobs(st: JobStream, rng: np.random.Generator, t0: dt.datetime):
    if st.trace is not None:
        submit = np.array([_secs(t, t0) for t in st.trace["submit"]])
        chips = np.array(st.trace["chips"], dtype=np.int64)
        if "duration_hours" in st.trace:
            work = np.array(st.trace["duration_hours"]) * HOUR
        else:
            work = np.array(st.trace["flops"]) / (chips * st.achieved_flops_per_chip)
        return submit, chips, work
    span = _secs(st.end, st.start)
    n = int(rng.poisson(st.rate_per_s * span))
    submit = _secs(st.start, t0) + np.sort(rng.uniform(0.0, span, n))
    chips = np.maximum(np.rint(_draw(st.chips, rng, n)), 1).astype(np.int64)
    if st.duration_hours is not None:
        work = _draw(st.duration_hours, rng, n) * HOUR
    else:
        work = _draw(st.flops, rng, n) / (chips * st.achieved_flops_per_chip)
    work = np.maximum(work, 1.0)  # a job runs at least a second
    return submit, chips, work


def _length_estimates(w, work: np.ndarray, chips: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The lengths a policy plans with (``length_known``); the jobs still run ``work``.
    ``"mean"``: the mean length of the workload's jobs.  ``"distribution"``: a seeded
    draw per job, independent of its true length: from the stream's duration (or
    flops) distribution for a Poisson stream, else from the workload's own lengths
    (a trace, the trials of a search)."""
    how = w.policy.length_known
    if how == "exact" or len(work) == 0:
        return work
    if how == "mean":
        return np.full(len(work), float(np.mean(work)))
    if isinstance(w, JobStream) and w.trace is None:
        if w.duration_hours is not None:
            est = _draw(w.duration_hours, rng, len(work)) * HOUR
        else:
            est = _draw(w.flops, rng, len(work)) / (chips * w.achieved_flops_per_chip)
        return np.maximum(est, 1.0)
    return rng.choice(work, len(work))


def build_jobs(scenario: ResolvedScenario, rows: list[WorkloadRow], t0: dt.datetime, dc_index: dict,
               policy_index: dict) -> tuple[fleet.Jobs, dict[int, int]]:
    """The job table (every random draw happens here, seeded per workload)."""
    seeds = np.random.SeedSequence(scenario.seed).spawn(len(rows))
    cols: dict[str, list] = {k: [] for k in ("submit", "chips", "work", "power", "hw", "wl", "home", "pol", "prio",
                                             "group", "after", "plan")}
    limits: dict[int, int] = {}

    def add(submit, chips, work, row_i, w, group=-1, after=-1, power=None):
        n = len(submit)
        work = np.asarray(work, dtype=np.float64)
        est_rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, 0x1E57, row_i]))
        cols["submit"].append(np.asarray(submit, dtype=np.float64))
        cols["chips"].append(np.asarray(chips, dtype=np.int64))
        cols["work"].append(np.asarray(work, dtype=np.float64))
        cols["plan"].append(_length_estimates(w, work, np.asarray(chips, dtype=np.float64), est_rng))
        cols["power"].append(np.full(n, w.power_w_per_chip) if power is None else np.asarray(power, np.float64))
        cols["hw"].extend([w.hardware.name] * n)
        cols["wl"].append(np.full(n, row_i, dtype=np.int64))
        cols["home"].append(np.full(n, dc_index[w.datacenter], dtype=np.int64))
        cols["pol"].append(np.full(n, policy_index[w.policy], dtype=np.int64))
        cols["prio"].append(np.full(n, w.priority, dtype=np.int64))
        cols["group"].append(np.full(n, group, dtype=np.int64))
        cols["after"].append(np.full(n, after, dtype=np.int64))

    names = {r.name: i for i, r in enumerate(rows)}
    for i, row in enumerate(rows):
        w = row.source
        rng = np.random.default_rng(seeds[i])
        if isinstance(w, TrainingRun):
            if any(isinstance(r.source, Search) and r.source.final_training is w for r in rows):
                continue  # added with its search
            add([_secs(w.start, t0)], [w.chips], [w.duration_s], i, w)
        elif isinstance(w, JobStream):
            add(*_stream_jobs(w, rng, t0), i, w)
        elif isinstance(w, MeasuredRun):     # each measured segment a job at its measured power
            s0 = _secs(w.start, t0)
            add([s0 + off for off, _, _ in w.segments], [w.chips] * len(w.segments),
                [length for _, length, _ in w.segments], i, w, power=[p for _, _, p in w.segments])
        elif isinstance(w, Search):
            group = len(limits)
            limits[group] = w.parallelism or w.trials
            work = np.full(w.trials, w.trial_duration_s)
            stopped = rng.permutation(w.trials)[: int(round(w.trials * w.early_stopping_fraction))]
            work[stopped] *= w.early_stopped_length
            add(np.full(w.trials, _secs(w.start, t0)), np.full(w.trials, w.chips_per_trial), work, i, w, group=group)
            if w.final_training is not None:
                f = w.final_training
                add([_secs(w.start, t0)], [f.chips], [f.duration_s], names[f.name], f, after=group)
    cat = {k: (np.concatenate(v) if v and k != "hw" else v) for k, v in cols.items()}
    if not cols["submit"]:
        cat = {k: (np.zeros(0, dtype=np.int64) if k != "hw" else []) for k in cols}
    jobs = fleet.Jobs(submit_s=cat["submit"].astype(np.float64), chips=cat["chips"], work_s=cat["work"].astype(np.float64),
                       power_w=cat["power"].astype(np.float64), hardware=cat["hw"], workload=cat["wl"],
                       home=cat["home"], policy=cat["pol"], priority=cat["prio"], group=cat["group"],
                       after_group=cat["after"], plan_work_s=cat["plan"].astype(np.float64))
    # an explicit group limit only where a search caps its parallelism
    return jobs, {g: c for g, c in limits.items()}


# ---------------------------------------------------------------------------
# Inference services (their own request-level or fluid kernel, not the engine)
# ---------------------------------------------------------------------------


def service_rates(sv: Service, rng: np.random.Generator) -> np.ndarray:
    """Requests per second for each UTC hour of the service: base rate x weekly shape
    (by the users' local hour of week) x compound growth x burstiness."""
    import zoneinfo

    n = max(1, math.ceil(sv.duration_s / HOUR))
    tz = zoneinfo.ZoneInfo(sv.timezone)
    shape = np.asarray(sv.shape)
    idx = np.empty(n, dtype=np.int64)
    for k in range(n):
        local = (sv.start + dt.timedelta(hours=k)).astimezone(tz)
        idx[k] = local.weekday() * 24 + local.hour
    years = np.arange(n) / (365.25 * 24)
    rate = sv.queries_per_second * shape[idx] * (1.0 + sv.growth_per_year) ** years
    if sv.burstiness > 0:
        s = sv.burstiness
        rate = rate * np.exp(s * rng.standard_normal(n) - s * s / 2)
    return rate


def simulate_services(scenario: ResolvedScenario, rows: list[WorkloadRow]) -> dict:
    """Serving results by row index: ``[(datacenter, ServingResult), ...]``, one per datacenter the
    service is deployed in, each with its share of the traffic (seeded per row, like every workload)."""
    seeds = np.random.SeedSequence(scenario.seed).spawn(len(rows))
    out = {}
    for i, row in enumerate(rows):
        sv = row.source
        if isinstance(sv, Service):
            rate_seed, serve_seed = seeds[i].spawn(2)
            rate = service_rates(sv, np.random.default_rng(rate_seed))
            out[i] = [(dc, _serve(scenario, sv, dc, rate * share, child))
                      for dc, share, child in zip(sv.datacenters, sv.split, serve_seed.spawn(len(sv.datacenters)))]
    return out


def _serve(scenario: ResolvedScenario, sv: Service, dc: str, rate, seed):
    """One deployment's serving run; a limit of the serving engine is reported at the service's
    place in the file (the engine's own message names its arguments)."""
    try:
        return serving.simulate(sv.config, rate, seed=seed, mode=sv.mode)
    except ScenarioError as err:
        k = scenario.services.index(sv)
        fix = ('set mode = "fluid" (or "auto") for this traffic, or lower it' if sv.mode == "requests"
               else "lower the traffic or shorten the service")
        raise ScenarioError([Problem(f"workloads.service[{k}]", f"{dc}: {q.path} {q.rule}", q.value, fix=fix,
                                     has_value=q.has_value) for q in err.problems], scenario.source) from None


def _service_intervals(services: dict, rows, t0: dt.datetime, dc_index: dict) -> dict[str, np.ndarray]:
    parts = []
    for i, deployments in services.items():
        sv = rows[i].source
        s0 = _secs(sv.start, t0)
        for dc, res in deployments:
            n = len(res.it_energy_j)
            start = s0 + np.arange(n) * HOUR
            chips = (res.busy_chip_s + res.idle_chip_s) / HOUR
            block = {"start_s": start, "end_s": start + HOUR, "power_w": res.it_energy_j / HOUR, "chips": chips}
            if res.drain_energy_j > 0 and res.drain_end_s > n * HOUR:
                span = res.drain_end_s - n * HOUR
                block = {k: np.append(v, x) for k, v, x in (
                    ("start_s", block["start_s"], s0 + n * HOUR), ("end_s", block["end_s"], s0 + res.drain_end_s),
                    ("power_w", block["power_w"], res.drain_energy_j / span),
                    ("chips", block["chips"], res.drain_busy_chip_s / span))}
            m = len(block["start_s"])
            block.update(datacenter=np.full(m, dc_index[dc], np.int32), workload=np.full(m, i, np.int32),
                         kind=np.zeros(m, np.int8), job=np.full(m, -1, np.int64))
            parts.append(block)
    keys = ("start_s", "end_s", "power_w", "datacenter", "workload", "kind", "chips", "job")
    return {k: np.concatenate([p[k] for p in parts]) for k in keys} if parts else {}


def _append(intervals: dict, extra: dict) -> dict:
    if not extra:
        return intervals
    return {k: np.concatenate([intervals[k], extra[k].astype(intervals[k].dtype)]) for k in intervals}


# ---------------------------------------------------------------------------
# Grid table
# ---------------------------------------------------------------------------


def intensity_table(scenario: ResolvedScenario, t0: dt.datetime, n_hours: int) -> IntensityTable:
    """Hourly gross and net intensity per datacenter over [t0, t0 + n_hours)."""

    names = tuple(scenario.datacenters)
    values = np.empty((len(names), n_hours, 2))
    for d, name in enumerate(names):
        dc = scenario.datacenters[name]
        try:
            gross = gridmod.align(dc.grid, t0, n_hours, year_shift=dc.grid_year_shift,
                                  overflow=dc.grid_overflow) * dc.grid_scale
            if dc.net_grid_intensity_g_per_kwh is not None:
                net = np.full(n_hours, dc.net_grid_intensity_g_per_kwh * dc.grid_scale)
            elif dc.cfe == "grid":
                cfe_signal = dataclasses.replace(dc.grid, values=dc.grid.cfe, cfe=None, generation=None)
                cfe = gridmod.align(cfe_signal, t0, n_hours, year_shift=dc.grid_year_shift, overflow=dc.grid_overflow)
                net = gross * (1.0 - cfe)
            elif dc.cfe is not None:
                net = gross * (1.0 - dc.cfe)
            else:
                net = gross
        except gridmod.GridError as err:
            raise ScenarioError([span_problem(name, dc, err)], scenario.source) from None
        values[d, :, 0] = gross
        values[d, :, 1] = net
    return IntensityTable.from_values(t0, names, values)


def _forecasts(scenario: ResolvedScenario, table: IntensityTable, policies: list,
               max_lead_hours: int = 48) -> list[fleet.Forecast]:
    """What each policy sees of the gross signal: the signal itself; times seeded
    lognormal errors, independent per hour or growing with lead time (AR(1)); or a
    forecast made from the signal's past (persistence, day-ahead mean).  See
    :class:`carbonsim.sim.fleet.IssuedForecast`."""
    gross = table.values[:, :, 0]
    cache: dict = {}
    out = []
    for p in policies:
        sigma = p.forecast_error
        if p.forecast != "perfect":
            key = (p.forecast,)
        elif sigma == 0:
            key = (0.0,)
        elif p.forecast_error_model == "ar1":
            key = ("ar1", sigma, p.forecast_error_phi)
        else:
            key = (sigma,)
        if key not in cache:
            if p.forecast != "perfect":
                cache[key] = fleet.IssuedForecast(gross, p.forecast, max_lead_hours=max_lead_hours)
            elif sigma == 0:
                cache[key] = fleet.Forecast(gross)
            elif p.forecast_error_model == "ar1":
                cache[key] = fleet.IssuedForecast(gross, "ar1", sigma=sigma, phi=p.forecast_error_phi,
                                                   seed=scenario.seed, max_lead_hours=max_lead_hours)
            else:
                rng = np.random.default_rng(np.random.SeedSequence([scenario.seed, 0xF0CA57]))
                z = rng.standard_normal(gross.shape)
                cache[key] = fleet.Forecast(gross * np.exp(sigma * z - sigma ** 2 / 2))
        out.append(cache[key])
    return out


# ---------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Accounting:
    """Per-interval and per-hour results of one engine run."""

    run: fleet.EngineRun
    it_j: np.ndarray
    fac_j: np.ndarray
    gross_g: np.ndarray
    net_g: np.ndarray
    embodied_kg: np.ndarray


def _account(run: fleet.EngineRun, table: IntensityTable, pue: np.ndarray, embodied_rate: np.ndarray,
             num_threads: int) -> Accounting:
    iv = run.intervals
    energy_j, weighted = integrate(iv["start_s"], iv["end_s"], iv["power_w"], iv["datacenter"], table,
                                   num_threads=num_threads)
    p = pue[iv["datacenter"]]
    # embodied_rate: kg per chip-second, per interval (hardware of the interval)
    emb = iv["chips"] * (iv["end_s"] - iv["start_s"]) * embodied_rate
    return Accounting(run, energy_j, energy_j * p, weighted[:, 0] * p / J_PER_KWH, weighted[:, 1] * p / J_PER_KWH, emb)


@dataclasses.dataclass
class Simulated:
    """Everything a run computed before it is summarised into a Result.

    ``accounted["policy"]`` (and ``["baseline"]`` when a policy differs from the
    default) hold per-interval energy, gross and net CO2e and embodied carbon;
    the interval arrays say which workload (``>= 0``; ``-1 - k`` for idle chips
    of pool ``k``), datacenter, kind and chip count each interval belongs to.
    Studies re-weight these without re-running the engine.
    """

    scenario: ResolvedScenario
    rows: list
    pools: list
    jobs: fleet.Jobs
    accounted: dict
    policies: list
    t0: dt.datetime
    table: IntensityTable
    hourly: dict | None = None
    services: dict = dataclasses.field(default_factory=dict)
    engine: str = "simpy"          # the fleet engine that ran: compiled | simpy


ENGINES = ("auto", "compiled", "simpy")


def choose_engine(requested: str, jobs, policies, limits, source: str | None, where: str = "scenario.engine") -> str:
    """``"compiled"`` or ``"simpy"`` for ``requested`` = auto | compiled | simpy (auto: the compiled core
    whenever it can run the job table; ScenarioError when "compiled" is asked for and it cannot)."""
    if requested not in ENGINES:
        raise ScenarioError([Problem(where, "must be one of " + ", ".join(map(repr, ENGINES)), requested)], source)
    if requested == "simpy":
        return "simpy"
    why = fleet_compiled.unsupported(jobs, policies, limits)
    if why is None:
        return "compiled"
    if requested == "compiled":
        raise ScenarioError([Problem(where, f"the compiled fleet core cannot run {why}", requested,
                                     fix='use "auto" (it runs such scenarios on the SimPy engine) or "simpy"')],
                            source)
    return "simpy"


def run(scenario: ResolvedScenario, *, hourly: bool = False, num_threads: int = 1, progress=None,
        engine: str | None = None):
    """Simulate a resolved scenario; returns a :class:`carbonsim.results.Result`
    (:func:`carbonsim.run` also takes a file path or a :class:`carbonsim.Scenario`).  ``progress``:
    an object with ``start(total, done, unit)``, ``update(k)`` and ``close()`` (e.g. the command
    line's progress bar), told of the jobs the engine submits.  ``engine``: auto | compiled | simpy
    (default: the scenario's ``[scenario] engine``)."""
    sim = simulate(scenario, hourly=hourly, num_threads=num_threads, progress=progress, engine=engine)
    return build_result(sim)


def simulate(scenario: ResolvedScenario, *, hourly: bool = False, num_threads: int = 1,
             progress=None, engine: str | None = None) -> Simulated:
    """Run the engine and the accounting kernel; see :class:`Simulated`."""
    rows = workload_rows(scenario)
    dc_names = list(scenario.datacenters)
    dc_index = {n: i for i, n in enumerate(dc_names)}
    policies = list(dict.fromkeys([w.source.policy for w in rows]))
    policy_index = {p: i for i, p in enumerate(policies)}

    starts = [scenario.start] + [getattr(r.source, "start") for r in rows]
    t0 = _hour_floor(min(starts))
    jobs, limits = build_jobs(scenario, rows, t0, dc_index, policy_index)

    # pools: declared ones, and unlimited ones where a datacenter declares none
    pools: list[fleet.Pool] = []
    hw_used = sorted({r.hardware.name for r in rows})
    for d, name in enumerate(dc_names):
        dc = scenario.datacenters[name]
        if dc.pools:
            pools += [fleet.Pool(d, p.hardware, p.chips, p.idle_w_per_chip, p.power_down_after_s)
                      for p in dc.pools.values()]
        else:
            pools += [fleet.Pool(d, h, None) for h in hw_used]

    services = simulate_services(scenario, rows)
    extra = _service_intervals(services, rows, t0, dc_index)
    t_end_s = _secs(scenario.end, t0) if scenario.end else None
    reach = [t_end_s or 0.0, 1.0, float(extra["end_s"].max()) if extra else 0.0]
    lead_s = HOUR
    if len(jobs):
        slack = np.array([policies[k].slack_s for k in jobs.policy])
        longest = np.maximum(jobs.work_s, jobs.plan_work_s)
        reach.append(float(np.max(jobs.submit_s + longest + slack)))
        horizon = np.array([p.horizon_s if p.threshold_percentile is not None else 0.0 for p in policies])[jobs.policy]
        lead_s = float(np.max(longest + np.maximum(slack, horizon)))
    n_hours = max(1, math.ceil(max(reach) / HOUR))
    table = intensity_table(scenario, t0, n_hours)
    forecasts = _forecasts(scenario, table, policies, max_lead_hours=math.ceil(lead_s / HOUR) + 2)
    eng_policies = [fleet.Policy(placement=p.placement, candidates=tuple(dc_index[n] for n in p.datacenters),
                                  shift=p.shift, slack_s=p.slack_s, interrupt=p.interrupt, threshold_g=p.threshold_g,
                                  checkpoint_overhead_s=p.checkpoint_overhead_s,
                                  threshold_percentile=p.threshold_percentile, horizon_s=p.horizon_s,
                                  length_known=p.length_known, python=p.python, params_json=p.params_json,
                                  base_dir=p.base_dir, where=p.where, source=scenario.source) for p in policies]
    labels = custom.Labels(tuple(dc_names), tuple(r.name for r in rows), t0)

    t_start = _secs(min(starts), t0)
    with_baseline = not all(p.is_baseline for p in policies)
    used = choose_engine(scenario.engine if engine is None else engine, jobs, eng_policies, limits, scenario.source,
                         "scenario.engine" if engine is None else "engine")
    sim_fleet = fleet_compiled.simulate if used == "compiled" else fleet.simulate
    if progress is not None:
        progress.start(len(jobs) * (2 if with_baseline else 1), 0, "jobs")
    try:
        runs = {"policy": sim_fleet(jobs, pools, eng_policies, forecasts, t_start=t_start, t_end=t_end_s,
                                    group_limits=limits, progress=progress, labels=labels)}
        if with_baseline:
            runs["baseline"] = sim_fleet(jobs, pools, eng_policies, forecasts, t_start=t_start,
                                         t_end=t_end_s, group_limits=limits, baseline=True, progress=progress,
                                         labels=labels)
    finally:
        if progress is not None:
            progress.close()
    t_last = max([r.t_end for r in runs.values()] + [float(extra["end_s"].max()) if extra else 0.0])
    for r in runs.values():      # the same horizon for the policy and its baseline
        fleet.finish(r, t_last)
        r.intervals = _append(r.intervals, extra)
    needed = max(1, math.ceil(t_last / HOUR))
    if needed > table.n_hours:   # queueing ran past the planning horizon
        table = intensity_table(scenario, t0, needed)

    pue = np.array([scenario.datacenters[n].pue for n in dc_names])
    emb_rate_wl = np.array([r.hardware.embodied_kg_per_chip_second for r in rows] or [0.0])
    accounted = {}
    for key, r in runs.items():
        w = r.intervals["workload"]
        # embodied carbon of busy chip-time here; idle capacity's is added from pool chip-time
        rate = np.where(w >= 0, emb_rate_wl[np.maximum(w, 0)], 0.0)
        accounted[key] = _account(r, table, pue, rate, num_threads)
    hourly_data = None
    if hourly:
        a = accounted["policy"]
        iv = a.run.intervals
        n_dc, n_h = len(dc_names), table.n_hours
        # per (workload row or idle capacity, datacenter): rows 0..n-1 the workloads, row n idle chips
        w = iv["workload"].astype(np.int64)
        group = np.where(w >= 0, w, len(rows)) * n_dc + iv["datacenter"]
        e = hourly_energy(iv["start_s"], iv["end_s"], iv["power_w"], group, (len(rows) + 1) * n_dc, n_h)
        e = e.reshape(len(rows) + 1, n_dc, n_h)
        fac = e * pue[None, :, None]
        gross = fac * table.values[None, :, :, 0] / J_PER_KWH / 1000
        net = fac * table.values[None, :, :, 1] / J_PER_KWH / 1000
        hourly_data = {"t0": t0, "it_kwh": e.sum(axis=0) / J_PER_KWH, "energy_kwh": fac.sum(axis=0) / J_PER_KWH,
                       "gross_kg": gross.sum(axis=0), "net_kg": net.sum(axis=0),
                       "intensity_g_per_kwh": table.values[:, :, 0],
                       # per workload row (the last row: idle capacity), summed over datacenters
                       "workload_energy_kwh": fac.sum(axis=1) / J_PER_KWH,
                       "workload_gross_kg": gross.sum(axis=1), "workload_net_kg": net.sum(axis=1)}
    return Simulated(scenario, rows, pools, jobs, accounted, policies, t0, table, hourly_data, services, used)

