"""Every text table and summary the command line prints (results, studies, scenarios, serving)."""
from __future__ import annotations

import datetime as dt

import numpy as np

from .._version import __version__
from ..model import uncertain as unc
from ..model.distributions import percentile_key
from ..model.units import SECONDS_PER_DAY


def uncertainty_headline(result) -> str:
    """``total CO2e: 552 t, 90% interval 480-640 t`` (and what drives it, with sensitivity)."""
    med, lo, hi = result.interval()
    width = max(result.percentiles) - min(result.percentiles)
    s = result.stats()
    text = (f"total CO2e: {tonnes(med)} t, {width:g}% interval {tonnes(lo)}-{tonnes(hi)} t "
            f"(mean {tonnes(s['mean'])} t, std {tonnes(s['std'])} t, standard error of the mean {tonnes(s['sem'])} t)")
    if result.sensitivity is not None and len(result.scenario.sampled):
        j = result._ranking()[0]
        text += (f"\ndriven mostly by {result.scenario.sampled[j].path} "
                 f"(total-order Sobol' index {result.sensitivity['ST'][j]:.2f})")
    return text


def uncertainty_table(result) -> str:
    u = result.scenario
    lo, hi = min(result.percentiles), max(result.percentiles)
    reweighted = sum(e == unc.REWEIGHT for e in result.effects)
    out = [f"Monte Carlo of {result.nominal.scenario.name}: {result.n:,} samples ({METHOD_NAMES[result.method]}, "
           f"seed {result.seed}), {len(u.sampled)} uncertain inputs ({reweighted} re-weighted, "
           f"{len(u.sampled) - reweighted} re-run); {result.engine_runs:,} engine run(s), {result.seconds:.1f} s",
           result.headline(), ""]
    pcols = [f"p{p:g}" for p in result.percentiles]
    head = ["output", "unit", "mean", "median", *pcols, "std", "s.e."]
    rows = []

    def add(label, unit, metric, scale, **where):
        s = result.stats(metric, **where)
        rows.append([label, unit] + [number(s[k] * scale) for k in ("mean", "median")]
                    + [number(s["percentiles"][percentile_key(p)] * scale) for p in result.percentiles]
                    + [number(s["std"] * scale), number(s["sem"] * scale)])

    add("total CO2e (net + embodied)", "t", "total_co2e_kg", 1e-3)
    add("  net operational CO2e", "t", "net_co2e_kg", 1e-3)
    add("  gross operational CO2e", "t", "gross_co2e_kg", 1e-3)
    add("  embodied CO2e", "t", "embodied_co2e_kg", 1e-3)
    add("facility energy", "MWh", "energy_kwh", 1e-3)
    for p in result.layout.phases:
        add(f"phase {p}: CO2e", "t", "total_co2e_kg", 1e-3, phase=p)
    if len(result.layout.workloads) > 1:
        for w in result.layout.workloads:
            add(f"{w}: CO2e", "t", "total_co2e_kg", 1e-3, workload=w)
    out += columns(head, rows, right=range(2, len(head)))
    out += ["", "uncertain inputs (nominal = median; re-weighted: no engine re-run)"]
    irows = [[inp.path, inp.dist.describe(), show_value(inp.nominal), eff]
             for inp, eff in zip(u.sampled, result.effects)]
    out += columns(["input", "distribution", "nominal", "effect"], irows, right={2})
    if result.sensitivity is not None:
        s = result.sensitivity
        c = f"{s['confidence_level']:.0%}"
        tor = {t["path"]: t for t in (result.tornado or [])}
        out += ["", f"what drives the variance of total CO2e: Sobol' indices (n = {s['n']:,}, {c} bootstrap "
                    f"intervals); tornado: one input at its p{lo:g} / p{hi:g}, the others at their medians",
                f"(the nominal case, every input at its median: "
                f"{tonnes(result.tornado[0]['nominal']) if result.tornado else '-'} t)"]
        srows = []
        for rank, j in enumerate(result._ranking(), start=1):
            path = u.sampled[j].path
            t = tor.get(path)
            srows.append([str(rank), path, f"{s['S1'][j]:.3f}",
                          f"[{s['S1_interval'][j][0]:.3f}, {s['S1_interval'][j][1]:.3f}]", f"{s['ST'][j]:.3f}",
                          f"[{s['ST_interval'][j][0]:.3f}, {s['ST_interval'][j][1]:.3f}]",
                          tonnes(t["low"]) if t else "-", tonnes(t["high"]) if t else "-",
                          tonnes(t["swing"]) if t else "-"])
        out += columns(["rank", "input", "S1", f"S1 {c}", "ST", f"ST {c}", "low t", "high t", "swing t"],
                        srows, right={0, 2, 3, 4, 5, 6, 7, 8})
        if u.correlation is not None:
            out.append("note: inputs are correlated; Sobol' indices assume independent inputs and here "
                       "describe the independent normal scores of the copula (Cholesky order)")
    out += [f"warning: {w}" for w in result.warnings]
    return "\n".join(out)


