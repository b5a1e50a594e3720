"""Uncertain inputs in scenario files: distributions, the nominal pre-pass and sampling.

Any value of a scenario file may be given as an inline table with a ``dist`` key
instead of a number (or a string, or a date)::

    pue = {dist = "triangular", low = 1.08, mode = 1.10, high = 1.15}
    grid = {dist = "choice", values = ["eia:CISO", "eia:PJM"], weights = [0.7, 0.3]}

except where the file format already takes a per-job distribution
(``workloads.job_stream[*].chips``, ``.duration_hours``, ``.flops``): those draw a
new value for every job, inside one run, and are left alone here.

This module owns the *inputs* side of uncertainty studies:

- :func:`parse` walks a raw scenario document (what a TOML file parses to),
  finds every uncertain value, validates each distribution (errors are
  :class:`carbonsim.ScenarioError` with the field path, e.g.
  ``datacenters.dc.pue.low: must not exceed high``), classifies it as
  *re-weightable* (it scales the energy or carbon of intervals the engine has
  already laid out: power, PUE, grid intensity or scale, CFE, embodied carbon,
  lifetimes) or *schedule-changing* (anything else), and builds the nominal
  document.
- :func:`nominal` is the pre-pass for ordinary runs: the document with every
  uncertain value replaced by its median, which then goes through
  :func:`carbonsim.scenario.resolve` like any other.  "Median" means the value
  the sampler returns at u = 0.5, i.e. the inverse CDF at 1/2: the median of a
  continuous distribution, the lower median of an empirical list or a numeric
  choice, and for a choice among strings or dates the entry at which the
  cumulative weight, in the order listed, first reaches 1/2.
- :meth:`UncertainScenario.design` draws the unit-hypercube design (scrambled
  Sobol', Latin hypercube or plain random, all from
  :mod:`scipy.stats.qmc`/NumPy and seeded), optionally correlated through a
  Gaussian copula, and :meth:`UncertainScenario.transform` maps it through each
  input's inverse CDF.

Running samples, re-weighting and statistics live in :mod:`carbonsim.study`.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import difflib
import math
import types
import typing
from typing import Any, ClassVar, Literal, Mapping

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Problem, ScenarioError, field_path, pydantic_rule

#: Distribution names, in the order the documentation lists them.
DIST_NAMES = ("fixed", "uniform", "triangular", "normal", "lognormal", "exponential", "beta", "pert", "choice",
              "empirical")
_ALIASES = {"constant": "fixed"}   # the per-job distributions' name for it
_HINTS = {"gaussian": "normal", "triang": "triangular", "log-normal": "lognormal", "categorical": "choice",
          "discrete": "choice", "betapert": "pert", "beta-pert": "pert", "constant": "fixed", "lhs": "uniform"}
#: Sampling designs.
METHODS = ("sobol", "lhs", "random")
#: Where the file format itself takes a per-job distribution (left alone here).
PER_JOB_KEYS = frozenset({"chips", "duration_hours", "flops"})
#: Keys that name or describe things, or are reported only: never uncertain.
_NOT_UNCERTAIN = frozenset({"name", "description", "location", "published", "schema_version", "phase", "source"})
#: Samples per block: plain random draws and per-sample scenario seeds come from
#: ``SeedSequence(seed).spawn(...)``, one child per block of this many samples,
#: so they do not depend on how the work is split between workers.
SAMPLE_BLOCK = 1024

path_str = field_path   # ("datacenters", "dc", "pue") -> datacenters.dc.pue, as in every error


# ---------------------------------------------------------------------------
# Distributions.  Every one maps u in [0, 1) to a value through its inverse
# CDF (``ppf``), so that QMC and Latin hypercube designs carry over unchanged.
# ---------------------------------------------------------------------------


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False, populate_by_name=True)

    #: True when values are strings or dates (sampled as category codes 0..k-1).
    categorical: ClassVar[bool] = False

    def check(self) -> list[tuple[str, str, Any]]:
        """Rules between fields: ``[(field, rule, value)]`` (empty when fine)."""
        return []

    def ppf(self, u: np.ndarray) -> np.ndarray:  # pragma: no cover - every subclass overrides
        raise NotImplementedError

    @property
    def levels(self) -> tuple:
        """Category values of a categorical distribution (codes index into these)."""
        return ()

    @property
    def is_fixed(self) -> bool:
        return False

    @property
    def bounds(self) -> tuple[float, float]:
        """The support (may be infinite)."""
        return float(self.ppf(np.array([0.0]))[0]), float(self.ppf(np.array([1.0]))[0])

    def median(self) -> Any:
        """The nominal value: the inverse CDF at 1/2 (a category value for a categorical)."""
        x = self.ppf(np.array([0.5]))[0]
        return self.levels[int(x)] if self.categorical else float(x)

    def describe(self) -> str:
        fields = self.model_dump(exclude={"dist"}, exclude_none=True, by_alias=True)
        return f"{self.dist}(" + ", ".join(f"{k}={_short(v)}" for k, v in fields.items()) + ")"


def _short(v) -> str:
    if isinstance(v, list):
        return "[" + ", ".join(_short(x) for x in v[:6]) + (", ..." if len(v) > 6 else "") + "]"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


Scalar = typing.Union[float, str, dt.datetime, dt.date]


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Fixed(_Dist):
    """``{dist = "fixed", value = x}``: not uncertain (a placeholder, e.g. to switch an input off)."""

    dist: Literal["fixed"]
    value: Scalar

    @property
    def categorical(self) -> bool:  # type: ignore[override]
        return not _is_number(self.value)

    @property
    def levels(self) -> tuple:
        return (self.value,)

    @property
    def is_fixed(self) -> bool:
        return True

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        return np.zeros_like(u) if self.categorical else np.full_like(u, float(self.value))


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: float
    high: float

    def check(self):
        return [("low", f"must not exceed high ({self.high:g})", self.low)] if self.low > self.high else []

    def ppf(self, u):
        return self.low + np.asarray(u, dtype=float) * (self.high - self.low)


class Triangular(_Dist):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float

    def check(self):
        if self.low > self.high:
            return [("low", f"must not exceed high ({self.high:g})", self.low)]
        if not self.low <= self.mode <= self.high:
            return [("mode", f"must lie between low ({self.low:g}) and high ({self.high:g})", self.mode)]
        return []

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        a, c, b = self.low, self.mode, self.high
        if b == a:
            return np.full_like(u, a)
        fc = (c - a) / (b - a)
        left = a + np.sqrt(u * (b - a) * (c - a))
        right = b - np.sqrt((1 - u) * (b - a) * (b - c))
        return np.where(u < fc, left, right)


def _truncated_ppf(u, cdf, ppf, low, high):
    """Inverse CDF of a distribution restricted to [low, high] (None: unbounded)."""
    lo = cdf(low) if low is not None else 0.0
    hi = cdf(high) if high is not None else 1.0
    x = ppf(lo + np.asarray(u, dtype=float) * (hi - lo))
    if low is not None or high is not None:  # rounding at the edges of the CDF
        x = np.clip(x, low if low is not None else -np.inf, high if high is not None else np.inf)
    return x


class Normal(_Dist):
    """Mean and ``std`` (or ``rel_std``, a fraction of the mean); optionally truncated to [low, high]."""

    dist: Literal["normal"]
    mean: float
    std: float | None = Field(None, gt=0)
    rel_std: float | None = Field(None, gt=0, le=10)
    low: float | None = None
    high: float | None = None

    def check(self):
        if (self.std is None) == (self.rel_std is None):
            return [("std", "give exactly one of std or rel_std (a fraction of the mean)", self.std)]
        if self.rel_std is not None and self.mean == 0:
            return [("rel_std", "needs a non-zero mean (give std instead)", self.rel_std)]
        if self.low is not None and self.high is not None and self.low >= self.high:
            return [("low", f"must be below high ({self.high:g})", self.low)]
        from scipy.special import ndtr
        lo = ndtr((self.low - self.mean) / self.sigma) if self.low is not None else 0.0
        hi = ndtr((self.high - self.mean) / self.sigma) if self.high is not None else 1.0
        if hi - lo < 1e-9:
            field = "low" if self.low is not None and self.low > self.mean else "high"
            return [(field, "leaves (almost) no probability: the truncation is many standard deviations from "
                            "the mean", getattr(self, field))]
        return []

    @property
    def sigma(self) -> float:
        return self.std if self.std is not None else abs(self.mean) * self.rel_std

    def ppf(self, u):
        from scipy.special import ndtr, ndtri
        m, s = self.mean, self.sigma
        return _truncated_ppf(u, lambda x: ndtr((x - m) / s), lambda p: m + s * ndtri(p), self.low, self.high)


class LogNormal(_Dist):
    """``median`` (= e^mu) and ``sigma`` of the logarithm; optionally truncated to [low, high]."""

    dist: Literal["lognormal"]
    median_value: float = Field(gt=0, alias="median")
    sigma: float = Field(gt=0, le=10)
    low: float | None = Field(None, ge=0)
    high: float | None = Field(None, gt=0)

    def check(self):
        if self.low is not None and self.high is not None and self.low >= self.high:
            return [("low", f"must be below high ({self.high:g})", self.low)]
        return []

    def ppf(self, u):
        from scipy.special import ndtr, ndtri
        mu, s = math.log(self.median_value), self.sigma

        def cdf(x):
            return 0.0 if x <= 0 else float(ndtr((math.log(x) - mu) / s))

        return _truncated_ppf(u, cdf, lambda p: np.exp(mu + s * ndtri(p)), self.low, self.high)


class Exponential(_Dist):
    """Exponential with the given ``mean`` (e.g. memoryless job durations)."""

    dist: Literal["exponential"]
    mean_value: float = Field(gt=0, alias="mean")

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        with np.errstate(divide="ignore"):   # u = 1 is the (infinite) upper end of the support
            return -self.mean_value * np.log1p(-u)


class Beta(_Dist):
    """Beta(``alpha``, ``beta``) stretched to [``low``, ``high``] (default [0, 1])."""

    dist: Literal["beta"]
    alpha: float = Field(gt=0, le=1e4)
    beta: float = Field(gt=0, le=1e4)
    low: float = 0.0
    high: float = 1.0

    def check(self):
        return [("low", f"must be below high ({self.high:g})", self.low)] if self.low >= self.high else []

    def ppf(self, u):
        from scipy.special import betaincinv
        return self.low + (self.high - self.low) * betaincinv(self.alpha, self.beta, np.asarray(u, dtype=float))


class Pert(_Dist):
    """Beta-PERT: a smooth three-point estimate (``lambda`` weights the mode; 4 is the classic PERT)."""

    dist: Literal["pert"]
    low: float
    mode: float
    high: float
    lam: float = Field(4.0, gt=0, le=1e3, alias="lambda")

    def check(self):
        if self.low >= self.high:
            return [("low", f"must be below high ({self.high:g})", self.low)]
        if not self.low <= self.mode <= self.high:
            return [("mode", f"must lie between low ({self.low:g}) and high ({self.high:g})", self.mode)]
        return []

    def ppf(self, u):
        from scipy.special import betaincinv
        a, c, b, lam = self.low, self.mode, self.high, self.lam
        alpha = 1 + lam * (c - a) / (b - a)
        beta = 1 + lam * (b - c) / (b - a)
        return a + (b - a) * betaincinv(alpha, beta, np.asarray(u, dtype=float))


class Choice(_Dist):
    """One of ``values`` (numbers, strings such as regions or hardware, or dates), with optional ``weights``.

    Numbers are sorted (with their weights), so low draws give low values;
    strings and dates keep the listed order.
    """

    dist: Literal["choice"]
    values: list[Scalar] = Field(min_length=1, max_length=10_000)
    weights: list[float] | None = None

    def check(self):
        numeric = [_is_number(v) for v in self.values]
        if any(numeric) and not all(numeric):
            i = numeric.index(False)
            return [(f"values[{i}]", "must be of one kind: all numbers, or all strings/dates", self.values[i])]
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                return [("weights", f"has {len(self.weights)} entries but values has {len(self.values)}",
                         self.weights)]
            for i, w in enumerate(self.weights):
                if w < 0:
                    return [(f"weights[{i}]", "must be >= 0", w)]
            if sum(self.weights) <= 0:
                return [("weights", "must have a positive sum", self.weights)]
        return []

    @property
    def categorical(self) -> bool:  # type: ignore[override]
        return not _is_number(self.values[0])

    def _table(self):
        w = np.ones(len(self.values)) if self.weights is None else np.asarray(self.weights, dtype=float)
        if self.categorical:
            return list(self.values), w
        order = sorted(range(len(self.values)), key=lambda i: float(self.values[i]))
        return [float(self.values[i]) for i in order], w[order]

    @property
    def levels(self) -> tuple:
        return tuple(self._table()[0]) if self.categorical else ()

    @property
    def is_fixed(self) -> bool:
        values, w = self._table()
        return len({v for v, wi in zip(values, w) if wi > 0}) == 1

    def ppf(self, u):
        values, w = self._table()
        cum = np.cumsum(w / w.sum())
        idx = np.minimum(np.searchsorted(cum, np.asarray(u, dtype=float), side="left"), len(values) - 1)
        while True:  # never return a value of weight 0 (a u exactly on a step)
            zero = w[idx] == 0
            if not zero.any():
                break
            idx = np.where(zero, np.minimum(idx + 1, len(values) - 1), idx)
        return idx.astype(float) if self.categorical else np.asarray(values)[idx]


class Empirical(_Dist):
    """Equally likely observed ``values`` (resampled); ``interpolate = true`` draws between them
    (the piecewise-linear quantile function through the sorted values)."""

    dist: Literal["empirical"]
    values: list[float] = Field(min_length=1, max_length=1_000_000)
    interpolate: bool = False

    def check(self):
        if self.interpolate and len(self.values) < 2:
            return [("values", "interpolate needs at least 2 values", self.values)]
        return []

    @property
    def is_fixed(self) -> bool:
        return len(set(self.values)) == 1

    def ppf(self, u):
        v = np.sort(np.asarray(self.values, dtype=float))
        u = np.asarray(u, dtype=float)
        if self.interpolate:
            return np.interp(u, np.linspace(0.0, 1.0, len(v)), v)
        return v[np.clip(np.ceil(u * len(v)).astype(np.int64) - 1, 0, len(v) - 1)]


_MODELS: dict[str, type[_Dist]] = {"fixed": Fixed, "uniform": Uniform, "triangular": Triangular, "normal": Normal,
                                   "lognormal": LogNormal, "exponential": Exponential, "beta": Beta, "pert": Pert,
                                   "choice": Choice,
                                   "empirical": Empirical}


def per_job_distribution(table: Mapping) -> _Dist:
    """A job stream's per-job distribution (numbers only); raises ValueError with the
    offending key, for the file format's validators."""
    problems = _distribution_problems(table, ())
    if problems:
        raise ValueError("; ".join((f"{p.path.lstrip('.')}: " if p.path.strip(".") else "") + p.rule
                                   + (f", got {p.value!r}" if p.has_value else "") + (f" ({p.fix})" if p.fix else "")
                                   for p in problems))
    dist = _build(table)
    if dist.categorical:
        raise ValueError("per-job values must be numbers")
    return dist


