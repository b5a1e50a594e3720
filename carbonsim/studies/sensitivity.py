"""Sobol' sensitivity indices (with bootstrap intervals) and the one-at-a-time tornado."""
from __future__ import annotations

import datetime as dt

import numpy as np

from ..model import uncertain as unc

# Sensitivity
# ---------------------------------------------------------------------------


def sobol_indices(f_a: np.ndarray, f_b: np.ndarray, f_ab: np.ndarray, *, seed: int = 0,
                  n_resamples: int = 1000, confidence: float = 0.95) -> dict:
    """First-order and total Sobol' indices (scipy.stats.sobol_indices, Saltelli 2010 / Jansen
    estimators) with percentile bootstrap intervals drawn from ``child_seed(seed, 2)``.

    ``f_a``, ``f_b``: outputs at the n rows of A and B; ``f_ab``: (d, n), outputs
    where column i of A is taken from B.  (scipy's own ``bootstrap()`` draws from
    the global NumPy state; this one is seeded, and vectorised.)
    """
    from scipy.stats import sobol_indices as scipy_sobol

    f_a, f_b, f_ab = (np.asarray(a, dtype=float) for a in (f_a, f_b, f_ab))
    d, n = f_ab.shape
    mean = np.mean([f_a, f_b])
    a, b, ab = f_a - mean, f_b - mean, f_ab - mean
    try:
        res = scipy_sobol(func={"f_A": f_a[None, :], "f_B": f_b[None, :], "f_AB": f_ab[:, None, :]}, n=n)
        s1 = np.atleast_1d(np.asarray(res.first_order, dtype=float)).reshape(d)
        st = np.atleast_1d(np.asarray(res.total_order, dtype=float)).reshape(d)
    except TypeError:
        # scipy squeezes a single input's indices to a scalar and then fails; the same estimators here
        var = np.var(np.concatenate([a, b]))
        with np.errstate(divide="ignore", invalid="ignore"):
            s1 = np.mean(b * (ab - a), axis=1) / var
            st = 0.5 * np.mean((a - ab) ** 2, axis=1) / var
        s1[~np.isfinite(s1)] = 0.0
        st[~np.isfinite(st)] = 0.0
    # Each estimator is a ratio of means of per-row terms, so a resample is a vector of row counts
    # w and its estimates follow from w @ terms: no (resamples x n x d) gathers.
    terms = np.column_stack([(b * (ab - a)).T, ((a - ab) ** 2).T, a, b, a * a, b * b])   # (n, 2d + 4)
    rng = np.random.default_rng(unc.child_seed(seed, 2))
    boot_s1, boot_st = np.empty((n_resamples, d)), np.empty((n_resamples, d))
    step = max(1, min(n_resamples, int(2e6 // n)))
    with np.errstate(divide="ignore", invalid="ignore"):
        for r0 in range(0, n_resamples, step):
            r = min(step, n_resamples - r0)
            idx = rng.integers(0, n, size=(r, n)) + (np.arange(r) * n)[:, None]
            counts = np.bincount(idx.ravel(), minlength=r * n).reshape(r, n).astype(np.float64)
            m = counts @ terms / n
            var = (m[:, -2] + m[:, -1]) / 2 - ((m[:, -4] + m[:, -3]) / 2) ** 2
            boot_s1[r0:r0 + r] = m[:, :d] / var[:, None]
            boot_st[r0:r0 + r] = 0.5 * m[:, d:2 * d] / var[:, None]
    boot_s1[~np.isfinite(boot_s1)] = 0.0
    boot_st[~np.isfinite(boot_st)] = 0.0
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    return {"S1": s1, "ST": st, "S1_interval": np.percentile(boot_s1, q, axis=0).T,
            "ST_interval": np.percentile(boot_st, q, axis=0).T, "n": n, "confidence_level": confidence,
            "n_resamples": n_resamples}


# ---------------------------------------------------------------------------


def tornado_rows(u: unc.UncertainScenario, percentiles) -> tuple[np.ndarray, list]:
    """Rows for the one-at-a-time analysis: all inputs at their medians, then each input at its
    low/high percentile (every level of a categorical input), the others at their medians.  The
    marginals are used as they are (no copula): one input moves, the others stay."""
    d = len(u.sampled)
    mid = np.array([inp.dist.ppf(np.array([0.5]))[0] for inp in u.sampled])
    rows = [mid.copy()]
    index = []
    lo, hi = min(percentiles) / 100, max(percentiles) / 100
    for j, inp in enumerate(u.sampled):
        if inp.categorical:
            points = [float(k) for k in range(len(inp.dist.levels))]
        else:
            points = [float(inp.dist.ppf(np.array([q]))[0]) for q in (lo, hi)]
        first = len(rows)
        for v in points:
            r = mid.copy()
            r[j] = v
            rows.append(r)
        index.append((j, first, len(points)))
    return np.array(rows).reshape(-1, d), index


def tornado(u, f: np.ndarray, index: list, percentiles) -> list[dict]:
    nominal = float(f[0])
    out = []
    for j, first, k in index:
        inp = u.sampled[j]
        vals = f[first:first + k]
        if inp.categorical:
            lo_i, hi_i = int(np.argmin(vals)), int(np.argmax(vals))
            low_v, high_v = inp.dist.levels[lo_i], inp.dist.levels[hi_i]
            low, high = float(vals[lo_i]), float(vals[hi_i])
        else:
            low_v, high_v = inp.value(inp.dist.ppf(np.array([min(percentiles) / 100]))[0]), inp.value(
                inp.dist.ppf(np.array([max(percentiles) / 100]))[0])
            low, high = float(vals[0]), float(vals[1])
        out.append({"path": inp.path, "low_value": jsonable(low_v), "high_value": jsonable(high_v),
                    "low": low, "high": high, "swing": abs(high - low), "nominal": nominal})
    return out


def jsonable(v):
    return v.isoformat() if isinstance(v, dt.date) else v
