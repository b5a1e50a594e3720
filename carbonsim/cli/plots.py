"""Figures the command line draws (matplotlib, an optional extra: ``pip install "carbonsim[plot]"``).

Each ``*_figures`` function returns ``{name: Figure}``; :func:`save` writes them as PNG and SVG
(``--plot DIR``) and :func:`svg` gives the inline SVG the HTML report embeds.  Labels name
workloads, datacenters and fields in words, with units on every axis.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np

from ..model.errors import Problem, ScenarioError, path_loc
from .output import atomic_path
from .tables import mass, spread_text, sweep_label, tonnes

PHASE_LABELS = {"search": "search", "training": "training", "experimentation": "experimentation",
                "inference": "serving (inference)", "idle": "idle capacity"}
COLORS = ["#1f4e79", "#d9822b", "#4a9c5d", "#b03a48", "#7b5ea7", "#8c6d31", "#3b9ab2", "#c9a227", "#6b6b6b",
          "#e377c2"]
FIELD_LABELS = {
    "power_w_per_chip": "power per chip (W)", "pue": "PUE", "grid_intensity_gco2e_per_kwh": "grid intensity (gCO2e/kWh)",
    "net_grid_intensity_gco2e_per_kwh": "net grid intensity (gCO2e/kWh)", "grid_scale": "grid intensity scale",
    "cfe": "carbon-free energy share", "chips": "chips", "duration_days": "duration (days)",
    "duration_hours": "duration (hours)", "embodied_kgco2e": "embodied carbon (kgCO2e per chip)",
    "lifetime_years": "lifetime (years)", "system_power_w": "system power (W per chip)", "idle_w": "idle power (W)",
    "queries_per_second": "queries per second", "growth_per_year": "traffic growth per year",
    "max_batch_size": "max batch size", "rate_per_day": "jobs per day", "grid": "grid region", "hardware": "hardware",
    "start": "start date", "flops": "training FLOPs", "trials": "trials", "idle_w_per_chip": "idle power (W per chip)",
    "achieved_tflops_per_chip": "achieved TFLOP/s per chip", "replicas": "replicas", "users": "users",
}


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ScenarioError([Problem("--plot", "needs matplotlib", has_value=False,
                                     fix='pip install "carbonsim[plot]"')]) from None
    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "carbonsim", "font.size": 9,
                         "axes.spines.top": False, "axes.spines.right": False})
    return plt


def input_label(path: str, document: dict | None = None) -> str:
    """A readable name for a scenario value: ``workloads.training[0].power_w_per_chip`` ->
    ``GPT-3: power per chip (W)``; ``datacenters.iowa.pue`` -> ``datacenter iowa: PUE``."""
    try:
        loc = path_loc(path)
    except ValueError:
        return path
    field = str(loc[-1]) if not isinstance(loc[-1], int) else path
    what = FIELD_LABELS.get(field, field.replace("_", " "))
    owner = ""
    if loc[0] == "workloads" and len(loc) >= 4 and isinstance(loc[2], int):
        try:
            owner = document["workloads"][loc[1]][loc[2]]["name"]
        except (KeyError, IndexError, TypeError):
            owner = f"{loc[1]} {loc[2] + 1}"
        if len(loc) > 4:   # e.g. workloads.service[0].autoscaling.max_replicas
            what = " ".join(str(p) for p in loc[3:-1]) + " " + what
    elif loc[0] == "datacenters" and len(loc) >= 3:
        owner = f"datacenter {loc[1]}" + (f" pool {loc[3]}" if len(loc) >= 5 and loc[2] == "pools" else "")
    elif loc[0] == "hardware" and len(loc) >= 3:
        owner = f"hardware {loc[1]}"
    elif loc[0] == "scenario":
        owner = "scenario"
    return f"{owner}: {what}" if owner else what


def _wrap(label: str, width: int = 38) -> str:
    words, lines, line = label.split(" "), [], ""
    for w in words:
        if line and len(line) + 1 + len(w) > width:
            lines.append(line)
            line = w
        else:
            line = f"{line} {w}" if line else w
    return "\n".join(lines + [line])


def _ms(serving: dict, name: str, key: str) -> float:
    """A service's latency in ms for a figure (NaN, not drawn, where there is none)."""
    v = serving[name]["latency_s"].get(key) if name in serving else None
    return np.nan if v is None else v * 1e3


