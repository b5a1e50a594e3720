"""The one parse step: a document (dict) -> ResolvedScenario.

Data flow::

    TOML file ──tomllib──▶ document (dict) ──┐
    Scenario builder (add_* calls) ──────────┴──▶ resolve() ──▶ ResolvedScenario
                                                   (pydantic: types, ranges,
                                                    unknown keys; then
                                                    references and units)

ResolvedScenario and everything in it is immutable and in internal units
(seconds, watts, gCO2e/kWh, UTC datetimes); nothing after it checks input.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import warnings as _warnings
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from pydantic import ValidationError

from .. import grid as gridmod
from . import canonical, gridcheck
from . import hardware as hw
from .errors import Problem, ScenarioError, toml_key
from .names import RULE as NAME_RULE
from .names import collisions
from .objects import (
    Datacenter,
    JobStream,
    Pool,
    ResolvedScenario,
    Search,
    Service,
    TrainingRun,
)
from .problems import not_defined, problems_from
from .limits import check_end, stream_ends
from .measured import resolve_measured
from .policies import resolve_policy
from .readers import DIURNAL_SHAPES, read_profile, read_trace
from .sizes import training_size
from .spec import (
    DEFAULT_START,
    DatacenterSpec,
    JobStreamSpec,
    ScenarioFile,
    ScenarioMeta,
    SearchSpec,
    ServiceSpec,
    TrainingSpec,
    per_job,
)
from .uncertain import (
    nominal,  # {dist = ...} values -> their medians (docs/uncertainty.md)
)
from .units import SECONDS_PER_DAY

# ---------------------------------------------------------------------------
# The parse step.
# ---------------------------------------------------------------------------


def _sha256(doc: ScenarioFile) -> str:
    return canonical.sha256(doc)   # newer keys at their default do not change a file's hash


def same_name(kind: str, path: str, name: str, first_path: str, first_name: str) -> Problem:
    """Two definitions of one name (exactly, or spelled differently): an error naming both."""
    if name == first_name:
        return Problem(path, f"duplicate {kind} name", name, fix=f"already used by {first_path}")
    return Problem(path, f"{kind} name {name!r} is the same name as {first_name!r} ({first_path})", has_value=False,
                   fix=f"{NAME_RULE}: rename one of them")


def _name_collisions(kind: str, named, problems: list[Problem]) -> set[str]:
    """Report every name of ``named`` ([(path, name)]) that repeats an earlier one; returns their paths."""
    bad = set()
    for (path, name), (first_path, first_name) in collisions(named):
        problems.append(same_name(kind, path, name, first_path, first_name))
        bad.add(path)
    return bad


def _resolve_hardware(spec: ScenarioFile, problems: list[Problem]) -> dict[str, hw.Hardware]:
    table: dict[str, hw.Hardware] = dict(hw.CATALOG)
    repeated = _name_collisions("hardware", [(f"hardware.{toml_key(n)}", n) for n in spec.hardware], problems)
    for name, h in spec.hardware.items():
        path = f"hardware.{toml_key(name)}"
        if path in repeated:
            continue
        values = {k: v for k, v in h.model_dump(exclude={"base", "description"}).items() if v is not None}
        base_name = h.base if h.base is not None else name
        base = hw.find(base_name, table)
        if base is None and h.base is not None:
            problems.append(not_defined(f"{path}.base", "hardware", h.base, table))
            continue
        if base is None:
            if "tdp_w" not in values and "system_power_w" not in values:
                problems.append(Problem(path, "new hardware needs tdp_w or system_power_w", has_value=False,
                                        fix=f"add system_power_w = ..., or base = one of {', '.join(hw.CATALOG)}"))
                continue
            base = hw.Hardware(name=name)
        entry = hw.derive(base, name, **values)
        if h.description:
            entry = dataclasses.replace(entry, description=h.description)
        existing = hw.find(name, table, aliases=False)   # the same name spelled differently, not an alias
        if existing is not None and existing.name != name:
            table.pop(existing.name)
        table[name] = entry
    return table


def _base_dir(source: str | None) -> Path:
    return Path(source).resolve().parent if source else Path.cwd()


def _resolve_grid(name: str, d: DatacenterSpec, source: str | None, problems: list[Problem], warnings: list[str]):

    path = f"datacenters.{toml_key(name)}.grid"
    with _warnings.catch_warnings(record=True) as caught:
        _warnings.simplefilter("always", gridmod.GridDataWarning)
        try:
            if d.grid is None:
                given = f" ({d.grid_intensity.strip()})" if d.grid_intensity is not None else ""
                signal = gridmod.constant_signal(d.gross_constant_g,
                                                 name=f"constant {d.gross_constant_g:g} gCO2e/kWh{given}", region=name)
            elif isinstance(d.grid, str):
                signal = gridmod.load_signal(d.grid, max_gap_hours=d.grid_max_gap_hours)
            else:
                f = d.grid
                file = _base_dir(source) / f.csv
                if f.format == "electricitymaps":
                    basis = f.basis if f.basis != "unspecified" else "direct"
                    signal = gridmod.read_electricitymaps_csv(file, basis=basis, max_gap_hours=d.grid_max_gap_hours)
                elif f.format == "eia930":
                    signal = gridmod.read_eia930_csv(file, max_gap_hours=d.grid_max_gap_hours)
                else:
                    signal = gridmod.read_csv(file, timezone=f.timezone, unit=f.unit, basis=f.basis,
                                              max_gap_hours=d.grid_max_gap_hours)
        except gridmod.GridError as err:
            if getattr(err, "kind", None) == "gap":
                problems.append(gridcheck.gap_problem(name, err, d.grid_max_gap_hours))
                return None
            problems.append(Problem(path, str(err), has_value=False,
                                    fix="carbonsim regions lists the bundled signals" if isinstance(d.grid, str) else None))
            return None
        except OSError as err:
            problems.append(Problem(f"{path}.csv", f"cannot read file: {err.strerror}", str(err.filename)))
            return None
    # the data's filled gaps and glitch hours are reported once the run's hours are known (gridcheck)
    warnings.extend(f"datacenter {name}: {w.message}" for w in caught
                    if issubclass(w.category, gridmod.GridDataWarning) and signal.filled is None and signal.glitch is None)
    if d.cfe == "grid" and signal.cfe is None and not signal.constant:
        problems.append(Problem(f"datacenters.{toml_key(name)}.cfe", f"grid signal {signal.name!r} has no hourly CFE",
                                "grid", fix="give cfe as a number, or use a signal with CFE (em:..., eia:...)"))
    if d.cfe == "grid" and signal.constant and signal.cfe is None:
        problems.append(Problem(f"datacenters.{toml_key(name)}.cfe", f"grid {signal.name!r} has no CFE figure", "grid",
                                fix="give cfe as a number"))
    return signal


def _resolve_datacenters(spec: ScenarioFile, hardware, source, problems, warnings) -> dict[str, Datacenter]:
    out = {}
    _name_collisions("datacenter", [(f"datacenters.{toml_key(n)}", n) for n in spec.datacenters], problems)
    for name, d in spec.datacenters.items():
        signal = _resolve_grid(name, d, source, problems, warnings)
        pools = {}
        pool_paths: dict[str, tuple[str, str]] = {}
        for hw_name, ps in d.pools.items():
            path = f"datacenters.{toml_key(name)}.pools.{toml_key(hw_name)}"
            chip = hw.find(hw_name, hardware)
            if chip is None:
                problems.append(not_defined(path, "hardware", hw_name, hardware))
                continue
            if chip.name in pool_paths:     # a100 and A100, or an alias: one pool, given twice
                first_path, first_name = pool_paths[chip.name]
                problems.append(Problem(path, f"pool {hw_name!r} is a second pool of hardware {chip.name!r} "
                                        f"(first: {first_path})", has_value=False,
                                        fix=f"{NAME_RULE}, and aliases name their entry: give one pool per "
                                            f"hardware"))
                continue
            pool_paths[chip.name] = (path, hw_name)
            idle = ps.idle_w_per_chip if ps.idle_w_per_chip is not None else chip.idle_w
            if idle is None:
                problems.append(Problem(f"{path}.idle_w_per_chip", f"no published idle power for {chip.name}",
                                        has_value=False, fix="set idle_w_per_chip = ... (watts per idle chip)"))
                continue
            pools[chip.name] = Pool(hardware=chip.name, chips=ps.chips, idle_w_per_chip=idle,
                                    power_down_after_s=None if ps.power_down_after_minutes is None
                                    else ps.power_down_after_minutes * 60.0)
        if signal is None:
            continue
        year_shift, overflow = gridcheck.alignment(d, spec.scenario)
        out[name] = Datacenter(
            name=name, pue=d.pue, grid=signal, cfe=d.cfe, net_grid_intensity_g_per_kwh=d.net_constant_g,
            grid_year_shift=year_shift, grid_overflow=overflow, grid_scale=d.grid_scale,
            pools=MappingProxyType(pools),
            location=d.location, description=d.description,
        )
    return out


def _resolve_power(path, name, chip, given, warnings, problems):
    if given is not None:
        return given, "scenario"
    power = chip.default_power_w
    if power is None:
        problems.append(Problem(f"{path}.power_w_per_chip", f"hardware {chip.name!r} has no power figure"
                                + (f" ({chip.note})" if chip.note else ""), has_value=False,
                                fix="set power_w_per_chip = ... (measured average system power per chip, W)"))
        return None, None
    if chip.power_basis == "measured":
        return power, "catalog measured system power"
    note = hw.basis_warning(chip)        # once per hardware, whatever the number of workloads on it
    if note not in warnings:
        warnings.append(note)
    what = "TDP" if chip.power_basis == "tdp" else "maximum system rating"
    return power, f"catalog {what} (no measured system power published)"


def _resolve_rate(path, chip, achieved_tflops, efficiency, problems):
    """Achieved FLOP/s per chip from either form; None (with a problem) if impossible."""
    if achieved_tflops is not None:
        if chip.peak_tflops is not None and achieved_tflops > chip.peak_tflops * (1 + 1e-9):
            problems.append(Problem(f"{path}.achieved_tflops_per_chip",
                                    f"exceeds the peak of {chip.name} ({chip.peak_tflops:g} TFLOP/s)",
                                    achieved_tflops, fix="check the units: TFLOP/s per chip"))
            return None
        return achieved_tflops * 1e12
    if chip.peak_tflops is None:
        problems.append(Problem(f"{path}.hardware_efficiency", f"hardware {chip.name!r} has no peak_tflops",
                                has_value=False, fix="give achieved_tflops_per_chip instead"))
        return None
    return efficiency * chip.peak_tflops * 1e12


def _lookup(path, spec_hw, spec_dc, hardware, datacenters, problems):
    chip = hw.find(spec_hw, hardware)
    ok = True
    if chip is None:
        problems.append(not_defined(f"{path}.hardware", "hardware", spec_hw, hardware))
        ok = False
    if spec_dc not in datacenters:
        problems.append(not_defined(f"{path}.datacenter", "datacenter", spec_dc, datacenters))
        ok = False
    return chip if ok else None


def _resolve_training(path: str, t: TrainingSpec, meta: ScenarioMeta, hardware, datacenters,
                      problems: list[Problem], warnings: list[str], source: str | None = None) -> TrainingRun | None:
    chip = _lookup(path, t.hardware, t.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, t.name, chip, t.power_w_per_chip, warnings, problems)
    if power is None:
        return None
    size = training_size(path, t, datacenters[t.datacenter], problems, warnings)
    if size is None:
        return None
    chips, flops = size
    achieved = None
    if t.chip_hours is not None:
        duration = t.chip_hours * 3600.0 / chips
    elif t.duration_days is not None:
        duration = t.duration_days * SECONDS_PER_DAY
    elif t.duration_hours is not None:
        duration = t.duration_hours * 3600.0
    else:
        achieved = _resolve_rate(path, chip, t.achieved_tflops_per_chip, t.hardware_efficiency, problems)
        if achieved is None:
            return None
        duration = flops / (chips * achieved)
        if duration > 36500 * SECONDS_PER_DAY:
            key = "flops" if t.flops is not None else "tokens"
            problems.append(Problem(f"{path}.{key}", "implies a run longer than 100 years", getattr(t, key),
                                    fix=f"check {key} and achieved_tflops_per_chip"))
            return None
    start = t.start or meta.start or DEFAULT_START
    if not check_end(path, "duration_hours", start, duration, "run", problems):
        return None
    return TrainingRun(
        name=t.name, description=t.description, hardware=chip, datacenter=t.datacenter, chips=chips,
        start=start, duration_s=duration, power_w_per_chip=power, power_source=power_source,
        flops=flops, achieved_flops_per_chip=achieved, parameters=t.parameters,
        activated_fraction=t.activated_fraction,
        published=MappingProxyType(t.published.model_dump(exclude_none=True)) if t.published else None,
        phase=t.phase, priority=t.priority, policy=resolve_policy(path, t.policy, datacenters, problems, source),
    )


def _resolve_stream(path, st: JobStreamSpec, meta: ScenarioMeta, hardware, datacenters, source, problems, warnings):
    chip = _lookup(path, st.hardware, st.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, st.name, chip, st.power_w_per_chip, warnings, problems)
    start = st.start or meta.start or DEFAULT_START
    end = st.end or meta.end
    if power is None:
        return None
    achieved = None
    if st.flops is not None or st.trace is not None:
        if st.achieved_tflops_per_chip is not None or st.hardware_efficiency is not None:
            achieved = _resolve_rate(path, chip, st.achieved_tflops_per_chip, st.hardware_efficiency, problems)
    trace = None
    if st.trace is not None:
        trace = read_trace(path, _base_dir(source) / st.trace, start, problems)
        if trace is None:
            return None
        if "flops" in trace and achieved is None:
            problems.append(Problem(f"{path}.achieved_tflops_per_chip", "a trace with flops needs a rate",
                                    has_value=False, fix="give achieved_tflops_per_chip or hardware_efficiency"))
            return None
        end = end or max(trace["submit"]) + dt.timedelta(seconds=1)
    if end is None:
        problems.append(Problem(f"{path}.end", "a Poisson job stream needs an end", has_value=False,
                                fix="set end = 2023-01-01 here or in [scenario]"))
        return None
    if end <= start:
        problems.append(Problem(f"{path}.end", f"must be after the stream's start {start:%Y-%m-%d %H:%M}", end))
        return None
    rate = st.rate_per_day / SECONDS_PER_DAY if st.rate_per_day is not None else None
    if not stream_ends(path, st, start, end, trace, achieved, problems):
        return None
    if rate is not None:
        expected = rate * (end - start).total_seconds()
        if expected > st.max_jobs:
            problems.append(Problem(f"{path}.rate_per_day", f"would generate about {expected:,.0f} jobs, more than "
                                    f"max_jobs = {st.max_jobs:,}", st.rate_per_day,
                                    fix="raise max_jobs if you mean it, or lower the rate"))
            return None
    return JobStream(
        name=st.name, description=st.description, phase=st.phase, hardware=chip, datacenter=st.datacenter,
        start=start, end=end, power_w_per_chip=power, power_source=power_source, rate_per_s=rate,
        trace=MappingProxyType(trace) if trace else None, chips=per_job(st.chips),
        duration_hours=per_job(st.duration_hours), flops=per_job(st.flops), achieved_flops_per_chip=achieved, priority=st.priority,
        policy=resolve_policy(path, st.policy, datacenters, problems, source), max_jobs=st.max_jobs,
    )


def _resolve_search(path, se: SearchSpec, meta: ScenarioMeta, hardware, datacenters, problems, warnings, source=None):
    chip = _lookup(path, se.hardware, se.datacenter, hardware, datacenters, problems)
    if chip is None:
        return None
    power, power_source = _resolve_power(path, se.name, chip, se.power_w_per_chip, warnings, problems)
    if power is None:
        return None
    if se.trial_duration_hours is not None:
        trial_s = se.trial_duration_hours * 3600.0
    else:
        achieved = _resolve_rate(path, chip, se.achieved_tflops_per_chip, se.hardware_efficiency, problems)
        if achieved is None:
            return None
        trial_s = se.trial_flops / (se.chips_per_trial * achieved)
    final = None
    start = se.start or meta.start or DEFAULT_START
    waves = -(-se.trials // (se.parallelism or se.trials))
    if not check_end(path, "trials", start, waves * trial_s, "the search's trials", problems):
        return None
    if se.final_training is not None:
        final = _resolve_training(f"{path}.final_training", se.final_training, meta, hardware, datacenters,
                                  problems, warnings, source)
        if final is None or not check_end(path, "final_training", start, waves * trial_s + final.duration_s,
                                          "the search with its final training", problems):
            return None
    return Search(
        name=se.name, description=se.description, hardware=chip, datacenter=se.datacenter, start=start,
        trials=se.trials, chips_per_trial=se.chips_per_trial, trial_duration_s=trial_s, power_w_per_chip=power,
        power_source=power_source, parallelism=se.parallelism, early_stopping_fraction=se.early_stopping_fraction,
        early_stopped_length=se.early_stopped_length, final_training=final, priority=se.priority,
        policy=resolve_policy(path, se.policy, datacenters, problems, source),
    )



def _resolve_service(path, sv: ServiceSpec, meta: ScenarioMeta, hardware, datacenters, source, problems, warnings):
    from . import serving

    names = [sv.datacenter] if sv.datacenter is not None else list(sv.datacenters)
    chip = _lookup(path, sv.hardware, names[0], hardware, datacenters, problems)
    for j, name in enumerate(names[1:], start=1):
        if name not in datacenters:
            problems.append(not_defined(f"{path}.datacenters[{j}]", "datacenter", name, datacenters))
    if chip is None or any(n not in datacenters for n in names):
        return None
    split = sv.traffic_split or [1.0] * len(names)
    split = tuple(x / sum(split) for x in split)
    busy, power_source = _resolve_power(path, sv.name, chip, sv.power_w_per_chip, warnings, problems)
    idle = sv.idle_w_per_chip if sv.idle_w_per_chip is not None else chip.idle_w
    if idle is None:
        problems.append(Problem(f"{path}.idle_w_per_chip", f"no published idle power for {chip.name}",
                                has_value=False, fix="set idle_w_per_chip = ... (watts per idle chip)"))
    qps = sv.queries_per_second if sv.queries_per_second is not None else sv.queries_per_day / SECONDS_PER_DAY
    if sv.replicas == 0 and qps > 0:
        problems.append(Problem(f"{path}.replicas", "a service with traffic needs at least one replica", 0,
                                fix="set replicas >= 1, or use autoscaling"))
    flops = sv.flops_per_query
    if sv.tokens_per_query is not None:
        flops = 2.0 * sv.parameters * (sv.activated_fraction or 1.0) * sv.tokens_per_query
    if flops is not None and chip.peak_tflops is None:
        problems.append(Problem(f"{path}.hardware", f"hardware {chip.name!r} has no peak_tflops for per-query compute",
                                has_value=False, fix="give energy_wh_per_query, or set hardware peak_tflops"))
    shape = None
    if sv.profile is not None:
        shape = read_profile(path, _base_dir(source) / sv.profile, problems)
    if busy is None or idle is None or any(p.path.startswith(path) for p in problems):
        return None
    if shape is None:
        day = DIURNAL_SHAPES[sv.diurnal]
        shape = [f * (sv.weekend_factor if d >= 5 else 1.0) for d in range(7) for f in day]
    mean = sum(shape) / len(shape)
    shape = tuple(f / mean for f in shape)
    auto = None
    if sv.autoscaling is not None:
        a = sv.autoscaling
        auto = serving.Autoscaling(min_replicas=a.min_replicas, max_replicas=a.max_replicas,
                                   target_utilization=a.target_utilization, scale_up_delay_s=a.scale_up_minutes * 60,
                                   scale_down_delay_s=a.scale_down_minutes * 60)
    try:
        config = serving.ServingConfig(
            chip_busy_w=busy, chip_idle_w=idle, chips_per_replica=sv.chips_per_replica,
            energy_wh_per_query=sv.energy_wh_per_query, flops_per_query=flops,
            chip_peak_flops=chip.peak_tflops * 1e12 if flops is not None else None,
            hardware_efficiency=sv.hardware_efficiency if flops is not None else None,
            batching=serving.Batching(max_batch_size=sv.max_batch_size, max_wait_s=sv.max_wait_ms / 1000,
                                      latency_fixed_s=sv.batch_latency_ms / 1000, service_time=sv.service_time),
            replicas=sv.replicas,
            autoscaling=auto,
            latency_target_s=None if sv.latency_target_ms is None else sv.latency_target_ms / 1000,
            latency_target_percentile=sv.latency_percentile)
        if sv.replicas != 0:
            config.validate()
    except ValueError as err:
        problems.append(Problem(path, f"serving model: {err}", has_value=False))
        return None
    start = (sv.start or meta.start or DEFAULT_START).replace(minute=0, second=0, microsecond=0)
    if not check_end(path, "duration_days", start, sv.duration_days * SECONDS_PER_DAY, "the service", problems):
        return None
    return Service(name=sv.name, description=sv.description, hardware=chip, datacenter=names[0],
                   datacenters=tuple(names), split=split, start=start,
                   duration_s=sv.duration_days * SECONDS_PER_DAY, queries_per_second=qps, shape=shape,
                   timezone=sv.timezone, growth_per_year=sv.growth_per_year, burstiness=sv.burstiness, config=config,
                   power_w_per_chip=busy, power_source=power_source, mode=sv.mode, users=sv.users,
                   parameters=sv.parameters, activated_fraction=sv.activated_fraction)


def _resolve_measured(path, m, meta: ScenarioMeta, hardware, datacenters, source, problems):
    chip = hw.find(m.hardware, hardware) if m.hardware is not None else None
    if m.hardware is not None and chip is None:
        problems.append(not_defined(f"{path}.hardware", "hardware", m.hardware, hardware))
    if m.datacenter not in datacenters:
        problems.append(not_defined(f"{path}.datacenter", "datacenter", m.datacenter, datacenters))
    if (m.hardware is not None and chip is None) or m.datacenter not in datacenters:
        return []
    return resolve_measured(path, m, chip, meta.start or DEFAULT_START, hardware, _base_dir(source), problems)


def _max_chips(value) -> float:
    """The largest job size a chips value can produce (inf if unbounded)."""
    if isinstance(value, int):
        return value
    high = value.bounds[1]
    return round(high) if math.isfinite(high) else math.inf


def _check_capacity(path: str, w, datacenters: Mapping[str, Datacenter], problems: list[Problem]) -> None:
    """Every job must fit in each datacenter it may be placed in (else it would wait forever)."""
    if isinstance(w, JobStream):
        biggest = max(w.trace["chips"]) if w.trace else _max_chips(w.chips)
        what = "the largest job of the trace" if w.trace else "chips"
    elif isinstance(w, Search):
        biggest, what = w.chips_per_trial, "chips_per_trial"
    else:
        biggest, what = w.chips, "chips"
    names = w.policy.datacenters if w.policy.placement != "fixed" else ()
    for dc_name in (w.datacenter, *names):
        dc = datacenters.get(dc_name)
        if dc is None or not dc.pools:
            continue  # undefined (reported elsewhere) or unlimited capacity
        pool = dc.pools.get(w.hardware.name)
        if pool is None:
            problems.append(Problem(f"{path}.hardware", f"datacenter {dc_name!r} has no pool of {w.hardware.name}",
                                    w.hardware.name, fix=f"its pools: {', '.join(dc.pools)}; add "
                                    f"[datacenters.{toml_key(dc_name)}.pools.{w.hardware.name}]"))
        elif biggest > pool.chips:
            problems.append(Problem(f"{path}.{what}", f"a job of {biggest:g} chips can never fit in datacenter "
                                    f"{dc_name!r}, which has {pool.chips} {pool.hardware}", biggest if what == "chips"
                                    else None, has_value=what == "chips",
                                    fix="use fewer chips, a bounded distribution (high = ...), or a larger pool"))


def resolve(document: Mapping, source: str | None = None) -> ResolvedScenario:
    """Validate a scenario document (the dict a TOML file parses to) and resolve it.

    Raises :class:`ScenarioError` listing every problem found.
    """
    if not isinstance(document, Mapping):
        raise ScenarioError([Problem("", "a scenario must be a table of keys", type(document).__name__)], source)
    if not document:
        raise ScenarioError([Problem("", "the scenario is empty", has_value=False,
                                     fix="start with schema_version = 1, a [scenario] name, [datacenters.*] and workloads")],
                            source)
    uncertain_notes: list[str] = []
    document = nominal(document, uncertain_notes, source)
    try:
        spec = ScenarioFile.model_validate(dict(document))
    except ValidationError as err:
        raise ScenarioError(problems_from(err), source) from None

    problems: list[Problem] = []
    warnings: list[str] = uncertain_notes
    meta = spec.scenario
    hardware = _resolve_hardware(spec, problems)
    datacenters = _resolve_datacenters(spec, hardware, source, problems, warnings)
    if len(datacenters) < len(spec.datacenters):   # a grid failed to load: references would mislead
        raise ScenarioError(problems, source)

    resolved: dict[str, list] = {"training": [], "job_stream": [], "search": [], "service": [], "measured": []}
    kinds = (("training", spec.workloads.training), ("job_stream", spec.workloads.job_stream),
             ("search", spec.workloads.search), ("service", spec.workloads.service),
             ("measured", spec.workloads.measured))
    named = []      # every workload name, a search's final training included: each is a row of the results
    for kind, items in kinds:
        for i, w in enumerate(items):
            named.append((f"workloads.{kind}[{i}].name", w.name))
            if kind == "search" and w.final_training is not None:
                named.append((f"workloads.{kind}[{i}].final_training.name", w.final_training.name))
    repeated = {p.rsplit(".name", 1)[0] for p in _name_collisions("workload", named, problems)}
    for kind, items in kinds:
        for i, w in enumerate(items):
            path = f"workloads.{kind}[{i}]"
            if path in repeated or f"{path}.final_training" in repeated:
                continue
            if kind == "training":
                out = _resolve_training(path, w, meta, hardware, datacenters, problems, warnings, source)
            elif kind == "job_stream":
                out = _resolve_stream(path, w, meta, hardware, datacenters, source, problems, warnings)
            elif kind == "search":
                out = _resolve_search(path, w, meta, hardware, datacenters, problems, warnings, source)
            elif kind == "measured":
                for run in _resolve_measured(path, w, meta, hardware, datacenters, source, problems):
                    _check_capacity(path, run, datacenters, problems)
                    resolved[kind].append(run)
                continue
            else:
                out = _resolve_service(path, w, meta, hardware, datacenters, source, problems, warnings)
                if out is not None:
                    resolved[kind].append(out)
                continue
            if out is not None:
                _check_capacity(path, out, datacenters, problems)
                if isinstance(out, Search) and out.final_training is not None:
                    _check_capacity(f"{path}.final_training", out.final_training, datacenters, problems)
                resolved[kind].append(out)
    starts = [w.start for ws in resolved.values() for w in ws]
    start = meta.start or (min(starts) if starts else DEFAULT_START)
    if not problems:   # the grids must cover the hours the run plans for (the run checks again)
        t0, n_hours = gridcheck.planned_span(start, meta.end, [w for ws in resolved.values() for w in ws])
        gridcheck.check_coverage(datacenters, t0, n_hours, problems, warnings)
    if problems:
        raise ScenarioError(problems, source)
    return ResolvedScenario(
        name=meta.name, description=meta.description, seed=meta.seed,
        schema_version=spec.schema_version, sha256=_sha256(spec), source=source,
        hardware=MappingProxyType(hardware), datacenters=MappingProxyType(datacenters),
        training=tuple(resolved["training"]), job_streams=tuple(resolved["job_stream"]),
        searches=tuple(resolved["search"]), services=tuple(resolved["service"]), warnings=tuple(warnings),
        start=start, end=meta.end, measured=tuple(resolved["measured"]), engine=meta.engine,
    )


