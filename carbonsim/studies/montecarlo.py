"""Monte Carlo uncertainty and sensitivity studies (``carbonsim mc``).

Data flow::

    scenario document ──uncertainty.parse──▶ inputs (distributions, re-weighted / re-run)
        ──design (Sobol' / LHS / random, seeded)──▶ input values per sample
        ──group samples by their schedule-changing values──▶ one engine run per group
        ──re-weight the run's per-(workload, datacenter) base quantities──▶ outputs per sample
        ──▶ statistics, Sobol' indices (bootstrap intervals), tornado

Speed: most uncertain inputs (power, PUE, grid intensity or scale, CFE, embodied
carbon, lifetimes) only scale what the engine has already laid out.  For those,
one engine run records, per group of intervals sharing a workload (or pool) and
a datacenter, the chip-seconds and the chip-seconds weighted by the hourly
gross and net intensity; every sample is then a few vectorised products
(:class:`Basis`).  Samples whose schedule-changing values (chips, durations,
rates, grids, dates, ...) differ get their own engine run; those runs are what
a process pool or a Dask cluster parallelises.

Determinism: every sample's outputs are a pure function of its input values
(and, with ``vary_seed``, of its scenario seed, drawn from
``SeedSequence.spawn`` per block of samples), computed element by element, so
results are bit-identical for any number of workers, on Dask, and after a
resume from a checkpoint.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import hashlib
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .._version import __version__
from ..grid import data_version, recording_reads
from ..model import uncertain as unc
from ..model.draws import check_joint_draws
from ..model.distributions import percentile_key
from ..model.errors import Problem, ScenarioError
from .execution import (
    BASIS_CACHE,
    Checkpoint,
    NoProgress,
    StudyContext,
    StudyInterrupted,
    execute,
    make_chunks,
    run_chunk,
)
from .reweight import (
    DEFAULT_PERCENTILES,
    DEFAULT_SAMPLES,
    METRICS,
    SAVINGS_METRICS,
    Basis,
    InputMapping,
    Layout,
    build_basis,
    mapped_attributes,
    outputs_of,
    schedule_signature,
)
from .sensitivity import sobol_indices, tornado, tornado_rows

# ---------------------------------------------------------------------------
# The study
# ---------------------------------------------------------------------------


@dataclasses.dataclass
class UncertaintyResult:
    """What a Monte Carlo study computed.

    ``values`` holds one row per sample and one column per output
    (:class:`Layout`); :meth:`samples` picks one column, :meth:`stats`
    summarises it, :meth:`to_dict` is the ``"uncertainty"`` section of
    ``carbonsim mc --format json``.
    """

    scenario: unc.UncertainScenario
    nominal: Any                     # carbonsim.results.Result of the nominal case
    layout: Layout
    values: np.ndarray               # (samples, outputs)
    inputs: np.ndarray               # (samples, sampled inputs): the drawn values
    effects: tuple[str, ...]         # per sampled input: re-weighted or re-run
    method: str
    seed: int
    percentiles: tuple[float, ...]
    engine_runs: int
    backend: str
    seconds: float
    vary_seed: bool = False
    sensitivity: dict | None = None
    tornado: list | None = None
    savings_sensitivity: dict | None = None   # Sobol' indices of the net CO2e the policies save
    warnings: tuple[str, ...] = ()

    @property
    def n(self) -> int:
        return len(self.values)

    def samples(self, metric: str = "total_co2e_kg", phase: str | None = None, workload: str | None = None):
        entity = ("phase", phase) if phase else ("workload", workload) if workload else ("totals", None)
        return self.values[:, self.layout.column(entity, metric)]

    def stats(self, metric: str = "total_co2e_kg", phase: str | None = None, workload: str | None = None) -> dict:
        return _stats(self.samples(metric, phase, workload), self.percentiles)

    def interval(self, metric: str = "total_co2e_kg") -> tuple[float, float, float]:
        """(median, low, high) with low/high the outermost chosen percentiles."""
        v = self.samples(metric)
        lo, hi = min(self.percentiles), max(self.percentiles)
        return float(np.median(v)), float(np.percentile(v, lo)), float(np.percentile(v, hi))

    def to_dict(self) -> dict:
        m = self.layout
        out = {
            "method": self.method, "samples": self.n, "seed": self.seed, "percentiles": list(self.percentiles),
            "scenario_seed": "per sample (SeedSequence.spawn per block)" if self.vary_seed else "fixed",
            "nominal": "every uncertain input at its median (inverse CDF at 1/2)",
            "engine_runs": self.engine_runs, "backend": self.backend, "seconds": self.seconds,
            "inputs": [{**inp.to_dict(), "effect": eff} for inp, eff in zip(self.scenario.sampled, self.effects)]
                      + [inp.to_dict() for inp in self.scenario.inputs if inp.effect == unc.FIXED],
            "totals": {k: self.stats(k) for k in METRICS},
            "phases": {p: {k: self.stats(k, phase=p) for k in METRICS} for p in m.phases},
            "workloads": {w: {k: self.stats(k, workload=w) for k in METRICS} for w in m.workloads},
            "warnings": list(self.warnings),
        }
        if m.policies is not None:
            out["savings"] = {
                "baseline": "the same jobs run at submission in their home datacenter, in the same sample (common "
                            "random numbers: the same draws, jobs and grid)",
                "totals": {k: self.stats(k) for k in SAVINGS_METRICS},
                "workloads": {w: {k: self.stats(k, workload=w) for k in SAVINGS_METRICS} for w in m.policies}}
        if self.scenario.correlation is not None:
            out["correlation"] = {"inputs": [i.path for i in self.scenario.sampled],
                                  "matrix": self.scenario.correlation.tolist(), "copula": "gaussian"}
        if self.savings_sensitivity is not None:
            out["savings"]["sensitivity"] = self._sensitivity_dict(self.savings_sensitivity, "net_co2e_saved_kg")
        if self.sensitivity is not None:
            s = self.sensitivity
            out["sensitivity"] = {
                "output": "total_co2e_kg", "method": "Sobol' indices (Saltelli 2010 first order, Jansen total), "
                                                     "percentile bootstrap",
                "n": s["n"], "evaluations": s["n"] * (len(self.scenario.sampled) + 2),
                "confidence_level": s["confidence_level"], "n_resamples": s["n_resamples"],
                "inputs": [{"path": self.scenario.sampled[j].path, "S1": float(s["S1"][j]),
                            "S1_interval": [float(v) for v in s["S1_interval"][j]], "ST": float(s["ST"][j]),
                            "ST_interval": [float(v) for v in s["ST_interval"][j]]} for j in self.ranking()],
            }
        if self.tornado is not None:
            out["tornado"] = {"output": "total_co2e_kg", "percentiles": [min(self.percentiles), max(self.percentiles)],
                              "nominal_kg": self.tornado[0]["nominal"],
                              "inputs": [{k: v for k, v in t.items() if k != "nominal"}
                                         for t in sorted(self.tornado, key=lambda t: -t["swing"])]}
        return out

    def _sensitivity_dict(self, s: dict, output: str) -> dict:
        order = sorted(range(len(s["ST"])), key=lambda j: (-s["ST"][j], j))
        return {"output": output, "method": "Sobol' indices (Saltelli 2010 first order, Jansen total), percentile "
                                            "bootstrap", "n": s["n"], "confidence_level": s["confidence_level"],
                "inputs": [{"path": self.scenario.sampled[j].path, "S1": float(s["S1"][j]),
                            "S1_interval": [float(v) for v in s["S1_interval"][j]], "ST": float(s["ST"][j]),
                            "ST_interval": [float(v) for v in s["ST_interval"][j]]} for j in order]}

    def ranking(self) -> list[int]:
        """Indices of the sampled inputs, most influential first (by total-order index; as given without)."""
        if self.sensitivity is None:
            return list(range(len(self.scenario.sampled)))
        st = self.sensitivity["ST"]
        return sorted(range(len(st)), key=lambda j: (-st[j], j))

    def headline(self) -> str:
        """``total CO2e: 552 t, 90% interval 480-640 t`` (and what drives it, with sensitivity)."""
        from ..cli.tables import uncertainty_headline
        return uncertainty_headline(self)

    def format_table(self, fmt: str = "text") -> str:
        """The study's tables: ``fmt`` = ``"text"``, ``"markdown"`` or ``"latex"``."""
        from ..cli.tables import uncertainty_table
        return uncertainty_table(self, fmt)

    def to_frame(self):
        """One row per sample: the drawn value of every uncertain input (by path) and every output
        (``total_co2e_kg``, ..., then ``phase <p>: <metric>`` and ``workload <w>: <metric>``). Needs pandas."""
        pd = _pandas("to_frame()")
        data = {}
        for j, inp in enumerate(self.scenario.sampled):
            col = self.inputs[:, j]
            data[inp.path] = [inp.value(x) for x in col.tolist()] if inp.categorical or inp.integer else col
        for kind, name in self.layout.entities:
            prefix = "" if kind == "totals" else f"{kind} {name}: "
            for metric in METRICS:
                data[prefix + metric] = self.values[:, self.layout.column((kind, name), metric)]
        return pd.DataFrame(data).rename_axis("sample")

    def summary_frame(self):
        """One row per output (totals, phases, workloads) and metric: mean, std, s.e., median, min, max
        and the percentiles. Needs pandas."""
        pd = _pandas("summary_frame()")
        rows = []
        for kind, name in self.layout.entities:
            for metric in METRICS:
                where = {"phase": name} if kind == "phase" else {"workload": name} if kind == "workload" else {}
                s = self.stats(metric, **where)
                rows.append({"entity": kind, "name": name or "total", "metric": metric,
                             **{k: s[k] for k in ("mean", "std", "sem", "median", "min", "max")},
                             **{f"p{k}": v for k, v in s["percentiles"].items()}})
        return pd.DataFrame(rows).set_index(["entity", "name", "metric"])

    def __repr__(self) -> str:
        from ..cli.notebook import uncertainty_repr
        return uncertainty_repr(self)

    def _repr_html_(self) -> str:
        from ..cli.notebook import uncertainty_html
        return uncertainty_html(self)

    def plot(self, directory: str | os.PathLike) -> list[Path]:
        """Histogram and CDF of total CO2e, and the tornado chart if computed (needs matplotlib)."""
        from ..cli.plots import uncertainty_plots
        return uncertainty_plots(self, directory)


