"""Scenarios: the file format, the builder API and the one parse step.

Data flow::

    TOML file ──tomllib──▶ document (dict) ──┐
    Scenario builder (add_* calls) ──────────┴──▶ validate() ──▶ ResolvedScenario
                                                   (pydantic: types, ranges,
                                                    unknown keys; then
                                                    references and units)

``ResolvedScenario`` and everything in it is immutable and in internal units
(seconds, watts, gCO2e/kWh, UTC datetimes); nothing after it checks input.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import hashlib
import json
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import hardware as hw
from .errors import Problem, ScenarioError

SCHEMA_VERSION = 1
SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY
DEFAULT_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
_EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------
# The file format (pydantic models).  Field order is the documented order.
# ---------------------------------------------------------------------------


class _Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, validate_default=False
    )


def _to_utc(value: Any) -> Any:
    """TOML dates, datetimes and ISO strings -> aware UTC datetimes (naive = UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be a date or date-time such as 2020-04-01 or 2020-04-01T08:00:00Z")
    if isinstance(value, dt.datetime):
        try:
            value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
            raise ValueError("must be between 1970-01-01 and 2199-12-31")
    elif isinstance(value, dt.date):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    else:
        return value  # let the type check report it
    if not (_EARLIEST <= value < _LATEST):
        raise ValueError("must be between 1970-01-01 and 2199-12-31")
    return value


class ScenarioMeta(_Spec):
    """``[scenario]``: name and run-wide settings."""

    name: str = Field(min_length=1, max_length=200, examples=["patterson2021"])
    description: str = Field("", max_length=10_000)
    seed: int = Field(0, ge=0, lt=2**63, description="Seed of every random draw (none in this version).")
    start: dt.datetime = Field(
        DEFAULT_START, description="Default start of workloads that give none (UTC; naive times are UTC)."
    )

    _utc = field_validator("start", mode="before")(_to_utc)


class HardwareSpec(_Spec):
    """``[hardware.NAME]``: a new accelerator, or ``base = "v100"`` plus overrides."""

    base: str | None = Field(None, description="Catalog entry to start from.", examples=["v100"])
    description: str = ""
    tdp_w: float | None = Field(None, gt=0, le=1e5, examples=[300.0])
    system_power_w: float | None = Field(
        None, gt=0, le=1e5, description="Measured average system power per chip (W).", examples=[330.0]
    )
    system_power_rel_std: float | None = Field(None, ge=0, le=1)
    peak_tflops: float | None = Field(None, gt=0, le=1e6, description="Peak dense 16-bit TFLOP/s.")
    idle_w: float | None = Field(None, ge=0, le=1e5)
    embodied_kgco2e: float | None = Field(None, ge=0, le=1e6, examples=[150.0])
    embodied_boundary: Literal["die", "card", "card+host"] | None = None
    lifetime_years: float | None = Field(None, gt=0, le=50, examples=[5.0])


class DatacenterSpec(_Spec):
    """``[datacenters.NAME]``: efficiency and grid."""

    description: str = ""
    location: str = ""
    pue: float = Field(ge=1.0, le=5.0, description="Power usage effectiveness.", examples=[1.1])
    grid_intensity_gco2e_per_kwh: float = Field(
        ge=0, le=5000, description="Gross (location-based) grid intensity.", examples=[429.0]
    )
    net_grid_intensity_gco2e_per_kwh: float | None = Field(
        None, ge=0, le=5000, description="Published net intensity after same-grid CFE; exclusive with cfe."
    )
    cfe: float | None = Field(
        None, ge=0, le=1, description="Carbon-free-energy share: net = gross x (1 - cfe).", examples=[0.3]
    )

    @model_validator(mode="after")
    def _net_rules(self):
        if self.cfe is not None and self.net_grid_intensity_gco2e_per_kwh is not None:
            raise ValueError("give either cfe or net_grid_intensity_gco2e_per_kwh, not both")
        net = self.net_grid_intensity_gco2e_per_kwh
        if net is not None and net > self.grid_intensity_gco2e_per_kwh:
            raise ValueError(
                f"net_grid_intensity_gco2e_per_kwh ({net}) must not exceed grid_intensity_gco2e_per_kwh "
                f"({self.grid_intensity_gco2e_per_kwh})"
            )
        return self


class PublishedSpec(_Spec):
    """``published``: figures to print beside the computed ones."""

    source: str = ""
    days: float | None = Field(None, gt=0, le=36500)
    energy_mwh: float | None = Field(None, ge=0, le=1e9)
    gross_tco2e: float | None = Field(None, ge=0, le=1e9)
    net_tco2e: float | None = Field(None, ge=0, le=1e9)


class TrainingSpec(_Spec):
    """``[[workloads.training]]``: one training run."""

    name: str = Field(min_length=1, max_length=200, examples=["T5"])
    description: str = ""
    hardware: str = Field(min_length=1, examples=["tpu-v3"])
    chips: int = Field(ge=1, le=10_000_000, examples=[512])
    datacenter: str = Field(min_length=1, examples=["google-taiwan"])
    start: dt.datetime | None = Field(None, examples=["2019-09-01T00:00:00Z"])
    duration_days: float | None = Field(None, gt=0, le=36500, examples=[20.0])
    duration_hours: float | None = Field(None, gt=0, le=876_000, examples=[480.0])
    flops: float | None = Field(None, gt=0, le=1e32, description="Total training compute.", examples=[4.05e22])
    achieved_tflops_per_chip: float | None = Field(None, gt=0, le=1e6, examples=[45.6])
    hardware_efficiency: float | None = Field(None, gt=0, le=1, description="Achieved / peak.", examples=[0.37])
    power_w_per_chip: float | None = Field(
        None, gt=0, le=1e5, description="Measured average system power per chip.", examples=[310.0]
    )
    parameters: float | None = Field(None, gt=0, le=1e16, examples=[11e9])
    activated_fraction: float | None = Field(None, gt=0, le=1, examples=[1.0])
    published: PublishedSpec | None = None

    _utc = field_validator("start", mode="before")(_to_utc)

    @model_validator(mode="after")
    def _one_duration(self):
        given = [k for k in ("duration_days", "duration_hours", "flops") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of duration_days, duration_hours or flops"
                + (f" (got {', '.join(given)})" if given else "")
            )
        if self.flops is not None:
            rates = [k for k in ("achieved_tflops_per_chip", "hardware_efficiency") if getattr(self, k) is not None]
            if len(rates) != 1:
                raise ValueError("with flops, give exactly one of achieved_tflops_per_chip or hardware_efficiency")
        return self


class WorkloadsSpec(_Spec):
    """``[workloads]``: lists of workloads by kind."""

    training: list[TrainingSpec] = Field(default_factory=list, max_length=1_000_000)


class ScenarioFile(_Spec):
    """A whole scenario file."""

    schema_version: Literal[1] = Field(description="Version of this file format.")
    scenario: ScenarioMeta
    hardware: dict[str, HardwareSpec] = Field(default_factory=dict)
    datacenters: dict[str, DatacenterSpec] = Field(min_length=1)
    workloads: WorkloadsSpec = Field(default_factory=WorkloadsSpec)


def json_schema() -> dict:
    """The JSON Schema of the scenario file format."""
    schema = ScenarioFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "carbonsim scenario file"
    return schema


# ---------------------------------------------------------------------------
# Resolved, immutable model objects (internal units).
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Datacenter:
    name: str
    pue: float
    grid_intensity_g_per_kwh: float
    net_grid_intensity_g_per_kwh: float
    cfe: float | None = None
    location: str = ""
    description: str = ""


@dataclass(frozen=True)
class TrainingRun:
    name: str
    hardware: hw.Hardware
    datacenter: str
    chips: int
    start: dt.datetime
    duration_s: float
    power_w_per_chip: float
    power_source: str
    flops: float | None = None
    achieved_flops_per_chip: float | None = None
    parameters: float | None = None
    activated_fraction: float | None = None
    published: Mapping | None = None
    description: str = ""

    kind = "training"
    phase = "training"

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=self.duration_s)

    @property
    def days(self) -> float:
        return self.duration_s / SECONDS_PER_DAY


