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
from . import _moved
from ._version import __version__
from .model import ResolvedScenario, Scenario, load, resolve
from .model.errors import Problem, ScenarioError, SimulationError
from .model.hardware import CATALOG, Hardware
from .results import Result, WorkloadResult
from .sim.simulate import run
from .studies.compare import compare
from .studies.montecarlo import UncertaintyResult, monte_carlo
from .studies.sweep import sweep

_moved.install()

__all__ = [
    "__version__", "CATALOG", "Hardware", "Problem", "Result", "ResolvedScenario", "Scenario",
    "ScenarioError", "SimulationError", "UncertaintyResult", "WorkloadResult", "compare", "load", "monte_carlo",
    "resolve", "run", "sweep",
]
