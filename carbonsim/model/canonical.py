"""The canonical form of a validated scenario, which ``scenario.sha256`` hashes.

It is the JSON dump of the parsed file, except that keys added to the format after
schema_version 1 was first released are left out while they hold their default: a file
that does not use a newer key keeps the hash it had before that key existed.
"""
from __future__ import annotations

import hashlib
import json

from pydantic import BaseModel

from . import spec

#: Keys added after the first release of schema_version 1, by the table that holds them.
LATER_KEYS: dict[type[BaseModel], frozenset[str]] = {
    spec.ScenarioMeta: frozenset({"grid_year_shift", "grid_overflow"}),
    spec.DatacenterSpec: frozenset({"grid_intensity", "net_grid_intensity"}),
    spec.TrainingSpec: frozenset({"chip_hours", "tokens"}),
    spec.ServiceSpec: frozenset({"service_time"}),
    spec.WorkloadsSpec: frozenset({"measured"}),
    spec.PolicySpec: frozenset({"python", "params"}),
}


def _default(model: BaseModel, name: str):
    field = type(model).model_fields[name]
    return field.default_factory() if field.default_factory is not None else field.default


def _prune(value, dumped):
    if isinstance(value, BaseModel):
        later = LATER_KEYS.get(type(value), frozenset())
        for name in type(value).model_fields:
            if name not in dumped:
                continue
            if name in later and getattr(value, name) == _default(value, name):
                del dumped[name]
            else:
                _prune(getattr(value, name), dumped[name])
    elif isinstance(value, (list, tuple)):
        for v, d in zip(value, dumped):
            _prune(v, d)
    elif isinstance(value, dict):
        for k, v in value.items():
            if k in dumped:
                _prune(v, dumped[k])


#: Keys that choose how a scenario is run, not what it is (the results do not depend on them):
#: never hashed.
RUN_OPTIONS: dict[str, frozenset[str]] = {"scenario": frozenset({"engine"})}


def canonical(document: spec.ScenarioFile) -> dict:
    """The parsed file as JSON-ready data, newer keys at their default and run options left out."""
    dumped = document.model_dump(mode="json")
    _prune(document, dumped)
    for table, keys in RUN_OPTIONS.items():
        for k in keys:
            dumped.get(table, {}).pop(k, None)
    return dumped


def sha256(document: spec.ScenarioFile) -> str:
    text = json.dumps(canonical(document), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
