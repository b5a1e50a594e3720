"""Distributions for uncertain values: any value of a scenario file may be an inline table with a ``dist`` key.

Every distribution maps u in [0, 1) to a value through its inverse CDF (``ppf``), so
that QMC and Latin hypercube designs carry over unchanged (docs/uncertainty.md).
Job streams use the same vocabulary for their per-job draws (``per_job_distribution``).
"""
from __future__ import annotations

import datetime as dt
import difflib
import math
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


#: Where the file format itself takes a per-job distribution (left alone here).
PER_JOB_KEYS = frozenset({"chips", "duration_hours", "flops"})
#: Keys that name or describe things, or are reported only: never uncertain.
NOT_UNCERTAIN = frozenset({"name", "description", "location", "published", "schema_version", "phase", "source"})





# ---------------------------------------------------------------------------
# Distributions.  Every one maps u in [0, 1) to a value through its inverse
# CDF (``ppf``), so that QMC and Latin hypercube designs carry over unchanged.
# ---------------------------------------------------------------------------


class Distribution(BaseModel):
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


class Fixed(Distribution):
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


class Uniform(Distribution):
    dist: Literal["uniform"]
    low: float
    high: float

    def check(self):
        return [("low", f"must not exceed high ({self.high:g})", self.low)] if self.low > self.high else []

    def ppf(self, u):
        return self.low + np.asarray(u, dtype=float) * (self.high - self.low)


class Triangular(Distribution):
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


class Normal(Distribution):
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


class LogNormal(Distribution):
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


class Exponential(Distribution):
    """Exponential with the given ``mean`` (e.g. memoryless job durations)."""

    dist: Literal["exponential"]
    mean_value: float = Field(gt=0, alias="mean")

    def ppf(self, u):
        u = np.asarray(u, dtype=float)
        with np.errstate(divide="ignore"):   # u = 1 is the (infinite) upper end of the support
            return -self.mean_value * np.log1p(-u)


class Beta(Distribution):
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


class Pert(Distribution):
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


class Choice(Distribution):
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


class Empirical(Distribution):
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


_MODELS: dict[str, type[Distribution]] = {"fixed": Fixed, "uniform": Uniform, "triangular": Triangular, "normal": Normal,
                                   "lognormal": LogNormal, "exponential": Exponential, "beta": Beta, "pert": Pert,
                                   "choice": Choice,
                                   "empirical": Empirical}


def per_job_distribution(table: Mapping) -> Distribution:
    """A job stream's per-job distribution (numbers only); raises ValueError with the
    offending key, for the file format's validators."""
    problems = distribution_problems(table, ())
    if problems:
        raise ValueError("; ".join((f"{p.path.lstrip('.')}: " if p.path.strip(".") else "") + p.rule
                                   + (f", got {p.value!r}" if p.has_value else "") + (f" ({p.fix})" if p.fix else "")
                                   for p in problems))
    dist = build_distribution(table)
    if dist.categorical:
        raise ValueError("per-job values must be numbers")
    return dist


def parse_distribution(table: Mapping, loc: tuple = ()) -> Distribution:
    """One ``{dist = ...}`` table -> a distribution; raises ScenarioError with paths under ``loc``."""
    problems = distribution_problems(table, loc)
    if problems:
        raise ScenarioError(problems)
    return build_distribution(table)


def build_distribution(table: Mapping) -> Distribution:
    name = table["dist"]
    data = dict(table)
    data["dist"] = _ALIASES.get(name, name)
    return _MODELS[data["dist"]].model_validate(data)


def distribution_problems(table: Mapping, loc: tuple) -> list[Problem]:
    name = table.get("dist")
    where = field_path(loc)
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
            field = field_path(loc + sub)
            kind = e["type"]
            if kind == "extra_forbidden":
                known = [f.alias or k for k, f in model.model_fields.items() if k != "dist"]
                guess = difflib.get_close_matches(str(sub[-1]), known, n=1, cutoff=0.6)
                guessed.update(field_path(loc + (g,)) for g in guess)
                out.append(Problem(field, f"unknown key for a {canonical} distribution", has_value=False,
                                   fix=f"did you mean {guess[0]!r}?" if guess else f"its keys: {', '.join(known)}"))
            elif kind == "missing":
                out.append(Problem(field, f"required key of a {canonical} distribution is missing", has_value=False,
                                   fix=f"{canonical} takes {', '.join(_keys(model))}"))
            else:
                out.append(Problem(field, pydantic_rule(e), e.get("input")))
        # a misspelt key is reported once, as unknown with its "did you mean", not also as missing
        out = [p for p in out if not (p.path in guessed and p.rule.startswith("required key"))]
        return dedupe_problems(out)
    return [Problem(f"{where}.{f}", rule, value) for f, rule, value in d.check()]


def _keys(model) -> list[str]:
    return [(f.alias or k) + ("" if f.is_required() else " (optional)")
            for k, f in model.model_fields.items() if k != "dist"]


def dedupe_problems(problems: list[Problem]) -> list[Problem]:
    """Union types report one error per alternative (``value`` must be a number / a string / a date):
    keep the first per path."""
    seen, out = set(), []
    for p in problems:
        if p.path not in seen:
            seen.add(p.path)
            out.append(p)
    return out


def percentile_key(p: float) -> str:
    """The key of percentile ``p`` in statistics dicts: ``5.0 -> "5"``, ``97.5 -> "97.5"``."""
    return f"{p:g}"
