"""Compare two variants of a model's lifecycle, phase by phase, with the break-even.

Break-even: split each variant into a one-off part (everything but inference:
search, experimentation, training, idle capacity) and serving (inference).
If B costs more up front but less to serve (the seed's example: twice the
training energy, 20% less serving energy), B is better once serving exceeds

    D* = D x (upfront_B - upfront_A) / (serving_A - serving_B)

where D is the serving duration of the scenarios, assuming serving energy
scales in proportion to how long (or, equally, how much traffic) the model
is served; the same ratio is the break-even traffic as a multiple of the
scenarios' traffic.  Computed for facility energy and for total CO2e.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..results import Result, Totals
from ..results.jsonout import dumps


@dataclass(frozen=True)
class BreakEven:
    quantity: str                 # "energy_kwh" or "total_co2e_kg"
    a: float
    b: float
    upfront_a: float
    upfront_b: float
    serving_a: float
    serving_b: float
    serving_days: float | None

    @property
    def winner(self) -> str:
        return "B" if self.b < self.a else "A" if self.a < self.b else "tie"

    @property
    def ratio(self) -> float | None:
        """Break-even serving, as a multiple of the scenarios' serving (None: no crossing)."""
        d_up = self.upfront_b - self.upfront_a
        d_serve = self.serving_a - self.serving_b
        if d_serve == 0 or d_up == 0 or (d_up > 0) != (d_serve > 0):
            return None
        return d_up / d_serve

    def sentence(self, unit: str, scale: float) -> str:
        change = (self.b - self.a) / self.a if self.a else 0.0
        text = (f"B {'lowers' if self.b < self.a else 'raises'} the lifecycle total by "
                f"{abs(self.b - self.a) / scale:,.2f} {unit} ({change:+.1%}): A {self.a / scale:,.2f}, "
                f"B {self.b / scale:,.2f} {unit}.")
        r = self.ratio
        if r is None:
            better = "B" if self.b < self.a else "A"
            if self.serving_a == self.serving_b == 0:
                return text + " Neither variant serves: no break-even."
            return text + f" {better} is better at any serving duration or traffic."
        cheaper_to_serve = "B" if self.serving_b < self.serving_a else "A"
        when = f"{r * self.serving_days:,.0f} days of serving" if self.serving_days else "that much serving"
        return (text + f" {cheaper_to_serve} costs more up front and less to serve: it wins beyond {r:.3g}x "
                f"the scenarios' serving ({when} at this traffic, or {r:.3g}x the traffic over this period).")

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "difference": self.b - self.a,
                "relative_difference": (self.b - self.a) / self.a if self.a else None, "winner": self.winner,
                "upfront": {"a": self.upfront_a, "b": self.upfront_b},
                "serving": {"a": self.serving_a, "b": self.serving_b},
                "break_even_serving_ratio": self.ratio,
                "break_even_serving_days": None if self.ratio is None or not self.serving_days
                else self.ratio * self.serving_days}


@dataclass(frozen=True)
class Comparison:
    a: Result
    b: Result
    energy: BreakEven
    co2e: BreakEven

    @property
    def warnings(self) -> tuple[str, ...]:
        """Set when the two runs' catalog power is on different bases (measured, TDP, maximum rating)."""
        ba, bb = power_bases(self.a), power_bases(self.b)
        if len(ba | bb) <= 1:
            return ()
        return (f"A and B use power on different bases (A: {', '.join(sorted(ba)) or 'scenario'}; "
                f"B: {', '.join(sorted(bb)) or 'scenario'}): measured system power, chip TDP and system maximum "
                "ratings are not comparable, so part of the difference is the basis (set power_w_per_chip "
                "on one basis for both)",)

    def phases(self) -> dict[str, tuple[Totals, Totals]]:
        pa, pb = self.a.by_phase(), self.b.by_phase()
        return {k: (pa.get(k, Totals()), pb.get(k, Totals())) for k in dict.fromkeys([*pa, *pb])}

    def services(self) -> dict[str, tuple[dict | None, dict | None]]:
        """Per service (by workload name) in A or B: its serving summary in A and in B (None where absent):
        ``latency_s`` (p50 / p95 / p99 with the request-level engine, mean always) and ``per_query``."""
        sa = {w.name: w.serving for w in self.a.workloads if w.serving}
        sb = {w.name: w.serving for w in self.b.workloads if w.serving}
        return {k: (sa.get(k), sb.get(k)) for k in dict.fromkeys([*sa, *sb])}

    def to_dict(self) -> dict:
        return {
            "serving": {k: {"a": None if a is None else {"latency_s": a["latency_s"], "per_query": a["per_query"]},
                            "b": None if b is None else {"latency_s": b["latency_s"], "per_query": b["per_query"]}}
                        for k, (a, b) in self.services().items()},
            "a": {"scenario": self.a.scenario.name, "sha256": self.a.scenario.sha256},
            "b": {"scenario": self.b.scenario.name, "sha256": self.b.scenario.sha256},
            "phases": {k: {"a": ta.to_dict(), "b": tb.to_dict(),
                           "delta": {"energy_kwh": tb.energy_kwh - ta.energy_kwh,
                                     "total_co2e_kg": tb.total_co2e_kg - ta.total_co2e_kg}}
                       for k, (ta, tb) in self.phases().items()},
            "totals": {"a": self.a.totals.to_dict(), "b": self.b.totals.to_dict()},
            "energy_kwh": self.energy.to_dict(),
            "total_co2e_kg": self.co2e.to_dict(),
            "power_bases": {"a": sorted(power_bases(self.a)), "b": sorted(power_bases(self.b))},
            "warnings": list(self.warnings),
        }

    def format_table(self, fmt: str = "text") -> str:
        from ..cli.tables import comparison_table
        return comparison_table(self, fmt)

    def __repr__(self) -> str:
        from ..cli.notebook import comparison_repr
        return comparison_repr(self)

    def _repr_html_(self) -> str:
        from ..cli.notebook import comparison_html
        return comparison_html(self)

    def to_json(self) -> str:
        return dumps(self.to_dict(), indent=2)


def power_bases(r: Result) -> set[str]:
    """The catalog power bases of a run's workloads (power given in the scenario is left out)."""
    return {w.power_basis for w in r.workloads if w.power_basis not in (None, "scenario")}


def _serving_days(r: Result) -> float | None:
    days = [w.days for w in r.workloads if w.phase == "inference"]
    return max(days) if days else None


def _split(r: Result, key: str) -> tuple[float, float]:
    phases = r.by_phase()
    serving = getattr(phases["inference"], key) if "inference" in phases else 0.0
    return getattr(r.totals, key) - serving, serving


def compare(a: Result, b: Result) -> Comparison:
    """Phase-by-phase comparison of two results, with break-even serving."""
    days = _serving_days(a) or _serving_days(b)

    def breakeven(key):
        ua, sa = _split(a, key)
        ub, sb = _split(b, key)
        return BreakEven(key, getattr(a.totals, key), getattr(b.totals, key), ua, ub, sa, sb, days)

    return Comparison(a, b, breakeven("energy_kwh"), breakeven("total_co2e_kg"))
