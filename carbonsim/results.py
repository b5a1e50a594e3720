"""Results of a run: totals, breakdowns, the JSON contract, tables and frames.

The JSON contract (``Result.to_dict``) is stable: keys named in
``docs/results.md`` keep their names and meaning; later versions only add keys.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from dataclasses import dataclass, field

from ._version import __version__
from .scenario import SECONDS_PER_DAY, ResolvedScenario

#: Version of the result contract (bumped only for incompatible changes).
RESULT_SCHEMA_VERSION = 1


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class WorkloadResult:
    name: str
    kind: str
    phase: str
    datacenter: str
    hardware: str
    chips: int
    start: dt.datetime
    end: dt.datetime
    power_w_per_chip: float
    it_energy_kwh: float
    energy_kwh: float
    gross_co2e_kg: float
    net_co2e_kg: float
    embodied_co2e_kg: float
    embodied_boundary: str | None = None
    parameters: float | None = None
    activated_fraction: float | None = None
    flops: float | None = None
    published: dict | None = None

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / SECONDS_PER_DAY

    @property
    def total_co2e_kg(self) -> float:
        """Net operational plus embodied."""
        return self.net_co2e_kg + self.embodied_co2e_kg

    def comparison(self) -> dict:
        """Computed vs published values: ``{key: (computed, published, relative difference)}``."""
        if not self.published:
            return {}
        computed = {"days": self.days, "energy_mwh": self.energy_kwh / 1000,
                    "gross_tco2e": self.gross_co2e_kg / 1000, "net_tco2e": self.net_co2e_kg / 1000}
        return {k: (computed[k], v, computed[k] / v - 1 if v else float("nan"))
                for k, v in self.published.items() if k in computed}

    def to_dict(self) -> dict:
        out = {
            "name": self.name, "kind": self.kind, "phase": self.phase, "datacenter": self.datacenter,
            "hardware": self.hardware, "chips": self.chips, "start": _iso(self.start), "end": _iso(self.end),
            "days": self.days, "power_w_per_chip": self.power_w_per_chip,
            "it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
            "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
            "embodied_co2e_kg": self.embodied_co2e_kg, "embodied_boundary": self.embodied_boundary,
            "total_co2e_kg": self.total_co2e_kg,
        }
        for key in ("parameters", "activated_fraction", "flops"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.published:
            out["published"] = {k: {"computed": c, "published": p, "relative_difference": d}
                                for k, (c, p, d) in self.comparison().items()}
            if "source" in self.published:
                out["published"]["source"] = self.published["source"]
        return out


@dataclass(frozen=True)
class Totals:
    it_energy_kwh: float
    energy_kwh: float
    gross_co2e_kg: float
    net_co2e_kg: float
    embodied_co2e_kg: float

    @property
    def total_co2e_kg(self) -> float:
        return self.net_co2e_kg + self.embodied_co2e_kg

    @classmethod
    def of(cls, rows) -> "Totals":
        rows = list(rows)
        return cls(*(sum(getattr(r, k) for r in rows) for k in
                     ("it_energy_kwh", "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg")))

    def to_dict(self) -> dict:
        return {"it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
                "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
                "embodied_co2e_kg": self.embodied_co2e_kg, "total_co2e_kg": self.total_co2e_kg}


@dataclass(frozen=True)
class Result:
    """What a run computed.  ``total_co2e_kg`` is net operational + embodied."""

    scenario: ResolvedScenario
    workloads: tuple[WorkloadResult, ...]
    warnings: tuple[str, ...] = ()
    totals: Totals = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "totals", Totals.of(self.workloads))

    def workload(self, name: str) -> WorkloadResult:
        for w in self.workloads:
            if w.name == name:
                return w
        raise KeyError(f"no workload named {name!r}; workloads: {', '.join(w.name for w in self.workloads)}")

    def _group(self, key: str) -> dict[str, Totals]:
        groups: dict[str, list] = {}
        for w in self.workloads:
            groups.setdefault(getattr(w, key), []).append(w)
        return {k: Totals.of(v) for k, v in groups.items()}

    def by_datacenter(self) -> dict[str, Totals]:
        return self._group("datacenter")

    def by_phase(self) -> dict[str, Totals]:
        return self._group("phase")

    def to_dict(self) -> dict:
        s = self.scenario
        return {
            "schema_version": RESULT_SCHEMA_VERSION,
            "scenario": {"name": s.name, "sha256": s.sha256, "source": s.source},
            "provenance": {
                "carbonsim_version": __version__, "seed": s.seed,
                "data_sources": self.data_sources(),
                "accounting": "location-based gross; net = gross x (1 - CFE) or published net intensity "
                              "(24/7 same-grid CFE, Patterson et al. 2021)",
            },
            "totals": self.totals.to_dict(),
            "datacenters": {k: v.to_dict() for k, v in self.by_datacenter().items()},
            "phases": {k: v.to_dict() for k, v in self.by_phase().items()},
            "workloads": [w.to_dict() for w in self.workloads],
            "warnings": list(self.warnings),
        }

    def data_sources(self) -> list[str]:
        sources = set()
        for dc in self.scenario.datacenters.values():
            sources.add(f"datacenter {dc.name}: constant grid intensity from the scenario")
        for w in self.scenario.training:
            sources.update(f"hardware {w.hardware.name}.{k}: {v}" for k, v in w.hardware.sources.items())
        return sorted(sources)

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_csv(self) -> str:
        cols = ["name", "kind", "phase", "datacenter", "hardware", "chips", "start", "end", "days",
                "it_energy_kwh", "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg", "total_co2e_kg"]
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(cols)
        for w in self.workloads:
            d = w.to_dict()
            d["gross_co2e_kg"], d["net_co2e_kg"] = w.gross_co2e_kg, w.net_co2e_kg
            writer.writerow([d[c] for c in cols])
        return buf.getvalue()

    def to_frame(self):
        """One row per workload (requires pandas: ``pip install carbonsim[pandas]``)."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("to_frame() needs pandas: pip install 'carbonsim[pandas]'") from None
        return pd.read_csv(io.StringIO(self.to_csv()), parse_dates=["start", "end"])

    def format_table(self) -> str:
        head = ["workload", "hardware", "chips", "days", "IT MWh", "fac. MWh", "gross t", "net t", "embod. t"]
        rows = []
        for w in self.workloads:
            rows.append([w.name, w.hardware, f"{w.chips:,}", f"{w.days:.2f}", f"{w.it_energy_kwh / 1e3:.2f}",
                         f"{w.energy_kwh / 1e3:.2f}", f"{w.gross_co2e_kg / 1e3:.2f}", f"{w.net_co2e_kg / 1e3:.2f}",
                         f"{w.embodied_co2e_kg / 1e3:.3f}"])
            comp = w.comparison()
            if comp:
                pub = {"days": 3, "energy_mwh": 5, "gross_tco2e": 6, "net_tco2e": 7}
                prow, drow = ["  published", "", "", "", "", "", "", "", ""], ["  difference", "", "", "", "", "", "", "", ""]
                for key, col in pub.items():
                    if key in comp:
                        c, p, d = comp[key]
                        prow[col] = f"{p:g}"
                        drow[col] = f"{d:+.1%}"
                rows += [prow, drow]
        t = self.totals
        rows.append(["total", "", f"{sum(w.chips for w in self.workloads):,}", "", f"{t.it_energy_kwh / 1e3:.2f}",
                     f"{t.energy_kwh / 1e3:.2f}", f"{t.gross_co2e_kg / 1e3:.2f}", f"{t.net_co2e_kg / 1e3:.2f}",
                     f"{t.embodied_co2e_kg / 1e3:.3f}"])
        widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

        def line(r):
            return "  ".join(c.ljust(widths[i]) if i < 2 else c.rjust(widths[i]) for i, c in enumerate(r)).rstrip()

        out = [f"scenario {self.scenario.name} (sha256 {self.scenario.sha256[:12]}), carbonsim {__version__}",
               "energy in MWh (facility = IT x PUE); CO2e in tonnes (gross, net operational; embodied apart)", "",
               line(head), line(["-" * w for w in widths])]
        out += [line(r) for r in rows[:-1]] + [line(["-" * w for w in widths]), line(rows[-1])]
        out.append(f"total CO2e (net operational + embodied): {t.total_co2e_kg / 1e3:.2f} t")
        out += [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)
