"""Writing the command line's output files: checked before a long run starts, and written
atomically (a temporary file in the same folder, flushed to disk, then renamed over the
target), so a failed or interrupted write never leaves a half-written file."""
from __future__ import annotations

import contextlib
import os
from pathlib import Path

from ..model.errors import Problem, ScenarioError


def check_writable(path: str | os.PathLike, flag: str = "--output") -> None:
    """Refuse (ScenarioError) an output path that cannot be written: a folder, a missing or
    read-only folder.  Called before the work, so a study does not run for nothing."""
    p = Path(path)
    if p.is_dir():
        raise ScenarioError([Problem(flag, "is a folder, not a file", str(path),
                                     fix=f"give a file name, e.g. {Path(path) / 'out.json'}")])
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise ScenarioError([Problem(flag, f"folder {str(parent)!r} does not exist", str(path),
                                     fix="create it first, or write elsewhere")])
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ScenarioError([Problem(flag, f"folder {str(parent)!r} is not writable", str(path),
                                     fix="write elsewhere")])


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, flag: str = "--output"):
    """Yield a temporary path beside ``path``; once the block ends without an error it is
    renamed over ``path``.  A path that exists and is not a regular file (``/dev/stdout``, a
    pipe) is written in place.  An OSError becomes a ScenarioError naming the file."""
    p = Path(path)
    if p.exists() and not p.is_file():      # /dev/stdout, a pipe: written in place (nothing to rename)
        try:
            yield p
        except OSError as err:
            raise ScenarioError([Problem(flag, f"cannot write the file: {err.strerror or err}", str(path),
                                         fix="check the path and the free space")]) from None
        return
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, p)
    except OSError as err:
        raise ScenarioError([Problem(flag, f"cannot write the file: {err.strerror or err}", str(path),
                                     fix="check the path and the free space")]) from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_file(path: str | os.PathLike, data: str | bytes, flag: str = "--output") -> None:
    """Write ``data`` (text as UTF-8) to ``path`` atomically."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with atomic_path(path, flag) as tmp:
        with open(tmp, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
