"""The builder API: a scenario under construction, from Python or from a file."""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
from pathlib import Path
from typing import Mapping

from pydantic import BaseModel, ValidationError

from .errors import Problem, ScenarioError, field_path, toml_key
from .objects import ResolvedScenario
from .problems import problems_from
from .readers import read_toml
from .problems import not_defined
from .resolve import resolve
from .spec_measured import MeasuredSpec
from .spec import (
    SCHEMA_VERSION,
    DatacenterSpec,
    HardwareSpec,
    JobStreamSpec,
    PoolSpec,
    ScenarioMeta,
    SearchSpec,
    ServiceSpec,
    StrictModel,
    TrainingSpec,
)

# ---------------------------------------------------------------------------
# The builder API.
# ---------------------------------------------------------------------------


def _element(model: type[StrictModel], prefix: tuple, values: dict) -> StrictModel:
    try:
        return model.model_validate(values)
    except ValidationError as err:
        raise ScenarioError(_prefixed(err, prefix, model)) from None


def _prefixed(err: ValidationError, prefix: tuple, model: type[BaseModel]) -> list[Problem]:
    problems = problems_from(err, (), root=model)
    head = field_path(prefix)
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
                 start: dt.datetime | dt.date | str | None = None, end: dt.datetime | dt.date | str | None = None,
                 source: str | None = None, **settings):
        """``settings``: further ``[scenario]`` keys, e.g. ``grid_year_shift="weekday"``."""
        meta = {"name": name, "description": description, "seed": seed, **settings}
        if start is not None:
            meta["start"] = start
        if end is not None:
            meta["end"] = end
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

    def add_datacenter(self, name: str, *, pue: float, grid_intensity_gco2e_per_kwh: float | None = None,
                       grid=None, **values) -> DatacenterSpec:
        """A datacenter with a constant grid intensity, or ``grid=`` a signal name or CSV table."""
        values = {"pue": pue, "grid_intensity_gco2e_per_kwh": grid_intensity_gco2e_per_kwh, "grid": grid, **values}
        values = {k: v for k, v in values.items() if v is not None}
        spec = _element(DatacenterSpec, ("datacenters", name), values)
        self._doc.setdefault("datacenters", {})[name] = values
        return spec

    def add_pool(self, datacenter: str, hardware: str, *, chips: int, **values) -> PoolSpec:
        """``chips`` accelerators of one type in a datacenter added before."""
        if datacenter not in self._doc.get("datacenters", {}):
            raise ScenarioError([not_defined(f"datacenters.{toml_key(datacenter)}", "datacenter", datacenter,
                                              self._doc.get("datacenters", {}))])
        values = {"chips": chips, **values}
        spec = _element(PoolSpec, ("datacenters", datacenter, "pools", hardware), values)
        self._doc["datacenters"][datacenter].setdefault("pools", {})[hardware] = values
        return spec

    def _add(self, kind: str, model, values: dict):
        values = {k: v for k, v in values.items() if v is not None}
        items = self._doc.setdefault("workloads", {}).setdefault(kind, [])
        spec = _element(model, ("workloads", kind, len(items)), values)
        items.append(values)
        return spec

    def add_training_run(self, name: str, *, hardware: str, datacenter: str, chips: int | None = None,
                         **values) -> TrainingSpec:
        """A training run: ``chips`` with one length (``duration_days=``, ``duration_hours=``, ``flops=``,
        ``tokens=`` with ``parameters=``, or ``chip_hours=``), or ``chip_hours=`` without chips."""
        return self._add("training", TrainingSpec, {"name": name, "hardware": hardware, "chips": chips,
                                                    "datacenter": datacenter, **values})

    def add_job_stream(self, name: str, *, hardware: str, datacenter: str, **values) -> JobStreamSpec:
        return self._add("job_stream", JobStreamSpec, {"name": name, "hardware": hardware,
                                                       "datacenter": datacenter, **values})

    def add_search(self, name: str, *, hardware: str, datacenter: str, trials: int, chips_per_trial: int,
                   **values) -> SearchSpec:
        return self._add("search", SearchSpec, {"name": name, "hardware": hardware, "datacenter": datacenter,
                                                "trials": trials, "chips_per_trial": chips_per_trial, **values})

    def add_service(self, name: str, *, hardware: str, duration_days: float, **values) -> ServiceSpec:
        """An inference service: ``datacenter=`` (or ``datacenters=[...]``), traffic
        (``queries_per_second=`` or ``queries_per_day=``), a per-query cost and a fleet."""
        return self._add("service", ServiceSpec, {"name": name, "hardware": hardware,
                                                  "duration_days": duration_days, **values})

    def add_measured(self, name: str, *, datacenter: str, **values) -> MeasuredSpec:
        """A measured run: ``codecarbon=`` an emissions.csv, ``power_trace=`` a timestamp,watts CSV (paths
        relative to ``source``), or the figures (``duration_hours=`` with ``energy_kwh=`` or the components)."""
        return self._add("measured", MeasuredSpec, {"name": name, "datacenter": datacenter, **values})

    def configure(self, **settings) -> "Scenario":
        """Set ``[scenario]`` keys (e.g. ``engine="compiled"``), checked at once; returns self."""
        meta = {**self._doc.get("scenario", {}), **settings}
        _element(ScenarioMeta, ("scenario",), meta)
        self._doc["scenario"] = meta
        return self

    def validate(self) -> ResolvedScenario:
        return resolve(self._doc, self.source)

    def run(self, *, hourly: bool = False, engine: str | None = None):
        """Validate and simulate; returns a :class:`carbonsim.results.Result`.  ``engine``: ``"auto"``
        (the compiled fleet core whenever it can run the scenario), ``"compiled"`` or ``"simpy"``;
        default: ``[scenario] engine``."""
        from ..sim.simulate import run
        return run(self.validate(), hourly=hourly, engine=engine)

    def __repr__(self) -> str:
        n = len(self._doc.get("workloads", {}).get("training", []))
        return f"Scenario({self.name!r}, datacenters={list(self._doc.get('datacenters', {}))}, training_runs={n})"


def load(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raises ScenarioError naming the file and field."""
    return Scenario.from_toml(path)
