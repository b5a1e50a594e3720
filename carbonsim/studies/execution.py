"""Running a study's samples: one chunk in-process, on a process pool or on Dask, with checkpoints.

Every sample's outputs are a pure function of its input values, computed element
by element, so results are bit-identical for any number of workers, on Dask, and
after a resume from a checkpoint.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import os
import signal
import sys
import time
from pathlib import Path

import numpy as np

from ..model import uncertain as unc
from ..model.errors import Problem, ScenarioError
from .reweight import FAST_CHUNK, Basis, InputMapping, Layout, build_basis, outputs_of

# Work: what a worker needs, and one chunk of it
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class StudyContext:
    """Everything a worker needs (pickled once per worker)."""

    u: unc.UncertainScenario
    x: np.ndarray                  # input values, one row per evaluation
    seeds: np.ndarray | None       # per-evaluation scenario seeds (vary_seed), else None
    schedule: tuple[int, ...]      # columns of x that change the schedule
    mapping: InputMapping
    layout: Layout
    fingerprint: str
    direct: bool = False           # run the whole pipeline per key (see Plan)

    def keys(self, idx: np.ndarray) -> list[tuple]:
        """The schedule key of each evaluation in ``idx``: its schedule-changing values (and seed)."""
        idx = np.asarray(idx, dtype=np.int64)
        inputs = self.u.sampled
        cols = [[inputs[j].value(v) for v in self.x[idx, j].tolist()] for j in self.schedule]
        if self.seeds is not None:
            cols.append(self.seeds[idx].tolist())
        if not cols:
            return [()] * len(idx)
        return list(zip(*cols))

    def document(self, key: tuple) -> dict:
        doc = copy.deepcopy(self.u.nominal_document)
        for j, v in zip(self.schedule, key):
            unc.set_at(doc, self.u.sampled[j].loc, v)
        if self.seeds is not None:
            doc.setdefault("scenario", {})["seed"] = key[-1]
        return doc


BASIS_CACHE: dict = {}      # per process: (fingerprint, key) -> Basis (the last few)


def _basis_for(ctx: StudyContext, key: tuple) -> Basis:
    from ..model import resolve
    ck = (ctx.fingerprint, key)
    b = BASIS_CACHE.get(ck)
    if b is None:
        b = build_basis(resolve(ctx.document(key), ctx.u.source), ctx.mapping, ctx.layout)
        if len(BASIS_CACHE) >= 8:
            BASIS_CACHE.pop(next(iter(BASIS_CACHE)))
        BASIS_CACHE[ck] = b
    return b


def run_chunk(ctx: StudyContext, chunk: list) -> tuple:
    """``chunk`` = [(key, sample indices)] -> ("ok", [(indices, outputs)]) or ("error", problems)."""
    from ..model import resolve
    from ..sim.simulate import run as run_resolved
    out = []
    for key, idx in chunk:
        try:
            if ctx.direct:
                values = outputs_of(run_resolved(resolve(ctx.document(key), ctx.u.source)), ctx.layout)
                out.append((idx, np.tile(values, (len(idx), 1))))
                continue
            basis = _basis_for(ctx, key)
        except ScenarioError as err:
            i = int(idx[0])
            what = ", ".join(f"{ctx.u.sampled[j].path} = {ctx.u.sampled[j].value(ctx.x[i, j])!r}"
                             for j in ctx.schedule)
            return ("error", [dataclasses.replace(p, rule=f"{p.rule} [in sample {i}: {what}]")
                              for p in err.problems])
        out.append((idx, basis.evaluate(ctx.x[idx])))
    return ("ok", out)


_WORKER_CTX: StudyContext | None = None


def _init_worker(ctx: StudyContext) -> None:
    global _WORKER_CTX
    _WORKER_CTX = ctx
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # the parent handles Ctrl-C and stops the pool
    _die_with_parent()


def _die_with_parent() -> None:
    """Linux: end this worker when the parent dies (e.g. killed with SIGKILL), so none lingers."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)   # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass


def _run_chunk_in_worker(chunk):
    return run_chunk(_WORKER_CTX, chunk)


def _run_chunk_dask(ctx: StudyContext, chunk):
    return run_chunk(ctx, chunk)


# ---------------------------------------------------------------------------
# Progress and checkpoints
# ---------------------------------------------------------------------------




