"""The "where (and when)" sweep: the same workloads in each region, ranked.

Every datacenter of the scenario is given the region's grid signal (keeping its
PUE, pools and everything else); with ``months``, every workload also starts on
the first of each month of its start year, at its original time of day.
Series from another year than the simulation are aligned by weekday
(``grid_year_shift = "weekday"``) and repeated past their end
(``grid_overflow = "wrap"``) unless the scenario sets these itself.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

from ..model import Scenario
from .compare import power_bases
from ..model.errors import Problem, ScenarioError
from ..model.spec import to_utc


@dataclass(frozen=True)
class SweepRow:
    region: str
    month: int | None
    energy_kwh: float
    gross_co2e_kg: float
    net_co2e_kg: float
    mean_intensity_g_per_kwh: float
    basis: str
    power_bases: tuple[str, ...] = ()   # catalog power bases of the run's workloads (compare.power_bases)

    def to_dict(self) -> dict:
        return {"region": self.region, "month": self.month, "energy_kwh": self.energy_kwh,
                "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
                "mean_intensity_gco2e_per_kwh": self.mean_intensity_g_per_kwh, "basis": self.basis,
                "power_bases": list(self.power_bases)}


@dataclass(frozen=True)
class SweepResult:
    scenario: str
    rows: tuple[SweepRow, ...]   # ranked, lowest gross CO2e first

    @property
    def best(self) -> SweepRow:
        return self.rows[0]

    @property
    def spread(self) -> float:
        """Worst-to-best ratio of gross CO2e."""
        return self.rows[-1].gross_co2e_kg / self.rows[0].gross_co2e_kg if self.rows[0].gross_co2e_kg else float("inf")

    def to_dict(self) -> dict:
        return {"scenario": self.scenario, "spread": self.spread,
                "rows": [{**r.to_dict(), "ratio_to_best": r.gross_co2e_kg / self.best.gross_co2e_kg
                          if self.best.gross_co2e_kg else None} for r in self.rows]}

    def format_table(self) -> str:
        from ..cli.tables import sweep_table
        return sweep_table(self)


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


def sweep(scenario: Scenario, regions: list[str], months: list[int] | None = None) -> SweepResult:
    """Run ``scenario`` once per region (and month); rows ranked by gross CO2e."""
    if not regions:
        raise ScenarioError([Problem("sweep.regions", "give at least one region", has_value=False,
                                     fix="e.g. --regions eia:BPAT,eia:AZPS; carbonsim regions lists them")],
                            scenario.source)
    for m in months or []:
        if not (isinstance(m, int) and 1 <= m <= 12):
            raise ScenarioError([Problem("sweep.months", "months must be integers 1-12", m)], scenario.source)
    base = scenario.to_dict()
    base.pop("sweep", None)
    rows = []
    for region in regions:
        for month in (months or [None]):
            doc = _with_region(base, region)
            if month is not None:
                doc = _with_month(doc, month)
            result = Scenario.from_dict(doc, scenario.source).run()
            t = result.totals
            rows.append(SweepRow(region=region, month=month, energy_kwh=t.energy_kwh, gross_co2e_kg=t.gross_co2e_kg,
                                 net_co2e_kg=t.net_co2e_kg,
                                 mean_intensity_g_per_kwh=t.gross_co2e_kg * 1000 / t.energy_kwh if t.energy_kwh else 0.0,
                                 basis=result.datacenters[0].basis,
                                 power_bases=tuple(sorted(power_bases(result)))))
    rows.sort(key=lambda r: (r.gross_co2e_kg, r.region, r.month or 0))
    return SweepResult(scenario=scenario.name, rows=tuple(rows))