def _pandas(what: str):
    try:
        import pandas as pd
    except ImportError:
        raise ImportError(f"{what} needs pandas: pip install 'carbonsim[pandas]'") from None
    return pd


def _stats(v: np.ndarray, percentiles) -> dict:
    """Summary of one output's samples.  Samples where the output is undefined (NaN: a share of a
    baseline that emits nothing) are left out and counted; with none defined every figure is None."""
    v = np.asarray(v, dtype=float)
    undefined = int(np.isnan(v).sum())
    if undefined:
        v = v[~np.isnan(v)]
        if not len(v):
            return {"mean": None, "std": None, "sem": None, "median": None, "min": None, "max": None,
                    "percentiles": {percentile_key(p): None for p in percentiles}, "undefined_samples": undefined,
                    "reason": "undefined in every sample (a share of a baseline that emits nothing)"}
        return {**_stats(v, percentiles), "undefined_samples": undefined}
    n = len(v)
    std = float(np.std(v, ddof=1)) if n > 1 else 0.0
    if std <= 1e-12 * abs(float(np.mean(v))):   # a constant output, up to rounding
        std = 0.0
    return {"mean": float(np.mean(v)), "std": std, "sem": std / math.sqrt(n) if n else 0.0,
            "median": float(np.median(v)), "min": float(np.min(v)), "max": float(np.max(v)),
            "percentiles": {percentile_key(p): float(np.percentile(v, p)) for p in percentiles}}