@dataclass(frozen=True)
class ResolvedScenario:
    name: str
    description: str
    seed: int
    schema_version: int
    sha256: str
    source: str | None
    hardware: Mapping[str, hw.Hardware]
    datacenters: Mapping[str, Datacenter]
    training: tuple[TrainingRun, ...]
    warnings: tuple[str, ...] = ()

    @property
    def workloads(self) -> tuple:
        return self.training

    def summary(self) -> str:
        lines = [f"scenario {self.name!r}: {len(self.datacenters)} datacenter(s), {len(self.training)} training run(s)"]
        for dc in self.datacenters.values():
            lines.append(
                f"  datacenter {dc.name}: PUE {dc.pue:g}, grid {dc.grid_intensity_g_per_kwh:g} gCO2e/kWh"
                f" (net {dc.net_grid_intensity_g_per_kwh:g})"
            )
        for run in self.training:
            lines.append(
                f"  training {run.name}: {run.chips} x {run.hardware.name} at {run.power_w_per_chip:g} W"
                f" in {run.datacenter}, {run.days:.2f} days from {run.start:%Y-%m-%d %H:%M}Z"
            )
        return "\n".join(lines)


# ---------------------------------------------------------------------------
# Errors: pydantic's messages turned into path / value / rule / fix lines.
# ---------------------------------------------------------------------------


