"""Names: the one rule that says when two names are the same name.

Names of hardware, datacenters, pools and workloads are compared with
:func:`name_key`: case, spaces, ``-`` and ``_`` are ignored, so ``x-gpu``,
``X_GPU`` and ``X GPU`` are one name.  A reference may use any spelling of a
defined hardware name (``hardware = "TPU v3"`` finds ``tpu-v3``), and two
definitions whose names are the same under this rule are an error naming both
(:func:`collisions`), so that no definition silently replaces another.
"""
from __future__ import annotations

import re
from typing import Iterable

_IGNORED = re.compile(r"[\s_\-]+")

#: What the rule ignores, as said in error messages and docs.
RULE = "names that differ only in case, spaces, '-' or '_' are the same name"


def name_key(name: object) -> str:
    """``"X_GPU"``, ``"x-gpu"`` and ``"X GPU"`` -> ``"xgpu"``."""
    return _IGNORED.sub("", str(name).casefold())


def collisions(named: Iterable[tuple[str, str]]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """``[(path, name)]`` -> ``[((path, name), (earlier path, earlier name))]`` for every name that is
    the same as an earlier one under :func:`name_key` (exact duplicates included)."""
    seen: dict[str, tuple[str, str]] = {}
    out = []
    for path, name in named:
        key = name_key(name)
        if key in seen:
            out.append(((path, name), seen[key]))
        else:
            seen[key] = (path, name)
    return out
