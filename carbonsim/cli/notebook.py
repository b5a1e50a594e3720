"""Short ``repr`` strings and compact HTML tables for notebooks (``_repr_html_``)."""
from __future__ import annotations

from .html import NOTEBOOK_STYLE, esc, table_html
from .tables import comparison_phase_table, comparison_serving_table, energy, mass, spread_text, sweep_label, \
    sweep_rows_table, uncertainty_tables, workload_table


def _wrap(body: str) -> str:
    return f'{NOTEBOOK_STYLE}<div class="carbonsim">{body}</div>'


def result_repr(result) -> str:
    t = result.totals
    n = len(result.workloads)
    return (f"<Result {result.scenario.name}: {n} workload{'s' if n != 1 else ''}, {energy(t.energy_kwh)}, "
            f"{mass(t.total_co2e_kg)} CO2e (net operational + embodied)>")


def result_html(result) -> str:
    t = result.totals
    body = table_html(workload_table(result))
    body += (f"<p><b>total CO2e (net operational + embodied): {esc(mass(t.total_co2e_kg))}</b>"
             + (f"; {len(result.warnings)} warning(s): <code>result.warnings</code>" if result.warnings else "")
             + "</p>")
    return _wrap(body)


def sweep_repr(sweep) -> str:
    best = sweep.best
    return (f"<SweepResult {sweep.scenario}: {len(sweep.rows)} runs, best {sweep_label(best)} at "
            f"{mass(best.gross_co2e_kg)} gross CO2e, {spread_text(sweep)}>")


def comparison_repr(comparison) -> str:
    c = comparison.co2e
    return (f"<Comparison A: {comparison.a.scenario.name} {mass(c.a)}, B: {comparison.b.scenario.name} "
            f"{mass(c.b)} total CO2e>")


def sweep_html(sweep) -> str:
    return _wrap(table_html(sweep_rows_table(sweep)))


def comparison_html(comparison) -> str:
    body = table_html(comparison_phase_table(comparison))
    serving = comparison_serving_table(comparison)
    if serving:
        body += table_html(serving)
    body += f"<p>{esc('energy: ' + comparison.energy.sentence('MWh', 1e3))}<br>" \
            f"{esc('CO2e: ' + comparison.co2e.sentence('t', 1e3))}</p>"
    return _wrap(body)


def uncertainty_repr(result) -> str:
    return f"<UncertaintyResult {result.nominal.scenario.name}: {result.headline().splitlines()[0]}>"


def uncertainty_html(result) -> str:
    tables = uncertainty_tables(result)
    body = f"<p><b>{esc(result.headline())}</b></p>" + "".join(table_html(t) for t in tables)
    return _wrap(body)