def parse_distribution(table: Mapping, loc: tuple = ()) -> _Dist:
    """One ``{dist = ...}`` table -> a distribution; raises ScenarioError with paths under ``loc``."""
    problems = _distribution_problems(table, loc)
    if problems:
        raise ScenarioError(problems)
    return _build(table)


def _build(table: Mapping) -> _Dist:
    name = table["dist"]
    data = dict(table)
    data["dist"] = _ALIASES.get(name, name)
    return _MODELS[data["dist"]].model_validate(data)


def _distribution_problems(table: Mapping, loc: tuple) -> list[Problem]:
    name = table.get("dist")
    where = path_str(loc)
    if not isinstance(name, str):
        return [Problem(f"{where}.dist", "must be the name of a distribution", name, fix=f"one of {', '.join(DIST_NAMES)}")]
    canonical = _ALIASES.get(name, name)
    if canonical not in _MODELS:
        guess = difflib.get_close_matches(name.lower(), list(DIST_NAMES) + list(_HINTS), n=1, cutoff=0.5)
        hint = f"did you mean {_HINTS.get(guess[0], guess[0])!r}? " if guess else ""
        return [Problem(f"{where}.dist", "unknown distribution", name, fix=f"{hint}known: {', '.join(DIST_NAMES)}")]
    data = dict(table)
    data["dist"] = canonical
    model = _MODELS[canonical]
    try:
        d = model.model_validate(data)
    except ValidationError as err:
        out, guessed = [], set()
        for e in err.errors(include_url=False):
            sub = tuple(p for p in e["loc"] if not (isinstance(p, str) and "[" in p))
            field = path_str(loc + sub)
            kind = e["type"]
            if kind == "extra_forbidden":
                known = [f.alias or k for k, f in model.model_fields.items() if k != "dist"]
                guess = difflib.get_close_matches(str(sub[-1]), known, n=1, cutoff=0.6)
                guessed.update(path_str(loc + (g,)) for g in guess)
                out.append(Problem(field, f"unknown key for a {canonical} distribution", has_value=False,
                                   fix=f"did you mean {guess[0]!r}?" if guess else f"its keys: {', '.join(known)}"))
            elif kind == "missing":
                out.append(Problem(field, f"required key of a {canonical} distribution is missing", has_value=False,
                                   fix=f"{canonical} takes {', '.join(_keys(model))}"))
            else:
                out.append(Problem(field, pydantic_rule(e), e.get("input")))
        # a misspelt key is reported once, as unknown with its "did you mean", not also as missing
        out = [p for p in out if not (p.path in guessed and p.rule.startswith("required key"))]
        return _dedupe(out)
    return [Problem(f"{where}.{f}", rule, value) for f, rule, value in d.check()]


