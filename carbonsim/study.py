"""Monte Carlo uncertainty and sensitivity studies (``carbonsim mc``).

Data flow::

    scenario document ──uncertainty.parse──▶ inputs (distributions, re-weighted / re-run)
        ──design (Sobol' / LHS / random, seeded)──▶ input values per sample
        ──group samples by their schedule-changing values──▶ one engine run per group
        ──re-weight the run's per-(workload, datacenter) base quantities──▶ outputs per sample
        ──▶ statistics, Sobol' indices (bootstrap intervals), tornado

Speed: most uncertain inputs (power, PUE, grid intensity or scale, CFE, embodied
carbon, lifetimes) only scale what the engine has already laid out.  For those,
one engine run records, per group of intervals sharing a workload (or pool) and
a datacenter, the chip-seconds and the chip-seconds weighted by the hourly
gross and net intensity; every sample is then a few vectorised products
(:class:`Basis`).  Samples whose schedule-changing values (chips, durations,
rates, grids, dates, ...) differ get their own engine run; those runs are what
a process pool or a Dask cluster parallelises.

Determinism: every sample's outputs are a pure function of its input values
(and, with ``vary_seed``, of its scenario seed, drawn from
``SeedSequence.spawn`` per block of samples), computed element by element, so
results are bit-identical for any number of workers, on Dask, and after a
resume from a checkpoint.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from . import uncertainty as unc
from ._version import __version__
from .errors import Problem, ScenarioError

#: Output quantities per entity (totals, each phase, each workload), in this order.
METRICS = ("it_energy_kwh", "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")
_IT, _FAC, _GROSS, _NET, _EMB, _TOTAL = range(6)
DEFAULT_SAMPLES = 1000
DEFAULT_PERCENTILES = (5.0, 95.0)
#: Samples re-weighted per chunk of work when one engine run serves many samples.
FAST_CHUNK = 4096
J_PER_KWH = 3.6e6
#: Workload kinds whose intervals draw chips x one power figure per chip (re-weighted by that figure);
#: the intervals of other kinds are re-weighted by their recorded energy (PUE, grid, CFE, embodied only).
PER_CHIP_KINDS = ("training", "job_stream", "search")


# ---------------------------------------------------------------------------
# What a study reports: the output layout
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Layout:
    """The output columns: ``len(METRICS)`` per entity (totals, then phases, then workloads)."""

    phases: tuple[str, ...]
    workloads: tuple[str, ...]

    @property
    def entities(self) -> list[tuple[str, str | None]]:
        return [("totals", None)] + [("phase", p) for p in self.phases] + [("workload", w) for w in self.workloads]

    @property
    def n_out(self) -> int:
        return len(self.entities) * len(METRICS)

    def column(self, entity: tuple[str, str | None] = ("totals", None), metric: str = "total_co2e_kg") -> int:
        try:
            e = self.entities.index(entity)
        except ValueError:
            raise KeyError(f"no output {entity[0]} {entity[1]!r}; phases: {', '.join(self.phases)}; "
                           f"workloads: {', '.join(self.workloads)}") from None
        return e * len(METRICS) + METRICS.index(metric)

    @classmethod
    def of(cls, resolved) -> "Layout":
        from .simulation import workload_rows
        rows = workload_rows(resolved)
        phases = list(dict.fromkeys(r.phase for r in rows))
        if any(dc.pools for dc in resolved.datacenters.values()):
            phases.append("idle")
        return cls(tuple(phases), tuple(r.name for r in rows))


# ---------------------------------------------------------------------------
# Which resolved quantity each re-weighted input drives
# ---------------------------------------------------------------------------


def _norm(name: str) -> str:
    from .hardware import normalize_name
    return normalize_name(name)


@dataclasses.dataclass(frozen=True)
class _Mapping:
    """Where re-weighted inputs act, by names that survive re-resolving a document."""

    dc: dict                    # (datacenter, key) -> input index
    pools: dict                 # (datacenter, normalized hardware) -> input index
    pool_idle_given: frozenset  # (datacenter, normalized hardware) pools that set idle_w_per_chip
    rows: dict                  # workload name -> input index (its power_w_per_chip)
    hardware: dict              # normalized hardware name -> {attribute: input index}

    @classmethod
    def build(cls, u: unc.UncertainScenario, reweighted: frozenset) -> "_Mapping":
        doc = u.nominal_document
        dc, pools, rows, hw_params = {}, {}, {}, {}
        for j, inp in enumerate(u.sampled):
            if j not in reweighted:
                continue
            loc = inp.loc
            if loc[0] == "datacenters" and len(loc) == 3:
                dc[(loc[1], loc[2])] = j
            elif loc[0] == "datacenters":
                pools[(loc[1], _norm(loc[3]))] = j
            elif loc[0] == "workloads":
                rows[unc.get_at(doc, loc[:-1] + ("name",))] = j
            elif loc[0] == "hardware":
                hw_params[(loc[1], loc[2])] = j
        given = set()
        for dname, d in (doc.get("datacenters") or {}).items():
            for hname, p in ((d or {}).get("pools") or {}).items():
                if isinstance(p, Mapping) and "idle_w_per_chip" in p:
                    given.add((dname, _norm(hname)))
        return cls(dc, pools, frozenset(given), rows, _hardware_mirror(doc, hw_params))


def _hardware_mirror(doc: Mapping, params: Mapping) -> dict:
    """Which input drives each attribute of each hardware entry, following ``base = ...`` in file
    order exactly as the parse step builds its hardware table."""
    from .hardware import CATALOG
    table: dict[str, dict] = {_norm(n): {} for n in CATALOG}
    for name, entry in (doc.get("hardware") or {}).items():
        entry = entry if isinstance(entry, Mapping) else {}
        base = entry.get("base") if isinstance(entry.get("base"), str) else name
        attrs = dict(table.get(_norm(base), {}))
        for attr in unc._HW_REWEIGHT | {"tdp_w"}:
            if attr in entry:
                if (name, attr) in params:
                    attrs[attr] = params[(name, attr)]
                else:
                    attrs.pop(attr, None)
        table[_norm(name)] = attrs
    return table


def _attributes(resolved, m: _Mapping) -> dict:
    """``{(kind, name, attribute): (resolved value, input index or -1)}`` for every quantity the
    re-weighting uses: per workload row its power and its hardware's embodied carbon and lifetime, per
    pool its idle power and embodied figures, per datacenter PUE, grid scale, constant intensity,
    CFE share and net intensity."""
    from .hardware import find
    from .simulation import workload_rows
    out = {}

    def hw(chip, attr):
        return m.hardware.get(_norm(chip.name), {}).get(attr, -1)

    for r in workload_rows(resolved):
        src = r.source
        if r.kind not in PER_CHIP_KINDS:
            out[("row", r.name, "power")] = (None, -1)    # its intervals' power is not chips x one figure
        elif src.power_source == "scenario":
            j = m.rows.get(r.name, -1)
        elif src.power_source.startswith("catalog measured"):
            j = hw(r.hardware, "system_power_w")
        else:
            j = -1
        if r.kind in PER_CHIP_KINDS:
            out[("row", r.name, "power")] = (src.power_w_per_chip, j)
        out[("row", r.name, "embodied")] = (r.hardware.embodied_kgco2e, hw(r.hardware, "embodied_kgco2e"))
        out[("row", r.name, "lifetime")] = (r.hardware.lifetime_years, hw(r.hardware, "lifetime_years"))
    for dname, dc in resolved.datacenters.items():
        out[("dc", dname, "pue")] = (dc.pue, m.dc.get((dname, "pue"), -1))
        out[("dc", dname, "scale")] = (dc.grid_scale, m.dc.get((dname, "grid_scale"), -1))
        j = m.dc.get((dname, "grid_intensity_gco2e_per_kwh"), -1)
        out[("dc", dname, "intensity")] = (float(dc.grid.values[0]) if dc.grid.constant else None, j)
        out[("dc", dname, "cfe")] = (dc.cfe, m.dc.get((dname, "cfe"), -1))
        out[("dc", dname, "net")] = (dc.net_grid_intensity_g_per_kwh,
                                     m.dc.get((dname, "net_grid_intensity_gco2e_per_kwh"), -1))
        for pool in dc.pools.values():
            key = (dname, _norm(pool.hardware))
            chip = find(pool.hardware, resolved.hardware)
            if key in m.pools:
                j = m.pools[key]
            elif key in m.pool_idle_given:
                j = -1
            else:
                j = hw(chip, "idle_w")
            out[("pool", f"{dname}/{pool.hardware}", "idle")] = (pool.idle_w_per_chip, j)
            out[("pool", f"{dname}/{pool.hardware}", "embodied")] = (chip.embodied_kgco2e, hw(chip, "embodied_kgco2e"))
            out[("pool", f"{dname}/{pool.hardware}", "lifetime")] = (chip.lifetime_years, hw(chip, "lifetime_years"))
    return out


# ---------------------------------------------------------------------------
# One engine run, re-weighted for many samples
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class Basis:
    """Base quantities of one engine run, from which any re-weighted sample's outputs follow.

    Per group ``g`` of intervals with one workload (or idle pool) and one
    datacenter: ``ws[g]`` chip-seconds, ``wg[g]`` and ``wn[g]`` chip-seconds x
    hourly gross and net intensity (net = gross unless the datacenter takes its
    grid's own CFE; unscaled).  Then, with P the power per chip, for a sample:
    IT energy = ws P, facility = ws P PUE, gross = (ws c or wg) x scale x P x PUE,
    net = gross x (1 - CFE) or ws x net x scale x P x PUE or wn x scale x P x PUE,
    embodied = cs x embodied / lifetime (cs: chip-seconds).  Idle pools add
    embodied carbon for their idle and powered-down chip-seconds.  Workloads
    whose intervals do not draw chips x one power figure (services) are
    weighted by their recorded energy instead, with P = 1.
    """

    cs: np.ndarray              # chip-seconds (embodied carbon)
    ws: np.ndarray              # what power multiplies: chip-seconds, or 1 x joules for energy-weighted groups
    wg: np.ndarray              # ... x hourly gross intensity
    wn: np.ndarray              # ... x hourly net intensity (the grid's own CFE), else = wg
    group_dc: np.ndarray
    group_cols: list            # per group: output entity indices
    power: list                 # per group: (input index or -1, value)
    embodied: list              # per group: (j, value) for busy groups; None for idle ones
    lifetime: list
    dc: list                    # per datacenter: dict of sources and its net mode
    pool_chip_s: list           # per limited pool: (chip-seconds not running jobs, embodied src, lifetime src, cols)
    n_out: int
    engine_runs: int = 1

    @classmethod
    def build(cls, resolved, sim, m: _Mapping, layout: Layout) -> "Basis":
        from .accounting import integrate
        from .simulation import intensity_table

        attrs = _attributes(resolved, m)
        dc_names = list(resolved.datacenters)
        unit_dcs = {n: dataclasses.replace(dc, grid_scale=1.0, cfe="grid" if dc.cfe == "grid" else None,
                                           net_grid_intensity_g_per_kwh=None)
                    for n, dc in resolved.datacenters.items()}
        unit = dataclasses.replace(resolved, datacenters=MappingProxyType(unit_dcs))
        table = intensity_table(unit, sim.t0, sim.table.n_hours)
        run = sim.accounted["policy"].run
        iv = run.intervals
        chip_s, weighted = integrate(iv["start_s"], iv["end_s"], iv["chips"].astype(np.float64), iv["datacenter"],
                                     table)
        energy_j, e_weighted = integrate(iv["start_s"], iv["end_s"], iv["power_w"], iv["datacenter"], table)
        n_pools = len(sim.pools)
        key = (iv["workload"].astype(np.int64) + n_pools) * len(dc_names) + iv["datacenter"].astype(np.int64)
        keys, inverse = np.unique(key, return_inverse=True)
        cs = np.bincount(inverse, chip_s, minlength=len(keys))
        cg = np.bincount(inverse, weighted[:, 0], minlength=len(keys))
        cn = np.bincount(inverse, weighted[:, 1], minlength=len(keys))
        es = np.bincount(inverse, energy_j, minlength=len(keys))
        eg = np.bincount(inverse, e_weighted[:, 0], minlength=len(keys))
        en = np.bincount(inverse, e_weighted[:, 1], minlength=len(keys))
        ws, wg, wn = cs.copy(), cg.copy(), cn.copy()     # what power multiplies: chip- or energy-weighted

        entities = {e: i for i, e in enumerate(layout.entities)}
        group_dc, cols, power, embodied, lifetime = [], [], [], [], []
        for k in keys.tolist():
            w, d = divmod(k, len(dc_names))
            w -= n_pools
            group_dc.append(d)
            if w >= 0:
                row = sim.rows[w]
                if row.kind in PER_CHIP_KINDS:
                    power.append(_src(attrs[("row", row.name, "power")]))
                else:
                    g = len(power)
                    ws[g], wg[g], wn[g] = es[g], eg[g], en[g]
                    power.append((-1, 1.0))
                embodied.append(_src(attrs[("row", row.name, "embodied")]))
                lifetime.append(_src(attrs[("row", row.name, "lifetime")]))
                cols.append([0, entities[("phase", row.phase)], entities[("workload", row.name)]])
            else:
                p = sim.pools[-1 - w]
                power.append(_src(attrs[("pool", f"{dc_names[p.datacenter]}/{p.hardware}", "idle")]))
                embodied.append(None)
                lifetime.append(None)
                cols.append([0, entities[("phase", "idle")]])
        dcs = []
        for name in dc_names:
            dc = resolved.datacenters[name]
            s = {k: _src(attrs[("dc", name, k)]) for k in ("pue", "scale", "intensity", "cfe", "net")}
            if dc.net_grid_intensity_g_per_kwh is not None:
                s["mode"] = "net"
            elif dc.cfe == "grid":
                s["mode"] = "cfe-grid"
            elif dc.cfe is not None:
                s["mode"] = "cfe"
            else:
                s["mode"] = "gross"
            s["use_constant"] = dc.grid.constant and s["intensity"][0] >= 0
            dcs.append(s)
        pools = []
        for k, p in enumerate(sim.pools):
            if p.chips is None:
                continue
            name = f"{dc_names[p.datacenter]}/{p.hardware}"
            pools.append((float(run.pool_idle_chip_s[k] + run.pool_off_chip_s[k]),
                          _src(attrs[("pool", name, "embodied")]), _src(attrs[("pool", name, "lifetime")]),
                          [0, entities[("phase", "idle")]]))
        return cls(cs, ws, wg, wn, np.asarray(group_dc), cols, power, embodied, lifetime, dcs, pools, layout.n_out)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Outputs (len(x) x n_out) for input values ``x`` (samples x sampled inputs)."""
        from .scenario import SECONDS_PER_YEAR
        n = len(x)
        out = np.zeros((n, self.n_out))
        nm = len(METRICS)

        def val(src):
            j, v = src
            return x[:, j] if j >= 0 else v

        for g in range(len(self.cs)):
            d = self.dc[self.group_dc[g]]
            p = val(self.power[g])
            pue = val(d["pue"])
            scale = val(d["scale"])
            it = self.ws[g] * p
            fac = it * pue
            gunit = self.ws[g] * val(d["intensity"]) if d["use_constant"] else self.wg[g]
            gross = gunit * scale * p * pue / J_PER_KWH
            mode = d["mode"]
            if mode == "gross":
                net = gross
            elif mode == "cfe":
                net = gross * (1.0 - val(d["cfe"]))
            elif mode == "net":
                net = self.ws[g] * val(d["net"]) * scale * p * pue / J_PER_KWH
            else:
                net = self.wn[g] * scale * p * pue / J_PER_KWH
            quantities = [(_IT, it / J_PER_KWH), (_FAC, fac / J_PER_KWH), (_GROSS, gross / 1000),
                          (_NET, net / 1000)]
            if self.embodied[g] is not None:
                emb = val(self.embodied[g])
                if not (np.isscalar(emb) and (emb is None or emb == 0)):
                    quantities.append((_EMB, self.cs[g] * emb / (val(self.lifetime[g]) * SECONDS_PER_YEAR)))
            for e in self.group_cols[g]:
                for metric, q in quantities:
                    out[:, e * nm + metric] += q
        for chip_s, emb_src, life_src, cols in self.pool_chip_s:
            emb = val(emb_src)
            if np.isscalar(emb) and (emb is None or emb == 0):
                continue
            q = chip_s * emb / (val(life_src) * SECONDS_PER_YEAR)
            for e in cols:
                out[:, e * nm + _EMB] += q
        for e in range(self.n_out // nm):
            out[:, e * nm + _TOTAL] = out[:, e * nm + _NET] + out[:, e * nm + _EMB]
        return out


def _src(attr) -> tuple[int, Any]:
    value, j = attr
    return (j, value if value is not None else 0.0) if j >= 0 else (-1, value if value is not None else 0.0)


def _with_unit_idle(resolved):
    """Every pool at 1 W idle per chip: idle power does not change the schedule, and the engine logs
    idle intervals only for pools that draw power; the re-weighting applies the real idle power."""
    dcs = {}
    for name, dc in resolved.datacenters.items():
        pools = {k: dataclasses.replace(p, idle_w_per_chip=1.0) for k, p in dc.pools.items()}
        dcs[name] = dataclasses.replace(dc, pools=MappingProxyType(pools))
    return dataclasses.replace(resolved, datacenters=MappingProxyType(dcs))


def build_basis(resolved, m: _Mapping, layout: Layout) -> Basis:
    """One engine run of ``resolved`` and its re-weighting basis."""
    from .simulation import simulate
    sim = simulate(_with_unit_idle(resolved))
    return Basis.build(resolved, sim, m, layout)


# ---------------------------------------------------------------------------
# Work: what a worker needs, and one chunk of it
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class _Context:
    """Everything a worker needs (pickled once per worker)."""

    u: unc.UncertainScenario
    x: np.ndarray                  # input values, one row per evaluation
    seeds: np.ndarray | None       # per-evaluation scenario seeds (vary_seed), else None
    schedule: tuple[int, ...]      # columns of x that change the schedule
    mapping: _Mapping
    layout: Layout
    fingerprint: str
    direct: bool = False           # run the whole pipeline per key (see Plan)

    def keys(self, idx: np.ndarray) -> list[tuple]:
        """The schedule key of each evaluation in ``idx``: its schedule-changing values (and seed)."""
        idx = np.asarray(idx, dtype=np.int64)
        inputs = self.u.sampled
        cols = [[inputs[j].value(v) for v in self.x[idx, j].tolist()] for j in self.schedule]
        if self.seeds is not None:
            cols.append(self.seeds[idx].tolist())
        if not cols:
            return [()] * len(idx)
        return list(zip(*cols))

    def document(self, key: tuple) -> dict:
        doc = copy.deepcopy(self.u.nominal_document)
        for j, v in zip(self.schedule, key):
            unc.set_at(doc, self.u.sampled[j].loc, v)
        if self.seeds is not None:
            doc.setdefault("scenario", {})["seed"] = key[-1]
        return doc


_CACHE: dict = {}      # per process: (fingerprint, key) -> Basis (the last few)


def _basis_for(ctx: _Context, key: tuple) -> Basis:
    from .scenario import resolve
    ck = (ctx.fingerprint, key)
    b = _CACHE.get(ck)
    if b is None:
        b = build_basis(resolve(ctx.document(key), ctx.u.source), ctx.mapping, ctx.layout)
        if len(_CACHE) >= 8:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[ck] = b
    return b


def _run_chunk(ctx: _Context, chunk: list) -> tuple:
    """``chunk`` = [(key, sample indices)] -> ("ok", [(indices, outputs)]) or ("error", problems)."""
    from .scenario import resolve
    from .simulation import run as run_resolved
    out = []
    for key, idx in chunk:
        try:
            if ctx.direct:
                values = outputs_of(run_resolved(resolve(ctx.document(key), ctx.u.source)), ctx.layout)
                out.append((idx, np.tile(values, (len(idx), 1))))
                continue
            basis = _basis_for(ctx, key)
        except ScenarioError as err:
            i = int(idx[0])
            what = ", ".join(f"{ctx.u.sampled[j].path} = {ctx.u.sampled[j].value(ctx.x[i, j])!r}"
                             for j in ctx.schedule)
            return ("error", [dataclasses.replace(p, rule=f"{p.rule} [in sample {i}: {what}]")
                              for p in err.problems])
        out.append((idx, basis.evaluate(ctx.x[idx])))
    return ("ok", out)


_WORKER_CTX: _Context | None = None


def _init_worker(ctx: _Context) -> None:
    global _WORKER_CTX
    _WORKER_CTX = ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C and stops the pool
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: end this worker when the parent dies (e.g. killed with SIGKILL), so none lingers."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _run_chunk_in_worker(chunk):
    return _run_chunk(_WORKER_CTX, chunk)


def _run_chunk_dask(ctx: _Context, chunk):
    return _run_chunk(ctx, chunk)


# ---------------------------------------------------------------------------
# Progress and checkpoints
# ---------------------------------------------------------------------------


class _Progress:
    """A one-line progress bar with ETA on a terminal (stderr); silent otherwise."""

    def __init__(self, total: int, done: int = 0, enabled: bool | None = None, stream=None, unit: str = "samples"):
        self.stream = stream or sys.stderr
        self.unit = unit
        self.enabled = (hasattr(self.stream, "isatty") and self.stream.isatty()) if enabled is None else enabled
        self.total, self.start_done, self.done = total, done, done
        self.t0 = self.last = time.monotonic()
        self.shown = False

    def update(self, k: int) -> None:
        self.done += k
        now = time.monotonic()
        if self.enabled and (now - self.last > 0.1 or self.done >= self.total):
            self.last = now
            frac = self.done / self.total if self.total else 1.0
            rate = (self.done - self.start_done) / max(now - self.t0, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            bar = "#" * int(frac * 30)
            self.stream.write(f"\rmc [{bar:<30}] {frac:4.0%} {self.done:,}/{self.total:,} {self.unit}, "
                              f"{now - self.t0:.0f} s, ETA {_duration(eta)}   ")
            self.stream.flush()
            self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _duration(s: float) -> str:
    if not math.isfinite(s):
        return "?"
    return f"{s:.0f} s" if s < 120 else f"{s / 60:.0f} min" if s < 7200 else f"{s / 3600:.1f} h"


class _Checkpoint:
    """Done flags and outputs per evaluation, written atomically (temporary file, then rename)."""

    def __init__(self, path: str | os.PathLike | None, fingerprint: str, n: int, n_out: int, every: float):
        self.path = Path(path) if path is not None else None
        self.fingerprint, self.every = fingerprint, every
        self.done = np.zeros(n, dtype=bool)
        self.values = np.zeros((n, n_out))
        self.last_save = time.monotonic()
        self.dirty = False

    def load(self) -> bool:
        """Continue from the file if it is there; False when there is nothing to resume."""
        if self.path is None or not self.path.exists():
            return False
        try:
            with np.load(self.path, allow_pickle=False) as z:
                fp = str(z["fingerprint"])
                done, values = z["done"], z["values"]
        except (OSError, KeyError, ValueError) as err:
            raise ScenarioError([Problem("--checkpoint", f"cannot read checkpoint: {err}", str(self.path),
                                         fix="delete it to start over")]) from None
        if fp != self.fingerprint or done.shape != self.done.shape or values.shape != self.values.shape:
            raise ScenarioError([Problem("--checkpoint", "the checkpoint is of another study (another file, "
                                         "sample count, method, seed or version)", str(self.path),
                                         fix="delete it to start over, or pass another --checkpoint")])
        self.done, self.values = done.copy(), values.copy()
        return True

    def record(self, idx: np.ndarray, values: np.ndarray) -> None:
        self.values[idx] = values
        self.done[idx] = True
        self.dirty = True
        if self.path is not None and time.monotonic() - self.last_save >= self.every:
            self.save()

    def save(self) -> None:
        if self.path is None or not self.dirty:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        with open(tmp, "wb") as f:
            np.savez(f, fingerprint=np.array(self.fingerprint), done=self.done, values=self.values)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self.last_save = time.monotonic()
        self.dirty = False

    def remove(self) -> None:
        if self.path is not None:
            for p in (self.path, self.path.with_name(self.path.name + ".tmp")):
                try:
                    p.unlink()
                except FileNotFoundError:
                    pass


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a study: what was done is in the checkpoint."""


# ---------------------------------------------------------------------------
# Execution backends
# ---------------------------------------------------------------------------


def _chunks(ctx: _Context, todo: np.ndarray, workers: int) -> list[list]:
    """Group the evaluations still to do by schedule key (one engine run each) and cut into chunks."""
    if not ctx.schedule and ctx.seeds is None:
        items = [((), np.asarray(todo, dtype=np.int64))]       # one engine run serves every sample
    else:
        groups: dict[tuple, list[int]] = {}
        for i, k in zip(todo.tolist(), ctx.keys(todo)):
            groups.setdefault(k, []).append(i)
        items = [(k, np.asarray(v, dtype=np.int64)) for k, v in groups.items()]
    if len(items) == 1:
        key, idx = items[0]
        return [[(key, idx[a:a + FAST_CHUNK])] for a in range(0, len(idx), FAST_CHUNK)]
    per = max(1, min(16, len(items) // (8 * max(workers, 1))))
    return [items[a:a + per] for a in range(0, len(items), per)]


def _execute(ctx: _Context, chunks: list, ckpt: _Checkpoint, progress: _Progress, *, workers: int,
             scheduler: str | None, dask: str | None) -> str:
    """Run every chunk, recording results as they come; returns the backend used."""
    def take(result):
        status, payload = result
        if status == "error":
            raise ScenarioError(payload, ctx.u.source)
        for idx, values in payload:
            ckpt.record(idx, values)
            progress.update(len(idx))

    n_runs = len({key for chunk in chunks for key, _ in chunk})   # engine runs still to do
    if (scheduler or dask) and n_runs > 1:
        _execute_dask(ctx, chunks, take, workers=workers, scheduler=scheduler, local=dask == "local")
        return "dask" if scheduler else "dask-local"
    if workers <= 1 or len(chunks) <= 1 or n_runs <= 1:
        for chunk in chunks:
            take(_run_chunk(ctx, chunk))
        return "serial"
    import multiprocessing as mp
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    pool = mp.get_context(method).Pool(min(workers, len(chunks)), initializer=_init_worker, initargs=(ctx,))
    try:
        for result in pool.imap_unordered(_run_chunk_in_worker, chunks):
            take(result)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return "processes"


def _execute_dask(ctx, chunks, take, *, workers: int, scheduler: str | None, local: bool) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ScenarioError([Problem("--scheduler" if scheduler else "--dask", "needs Dask's distributed scheduler",
                                     has_value=False, fix='pip install "carbonsim[dask]"')]) from None
    import logging
    cluster = None
    if local:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise ScenarioError([Problem("--scheduler", f"cannot reach the Dask scheduler: {err}", scheduler,
                                         fix="start one with `dask scheduler` and `dask worker ADDRESS`, or use "
                                             "--dask local")]) from None
    futures = []
    try:
        ctx_future = client.scatter(ctx, broadcast=True)
        futures = [client.submit(_run_chunk_dask, ctx_future, c, pure=False) for c in chunks]
        for fut in as_completed(futures):
            take(fut.result())
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------
# Sensitivity
# ---------------------------------------------------------------------------


def sobol_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, *, seed: int = 0,
                  n_resamples: int = 1000, confidence: float = 0.95) -> dict:
    """First-order and total Sobol' indices (scipy.stats.sobol_indices, Saltelli 2010 / Jansen
    estimators) with percentile bootstrap intervals drawn from ``child_seed(seed, 2)``.

    ``f_a``, ``f_b``: outputs at the n rows of A and B; ``f_ab``: (d, n), outputs
    where column i of A is taken from B.  (scipy's own ``bootstrap()`` draws from
    the global NumPy state; this one is seeded, and vectorised.)
    """
    from scipy.stats import sobol_indices as scipy_sobol

    f_a, f_b, f_ab = (np.asarray(a, dtype=float) for a in (f_a, f_b, f_ab))
    d, n = f_ab.shape
    res = scipy_sobol(func={"f_A": f_a[None, :], "f_B": f_b[None, :], "f_AB": f_ab[:, None, :]}, n=n)
    s1 = np.atleast_1d(np.asarray(res.first_order, dtype=float)).reshape(d)
    st = np.atleast_1d(np.asarray(res.total_order, dtype=float)).reshape(d)
    mean = np.mean([f_a, f_b])
    a, b, ab = f_a - mean, f_b - mean, f_ab - mean
    # Each estimator is a ratio of means of per-row terms, so a resample is a vector of row counts
    # w and its estimates follow from w @ terms: no (resamples x n x d) gathers.
    terms = np.column_stack([(b * (ab - a)).T, ((a - ab) ** 2).T, a, b, a * a, b * b])   # (n, 2d + 4)
    rng = np.random.default_rng(unc.child_seed(seed, 2))
    boot_s1, boot_st = np.empty((n_resamples, d)), np.empty((n_resamples, d))
    step = max(1, min(n_resamples, int(2e6 // n)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for r0 in range(0, n_resamples, step):
            r = min(step, n_resamples - r0)
            idx = rng.integers(0, n, size=(r, n)) + (np.arange(r) * n)[:, None]
            counts = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(np.float64)
            m = counts @ terms / n
            var = (m[:, -2] + m[:, -1]) / 2 - ((m[:, -4] + m[:, -3]) / 2) ** 2
            boot_s1[r0:r0 + r] = m[:, :d] / var[:, None]
            boot_st[r0:r0 + r] = 0.5 * m[:, d:2 * d] / var[:, None]
    boot_s1[~np.isfinite(boot_s1)] = 0.0
    boot_st[~np.isfinite(boot_st)] = 0.0
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    return {"S1": s1, "ST": st, "S1_interval": np.percentile(boot_s1, q, axis=0).T,
            "ST_interval": np.percentile(boot_st, q, axis=0).T, "n": n, "confidence_level": confidence,
            "n_resamples": n_resamples}


# ---------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class UncertaintyResult:
    """What a Monte Carlo study computed.

    ``values`` holds one row per sample and one column per output
    (:class:`Layout`); :meth:`samples` picks one column, :meth:`stats`
    summarises it, :meth:`to_dict` is the ``"uncertainty"`` section of
    ``carbonsim mc --format json``.
    """

    scenario: unc.UncertainScenario
    nominal: Any                     # carbonsim.results.Result of the nominal case
    layout: Layout
    values: np.ndarray               # (samples, outputs)
    inputs: np.ndarray               # (samples, sampled inputs): the drawn values
    effects: tuple[str, ...]         # per sampled input: re-weighted or re-run
    method: str
    seed: int
    percentiles: tuple[float, ...]
    engine_runs: int
    backend: str
    seconds: float
    vary_seed: bool = False
    sensitivity: dict | None = None
    tornado: list | None = None
    warnings: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.values)

    def samples(self, metric: str = "total_co2e_kg", phase: str | None = None, workload: str | None = None):
        entity = ("phase", phase) if phase else ("workload", workload) if workload else ("totals", None)
        return self.values[:, self.layout.column(entity, metric)]

    def stats(self, metric: str = "total_co2e_kg", phase: str | None = None, workload: str | None = None) -> dict:
        return _stats(self.samples(metric, phase, workload), self.percentiles)

    def interval(self, metric: str = "total_co2e_kg") -> tuple[float, float, float]:
        """(median, low, high) with low/high the outermost chosen percentiles."""
        v = self.samples(metric)
        lo, hi = min(self.percentiles), max(self.percentiles)
        return float(np.median(v)), float(np.percentile(v, lo)), float(np.percentile(v, hi))

    def to_dict(self) -> dict:
        m = self.layout
        out = {
            "method": self.method, "samples": self.n, "seed": self.seed, "percentiles": list(self.percentiles),
            "scenario_seed": "per sample (SeedSequence.spawn per block)" if self.vary_seed else "fixed",
            "nominal": "every uncertain input at its median (inverse CDF at 1/2)",
            "engine_runs": self.engine_runs, "backend": self.backend, "seconds": self.seconds,
            "inputs": [{**inp.to_dict(), "effect": eff} for inp, eff in zip(self.scenario.sampled, self.effects)]
                      + [inp.to_dict() for inp in self.scenario.inputs if inp.effect == unc.FIXED],
            "totals": {k: self.stats(k) for k in METRICS},
            "phases": {p: {k: self.stats(k, phase=p) for k in METRICS} for p in m.phases},
            "workloads": {w: {k: self.stats(k, workload=w) for k in METRICS} for w in m.workloads},
            "warnings": list(self.warnings),
        }
        if self.scenario.correlation is not None:
            out["correlation"] = {"inputs": [i.path for i in self.scenario.sampled],
                                  "matrix": self.scenario.correlation.tolist(), "copula": "gaussian"}
        if self.sensitivity is not None:
            s = self.sensitivity
            out["sensitivity"] = {
                "output": "total_co2e_kg", "method": "Sobol' indices (Saltelli 2010 first order, Jansen total), "
                                                     "percentile bootstrap",
                "n": s["n"], "evaluations": s["n"] * (len(self.scenario.sampled) + 2),
                "confidence_level": s["confidence_level"], "n_resamples": s["n_resamples"],
                "inputs": [{"path": self.scenario.sampled[j].path, "S1": float(s["S1"][j]),
                            "S1_interval": [float(v) for v in s["S1_interval"][j]], "ST": float(s["ST"][j]),
                            "ST_interval": [float(v) for v in s["ST_interval"][j]]} for j in self._ranking()],
            }
        if self.tornado is not None:
            out["tornado"] = {"output": "total_co2e_kg", "percentiles": [min(self.percentiles), max(self.percentiles)],
                              "nominal_kg": self.tornado[0]["nominal"],
                              "inputs": [{k: v for k, v in t.items() if k != "nominal"}
                                         for t in sorted(self.tornado, key=lambda t: -t["swing"])]}
        return out

    def _ranking(self) -> list[int]:
        if self.sensitivity is None:
            return list(range(len(self.scenario.sampled)))
        st = self.sensitivity["ST"]
        return sorted(range(len(st)), key=lambda j: (-st[j], j))

    def headline(self) -> str:
        """``total CO2e: 552 t, 90% interval 480-640 t`` (and what drives it, with sensitivity)."""
        med, lo, hi = self.interval()
        width = max(self.percentiles) - min(self.percentiles)
        s = self.stats()
        text = (f"total CO2e: {_t(med)} t, {width:g}% interval {_t(lo)}-{_t(hi)} t "
                f"(mean {_t(s['mean'])} t, std {_t(s['std'])} t, standard error of the mean {_t(s['sem'])} t)")
        if self.sensitivity is not None and len(self.scenario.sampled):
            j = self._ranking()[0]
            text += (f"\ndriven mostly by {self.scenario.sampled[j].path} "
                     f"(total-order Sobol' index {self.sensitivity['ST'][j]:.2f})")
        return text

    def format_table(self) -> str:
        u = self.scenario
        lo, hi = min(self.percentiles), max(self.percentiles)
        reweighted = sum(e == unc.REWEIGHT for e in self.effects)
        out = [f"Monte Carlo of {self.nominal.scenario.name}: {self.n:,} samples ({_METHOD_NAMES[self.method]}, "
               f"seed {self.seed}), {len(u.sampled)} uncertain inputs ({reweighted} re-weighted, "
               f"{len(u.sampled) - reweighted} re-run); {self.engine_runs:,} engine run(s), {self.seconds:.1f} s",
               self.headline(), ""]
        pcols = [f"p{p:g}" for p in self.percentiles]
        head = ["output", "unit", "mean", "median", *pcols, "std", "s.e."]
        rows = []

        def add(label, unit, metric, scale, **where):
            s = self.stats(metric, **where)
            rows.append([label, unit] + [_fmt(s[k] * scale) for k in ("mean", "median")]
                        + [_fmt(s["percentiles"][_pkey(p)] * scale) for p in self.percentiles]
                        + [_fmt(s["std"] * scale), _fmt(s["sem"] * scale)])

        add("total CO2e (net + embodied)", "t", "total_co2e_kg", 1e-3)
        add("  net operational CO2e", "t", "net_co2e_kg", 1e-3)
        add("  gross operational CO2e", "t", "gross_co2e_kg", 1e-3)
        add("  embodied CO2e", "t", "embodied_co2e_kg", 1e-3)
        add("facility energy", "MWh", "energy_kwh", 1e-3)
        for p in self.layout.phases:
            add(f"phase {p}: CO2e", "t", "total_co2e_kg", 1e-3, phase=p)
        if len(self.layout.workloads) > 1:
            for w in self.layout.workloads:
                add(f"{w}: CO2e", "t", "total_co2e_kg", 1e-3, workload=w)
        out += _columns(head, rows, right=range(2, len(head)))
        out += ["", "uncertain inputs (nominal = median; re-weighted: no engine re-run)"]
        irows = [[inp.path, inp.dist.describe(), _show(inp.nominal), eff]
                 for inp, eff in zip(u.sampled, self.effects)]
        out += _columns(["input", "distribution", "nominal", "effect"], irows, right={2})
        if self.sensitivity is not None:
            s = self.sensitivity
            c = f"{s['confidence_level']:.0%}"
            tor = {t["path"]: t for t in (self.tornado or [])}
            out += ["", f"what drives the variance of total CO2e: Sobol' indices (n = {s['n']:,}, {c} bootstrap "
                        f"intervals); tornado: one input at its p{lo:g} / p{hi:g}, the others at their medians",
                    f"(the nominal case, every input at its median: "
                    f"{_t(self.tornado[0]['nominal']) if self.tornado else '-'} t)"]
            srows = []
            for rank, j in enumerate(self._ranking(), start=1):
                path = u.sampled[j].path
                t = tor.get(path)
                srows.append([str(rank), path, f"{s['S1'][j]:.3f}",
                              f"[{s['S1_interval'][j][0]:.3f}, {s['S1_interval'][j][1]:.3f}]", f"{s['ST'][j]:.3f}",
                              f"[{s['ST_interval'][j][0]:.3f}, {s['ST_interval'][j][1]:.3f}]",
                              _t(t["low"]) if t else "-", _t(t["high"]) if t else "-",
                              _t(t["swing"]) if t else "-"])
            out += _columns(["rank", "input", "S1", f"S1 {c}", "ST", f"ST {c}", "low t", "high t", "swing t"],
                            srows, right={0, 2, 3, 4, 5, 6, 7, 8})
            if u.correlation is not None:
                out.append("note: inputs are correlated; Sobol' indices assume independent inputs and here "
                           "describe the independent normal scores of the copula (Cholesky order)")
        out += [f"warning: {w}" for w in self.warnings]
        return "\n".join(out)

    def plot(self, directory: str | os.PathLike) -> list[Path]:
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
        v = np.sort(self.samples()) / 1000
        fig, ax = plt.subplots(figsize=(7, 4.2))
        ax.hist(v, bins=min(60, max(10, int(np.sqrt(len(v))))), color="#8fb3d9", edgecolor="white")
        ax.set_xlabel("total CO2e (t, net operational + embodied)")
        ax.set_ylabel("samples")
        ax2 = ax.twinx()
        ax2.plot(v, np.arange(1, len(v) + 1) / len(v), color="#1f4e79")
        ax2.set_ylabel("cumulative share")
        ax2.set_ylim(0, 1)
        for p in self.percentiles:
            ax.axvline(np.percentile(v, p), color="grey", ls="--", lw=0.8)
        med, lo, hi = self.interval()
        ax.set_title(f"{self.nominal.scenario.name}: {_t(med)} t, {max(self.percentiles) - min(self.percentiles):g}% "
                     f"interval {_t(lo)}-{_t(hi)} t ({self.n:,} samples)", fontsize=10)
        fig.tight_layout()
        path = d / "total_co2e.png"
        fig.savefig(path, dpi=120)
        plt.close(fig)
        written.append(path)
        if self.tornado:
            tor = sorted(self.tornado, key=lambda t: t["swing"])
            nom = tor[0]["nominal"] / 1000
            fig, ax = plt.subplots(figsize=(8, 0.45 * len(tor) + 1.5))
            for i, t in enumerate(tor):
                ax.barh(i, t["low"] / 1000 - nom, left=nom, color="#8fb3d9")
                ax.barh(i, t["high"] / 1000 - nom, left=nom, color="#1f4e79")
            ax.set_yticks(range(len(tor)), [t["path"] for t in tor], fontsize=8)
            ax.axvline(nom, color="black", lw=0.8)
            ax.set_xlabel(f"total CO2e (t): each input at p{min(self.percentiles):g} (light) / "
                          f"p{max(self.percentiles):g} (dark), others at their medians;\n"
                          "a choice at its lowest / highest outcome")
            fig.tight_layout()
            path = d / "tornado.png"
            fig.savefig(path, dpi=120)
            plt.close(fig)
            written.append(path)
        return written


_METHOD_NAMES = {"sobol": "scrambled Sobol'", "lhs": "Latin hypercube", "random": "plain random"}


def _pkey(p: float) -> str:
    return f"{p:g}"


def _stats(v: np.ndarray, percentiles) -> dict:
    v = np.asarray(v, dtype=float)
    n = len(v)
    std = float(np.std(v, ddof=1)) if n > 1 else 0.0
    if std <= 1e-12 * abs(float(np.mean(v))):   # a constant output, up to rounding
        std = 0.0
    return {"mean": float(np.mean(v)), "std": std, "sem": std / math.sqrt(n) if n else 0.0,
            "median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v)),
            "percentiles": {_pkey(p): float(np.percentile(v, p)) for p in percentiles}}


def _t(kg: float) -> str:
    t = kg / 1000
    return f"{t:,.0f}" if abs(t) >= 100 else f"{t:,.1f}" if abs(t) >= 10 else f"{t:,.3g}"


def _fmt(x: float) -> str:
    return f"{x:,.1f}" if abs(x) >= 100 else f"{x:,.3g}"


def _show(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, dt.date):
        return v.isoformat()
    return str(v)


def _columns(head, rows, right=()) -> list[str]:
    """A plain text table; columns in ``right`` are right-aligned (numbers)."""
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]

    def line(r):
        return "  ".join(c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(r)).rstrip()

    return [line(head), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _load(scenario, source: str | None):
    """A path, a document, or a Scenario -> (document, source)."""
    from .scenario import Scenario, read_toml
    if isinstance(scenario, (str, os.PathLike)):
        return read_toml(scenario), str(scenario)
    if isinstance(scenario, Scenario):
        return scenario.to_dict(), scenario.source
    if isinstance(scenario, Mapping):
        return dict(scenario), source
    raise TypeError(f"scenario must be a path, a document (dict) or a Scenario, got {type(scenario).__name__}")


def _canonical(doc) -> str:
    return json.dumps(doc, sort_keys=True, default=lambda o: o.isoformat() if isinstance(o, dt.date) else str(o))


@dataclasses.dataclass
class Plan:
    """How a study evaluates its samples (see :func:`plan`)."""

    resolved: Any                  # the nominal case, resolved
    nominal: Any                   # its Result
    mapping: _Mapping
    layout: Layout
    reweighted: frozenset          # indices of sampled inputs re-weighted without an engine run
    direct: bool                   # True: every sample runs the whole pipeline (no re-weighting at all)
    basis: Basis | None            # the nominal engine run's basis
    warnings: list


def outputs_of(result, layout: Layout) -> np.ndarray:
    """A Result's outputs in the layout's order (totals, phases, workloads)."""
    from .results import Totals
    out = np.zeros(layout.n_out)
    phases = result.by_phase()
    entities = [result.totals] + [phases.get(p, Totals()) for p in layout.phases]
    by_name = {w.name: w for w in result.workloads}
    entities += [by_name[w] for w in layout.workloads]
    for e, t in enumerate(entities):
        for k, metric in enumerate(METRICS):
            out[e * len(METRICS) + k] = getattr(t, metric)
    return out


def plan(u: unc.UncertainScenario, *, vary_seed: bool = False) -> Plan:
    """Resolve and run the nominal case; decide which inputs are re-weighted.

    An input classified as re-weightable stays so only if re-resolving the
    document with that input moved exactly the resolved quantities the
    re-weighting attributes to it (a probe per input, no engine run).  Then the
    re-weighted nominal case must reproduce the nominal run to 1e-9 on every
    output; if it does not (a workload type the re-weighting does not know),
    every sample runs the whole pipeline instead, with a warning.
    """
    from .scenario import resolve
    from .simulation import run as run_resolved

    resolved = resolve(u.nominal_document, u.source)
    layout = Layout.of(resolved)
    warnings = []
    reweighted = {j for j, inp in enumerate(u.sampled) if inp.effect == unc.REWEIGHT}
    if vary_seed and _is_stochastic(resolved):
        reweighted = set()   # every sample has its own jobs: each needs its own engine run
    if reweighted:
        m = _Mapping.build(u, frozenset(reweighted))
        base = _attributes(resolved, m)
        for j in sorted(reweighted):
            inp = u.sampled[j]
            probe = None
            for q in (0.9, 0.1, 0.99, 0.01):
                v = inp.value(inp.dist.ppf(np.array([q]))[0])
                if v != inp.nominal:
                    probe = v
                    break
            if probe is None:
                continue
            doc = copy.deepcopy(u.nominal_document)
            unc.set_at(doc, inp.loc, probe)
            try:
                moved = _attributes(resolve(doc, u.source), m)
            except ScenarioError:
                reweighted.discard(j)
                continue
            changed = {k for k in base if base[k][0] != moved.get(k, (None,))[0]}
            claimed = {k for k, (_, jj) in base.items() if jj == j}
            if changed != claimed or any(moved[k][0] != probe for k in changed):
                reweighted.discard(j)
                warnings.append(f"{inp.path}: re-run for every sample (its effect could not be mapped for "
                                f"re-weighting)")
    m = _Mapping.build(u, frozenset(reweighted))
    nominal = run_resolved(resolved)
    basis = build_basis(resolved, m, layout)
    x_nominal = np.array([[inp.dist.ppf(np.array([0.5]))[0] for inp in u.sampled]])
    got, expected = basis.evaluate(x_nominal)[0], outputs_of(nominal, layout)
    scale = np.maximum(np.abs(expected), 1e-12 * max(np.max(np.abs(expected)), 1e-300))
    direct = not np.all(np.abs(got - expected) <= 1e-9 * scale)
    if direct:
        warnings.append("re-weighting does not reproduce this scenario's nominal run; every sample runs the "
                        "whole pipeline (slower, same answer)")
        reweighted, basis = set(), None
    return Plan(resolved, nominal, m, layout, frozenset(reweighted), direct, basis, warnings)


def _is_stochastic(resolved) -> bool:
    """Does the scenario draw anything from its seed (so that --vary-seed changes it)?"""
    if getattr(resolved, "services", ()):
        return True     # request arrivals, burstiness
    if any(st.rate_per_s is not None for st in resolved.job_streams):
        return True
    if any(0 < se.early_stopping_fraction < 1 for se in resolved.searches):
        return True
    return any(w.policy.forecast_error > 0 or w.policy.length_known == "distribution" for w in resolved.workloads)


def monte_carlo(scenario, *, samples: int | None = None, method: str | None = None, seed: int | None = None,
                percentiles=None, sensitivity: bool = False, bootstrap: int = 1000, confidence: float = 0.95,
                workers: int = 1, scheduler: str | None = None, dask: str | None = None,
                checkpoint: str | os.PathLike | None = None, resume: bool = False, checkpoint_every: float = 5.0,
                vary_seed: bool = False, progress: bool | None = False, source: str | None = None,
                notes=None) -> UncertaintyResult:
    """Sample a scenario's uncertain inputs and summarise the outputs.

    ``scenario``: a TOML path, a document (dict) or a :class:`carbonsim.Scenario`.
    ``samples`` (default: the file's ``[uncertainty] samples``, else 1000),
    ``method`` (``"sobol"``, ``"lhs"`` or ``"random"``), ``seed`` (default: the
    file's, else the scenario seed) and ``percentiles`` (default 5, 95).
    ``sensitivity=True`` adds Sobol' indices of total CO2e (a Saltelli design of
    n(d + 2) evaluations, n = samples rounded up to a power of 2; statistics then
    come from its n rows of A) and a one-at-a-time tornado.  ``workers``,
    ``scheduler`` (a Dask scheduler address) or ``dask="local"`` (a
    LocalCluster) parallelise the engine re-runs.  ``checkpoint``: a file the
    outputs are saved to every ``checkpoint_every`` seconds; ``resume=True``
    continues from it.  ``vary_seed=True`` gives every sample its own scenario
    seed (Poisson arrivals, job sizes, early stopping and forecast errors then
    vary too), which needs an engine run per sample.
    """
    t_start = time.monotonic()
    document, source = _load(scenario, source)
    u = unc.parse(document, source)
    spec = u.spec
    n = int(samples if samples is not None else spec.samples or DEFAULT_SAMPLES)
    method = method or spec.method or "sobol"
    if method not in unc.METHODS:
        raise ScenarioError([Problem("--method", "unknown sampling method", method, fix=f"one of {', '.join(unc.METHODS)}")])
    if seed is None:
        seed = spec.seed if spec.seed is not None else int((document.get("scenario") or {}).get("seed", 0) or 0)
    percentiles = tuple(float(p) for p in (percentiles or spec.percentiles or DEFAULT_PERCENTILES))
    for p in percentiles:
        if not 0 < p < 100:
            raise ScenarioError([Problem("--percentiles", "must be between 0 and 100 (exclusive)", p)])
    if n < 2:
        raise ScenarioError([Problem("--samples", "must be at least 2", n)])
    if not u.sampled:
        raise ScenarioError([Problem("", "no uncertain inputs: nothing to sample", has_value=False,
                                     fix='give a value as a distribution, e.g. pue = {dist = "uniform", '
                                         'low = 1.08, high = 1.15} (docs/uncertainty.md)')], source)
    pl = plan(u, vary_seed=vary_seed)
    layout, reweighted, warnings = pl.layout, pl.reweighted, pl.warnings
    d = len(u.sampled)

    # -- the design ------------------------------------------------------------
    if sensitivity:
        n = 1 << max(1, math.ceil(math.log2(n)))
        ab = unc.unit_design(n, 2 * d, method, seed)
        a_u, b_u = ab[:, :d], ab[:, d:]
        blocks = [a_u, b_u]
        for i in range(d):
            m_u = a_u.copy()
            m_u[:, i] = b_u[:, i]
            blocks.append(m_u)
        x_main = u.transform(np.vstack(blocks))
        tornado_rows, tornado_index = _tornado_rows(u, percentiles)
        x_all = np.vstack([x_main, tornado_rows])
    else:
        x_main = u.transform(u.design(n, method, seed))
        x_all, tornado_index = x_main, None
    unc.check_draws(u, x_main)
    vary_seed = vary_seed and _is_stochastic(pl.resolved)    # nothing to vary otherwise
    seeds = unc.sample_seeds(len(x_all), seed) if vary_seed else None
    schedule = tuple(j for j in range(d) if j not in reweighted)
    fingerprint = hashlib.sha256(_canonical({
        "document": document, "n": n, "method": method, "seed": seed, "sensitivity": sensitivity,
        "vary_seed": vary_seed, "version": __version__, "reweighted": sorted(reweighted),
        "x": hashlib.sha256(np.ascontiguousarray(x_all).tobytes()).hexdigest()}).encode()).hexdigest()
    ctx = _Context(u, x_all, seeds, schedule, pl.mapping, layout, fingerprint, pl.direct)
    if pl.basis is not None and not schedule and seeds is None:
        _CACHE[(fingerprint, ())] = pl.basis     # the nominal run serves every sample

    # -- run -------------------------------------------------------------------
    ckpt = _Checkpoint(checkpoint, fingerprint, len(x_all), layout.n_out, checkpoint_every)
    if resume:
        resumed = ckpt.load()
        if not resumed and notes is not None:
            notes.append(f"no checkpoint at {checkpoint}: starting from the beginning")
    elif checkpoint is not None and Path(checkpoint).exists() and notes is not None:
        notes.append(f"starting over (the checkpoint at {checkpoint} is replaced; --resume continues it)")
    todo = np.flatnonzero(~ckpt.done)
    chunks = _chunks(ctx, todo, workers) if len(todo) else []
    engine_runs = 1 if not schedule and seeds is None else len(set(ctx.keys(np.arange(len(x_all)))))
    bar = _Progress(len(x_all), int(ckpt.done.sum()), enabled=progress,
                    unit="evaluations" if len(x_all) != n else "samples")
    backend = "checkpoint"
    try:
        if chunks:
            backend = _execute(ctx, chunks, ckpt, bar, workers=workers, scheduler=scheduler, dask=dask)
    except KeyboardInterrupt:
        bar.close()
        ckpt.save()
        done = int(ckpt.done.sum())
        where = f"; saved to {checkpoint} (continue with --resume)" if checkpoint is not None else ""
        raise StudyInterrupted(f"interrupted after {done:,} of {len(x_all):,} evaluations{where}") from None
    except BaseException:
        bar.close()
        ckpt.save()
        raise
    bar.close()
    values = ckpt.values

    # -- summarise -------------------------------------------------------------
    col = layout.column()
    sens = tor = None
    if sensitivity:
        f = values[:, col]
        sens = sobol_indices(f[:n], f[n:2 * n], f[2 * n:(2 + d) * n].reshape(d, n), seed=seed,
                             n_resamples=bootstrap, confidence=confidence)
        tor = _tornado(u, values[(2 + d) * n:, col], tornado_index, percentiles)
        if u.correlation is not None:
            warnings.append("correlated inputs: Sobol' indices assume independent inputs (see docs/uncertainty.md)")
    ckpt.remove()
    effects = tuple(unc.REWEIGHT if j in reweighted else unc.SCHEDULE for j in range(d))
    return UncertaintyResult(
        scenario=u, nominal=pl.nominal, layout=layout, values=values[:n].copy(), inputs=x_main[:n].copy(),
        effects=effects, method=method, seed=seed, percentiles=percentiles, engine_runs=engine_runs,
        backend=backend, seconds=time.monotonic() - t_start, vary_seed=vary_seed, sensitivity=sens, tornado=tor,
        warnings=tuple(warnings))


def _tornado_rows(u: unc.UncertainScenario, percentiles) -> tuple[np.ndarray, list]:
    """Rows for the one-at-a-time analysis: all inputs at their medians, then each input at its
    low/high percentile (every level of a categorical input), the others at their medians.  The
    marginals are used as they are (no copula): one input moves, the others stay."""
    d = len(u.sampled)
    mid = np.array([inp.dist.ppf(np.array([0.5]))[0] for inp in u.sampled])
    rows = [mid.copy()]
    index = []
    lo, hi = min(percentiles) / 100, max(percentiles) / 100
    for j, inp in enumerate(u.sampled):
        if inp.categorical:
            points = [float(k) for k in range(len(inp.dist.levels))]
        else:
            points = [float(inp.dist.ppf(np.array([q]))[0]) for q in (lo, hi)]
        first = len(rows)
        for v in points:
            r = mid.copy()
            r[j] = v
            rows.append(r)
        index.append((j, first, len(points)))
    return np.array(rows).reshape(-1, d), index


def _tornado(u, f: np.ndarray, index: list, percentiles) -> list[dict]:
    nominal = float(f[0])
    out = []
    for j, first, k in index:
        inp = u.sampled[j]
        vals = f[first:first + k]
        if inp.categorical:
            lo_i, hi_i = int(np.argmin(vals)), int(np.argmax(vals))
            low_v, high_v = inp.dist.levels[lo_i], inp.dist.levels[hi_i]
            low, high = float(vals[lo_i]), float(vals[hi_i])
        else:
            low_v, high_v = inp.value(inp.dist.ppf(np.array([min(percentiles) / 100]))[0]), inp.value(
                inp.dist.ppf(np.array([max(percentiles) / 100]))[0])
            low, high = float(vals[0]), float(vals[1])
        out.append({"path": inp.path, "low_value": _jsonable(low_v), "high_value": _jsonable(high_v),
                    "low": low, "high": high, "swing": abs(high - low), "nominal": nominal})
    return out


def _jsonable(v):
    return v.isoformat() if isinstance(v, dt.date) else v


# ---------------------------------------------------------------------------
# Command line: ``carbonsim mc``
# ---------------------------------------------------------------------------


def add_mc_command(sub) -> None:
    """Register ``carbonsim mc`` on the CLI's subparsers."""
    p = sub.add_parser("mc", help="Monte Carlo over a scenario's uncertain inputs (distributions), with "
                                  "Sobol' sensitivity", description="Sample the uncertain inputs of a scenario "
                       "(values given as {dist = ...}; docs/uncertainty.md) and report mean, median, percentiles "
                       "and standard error of total CO2e and energy, per total, phase and workload.")
    p.add_argument("file", help="scenario TOML file with uncertain inputs")
    p.add_argument("-n", "--samples", type=int, help=f"samples (default: the file's [uncertainty] samples, "
                                                     f"else {DEFAULT_SAMPLES})")
    p.add_argument("--method", choices=unc.METHODS, help="sampling design (default sobol: scrambled Sobol')")
    p.add_argument("--seed", type=int, help="seed of every draw (default: the file's [uncertainty] seed, else "
                                            "scenario.seed)")
    p.add_argument("--percentiles", help="comma-separated percentiles to report (default 5,95)")
    p.add_argument("--sensitivity", action="store_true", help="Sobol' indices (S1, ST with bootstrap intervals) "
                                                               "and a tornado of total CO2e, ranked")
    p.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples for the index intervals")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="local processes for engine re-runs (default: all cores)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--scheduler", metavar="ADDRESS", help="run on a Dask cluster, e.g. tcp://host:8786 "
                                                         '(pip install "carbonsim[dask]")')
    g.add_argument("--dask", choices=["local"], help="run on a local Dask cluster of --workers processes")
    p.add_argument("--checkpoint", help="checkpoint file (default: FILE-STEM.mc-checkpoint.npz in the current "
                                        "directory; removed when the study completes)")
    p.add_argument("--checkpoint-every", type=float, default=5.0, metavar="SECONDS")
    p.add_argument("--resume", action="store_true", help="continue an interrupted study from its checkpoint")
    p.add_argument("--vary-seed", action="store_true", help="a scenario seed per sample: Poisson arrivals, job "
                                                            "sizes and other seeded draws vary too")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")
    p.add_argument("--plot", metavar="DIR", help="write total_co2e.png (histogram, CDF) and tornado.png "
                                                 "(needs matplotlib)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar, even on a terminal")
    p.set_defaults(func=_cmd_mc)


def _cmd_mc(args) -> int:
    percentiles = None
    if args.percentiles:
        try:
            percentiles = [float(x) for x in args.percentiles.split(",") if x.strip()]
        except ValueError:
            raise ScenarioError([Problem("--percentiles", "must be comma-separated numbers", args.percentiles)])
    for flag, value, low in (("--samples", args.samples, 2), ("--workers", args.workers, 1),
                             ("--bootstrap", args.bootstrap, 10)):
        if value is not None and value < low:
            raise ScenarioError([Problem(flag, f"must be at least {low}", value)])
    checkpoint = args.checkpoint or f"{Path(args.file).stem}.mc-checkpoint.npz"
    notes: list[str] = []
    try:
        result = monte_carlo(args.file, samples=args.samples, method=args.method, seed=args.seed,
                             percentiles=percentiles, sensitivity=args.sensitivity, bootstrap=args.bootstrap,
                             workers=args.workers, scheduler=args.scheduler, dask=args.dask, checkpoint=checkpoint,
                             resume=args.resume, checkpoint_every=args.checkpoint_every, vary_seed=args.vary_seed,
                             progress=False if args.no_progress else None, notes=notes)
    except StudyInterrupted as err:
        print(f"carbonsim mc: {err}", file=sys.stderr)
        return 130
    finally:
        for note in notes:
            print(f"carbonsim mc: {note}", file=sys.stderr)
    if args.format == "json":
        text = json.dumps({**result.nominal.to_dict(), "uncertainty": result.to_dict()}, indent=2)
    else:
        text = result.format_table()
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    if args.plot:
        for path in result.plot(args.plot):
            print(f"wrote {path}", file=sys.stderr)
    return 0