def _color(i: int) -> str:
    return COLORS[i % len(COLORS)]


# ---------------------------------------------------------------------------
# A run
# ---------------------------------------------------------------------------


def lifecycle_figure(result):
    """Facility energy and CO2e by phase (search, training, experimentation, serving, idle), embodied apart."""
    plt = _plt()
    phases = result.by_phase()
    names = [PHASE_LABELS.get(k, k) for k in phases]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8.5, 0.45 * (len(phases) + 1) + 1.6))
    e = [v.energy_kwh / 1e3 for v in phases.values()]
    ax1.barh(range(len(e)), e, color=[_color(i) for i in range(len(e))])
    ax1.set_yticks(range(len(e)), names)
    ax1.invert_yaxis()
    ax1.set_xlabel("facility energy (MWh)")
    ax1.set_title("energy by phase", fontsize=9)
    co2 = [v.net_co2e_kg / 1e3 for v in phases.values()] + [result.totals.embodied_co2e_kg / 1e3]
    labels = [f"{n} (net operational)" for n in names] + ["embodied (all phases)"]
    ax2.barh(range(len(co2)), co2, color=[_color(i) for i in range(len(phases))] + ["#999999"])
    ax2.set_yticks(range(len(co2)), [_wrap(x, 26) for x in labels])
    ax2.invert_yaxis()
    ax2.set_xlabel("CO2e (t)")
    ax2.set_title(f"CO2e by phase: total {mass(result.totals.total_co2e_kg)}", fontsize=9)
    for ax, vals in ((ax1, e), (ax2, co2)):
        total = sum(vals[:len(phases)]) or 1.0
        for i, v in enumerate(vals):
            ax.text(v, i, f" {v:,.3g} ({v / total:.0%})" if i < len(phases) else f" {v:,.3g}", va="center",
                    fontsize=8)
        ax.margins(x=0.25)
    fig.tight_layout()
    return fig


