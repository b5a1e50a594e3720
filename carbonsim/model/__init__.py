"""The model layer: what a scenario is.

The file format (:mod:`.spec`, pydantic), the resolved frozen objects (:mod:`.objects`),
the one parse step (:mod:`.resolve`), the builder (:mod:`.builder`), the hardware
catalog (:mod:`.hardware`), distributions of uncertain values (:mod:`.distributions`,
:mod:`.uncertain`), units and errors.  Nothing here imports the engines at import time.
"""
from .builder import Scenario, load
from .errors import Problem, ScenarioError, SimulationError
from .hardware import CATALOG, Hardware
from .objects import (BASELINE_POLICY, Datacenter, JobStream, MeasuredRun, Policy, Pool, ResolvedScenario, Search,
                      Service, TrainingRun)
from .readers import read_toml
from .resolve import resolve
from .spec import (SCHEMA_VERSION, AutoscalingSpec, DatacenterSpec, GridFileSpec, HardwareSpec, JobStreamSpec,
                   PolicySpec, PoolSpec, PublishedSpec, ScenarioFile, ScenarioMeta, SearchSpec, ServiceSpec, SweepSpec,
                   TrainingSpec, WorkloadsSpec, json_schema)
from .spec_measured import MeasuredSpec
from .units import J_PER_KWH, J_PER_WH, SECONDS_PER_DAY, SECONDS_PER_HOUR, SECONDS_PER_YEAR

__all__ = [
    "BASELINE_POLICY", "CATALOG", "AutoscalingSpec", "Datacenter", "DatacenterSpec", "GridFileSpec", "Hardware",
    "HardwareSpec", "J_PER_KWH", "J_PER_WH", "JobStream", "JobStreamSpec", "MeasuredRun", "MeasuredSpec", "Policy", "PolicySpec", "Pool", "PoolSpec",
    "Problem", "PublishedSpec", "ResolvedScenario", "SCHEMA_VERSION", "Search", "Service", "SECONDS_PER_DAY", "SECONDS_PER_HOUR",
    "SECONDS_PER_YEAR", "Scenario", "ScenarioError", "ScenarioFile", "ScenarioMeta", "SearchSpec", "ServiceSpec",
    "SimulationError", "SweepSpec", "TrainingRun", "TrainingSpec", "WorkloadsSpec", "json_schema", "load",
    "read_toml", "resolve",
]
