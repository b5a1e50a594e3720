"""Results of a run: totals, breakdowns, the JSON contract, tables and frames.

The JSON contract (``Result.to_dict``) is stable: keys named in
``docs/results.md`` keep their names and meaning; later versions only add keys.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from dataclasses import dataclass, field

import numpy as np

from .._version import __version__
from ..model.units import J_PER_KWH
from ..model.objects import ResolvedScenario, TrainingRun
from ..model.units import SECONDS_PER_DAY

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
    delay_h_mean: float = 0.0
    deadline_misses: int = 0
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
            "days": self.days, "power_w_per_chip": self.power_w_per_chip, "power_basis": self.power_basis,
            "it_energy_kwh": self.it_energy_kwh, "energy_kwh": self.energy_kwh,
            "co2e_kg": {"gross": self.gross_co2e_kg, "net": self.net_co2e_kg},
            "embodied_co2e_kg": self.embodied_co2e_kg, "embodied_boundary": self.embodied_boundary,
            "total_co2e_kg": self.total_co2e_kg, "jobs": self.jobs, "chip_hours": self.chip_hours,
            "queueing": {"wait_hours_mean": self.queue_wait_h_mean, "wait_hours_p95": self.queue_wait_h_p95,
                         "delay_hours_mean": self.delay_h_mean, "deadline_misses": self.deadline_misses},
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
            out["published"] = {k: {"computed": c, "published": p, "relative_difference": d}
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
    hourly: dict | None = None
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
                "carbonsim_version": __version__, "seed": s.seed,
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
        }
        if self.baseline is not None:
            sv = self.savings
            out["policy"] = {
                "baseline": self.baseline.to_dict(),
                "savings": {**sv.to_dict(), "co2e_fraction": {
                    "gross": sv.gross_co2e_kg / self.baseline.gross_co2e_kg if self.baseline.gross_co2e_kg else 0.0,
                    "net": sv.net_co2e_kg / self.baseline.net_co2e_kg if self.baseline.net_co2e_kg else 0.0}},
                "added_delay_hours_mean": self._policy_delay() - (self.baseline_delay_h_mean or 0.0),
            }
        if hourly and self.hourly is not None:
            h = self.hourly
            out["hourly"] = {
                "start": _iso(h["t0"]), "step_hours": 1,
                "datacenters": {name: {"energy_kwh": h["energy_kwh"][i].tolist(),
                                       "co2e_kg": {"gross": h["gross_kg"][i].tolist(), "net": h["net_kg"][i].tolist()},
                                       "intensity_gco2e_per_kwh": h["intensity_g_per_kwh"][i].tolist(),
                                       "power_kw": (h["energy_kwh"][i]).tolist()}
                                for i, name in enumerate(d.name for d in self.datacenters)},
            }
        return out

    def _policy_delay(self) -> float:
        jobs = sum(w.jobs for w in self.workloads)
        return sum(w.delay_h_mean * w.jobs for w in self.workloads) / jobs if jobs else 0.0

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
        return json.dumps(self.to_dict(hourly=hourly), indent=indent)

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

    def hourly_frame(self):
        """Hourly energy and emissions per datacenter (run with ``hourly=True``; needs pandas)."""
        import pandas as pd
        if self.hourly is None:
            raise ValueError("no hourly data: run with hourly=True (or --hourly)")
        h = self.hourly
        n = h["energy_kwh"].shape[1]
        index = pd.date_range(h["t0"], periods=n, freq="h")
        frames = []
        for i, d in enumerate(self.datacenters):
            frames.append(pd.DataFrame({"datacenter": d.name, "energy_kwh": h["energy_kwh"][i],
                                        "gross_co2e_kg": h["gross_kg"][i], "net_co2e_kg": h["net_kg"][i],
                                        "intensity_gco2e_per_kwh": h["intensity_g_per_kwh"][i]}, index=index))
        return pd.concat(frames).rename_axis("hour")

    def format_table(self) -> str:
        from ..cli.tables import result_table
        return result_table(self)


# ---------------------------------------------------------------------------
# Assembly from the engine's accounting
# ---------------------------------------------------------------------------


def _sum_by(index: np.ndarray, weights: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(index, weights, minlength=n)[:n] if len(index) else np.zeros(n)


def _totals(mask, a) -> Totals:
    return Totals(float(a.it_j[mask].sum() / J_PER_KWH), float(a.fac_j[mask].sum() / J_PER_KWH),
                  float(a.gross_g[mask].sum() / 1000), float(a.net_g[mask].sum() / 1000),
                  float(a.embodied_kg[mask].sum()))


def _latency(res) -> dict:
    if res.mode == "requests":
        return {"mean": float(res.mean_latency()), "p50": float(res.latency_percentile(50)),
                "p95": float(res.latency_percentile(95)), "p99": float(res.latency_percentile(99))}
    return {"mean": float(res.mean_latency())}


def _serving_summary(deployments, duration_s, fac_kwh, gross_kg, net_kg) -> dict:
    """A service's figures over every datacenter it is deployed in (latency per datacenter
    when there are several: percentiles of different fleets do not add)."""
    requests = float(sum(r.total_requests for _, r in deployments))
    busy = sum(r.total_busy_chip_s for _, r in deployments)
    idle = sum(r.total_idle_chip_s for _, r in deployments)
    out = {
        "mode": ",".join(dict.fromkeys(r.mode for _, r in deployments)), "requests": requests,
        "queries_per_second_mean": requests / max(duration_s, 1.0),
        "replicas_mean": float(sum(np.mean(r.replicas) for _, r in deployments if len(r.replicas))),
        "replicas_max": float(sum(np.max(r.replicas) for _, r in deployments if len(r.replicas))),
        # chips provisioned (busy + idle): the mean over the service's duration, and the peak of the hourly
        # means (summed over datacenters), which is also the workload's "chips"
        "chips_mean": float((busy + idle) / max(duration_s, 1.0)),
        "chips_peak": math.ceil(float(sum(np.max(r.replicas) for _, r in deployments if len(r.replicas)))
                                * deployments[0][1].config.chips_per_replica),
        "utilization": float(busy / max(busy + idle, 1e-300)),
        "per_query": {"wh": fac_kwh * 1000 / requests if requests else None,
                      "gco2e": {"gross": gross_kg * 1000 / requests if requests else None,
                                "net": net_kg * 1000 / requests if requests else None}},
    }
    if len(deployments) == 1:
        out["latency_s"] = _latency(deployments[0][1])
    else:
        weights = [float(r.total_requests) for _, r in deployments]
        out["latency_s"] = {"mean": float(np.average([r.mean_latency() for _, r in deployments],
                                                     weights=weights)) if sum(weights) else float("nan")}
        out["datacenters"] = {dc: {"requests": float(r.total_requests), "latency_s": _latency(r),
                                   "replicas_mean": float(np.mean(r.replicas)) if len(r.replicas) else 0.0}
                              for dc, r in deployments}
    return out


def _idle_embodied(run, pools, scenario, datacenter: int | None = None) -> float:
    """Embodied carbon of pool chips while not running jobs (idle or powered down), by time."""
    total = 0.0
    for k, p in enumerate(pools):
        if p.chips is None or (datacenter is not None and p.datacenter != datacenter):
            continue
        rate = scenario.hardware[p.hardware].embodied_kg_per_chip_second
        total += (run.pool_idle_chip_s[k] + run.pool_off_chip_s[k]) * rate
    return total


def build_result(sim) -> Result:
    scenario, rows, pools, jobs, accounted, t0 = sim.scenario, sim.rows, sim.pools, sim.jobs, sim.accounted, sim.t0
    a = accounted["policy"]
    run = a.run
    iv = run.intervals
    n_rows = len(rows)
    wl = iv["workload"]
    busy = wl >= 0
    w_idx = np.where(busy, wl, 0)
    it = _sum_by(w_idx[busy], a.it_j[busy], n_rows) / J_PER_KWH
    fac = _sum_by(w_idx[busy], a.fac_j[busy], n_rows) / J_PER_KWH
    gross = _sum_by(w_idx[busy], a.gross_g[busy], n_rows) / 1000
    net = _sum_by(w_idx[busy], a.net_g[busy], n_rows) / 1000
    emb = _sum_by(w_idx[busy], a.embodied_kg[busy], n_rows)
    chip_h = _sum_by(w_idx[busy], (iv["chips"] * (iv["end_s"] - iv["start_s"]))[busy], n_rows) / 3600
    dc_names = list(scenario.datacenters)
    warnings = list(scenario.warnings)
    delay = run.job_start_s - jobs.submit_s
    wait = run.job_queue_s

    def at(s):
        return None if not np.isfinite(s) else t0 + dt.timedelta(seconds=float(s))

    base_rows = None
    if "baseline" in accounted:
        b = accounted["baseline"]
        bw = b.run.intervals["workload"]
        bb = bw >= 0
        bi = np.where(bb, bw, 0)[bb]
        b_delay = b.run.job_start_s - jobs.submit_s
        base_rows = {"energy_kwh": _sum_by(bi, b.fac_j[bb], n_rows) / J_PER_KWH,
                     "gross": _sum_by(bi, b.gross_g[bb], n_rows) / 1000, "net": _sum_by(bi, b.net_g[bb], n_rows) / 1000,
                     "delay": b_delay}

    results = []
    for i, row in enumerate(rows):
        src = row.source
        mask = jobs.workload == i
        chip = row.hardware
        if chip.embodied_kgco2e is None:
            fix = ("give hardware = ... in its [[workloads.measured]] table" if row.kind == "measured"
                   and chip.name == "measured" else f"set hardware.{chip.name}.embodied_kgco2e")
            warnings.append(f"{row.name}: no published embodied carbon for {chip.name}; counted as 0 "
                            f"({fix} to include it)")
        placed = run.job_datacenter[mask]
        placements = {dc_names[d]: int(c) for d, c in zip(*np.unique(placed[placed >= 0], return_counts=True))}
        n_jobs = int(mask.sum())
        is_run = isinstance(src, TrainingRun)
        serving = None
        if i in sim.services:
            deployments = sim.services[i]
            for dc_name, res in deployments:
                warnings.extend(f"{row.name} in {dc_name}: {w}" if len(deployments) > 1 else f"{row.name}: {w}"
                                for w in res.warnings)
            serving = _serving_summary(deployments, src.duration_s, fac[i], gross[i], net[i])
            placements = {dc_name: float(res.total_requests) for dc_name, res in deployments}
            days = src.duration_s / SECONDS_PER_DAY
            serving["per_day"] = {"energy_kwh": fac[i] / days, "co2e_kg": net[i] / days}
            if src.users:
                serving["per_user"] = {"wh": fac[i] * 1000 / src.users, "gco2e": net[i] * 1000 / src.users,
                                       "per_day_gco2e": net[i] * 1000 / src.users / days}
        results.append(WorkloadResult(
            name=row.name, kind=row.kind, phase=row.phase, datacenter=row.datacenter, hardware=chip.name,
            chips=int(jobs.chips[mask].max()) if n_jobs else
            serving["chips_peak"] if serving else 0,
            start=at(np.nanmin(run.job_start_s[mask])) if n_jobs else getattr(src, "start", None),
            end=at(np.nanmax(run.job_end_s[mask])) if n_jobs else getattr(src, "end", None),
            power_w_per_chip=src.power_w_per_chip,
            it_energy_kwh=float(it[i]), energy_kwh=float(fac[i]), gross_co2e_kg=float(gross[i]),
            net_co2e_kg=float(net[i]), embodied_co2e_kg=float(emb[i]), embodied_boundary=chip.embodied_boundary,
            parameters=getattr(src, "parameters", None),
            activated_fraction=getattr(src, "activated_fraction", None),
            flops=src.flops if is_run else None,
            published=dict(src.published) if getattr(src, "published", None) else None,
            measured=dict(src.measured) if getattr(src, "measured", None) else None,
            jobs=n_jobs, chip_hours=float(chip_h[i]),
            queue_wait_h_mean=float(wait[mask].mean() / 3600) if n_jobs else 0.0,
            queue_wait_h_p95=float(np.percentile(wait[mask], 95) / 3600) if n_jobs else 0.0,
            delay_h_mean=float(np.nanmean(delay[mask]) / 3600) if n_jobs else 0.0,
            deadline_misses=int(np.sum(run.job_end_s[mask] > run.deadline_s[mask] + 1e-6)),
            placements=placements, serving=serving,
            power_basis="scenario" if src.power_source == "scenario" else chip.power_basis,
            baseline=None if base_rows is None or src.policy.is_baseline else {
                "energy_kwh": float(base_rows["energy_kwh"][i]),
                "co2e_kg": {"gross": float(base_rows["gross"][i]), "net": float(base_rows["net"][i])},
                "delay_hours_mean": float(np.nanmean(base_rows["delay"][mask]) / 3600) if n_jobs else 0.0},
        ))

    datacenters = []
    dcol = iv["datacenter"]
    for d, name in enumerate(dc_names):
        dc = scenario.datacenters[name]
        in_dc = dcol == d
        pool_results = [PoolResult(p.hardware, p.chips, run.pool_busy_chip_s[k] / 3600,
                                   run.pool_idle_chip_s[k] / 3600, run.pool_off_chip_s[k] / 3600)
                        for k, p in enumerate(pools)
                        if p.datacenter == d and (p.chips is not None or run.pool_busy_chip_s[k] > 0)]
        idle_emb = _idle_embodied(run, pools, scenario, d)
        idle_t = _totals(in_dc & ~busy, a)
        idle_t = Totals(idle_t.it_energy_kwh, idle_t.energy_kwh, idle_t.gross_co2e_kg, idle_t.net_co2e_kg, idle_emb)
        datacenters.append(DatacenterResult(
            name=name, pue=dc.pue, grid=dc.grid.name, basis=dc.grid.basis,
            busy=_totals(in_dc & busy, a), idle=idle_t, pools=tuple(pool_results)))
    bases = {d.basis for d in datacenters if d.basis != "unspecified"}
    if len(bases) > 1:
        warnings.append(f"totals add emissions on different bases ({', '.join(sorted(bases))}): "
                        "direct and lifecycle intensities measure different things")

    power_bases = {w.power_basis for w in results if w.power_basis not in (None, "scenario")}
    if len(power_bases) > 1:
        warnings.append(f"totals add power on different bases ({', '.join(sorted(power_bases))}): measured "
                        "system power, chip TDP and system maximum ratings are not comparable")

    baseline = baseline_delay = None
    if "baseline" in accounted:
        b = accounted["baseline"]
        everything = np.ones(len(b.it_j), dtype=bool)
        bt = _totals(everything, b)
        baseline = Totals(bt.it_energy_kwh, bt.energy_kwh, bt.gross_co2e_kg, bt.net_co2e_kg,
                          bt.embodied_co2e_kg + _idle_embodied(b.run, pools, scenario))
        d_b = b.run.job_start_s - jobs.submit_s
        baseline_delay = float(np.nanmean(d_b) / 3600) if len(d_b) else 0.0
    return Result(scenario=scenario, workloads=tuple(results), warnings=tuple(dict.fromkeys(warnings)),
                  datacenters=tuple(datacenters), baseline=baseline, baseline_delay_h_mean=baseline_delay,
                  hourly=sim.hourly)
