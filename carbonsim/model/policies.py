"""Resolving a ``policy = {...}`` table: the built-in rules' fields, or a user's Python class
(checked here: importable, a class with ``plan``, its params fit its constructor)."""
from __future__ import annotations

import inspect
import json
from pathlib import Path

from . import pyref
from .errors import Problem
from .objects import BASELINE_POLICY, Policy
from .problems import not_defined


def _base_dir(source: str | None) -> Path:
    return Path(source).resolve().parent if source else Path.cwd()


def resolve_policy(path, p: "PolicySpec | None", datacenters, problems, source=None) -> Policy:
    if p is None:
        return BASELINE_POLICY
    for j, name in enumerate(p.datacenters):
        if name not in datacenters:
            problems.append(not_defined(f"{path}.policy.datacenters[{j}]", "datacenter", name, datacenters))
    base_dir = None
    if p.python is not None:
        base_dir = str(_base_dir(source))
        try:
            check_policy_class(pyref.load(p.python, base_dir), json.loads(json.dumps(p.params)))
        except (pyref.ReferenceError_, TypeError) as err:
            problems.append(Problem(f"{path}.policy.python", f"cannot use the policy: {err}", p.python,
                                    fix="give 'module:Class' of a class with a plan(job, forecast, pools) method, "
                                        "importable from sys.path or the scenario's folder "
                                        "(docs/scenario-format.md, 'User policies')"))
    return Policy(placement=p.placement, datacenters=tuple(p.datacenters), shift=p.shift, slack_s=p.slack_hours * 3600.0,
                  interrupt=p.interrupt, threshold_g=p.threshold_gco2e_per_kwh,
                  checkpoint_overhead_s=p.checkpoint_overhead_minutes * 60.0, forecast_error=p.forecast_error,
                  threshold_percentile=p.threshold_percentile, horizon_s=p.horizon_hours * 3600.0,
                  length_known=p.length_known, forecast=p.forecast, forecast_error_model=p.forecast_error_model,
                  forecast_error_phi=p.forecast_error_phi, python=p.python,
                  params_json=json.dumps(p.params, sort_keys=True), base_dir=base_dir, where=f"{path}.policy.python")


def check_policy_class(cls, params: dict):
    """A user policy: a class whose instances have ``plan``, constructible from ``params``
    (raises TypeError with the reason; the constructor itself runs in the engine)."""
    if not isinstance(cls, type):
        raise TypeError(f"{cls!r} is not a class")
    if not callable(getattr(cls, "plan", None)):
        raise TypeError(f"class {cls.__name__} has no plan() method")
    try:
        inspect.signature(cls).bind(**params)
    except TypeError as err:
        raise TypeError(f"params do not fit {cls.__name__}(...): {err}") from None
    except ValueError:     # no signature to inspect (a builtin): the engine's call will tell
        pass