def hourly_figure(result, by: str):
    """Net CO2e over time, stacked per datacenter or per workload (hourly; daily sums past 90 days)."""
    plt = _plt()
    series = result.hourly_series(by)
    n = len(series[0][1]) if series else 0
    t0 = np.datetime64(result.hourly["t0"].replace(tzinfo=None), "h")
    daily = n > 24 * 90
    step = 24 if daily else 1
    m = n // step * step if daily else n
    times = t0 + np.arange(0, m, step).astype("timedelta64[h]")
    fig, ax = plt.subplots(figsize=(8.5, 3.6))
    ys, labels = [], []
    for name, _, _, net, _ in series:
        v = net[:m].reshape(-1, step).sum(axis=1) if daily else net[:m]
        if np.any(v):
            ys.append(v)
            labels.append(name)
    if ys:
        ax.stackplot(times, *ys, labels=[_wrap(x, 30) for x in labels],
                     colors=[_color(i) for i in range(len(ys))], alpha=0.9, step=None)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    ax.set_ylabel(f"net CO2e (kg per {'day' if daily else 'hour'})")
    ax.set_xlabel("time (UTC)")
    ax.set_title(f"net operational CO2e per {by}" + (" (daily sums)" if daily else " (hourly)"), fontsize=9)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def intensity_figure(result):
    """The hourly grid intensity each datacenter saw."""
    plt = _plt()
    series = result.hourly_series("datacenter")
    t0 = np.datetime64(result.hourly["t0"].replace(tzinfo=None), "h")
    fig, ax = plt.subplots(figsize=(8.5, 3.0))
    for i, (name, _, _, _, extra) in enumerate(series):
        v = extra["intensity_gco2e_per_kwh"]
        ax.plot(t0 + np.arange(len(v)).astype("timedelta64[h]"), v, lw=0.7, color=_color(i), label=name)
    ax.set_ylabel("grid intensity (gCO2e/kWh)")
    ax.set_xlabel("time (UTC)")
    ax.set_title("hourly grid intensity per datacenter (location based, gross)", fontsize=9)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def savings_figure(result):
    """Carbon-aware policies: each workload's change in gross CO2e against the delay it adds,
    and the distribution of per-job delays."""
    plt = _plt()
    ws = [w for w in result.workloads if w.baseline is not None]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9.5, 3.8))
    for i, w in enumerate(ws):
        bg = w.baseline["co2e_kg"]["gross"]
        change = (w.gross_co2e_kg - bg) / bg * 100 if bg else 0.0
        added = w.delay_h_mean - w.baseline["delay_hours_mean"]
        ax1.scatter([added], [change], s=60, color=_color(i), zorder=3)
        ax1.annotate(_wrap(w.name, 24), (added, change), textcoords="offset points", xytext=(6, 4), fontsize=7)
    ax1.axhline(0, color="black", lw=0.6)
    ax1.set_xlabel("added delay per job vs baseline (hours, mean)")
    ax1.set_ylabel("gross CO2e vs baseline (%)")
    ax1.set_title("savings against delay (baseline: run at submit, at home)", fontsize=9)
    ax1.margins(0.3)
    jobs = result.jobs
    if jobs is not None and len(jobs["delay_s"]):
        names = [w.name for w in result.workloads]
        for i, w in enumerate(ws):
            d = jobs["delay_s"][jobs["workload"] == names.index(w.name)] / 3600
            d = d[np.isfinite(d)]
            if len(d):
                ax2.hist(d, bins=40, histtype="step", lw=1.2, color=_color(i), label=_wrap(w.name, 28))
        ax2.set_yscale("log")
        ax2.legend(fontsize=7, frameon=False)
    ax2.set_xlabel("delay from submit to start (hours)")
    ax2.set_ylabel("jobs")
    ax2.set_title("per-job delay under the policies", fontsize=9)
    fig.tight_layout()
    return fig


def result_figures(result) -> dict:
    """The figures of a run: lifecycle split, hourly CO2e per datacenter and per workload (with
    ``hourly`` data), grid intensity, and the policy savings where the scenario has policies."""
    figs = {"lifecycle": lifecycle_figure(result)}
    if result.hourly is not None:
        figs["hourly_by_datacenter"] = hourly_figure(result, "datacenter")
        figs["hourly_by_workload"] = hourly_figure(result, "workload")
        figs["grid_intensity"] = intensity_figure(result)
    if result.baseline is not None:
        figs["policy_savings"] = savings_figure(result)
    return figs


# ---------------------------------------------------------------------------
# Studies
# ---------------------------------------------------------------------------


