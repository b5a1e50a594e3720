"""``carbonsim report FILE -o report.html``: one self-contained HTML page about a scenario.

Inline CSS, figures as inline SVG, no script and no reference to anything outside the file:
it opens the same with no network.  Sections: summary and data sources, the per-workload
table, the lifecycle split, hourly emissions per datacenter and per workload, and where the
file has them the policy savings against the baseline, serving, the sweep ranking (its
``[sweep]`` table) and the Monte Carlo study (its distributions).
"""
from __future__ import annotations

from .._version import __version__
from ..model import uncertain as unc
from .html import esc, table_html
from .tables import (Table, fixed, mass, ms, scenario_summary, sweep_rows_table, uncertainty_tables,
                     workload_table)

CSS = """
:root { --ink: #1d2733; --muted: #5b6675; --line: #d8dee6; --accent: #1f4e79; --bg: #ffffff; --panel: #f5f7fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink);
       font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { background: var(--accent); color: #fff; padding: 20px 32px; }
header h1 { margin: 0 0 4px; font-size: 22px; }
header p { margin: 0; opacity: 0.9; }
main { max-width: 1100px; margin: 0 auto; padding: 8px 32px 48px; }
nav { margin: 16px 0; font-size: 13px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
section { margin-top: 28px; }
h2 { font-size: 18px; border-bottom: 2px solid var(--line); padding-bottom: 4px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 6px; padding: 10px 16px; min-width: 150px; }
.card .v { font-size: 20px; font-weight: 600; color: var(--accent); }
.card .k { font-size: 12px; color: var(--muted); }
table.data { border-collapse: collapse; margin: 10px 0 6px; font-size: 12.5px; }
table.data caption { text-align: left; font-weight: 600; padding: 4px 0; color: var(--muted); }
table.data th { text-align: left; border-bottom: 2px solid var(--ink); padding: 3px 9px; white-space: nowrap; }
table.data td { border-bottom: 1px solid var(--line); padding: 3px 9px; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data tr.rule td { border-top: 2px solid var(--ink); font-weight: 600; }
ul.notes, ul.sources { font-size: 12px; color: var(--muted); }
figure { margin: 14px 0; }
figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 12px; color: var(--muted); }
pre { background: var(--panel); padding: 10px; font-size: 12px; white-space: pre-wrap; border-radius: 4px; }
.warn { color: #8a4b00; }
footer { color: var(--muted); font-size: 12px; margin-top: 40px; }
"""


def _figure(fig, caption: str) -> str:
    from .plots import svg
    return f'<figure>{svg(fig)}<figcaption>{esc(caption)}</figcaption></figure>'


def _cards(result) -> str:
    t = result.totals
    hours = sum(w.chip_hours for w in result.workloads)
    items = [("total CO2e (net + embodied)", mass(t.total_co2e_kg)), ("gross operational CO2e", mass(t.gross_co2e_kg)),
             ("net operational CO2e", mass(t.net_co2e_kg)), ("embodied CO2e", mass(t.embodied_co2e_kg)),
             ("facility energy", f"{fixed(t.energy_kwh / 1e3, comma=True)} MWh"),
             ("accelerator-hours", f"{hours:,.0f}")]
    return '<div class="cards">' + "".join(f'<div class="card"><div class="v">{esc(v)}</div>'
                                           f'<div class="k">{esc(k)}</div></div>' for k, v in items) + "</div>"


def _datacenter_table(result) -> Table:
    rows = []
    for d in result.datacenters:
        dc = result.scenario.datacenters[d.name]
        g = dc.grid
        tot = d.totals
        mean = tot.gross_co2e_kg * 1000 / tot.energy_kwh if tot.energy_kwh else float("nan")
        rows.append([d.name, f"{d.pue:g}", g.name, f"{g.source}" + (f" ({g.year})" if g.year else ""), d.basis,
                     f"{mean:,.1f}", dc.net_description, fixed(tot.energy_kwh / 1e3, comma=True),
                     fixed(tot.gross_co2e_kg / 1e3, comma=True)])
    return Table(["datacenter", "PUE", "grid", "source", "basis", "mean g/kWh (used)", "net accounting",
                  "fac. MWh", "gross t"], rows, right=frozenset({1, 5, 7, 8}),
                 caption="datacenters: grid signal, its source and basis, and the intensity over the hours used")