def _keys(model) -> list[str]:
    return [(f.alias or k) + ("" if f.is_required() else " (optional)")
            for k, f in model.model_fields.items() if k != "dist"]


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """Union types report one error per alternative (``value`` must be a number / a string / a date):
    keep the first per path."""
    seen, out = set(), []
    for p in problems:
        if p.path not in seen:
            seen.add(p.path)
            out.append(p)
    return out


# ---------------------------------------------------------------------------
# The scenario pre-pass.
# ---------------------------------------------------------------------------


REWEIGHT, SCHEDULE, FIXED = "re-weighted", "re-run", "fixed"

_DC_REWEIGHT = {"pue", "grid_intensity_gco2e_per_kwh", "grid_scale", "cfe", "net_grid_intensity_gco2e_per_kwh"}
_DC_FORECAST = {"grid_intensity_gco2e_per_kwh", "grid_scale"}   # carbon-aware policies see these
_HW_REWEIGHT = {"system_power_w", "idle_w", "embodied_kgco2e", "lifetime_years"}


@dataclasses.dataclass(frozen=True)
class UncertainInput:
    """One uncertain value of a scenario document."""

    loc: tuple                 # ("datacenters", "dc", "pue")
    dist: _Dist
    effect: str                # REWEIGHT, SCHEDULE or FIXED
    integer: bool = False      # the field takes whole numbers: draws are rounded

    @property
    def path(self) -> str:
        return path_str(self.loc)

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


