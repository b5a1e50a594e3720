"""What a carbon-aware scheduler sees of each datacenter's hourly intensity: perfect, noisy or
made from the data (docs/scenario-format.md, "Policies"), with O(1) window integrals."""
from __future__ import annotations

import math

import numpy as np

from ..model.units import SECONDS_PER_HOUR as HOUR
from . import planners



class Forecast:
    """Hourly intensity per datacenter as the scheduler sees it, with O(1) window means."""

    def __init__(self, hourly: np.ndarray):
        self.values = np.ascontiguousarray(hourly, dtype=np.float64)   # (n_dc, n_hours)
        self.prefix = np.zeros((self.values.shape[0], self.values.shape[1] + 1))
        np.cumsum(self.values, axis=1, out=self.prefix[:, 1:])
        self.n_hours = self.values.shape[1]
        self.t_max = self.n_hours * HOUR

    def at(self, dc: int, t: float) -> float:
        h = min(max(int(t // HOUR), 0), self.n_hours - 1)
        return self.values[dc, h]

    def integral(self, dc: int, s, e):
        """Integral of the forecast over [s, e) (vectorised; clamped to the table)."""
        # np.minimum/np.maximum rather than np.clip: same values, a fraction of the call overhead
        s = np.minimum(np.maximum(np.asarray(s, dtype=np.float64), 0.0), self.t_max)
        e = np.minimum(np.maximum(np.asarray(e, dtype=np.float64), 0.0), self.t_max)
        v, p = self.values[dc], self.prefix[dc]
        hs = np.minimum((s // HOUR).astype(np.int64), self.n_hours - 1)
        he = np.minimum((e // HOUR).astype(np.int64), self.n_hours - 1)
        same = hs == he
        head = (hs + 1) * HOUR - s
        tail = e - he * HOUR
        whole = (p[he] - p[np.minimum(hs + 1, self.n_hours)]) * HOUR
        split = v[hs] * head + whole + v[he] * tail
        return np.where(same, v[hs] * (e - s), split)

    def mean(self, dc: int, s, e):
        s, e = np.asarray(s, dtype=np.float64), np.asarray(e, dtype=np.float64)
        width = np.maximum(e - s, 1e-9)
        return self.integral(dc, s, e) / width

    def view(self, dc: int, now: float) -> tuple[np.ndarray, np.ndarray, float]:
        """What a plan made at ``now`` sees of datacenter ``dc``: ``(values, prefix,
        offset_s)`` for :mod:`carbonsim.sim.planners`, whose time 0 is ``offset_s``."""
        return self.values[dc], self.prefix[dc], 0.0


class IssuedForecast(Forecast):
    """A forecast that depends on when it is issued: at the start of every hour ``i``
    a new forecast of hours ``i, i + 1, ...`` (lead 0, 1, ...), from the actual
    hourly series and one of the models below.  A plan made at time ``now`` sees
    the forecast issued at the start of ``now``'s hour.  Every model is
    deterministic given its seed.

    ``"ar1"``: lognormal error growing with lead time.  For the forecast issued at
    hour ``i`` and lead ``k``, ``e_0 = 0`` and ``e_k = phi e_(k-1) + sigma
    sqrt(1 - phi^2) z_k`` (``z`` standard normal, independent per issue), so
    ``Var e_k = sigma^2 (1 - phi^(2k))``: exact for the current hour, rising to
    ``sigma^2`` with a correlation time of ``-1 / ln(phi)`` hours; the forecast is
    ``actual x exp(e_k - Var e_k / 2)`` (mean-preserving).  ``z`` for issues
    ``24b .. 24b + 23`` comes from ``SeedSequence([seed, 0xA41, dc, b])``.

    ``"persistence"``: hour ``h`` forecast as the actual value of the same hour on
    the most recent day already observed at issue time: ``actual[h - 24 m]``,
    ``m = floor(k / 24) + 1`` (yesterday for leads under 24 h, the day before for
    24-47 h, ...).

    ``"day-ahead-mean"``: the mean of the same hour over the seven most recent
    observed days: ``actual[h - 24 (m + d)]``, ``d = 0 .. 6``.

    Before the first hour of the series there is nothing observed: such days
    are skipped, and an hour with none left takes the value of the same hour of
    the series' first day.
    """

    def __init__(self, actual: np.ndarray, model: str, *, sigma: float = 0.0, phi: float = 0.0, seed: int = 0,
                 max_lead_hours: int = 48):
        super().__init__(actual)
        if model not in ("ar1", "persistence", "day-ahead-mean"):
            raise ValueError(f"unknown forecast model {model!r}")
        self.model, self.sigma, self.phi, self.seed = model, float(sigma), float(phi), int(seed)
        self.leads = max(int(max_lead_hours), 2)
        self._views: dict = {}
        self._errors: dict = {}

    def _log_multiplier(self, dc: int, issue: int) -> np.ndarray:
        """ar1: e_k - Var(e_k) / 2 for leads 0 .. leads - 1 of one issue."""
        block = issue // 24
        if (dc, block) not in self._errors:
            from scipy.signal import lfilter

            if len(self._errors) > 64:
                self._errors.clear()
            rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0xA41, dc, block]))
            z = rng.standard_normal((24, self.leads))
            z[:, 0] = 0.0
            c = self.sigma * math.sqrt(1.0 - self.phi ** 2)
            e = lfilter([c], [1.0, -self.phi], z, axis=1)
            var = self.sigma ** 2 * (1.0 - self.phi ** (2 * np.arange(self.leads)))
            self._errors[(dc, block)] = e - var / 2
        return self._errors[(dc, block)][issue % 24]

    def _issue(self, dc: int, issue: int) -> np.ndarray:
        actual = self.values[dc]
        n = self.n_hours
        k = np.arange(self.leads)
        h = issue + k
        if self.model == "ar1":
            return actual[np.minimum(h, n - 1)] * np.exp(self._log_multiplier(dc, issue))
        m = k // 24 + 1
        days = 1 if self.model == "persistence" else 7
        past = h[:, None] - 24 * (m[:, None] + np.arange(days)[None, :])    # (leads, days)
        seen = past >= 0
        vals = actual[np.clip(past, 0, n - 1)]
        count = seen.sum(axis=1)
        mean = np.where(seen, vals, 0.0).sum(axis=1) / np.maximum(count, 1)
        return np.where(count > 0, mean, actual[np.minimum(h % 24, n - 1)])

    def view(self, dc: int, now: float) -> tuple[np.ndarray, np.ndarray, float]:
        issue = min(max(int(now // HOUR), 0), self.n_hours - 1)
        key = (dc, issue)
        got = self._views.get(key)
        if got is None:
            if len(self._views) > 256:
                self._views.clear()
            vals = self._issue(dc, issue)
            prefix = np.zeros(len(vals) + 1)
            np.cumsum(vals, out=prefix[1:])
            got = self._views[key] = (vals, prefix, issue * HOUR)
        return got

    def at(self, dc: int, t: float) -> float:
        vals, _, off = self.view(dc, t)
        return float(vals[min(max(int((t - off) // HOUR), 0), len(vals) - 1)])

    def integral(self, dc: int, s, e):
        s = np.asarray(s, dtype=np.float64)
        e = np.asarray(e, dtype=np.float64)
        if s.ndim:
            return np.array([float(self.integral(dc, a, b)) for a, b in zip(s, e)])
        vals, prefix, off = self.view(dc, float(s))
        return planners.integral(vals, prefix, float(s) - off, float(e) - off)
