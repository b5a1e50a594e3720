"""Old module paths (carbonsim 0.1's flat layout) kept importable for one release.

``import carbonsim.scenario`` and the like still work and give the module's names
from their new home, with a :class:`DeprecationWarning` naming it.  One import hook
here rather than a file per old module keeps the package tree showing its layers.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
import types
import warnings

#: old module -> new module (docs/architecture.md)
MOVED = {
    "carbonsim.scenario": "carbonsim.model",
    "carbonsim.errors": "carbonsim.model.errors",
    "carbonsim.hardware": "carbonsim.model.hardware",
    "carbonsim.uncertainty": "carbonsim.model.uncertain",
    "carbonsim.accounting": "carbonsim.sim.accounting",
    "carbonsim.reference": "carbonsim.sim.accounting_reference",
    "carbonsim.engine": "carbonsim.sim.fleet",
    "carbonsim.serving": "carbonsim.sim.serving",
    "carbonsim.reference_serving": "carbonsim.sim.serving_reference",
    "carbonsim.simulation": "carbonsim.sim.simulate",
    "carbonsim.study": "carbonsim.studies.montecarlo",
    "carbonsim.sweep": "carbonsim.studies.sweep",
    "carbonsim.compare": "carbonsim.studies.compare",
}


class _Alias(types.ModuleType):
    """A module whose attributes are those of its new home."""

    def __getattr__(self, name):
        return getattr(importlib.import_module(MOVED[self.__name__]), name)

    def __dir__(self):
        return dir(importlib.import_module(MOVED[self.__name__]))


class _Loader(importlib.abc.Loader):
    def create_module(self, spec):
        return _Alias(spec.name)

    def exec_module(self, module):
        new = MOVED[module.__name__]
        warnings.warn(f"{module.__name__} moved to {new}; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)   # warnings skips the import machinery's frames
        module.__dict__.update({k: v for k, v in vars(importlib.import_module(new)).items()
                                if not (k.startswith("__") and k.endswith("__"))})



class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.machinery.ModuleSpec(fullname, _Loader())
        return None


def install() -> None:
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.append(_Finder())
