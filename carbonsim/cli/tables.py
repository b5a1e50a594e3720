"""Every text table and summary the command line prints (results, studies, scenarios, serving).

A table is built once as a :class:`Table` (header, rows of strings, right-aligned
columns, a caption) and rendered as plain text (the terminal's), Markdown or LaTeX
(booktabs) by :func:`render`; the HTML report renders the same tables as HTML.
"""
from __future__ import annotations

import dataclasses
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
        j = result.ranking()[0]
        text += (f"\ndriven mostly by {result.scenario.sampled[j].path} "
                 f"(total-order Sobol' index {result.sensitivity['ST'][j]:.2f})")
    return text


def uncertainty_tables(result) -> list[Table]:
    """The study's tables: outputs (mean, median, percentiles, std, s.e.), uncertain inputs, and
    with sensitivity the Sobol' indices and tornado, ranked."""
    u = result.scenario
    lo, hi = min(result.percentiles), max(result.percentiles)
    pcols = [f"p{p:g}" for p in result.percentiles]
    head = ["output", "unit", "mean", "median", *pcols, "std", "s.e."]
    rows = []

    def add(label, unit, metric, scale, **where):
        s = result.stats(metric, **where)
        if s["mean"] is None:          # undefined in every sample (a share of a baseline of 0)
            rows.append([label, unit] + ["-"] * (4 + len(result.percentiles)))
            return
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
    if result.layout.policies is not None:       # what the policies save against the baseline, same samples
        add("policies: baseline net CO2e", "t", "baseline_net_co2e_kg", 1e-3)
        add("  net CO2e saved", "t", "net_co2e_saved_kg", 1e-3)
        add("  net CO2e saved", "%", "net_co2e_saved_pct", 1)
        add("  added delay to start", "h/job", "added_delay_hours", 1)
        add("  added delay to completion", "h/job", "added_completion_delay_hours", 1)
        if len(result.layout.policies) > 1:
            for w in result.layout.policies:
                add(f"  {w}: net CO2e saved", "%", "net_co2e_saved_pct", 1, workload=w)
    tables = [Table(head, rows, right=frozenset(range(2, len(head))),
                    caption=f"{result.nominal.scenario.name}: Monte Carlo outputs ({result.n:,} samples)")]
    irows = [[inp.path, inp.dist.describe(), show_value(inp.nominal), eff]
             for inp, eff in zip(u.sampled, result.effects)]
    tables.append(Table(["input", "distribution", "nominal", "effect"], irows, right=frozenset({2}),
                        caption="uncertain inputs (nominal = median; re-weighted: no engine re-run)"))
    if result.sensitivity is not None:
        s = result.sensitivity
        c = f"{s['confidence_level']:.0%}"
        tor = {t["path"]: t for t in (result.tornado or [])}
        srows = []
        for rank, j in enumerate(result.ranking(), start=1):
            path = u.sampled[j].path
            t = tor.get(path)
            srows.append([str(rank), path, f"{s['S1'][j]:.3f}",
                          f"[{s['S1_interval'][j][0]:.3f}, {s['S1_interval'][j][1]:.3f}]", f"{s['ST'][j]:.3f}",
                          f"[{s['ST_interval'][j][0]:.3f}, {s['ST_interval'][j][1]:.3f}]",
                          tonnes(t["low"]) if t else "-", tonnes(t["high"]) if t else "-",
                          tonnes(t["swing"]) if t else "-"])
        notes = []
        if u.correlation is not None:
            notes.append("note: inputs are correlated; Sobol' indices assume independent inputs and here "
                         "describe the independent normal scores of the copula (Cholesky order)")
        tables.append(Table(["rank", "input", "S1", f"S1 {c}", "ST", f"ST {c}", "low t", "high t", "swing t"],
                            srows, right=frozenset({0, 2, 3, 4, 5, 6, 7, 8}), notes=notes,
                            caption=f"what drives the variance of total CO2e: Sobol' indices (n = {s['n']:,}, {c} "
                                    f"bootstrap intervals); tornado: one input at its p{lo:g} / p{hi:g}, the others "
                                    f"at their medians (the nominal case, every input at its median: "
                                    f"{tonnes(result.tornado[0]['nominal']) if result.tornado else '-'} t)"))
    return tables


