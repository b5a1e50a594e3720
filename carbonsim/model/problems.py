"""Pydantic's validation errors turned into path / value / rule / fix lines."""
from __future__ import annotations

import datetime as dt
import difflib
import json
import types
import typing
from typing import Any, Literal

from pydantic import BaseModel, ValidationError

from . import hardware as hw
from .errors import Problem, field_path, pydantic_rule, toml_key
from .spec import SCHEMA_VERSION, DatacenterSpec, ScenarioFile

# ---------------------------------------------------------------------------
# Errors: pydantic's messages turned into path / value / rule / fix lines.
# ---------------------------------------------------------------------------




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
    table, item = field_path(loc), ann
    if typing.get_origin(ann) is dict:
        table, item = table + ".NAME", typing.get_args(ann)[-1]
    if not _is_model(item):
        return _example(parent, key)
    required = [name for name, f in item.model_fields.items() if f.is_required()]
    if item is DatacenterSpec:
        required.append("grid_intensity_gco2e_per_kwh (or grid)")
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


def problems_from(err: ValidationError, prefix: tuple = (), root: type[BaseModel] = ScenarioFile) -> list[Problem]:
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
            problems.append(Problem(field_path(loc), "unknown key", fix=fix, has_value=False))
        elif kind == "missing":
            fix = _missing_fix(parent, key, loc) if key else None
            problems.append(Problem(field_path(loc), "required key is missing", fix=fix or f"add {key} = ...", has_value=False))
        elif kind == "invalid_key" or (loc and loc[-1] == "[key]"):  # non-string keys: Python documents only
            where = loc[:-1] if kind == "invalid_key" else loc[:-2]
            problems.append(Problem(field_path(where), "keys must be strings", loc[len(where)]))
        elif kind == "value_error":
            rule = str(e.get("ctx", {}).get("error", e["msg"]))
            problems.append(Problem(field_path(loc), rule, value, has_value=not isinstance(value, dict)))
        elif kind == "literal_error" and loc == ("schema_version",) and type(value) not in (int, float):
            problems.append(Problem("schema_version", f"must be the integer {SCHEMA_VERSION}", value,
                                    fix=f"write schema_version = {SCHEMA_VERSION}, without quotes"))
        elif kind == "literal_error" and loc == ("schema_version",):
            problems.append(
                Problem("schema_version", f"unsupported version (this carbonsim reads version {SCHEMA_VERSION})", value,
                        fix="upgrade carbonsim, or write the file for version 1")
            )
        else:
            rule = pydantic_rule(e)
            owner = _model_at(loc[:-1], root) if loc else None
            fix = _example(owner, key) if key else None
            if kind == "too_short" and not value:
                fix = _missing_fix(owner, key, loc) if key else None
            problems.append(Problem(field_path(loc), rule, value, fix=fix))
    return problems


def not_defined(path: str, kind: str, name: str, defined) -> Problem:
    defined = sorted(defined)
    guess = hw.suggest(name, defined)
    kinds = kind if kind == "hardware" else kind + "s"
    fix = (f"did you mean {guess!r}? " if guess else "") + f"defined {kinds}: {', '.join(map(toml_key, defined)) or 'none'}"
    return Problem(path, f"{kind} {name!r} is not defined", name, fix=fix, has_value=False)