def sweep_figures(sweep) -> dict:
    """A region ranking (bars) or, for values, total CO2e (and serving latency) against the value."""
    plt = _plt()
    rows = sweep.rows
    numeric = (len(sweep.parameters) == 1 and not any(r.region or r.month for r in rows)
               and all(isinstance(r.settings[0][1], (int, float)) and not isinstance(r.settings[0][1], bool)
                       for r in rows))
    if numeric:
        path = sweep.parameters[0]
        x = [r.settings[0][1] for r in rows]
        fig, ax = plt.subplots(figsize=(7.5, 3.8))
        ax.plot(x, [r.total_co2e_kg / 1e3 for r in rows], "o-", color=_color(0), label="total CO2e")
        ax.set_xlabel(input_label(path, None) if "[" not in path else path.rsplit(".", 1)[-1].replace("_", " "))
        ax.set_ylabel("total CO2e (t)", color=_color(0))
        if len(set(x)) > 2 and min(x) > 0 and max(x) / min(x) >= 16:
            ax.set_xscale("log", base=2)
        services = list(dict.fromkeys(n for r in rows for n in r.serving))
        if services:
            ax2 = ax.twinx()
            ax2.spines["right"].set_visible(True)
            for k, name in enumerate(services):
                for j, q in enumerate(("p50", "p99")):
                    y = [_ms(r.serving, name, q)
                         for r in rows]
                    if not np.all(np.isnan(y)):
                        ax2.plot(x, y, "s--" if q == "p99" else "s:", color=_color(k + 1), lw=1,
                                 label=f"{name}: latency {q}")
                    y = [_ms(r.serving, name, "mean")
                         for r in rows]
                    if j == 0 and not np.all(np.isnan(y)):
                        ax2.plot(x, y, "^-.", color=_color(k + 1), lw=1, label=f"{name}: mean latency")
            ax2.set_ylabel("latency (ms)")
            ax2.legend(fontsize=7, loc="upper right", frameon=False)
        ax.set_title(f"sweep of {sweep.scenario}", fontsize=9)
        fig.tight_layout()
        return {"sweep": fig}
    labels = [sweep_label(r) for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.4))
    v = [r.gross_co2e_kg / 1e3 for r in rows]
    ax.barh(range(len(v)), v, color=[_color(0) if i else _color(2) for i in range(len(v))])
    ax.set_yticks(range(len(v)), labels, fontsize=8)
    ax.invert_yaxis()
    best = sweep.best.gross_co2e_kg or 1.0
    for i, r in enumerate(rows):
        ax.text(v[i], i, f" {v[i]:,.3g} t ({r.gross_co2e_kg / best:.1f}x)", va="center", fontsize=7)
    ax.margins(x=0.2)
    ax.set_xlabel("gross CO2e (t)")
    ax.set_title(f"sweep of {sweep.scenario}: {len(rows)} runs, {'ranked' if sweep.ranked else 'in grid order'} "
                 f"({spread_text(sweep)})", fontsize=9)
    fig.tight_layout()
    return {"sweep": fig}


def comparison_figures(comparison) -> dict:
    """A beside B, phase by phase: facility energy and total CO2e."""
    plt = _plt()
    phases = comparison.phases()
    names = [PHASE_LABELS.get(k, k) for k in phases]
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.5 * len(phases) + 2))
    x = np.arange(len(phases))
    for ax, key, scale, unit in ((axes[0], "energy_kwh", 1e3, "facility energy (MWh)"),
                                 (axes[1], "total_co2e_kg", 1e3, "total CO2e (t, net + embodied)")):
        a = [getattr(ta, key) / scale for ta, _ in phases.values()]
        b = [getattr(tb, key) / scale for _, tb in phases.values()]
        ax.barh(x - 0.2, a, 0.4, color=_color(0), label=f"A: {comparison.a.scenario.name}")
        ax.barh(x + 0.2, b, 0.4, color=_color(1), label=f"B: {comparison.b.scenario.name}")
        ax.set_yticks(x, names)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
    axes[0].legend(fontsize=7, frameon=False)
    axes[1].set_title("CO2e: " + ("B lower" if comparison.co2e.b < comparison.co2e.a else "A lower"), fontsize=9)
    axes[0].set_title("energy by phase", fontsize=9)
    fig.tight_layout()
    return {"comparison": fig}