def result_table(result) -> str:
    head = ["workload", "hardware", "chips", "days", "IT MWh", "fac. MWh", "gross t", "net t", "embod. t"]
    rows = []
    for w in result.workloads:
        chips = f"{w.chips:,}" if w.jobs == 1 or w.serving or w.kind == "measured" else f"{w.jobs:,} jobs"
        rows.append([w.name, w.hardware, chips, f"{w.days:.2f}", f"{w.it_energy_kwh / 1e3:.2f}",
                     f"{w.energy_kwh / 1e3:.2f}", f"{w.gross_co2e_kg / 1e3:.2f}", f"{w.net_co2e_kg / 1e3:.2f}",
                     f"{w.embodied_co2e_kg / 1e3:.3f}"])
        comp = w.comparison()
        if comp:
            pub = {"days": 3, "energy_mwh": 5, "gross_tco2e": 6, "net_tco2e": 7}
            prow, drow = ["  published"] + [""] * 8, ["  difference"] + [""] * 8
            for key, col in pub.items():
                if key in comp:
                    c, p, d = comp[key]
                    prow[col] = f"{p:g}"
                    drow[col] = f"{d:+.1%}"
            rows += [prow, drow]
    idle = result.idle
    if idle.energy_kwh or idle.embodied_co2e_kg:
        rows.append(["(idle capacity)", "", "", "", f"{idle.it_energy_kwh / 1e3:.2f}", f"{idle.energy_kwh / 1e3:.2f}",
                     f"{idle.gross_co2e_kg / 1e3:.2f}", f"{idle.net_co2e_kg / 1e3:.2f}",
                     f"{idle.embodied_co2e_kg / 1e3:.3f}"])
    t = result.totals
    rows.append(["total", "", "", "", f"{t.it_energy_kwh / 1e3:.2f}",
                 f"{t.energy_kwh / 1e3:.2f}", f"{t.gross_co2e_kg / 1e3:.2f}", f"{t.net_co2e_kg / 1e3:.2f}",
                 f"{t.embodied_co2e_kg / 1e3:.3f}"])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip()

    out = [f"scenario {result.scenario.name} (sha256 {result.scenario.sha256[:12]}), carbonsim {__version__}",
           "energy in MWh (facility = IT x PUE); CO2e in tonnes (gross, net operational; embodied apart)", "",
           line(head), line(["-" * w for w in widths])]
    out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
    out.append(f"total CO2e (net operational + embodied): {t.total_co2e_kg / 1e3:.2f} t")
    pools = [(d, p) for d in result.datacenters for p in d.pools if p.chips is not None]
    if pools:
        out.append("")
        out.append("datacenter pools: utilization, busy / idle energy (facility MWh)")
        for d, p in pools:
            out.append(f"  {d.name} {p.chips} x {p.hardware}: utilization {p.utilization:.1%}; "
                       f"busy {d.busy.energy_kwh / 1e3:.2f}, idle {d.idle.energy_kwh / 1e3:.2f}")
    served = [w for w in result.workloads if w.serving]
    if served:
        out.append("")
        out.append("serving: per query = facility energy (busy + idle chips, x PUE) and CO2e over queries served")
        for w in served:
            sv = w.serving
            pq = sv["per_query"]
            lat = sv["latency_s"]
            lat_text = (f"latency p50 {lat['p50'] * 1e3:.0f} / p95 {lat['p95'] * 1e3:.0f} / p99 {lat['p99'] * 1e3:.0f} ms"
                        if "p99" in lat else f"mean latency {lat['mean'] * 1e3:.0f} ms (fluid estimate)")
            out.append(f"  {w.name}: {sv['requests']:,.0f} queries ({sv['mode']} mode), "
                       f"{sv['queries_per_second_mean']:,.1f}/s on average; replicas mean {sv['replicas_mean']:.1f}, "
                       f"max {sv['replicas_max']:.0f}; chips mean {sv['chips_mean']:,.1f}, peak {sv['chips_peak']:,}; "
                       f"utilisation {sv['utilization']:.0%}")
            if pq["wh"] is not None:
                out.append(f"    per query {pq['wh']:.3g} Wh, {pq['gco2e']['net']:.3g} gCO2e; {lat_text}")
            if "per_user" in sv:
                out.append(f"    per user {sv['per_user']['wh'] / 1000:.3g} kWh, {sv['per_user']['gco2e']:.3g} gCO2e "
                           f"over the service ({sv['per_user']['per_day_gco2e']:.3g} g a day)")
        phases = result.by_phase()
        total = result.totals.energy_kwh or 1.0
        out.append("  lifecycle energy by phase: " + ", ".join(
            f"{k} {v.energy_kwh / total:.1%}" for k, v in phases.items()))
    queued = [w for w in result.workloads if (w.jobs > 1 and w.kind != "measured") or w.queue_wait_h_mean > 0]
    if queued:
        out.append("")
        out.append("queueing (hours): mean wait for chips, p95, mean delay from submit to start")
        for w in queued:
            out.append(f"  {w.name}: {w.jobs:,} jobs; wait {w.queue_wait_h_mean:.2f}, p95 {w.queue_wait_h_p95:.2f}, "
                       f"delay {w.delay_h_mean:.2f}" + (f", {w.deadline_misses} deadline misses"
                                                        if w.deadline_misses else ""))
    if result.baseline is not None:
        sv, b = result.savings, result.baseline
        out.append("")
        out.append("carbon-aware policies vs baseline (the same jobs run at submit in their home datacenter):")
        for w in result.workloads:
            if w.baseline is None:
                continue
            bg = w.baseline["co2e_kg"]["gross"]
            change = (w.gross_co2e_kg - bg) / bg if bg else 0.0
            out.append(f"  {w.name}: gross {bg / 1e3:.2f} -> {w.gross_co2e_kg / 1e3:.2f} t ({change:+.1%}), "
                       f"delay {w.baseline['delay_hours_mean']:.2f} -> {w.delay_h_mean:.2f} h per job")
        out.append(f"  whole scenario (incl. idle capacity): "
                   f"gross {b.gross_co2e_kg / 1e3:.2f} -> {t.gross_co2e_kg / 1e3:.2f} t "
                   f"({-sv.gross_co2e_kg / b.gross_co2e_kg:+.1%}), net {b.net_co2e_kg / 1e3:.2f} -> "
                   f"{t.net_co2e_kg / 1e3:.2f} t; added delay "
                   f"{result._policy_delay() - (result.baseline_delay_h_mean or 0):.2f} h per job")
    out += [f"warning: {w}" for w in result.warnings]
    return "\n".join(out)