def _load(scenario, source: str | None):
    """A path, a document, or a Scenario -> (document, source)."""
    from ..model import Scenario, read_toml
    if isinstance(scenario, (str, os.PathLike)):
        return read_toml(scenario), str(scenario)
    if isinstance(scenario, Scenario):
        return scenario.to_dict(), scenario.source
    if isinstance(scenario, Mapping):
        return dict(scenario), source
    raise TypeError(f"scenario must be a path, a document (dict) or a Scenario, got {type(scenario).__name__}")


def study_identity(document, reads: dict[str, str], options: dict) -> dict[str, str]:
    """What a study's result depends on, one hash per part: the scenario (document and its file's
    text), every file it references (grid, trace, profile, log CSVs, Python policy modules),
    the carbonsim version, the bundled data version and the study options."""
    def h(obj) -> str:
        return hashlib.sha256(_canonical(obj).encode()).hexdigest()[:16]
    out = {"scenario document": h(document), "carbonsim version": __version__,
           "bundled data": data_version(), "study options": h(options)}
    out.update({f"file {path}": digest[:16] for path, digest in sorted(reads.items())})
    return out


def _canonical(doc) -> str:
    return json.dumps(doc, sort_keys=True, default=lambda o: o.isoformat() if isinstance(o, dt.date) else str(o))


