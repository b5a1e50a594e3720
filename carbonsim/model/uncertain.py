"""Uncertain scenarios: the pre-pass that finds every distribution in a document.

Any value of a scenario file may be given as an inline table with a ``dist`` key
instead of a number (or a string, or a date)::

    pue = {dist = "triangular", low = 1.08, mode = 1.10, high = 1.15}
    grid = {dist = "choice", values = ["eia:CISO", "eia:PJM"], weights = [0.7, 0.3]}

except where the file format already takes a per-job distribution
(``workloads.job_stream[*].chips``, ``.duration_hours``, ``.flops``): those draw a
new value for every job, inside one run, and are left alone here.

- :func:`parse` walks a raw scenario document, finds every uncertain value, validates
  each distribution (errors are :class:`carbonsim.ScenarioError` with the field path),
  classifies it as *re-weightable* (it scales the energy or carbon of intervals the
  engine has already laid out) or *schedule-changing* (anything else), and builds the
  nominal document.
- :func:`nominal` is the pre-pass for ordinary runs: the document with every uncertain
  value replaced by its median (the value the sampler returns at u = 0.5).
- :meth:`UncertainScenario.design` draws the unit-hypercube design (scrambled Sobol',
  Latin hypercube or plain random, from :mod:`scipy.stats.qmc`/NumPy, seeded), optionally
  correlated through a Gaussian copula, and :meth:`UncertainScenario.transform` maps it
  through each input's inverse CDF.

Distributions are part of the model (the parse step needs them for the nominal pre-pass
and for per-job draws); running samples, re-weighting and statistics live in
:mod:`carbonsim.studies`.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import operator
import types
import typing
from typing import Any, Literal, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .interrupts import deferred_interrupt

from .distributions import (
    NOT_UNCERTAIN,
    PER_JOB_KEYS,
    Choice,
    Distribution,
    Empirical,
    Fixed,
    build_distribution,
    dedupe_problems,
    distribution_problems,
)
from .errors import Problem, ScenarioError, field_path, pydantic_rule
from .problems import problems_from
from .spec import ScenarioFile

METHODS = ("sobol", "lhs", "random")


#: Samples per block: plain random draws and per-sample scenario seeds come from
#: ``SeedSequence(seed).spawn(...)``, one child per block of this many samples,
#: so they do not depend on how the work is split between workers.
SAMPLE_BLOCK = 1024




# ---------------------------------------------------------------------------
# The scenario pre-pass.
# ---------------------------------------------------------------------------


REWEIGHT, SCHEDULE, FIXED = "re-weighted", "re-run", "fixed"

DC_REWEIGHT = {"pue", "grid_intensity_gco2e_per_kwh", "grid_scale", "cfe", "net_grid_intensity_gco2e_per_kwh"}
DC_FORECAST = {"grid_intensity_gco2e_per_kwh", "grid_scale"}   # carbon-aware policies see these
HW_REWEIGHT = {"system_power_w", "idle_w", "embodied_kgco2e", "lifetime_years"}


@dataclasses.dataclass(frozen=True)
class UncertainInput:
    """One uncertain value of a scenario document."""

    loc: tuple                 # ("datacenters", "dc", "pue")
    dist: Distribution
    effect: str                # REWEIGHT, SCHEDULE or FIXED
    integer: bool = False      # the field takes whole numbers: draws are rounded

    @property
    def path(self) -> str:
        return field_path(self.loc)

    @property
    def categorical(self) -> bool:
        return self.dist.categorical

    def value(self, x: float) -> Any:
        """A sampled number (a category code for categoricals) -> the value written into the document."""
        if self.dist.categorical:
            return self.dist.levels[int(x)]
        if self.integer:
            return int(round(float(x)))
        return float(x)

    @property
    def nominal(self) -> Any:
        x = self.dist.ppf(np.array([0.5]))[0]
        return self.value(x)

    def to_dict(self) -> dict:
        nominal = self.nominal
        return {"path": self.path, "dist": self.dist.model_dump(mode="json", exclude_none=True, by_alias=True),
                "nominal": nominal.isoformat() if isinstance(nominal, dt.date) else nominal, "effect": self.effect}


class CorrelationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
    inputs: list[str] = Field(min_length=2, max_length=2)
    rho: float = Field(gt=-1, lt=1)


#: Limits of a Monte Carlo study, wherever its options come from (the file's ``[uncertainty]``,
#: the command line, the Python API): samples in 2..MAX_SAMPLES, seeds in 0..2**63 - 1.
MAX_SAMPLES = 10_000_000
MAX_SEED = 2**63 - 1


def _integer(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def check_study_options(samples, seed) -> tuple[int, int]:
    """``(samples, seed)`` as integers; ScenarioError (``--samples`` / ``--seed``) outside the study limits."""
    problems = []
    n, s = _integer(samples), _integer(seed)
    if n is None or not 2 <= n <= MAX_SAMPLES:
        problems.append(Problem("--samples", f"must be an integer between 2 and {MAX_SAMPLES:,}", samples,
                                fix="the limit of a Monte Carlo study (docs/scenario-format.md)"))
    if s is None or not 0 <= s <= MAX_SEED:
        problems.append(Problem("--seed", "must be an integer between 0 and 2**63 - 1", seed,
                                fix="for example --seed 42"))
    if problems:
        raise ScenarioError(problems)
    return n, s


class StudySpec(BaseModel):
    """``[uncertainty]``: defaults of ``carbonsim mc`` for this file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
    samples: int | None = Field(None, ge=2, le=MAX_SAMPLES)
    method: Literal["sobol", "lhs", "random"] | None = None
    seed: int | None = Field(None, ge=0, le=MAX_SEED)
    percentiles: list[float] | None = Field(None, min_length=1, max_length=20)
    correlations: list[CorrelationSpec] = Field(default_factory=list, max_length=10_000)
    description: str = ""