_BOUNDS = {"gt": "greater than", "ge": "greater than or equal to", "lt": "less than", "le": "less than or equal to"}
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(name: object) -> str:
    """A key as written in a TOML path: bare if it can be, else quoted."""
    name = str(name)
    return name if _BARE_KEY.fullmatch(name) else json.dumps(name)


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + _key(part)
    return out


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def _unwrap(t: Any) -> Any:
    """``Model | None`` -> ``Model``."""
    if typing.get_origin(t) in (typing.Union, types.UnionType):
        models = [a for a in typing.get_args(t) if _is_model(a)]
        return models[0] if models else t
    return t


def _model_at(loc: tuple, root: type[BaseModel] = ScenarioFile) -> type[BaseModel] | None:
    """The spec class that holds the field at ``loc`` (for "did you mean")."""
    model: Any = root
    for part in loc:
        model = _unwrap(model)
        if _is_model(model):
            if isinstance(part, str) and part in model.model_fields:
                model = model.model_fields[part].annotation
            else:
                return None
        else:  # list[...] or dict[str, ...]: step into the item type
            args = getattr(model, "__args__", ())
            model = args[-1] if args else None
    model = _unwrap(model)
    return model if _is_model(model) else None


def _missing_fix(parent: type[BaseModel] | None, key: str | None, loc: tuple) -> str | None:
    """How to add a missing (or empty) field: a value, a [table] or a [table.NAME]."""
    if parent is None or key not in parent.model_fields:
        return None
    ann = _unwrap(parent.model_fields[key].annotation)
    if typing.get_origin(ann) is Literal:
        return f"add {key} = {typing.get_args(ann)[0]!r}"
    table, item = _path(loc), ann
    if typing.get_origin(ann) is dict:
        table, item = table + ".NAME", typing.get_args(ann)[-1]
    if not _is_model(item):
        return _example(parent, key)
    required = [name for name, f in item.model_fields.items() if f.is_required()]
    return f"add a [{table}] table" + (f" with {', '.join(required)}" if required else "")


def _example(model: type[BaseModel] | None, key: str) -> str | None:
    if model is None or key not in model.model_fields:
        return None
    examples = model.model_fields[key].examples
    if not examples:
        return None
    ex = examples[0]
    ann = model.model_fields[key].annotation
    if isinstance(ex, str) and dt.datetime not in (typing.get_args(ann) or (ann,)):
        ex = json.dumps(ex)  # dates are TOML literals, not strings
    return f"for example {key} = {ex}"