@dataclasses.dataclass
class Plan:
    """How a study evaluates its samples (see :func:`plan`)."""

    resolved: Any                  # the nominal case, resolved
    nominal: Any                   # its Result
    mapping: InputMapping
    layout: Layout
    reweighted: frozenset          # indices of sampled inputs re-weighted without an engine run
    direct: bool                   # True: every sample runs the whole pipeline (no re-weighting at all)
    basis: Basis | None            # the nominal engine run's basis
    warnings: list


def plan(u: unc.UncertainScenario, *, vary_seed: bool = False) -> Plan:
    """Resolve and run the nominal case; decide which inputs are re-weighted.

    An input classified as re-weightable stays so only if re-resolving the
    document with that input moved exactly the resolved quantities the
    re-weighting attributes to it (a probe per input, no engine run).  Then the
    re-weighted nominal case must reproduce the nominal run to 1e-9 on every
    output; if it does not (a workload type the re-weighting does not know),
    every sample runs the whole pipeline instead, with a warning.
    """
    from ..model import resolve
    from ..sim.simulate import run as run_resolved

    resolved = resolve(u.nominal_document, u.source)
    layout = Layout.of(resolved)
    warnings = []
    reweighted = {j for j, inp in enumerate(u.sampled) if inp.effect == unc.REWEIGHT}
    if vary_seed and _is_stochastic(resolved):
        reweighted = set()   # every sample has its own jobs: each needs its own engine run
    if reweighted:
        m = InputMapping.build(u, frozenset(reweighted))
        base = mapped_attributes(resolved, m)
        base_schedule = schedule_signature(resolved)
        for j in sorted(reweighted):
            inp = u.sampled[j]
            probe = None
            for q in (0.9, 0.1, 0.99, 0.01):
                v = inp.value(inp.dist.ppf(np.array([q]))[0])
                if v != inp.nominal:
                    probe = v
                    break
            if probe is None:
                continue
            doc = copy.deepcopy(u.nominal_document)
            unc.set_at(doc, inp.loc, probe)
            try:
                probed = resolve(doc, u.source)
                moved = mapped_attributes(probed, m)
            except ScenarioError:
                reweighted.discard(j)
                continue
            changed = {k for k in base if base[k][0] != moved.get(k, (None,))[0]}
            claimed = {k for k, (_, jj) in base.items() if jj == j}
            if (changed != claimed or any(moved[k][0] != probe for k in changed)
                    or schedule_signature(probed) != base_schedule):
                reweighted.discard(j)
                warnings.append(f"{inp.path}: re-run for every sample (its effect could not be mapped for "
                                f"re-weighting)")
    m = InputMapping.build(u, frozenset(reweighted))
    nominal = run_resolved(resolved)
    basis = build_basis(resolved, m, layout)
    x_nominal = np.array([[inp.dist.ppf(np.array([0.5]))[0] for inp in u.sampled]])
    got, expected = basis.evaluate(x_nominal)[0], outputs_of(nominal, layout)
    scale = np.maximum(np.abs(expected), 1e-12 * max(np.max(np.abs(expected)), 1e-300))
    direct = not np.all(np.abs(got - expected) <= 1e-9 * scale)
    if direct:
        warnings.append("re-weighting does not reproduce this scenario's nominal run; every sample runs the "
                        "whole pipeline (slower, same answer)")
        reweighted, basis = set(), None
    return Plan(resolved, nominal, m, layout, frozenset(reweighted), direct, basis, warnings)


