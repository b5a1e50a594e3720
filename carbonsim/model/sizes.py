"""How big a training run is: its chips and its compute, from the keys a file gives.

``chips`` with one length key, or ``chip_hours`` (accelerator-hours, the "GPU hours"
of Llama-style reports) with or without ``chips``; ``flops``, or ``tokens`` with
``parameters`` through the dense-transformer rule

    training FLOPs ≈ 6 × N × D

(N parameters, D tokens: 2·N·D for the forward pass and 4·N·D for the backward pass;
Kaplan et al. 2020, "Scaling Laws for Neural Language Models", arXiv:2001.08361, §2.1;
Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", arXiv:2203.15556,
§3).  For mixture-of-experts models N is the activated parameters, N × activated_fraction
(as LLMCarbon, Faiz et al. 2024, does).
"""
from __future__ import annotations

import math

from .errors import Problem
from .spec import TrainingSpec

#: chip_hours on their own (no chips, no duration) are spread over at most this span.
DEFAULT_SPAN_HOURS = 30 * 24.0
MAX_CHIPS = 10_000_000


def training_flops(parameters: float, tokens: float, activated_fraction: float | None = None) -> float:
    """6 × active parameters × tokens (see the module docstring for the sources)."""
    return 6.0 * parameters * (activated_fraction or 1.0) * tokens


def training_size(path: str, t: TrainingSpec, datacenter, problems: list[Problem],
                  warnings: list[str]) -> tuple[int, float | None] | None:
    """``(chips, flops)`` of a training run; None (with a problem) if the keys cannot give them."""
    flops = t.flops
    if t.tokens is not None:
        flops = training_flops(t.parameters, t.tokens, t.activated_fraction)
        if flops > 1e32:
            problems.append(Problem(f"{path}.tokens", f"implies {flops:.3g} FLOPs, more than 1e+32", t.tokens,
                                    fix="check parameters and tokens"))
            return None
    if t.chips is not None:
        chips = t.chips
        if t.chip_hours is not None and t.chip_hours * 3600.0 / chips > 36500 * 86400.0:
            problems.append(Problem(f"{path}.chip_hours", f"with chips = {chips} implies a run longer than 100 years",
                                    t.chip_hours, fix="check chip_hours and chips"))
            return None
        return chips, flops
    if t.chip_hours is None:
        problems.append(Problem(f"{path}.chips", "required key is missing", has_value=False,
                                fix="for example chips = 512; or chip_hours = 184320, the accelerator-hours of the run"))
        return None
    hours = (t.duration_days * 24.0 if t.duration_days is not None
             else t.duration_hours if t.duration_hours is not None else None)
    if hours is None:
        chips = max(1, math.ceil(t.chip_hours / DEFAULT_SPAN_HOURS - 1e-9))
    else:
        chips = max(1, round(t.chip_hours / hours))
    if chips > MAX_CHIPS:
        problems.append(Problem(f"{path}.chip_hours", f"implies {chips:,} chips, more than {MAX_CHIPS:,}",
                                t.chip_hours, fix="give chips, or a longer duration_days"))
        return None
    run_hours = t.chip_hours / chips
    if hours is None:
        timing = not datacenter.grid.constant or bool(datacenter.pools) or t.policy is not None
        if timing:
            warnings.append(f"{path} ({t.name}): chip_hours = {t.chip_hours:g} without chips or a duration: run as "
                            f"{chips:,} chips for {run_hours / 24:.4g} days (energy does not depend on this split, "
                            "but an hourly grid, a pool or a policy does; give chips or duration_days)")
    elif abs(run_hours - hours) > 0.01 * hours:
        key = "duration_days" if t.duration_days is not None else "duration_hours"
        warnings.append(f"{path} ({t.name}): chip_hours / {key} is not a whole number of chips: run as {chips:,} "
                        f"chips for {run_hours:.4g} h instead of {hours:.4g} h (chip_hours kept exact)")
    return chips, flops