class StudySpec(BaseModel):
    """``[uncertainty]``: defaults of ``carbonsim mc`` for this file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)
    samples: int | None = Field(None, ge=2, le=10_000_000)
    method: Literal["sobol", "lhs", "random"] | None = None
    seed: int | None = Field(None, ge=0, lt=2**63)
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


def _field_annotation(loc: tuple):
    """The file-format annotation of the field at ``loc`` (None if there is no such field)."""
    from .scenario import ScenarioFile

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
    t = _field_annotation(loc)
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
                if p.get("placement", "fixed") != "fixed" or p.get("shift", "none") != "none":
                    return True
    return False


def _classify(loc: tuple, dist: _Dist, document: Mapping, policies: bool, hw_bases_uncertain: bool) -> str:
    if dist.is_fixed:
        return FIXED
    key = loc[-1]
    if loc[0] == "datacenters" and len(loc) == 3 and key in _DC_REWEIGHT:
        if key in _DC_FORECAST and policies:
            return SCHEDULE
        if key == "cfe" and dist.categorical:
            return SCHEDULE    # switches between "grid" and a share
        return REWEIGHT
    if loc[0] == "datacenters" and len(loc) == 5 and loc[2] == "pools" and key == "idle_w_per_chip":
        return REWEIGHT
    if loc[0] == "workloads" and key == "power_w_per_chip" and loc[1] in ("training", "job_stream", "search") and (
            len(loc) == 4 or (len(loc) == 5 and loc[1] == "search" and loc[3] == "final_training")):
        return REWEIGHT
    if loc[0] == "hardware" and len(loc) == 3 and key in _HW_REWEIGHT and not hw_bases_uncertain:
        return REWEIGHT
    return SCHEDULE


def parse(document: Mapping, source: str | None = None) -> UncertainScenario:
    """Find, check and classify the uncertain values of a scenario document.

    Raises :class:`ScenarioError` listing every bad distribution with its path.
    The nominal document is *not* validated here: :func:`carbonsim.scenario.resolve` does that.
    """
    if not isinstance(document, Mapping):
        raise ScenarioError([Problem("", "a scenario must be a table of keys", type(document).__name__)], source)
    problems: list[Problem] = []
    found = find_uncertain(document)
    policies = _has_policies(document)
    hw_bases_uncertain = any(loc[0] == "hardware" and loc[-1] == "base" for loc, _ in found)
    inputs: list[UncertainInput] = []
    for loc, table in found:
        where = path_str(loc)
        if any(isinstance(p, str) and p in _NOT_UNCERTAIN for p in loc):
            problems.append(Problem(where, "cannot be uncertain (it names, describes or reports something)",
                                    has_value=False, fix="give a plain value"))
            continue
        if loc[0] == "uncertainty" or (loc and loc[0] == "scenario" and loc[-1] == "seed"):
            problems.append(Problem(where, "cannot be uncertain", has_value=False,
                                    fix="carbonsim mc --vary-seed draws a scenario seed per sample"))
            continue
        ps = _distribution_problems(table, loc)
        if ps:
            problems += ps
            continue
        dist = _build(table)
        integer = _is_integer_field(loc)
        if integer and not dist.categorical and isinstance(dist, (Choice, Empirical, Fixed)):
            vals = dist.values if isinstance(dist, (Choice, Empirical)) else [dist.value]
            bad = [v for v in vals if float(v) != int(float(v))]
            if bad:
                problems.append(Problem(f"{where}.values" if not isinstance(dist, Fixed) else f"{where}.value",
                                        "must be whole numbers for this field", bad[0]))
                continue
        inputs.append(UncertainInput(loc, dist, _classify(loc, dist, document, policies, hw_bases_uncertain), integer))

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
                        problems.append(Problem(path_str(loc), "unknown key", has_value=False,
                                                fix=f"known keys: {', '.join(StudySpec.model_fields)}"))
                    else:
                        problems.append(Problem(path_str(loc), pydantic_rule(e), e.get("input"),
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
    ScenarioError naming the input, the offending draw and the rule.  Rules
    between fields (a net intensity above the gross one, a job larger than its
    pool) are checked where each sample is resolved.
    """
    from .scenario import ScenarioFile, _problems_from

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
                mine = [p for p in _problems_from(err) if p.path == inp.path or p.path.startswith(inp.path + ".")
                        or p.path == path_str(inp.loc[:-1])]
                for p in mine[:1]:
                    fix = ("truncate or narrow the distribution (e.g. low = ..., high = ...)" if not inp.categorical
                           else "remove this value from the choice")
                    problems.append(Problem(inp.path, p.rule, value,
                                            fix=f"{which} of {inp.dist.describe()}; {fix}"))
    if problems:
        raise ScenarioError(_dedupe(problems), u.source)