def _problems_from(err: ValidationError, prefix: tuple = (), root: type[BaseModel] = ScenarioFile) -> list[Problem]:
    problems = []
    for e in err.errors(include_url=False):
        loc = tuple(prefix) + tuple(p for p in e["loc"] if p not in ("function-after",))
        kind = e["type"]
        value = e.get("input")
        parent = _model_at(loc[:-1], root) if loc else None
        key = loc[-1] if loc and isinstance(loc[-1], str) else None
        if kind == "extra_forbidden":
            known = list(parent.model_fields) if parent else []
            word = str(key)
            guess = difflib.get_close_matches(word, known, n=1, cutoff=0.6) or sorted(  # else pue_value -> pue
                (k for k in known if min(len(k), len(word)) >= 3 and (word.startswith(k) or k.startswith(word))),
                key=len, reverse=True)[:1]
            fix = f"did you mean {guess[0]!r}?" if guess else (f"known keys: {', '.join(known)}" if known else None)
            problems.append(Problem(_path(loc), "unknown key", fix=fix, has_value=False))
        elif kind == "missing":
            fix = _missing_fix(parent, key, loc) if key else None
            problems.append(Problem(_path(loc), "required key is missing", fix=fix or f"add {key} = ...", has_value=False))
        elif kind == "invalid_key" or (loc and loc[-1] == "[key]"):  # non-string keys: Python documents only
            where = loc[:-1] if kind == "invalid_key" else loc[:-2]
            problems.append(Problem(_path(where), "keys must be strings", loc[len(where)]))
        elif kind == "value_error":
            rule = str(e.get("ctx", {}).get("error", e["msg"]))
            problems.append(Problem(_path(loc), rule, value, has_value=not isinstance(value, dict)))
        elif kind == "literal_error" and loc == ("schema_version",) and type(value) not in (int, float):
            problems.append(Problem("schema_version", f"must be the integer {SCHEMA_VERSION}", value,
                                    fix=f"write schema_version = {SCHEMA_VERSION}, without quotes"))
        elif kind == "literal_error" and loc == ("schema_version",):
            problems.append(
                Problem("schema_version", f"unsupported version (this carbonsim reads version {SCHEMA_VERSION})", value,
                        fix="upgrade carbonsim, or write the file for version 1")
            )
        else:
            rule = re.sub(r"^(Input|String|Dictionary|List) should", "must", e["msg"]).replace("Input ", "value ")
            rule = re.sub(r" after validation, not \d+$", "", rule)
            bound = next(((k, v) for k, v in e.get("ctx", {}).items() if k in _BOUNDS), None)
            if bound and isinstance(bound[1], float) and abs(bound[1]) >= 1e16:  # 1e+32, not 1000...000
                rule = f"must be {_BOUNDS[bound[0]]} {bound[1]!r}"
            if kind == "finite_number":
                rule = "must be a finite number (not NaN or inf)"
            elif kind in ("model_type", "model_attributes_type", "dict_type"):
                rule = "must be a table"
            elif kind == "list_type":
                rule = "must be an array"
            elif kind == "int_type" and isinstance(value, float):
                rule = "must be a whole number (an integer, without a decimal point)"
            owner = _model_at(loc[:-1], root) if loc else None
            fix = _example(owner, key) if key else None
            if kind == "too_short" and not value:
                fix = _missing_fix(owner, key, loc) if key else None
            problems.append(Problem(_path(loc), rule, value, fix=fix))
    return problems


# ---------------------------------------------------------------------------
# The parse step.
# ---------------------------------------------------------------------------


