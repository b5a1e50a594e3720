"""carbonsim: energy and carbon emissions of machine-learning workloads.

>>> import carbonsim
>>> result = carbonsim.load("scenarios/patterson2021.toml").run()   # doctest: +SKIP
>>> result.totals.energy_kwh                                          # doctest: +SKIP

The public API: :func:`load` a file (or build a :class:`Scenario` in Python),
:func:`run` it (or ``Scenario.run()``), and study it with :func:`monte_carlo`
(uncertainty, Sobol' sensitivity), :func:`sweep` (where and when) and
:func:`compare` (two variants, break-even).  The layers behind it are described
in docs/architecture.md.
"""
import os as _os

from . import _moved
from ._version import __version__
from .model import ResolvedScenario, Scenario, load, resolve
from .model.errors import Problem, ScenarioError, SimulationError
from .model.hardware import CATALOG, Hardware
from .results import Result, WorkloadResult
from .sim import simulate as _simulate
from .sim.custom import Plan
from .studies.compare import compare
from .studies.montecarlo import UncertaintyResult, monte_carlo
from .studies.sweep import sweep

_moved.install()


def run(scenario, *, hourly: bool = False, num_threads: int = 1, progress=None, engine: str | None = None) -> Result:
    """Simulate a scenario: the path of a scenario file, a :class:`Scenario` or a
    :class:`ResolvedScenario`; returns a :class:`Result`.  ``progress``: see
    :func:`carbonsim.sim.simulate.run`; ``engine``: ``"auto"``, ``"compiled"`` or ``"simpy"``
    (default: the scenario's ``[scenario] engine``, itself ``"auto"`` by default)."""
    if isinstance(scenario, (str, _os.PathLike)):
        scenario = load(scenario)
    if isinstance(scenario, Scenario):
        scenario = scenario.validate()
    return _simulate.run(scenario, hourly=hourly, num_threads=num_threads, progress=progress, engine=engine)


__all__ = [
    "__version__", "CATALOG", "Hardware", "Plan", "Problem", "Result", "ResolvedScenario", "Scenario",
    "ScenarioError", "SimulationError", "UncertaintyResult", "WorkloadResult", "compare", "load", "monte_carlo",
    "resolve", "run", "sweep",
]
