"""carbonsim: energy and carbon emissions of machine-learning workloads.

>>> import carbonsim
>>> result = carbonsim.load("scenarios/patterson2021.toml").run()   # doctest: +SKIP
>>> result.totals.energy_kwh                                          # doctest: +SKIP

Studies: :func:`carbonsim.sweep.sweep` (where), :func:`carbonsim.compare.compare`
(two variants, break-even), :func:`carbonsim.study.monte_carlo` (uncertainty).
"""
from ._version import __version__
from .model.errors import Problem, ScenarioError, SimulationError
from .model.hardware import CATALOG, Hardware
from .results import Result, WorkloadResult
from .model import ResolvedScenario, Scenario, load, resolve

__all__ = [
    "__version__", "CATALOG", "Hardware", "Problem", "Result", "ResolvedScenario", "Scenario",
    "ScenarioError", "SimulationError", "WorkloadResult", "load", "resolve",
]