#: Samples a study runs in full before trusting the fast path (``monte_carlo(verify=...)``).
DEFAULT_VERIFY = 3
#: Relative agreement the fast path must reach with a full run.
VERIFY_RTOL = 1e-9


def _disagreement(got: np.ndarray, expected: np.ndarray, layout: Layout) -> str | None:
    """Where the fast path's outputs of one sample differ from a full run's (None: they agree)."""
    scale = np.maximum(np.abs(expected), 1e-12 * max(float(np.max(np.abs(expected), initial=0.0)), 1e-300))
    both_nan = np.isnan(got) & np.isnan(expected)            # a share of a baseline of 0, both ways
    bad = np.flatnonzero(~((np.abs(got - expected) <= VERIFY_RTOL * scale) | both_nan))
    if not len(bad):
        return None
    k = int(bad[np.argmax(np.nan_to_num(np.abs(got - expected)[bad] / scale[bad], nan=np.inf))])
    (kind, name), metric = layout.describe(k)
    what = "total" if kind == "totals" else f"{kind} {name!r}"
    return f"{metric} of the {what}: {got[k]:.10g} re-weighted, {expected[k]:.10g} from a full run"


def verify_fast_path(u: unc.UncertainScenario, ctx: StudyContext, rows) -> str | None:
    """Run samples ``rows`` both ways, the fast path (one engine run per schedule, re-weighted) and the
    whole pipeline on the sample's own document; the first disagreement, or None."""
    from ..model import resolve
    from ..sim.simulate import run as run_resolved

    for i in rows:
        idx = np.array([i], dtype=np.int64)
        status, payload = run_chunk(ctx, [(ctx.keys(idx)[0], idx)])
        if status == "error":
            raise ScenarioError(payload, u.source)
        got = payload[0][1][0]
        doc = u.document_at(ctx.x[i])
        if ctx.seeds is not None:
            doc.setdefault("scenario", {})["seed"] = int(ctx.seeds[i])
        expected = outputs_of(run_resolved(resolve(doc, u.source)), ctx.layout)
        where = _disagreement(got, expected, ctx.layout)
        if where is not None:
            return f"sample {i}: {where}"
    return None


def _is_stochastic(resolved) -> bool:
    """Does the scenario draw anything from its seed (so that --vary-seed changes it)?"""
    if getattr(resolved, "services", ()):
        return True     # request arrivals, burstiness
    if any(st.rate_per_s is not None for st in resolved.job_streams):
        return True
    if any(0 < se.early_stopping_fraction < 1 for se in resolved.searches):
        return True
    return any(w.policy.forecast_error > 0 or w.policy.length_known == "distribution" for w in resolved.workloads)


