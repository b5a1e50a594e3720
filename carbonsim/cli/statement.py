"""``carbonsim statement``: a compute-statement paragraph for a paper, from the simulated numbers.

It names the hardware and its power basis, the accelerator-hours, the facility energy and PUE,
each grid with its source, the CO2e (gross and net, with the Monte Carlo interval when the file
has distributions), the embodied carbon and the carbonsim version, and cites every data source.
The same statement is given as plain text, Markdown and LaTeX.
"""
from __future__ import annotations

from .._version import __version__
from ..model.hardware import SOURCES
from .tables import latex_escape

BASIS_WORDS = {"measured": "measured average system power", "tdp": "the chip's TDP, no measured system power "
               "being published", "max_rating": "the vendor's maximum system rating", "scenario": "given in the scenario"}
FIELD_WORDS = {"embodied_kgco2e": "embodied carbon", "lifetime_years": "lifetime", "system_power_w": "system power",
               "tdp_w": "TDP", "system_max_w": "maximum system rating"}


def _count(x: float) -> str:
    if x >= 1e6:
        return f"{x / 1e6:,.3g} million"
    return f"{x:,.0f}" if x >= 100 else f"{x:.3g}"


def mass(kg: float) -> str:
    """Three or four significant figures: ``5,244 t``, ``46.5 t``, ``1.07 t``, ``340 kg``, ``0.012 kg``."""
    t = kg / 1000
    if abs(t) >= 100:
        return f"{t:,.0f} t"
    if abs(t) >= 1:
        return f"{t:.3g} t"
    return f"{kg:.3g} kg" if kg else "0 t"


def _energy(kwh: float) -> str:
    if abs(kwh) >= 1e6:
        return f"{kwh / 1e6:,.3g} GWh"
    if abs(kwh) >= 1e3:
        return f"{kwh / 1e3:,.4g} MWh"
    return f"{kwh:,.3g} kWh"


