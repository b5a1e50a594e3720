"""Results of a run: totals, breakdowns, the JSON contract, tables and frames.

The JSON contract (``Result.to_dict``) is stable: keys named in
``docs/results.md`` keep their names and meaning; later versions only add keys.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

import numpy as np

from .._version import __version__
from ..model.objects import ResolvedScenario
from ..model.units import SECONDS_PER_DAY
from .jsonout import dumps

#: Version of the result contract (bumped only for incompatible changes).
RESULT_SCHEMA_VERSION = 1
_SUMS = ("it_energy_kwh", "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg")


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class Totals:
    it_energy_kwh: float = 0.0
    energy_kwh: float = 0.0
    gross_co2e_kg: float = 0.0
    net_co2e_kg: float = 0.0
    embodied_co2e_kg: float = 0.0

    @property
    def total_co2e_kg(self) -> float:
        """Net operational plus embodied."""
        return self.net_co2e_kg + self.embodied_co2e_kg

    @classmethod
    def of(cls, rows) -> "Totals":
        rows = list(rows)
        return cls(*(float(sum(getattr(r, k) for r in rows)) for k in _SUMS))

    def __sub__(self, other: "Totals") -> "Totals":
        return Totals(*(getattr(self, k) - getattr(other, k) for k in _SUMS))

    def to_dict(self) -> dict:
        return {"it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
                "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
                "embodied_co2e_kg": self.embodied_co2e_kg, "total_co2e_kg": self.total_co2e_kg}


@dataclass(frozen=True)
class WorkloadResult:
    name: str
    kind: str
    phase: str
    datacenter: str
    hardware: str
    chips: int
    start: dt.datetime | None
    end: dt.datetime | None
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
    jobs: int = 1
    chip_hours: float = 0.0
    queue_wait_h_mean: float = 0.0
    queue_wait_h_p95: float = 0.0
    delay_h_mean: float = 0.0        # first start - submit (queueing and shifting)
    deadline_misses: int = 0
    completion_delay_h_mean: float = 0.0   # end - (submit + run time): how much later than run at once
    placements: dict = field(default_factory=dict)
    baseline: dict | None = None     # the same jobs run at submit in the home datacenter
    serving: dict | None = None      # services: requests, per-query and per-user figures, latency
    power_basis: str | None = None   # measured | tdp | max_rating (catalog power), or scenario (given)
    measured: dict | None = None     # measured runs: what was read (source, components, PUE divided out)

    @property
    def days(self) -> float:
        if self.start is None or self.end is None:
            return 0.0
        return (self.end - self.start).total_seconds() / SECONDS_PER_DAY

    @property
    def total_co2e_kg(self) -> float:
        return self.net_co2e_kg + self.embodied_co2e_kg

    def comparison(self) -> dict:
        """Computed vs published values: ``{key: (computed, published, relative difference)}``.

        The relative difference is None where the published value is 0 (undefined)."""
        if not self.published:
            return {}
        computed = {"days": self.days, "energy_mwh": self.energy_kwh / 1000,
                    "gross_tco2e": self.gross_co2e_kg / 1000, "net_tco2e": self.net_co2e_kg / 1000}
        return {k: (computed[k], v, computed[k] / v - 1 if v else None)
                for k, v in self.published.items() if k in computed}

    def to_dict(self) -> dict:
        out = {
            "name": self.name, "kind": self.kind, "phase": self.phase, "datacenter": self.datacenter,
            "hardware": self.hardware, "chips": self.chips, "start": _iso(self.start), "end": _iso(self.end),
            "days": self.days, "power_w_per_chip": self.power_w_per_chip, "power_basis": self.power_basis,
            "it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
            "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
            "embodied_co2e_kg": self.embodied_co2e_kg, "embodied_boundary": self.embodied_boundary,
            "total_co2e_kg": self.total_co2e_kg, "jobs": self.jobs, "chip_hours": self.chip_hours,
            "queueing": {"wait_hours_mean": self.queue_wait_h_mean, "wait_hours_p95": self.queue_wait_h_p95,
                         "delay_hours_mean": self.delay_h_mean,
                         "completion_delay_hours_mean": self.completion_delay_h_mean,
                         "deadline_misses": self.deadline_misses},
            "placements": self.placements,
        }
        if self.baseline is not None:
            out["baseline"] = self.baseline
        if self.measured is not None:
            out["measured"] = self.measured
        if self.serving is not None:
            out["serving"] = self.serving
            out["per_query"] = self.serving["per_query"]
        for key in ("parameters", "activated_fraction", "flops"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.published:
            out["published"] = {k: {"computed": c, "published": p, "relative_difference": d,
                                    **({} if d is not None else
                                       {"relative_difference_note": "undefined: the published value is 0"})}
                                for k, (c, p, d) in self.comparison().items()}
            if "source" in self.published:
                out["published"]["source"] = self.published["source"]
        return out


@dataclass(frozen=True)
class PoolResult:
    hardware: str
    chips: int | None
    busy_chip_hours: float
    idle_chip_hours: float
    off_chip_hours: float

    @property
    def utilization(self) -> float | None:
        total = self.busy_chip_hours + self.idle_chip_hours + self.off_chip_hours
        return self.busy_chip_hours / total if self.chips is not None and total > 0 else None

    def to_dict(self) -> dict:
        return {"hardware": self.hardware, "chips": self.chips, "utilization": self.utilization,
                "busy_chip_hours": self.busy_chip_hours, "idle_chip_hours": self.idle_chip_hours,
                "powered_down_chip_hours": self.off_chip_hours}


@dataclass(frozen=True)
class DatacenterResult:
    name: str
    pue: float
    grid: str
    basis: str
    busy: Totals
    idle: Totals
    pools: tuple[PoolResult, ...] = ()

    @property
    def totals(self) -> Totals:
        return Totals.of([self.busy, self.idle])

    def to_dict(self) -> dict:
        out = self.totals.to_dict()
        out.update({"pue": self.pue, "grid": self.grid, "basis": self.basis,
                    "busy_energy_kwh": self.busy.energy_kwh, "idle_energy_kwh": self.idle.energy_kwh,
                    "idle_co2e_kg": {"gross": self.idle.gross_co2e_kg, "net": self.idle.net_co2e_kg},
                    "pools": [p.to_dict() for p in self.pools]})
        return out


@dataclass(frozen=True)
class Result:
    """What a run computed.  ``totals`` = workloads + idle capacity; total CO2e = net operational + embodied."""

    scenario: ResolvedScenario
    workloads: tuple[WorkloadResult, ...]
    warnings: tuple[str, ...] = ()
    datacenters: tuple[DatacenterResult, ...] = ()
    baseline: Totals | None = None
    baseline_delay_h_mean: float | None = None
    baseline_completion_delay_h_mean: float | None = None
    overload: tuple = ()             # runs that could not keep up with their jobs (build.overload_of)
    engine: str = "simpy"            # the fleet engine that ran: compiled | simpy
    hourly: dict | None = field(default=None, repr=False, compare=False)
    jobs: dict | None = field(default=None, repr=False, compare=False)   # per job: see jobs_frame()
    totals: Totals = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "totals", Totals.of(list(self.workloads) + [self.idle]))

    @property
    def idle(self) -> Totals:
        return Totals.of(d.idle for d in self.datacenters)

    def workload(self, name: str) -> WorkloadResult:
        for w in self.workloads:
            if w.name == name:
                return w
        raise KeyError(f"no workload named {name!r}; workloads: {', '.join(w.name for w in self.workloads)}")

    def datacenter(self, name: str) -> DatacenterResult:
        for d in self.datacenters:
            if d.name == name:
                return d
        raise KeyError(f"no datacenter named {name!r}")

    def by_datacenter(self) -> dict[str, Totals]:
        return {d.name: d.totals for d in self.datacenters}

    def by_phase(self) -> dict[str, Totals]:
        groups: dict[str, list] = {}
        for w in self.workloads:
            groups.setdefault(w.phase, []).append(w)
        out = {k: Totals.of(v) for k, v in groups.items()}
        idle = self.idle
        if idle.energy_kwh or idle.embodied_co2e_kg:
            out["idle"] = idle
        return out

    @property
    def savings(self) -> Totals | None:
        """Baseline (fixed placement, run at submit) minus this run's policies."""
        return None if self.baseline is None else self.baseline - self.totals

    def to_dict(self, hourly: bool = False) -> dict:
        s = self.scenario
        total_energy = self.totals.energy_kwh or 1.0
        total_co2 = self.totals.total_co2e_kg or 1.0
        out = {
            "schema_version": RESULT_SCHEMA_VERSION,
            "scenario": {"name": s.name, "sha256": s.sha256, "source": s.source},
            "provenance": {
                "carbonsim_version": __version__, "seed": s.seed, "engine": self.engine,
                "data_sources": self.data_sources(),
                "accounting": "location-based gross (hourly average intensity); net = gross x (1 - CFE) or a "
                              "published net intensity (24/7 same-grid CFE, Patterson et al. 2021)",
                "bases": sorted({d.basis for d in self.datacenters}),
                "power_bases": sorted({w.power_basis for w in self.workloads if w.power_basis}),
                "hardware": self.hardware_provenance(),
            },
            "totals": self.totals.to_dict(),
            "datacenters": {d.name: d.to_dict() for d in self.datacenters},
            "phases": {k: {**v.to_dict(), "share": v.energy_kwh / total_energy,
                           "co2e_share": v.total_co2e_kg / total_co2}
                       for k, v in self.by_phase().items()},
            "workloads": [w.to_dict() for w in self.workloads],
            "warnings": list(self.warnings),
            "overload": [{k: v for k, v in o.items()} for o in self.overload],
        }
        if self.baseline is not None:
            sv = self.savings
            out["policy"] = {
                "baseline": self.baseline.to_dict(),
                "savings": {**sv.to_dict(), "co2e_fraction": {
                    "gross": sv.gross_co2e_kg / self.baseline.gross_co2e_kg if self.baseline.gross_co2e_kg else None,
                    "net": sv.net_co2e_kg / self.baseline.net_co2e_kg if self.baseline.net_co2e_kg else None}},
                "added_delay_hours_mean": self._policy_delay() - (self.baseline_delay_h_mean or 0.0),
                "added_completion_delay_hours_mean": self._policy_delay("completion_delay_h_mean")
                - (self.baseline_completion_delay_h_mean or 0.0),
            }
            if not (self.baseline.gross_co2e_kg and self.baseline.net_co2e_kg):
                out["policy"]["savings"]["co2e_fraction_note"] = "null: the baseline emits nothing, so no share"
        if hourly and self.hourly is not None:
            h = self.hourly
            out["hourly"] = {
                "start": _iso(h["t0"]), "step_hours": 1,
                "datacenters": {name: {"energy_kwh": h["energy_kwh"][i].tolist(),
                                       "co2e_kg": {"gross": h["gross_kg"][i].tolist(), "net": h["net_kg"][i].tolist()},
                                       "intensity_gco2e_per_kwh": h["intensity_g_per_kwh"][i].tolist(),
                                       "power_kw": (h["energy_kwh"][i]).tolist()}
                                for i, name in enumerate(d.name for d in self.datacenters)},
                "workloads": {name: {"energy_kwh": energy.tolist(), "co2e_kg": {"gross": gross.tolist(),
                                                                                "net": net.tolist()}}
                              for name, energy, gross, net, _ in self.hourly_series("workload")},
            }
        return out

    def _policy_delay(self, which: str = "delay_h_mean") -> float:
        jobs = sum(w.jobs for w in self.workloads)
        return sum(getattr(w, which) * w.jobs for w in self.workloads) / jobs if jobs else 0.0

    def policy_outputs(self) -> dict | None:
        """The baseline and what the policies save against it, as plain numbers (None when
        there is no baseline): gross/net CO2e of the baseline, saved (kg) and saved (%, None
        when the baseline is 0), and the added mean delay to first start and to completion (h)."""
        if self.baseline is None:
            return None
        d = self.to_dict()["policy"]
        b = self.baseline
        return {"baseline_gross_co2e_kg": b.gross_co2e_kg, "baseline_net_co2e_kg": b.net_co2e_kg,
                "gross_co2e_saved_kg": b.gross_co2e_kg - self.totals.gross_co2e_kg,
                "net_co2e_saved_kg": b.net_co2e_kg - self.totals.net_co2e_kg,
                "added_delay_hours": d["added_delay_hours_mean"],
                "added_completion_delay_hours": d["added_completion_delay_hours_mean"]}

    def data_sources(self) -> list[str]:
        from ..model.hardware import SOURCES
        sources = set()
        for dc in self.scenario.datacenters.values():
            g = dc.grid
            if g.constant and g.source in ("constant", "", None):
                sources.add(f"datacenter {dc.name}: constant grid intensity from the scenario")
            else:
                uses = f" = {g.series}" if getattr(g, "series", None) else ""
                sources.add(f"datacenter {dc.name}: {g.name}{uses} ({g.source}, {g.year}, {g.basis}"
                            + (f", licence {g.licence}" if g.licence else "") + ")")
        for w in self.scenario.workloads:
            for k, v in w.hardware.sources.items():
                sources.add(f"hardware {w.hardware.name}.{k}: {SOURCES.get(v, v)}")
        return sorted(sources)

    def hardware_provenance(self) -> dict:
        """Per hardware of the workloads: its catalog power basis and figure, with source and year."""
        from ..model.hardware import POWER_BASIS_FIELD, SOURCE_YEARS
        out = {}
        for w in self.scenario.workloads:
            chip = w.hardware
            src = chip.power_source
            out[chip.name] = {"power_basis": chip.power_basis, "power_w_per_chip": chip.default_power_w,
                              "field": POWER_BASIS_FIELD[chip.power_basis], "source": src,
                              "year": SOURCE_YEARS.get(src) if src else None}
        return dict(sorted(out.items()))

    def to_json(self, indent: int | None = 2, hourly: bool = False) -> str:
        return dumps(self.to_dict(hourly=hourly), indent=indent)

    def to_csv(self) -> str:
        cols = ["name", "kind", "phase", "datacenter", "hardware", "chips", "jobs", "start", "end", "days",
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

    def hourly_frame(self, by: str = "datacenter"):
        """Hourly facility energy and emissions (run with ``hourly=True``; needs pandas), one block of
        rows per datacenter (``by="datacenter"``, with the grid's intensity) or per workload
        (``by="workload"``, summed over datacenters; idle capacity as ``"(idle capacity)"``).
        Indexed by the UTC hour it starts."""
        pd = _pandas("hourly_frame()")
        if by not in ("datacenter", "workload"):
            raise ValueError(f"by must be 'datacenter' or 'workload', not {by!r}")
        if self.hourly is None:
            raise ValueError("no hourly data: run with hourly=True (or --hourly)")
        index = pd.date_range(self.hourly["t0"], periods=self.hourly["energy_kwh"].shape[1], freq="h")
        frames = []
        for name, energy, gross, net, extra in self.hourly_series(by):
            frames.append(pd.DataFrame({by: name, "energy_kwh": energy, "gross_co2e_kg": gross, "net_co2e_kg": net,
                                        **extra}, index=index))
        return pd.concat(frames).rename_axis("hour")

    def hourly_series(self, by: str = "datacenter") -> list[tuple]:
        """``[(name, energy_kwh, gross_kg, net_kg, extra)]`` hourly arrays per datacenter or per workload
        (``extra``: the datacenter's ``intensity_gco2e_per_kwh``; empty per workload)."""
        h = self.hourly
        if h is None:
            raise ValueError("no hourly data: run with hourly=True (or --hourly)")
        if by == "datacenter":
            return [(d.name, h["energy_kwh"][i], h["gross_kg"][i], h["net_kg"][i],
                     {"intensity_gco2e_per_kwh": h["intensity_g_per_kwh"][i]}) for i, d in enumerate(self.datacenters)]
        out = [(w.name, h["workload_energy_kwh"][i], h["workload_gross_kg"][i], h["workload_net_kg"][i], {})
               for i, w in enumerate(self.workloads)]
        if h["workload_energy_kwh"][-1].any():
            out.append((IDLE_NAME, h["workload_energy_kwh"][-1], h["workload_gross_kg"][-1],
                        h["workload_net_kg"][-1], {}))
        return out

    def jobs_frame(self):
        """One row per job of the engine (training runs, job streams, search trials; not services):
        workload, submit, start and end (UTC), wait for chips and delay from submit to start (hours),
        datacenter, chips, facility energy, gross / net / embodied CO2e.  Needs pandas."""
        pd = _pandas("jobs_frame()")
        frame = pd.DataFrame(dict(self.job_columns()))
        if self.jobs is not None:
            t0 = pd.Timestamp(self.jobs["t0"])
            t0 = t0.tz_localize("UTC") if t0.tzinfo is None else t0.tz_convert("UTC")
            for c, key in (("submit", "submit_s"), ("start", "start_s"), ("end", "end_s")):
                frame[c] = t0 + pd.to_timedelta(self.jobs[key], unit="s")
        return frame

    def job_columns(self) -> list[tuple[str, list]]:
        """The per-job table as ``[(column, values)]`` (times as ISO 8601 strings, unfinished: None)."""
        j = self.jobs
        if j is None:
            return [(c, []) for c in JOB_COLUMNS]
        names = [w.name for w in self.workloads]
        dcs = [d.name for d in self.datacenters]
        t0 = j["t0"]

        def times(v):
            return [None if not np.isfinite(x) else _iso(t0 + dt.timedelta(seconds=float(x))) for x in v.tolist()]

        return [("workload", [names[i] for i in j["workload"].tolist()]),
                ("submit", times(j["submit_s"])), ("start", times(j["start_s"])), ("end", times(j["end_s"])),
                ("wait_hours", (j["wait_s"] / 3600).tolist()), ("delay_hours", (j["delay_s"] / 3600).tolist()),
                ("datacenter", [dcs[d] if d >= 0 else None for d in j["datacenter"].tolist()]),
                ("chips", j["chips"].tolist()), ("energy_kwh", j["energy_kwh"].tolist()),
                ("gross_co2e_kg", j["gross_kg"].tolist()), ("net_co2e_kg", j["net_kg"].tolist()),
                ("embodied_co2e_kg", j["embodied_kg"].tolist()),
                ("total_co2e_kg", (j["net_kg"] + j["embodied_kg"]).tolist())]

    def jobs_csv(self) -> str:
        """:meth:`job_columns` as CSV (one row per job)."""
        cols = self.job_columns()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow([c for c, _ in cols])
        writer.writerows(zip(*(v for _, v in cols)))
        return buf.getvalue()

    def format_table(self, fmt: str = "text") -> str:
        """The per-workload table: ``fmt`` = ``"text"`` (the terminal's), ``"markdown"`` or ``"latex"``."""
        from ..cli.tables import result_table
        return result_table(self, fmt)

    def __repr__(self) -> str:
        from ..cli.notebook import result_repr
        return result_repr(self)

    def _repr_html_(self) -> str:
        from ..cli.notebook import result_html
        return result_html(self)


# ---------------------------------------------------------------------------
# Assembly from the engine's accounting
# ---------------------------------------------------------------------------


IDLE_NAME = "(idle capacity)"
JOB_COLUMNS = ("workload", "submit", "start", "end", "wait_hours", "delay_hours", "datacenter", "chips",
               "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")


def _pandas(what: str):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"{what} needs pandas: pip install 'carbonsim[pandas]'") from None
    return pd
