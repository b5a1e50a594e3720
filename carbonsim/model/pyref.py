"""``python = "package.module:Class"``: a reference to a user's Python object (a policy).

The reference is a string so a scenario stays a plain file and a resolved scenario stays
picklable: worker processes of a study and Dask workers import the object themselves.  A
module is looked up on ``sys.path`` and then in the scenario file's folder (so a policy
written beside the scenario works without installing it).
"""
from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

from ..grid.files import note_read

PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_REF = re.compile(PATTERN)


class ReferenceError_(ImportError):
    """The reference cannot be loaded; ``str()`` says why, in one line."""


def _import(module: str, base_dir: str | None):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as err:
        top = module.split(".")[0]
        if err.name is None or err.name.split(".")[0] != top or not base_dir:
            raise
    # not on sys.path: try the scenario's folder, without leaving it on sys.path
    sys.path.insert(0, str(base_dir))
    try:
        return importlib.import_module(module)
    finally:
        try:
            sys.path.remove(str(base_dir))
        except ValueError:
            pass


def load(ref: str, base_dir: str | Path | None = None):
    """The object ``ref`` ("module:attribute.path") names.  Raises :class:`ReferenceError_`
    with a one-line reason (not found, raised on import, no such attribute)."""
    if not isinstance(ref, str) or not _REF.match(ref):
        raise ReferenceError_("must be 'package.module:Name' (a module importable by Python and a name in it)")
    module, _, attr = ref.partition(":")
    try:
        obj = _import(module, None if base_dir is None else str(base_dir))
    except ModuleNotFoundError as err:
        raise ReferenceError_(f"no module named {err.name!r} (on sys.path or in {base_dir or 'the current folder'})")\
            from None
    except Exception as err:      # the user's module raised while being imported
        raise ReferenceError_(f"importing {module!r} raised {type(err).__name__}: {err}") from None
    if getattr(obj, "__file__", None):
        note_read(obj.__file__)      # a study's checkpoint covers the module's source
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ReferenceError_(f"module {module!r} has no attribute {attr!r}") from None
    return obj