class Checkpoint:
    """Done flags and outputs per evaluation, written atomically (a temporary file of this
    process, then rename), with the study's identity (one hash per part it depends on) so
    that a resume after any change is refused, naming what changed.  While a study runs it
    holds a lock beside the file (``FILE.lock``): a second study with the same checkpoint is
    refused instead of sharing it."""

    def __init__(self, path: str | os.PathLike | None, fingerprint: str, n: int, n_out: int, every: float,
                 identity: dict[str, str] | None = None):
        self.path = Path(path) if path is not None else None
        self.fingerprint, self.every = fingerprint, every
        self.identity = dict(identity or {})
        self.done = np.zeros(n, dtype=bool)
        self.values = np.zeros((n, n_out))
        self.last_save = time.monotonic()
        self.dirty = False
        self._lock_fd: int | None = None

    # -- the lock ------------------------------------------------------------
    def lock(self) -> None:
        """Take the checkpoint's lock, or refuse (ScenarioError) when another study holds it."""
        if self.path is None or self._lock_fd is not None:
            return
        import fcntl
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            raise ScenarioError([Problem("--checkpoint", f"cannot create the checkpoint's lock file {lock_path}: "
                                         f"{err.strerror}", str(self.path),
                                         fix="pass --checkpoint in a folder you can write")]) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            try:
                other = os.read(fd, 32).decode(errors="replace").strip()
            finally:
                os.close(fd)
            raise ScenarioError([Problem("--checkpoint", "another study is using this checkpoint"
                                         + (f" (process {other})" if other else ""), str(self.path),
                                         fix="wait for it to finish, or pass another --checkpoint")]) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def unlock(self) -> None:
        if self._lock_fd is None:
            return
        fd, self._lock_fd = self._lock_fd, None
        try:
            self.path.with_name(self.path.name + ".lock").unlink()
        except OSError:
            pass
        os.close(fd)     # closing releases the lock (so does the process ending)

    # -- reading and writing ---------------------------------------------------
    def load(self) -> bool:
        """Continue from the file if it is there; False when there is nothing to resume."""
        if self.path is None or not self.path.exists():
            return False
        try:
            with np.load(self.path, allow_pickle=False) as z:
                fp = str(z["fingerprint"])
                done, values = z["done"], z["values"]
                identity = json.loads(str(z["identity"])) if "identity" in z.files else {}
        except Exception as err:   # truncated, empty, not an npz file, missing arrays: all the file's fault
            raise ScenarioError([Problem("--checkpoint", f"cannot read checkpoint (damaged or not a carbonsim "
                                         f"checkpoint: {type(err).__name__})", str(self.path),
                                         fix="delete it to start over")]) from None
        if fp != self.fingerprint or done.shape != self.done.shape or values.shape != self.values.shape:
            changed = [k for k in sorted(set(identity) | set(self.identity)) if identity.get(k) != self.identity.get(k)]
            rule = (f"cannot resume: changed since the checkpoint was written: {', '.join(changed)}"
                    if identity and changed else
                    "the checkpoint is of another study (another file, sample count, method, seed or version)")
            raise ScenarioError([Problem("--checkpoint", rule, str(self.path),
                                         fix="delete it to start over, or pass another --checkpoint")])
        self.done, self.values = done.copy(), values.copy()
        return True

    def record(self, idx: np.ndarray, values: np.ndarray) -> None:
        self.values[idx] = values
        self.done[idx] = True
        self.dirty = True
        if self.path is not None and time.monotonic() - self.last_save >= self.every:
            self.save()

    def _tmp(self) -> Path:
        return self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")

    def save(self) -> bool:
        """Write what is done (if anything changed); True when the file holds it."""
        if self.path is None:
            return False
        if not self.dirty:
            return self.path.exists() and bool(self.done.any())
        tmp = self._tmp()
        try:
            with open(tmp, "wb") as f:
                np.savez(f, fingerprint=np.array(self.fingerprint), done=self.done, values=self.values,
                         identity=np.array(json.dumps(self.identity, sort_keys=True)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                tmp.unlink()
            except OSError:
                pass
            raise
        self.last_save = time.monotonic()
        self.dirty = False
        return True

    @staticmethod
    def discard(path: str | os.PathLike | None) -> None:
        """Delete a finished study's checkpoint file (nothing if there is none)."""
        if path is not None:
            try:
                Path(path).unlink()
            except OSError:
                pass

    def remove(self) -> None:
        if self.path is not None:
            Checkpoint.discard(self.path)
            Checkpoint.discard(self._tmp())


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C during a study: what was done is in the checkpoint."""


# ---------------------------------------------------------------------------
# Execution backends
# ---------------------------------------------------------------------------


def make_chunks(ctx: StudyContext, todo: np.ndarray, workers: int) -> list[list]:
    """Group the evaluations still to do by schedule key (one engine run each) and cut into chunks."""
    if not ctx.schedule and ctx.seeds is None:
        items = [((), np.asarray(todo, dtype=np.int64))]       # one engine run serves every sample
    else:
        groups: dict[tuple, list[int]] = {}
        for i, k in zip(todo.tolist(), ctx.keys(todo)):
            groups.setdefault(k, []).append(i)
        items = [(k, np.asarray(v, dtype=np.int64)) for k, v in groups.items()]
    if len(items) == 1:
        key, idx = items[0]
        return [[(key, idx[a:a + FAST_CHUNK])] for a in range(0, len(idx), FAST_CHUNK)]
    per = max(1, min(16, len(items) // (8 * max(workers, 1))))
    # the first chunks hold one engine run each, so that progress (and its ETA) shows from the start
    first = min(len(items), 2 * max(workers, 1)) if per > 1 else 0
    return [items[a:a + 1] for a in range(first)] + [items[a:a + per] for a in range(first, len(items), per)]


def execute(ctx: StudyContext, chunks: list, ckpt: Checkpoint, progress, *, workers: int,
             scheduler: str | None, dask: str | None) -> str:
    """Run every chunk, recording results as they come; returns the backend used."""
    def take(result):
        status, payload = result
        if status == "error":
            raise ScenarioError(payload, ctx.u.source)
        for idx, values in payload:
            ckpt.record(idx, values)
            progress.update(len(idx))

    n_runs = len({key for chunk in chunks for key, _ in chunk})   # engine runs still to do
    if (scheduler or dask) and n_runs > 1:
        _execute_dask(ctx, chunks, take, workers=workers, scheduler=scheduler, local=dask == "local")
        return "dask" if scheduler else "dask-local"
    if workers <= 1 or len(chunks) <= 1 or n_runs <= 1:
        for chunk in chunks:
            take(run_chunk(ctx, chunk))
        return "serial"
    import multiprocessing as mp
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    pool = mp.get_context(method).Pool(min(workers, len(chunks)), initializer=_init_worker, initargs=(ctx,))
    try:
        for result in pool.imap_unordered(_run_chunk_in_worker, chunks):
            take(result)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()
    return "processes"


def _execute_dask(ctx, chunks, take, *, workers: int, scheduler: str | None, local: bool) -> None:
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ScenarioError([Problem("--scheduler" if scheduler else "--dask", "needs Dask's distributed scheduler",
                                     has_value=False, fix='pip install "carbonsim[dask]"')]) from None
    import logging
    cluster = None
    if local:
        cluster = LocalCluster(n_workers=max(1, workers), threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.ERROR)
        client = Client(cluster)
    else:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as err:
            raise ScenarioError([Problem("--scheduler", f"cannot reach the Dask scheduler: {err}", scheduler,
                                         fix="start one with `dask scheduler` and `dask worker ADDRESS`, or use "
                                             "--dask local")]) from None
    futures = []
    try:
        ctx_future = client.scatter(ctx, broadcast=True)
        futures = [client.submit(_run_chunk_dask, ctx_future, c, pure=False) for c in chunks]
        for fut in as_completed(futures):
            take(fut.result())
    finally:
        if futures:
            client.cancel(futures)
        client.close()
        if cluster is not None:
            cluster.close()


# ---------------------------------------------------------------------------


class NoProgress:
    """The progress reporter of a study run from Python: silent.  Any object with
    ``start(total, done, unit)``, ``update(k)`` and ``close()`` may be passed as
    ``monte_carlo(progress=...)`` (the CLI passes its progress bar)."""

    def start(self, total: int, done: int = 0, unit: str = "samples") -> None:
        pass

    def status(self, text: str) -> None:
        """What the study is doing before its samples run (optional in a progress object)."""

    def update(self, k: int) -> None:
        pass

    def close(self) -> None:
        pass
