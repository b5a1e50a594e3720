"""Sweeps: the same scenario with any value varied (a grid of values), in each region
and start month; ranked by gross CO2e when regions or months are swept.

Every datacenter of the scenario is given the region's grid signal (keeping its
PUE, pools and everything else); with ``months``, every workload also starts on
the first of each month of its start year, at its original time of day.
Series from another year than the simulation are aligned by weekday
(``grid_year_shift = "weekday"``) and repeated past their end
(``grid_overflow = "wrap"``) unless the scenario sets these itself.
"""
from __future__ import annotations

import copy
import csv
import io
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..model import Scenario
from ..model.errors import Problem, ScenarioError, field_path, path_loc
from ..model.spec import to_utc
from .compare import power_bases


@dataclass(frozen=True)
class SweepRow:
    region: str | None               # the grid every datacenter was given (None: the file's own)
    month: int | None
    energy_kwh: float
    gross_co2e_kg: float
    net_co2e_kg: float
    mean_intensity_g_per_kwh: float
    basis: str
    power_bases: tuple[str, ...] = ()   # catalog power bases of the run's workloads (compare.power_bases)
    settings: tuple[tuple[str, Any], ...] = ()   # (path, value) set for this run
    it_energy_kwh: float = 0.0
    embodied_co2e_kg: float = 0.0
    savings: dict | None = None      # policy savings against the baseline (gross / net kg, fractions, delay)
    serving: dict = field(default_factory=dict)   # per service: latency (s) and per-query figures

    @property
    def total_co2e_kg(self) -> float:
        return self.net_co2e_kg + self.embodied_co2e_kg

    def to_dict(self) -> dict:
        return {"region": self.region, "month": self.month, "settings": dict(self.settings),
                "it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
                "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
                "embodied_co2e_kg": self.embodied_co2e_kg, "total_co2e_kg": self.total_co2e_kg,
                "mean_intensity_gco2e_per_kwh": self.mean_intensity_g_per_kwh, "basis": self.basis,
                "power_bases": list(self.power_bases), "policy_savings": self.savings, "serving": self.serving}

    def flat(self) -> dict:
        """One flat record (a CSV / DataFrame row): settings by path, totals, savings, latency."""
        out = {path: value for path, value in self.settings}
        out.update({"region": self.region, "month": self.month, "it_energy_kwh": self.it_energy_kwh,
                    "energy_kwh": self.energy_kwh, "gross_co2e_kg": self.gross_co2e_kg,
                    "net_co2e_kg": self.net_co2e_kg, "embodied_co2e_kg": self.embodied_co2e_kg,
                    "total_co2e_kg": self.total_co2e_kg, "mean_intensity_gco2e_per_kwh": self.mean_intensity_g_per_kwh,
                    "basis": self.basis, "power_bases": ",".join(self.power_bases)})
        if self.savings is not None:
            out.update({"savings_gross_co2e_kg": self.savings["co2e_kg"]["gross"],
                        "savings_net_co2e_kg": self.savings["co2e_kg"]["net"],
                        "savings_gross_fraction": self.savings["co2e_fraction"]["gross"],
                        "added_delay_hours_mean": self.savings["added_delay_hours_mean"]})
        for name, sv in self.serving.items():
            for k, v in sv["latency_s"].items():
                if k != "note":
                    out[f"{name}: latency {k} s"] = v
            out[f"{name}: Wh per query"] = sv["wh_per_query"]
            out[f"{name}: gCO2e per query"] = sv["gco2e_per_query"]
        return out


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    rows: tuple[SweepRow, ...]   # ranked, lowest gross CO2e first (regions / months swept), else in grid order
    parameters: tuple[str, ...] = ()   # the paths varied with values
    ranked: bool = True

    @property
    def best(self) -> SweepRow:
        return min(self.rows, key=lambda r: r.gross_co2e_kg)

    @property
    def spread(self) -> float | None:
        """Worst-to-best ratio of gross CO2e; None (undefined) when the best run emits nothing."""
        best = self.best.gross_co2e_kg
        worst = max(r.gross_co2e_kg for r in self.rows)
        if not best:
            return 1.0 if not worst else None
        return worst / best

    def to_dict(self) -> dict:
        best = self.best.gross_co2e_kg
        note = ({"spread_note": "undefined: the best run emits no gross CO2e (ratio_to_best is null too)"}
                if self.spread is None else {})
        return {"scenario": self.scenario, "spread": self.spread, **note, "parameters": list(self.parameters),
                "ranked_by": "gross_co2e_kg" if self.ranked else None,
                "rows": [{**r.to_dict(), "ratio_to_best": r.gross_co2e_kg / best if best else None}
                         for r in self.rows]}

    def records(self) -> list[dict]:
        """One flat dict per run (what :meth:`to_frame` and :meth:`to_csv` hold)."""
        best = self.best.gross_co2e_kg
        return [{**r.flat(), "ratio_to_best": r.gross_co2e_kg / best if best else None} for r in self.rows]

    def to_frame(self):
        """One row per run (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame() needs pandas: pip install 'carbonsim[pandas]'") from None
        return pd.DataFrame(self.records())

    def to_csv(self) -> str:
        records = self.records()
        cols = list(dict.fromkeys(k for r in records for k in r))
        buf = io.StringIO()
        writer = csv.DictWriter(buf, cols, lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
        return buf.getvalue()

    def format_table(self, fmt: str = "text") -> str:
        from ..cli.tables import sweep_table
        return sweep_table(self, fmt)

    def __repr__(self) -> str:
        from ..cli.notebook import sweep_repr
        return sweep_repr(self)

    def _repr_html_(self) -> str:
        from ..cli.notebook import sweep_html
        return sweep_html(self)


def _with_region(doc: dict, region: str) -> dict:
    doc = copy.deepcopy(doc)
    for dc in doc["datacenters"].values():
        for key in ("grid_intensity_gco2e_per_kwh", "net_grid_intensity_gco2e_per_kwh", "grid_intensity",
                    "net_grid_intensity"):
            dc.pop(key, None)
        if dc.get("cfe") == "grid":
            dc.pop("cfe")
        dc["grid"] = region
        for key, value in (("grid_year_shift", "weekday"), ("grid_overflow", "wrap")):
            if key not in doc.get("scenario", {}):   # a scenario-wide setting applies as written
                dc.setdefault(key, value)
    return doc


def _with_month(doc: dict, month: int) -> dict:
    doc = copy.deepcopy(doc)
    default = to_utc(doc.get("scenario", {}).get("start", "2020-01-01"))
    for kind in ("training", "job_stream", "search"):
        for w in doc.get("workloads", {}).get(kind, []):
            start = to_utc(w["start"]) if "start" in w else default
            w["start"] = start.replace(month=month, day=1)
            if kind == "job_stream" and "end" in w:
                w["end"] = w["start"] + (to_utc(w["end"]) - start)
    if "end" in doc.get("scenario", {}):
        s0 = to_utc(doc["scenario"].get("start", "2020-01-01"))
        doc["scenario"]["end"] = s0.replace(month=month, day=1) + (to_utc(doc["scenario"]["end"]) - s0)
    if "start" in doc.get("scenario", {}):
        doc["scenario"]["start"] = to_utc(doc["scenario"]["start"]).replace(month=month, day=1)
    return doc


def _set(doc: dict, loc: tuple, value, source) -> dict:
    doc = copy.deepcopy(doc)
    node = doc
    for k, part in enumerate(loc[:-1]):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise ScenarioError([Problem(field_path(loc), f"no {field_path(loc[:k + 1])} in the scenario to set",
                                         has_value=False, fix="give the path as in error messages, e.g. "
                                         "workloads.service[0].max_batch_size")], source) from None
    if isinstance(node, list) and not (isinstance(loc[-1], int) and loc[-1] < len(node)):
        raise ScenarioError([Problem(field_path(loc), "no such entry in the scenario", has_value=False)], source)
    if not isinstance(node, (dict, list)):
        raise ScenarioError([Problem(field_path(loc), "its parent is not a table", has_value=False)], source)
    node[loc[-1]] = value
    return doc


def _serving(result) -> dict:
    return {w.name: {"latency_s": dict(w.serving["latency_s"]), "wh_per_query": w.serving["per_query"]["wh"],
                     "gco2e_per_query": w.serving["per_query"]["gco2e"]["net"]}
            for w in result.workloads if w.serving}


def _savings(result) -> dict | None:
    if result.baseline is None:
        return None
    policy = result.to_dict()["policy"]
    return {"co2e_kg": policy["savings"]["co2e_kg"], "co2e_fraction": policy["savings"]["co2e_fraction"],
            "added_delay_hours_mean": policy["added_delay_hours_mean"]}


def sweep(scenario, regions=None, months: list[int] | None = None, values: Mapping[str, list] | None = None, *,
          progress=None) -> SweepResult:
    """Run ``scenario`` (a :class:`Scenario` or a path) once per combination of ``values``
    (``{path: [v1, v2, ...]}``, paths as in error messages, e.g.
    ``"workloads.service[0].max_batch_size"``), ``regions`` (every datacenter given that grid)
    and ``months`` (every workload starting on the first of that month).

    ``sweep(s, {"workloads.service[0].max_batch_size": [1, 8, 64]})`` varies a value only (the
    second argument may be the values); rows are then in grid order, and ranked by gross CO2e
    when regions or months are swept.  ``progress``: an object with ``start(total, done, unit)``,
    ``update(k)`` and ``close()``, told of every run.
    """
    if isinstance(scenario, (str, os.PathLike)):
        from ..model import load
        scenario = load(scenario)
    if isinstance(regions, Mapping):
        values, regions = {**regions, **(values or {})}, None
    regions = list(regions or [])
    values = {str(k): list(v) for k, v in (values or {}).items()}
    if not regions and not months and not values:
        raise ScenarioError([Problem("sweep.regions", "give at least one region (or values to vary)", has_value=False,
                                     fix="e.g. --regions eia:BPAT,eia:AZPS (carbonsim regions lists them), or "
                                         "--set workloads.service[0].max_batch_size=1,8,64")],
                            scenario.source)
    for i, r in enumerate(regions):
        if not isinstance(r, str):
            raise ScenarioError([Problem(f"sweep.regions[{i}]", "must be a grid signal name (regions are swept one "
                                         "by one, not sampled)", r,
                                         fix='list them, e.g. regions = ["eia:CISO", "eia:BPAT"]; for a distribution '
                                             "over regions use carbonsim mc")], scenario.source)
    for m in months or []:
        if not (isinstance(m, int) and 1 <= m <= 12):
            raise ScenarioError([Problem("sweep.months", "months must be integers 1-12", m)], scenario.source)
    if months:
        doc = scenario.to_dict()
        starts = [(f"scenario.{k}", (doc.get("scenario") or {}).get(k)) for k in ("start", "end")]
        starts += [(f"workloads.{kind}[{i}].{k}", w.get(k)) for kind in ("training", "job_stream", "search")
                   for i, w in enumerate((doc.get("workloads") or {}).get(kind, [])) for k in ("start", "end")]
        for where, v in starts:
            if isinstance(v, Mapping):
                raise ScenarioError([Problem(where, "is a distribution, so a sweep over start months cannot move "
                                             "it", v, fix="give a fixed date to sweep months, or study the "
                                                          "distribution with carbonsim mc")], scenario.source)
    locs = {}
    for path, vs in values.items():
        try:
            locs[path] = path_loc(path)
        except ValueError as err:
            raise ScenarioError([Problem(path, str(err), has_value=False)], scenario.source) from None
        if not vs:
            raise ScenarioError([Problem(path, "give at least one value to sweep", has_value=False)], scenario.source)
    base = scenario.to_dict()
    base.pop("sweep", None)
    grid = list(itertools.product(*([(p, v) for v in vs] for p, vs in values.items()),
                                  regions or [None], months or [None]))
    if progress is not None:
        progress.start(len(grid), 0, "runs")
    rows = []
    try:
        for combo in grid:
            *settings, region, month = combo
            doc = base
            for path, value in settings:
                doc = _set(doc, locs[path], value, scenario.source)
            if region is not None:
                doc = _with_region(doc, region)
            if month is not None:
                doc = _with_month(doc, month)
            result = Scenario.from_dict(doc, scenario.source).run()
            t = result.totals
            rows.append(SweepRow(region=region, month=month, energy_kwh=t.energy_kwh, gross_co2e_kg=t.gross_co2e_kg,
                                 net_co2e_kg=t.net_co2e_kg,
                                 mean_intensity_g_per_kwh=t.gross_co2e_kg * 1000 / t.energy_kwh if t.energy_kwh else 0.0,
                                 basis=result.datacenters[0].basis,
                                 power_bases=tuple(sorted(power_bases(result))), settings=tuple(settings),
                                 it_energy_kwh=t.it_energy_kwh, embodied_co2e_kg=t.embodied_co2e_kg,
                                 savings=_savings(result), serving=_serving(result)))
            if progress is not None:
                progress.update(1)
    finally:
        if progress is not None:
            progress.close()
    ranked = bool(regions or months)
    if ranked:
        rows.sort(key=lambda r: (r.gross_co2e_kg, r.region or "", r.month or 0))
    return SweepResult(scenario=scenario.name, rows=tuple(rows), parameters=tuple(values), ranked=ranked)