def _join(items: list[str]) -> str:
    items = [i for i in items if i]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def statement_parts(result, uncertainty=None) -> dict:
    """The statement's pieces: ``paragraph`` (sentences), ``sources`` (every data source, cited),
    ``version``."""
    s = result.scenario
    t = result.totals
    by_hw: dict[str, dict] = {}
    for w in result.workloads:
        h = by_hw.setdefault(w.hardware, {"hours": 0.0, "chips": 0, "basis": set(), "power": set()})
        h["hours"] += w.chip_hours
        h["chips"] = max(h["chips"], w.chips)
        h["basis"].add(w.power_basis or "scenario")
        h["power"].add(w.power_w_per_chip)
    hw_text = []
    for name, h in by_hw.items():
        chip = s.hardware.get(name) if hasattr(s, "hardware") else None
        desc = f" ({chip.description})" if chip is not None and chip.description else ""
        lo, hi = min(h["power"]), max(h["power"])
        power = f"{lo:g}" if lo == hi else f"{lo:g}-{hi:g}"
        basis = "; ".join(BASIS_WORDS.get(b, b) for b in sorted(h["basis"]))
        hw_text.append(f"{_count(h['hours'])} accelerator-hours on {name}{desc} at {power} W per chip ({basis})")
    hours = sum(h["hours"] for h in by_hw.values())
    dcs, pues, means = [], [], []
    for d in result.datacenters:
        tot = d.totals
        if not tot.energy_kwh:
            continue
        g = s.datacenters[d.name].grid
        mean = tot.gross_co2e_kg * 1000 / tot.energy_kwh
        pues.append(d.pue)
        means.append(mean)
        if g.constant and not g.year:
            grid = f"a constant grid intensity of {mean:,.0f} gCO2e/kWh"
        else:
            grid = (f"the {g.name} grid ({g.source}{', ' + str(g.year) if g.year else ''}, {g.basis} basis), "
                    f"{mean:,.0f} gCO2e/kWh on average over the hours used")
        dcs.append(f"{d.name} (PUE {d.pue:g}; {grid})")
    if len(dcs) > 3:
        where = (f"{len(dcs)} datacenters (PUE {min(pues):g}-{max(pues):g}; grid intensity "
                 f"{min(means):,.0f}-{max(means):,.0f} gCO2e/kWh on average over the hours used)")
    else:
        where = _join(dcs)
    paragraph = [f"The workloads of this work ({_join([w.name for w in result.workloads][:6])}"
                 f"{' and others' if len(result.workloads) > 6 else ''}) used {_join(hw_text)}, "
                 f"{_count(hours)} accelerator-hours in all."]
    paragraph.append(f"They drew {_energy(t.it_energy_kwh)} of IT energy, {_energy(t.energy_kwh)} at the "
                     f"facility (IT energy x PUE) in {where}.")
    co2 = (f"Their operational emissions are {mass(t.gross_co2e_kg)} CO2e location-based (hourly average "
           f"grid intensity)")
    if abs(t.net_co2e_kg - t.gross_co2e_kg) > 1e-9 * max(t.gross_co2e_kg, 1):
        co2 += f" and {mass(t.net_co2e_kg)} CO2e net of carbon-free energy"
    co2 += (f"; the embodied emissions of the hardware for the time used add {mass(t.embodied_co2e_kg)}, for a "
            f"total of {mass(t.total_co2e_kg)} CO2e")
    if uncertainty is not None:
        med, lo, hi = uncertainty.interval()
        width = max(uncertainty.percentiles) - min(uncertainty.percentiles)
        co2 += (f" (median {mass(med)}, {width:g}% interval {mass(lo)} to {mass(hi)}, from a Monte Carlo study "
                f"of {uncertainty.n:,} samples over {len(uncertainty.scenario.sampled)} uncertain inputs)")
    paragraph.append(co2 + ".")
    if result.baseline is not None and result.savings is not None and result.baseline.gross_co2e_kg:
        frac = result.savings.gross_co2e_kg / result.baseline.gross_co2e_kg
        paragraph.append(f"Carbon-aware scheduling changed gross emissions by {-frac:+.1%} against running every "
                         f"job at submission in its home datacenter.")
    paragraph.append(f"Estimated with carbonsim {__version__} (scenario {s.name}, sha256 {s.sha256[:12]}).")
    sources = []
    for d in result.datacenters:
        g = s.datacenters[d.name].grid
        if g.constant and not g.year:
            sources.append(f"grid of {d.name}: {g.values[0]:g} gCO2e/kWh, given in the scenario")
        else:
            sources.append(f"grid of {d.name}: {g.name}, {g.source}, {g.year}, {g.basis}"
                           + (f", licence {g.licence}" if getattr(g, "licence", None) else ""))
    cited: dict[str, set] = {}
    for name in by_hw:
        chip = s.hardware.get(name) if hasattr(s, "hardware") else None
        if chip is None:
            continue
        fields = ["embodied_kgco2e", "lifetime_years"]
        if by_hw[name]["basis"] - {"scenario"}:
            fields.append({"measured": "system_power_w", "tdp": "tdp_w", "max_rating": "system_max_w"}
                          .get(chip.power_basis, "system_power_w"))
        for f in fields:
            src = chip.sources.get(f)
            if src:
                cited.setdefault(SOURCES.get(src, src), set()).add(f"{FIELD_WORDS.get(f, f)} of {name}")
    sources += [f"{cite}: {', '.join(sorted(what))}" for cite, what in cited.items()]
    sources.append(f"method: {result.to_dict()['provenance']['accounting']}")
    return {"paragraph": paragraph, "sources": list(dict.fromkeys(sources)), "version": __version__}


def statement_text(result, uncertainty=None) -> str:
    p = statement_parts(result, uncertainty)
    return "\n".join([" ".join(p["paragraph"]), "", "Sources:"] + [f"  - {x}" for x in p["sources"]])


def statement_markdown(result, uncertainty=None) -> str:
    p = statement_parts(result, uncertainty)
    return "\n".join(["**Compute and emissions.** " + " ".join(p["paragraph"]).replace("CO2e", "CO₂e"), "",
                      "Sources:", ""] + [f"- {x}" for x in p["sources"]])


def statement_latex(result, uncertainty=None) -> str:
    p = statement_parts(result, uncertainty)
    body = latex_escape(" ".join(p["paragraph"])).replace(" x PUE", r" \texttimes{} PUE")
    notes = "; ".join(latex_escape(x) for x in p["sources"])
    return "\n".join([r"\paragraph{Compute and emissions.}", body + r"\footnote{Sources: " + notes + ".}"])


def statement(result, uncertainty=None, fmt: str = "text") -> str:
    """The statement as ``"text"``, ``"markdown"`` or ``"latex"``."""
    return {"text": statement_text, "markdown": statement_markdown, "latex": statement_latex}[fmt](result,
                                                                                                   uncertainty)
