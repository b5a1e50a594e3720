"""The fast path of a Monte Carlo study: one engine run, re-weighted for many samples.

Most uncertain inputs (power, PUE, grid intensity or scale, CFE, embodied carbon,
lifetimes) only scale what the engine has already laid out.  For those, one engine
run records, per group of intervals sharing a workload (or pool) and a datacenter,
the chip-seconds and the chip-seconds weighted by the hourly gross and net
intensity; every sample is then a few vectorised products (:class:`Basis`).
"""
from __future__ import annotations

import dataclasses
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from ..model import uncertain as unc

#: Output quantities per entity (totals, each phase, each workload), in this order.
METRICS = ("it_energy_kwh", "energy_kwh", "gross_co2e_kg", "net_co2e_kg", "embodied_co2e_kg", "total_co2e_kg")
_IT, _FAC, _GROSS, _NET, _EMB, _TOTAL = range(6)
DEFAULT_SAMPLES = 1000
DEFAULT_PERCENTILES = (5.0, 95.0)
#: What a policy saves, per entity (the whole scenario, then each workload with a policy), in this order:
#: the baseline's emissions (the same jobs at submission at home, same sample), the CO2e saved, the share
#: saved (%; NaN when the baseline emits nothing) and the mean delay added to first start and to completion.
SAVINGS_METRICS = ("baseline_gross_co2e_kg", "baseline_net_co2e_kg", "gross_co2e_saved_kg", "net_co2e_saved_kg",
                   "gross_co2e_saved_pct", "net_co2e_saved_pct", "added_delay_hours", "added_completion_delay_hours")
#: Samples re-weighted per chunk of work when one engine run serves many samples.
FAST_CHUNK = 4096
from ..model.units import J_PER_KWH  # noqa: E402

#: Workload kinds whose intervals draw chips x one power figure per chip (re-weighted by that figure);
#: the intervals of other kinds are re-weighted by their recorded energy (PUE, grid, CFE, embodied only).
PER_CHIP_KINDS = ("training", "job_stream", "search")