def _phase_table(result) -> Table:
    phases = result.by_phase()
    total_e = result.totals.energy_kwh or 1.0
    rows = [[k, fixed(v.energy_kwh / 1e3, comma=True), f"{v.energy_kwh / total_e:.1%}",
             fixed(v.net_co2e_kg / 1e3, comma=True), fixed(v.embodied_co2e_kg / 1e3, 3)] for k, v in phases.items()]
    return Table(["phase", "fac. MWh", "energy share", "net t", "embodied t"], rows, right=frozenset(range(1, 5)),
                 caption="lifecycle split by phase")


def _policy_table(result) -> Table:
    rows = []
    for w in result.workloads:
        if w.baseline is None:
            continue
        bg = w.baseline["co2e_kg"]["gross"]
        rows.append([w.name, fixed(bg / 1e3), fixed(w.gross_co2e_kg / 1e3),
                     f"{(w.gross_co2e_kg - bg) / bg:+.1%}" if bg else "-",
                     fixed(w.baseline["delay_hours_mean"]), fixed(w.delay_h_mean), f"{w.deadline_misses:,}"])
    b, t = result.baseline, result.totals
    rows.append(["whole scenario (incl. idle)", fixed(b.gross_co2e_kg / 1e3), fixed(t.gross_co2e_kg / 1e3),
                 f"{(t.gross_co2e_kg - b.gross_co2e_kg) / b.gross_co2e_kg:+.1%}" if b.gross_co2e_kg else "-",
                 fixed(result.baseline_delay_h_mean or 0.0), "", ""])
    return Table(["workload", "baseline gross t", "policy gross t", "change", "baseline delay h", "policy delay h",
                  "deadline misses"], rows, right=frozenset(range(1, 7)), rules=frozenset({len(rows) - 1}),
                 caption="carbon-aware policies against the baseline (the same jobs run at submit in their home "
                         "datacenter)")


def _serving_table(result) -> Table:
    rows = []
    for w in result.workloads:
        sv = w.serving
        if not sv:
            continue
        lat, pq = sv["latency_s"], sv["per_query"]
        rows.append([w.name, sv["mode"], f"{sv['requests']:,.0f}", f"{sv['queries_per_second_mean']:,.1f}",
                     f"{sv['replicas_mean']:.1f}", f"{sv['utilization']:.0%}"]
                    + [ms(lat.get(k)) for k in ("p50", "p95", "p99", "mean")]
                    + [f"{pq['wh']:.3g}" if pq["wh"] is not None else "-",
                       f"{pq['gco2e']['net']:.3g}" if pq["gco2e"]["net"] is not None else "-"])
    return Table(["service", "mode", "queries", "queries/s", "replicas", "utilisation", "p50 ms", "p95 ms",
                  "p99 ms", "mean ms", "Wh/query", "gCO2e/query"], rows, right=frozenset(range(2, 12)),
                 caption="serving: traffic, fleet, latency percentiles and per-query figures")