@dataclasses.dataclass
class UncertainScenario:
    """A scenario document with its uncertain inputs found, checked and classified."""

    document: dict                     # as given (with the distributions)
    nominal_document: dict             # every uncertain value at its median; no [uncertainty] table
    inputs: tuple[UncertainInput, ...]
    spec: StudySpec
    correlation: np.ndarray | None     # over the sampled (non-fixed) inputs, or None
    source: str | None = None

    @property
    def sampled(self) -> tuple[UncertainInput, ...]:
        """The inputs that vary (fixed ones are just written into the nominal document)."""
        return tuple(i for i in self.inputs if i.effect != FIXED)

    def note(self) -> str:
        names = [i.path for i in self.sampled]
        shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
        return (f"{len(names)} uncertain input(s) ({shown}): ran the nominal case, each at its median; "
                f"carbonsim mc samples them")

    # -- designs ----------------------------------------------------------

    def design(self, n: int, method: str = "sobol", seed: int = 0, *, dims: int | None = None) -> np.ndarray:
        """``n`` points in [0, 1)^dims (default: one column per sampled input), seeded.

        ``sobol`` is a scrambled Sobol' sequence and ``lhs`` a Latin hypercube
        (both scipy.stats.qmc, their randomisation seeded from ``seed``);
        ``random`` draws each block of SAMPLE_BLOCK samples from its own child
        of ``SeedSequence(seed)``.
        """
        return unit_design(n, dims if dims is not None else len(self.sampled), method, seed)

    def transform(self, u: np.ndarray) -> np.ndarray:
        """Unit design (n x d) -> input values (category codes for categoricals), correlated if asked."""
        u = np.asarray(u, dtype=float)
        if self.correlation is not None:
            u = gaussian_copula(u, self.correlation)
        x = np.empty_like(u)
        for j, inp in enumerate(self.sampled):
            x[:, j] = inp.dist.ppf(u[:, j])
        return x

    # -- documents --------------------------------------------------------

    def document_at(self, x_row, which=None, base: dict | None = None) -> dict:
        """The nominal document (or ``base``) with sampled inputs ``which`` (default all) set from ``x_row``."""
        doc = copy.deepcopy(self.nominal_document if base is None else base)
        for j in (range(len(self.sampled)) if which is None else which):
            inp = self.sampled[j]
            set_at(doc, inp.loc, inp.value(x_row[j]))
        return doc