# ---------------------------------------------------------------------------
# What a study reports: the output layout
# ---------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Layout:
    """The output columns: ``len(METRICS)`` per entity (totals, then phases, then workloads), then,
    when a workload has a policy, ``len(SAVINGS_METRICS)`` per savings entity (the whole scenario,
    then each workload with a policy)."""

    phases: tuple[str, ...]
    workloads: tuple[str, ...]
    policies: tuple[str, ...] | None = None     # workloads with a policy; None: no baseline is run

    @property
    def entities(self) -> list[tuple[str, str | None]]:
        return [("totals", None)] + [("phase", p) for p in self.phases] + [("workload", w) for w in self.workloads]

    @property
    def savings_entities(self) -> list[tuple[str, str | None]]:
        if self.policies is None:
            return []
        return [("totals", None)] + [("workload", w) for w in self.policies]

    @property
    def n_main(self) -> int:
        return len(self.entities) * len(METRICS)

    @property
    def n_out(self) -> int:
        return self.n_main + len(self.savings_entities) * len(SAVINGS_METRICS)

    def column(self, entity: tuple[str, str | None] = ("totals", None), metric: str = "total_co2e_kg") -> int:
        savings = metric in SAVINGS_METRICS
        entities = self.savings_entities if savings else self.entities
        try:
            e = entities.index(entity)
        except ValueError:
            if savings and self.policies is None:
                raise KeyError(f"no {metric}: no workload has a policy, so there is no baseline") from None
            raise KeyError(f"no output {entity[0]} {entity[1]!r}; phases: {', '.join(self.phases)}; "
                           f"workloads: {', '.join(self.workloads)}"
                           + (f"; with a policy: {', '.join(self.policies)}" if savings else "")) from None
        if savings:
            return self.n_main + e * len(SAVINGS_METRICS) + SAVINGS_METRICS.index(metric)
        return e * len(METRICS) + METRICS.index(metric)

    def describe(self, k: int) -> tuple[tuple[str, str | None], str]:
        """The (entity, metric) of column ``k``."""
        if k < self.n_main:
            return self.entities[k // len(METRICS)], METRICS[k % len(METRICS)]
        k -= self.n_main
        return self.savings_entities[k // len(SAVINGS_METRICS)], SAVINGS_METRICS[k % len(SAVINGS_METRICS)]

    @classmethod
    def of(cls, resolved) -> "Layout":
        from ..sim.simulate import workload_rows
        rows = workload_rows(resolved)
        phases = list(dict.fromkeys(r.phase for r in rows))
        if any(dc.pools for dc in resolved.datacenters.values()):
            phases.append("idle")
        with_policy = tuple(r.name for r in rows if not r.source.policy.is_baseline)
        return cls(tuple(phases), tuple(r.name for r in rows), with_policy or None)


# ---------------------------------------------------------------------------
# Which resolved quantity each re-weighted input drives
# ---------------------------------------------------------------------------


def _norm(name: str) -> str:
    from ..model.names import name_key
    return name_key(name)


@dataclasses.dataclass(frozen=True)
class InputMapping:
    """Where re-weighted inputs act, by names that survive re-resolving a document."""

    dc: dict                    # (datacenter, key) -> input index
    pools: dict                 # (datacenter, normalized hardware) -> input index
    pool_idle_given: frozenset  # (datacenter, normalized hardware) pools that set idle_w_per_chip
    rows: dict                  # workload name -> input index (its power_w_per_chip)
    hardware: dict              # normalized hardware name -> {attribute: input index}

    @classmethod
    def build(cls, u: unc.UncertainScenario, reweighted: frozenset) -> "InputMapping":
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
    from ..model.hardware import CATALOG
    table: dict[str, dict] = {_norm(n): {} for n in CATALOG}
    for name, entry in (doc.get("hardware") or {}).items():
        entry = entry if isinstance(entry, Mapping) else {}
        base = entry.get("base") if isinstance(entry.get("base"), str) else name
        attrs = dict(table.get(_norm(base), {}))
        for attr in unc.HW_REWEIGHT | {"tdp_w"}:
            if attr in entry:
                if (name, attr) in params:
                    attrs[attr] = params[(name, attr)]
                else:
                    attrs.pop(attr, None)
        table[_norm(name)] = attrs
    return table


def mapped_attributes(resolved, m: InputMapping) -> dict:
    """``{(kind, name, attribute): (resolved value, input index or -1)}`` for every quantity the
    re-weighting uses: per workload row its power and its hardware's embodied carbon and lifetime, per
    pool its idle power and embodied figures, per datacenter PUE, grid scale, constant intensity,
    CFE share and net intensity."""
    from ..model.hardware import find
    from ..sim.simulate import workload_rows
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


#: Hardware values the re-weighting may move (through the attributes above); everything else of an
#: entry is part of the schedule.
_HW_WEIGHTS = ("system_power_w", "idle_w", "embodied_kgco2e", "lifetime_years", "sources", "power_basis")


def schedule_signature(resolved) -> dict:
    """Everything of a resolved scenario that the re-weighting does *not* scale, per entity.

    Two documents whose signatures are equal lay out the same intervals (the same
    jobs, chips, datacenters, grids, services and serving models); they may differ
    only in the attributes :func:`mapped_attributes` lists.  :func:`plan` compares the
    signatures of the nominal case and of a probe to prove that an input moves
    nothing but what it is re-weighted by.
    """
    from ..sim.simulate import workload_rows

    def hw(chip):
        return dataclasses.replace(chip, **{k: None for k in _HW_WEIGHTS if k != "lifetime_years"},
                                   lifetime_years=1.0)

    def blank(w):
        fields = {f.name for f in dataclasses.fields(w)}
        changes = {"hardware": hw(w.hardware)}
        if "power_w_per_chip" in fields and w.kind in PER_CHIP_KINDS:
            changes.update(power_w_per_chip=0.0, power_source="")
        if getattr(w, "final_training", None) is not None:
            changes["final_training"] = blank(w.final_training)
        return dataclasses.replace(w, **changes)

    out = {("scenario",): (resolved.start, resolved.end, resolved.seed)}
    for r in workload_rows(resolved):
        out[("row", r.name)] = repr(blank(r.source))
    for name, dc in resolved.datacenters.items():
        g = dc.grid
        grid = (None if g.constant else g.name, g.constant, g.start, None if g.constant else g.values.tobytes(),
                None if g.cfe is None else g.cfe.tobytes())
        pools = tuple((p.hardware, p.chips, p.power_down_after_s) for p in dc.pools.values())
        out[("dc", name)] = (grid, dc.cfe == "grid", dc.cfe is None, dc.net_grid_intensity_g_per_kwh is None,
                             dc.grid_year_shift, dc.grid_overflow, pools)
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
    n_out: int                  # columns evaluated: the layout's entities, then the baseline's (with policies)
    engine_runs: int = 1
    layout: Layout | None = None
    delays: np.ndarray | None = None   # per savings entity: added delay to first start and to completion (h)

    @classmethod
    def build(cls, resolved, sim, m: InputMapping, layout: Layout) -> "Basis":
        """From one simulation: its policy run's groups feed the layout's entities; with policies, the
        baseline run's groups feed baseline entities after them, from which the savings follow."""
        from ..sim.simulate import intensity_table

        attrs = mapped_attributes(resolved, m)
        dc_names = list(resolved.datacenters)
        unit_dcs = {n: dataclasses.replace(dc, grid_scale=1.0, cfe="grid" if dc.cfe == "grid" else None,
                                           net_grid_intensity_g_per_kwh=None)
                    for n, dc in resolved.datacenters.items()}
        unit = dataclasses.replace(resolved, datacenters=MappingProxyType(unit_dcs))
        table = intensity_table(unit, sim.t0, sim.table.n_hours)
        entities = {e: i for i, e in enumerate(layout.entities)}
        n_main = len(layout.entities)
        runs = [(sim.accounted["policy"].run, lambda row: [0, entities[("phase", row.phase)],
                                                            entities[("workload", row.name)]],
                 lambda: [0, entities[("phase", "idle")]])]
        savings = None
        if layout.policies is not None and "baseline" in sim.accounted:
            base = {w: n_main + 1 + k for k, w in enumerate(layout.policies)}     # baseline entities
            runs.append((sim.accounted["baseline"].run,
                         lambda row: [n_main] + ([base[row.name]] if row.name in base else []),
                         lambda: [n_main]))
            savings = _delays(sim, layout)
        parts = [_groups(run, sim, table, attrs, dc_names, row_cols, idle_cols) for run, row_cols, idle_cols in runs]
        cat = [np.concatenate([p[k] for p in parts]) for k in range(5)]
        lists = [sum((p[k] for p in parts), []) for k in range(5, 10)]
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
        n_ext = (n_main + (0 if savings is None else 1 + len(layout.policies))) * len(METRICS)
        return cls(*cat, lists[0], lists[1], lists[2], lists[3], dcs, lists[4], n_ext, layout=layout,
                   delays=savings)

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """Outputs (len(x) x n_out) for input values ``x`` (samples x sampled inputs)."""
        from ..model.units import SECONDS_PER_YEAR
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
        if self.layout is None or self.layout.policies is None:
            return out
        m = self.layout
        main = out[:, :m.n_main]
        columns = [main]
        ents = [0] + [1 + len(m.phases) + m.workloads.index(w) for w in m.policies]   # totals, then workloads
        for k, e in enumerate(ents):
            b = m.n_main + k * nm                          # the baseline entity's block
            columns.append(savings_columns(out[:, b + _GROSS], out[:, b + _NET], main[:, e * nm + _GROSS],
                                           main[:, e * nm + _NET], self.delays[k]))
        return np.hstack(columns)


def savings_columns(base_gross, base_net, gross, net, delays) -> np.ndarray:
    """The SAVINGS_METRICS of one entity for every sample (columns), from its baseline and policy
    emissions (arrays or numbers) and its added delays (h; fixed by the schedule)."""
    base_gross, base_net = np.atleast_1d(np.asarray(base_gross, float)), np.atleast_1d(np.asarray(base_net, float))
    gross, net = np.atleast_1d(np.asarray(gross, float)), np.atleast_1d(np.asarray(net, float))
    saved_g, saved_n = base_gross - gross, base_net - net
    with np.errstate(divide="ignore", invalid="ignore"):
        pct_g = np.where(base_gross != 0, 100.0 * saved_g / np.where(base_gross != 0, base_gross, 1.0), np.nan)
        pct_n = np.where(base_net != 0, 100.0 * saved_n / np.where(base_net != 0, base_net, 1.0), np.nan)
    ones = np.ones_like(saved_g)
    return np.column_stack([base_gross, base_net, saved_g, saved_n, pct_g, pct_n, delays[0] * ones, delays[1] * ones])


def _delays(sim, layout: Layout) -> np.ndarray:
    """Per savings entity (totals, each workload with a policy): the mean delay the policies add to the
    first start and to completion, in hours, as :class:`carbonsim.results.Result` reports them."""
    jobs = sim.jobs
    runs = {k: sim.accounted[k].run for k in ("policy", "baseline")}
    rows = {r.name: i for i, r in enumerate(sim.rows)}
    start = {k: (r.job_start_s - jobs.submit_s) / 3600 for k, r in runs.items()}
    done = {k: (r.job_end_s - jobs.submit_s - jobs.work_s) / 3600 for k, r in runs.items()}
    n = len(jobs)

    def per_row(values, i):
        mask = jobs.workload == i
        return float(np.nanmean(values[mask])) if mask.any() else 0.0

    def whole(values, key):
        if not n:
            return 0.0
        if key == "baseline":
            return float(np.nanmean(values))
        counts = np.bincount(jobs.workload, minlength=len(sim.rows))
        return sum(per_row(values, i) * c for i, c in enumerate(counts.tolist()) if c) / n

    out = [[whole(start["policy"], "policy") - whole(start["baseline"], "baseline"),
            whole(done["policy"], "policy") - whole(done["baseline"], "baseline")]]
    for w in layout.policies:
        i = rows[w]
        out.append([per_row(start["policy"], i) - per_row(start["baseline"], i),
                    per_row(done["policy"], i) - per_row(done["baseline"], i)])
    return np.array(out)


def _groups(run, sim, table, attrs, dc_names, row_cols, idle_cols):
    """One run's intervals grouped by (workload or idle pool, datacenter): the arrays and per-group
    sources of :class:`Basis`, the groups' output entities given by ``row_cols(row)`` / ``idle_cols()``."""
    from ..sim.accounting import integrate
    iv = run.intervals
    chip_s, weighted = integrate(iv["start_s"], iv["end_s"], iv["chips"].astype(np.float64), iv["datacenter"], table)
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
            cols.append(row_cols(row))
        else:
            p = sim.pools[-1 - w]
            power.append(_src(attrs[("pool", f"{dc_names[p.datacenter]}/{p.hardware}", "idle")]))
            embodied.append(None)
            lifetime.append(None)
            cols.append(idle_cols())
    pools = []
    for k, p in enumerate(sim.pools):
        if p.chips is None:
            continue
        name = f"{dc_names[p.datacenter]}/{p.hardware}"
        pools.append((float(run.pool_idle_chip_s[k] + run.pool_off_chip_s[k]),
                      _src(attrs[("pool", name, "embodied")]), _src(attrs[("pool", name, "lifetime")]), idle_cols()))
    return cs, ws, wg, wn, np.asarray(group_dc, dtype=np.int64), cols, power, embodied, lifetime, pools


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


def build_basis(resolved, m: InputMapping, layout: Layout) -> Basis:
    """One engine run of ``resolved`` and its re-weighting basis."""
    from ..sim.simulate import simulate
    sim = simulate(_with_unit_idle(resolved))
    return Basis.build(resolved, sim, m, layout)


# ---------------------------------------------------------------------------


def outputs_of(result, layout: Layout) -> np.ndarray:
    """A Result's outputs in the layout's order (totals, phases, workloads)."""
    from ..results import Totals
    out = np.zeros(layout.n_out)
    phases = result.by_phase()
    entities = [result.totals] + [phases.get(p, Totals()) for p in layout.phases]
    by_name = {w.name: w for w in result.workloads}
    entities += [by_name[w] for w in layout.workloads]
    for e, t in enumerate(entities):
        for k, metric in enumerate(METRICS):
            out[e * len(METRICS) + k] = getattr(t, metric)
    if layout.policies is not None:
        d = result.to_dict()
        b, po = result.baseline, d["policy"]
        blocks = [savings_columns(b.gross_co2e_kg, b.net_co2e_kg, result.totals.gross_co2e_kg,
                                  result.totals.net_co2e_kg, (po["added_delay_hours_mean"],
                                                              po["added_completion_delay_hours_mean"]))]
        for w in layout.policies:
            r = by_name[w]
            blocks.append(savings_columns(r.baseline["co2e_kg"]["gross"], r.baseline["co2e_kg"]["net"],
                                          r.gross_co2e_kg, r.net_co2e_kg,
                                          (r.delay_h_mean - r.baseline["delay_hours_mean"],
                                           r.completion_delay_h_mean - r.baseline["completion_delay_hours_mean"])))
        out[layout.n_main:] = np.hstack(blocks)[0]
    return out