def scenario_summary(scenario) -> str:
    lines = [f"scenario {scenario.name!r}: {len(scenario.datacenters)} datacenter(s), {len(scenario.training)} training run(s), "
             f"{len(scenario.job_streams)} job stream(s), {len(scenario.searches)} search(es)"]
    for dc in scenario.datacenters.values():
        uses = f" = {dc.grid.series}" if getattr(dc.grid, "series", None) else ""
        named = dc.grid.constant and not dc.grid.name.startswith("constant")
        grid = (f"grid {dc.grid.name} (annual, {dc.grid_intensity_g_per_kwh:g} gCO2e/kWh, {dc.grid.basis})" if named
                else f"grid {dc.grid_intensity_g_per_kwh:g} gCO2e/kWh" if dc.grid.constant else
                f"grid {dc.grid.name}{uses} (hourly, mean {dc.grid.mean:.1f} gCO2e/kWh, {dc.grid.basis})")
        pools = "".join(f", {p.chips} x {p.hardware}" for p in dc.pools.values())
        lines.append(f"  datacenter {dc.name}: PUE {dc.pue:g}, {grid}; {dc.net_description}{pools}")
    for run in scenario.training:
        lines.append(
            f"  training {run.name}: {run.chips} x {run.hardware.name} at {run.power_w_per_chip:g} W"
            f" in {run.datacenter}, {run.days:.2f} days from {run.start:%Y-%m-%d %H:%M}Z"
        )
    for st in scenario.job_streams:
        src = f"{st.rate_per_s * 86400:g} jobs/day" if st.rate_per_s else f"trace of {len(st.trace['chips'])} jobs"
        lines.append(f"  job stream {st.name} ({st.phase}): {src} on {st.hardware.name} in {st.datacenter}, "
                     f"{st.start:%Y-%m-%d} to {st.end:%Y-%m-%d}")
    for se in scenario.searches:
        lines.append(f"  search {se.name}: {se.trials} trials x {se.chips_per_trial} {se.hardware.name} x "
                     f"{se.trial_duration_s / 3600:g} h in {se.datacenter}"
                     + (f", then training {se.final_training.name}" if se.final_training else ""))
    for mr in scenario.measured:
        lines.append(f"  measured {mr.name}: {mr.measured['it_energy_kwh']:.6g} kWh IT ({mr.measured['source']}) on "
                     f"{mr.chips} x {mr.hardware.name} in {mr.datacenter}, {mr.duration_s / 3600:.4g} h from "
                     f"{mr.start:%Y-%m-%d %H:%M}Z")
    for sv in scenario.services:
        lines.append(f"  service {sv.name}: {sv.queries_per_second:g} queries/s on {sv.hardware.name} in "
                     f"{sv.datacenter} for {sv.duration_s / SECONDS_PER_DAY:g} days from {sv.start:%Y-%m-%d}")
    return "\n".join(lines)