def unit_design(n: int, d: int, method: str, seed: int) -> np.ndarray:
    from scipy.stats import qmc

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    design_ss, blocks_ss = child_seed(seed, 0), child_seed(seed, 1)
    if d == 0:
        return np.zeros((n, 0))
    if method == "random":
        n_blocks = -(-n // SAMPLE_BLOCK)
        out = np.empty((n, d))
        for b, ss in enumerate(blocks_ss.spawn(n_blocks)):
            a = b * SAMPLE_BLOCK
            m = min(SAMPLE_BLOCK, n - a)
            out[a:a + m] = np.random.default_rng(ss).random((m, d))
        return out
    rng = np.random.default_rng(design_ss)
    engine = qmc.Sobol if method == "sobol" else qmc.LatinHypercube
    with deferred_interrupt():      # scipy's one-time Sobol' table set-up must not be cut short
        try:
            sampler = engine(d, scramble=True, rng=rng)
        except TypeError:   # scipy < 1.15 names it seed
            sampler = engine(d, scramble=True, seed=rng)
    import warnings
    with warnings.catch_warnings():
        # Sobol' balance is best at powers of 2; other sizes are still valid, just less even
        warnings.filterwarnings("ignore", message=".*balance properties.*")
        return sampler.random(n)


def child_seed(seed: int, i: int) -> np.random.SeedSequence:
    """Child ``i`` of ``SeedSequence(seed)`` (what ``.spawn`` returns at position i): 0 the design,
    1 the sample blocks, 2 the bootstrap of the sensitivity indices."""
    return np.random.SeedSequence(seed, spawn_key=(i,))


def sample_seeds(n: int, seed: int) -> np.ndarray:
    """One scenario seed per sample, from ``SeedSequence(seed)``'s children per block of SAMPLE_BLOCK."""
    blocks_ss = child_seed(seed, 1)
    n_blocks = -(-n // SAMPLE_BLOCK)
    out = np.empty(n, dtype=np.int64)
    for b, ss in enumerate(blocks_ss.spawn(n_blocks)):
        a = b * SAMPLE_BLOCK
        m = min(SAMPLE_BLOCK, n - a)
        out[a:a + m] = (ss.spawn(1)[0].generate_state(m, np.uint64) >> np.uint64(1)).astype(np.int64)
    return out


def gaussian_copula(u: np.ndarray, corr: np.ndarray) -> np.ndarray:
    """Correlate the columns of a unit design: normal scores, times the Cholesky factor, back to [0, 1).
    ``corr`` is the correlation of the normal scores (close to Spearman's rank correlation)."""
    from scipy.special import ndtr, ndtri
    z = ndtri(np.clip(u, 1e-12, 1 - 1e-12))
    return np.clip(ndtr(z @ np.linalg.cholesky(corr).T), 0.0, np.nextafter(1.0, 0.0))


# ---------------------------------------------------------------------------
# Finding uncertain values
# ---------------------------------------------------------------------------


def _is_dist(value) -> bool:
    return isinstance(value, Mapping) and "dist" in value


def find_uncertain(document: Mapping) -> list[tuple[tuple, Mapping]]:
    """``[(loc, table)]`` of every ``{dist = ...}`` value outside the per-job distributions."""
    found: list[tuple[tuple, Mapping]] = []

    def walk(node, loc):
        if _is_dist(node):
            found.append((loc, node))
            return
        if isinstance(node, Mapping):
            per_job = len(loc) == 3 and loc[0] == "workloads" and loc[1] == "job_stream"
            for k, v in node.items():
                if not loc and k == "uncertainty":
                    continue
                if per_job and k in PER_JOB_KEYS:
                    continue
                walk(v, loc + (k,))
        elif isinstance(node, list):
            for i, v in enumerate(node):
                walk(v, loc + (i,))

    walk(document, ())
    return found


def set_at(doc: dict, loc: tuple, value) -> None:
    node = doc
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value


def get_at(doc, loc: tuple, default=None):
    node = doc
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return default
    return node


def field_annotation(loc: tuple):
    """The file-format annotation of the field at ``loc`` (None if there is no such field)."""

    def unwrap(t):
        if typing.get_origin(t) is typing.Annotated:
            t = typing.get_args(t)[0]
        return t

    t: Any = ScenarioFile
    for part in loc:
        t = unwrap(t)
        if typing.get_origin(t) in (typing.Union, types.UnionType):
            models = [a for a in typing.get_args(t) if isinstance(a, type) and issubclass(a, BaseModel)]
            t = models[0] if models else t
        if isinstance(t, type) and issubclass(t, BaseModel):
            if not isinstance(part, str) or part not in t.model_fields:
                return None
            t = t.model_fields[part].annotation
        elif typing.get_origin(t) in (list, dict):
            t = typing.get_args(t)[-1]
        else:
            return None
    return unwrap(t)


def _is_integer_field(loc: tuple) -> bool:
    t = field_annotation(loc)
    args = set(typing.get_args(t)) if typing.get_origin(t) in (typing.Union, types.UnionType) else {t}
    return int in args and float not in args


def _has_policies(document: Mapping) -> bool:
    """Does any workload use a carbon-aware policy (which reads grid intensities to schedule)?"""
    workloads = document.get("workloads")
    if not isinstance(workloads, Mapping):
        return False
    for items in workloads.values():
        for w in items if isinstance(items, list) else ():
            if not isinstance(w, Mapping):
                continue
            final = w.get("final_training")
            for p in (w.get("policy"), final.get("policy") if isinstance(final, Mapping) else None):
                if not isinstance(p, Mapping):
                    continue
                if _is_dist(p) or any(_is_dist(v) for v in p.values()):
                    return True
                if p.get("placement", "fixed") != "fixed" or p.get("shift", "none") != "none" or "python" in p:
                    return True
    return False


def _strings(value) -> list[str]:
    """A name, or every name a ``{dist = "choice", values = [...]}`` can take."""
    if isinstance(value, str):
        return [value]
    if _is_dist(value) and isinstance(value.get("values"), list):
        return [v for v in value["values"] if isinstance(v, str)]
    return []


def served_hardware(document: Mapping) -> frozenset:
    """Name keys (:func:`carbonsim.model.names.name_key`) of every hardware entry whose values reach a
    service's serving model, following ``base = ...`` and catalog aliases."""
    from .hardware import CATALOG, find
    from .names import name_key

    workloads = document.get("workloads") if isinstance(document.get("workloads"), Mapping) else {}
    services = workloads.get("service") if isinstance(workloads.get("service"), list) else []
    used: set[str] = set()
    for sv in services:
        for name in _strings(sv.get("hardware")) if isinstance(sv, Mapping) else ():
            used.add(name_key(name))
            entry = find(name, CATALOG)
            if entry is not None:
                used.add(name_key(entry.name))
    table = document.get("hardware") if isinstance(document.get("hardware"), Mapping) else {}
    grown = True
    while grown:        # a served entry's base is served too (its values flow into the entry)
        grown = False
        for name, entry in table.items():
            if name_key(name) in used and isinstance(entry, Mapping):
                for base in _strings(entry.get("base")):
                    keys = {name_key(base)} | ({name_key(e.name)} if (e := find(base, CATALOG)) else set())
                    if not keys <= used:
                        used |= keys
                        grown = True
    return frozenset(used)


#: Hardware values a service's serving model uses: its busy power sets the per-query service time
#: (energy_wh_per_query), hence the schedule, and busy and idle power mix by utilisation.
HW_SERVING = {"system_power_w", "tdp_w", "idle_w"}


def _classify(loc: tuple, dist: Distribution, document: Mapping, policies: bool, hw_bases_uncertain: bool,
              served: frozenset = frozenset()) -> str:
    from .names import name_key
    if dist.is_fixed:
        return FIXED
    key = loc[-1]
    if loc[0] == "datacenters" and len(loc) == 3 and key in DC_REWEIGHT:
        if key in DC_FORECAST and policies:
            return SCHEDULE
        if key == "cfe" and dist.categorical:
            return SCHEDULE    # switches between "grid" and a share
        return REWEIGHT
    if loc[0] == "datacenters" and len(loc) == 5 and loc[2] == "pools" and key == "idle_w_per_chip":
        return REWEIGHT
    if loc[0] == "workloads" and key == "power_w_per_chip" and loc[1] in ("training", "job_stream", "search") and (
            len(loc) == 4 or (len(loc) == 5 and loc[1] == "search" and loc[3] == "final_training")):
        return REWEIGHT
    if loc[0] == "hardware" and len(loc) == 3 and key in HW_REWEIGHT and not hw_bases_uncertain:
        if key in HW_SERVING and name_key(loc[1]) in served:
            return SCHEDULE    # a service's energy and schedule follow it through the serving model
        return REWEIGHT
    return SCHEDULE


def parse(document: Mapping, source: str | None = None) -> UncertainScenario:
    """Find, check and classify the uncertain values of a scenario document.

    Raises :class:`ScenarioError` listing every bad distribution with its path.
    The nominal document is *not* validated here: :func:`carbonsim.model.resolve` does that.
    """
    if not isinstance(document, Mapping):
        raise ScenarioError([Problem("", "a scenario must be a table of keys", type(document).__name__)], source)
    problems: list[Problem] = []
    found = find_uncertain(document)
    policies = _has_policies(document)
    hw_bases_uncertain = any(loc[0] == "hardware" and loc[-1] == "base" for loc, _ in found)
    served = served_hardware(document)
    inputs: list[UncertainInput] = []
    for loc, table in found:
        where = field_path(loc)
        if any(isinstance(p, str) and p in NOT_UNCERTAIN for p in loc):
            problems.append(Problem(where, "cannot be uncertain (it names, describes or reports something)",
                                    has_value=False, fix="give a plain value"))
            continue
        if loc[0] == "uncertainty" or (loc and loc[0] == "scenario" and loc[-1] == "seed"):
            problems.append(Problem(where, "cannot be uncertain", has_value=False,
                                    fix="carbonsim mc --vary-seed draws a scenario seed per sample"))
            continue
        ps = distribution_problems(table, loc)
        if ps:
            problems += ps
            continue
        dist = build_distribution(table)
        integer = _is_integer_field(loc)
        if integer and not dist.categorical and isinstance(dist, (Choice, Empirical, Fixed)):
            vals = dist.values if isinstance(dist, (Choice, Empirical)) else [dist.value]
            bad = [v for v in vals if float(v) != int(float(v))]
            if bad:
                problems.append(Problem(f"{where}.values" if not isinstance(dist, Fixed) else f"{where}.value",
                                        "must be whole numbers for this field", bad[0]))
                continue
        inputs.append(UncertainInput(loc, dist, _classify(loc, dist, document, policies, hw_bases_uncertain, served),
                                     integer))

    spec = StudySpec()
    raw_spec = document.get("uncertainty")
    if raw_spec is not None:
        if not isinstance(raw_spec, Mapping):
            problems.append(Problem("uncertainty", "must be a table", raw_spec))
        else:
            try:
                spec = StudySpec.model_validate(dict(raw_spec))
            except ValidationError as err:
                for e in err.errors(include_url=False):
                    loc = ("uncertainty",) + tuple(e["loc"])
                    if e["type"] == "extra_forbidden":
                        problems.append(Problem(field_path(loc), "unknown key", has_value=False,
                                                fix=f"known keys: {', '.join(StudySpec.model_fields)}"))
                    else:
                        problems.append(Problem(field_path(loc), pydantic_rule(e), e.get("input"),
                                                has_value=e["type"] != "missing"))
                try:   # still check the correlations' names when only other keys are wrong
                    spec = StudySpec.model_validate({"correlations": raw_spec.get("correlations", [])})
                except ValidationError:
                    pass
            for i, p in enumerate(spec.percentiles or []):
                if not 0 < p < 100:
                    problems.append(Problem(f"uncertainty.percentiles[{i}]", "must be between 0 and 100 (exclusive)", p))

    inputs_t = tuple(inputs)
    sampled = [i for i in inputs_t if i.effect != FIXED]
    corr = None
    if spec.correlations:
        index = {i.path: k for k, i in enumerate(sampled)}
        fixed = {i.path for i in inputs_t if i.effect == FIXED}
        corr = np.eye(len(sampled))
        for c, cs in enumerate(spec.correlations):
            ks = []
            for m, name in enumerate(cs.inputs):
                if name not in index:
                    why = "is fixed (not sampled)" if name in fixed else "is not an uncertain input of this file"
                    problems.append(Problem(f"uncertainty.correlations[{c}].inputs[{m}]", why, name,
                                            fix=f"uncertain inputs: {', '.join(index) or 'none'}"))
                else:
                    ks.append(index[name])
            if len(ks) == 2:
                if ks[0] == ks[1]:
                    problems.append(Problem(f"uncertainty.correlations[{c}].inputs", "names the same input twice",
                                            cs.inputs))
                else:
                    corr[ks[0], ks[1]] = corr[ks[1], ks[0]] = cs.rho
        if not problems:
            try:
                np.linalg.cholesky(corr)
            except np.linalg.LinAlgError:
                problems.append(Problem("uncertainty.correlations", "the correlations are not consistent (the "
                                        "matrix is not positive definite)", has_value=False,
                                        fix="weaken some of them"))
    if problems:
        raise ScenarioError(problems, source)

    nominal_doc = copy.deepcopy(dict(document))
    nominal_doc.pop("uncertainty", None)
    for inp in inputs_t:
        set_at(nominal_doc, inp.loc, inp.nominal)
    return UncertainScenario(dict(document), nominal_doc, inputs_t, spec, corr, source)


def nominal(document: Mapping, warnings: list | None = None, source: str | None = None) -> Mapping:
    """The pre-pass of an ordinary run: ``document`` with each uncertain value at its median.

    Returns ``document`` itself when it has no uncertain values (and no
    ``[uncertainty]`` table); otherwise a new document, and appends a note to
    ``warnings`` (if given) saying that the nominal case is what runs.  Raises
    :class:`ScenarioError` (with the field path) for a bad distribution.
    """
    if not isinstance(document, Mapping) or ("uncertainty" not in document and not find_uncertain(document)):
        return document
    u = parse(document, source)
    if warnings is not None and u.sampled:
        warnings.append(u.note())
    return u.nominal_document


def check_draws(u: UncertainScenario, x: np.ndarray) -> None:
    """Every sampled input's draws must be valid values of its field.

    Checked with the file format's own rules, one input at a time at its
    lowest and highest draw (every category of a categorical); raises
    ScenarioError naming the input, the offending draw and the rule.  Where
    several inputs sit in one table (a datacenter, a hardware entry, a workload),
    every sample's values of that table are checked together against the same
    rules a fixed table obeys (:func:`carbonsim.model.draws.check_joint_draws`: a net intensity above
    the gross one is an error, never a silently accepted sample).
    """

    problems: list[Problem] = []
    n = len(x)
    for j, inp in enumerate(u.sampled):
        col = x[:, j]
        if inp.categorical:
            candidates = [(c, "a possible value") for c in sorted(set(col.astype(int).tolist()))]
        else:
            candidates = [(float(col.min()), f"the lowest of {n:,} draws"), (float(col.max()), f"the highest of {n:,} draws")]
        for c, which in candidates:
            value = inp.value(c)
            doc = copy.deepcopy(u.nominal_document)
            set_at(doc, inp.loc, value)
            try:
                ScenarioFile.model_validate(doc)
            except ValidationError as err:
                mine = [p for p in problems_from(err) if p.path == inp.path or p.path.startswith(inp.path + ".")
                        or p.path == field_path(inp.loc[:-1])]
                for p in mine[:1]:
                    fix = ("truncate or narrow the distribution (e.g. low = ..., high = ...)" if not inp.categorical
                           else "remove this value from the choice")
                    problems.append(Problem(inp.path, p.rule, value,
                                            fix=f"{which} of {inp.dist.describe()}; {fix}"))
    if problems:
        raise ScenarioError(dedupe_problems(problems), u.source)