def _sha256(doc: ScenarioFile) -> str:
    canonical = json.dumps(doc.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _not_defined(path: str, kind: str, name: str, defined) -> Problem:
    defined = sorted(defined)
    guess = hw.suggest(name, defined)
    kinds = kind if kind == "hardware" else kind + "s"
    fix = (f"did you mean {guess!r}? " if guess else "") + f"defined {kinds}: {', '.join(map(_key, defined)) or 'none'}"
    return Problem(path, f"{kind} {name!r} is not defined", name, fix=fix, has_value=False)


def _resolve_hardware(spec: ScenarioFile, problems: list[Problem]) -> dict[str, hw.Hardware]:
    table: dict[str, hw.Hardware] = dict(hw.CATALOG)
    for name, h in spec.hardware.items():
        path = f"hardware.{_key(name)}"
        values = {k: v for k, v in h.model_dump(exclude={"base", "description"}).items() if v is not None}
        base_name = h.base if h.base is not None else name
        base = hw.find(base_name, table)
        if base is None and h.base is not None:
            problems.append(_not_defined(f"{path}.base", "hardware", h.base, table))
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
        existing = hw.find(name, table)
        if existing is not None and existing.name != name:
            table.pop(existing.name)
        table[name] = entry
    return table


def _resolve_training(i: int, t: TrainingSpec, meta: ScenarioMeta, hardware, datacenters,
                      problems: list[Problem], warnings: list[str]) -> TrainingRun | None:
    path = f"workloads.training[{i}]"
    chip = hw.find(t.hardware, hardware)
    ok = True
    if chip is None:
        problems.append(_not_defined(f"{path}.hardware", "hardware", t.hardware, hardware))
        ok = False
    if t.datacenter not in datacenters:
        problems.append(_not_defined(f"{path}.datacenter", "datacenter", t.datacenter, datacenters))
        ok = False
    if not ok:
        return None

    if t.power_w_per_chip is not None:
        power, power_source = t.power_w_per_chip, "scenario"
    elif chip.system_power_w is not None:
        power, power_source = chip.system_power_w, "catalog measured system power"
    elif chip.tdp_w is not None:
        power, power_source = chip.tdp_w, "catalog TDP (no measured system power published)"
        warnings.append(f"{t.name}: no measured system power for {chip.name}; using TDP {chip.tdp_w:g} W "
                        f"(set power_w_per_chip to override)")
    else:
        problems.append(Problem(f"{path}.power_w_per_chip", f"hardware {chip.name!r} has no power figure",
                                has_value=False, fix="set power_w_per_chip = ..."))
        return None

    achieved = None
    if t.duration_days is not None:
        duration = t.duration_days * SECONDS_PER_DAY
    elif t.duration_hours is not None:
        duration = t.duration_hours * 3600.0
    else:
        if t.achieved_tflops_per_chip is not None:
            achieved = t.achieved_tflops_per_chip * 1e12
        elif chip.peak_tflops is None:
            problems.append(Problem(f"{path}.hardware_efficiency", f"hardware {chip.name!r} has no peak_tflops",
                                    has_value=False, fix="give achieved_tflops_per_chip instead"))
            return None
        else:
            achieved = t.hardware_efficiency * chip.peak_tflops * 1e12
        duration = t.flops / (t.chips * achieved)
        if chip.peak_tflops is not None and achieved > chip.peak_tflops * 1e12 * (1 + 1e-9):
            problems.append(Problem(f"{path}.achieved_tflops_per_chip",
                                    f"exceeds the peak of {chip.name} ({chip.peak_tflops:g} TFLOP/s)",
                                    t.achieved_tflops_per_chip, fix="check the units: TFLOP/s per chip"))
            return None
        if duration > 36500 * SECONDS_PER_DAY:
            problems.append(Problem(f"{path}.flops", "implies a run longer than 100 years", t.flops,
                                    fix="check flops and achieved_tflops_per_chip"))
            return None
    start = t.start if t.start is not None else meta.start
    if start + dt.timedelta(seconds=duration) >= _LATEST:
        problems.append(Problem(f"{path}.start", "run would end after 2199", start,
                                fix=f"start earlier: the run lasts {duration / SECONDS_PER_DAY:g} days"))
        return None
    return TrainingRun(
        name=t.name, description=t.description, hardware=chip, datacenter=t.datacenter, chips=t.chips,
        start=start, duration_s=duration, power_w_per_chip=power, power_source=power_source,
        flops=t.flops, achieved_flops_per_chip=achieved, parameters=t.parameters,
        activated_fraction=t.activated_fraction,
        published=MappingProxyType(t.published.model_dump(exclude_none=True)) if t.published else None,
    )


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
    try:
        spec = ScenarioFile.model_validate(dict(document))
    except ValidationError as err:
        raise ScenarioError(_problems_from(err), source) from None

    problems: list[Problem] = []
    warnings: list[str] = []
    hardware = _resolve_hardware(spec, problems)
    datacenters = {}
    for name, d in spec.datacenters.items():
        if d.net_grid_intensity_gco2e_per_kwh is not None:
            net = d.net_grid_intensity_gco2e_per_kwh
        elif d.cfe is not None:
            net = d.grid_intensity_gco2e_per_kwh * (1.0 - d.cfe)
        else:
            net = d.grid_intensity_gco2e_per_kwh
        datacenters[name] = Datacenter(name=name, pue=d.pue, grid_intensity_g_per_kwh=d.grid_intensity_gco2e_per_kwh,
                                       net_grid_intensity_g_per_kwh=net, cfe=d.cfe, location=d.location,
                                       description=d.description)
    runs = []
    seen: dict[str, int] = {}
    for i, t in enumerate(spec.workloads.training):
        if t.name in seen:
            problems.append(Problem(f"workloads.training[{i}].name", "duplicate workload name", t.name,
                                    fix=f"already used by workloads.training[{seen[t.name]}]"))
            continue
        seen[t.name] = i
        run = _resolve_training(i, t, spec.scenario, hardware, datacenters, problems, warnings)
        if run is not None:
            runs.append(run)
    if problems:
        raise ScenarioError(problems, source)
    return ResolvedScenario(
        name=spec.scenario.name, description=spec.scenario.description, seed=spec.scenario.seed,
        schema_version=spec.schema_version, sha256=_sha256(spec), source=source,
        hardware=MappingProxyType(hardware), datacenters=MappingProxyType(datacenters),
        training=tuple(runs), warnings=tuple(warnings),
    )


def read_toml(path: str | Path) -> dict:
    """Read a TOML file into a document; unreadable or malformed files raise ScenarioError."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise ScenarioError([Problem("", f"cannot read file: {err.strerror}", has_value=False)], str(path)) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioError([Problem("", f"not a UTF-8 text file (bad byte at offset {err.start})", has_value=False,
                                     fix="scenario files are TOML text")], str(path)) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError([Problem("", f"not valid TOML: {err}", has_value=False)], str(path)) from None
    except ValueError:  # an integer literal longer than Python converts (4300 digits)
        raise ScenarioError([Problem("", "not valid TOML: a number is too long", has_value=False)], str(path)) from None
    except RecursionError:
        raise ScenarioError([Problem("", "not valid TOML: arrays or tables nested too deeply", has_value=False)],
                            str(path)) from None


# ---------------------------------------------------------------------------
# The builder API.
# ---------------------------------------------------------------------------


def _element(model: type[_Spec], prefix: tuple, values: dict) -> _Spec:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ScenarioError(_prefixed(err, prefix, model)) from None


def _prefixed(err: ValidationError, prefix: tuple, model: type[BaseModel]) -> list[Problem]:
    problems = _problems_from(err, (), root=model)
    head = _path(prefix)
    return [dataclasses.replace(p, path=f"{head}.{p.path}" if p.path else head) for p in problems]


class Scenario:
    """A scenario under construction, from Python or from a file.

    >>> s = Scenario("demo")
    >>> s.add_datacenter("iowa", pue=1.11, grid_intensity_gco2e_per_kwh=478)  # doctest: +ELLIPSIS
    DatacenterSpec(...)
    >>> s.add_training_run("run", hardware="v100", chips=8, datacenter="iowa", duration_days=1)  # doctest: +ELLIPSIS
    TrainingSpec(...)
    >>> round(s.run().totals.energy_kwh, 3)
    69.264

    Each ``add_*`` checks its own arguments at once (raising ScenarioError with
    the field path); references between parts are checked by :meth:`validate`,
    which returns an immutable :class:`ResolvedScenario` and leaves this object
    unchanged.
    """

    def __init__(self, name: str = "scenario", *, description: str = "", seed: int = 0,
                 start: dt.datetime | dt.date | str | None = None, source: str | None = None):
        meta = {"name": name, "description": description, "seed": seed}
        if start is not None:
            meta["start"] = start
        _element(ScenarioMeta, ("scenario",), meta)
        self._doc: dict = {"schema_version": SCHEMA_VERSION, "scenario": meta, "hardware": {},
                           "datacenters": {}, "workloads": {"training": []}}
        self.source = source

    @classmethod
    def from_dict(cls, document: Mapping, source: str | None = None) -> "Scenario":
        resolve(document, source)  # fail early, with the file's name
        self = cls.__new__(cls)
        self._doc = copy.deepcopy(dict(document))
        self.source = source
        return self

    @classmethod
    def from_toml(cls, path: str | Path) -> "Scenario":
        return cls.from_dict(read_toml(path), str(path))

    def to_dict(self) -> dict:
        """The scenario as a document (what its TOML file would parse to)."""
        return copy.deepcopy(self._doc)

    @property
    def name(self) -> str:
        return self._doc["scenario"]["name"]

    def add_hardware(self, name: str, *, base: str | None = None, **values) -> HardwareSpec:
        if base is not None:
            values["base"] = base
        spec = _element(HardwareSpec, ("hardware", name), values)
        self._doc.setdefault("hardware", {})[name] = values
        return spec

    def add_datacenter(self, name: str, *, pue: float, grid_intensity_gco2e_per_kwh: float, **values) -> DatacenterSpec:
        values = {"pue": pue, "grid_intensity_gco2e_per_kwh": grid_intensity_gco2e_per_kwh, **values}
        spec = _element(DatacenterSpec, ("datacenters", name), values)
        self._doc.setdefault("datacenters", {})[name] = values
        return spec

    def add_training_run(self, name: str, *, hardware: str, chips: int, datacenter: str, **values) -> TrainingSpec:
        values = {"name": name, "hardware": hardware, "chips": chips, "datacenter": datacenter, **values}
        values = {k: v for k, v in values.items() if v is not None}
        training = self._doc.setdefault("workloads", {}).setdefault("training", [])
        spec = _element(TrainingSpec, ("workloads", "training", len(training)), values)
        training.append(values)
        return spec

    def validate(self) -> ResolvedScenario:
        return resolve(self._doc, self.source)

    def run(self):
        from .accounting import run
        return run(self.validate())

    def __repr__(self) -> str:
        n = len(self._doc.get("workloads", {}).get("training", []))
        return f"Scenario({self.name!r}, datacenters={list(self._doc.get('datacenters', {}))}, training_runs={n})"


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming the file and field."""
    return Scenario.from_toml(path)
