"""Seeded distributions for scenario values (job sizes, durations, arrivals).

In a scenario file a value that varies from job to job is an inline table
with a ``dist`` key, e.g. ``duration_hours = {dist = "lognormal", median = 6,
sigma = 1}``; a plain number means that value for every job.  Every draw
comes from a ``numpy.random.Generator`` the caller seeds (from the scenario
seed via ``SeedSequence.spawn``), so the same seed gives the same jobs.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Dist(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class Constant(_Dist):
    dist: Literal["constant"]
    value: float = Field(ge=0, le=1e32)

    def sample(self, rng, n):
        return np.full(n, self.value)

    @property
    def mean(self):
        return self.value


class Uniform(_Dist):
    dist: Literal["uniform"]
    low: float = Field(ge=0, le=1e32)
    high: float = Field(ge=0, le=1e32)

    @model_validator(mode="after")
    def _order(self):
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not exceed high ({self.high})")
        return self

    def sample(self, rng, n):
        return rng.uniform(self.low, self.high, n)

    @property
    def mean(self):
        return (self.low + self.high) / 2


class Exponential(_Dist):
    dist: Literal["exponential"]
    mean_value: float = Field(gt=0, le=1e32, alias="mean")

    def sample(self, rng, n):
        return rng.exponential(self.mean_value, n)

    @property
    def mean(self):
        return self.mean_value


class LogNormal(_Dist):
    """Parametrised by its median (e^mu) and sigma (of the log); ``max`` truncates by redrawing."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0, le=1e32)
    sigma: float = Field(ge=0, le=10)
    max: float | None = Field(None, gt=0, le=1e32)

    def sample(self, rng, n):
        out = rng.lognormal(np.log(self.median), self.sigma, n)
        if self.max is not None:
            bad = out > self.max
            for _ in range(100):
                if not bad.any():
                    break
                out[bad] = rng.lognormal(np.log(self.median), self.sigma, int(bad.sum()))
                bad = out > self.max
            out = np.minimum(out, self.max)
        return out

    @property
    def mean(self):
        return self.median * np.exp(self.sigma ** 2 / 2)


class Choice(_Dist):
    dist: Literal["choice"]
    values: list[float] = Field(min_length=1, max_length=10_000)
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _weights(self):
        if any(v < 0 for v in self.values):
            raise ValueError("values must be >= 0")
        if self.weights is not None:
            if len(self.weights) != len(self.values):
                raise ValueError(f"weights has {len(self.weights)} entries but values has {len(self.values)}")
            if any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
                raise ValueError("weights must be >= 0 with a positive sum")
        return self

    def _p(self):
        if self.weights is None:
            return None
        w = np.asarray(self.weights, dtype=float)
        return w / w.sum()

    def sample(self, rng, n):
        return rng.choice(np.asarray(self.values, dtype=float), size=n, p=self._p())

    @property
    def mean(self):
        p = self._p()
        v = np.asarray(self.values, dtype=float)
        return float(v.mean() if p is None else (v * p).sum())


Distribution = Annotated[Union[Constant, Uniform, Exponential, LogNormal, Choice], Field(discriminator="dist")]
DIST_NAMES = ("constant", "uniform", "exponential", "lognormal", "choice")


def sample(value, rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` draws of a number or a distribution."""
    if isinstance(value, (int, float)):
        return np.full(n, float(value))
    return value.sample(rng, n)


def mean(value) -> float:
    return float(value) if isinstance(value, (int, float)) else float(value.mean)