def uncertainty_table(result, fmt: str = "text") -> str:
    u = result.scenario
    tables = uncertainty_tables(result)
    warnings = [f"warning: {w}" for w in result.warnings]
    if fmt != "text":
        tables[0].notes = [result.headline().replace("\n", "; ")] + tables[0].notes
        return "\n\n".join(render(t, fmt) for t in tables)
    reweighted = sum(e == unc.REWEIGHT for e in result.effects)
    out = [f"Monte Carlo of {result.nominal.scenario.name}: {result.n:,} samples ({METHOD_NAMES[result.method]}, "
           f"seed {result.seed}), {len(u.sampled)} uncertain inputs ({reweighted} re-weighted, "
           f"{len(u.sampled) - reweighted} re-run); {result.engine_runs:,} engine run(s), {result.seconds:.1f} s",
           result.headline(), ""]
    out += columns(tables[0].head, tables[0].rows, right=tables[0].right)
    out += ["", tables[1].caption] + columns(tables[1].head, tables[1].rows, right=tables[1].right)
    if len(tables) > 2:
        t = tables[2]
        out += ["", t.caption] + columns(t.head, t.rows, right=t.right) + t.notes
    out += warnings
    return "\n".join(out)


def workload_table(result) -> Table:
    """One row per workload (with published values and differences where the file gives them),
    idle capacity, and the total (after a rule)."""
    head = ["workload", "hardware", "chips", "days", "IT MWh", "fac. MWh", "gross t", "net t", "embod. t"]
    rows = []

    def sums(x):
        return [fixed(x.it_energy_kwh / 1e3), fixed(x.energy_kwh / 1e3), fixed(x.gross_co2e_kg / 1e3),
                fixed(x.net_co2e_kg / 1e3), fixed(x.embodied_co2e_kg / 1e3, 3)]

    for w in result.workloads:
        chips = f"{w.chips:,}" if w.jobs == 1 or w.serving or w.kind == "measured" else f"{w.jobs:,} jobs"
        rows.append([w.name, w.hardware, chips, fixed(w.days)] + sums(w))
        comp = w.comparison()
        if comp:
            pub = {"days": 3, "energy_mwh": 5, "gross_tco2e": 6, "net_tco2e": 7}
            prow, drow = ["  published"] + [""] * 8, ["  difference"] + [""] * 8
            for key, col in pub.items():
                if key in comp:
                    c, p, d = comp[key]
                    prow[col] = f"{p:g}"
                    drow[col] = "-" if d is None else f"{d:+.1%}"
            rows += [prow, drow]
    idle = result.idle
    if idle.energy_kwh or idle.embodied_co2e_kg:
        rows.append(["(idle capacity)", "", "", ""] + sums(idle))
    rows.append(["total", "", "", ""] + sums(result.totals))
    return Table(head, rows, right=frozenset(range(2, 9)), rules=frozenset({len(rows) - 1}),
                 caption=f"{result.scenario.name}: energy (MWh; facility = IT × PUE) and CO2e (t; gross and net "
                         f"operational, embodied apart) per workload, carbonsim {__version__}")