def uncertainty_figures(result) -> dict:
    """Histogram and CDF of total CO2e with labelled percentile lines; the tornado with named bars."""
    plt = _plt()
    figs = {}
    v = np.sort(result.samples()) / 1000
    fig, ax = plt.subplots(figsize=(7.5, 4.2))
    ax.hist(v, bins=min(60, max(10, int(np.sqrt(len(v))))), color="#8fb3d9", edgecolor="white", label="samples")
    ax.set_xlabel("total CO2e (t, net operational + embodied)")
    ax.set_ylabel("samples")
    ax2 = ax.twinx()
    ax2.spines["right"].set_visible(True)
    ax2.plot(v, np.arange(1, len(v) + 1) / len(v), color="#1f4e79", label="cumulative share (CDF)")
    ax2.set_ylabel("cumulative share of samples")
    ax2.set_ylim(0, 1)
    styles = ["--", ":", "-.", (0, (5, 1))]
    marks = sorted(set(result.percentiles) | {50.0})
    for k, p in enumerate(marks):
        x = np.percentile(v, p)
        ax.axvline(x, color="#b03a48" if p != 50 else "black", ls=styles[k % len(styles)], lw=1,
                   label=f"{'median' if p == 50 else f'p{p:g}'} = {x:,.3g} t")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left", frameon=False)
    med, lo, hi = result.interval()
    ax.set_title(f"{result.nominal.scenario.name}: {tonnes(med)} t, "
                 f"{max(result.percentiles) - min(result.percentiles):g}% interval {tonnes(lo)}-{tonnes(hi)} t "
                 f"({result.n:,} samples)", fontsize=9)
    fig.tight_layout()
    figs["total_co2e"] = fig
    if result.tornado:
        doc = result.scenario.nominal_document
        tor = sorted(result.tornado, key=lambda t: t["swing"])
        nom = tor[0]["nominal"] / 1000
        lo_p, hi_p = min(result.percentiles), max(result.percentiles)
        fig, ax = plt.subplots(figsize=(8.5, 0.5 * len(tor) + 1.8))
        for i, t in enumerate(tor):
            ax.barh(i, t["low"] / 1000 - nom, left=nom, color="#8fb3d9", label=f"input at p{lo_p:g}" if i == 0 else None)
            ax.barh(i, t["high"] / 1000 - nom, left=nom, color="#1f4e79", label=f"input at p{hi_p:g}" if i == 0 else None)
            ax.text(max(t["low"], t["high"]) / 1000, i, f" swing {t['swing'] / 1000:,.3g} t", va="center", fontsize=7)
        ax.set_yticks(range(len(tor)), [_wrap(input_label(t["path"], doc), 40) for t in tor], fontsize=8)
        ax.axvline(nom, color="black", lw=0.8, label=f"nominal (all at medians) {nom:,.3g} t")
        ax.margins(x=0.15)
        ax.set_xlabel("total CO2e (t): one input at a time, the others at their medians; a choice at its "
                      "lowest / highest outcome")
        ax.set_title("what moves total CO2e most (tornado)", fontsize=9)
        ax.legend(fontsize=7, loc="best", frameon=False)
        fig.tight_layout()
        figs["tornado"] = fig
    return figs


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def save(figures: dict, directory: str | os.PathLike, formats=("png", "svg")) -> list[Path]:
    """Write each figure as ``DIR/<name>.png`` and ``.svg``; closes the figures."""
    plt = _plt()
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    for name, fig in figures.items():
        for ext in formats:
            path = d / f"{name}.{ext}"
            with atomic_path(path, "--plot") as tmp:
                fig.savefig(tmp, format=ext, dpi=130, metadata={"Date": None} if ext == "svg" else None)
            written.append(path)
        plt.close(fig)
    return written


def svg(fig) -> str:
    """The figure as an inline ``<svg>`` element (no XML prolog, no DOCTYPE, no external references)."""
    plt = _plt()
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    return text


def uncertainty_plots(result, directory: str | os.PathLike) -> list[Path]:
    """``mc --plot``: total_co2e.png (histogram, CDF, percentiles) and tornado.png (and their SVGs)."""
    return save(uncertainty_figures(result), directory)