def comparison_table(comparison) -> str:
    head = ["phase", "A MWh", "B MWh", "delta MWh", "A tCO2e", "B tCO2e", "delta t"]
    rows = []
    for k, (ta, tb) in list(comparison.phases().items()) + [("total", (comparison.a.totals, comparison.b.totals))]:
        rows.append([k, f"{ta.energy_kwh / 1e3:,.2f}", f"{tb.energy_kwh / 1e3:,.2f}",
                     f"{(tb.energy_kwh - ta.energy_kwh) / 1e3:+,.2f}", f"{ta.total_co2e_kg / 1e3:,.2f}",
                     f"{tb.total_co2e_kg / 1e3:,.2f}", f"{(tb.total_co2e_kg - ta.total_co2e_kg) / 1e3:+,.2f}"])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [f"A: {comparison.a.scenario.name}    B: {comparison.b.scenario.name}", fmt(head), fmt(["-" * w for w in widths])]
    out += [fmt(r) for r in rows]
    out += ["", "energy: " + comparison.energy.sentence("MWh", 1e3), "CO2e:   " + comparison.co2e.sentence("t", 1e3)]
    out += [f"warning: {w}" for w in comparison.warnings]
    return "\n".join(out)


def sweep_table(sweep) -> str:
    head = ["rank", "region", "month", "basis", "fac. MWh", "gross t", "mean g/kWh", "x best"]
    best = sweep.best.gross_co2e_kg or 1.0
    lines = [[str(i + 1), r.region, "-" if r.month is None else f"{r.month:02d}", r.basis,
              f"{r.energy_kwh / 1e3:.2f}", f"{r.gross_co2e_kg / 1e3:.2f}", f"{r.mean_intensity_g_per_kwh:.1f}",
              f"{r.gross_co2e_kg / best:.2f}"] for i, r in enumerate(sweep.rows)]
    widths = [max(len(x[i]) for x in lines + [head]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(w) if i in (1, 3) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))
    out = [f"sweep of {sweep.scenario}: {len(sweep.rows)} runs, ranked by gross CO2e "
           f"(worst / best = {sweep.spread:.1f}x)", fmt(head), fmt(["-" * w for w in widths])]
    out += [fmt(r) for r in lines]
    bases = {r.basis for r in sweep.rows}
    if len(bases) > 1:
        out.append(f"note: the regions' series are on different bases ({', '.join(sorted(bases))}); "
                   "lifecycle intensities include upstream emissions that direct ones leave out")
    power = sorted({b for r in sweep.rows for b in r.power_bases})
    if len(power) > 1:
        out.append(f"note: the runs add power on different bases ({', '.join(power)}): measured system power, "
                   "chip TDP and system maximum ratings are not comparable")
    return "\n".join(out)


def serving_config_summary(config) -> str:
    fleet = (f"{config.replicas} replicas (fixed)" if not config.autoscale else
             f"autoscaled {config.min_replicas}-{config.max_replicas} replicas at {config.target_utilization:.0%} "
             f"target (every {config.interval_s:g} s, up delay {config.scale_up_delay_s:g} s, "
             f"down delay {config.scale_down_delay_s:g} s)")
    return (f"{fleet} of {config.chips_per_replica} chip(s) at {config.chip_idle_w:g}-{config.chip_busy_w:g} W; "
            f"batch <= {config.max_batch_size}, wait <= {config.max_wait_s:g} s, latency "
            f"{config.batch_fixed_s:g} + {config.batch_per_query_s:g} x batch s ({config.cost_source}, "
            f"{'exponential' if config.exponential_service else 'deterministic'})")


def serving_summary(result) -> str:
    lines = [f"{result.mode} mode, {result.n_hours} h: {result.total_requests:.6g} requests, "
             f"{result.total_energy_kwh:.6g} kWh IT energy, {result.wh_per_query:.4g} Wh/query, "
             f"replicas {np.nanmin(result.replicas):.3g}-{np.nanmax(result.replicas):.3g}, "
             f"mean latency {result.mean_latency():.4g} s"]
    if result.mode_reason:
        lines.append(f"  ({result.mode_reason})")
    lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines)


# helpers

METHOD_NAMES = {"sobol": "scrambled Sobol'", "lhs": "Latin hypercube", "random": "plain random"}


def tonnes(kg: float) -> str:
    t = kg / 1000
    return f"{t:,.0f}" if abs(t) >= 100 else f"{t:,.1f}" if abs(t) >= 10 else f"{t:,.3g}"


def number(x: float) -> str:
    return f"{x:,.1f}" if abs(x) >= 100 else f"{x:,.3g}"


def show_value(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def columns(head, rows, right=()) -> list[str]:
    """A plain text table; columns in ``right`` are right-aligned (numbers)."""
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