def monte_carlo(scenario, *, samples: int | None = None, method: str | None = None, seed: int | None = None,
                percentiles=None, sensitivity: bool = False, bootstrap: int = 1000, confidence: float = 0.95,
                workers: int = 1, scheduler: str | None = None, dask: str | None = None,
                checkpoint: str | os.PathLike | None = None, resume: bool = False, checkpoint_every: float = 5.0,
                vary_seed: bool = False, progress=None, source: str | None = None,
                notes=None, verify: int = DEFAULT_VERIFY, engine: str | None = None,
                keep_checkpoint: bool = False) -> UncertaintyResult:
    """Sample a scenario's uncertain inputs and summarise the outputs.

    ``scenario``: a TOML path, a document (dict) or a :class:`carbonsim.Scenario`.
    ``samples`` (default: the file's ``[uncertainty] samples``, else 1000),
    ``method`` (``"sobol"``, ``"lhs"`` or ``"random"``), ``seed`` (default: the
    file's, else the scenario seed) and ``percentiles`` (default 5, 95).
    ``sensitivity=True`` adds Sobol' indices of total CO2e (a Saltelli design of
    n(d + 2) evaluations, n = samples rounded up to a power of 2; statistics then
    come from its n rows of A) and a one-at-a-time tornado.  ``workers``,
    ``scheduler`` (a Dask scheduler address) or ``dask="local"`` (a
    LocalCluster) parallelise the engine re-runs.  ``checkpoint``: a file the
    outputs are saved to every ``checkpoint_every`` seconds; ``resume=True``
    continues from it; it is removed when the study completes, unless ``keep_checkpoint=True``
    (the command line removes it only once the output is written).  ``vary_seed=True`` gives every sample its own scenario
    seed (Poisson arrivals, job sizes, early stopping and forecast errors then
    vary too), which needs an engine run per sample.  ``verify``: before trusting the fast path
    (re-weighting one engine run), this many samples are also run in full; if any output differs by
    more than 1e-9 (relative), every sample is run in full instead, with a warning saying so.
    """
    t_start = time.monotonic()
    with recording_reads() as reads:     # every file the result depends on (the checkpoint covers them)
        document, source = _load(scenario, source)
        if engine is not None:     # every sample's run, in every worker: the document says which engine
            document = {**document, "scenario": {**(document.get("scenario") or {}), "engine": engine}} \
                if isinstance(document.get("scenario", {}), Mapping) else document
        u = unc.parse(document, source)
        spec = u.spec
        n = samples if samples is not None else spec.samples or DEFAULT_SAMPLES
        method = method or spec.method or "sobol"
        if method not in unc.METHODS:
            raise ScenarioError([Problem("--method", "unknown sampling method", method, fix=f"one of {', '.join(unc.METHODS)}")])
        if seed is None:
            seed = spec.seed if spec.seed is not None else int((document.get("scenario") or {}).get("seed", 0) or 0)
        percentiles = tuple(float(p) for p in (percentiles or spec.percentiles or DEFAULT_PERCENTILES))
        for p in percentiles:
            if not 0 < p < 100:
                raise ScenarioError([Problem("--percentiles", "must be between 0 and 100 (exclusive)", p)])
        n, seed = unc.check_study_options(n, seed)
        if not u.sampled:
            raise ScenarioError([Problem("", "no uncertain inputs: nothing to sample", has_value=False,
                                         fix='give a value as a distribution, e.g. pue = {dist = "uniform", '
                                             'low = 1.08, high = 1.15} (docs/uncertainty.md)')], source)
        bar = progress if progress is not None else NoProgress()
        say = getattr(bar, "status", None) or (lambda text: None)
        say(f"nominal run and {len(u.sampled)} input probe(s)")
        pl = plan(u, vary_seed=vary_seed)
    say("sampling design")
    layout, reweighted, warnings = pl.layout, pl.reweighted, pl.warnings
    d = len(u.sampled)

    # -- the design ------------------------------------------------------------
    if sensitivity:
        n = 1 << max(1, math.ceil(math.log2(n)))
        ab = unc.unit_design(n, 2 * d, method, seed)
        a_u, b_u = ab[:, :d], ab[:, d:]
        blocks = [a_u, b_u]
        for i in range(d):
            m_u = a_u.copy()
            m_u[:, i] = b_u[:, i]
            blocks.append(m_u)
        x_main = u.transform(np.vstack(blocks))
        x_tornado, tornado_index = tornado_rows(u, percentiles)
        x_all = np.vstack([x_main, x_tornado])
    else:
        x_main = u.transform(u.design(n, method, seed))
        x_all, tornado_index = x_main, None
    unc.check_draws(u, x_main)
    check_joint_draws(u, x_main)
    vary_seed = vary_seed and _is_stochastic(pl.resolved)    # nothing to vary otherwise
    seeds = unc.sample_seeds(len(x_all), seed) if vary_seed else None
    schedule = tuple(j for j in range(d) if j not in reweighted)
    direct = pl.direct
    if reweighted and verify > 0:
        probe_ctx = StudyContext(u, x_main, seeds[:len(x_main)] if seeds is not None else None, schedule,
                                 pl.mapping, layout, "verify:" + hashlib.sha256(x_main.tobytes()).hexdigest(),
                                 direct)
        rows = list(dict.fromkeys([0, len(x_main) - 1, len(x_main) // 2, len(x_main) // 4]))[:verify]
        if pl.basis is not None and not schedule and seeds is None:
            BASIS_CACHE[(probe_ctx.fingerprint, ())] = pl.basis
        mismatch = verify_fast_path(u, probe_ctx, rows)
        if mismatch is not None:
            warnings.append(f"fast-path check failed ({mismatch}); every sample is run in full instead "
                            f"(slower, exact)")
            reweighted, direct = frozenset(), True
            schedule = tuple(range(d))
    identity = study_identity(document, reads, {
        "n": n, "method": method, "seed": seed, "sensitivity": sensitivity, "vary_seed": vary_seed,
        "reweighted": sorted(reweighted), "x": hashlib.sha256(np.ascontiguousarray(x_all).tobytes()).hexdigest()})
    fingerprint = hashlib.sha256(_canonical(identity).encode()).hexdigest()
    ctx = StudyContext(u, x_all, seeds, schedule, pl.mapping, layout, fingerprint, direct)
    if pl.basis is not None and not schedule and seeds is None and not direct:
        BASIS_CACHE[(fingerprint, ())] = pl.basis     # the nominal run serves every sample

    # -- run -------------------------------------------------------------------
    ckpt = Checkpoint(checkpoint, fingerprint, len(x_all), layout.n_out, checkpoint_every, identity=identity)
    ckpt.lock()        # a second study on this checkpoint is refused while this one runs
    try:
        if resume:
            resumed = ckpt.load()
            if not resumed and notes is not None:
                notes.append(f"no checkpoint at {checkpoint}: starting from the beginning")
        elif checkpoint is not None and Path(checkpoint).exists() and notes is not None:
            notes.append(f"starting over (the checkpoint at {checkpoint} is replaced; --resume continues it)")
        todo = np.flatnonzero(~ckpt.done)
        chunks = make_chunks(ctx, todo, workers) if len(todo) else []
        engine_runs = 1 if not schedule and seeds is None else len(set(ctx.keys(np.arange(len(x_all)))))
        bar.start(len(x_all), int(ckpt.done.sum()), "evaluations" if len(x_all) != n else "samples")
        backend = "checkpoint"
        try:
            if chunks:
                backend = execute(ctx, chunks, ckpt, bar, workers=workers, scheduler=scheduler, dask=dask)
        except KeyboardInterrupt:
            bar.close()
            done = int(ckpt.done.sum())
            try:
                saved = ckpt.save()
            except OSError as err:
                saved, where = False, f"; the checkpoint could not be written ({err.strerror}): nothing kept"
            else:
                where = (f"; saved to {checkpoint} (continue with --resume)" if saved else
                         "; nothing saved" if checkpoint is not None else "")
            raise StudyInterrupted(f"interrupted after {done:,} of {len(x_all):,} evaluations{where}") from None
        except BaseException:
            bar.close()
            try:
                ckpt.save()
            except OSError:
                pass
            raise
        bar.close()
        if keep_checkpoint:
            ckpt.save()       # the caller removes it once the results are safely written
        values = ckpt.values

        # -- summarise -------------------------------------------------------------
        col = layout.column()
        sens = tor = sens_savings = None
        if sensitivity:
            f = values[:, col]
            sens = sobol_indices(f[:n], f[n:2 * n], f[2 * n:(2 + d) * n].reshape(d, n), seed=seed,
                                 n_resamples=bootstrap, confidence=confidence)
            tor = tornado(u, values[(2 + d) * n:, col], tornado_index, percentiles)
            if layout.policies is not None:
                g = values[:, layout.column(("totals", None), "net_co2e_saved_kg")]
                sens_savings = sobol_indices(g[:n], g[n:2 * n], g[2 * n:(2 + d) * n].reshape(d, n), seed=seed,
                                             n_resamples=bootstrap, confidence=confidence)
            if u.correlation is not None:
                warnings.append("correlated inputs: Sobol' indices assume independent inputs (see docs/uncertainty.md)")
        if not keep_checkpoint:
            ckpt.remove()
        effects = tuple(unc.REWEIGHT if j in reweighted else unc.SCHEDULE for j in range(d))
        return UncertaintyResult(
            scenario=u, nominal=pl.nominal, layout=layout, values=values[:n].copy(), inputs=x_main[:n].copy(),
            effects=effects, method=method, seed=seed, percentiles=percentiles, engine_runs=engine_runs,
            backend=backend, seconds=time.monotonic() - t_start, vary_seed=vary_seed, sensitivity=sens, tornado=tor,
            warnings=tuple(warnings), savings_sensitivity=sens_savings)
    finally:
        ckpt.unlock()




# ---------------------------------------------------------------------------
