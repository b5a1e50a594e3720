"""JSON text that is always valid JSON (RFC 8259): no ``NaN`` or ``Infinity``.

A value that is undefined (a ratio to zero, a latency with no requests) is null in the
contract, with a ``*_note`` beside it saying why wherever the builder knows (docs/results.md).
:func:`dumps` is the last line: any non-finite float left in a document becomes null, and
``allow_nan=False`` makes a slip an error rather than invalid output."""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import numpy as np


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, inf) replaced by None, NumPy scalars and
    arrays by Python ones, tuples by lists."""
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    if isinstance(value, np.ndarray):
        return finite(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        x = float(value)
        return x if math.isfinite(x) else None
    return value


def _default(o: Any):
    if isinstance(o, (dt.date, dt.datetime)):
        return o.isoformat()
    raise TypeError(f"{type(o).__name__} is not JSON serialisable")


def dumps(doc: Any, indent: int | None = 2, **kwargs) -> str:
    """Valid JSON text of ``doc`` (non-finite numbers as null)."""
    return json.dumps(finite(doc), indent=indent, allow_nan=False, default=_default, **kwargs)