def result_table(result, fmt: str = "text") -> str:
    """The run's table: ``"text"`` (with pools, serving, queueing, policies and warnings),
    ``"markdown"`` or ``"latex"`` (the per-workload table and the total)."""
    t = result.totals
    table = workload_table(result)
    total_line = f"total CO2e (net operational + embodied): {mass(t.total_co2e_kg)}"
    if fmt != "text":
        table.notes = [total_line]     # warnings: on stderr (the command line), not in a paper's table
        return render(table, fmt)
    out = [f"scenario {result.scenario.name} (sha256 {result.scenario.sha256[:12]}), carbonsim {__version__}",
           "energy in MWh (facility = IT x PUE); CO2e in tonnes (gross, net operational; embodied apart)", ""]
    out += columns(table.head, table.rows, right=table.right, rules=table.rules)
    out.append(total_line)
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
            lat_text = ("no latency (no requests served)" if lat["mean"] is None else
                        f"latency p50 {lat['p50'] * 1e3:.0f} / p95 {lat['p95'] * 1e3:.0f} / p99 {lat['p99'] * 1e3:.0f} ms"
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
            change = f" ({(w.gross_co2e_kg - bg) / bg:+.1%})" if bg else ""
            out.append(f"  {w.name}: gross {bg / 1e3:.2f} -> {w.gross_co2e_kg / 1e3:.2f} t{change}, "
                       f"delay to start {w.baseline['delay_hours_mean']:.2f} -> {w.delay_h_mean:.2f} h, to "
                       f"completion {w.baseline['completion_delay_hours_mean']:.2f} -> "
                       f"{w.completion_delay_h_mean:.2f} h per job")
        po = result.to_dict()["policy"]
        change = f" ({-sv.gross_co2e_kg / b.gross_co2e_kg:+.1%})" if b.gross_co2e_kg else ""
        out.append(f"  whole scenario (incl. idle capacity): "
                   f"gross {b.gross_co2e_kg / 1e3:.2f} -> {t.gross_co2e_kg / 1e3:.2f} t{change}, "
                   f"net {b.net_co2e_kg / 1e3:.2f} -> {t.net_co2e_kg / 1e3:.2f} t; added delay to start "
                   f"{po['added_delay_hours_mean']:.2f} h, to completion "
                   f"{po['added_completion_delay_hours_mean']:.2f} h per job")
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


def spread_text(sweep) -> str:
    """'worst / best = 3.2x', or why the ratio is undefined."""
    if sweep.spread is None:
        return "worst / best undefined: the best run emits no gross CO2e"
    return f"worst / best = {sweep.spread:.1f}x"


def comparison_phase_table(comparison) -> Table:
    head = ["phase", "A MWh", "B MWh", "delta MWh", "A tCO2e", "B tCO2e", "delta t"]
    rows = []
    items = list(comparison.phases().items()) + [("total", (comparison.a.totals, comparison.b.totals))]
    for k, (ta, tb) in items:
        rows.append([k, fixed(ta.energy_kwh / 1e3, comma=True), fixed(tb.energy_kwh / 1e3, comma=True),
                     signed(fixed((tb.energy_kwh - ta.energy_kwh) / 1e3, comma=True)),
                     fixed(ta.total_co2e_kg / 1e3, comma=True), fixed(tb.total_co2e_kg / 1e3, comma=True),
                     signed(fixed((tb.total_co2e_kg - ta.total_co2e_kg) / 1e3, comma=True))])
    return Table(head, rows, right=frozenset(range(1, 7)), rules=frozenset({len(rows) - 1}),
                 caption=f"A: {comparison.a.scenario.name}, B: {comparison.b.scenario.name}: facility energy and "
                         "total CO2e (net operational + embodied) by phase")


def comparison_serving_table(comparison) -> Table | None:
    """Per service of A or B: latency percentiles (ms) and energy and CO2e per query, A beside B."""
    rows = []
    for name, (a, b) in comparison.services().items():
        for label, sv in (("A", a), ("B", b)):
            if sv is None:
                rows.append([name, label] + ["-"] * 6)
                continue
            lat, pq = sv["latency_s"], sv["per_query"]
            rows.append([name, label] + [ms(lat.get(k)) for k in ("p50", "p95", "p99", "mean")]
                        + [f"{pq['wh']:.3g}" if pq["wh"] is not None else "-",
                           f"{pq['gco2e']['net']:.3g}" if pq["gco2e"]["net"] is not None else "-"])
    if not rows:
        return None
    return Table(["service", "run", "p50 ms", "p95 ms", "p99 ms", "mean ms", "Wh/query", "gCO2e/query"], rows,
                 right=frozenset(range(2, 8)), caption="serving: latency percentiles and per-query figures")


def comparison_table(comparison, fmt: str = "text") -> str:
    phases = comparison_phase_table(comparison)
    serving = comparison_serving_table(comparison)
    notes = ["energy: " + comparison.energy.sentence("MWh", 1e3), "CO2e:   " + comparison.co2e.sentence("t", 1e3)]
    warnings = [f"warning: {w}" for w in comparison.warnings]
    if fmt != "text":
        phases.notes = notes
        return render(phases, fmt) + ("\n\n" + render(serving, fmt) if serving else "")
    out = [f"A: {comparison.a.scenario.name}    B: {comparison.b.scenario.name}"]
    out += columns(phases.head, phases.rows, right=phases.right)
    if serving:
        out += ["", serving.caption] + columns(serving.head, serving.rows, right=serving.right)
    out += [""] + notes + warnings
    return "\n".join(out)


def ms(seconds: float | None) -> str:
    """A latency in milliseconds: ``4.2``, ``87.5``, ``7,012``; ``-`` when not computed."""
    if seconds is None or seconds != seconds:
        return "-"
    x = seconds * 1e3
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


def signed(text: str) -> str:
    return text if text.startswith("-") else "+" + text


def sweep_rows_table(sweep) -> Table:
    """The sweep's runs: what was varied, the totals, the policy savings and serving latency."""
    rows = sweep.rows
    params = list(sweep.parameters)
    show_region = any(r.region is not None for r in rows)
    show_month = any(r.month is not None for r in rows)
    savings = any(r.savings is not None for r in rows)
    services = list(dict.fromkeys(n for r in rows for n in r.serving))
    head = (["rank"] if sweep.ranked else ["run"]) + [p.rsplit(".", 1)[-1] for p in params]
    head += (["region"] if show_region else []) + (["month"] if show_month else [])
    head += ["basis", "fac. MWh", "gross t", "total t", "mean g/kWh", "x best"]
    if savings:
        head += ["saved %", "+delay h"]
    for name in services:
        prefix = f"{name} " if len(services) > 1 else ""
        head += [f"{prefix}p50 ms", f"{prefix}p99 ms", f"{prefix}mean ms", f"{prefix}Wh/q"]
    best = sweep.best.gross_co2e_kg
    lines = []
    for i, r in enumerate(rows):
        line = [str(i + 1)] + [show_value(v) for _, v in r.settings]
        line += ([r.region or "-"] if show_region else []) + (["-" if r.month is None else f"{r.month:02d}"]
                                                              if show_month else [])
        line += [r.basis, fixed(r.energy_kwh / 1e3), fixed(r.gross_co2e_kg / 1e3), fixed(r.total_co2e_kg / 1e3),
                 f"{r.mean_intensity_g_per_kwh:.1f}", f"{r.gross_co2e_kg / best:.2f}" if best else "-"]
        if savings:
            sv = r.savings
            frac = None if sv is None else sv["co2e_fraction"]["gross"]
            line += ["-", "-"] if sv is None else ["-" if frac is None else f"{frac:.1%}".rstrip("%"),
                                                   fixed(sv["added_delay_hours_mean"])]
        for name in services:
            sv = r.serving.get(name)
            lat = sv["latency_s"] if sv else {}
            line += [ms(lat.get(k)) for k in ("p50", "p99", "mean")]
            line += [f"{sv['wh_per_query']:.3g}" if sv and sv["wh_per_query"] is not None else "-"]
        lines.append(line)
    text_cols = {head.index(c) for c in ("region", "basis") if c in head}
    what = ", ".join(params + (["region"] if show_region else []) + (["start month"] if show_month else []))
    order = "ranked by gross CO2e" if sweep.ranked else "in grid order"
    caption = (f"sweep of {sweep.scenario} over {what}: {len(rows)} runs, {order} "
               f"({spread_text(sweep)})")
    notes = []
    bases = {r.basis for r in rows}
    if len(bases) > 1:
        notes.append(f"note: the regions' series are on different bases ({', '.join(sorted(bases))}); "
                     "lifecycle intensities include upstream emissions that direct ones leave out")
    power = sorted({b for r in rows for b in r.power_bases})
    if len(power) > 1:
        notes.append(f"note: the runs add power on different bases ({', '.join(power)}): measured system power, "
                     "chip TDP and system maximum ratings are not comparable")
    return Table(head, lines, right=frozenset(range(len(head))) - text_cols, caption=caption, notes=notes)


def sweep_label(row) -> str:
    """What a sweep's run varied: ``max_batch_size=8, eia:CISO, month 03`` (``base``: nothing)."""
    parts = [f"{path.rsplit('.', 1)[-1]}={show_value(value)}" for path, value in row.settings]
    if row.region is not None:
        parts.append(row.region)
    if row.month is not None:
        parts.append(f"month {row.month:02d}")
    return ", ".join(parts) or "base"


def sweep_table(sweep, fmt: str = "text") -> str:
    return render(sweep_rows_table(sweep), fmt)


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

FORMATS = ("text", "markdown", "latex")


@dataclasses.dataclass
class Table:
    """A table of strings: ``rules`` are the row indices a horizontal rule precedes (e.g. a total row)."""

    head: list[str]
    rows: list[list[str]]
    right: frozenset = frozenset()
    caption: str = ""
    rules: frozenset = frozenset()
    notes: list[str] = dataclasses.field(default_factory=list)   # lines after the table (warnings, notes)


def render(table: Table, fmt: str = "text") -> str:
    """``table`` as ``"text"`` (columns padded with spaces), ``"markdown"`` (a pipe table, numbers
    right-aligned) or ``"latex"`` (a booktabs ``table`` with its caption)."""
    if fmt == "markdown":
        return markdown_table(table)
    if fmt == "latex":
        return latex_table(table)
    out = columns(table.head, table.rows, right=table.right, rules=table.rules)
    return "\n".join(([table.caption] if table.caption else []) + out + table.notes)


def markdown_table(t: Table) -> str:
    def cell(c):
        return c.replace("|", "\\|").strip() or " "

    out = []
    if t.caption:
        out += [f"**{cell(t.caption)}**", ""]
    out.append("| " + " | ".join(cell(h) for h in t.head) + " |")
    out.append("|" + "|".join("---:" if i in t.right else ":---" for i in range(len(t.head))) + "|")
    out += ["| " + " | ".join(cell(c) for c in r) + " |" for r in t.rows]
    if t.notes:
        out += [""] + [f"{n}  " for n in t.notes]
    return "\n".join(out)


_LATEX_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
                  "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


def latex_escape(text: str) -> str:
    """Text safe in LaTeX (special characters escaped; CO2 as CO\textsubscript{2}; x as \texttimes)."""
    out = "".join(_LATEX_SPECIAL.get(c, c) for c in str(text))
    return out.replace("CO2e", r"CO\textsubscript{2}e").replace("×", r"\texttimes{}").replace("–", "--")


def latex_table(t: Table) -> str:
    spec = "".join("r" if i in t.right else "l" for i in range(len(t.head)))
    out = [r"\begin{table}[ht]", r"\centering"]
    if t.caption:
        out.append(r"\caption{" + latex_escape(t.caption) + "}")
    out += [r"\begin{tabular}{" + spec + "}", r"\toprule",
            " & ".join(latex_escape(h) for h in t.head) + r" \\", r"\midrule"]
    for i, r in enumerate(t.rows):
        if i in t.rules:
            out.append(r"\midrule")
        out.append(" & ".join(latex_escape(c.strip()) for c in r) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    if t.notes:
        out.append(r"\par\smallskip\footnotesize " + r" \\ ".join(latex_escape(n) for n in t.notes))
    out.append(r"\end{table}")
    return "\n".join(out)


def fixed(x: float, decimals: int = 2, comma: bool = False) -> str:
    """``x`` to ``decimals`` places; a non-zero value too small for them (below 0.1 at two places)
    gets two significant digits instead (``0.042``, ``0.0042``, ``3.1e-05``), never a misleading ``0.00``."""
    if x != 0 and abs(x) < 10 ** (1 - decimals):
        return f"{x:.2g}" if abs(x) >= 1e-4 else f"{x:.1e}"
    return f"{x:,.{decimals}f}" if comma else f"{x:.{decimals}f}"


def mass(kg: float) -> str:
    """A mass of CO2e in tonnes, or in kg below a tonne: ``216.20 t``, ``340 kg``, ``0.012 kg``."""
    if abs(kg) >= 1000 or kg == 0:
        return f"{kg / 1000:,.2f} t"
    return f"{kg:.3g} kg" if abs(kg) < 100 else f"{kg:.0f} kg"


def energy(kwh: float) -> str:
    """An energy in MWh, or kWh / Wh when small: ``744.49 MWh``, ``12.3 kWh``."""
    if abs(kwh) >= 1000 or kwh == 0:
        return f"{kwh / 1000:,.2f} MWh"
    if abs(kwh) >= 1:
        return f"{kwh:.3g} kWh"
    return f"{kwh * 1000:.3g} Wh"


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


def columns(head, rows, right=(), rules=()) -> list[str]:
    """A plain text table; columns in ``right`` are right-aligned (numbers); a rule before each row in ``rules``."""
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()

    rule = line(["-" * w for w in widths])
    out = [line(head), rule]
    for i, r in enumerate(rows):
        if i in rules:
            out.append(rule)
        out.append(line(r))
    return out


