"""Figures the command line writes (matplotlib, an optional extra)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..model.errors import Problem, ScenarioError
from .tables import tonnes


def uncertainty_plots(result, directory: str | os.PathLike) -> list[Path]:
    """Histogram and CDF of total CO2e, and the tornado chart if computed (needs matplotlib)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ScenarioError([Problem("--plot", "needs matplotlib", has_value=False,
                                     fix="pip install matplotlib")]) from None
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    written = []
    v = np.sort(result.samples()) / 1000
    fig, ax = plt.subplots(figsize=(7, 4.2))
    ax.hist(v, bins=min(60, max(10, int(np.sqrt(len(v))))), color="#8fb3d9", edgecolor="white")
    ax.set_xlabel("total CO2e (t, net operational + embodied)")
    ax.set_ylabel("samples")
    ax2 = ax.twinx()
    ax2.plot(v, np.arange(1, len(v) + 1) / len(v), color="#1f4e79")
    ax2.set_ylabel("cumulative share")
    ax2.set_ylim(0, 1)
    for p in result.percentiles:
        ax.axvline(np.percentile(v, p), color="grey", ls="--", lw=0.8)
    med, lo, hi = result.interval()
    ax.set_title(f"{result.nominal.scenario.name}: {tonnes(med)} t, {max(result.percentiles) - min(result.percentiles):g}% "
                 f"interval {tonnes(lo)}-{tonnes(hi)} t ({result.n:,} samples)", fontsize=10)
    fig.tight_layout()
    path = d / "total_co2e.png"
    fig.savefig(path, dpi=120)
    plt.close(fig)
    written.append(path)
    if result.tornado:
        tor = sorted(result.tornado, key=lambda t: t["swing"])
        nom = tor[0]["nominal"] / 1000
        fig, ax = plt.subplots(figsize=(8, 0.45 * len(tor) + 1.5))
        for i, t in enumerate(tor):
            ax.barh(i, t["low"] / 1000 - nom, left=nom, color="#8fb3d9")
            ax.barh(i, t["high"] / 1000 - nom, left=nom, color="#1f4e79")
        ax.set_yticks(range(len(tor)), [t["path"] for t in tor], fontsize=8)
        ax.axvline(nom, color="black", lw=0.8)
        ax.set_xlabel(f"total CO2e (t): each input at p{min(result.percentiles):g} (light) / "
                      f"p{max(result.percentiles):g} (dark), others at their medians;\n"
                      "a choice at its lowest / highest outcome")
        fig.tight_layout()
        path = d / "tornado.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
    return written