def build_report(path: str, *, samples: int | None = None, sweep: bool = True, mc: bool = True,
                 workers: int = 1, progress=None, notes: list | None = None) -> str:
    """Run the scenario at ``path`` (hourly), its ``[sweep]`` regions and, when it has
    distributions, a Monte Carlo study with sensitivity; return the report's HTML."""
    from ..model import load, read_toml
    from ..studies.montecarlo import monte_carlo
    from ..studies.sweep import sweep as run_sweep
    from . import plots
    from .statement import statement_parts

    scenario = load(path)
    document = read_toml(path)
    from ..sim.simulate import run
    result = run(scenario.validate(), hourly=True, progress=progress)
    sections: list[tuple[str, str, str]] = []     # (id, title, html)

    body = _cards(result)
    body += f"<pre>{esc(scenario_summary(result.scenario))}</pre>"
    body += table_html(_datacenter_table(result))
    sections.append(("summary", "Scenario", body))

    sections.append(("workloads", "Workloads",
                     table_html(workload_table(result))
                     + f"<p><b>total CO2e (net operational + embodied): {esc(mass(result.totals.total_co2e_kg))}</b></p>"))
    figs = plots.result_figures(result)
    sections.append(("lifecycle", "Lifecycle split",
                     table_html(_phase_table(result))
                     + _figure(figs.pop("lifecycle"), "Facility energy by phase and CO2e by phase (net operational), "
                                                      "embodied carbon of the hardware apart.")))
    hourly = _figure(figs.pop("hourly_by_datacenter"), "Net operational CO2e per datacenter over time.")
    hourly += _figure(figs.pop("hourly_by_workload"), "Net operational CO2e per workload over time "
                                                     "(idle capacity apart).")
    hourly += _figure(figs.pop("grid_intensity"), "Hourly grid intensity each datacenter saw.")
    sections.append(("hourly", "Hourly emissions", hourly))
    if "policy_savings" in figs:
        sections.append(("policies", "Carbon-aware policies",
                         table_html(_policy_table(result))
                         + _figure(figs.pop("policy_savings"), "Change in gross CO2e against the delay each "
                                                               "policy adds, and the per-job delays.")))
    if any(w.serving for w in result.workloads):
        sections.append(("serving", "Serving", table_html(_serving_table(result))))

    regions = (document.get("sweep") or {}).get("regions") or []
    if sweep and regions:
        months = (document.get("sweep") or {}).get("months") or None
        sw = run_sweep(scenario, regions, months, progress=progress)
        fig = plots.sweep_figures(sw)["sweep"]
        sections.append(("sweep", "Where to run: the sweep",
                         _figure(fig, "Gross CO2e of the same workloads in each region, ranked (x best: ratio to "
                                      "the lowest).") + table_html(sweep_rows_table(sw))))

    uncertainty = None
    if mc and unc.find_uncertain(document):
        uncertainty = monte_carlo(path, samples=samples, sensitivity=True, bootstrap=200, workers=workers,
                                  progress=progress, notes=notes)
        tables = uncertainty_tables(uncertainty)
        figs_mc = plots.uncertainty_figures(uncertainty)
        body = f"<p><b>{esc(uncertainty.headline())}</b></p>"
        body += _figure(figs_mc["total_co2e"], "Distribution of total CO2e over the samples: histogram, "
                                               "cumulative share, median and percentiles.")
        if "tornado" in figs_mc:
            body += _figure(figs_mc["tornado"], "Each uncertain input at its low and high percentile, the others at "
                                                "their medians.")
        body += "".join(table_html(t) for t in tables)
        sections.append(("uncertainty", "Uncertainty (Monte Carlo)", body))

    parts = statement_parts(result, uncertainty)
    body = f"<p>{esc(' '.join(parts['paragraph']))}</p>"
    body += "<h3>Data sources</h3><ul class=\"sources\">" + "".join(f"<li>{esc(s)}</li>" for s in
                                                                    result.data_sources()) + "</ul>"
    if result.warnings:
        body += "<h3>Warnings</h3><ul class=\"notes warn\">" + "".join(f"<li>{esc(w)}</li>" for w in
                                                                       result.warnings) + "</ul>"
    sections.append(("sources", "Statement, sources and warnings", body))

    s = result.scenario
    nav = "".join(f'<a href="#{sid}">{esc(title)}</a>' for sid, title, _ in sections)
    html = [
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>carbonsim report: {esc(s.name)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        f"<header><h1>{esc(s.name)}</h1><p>{esc(document.get('scenario', {}).get('description', ''))}</p></header>",
        "<main>", f"<nav>{nav}</nav>",
    ]
    for sid, title, body in sections:
        html.append(f'<section id="{sid}"><h2>{esc(title)}</h2>{body}</section>')
    html.append(f"<footer>carbonsim {esc(__version__)}; scenario {esc(s.source or s.name)}, sha256 "
                f"{esc(s.sha256)}; seed {s.seed}.</footer>")
    html += ["</main>", "</body>", "</html>"]
    return "\n".join(html) + "\n"
