"""The accelerator catalog.

Power is the *measured average system power per accelerator* (chip, memory,
network, fans and a share of the host, as metered while the workload ran),
not the chip's TDP: Patterson et al. 2021 (Sec. 2.5, Table 3) show TDP is a
poor proxy, and their Table 4 uses measured power.  Where no measured value is
published, ``system_power_w`` is ``None`` and a run falls back to TDP with a
warning in its result, unless the scenario gives ``power_w_per_chip``.

Embodied carbon figures are published with very different boundaries: the die
alone (LLMCarbon) is 10-20x below a whole-card life-cycle assessment.  Every
figure carries its boundary: ``"die"``, ``"card"`` or ``"card+host"``.

Sources (short keys used in ``Hardware.sources``):

- ``patterson2021``: D. Patterson et al., "Carbon Emissions and Large Neural
  Network Training", arXiv:2104.10350 (2021), Table 3 (measured average system
  power and its standard deviation), Table 4 (TDP) and Sec. 4 (peak TFLOP/s).
- ``llmcarbon``: A. Faiz et al., "LLMCarbon", ICLR 2024 (die-only embodied
  carbon; 5-year linear amortisation).
- ``palm``: A. Chowdhery et al., "PaLM" (2022), Sec. 10 / appendix: TPU v4
  system power 378.5 W per chip during training.
- ``bloom``: A. S. Luccioni et al., "Estimating the Carbon Footprint of
  BLOOM" (2022): A100 idle power ~50 W, 150 kgCO2e embodied per card.
- ``nvidia-spec``: NVIDIA data sheets (V100 SXM2, A100 SXM4, H100 SXM5 TDP and
  dense FP16/BF16 Tensor Core TFLOP/s).
- ``nvidia-dgx-h100``: NVIDIA DGX H100 data sheet, 10.2 kW maximum system
  power for 8 GPUs including the host (1275 W per GPU).
- ``nvidia-pcf-h100``: NVIDIA HGX H100 product carbon footprint (2024),
  164 kgCO2e per card.
- ``google-tpu-v4``: Google Cloud TPU v4 documentation and Jouppi et al.
  ISCA 2023 (275 TFLOP/s bf16 peak; 192 W maximum chip power).
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

#: Full citations of the short source keys used in ``Hardware.sources``.
SOURCES = MappingProxyType({
    "patterson2021": "Patterson et al. 2021, Carbon Emissions and Large Neural Network Training, arXiv:2104.10350",
    "llmcarbon": "Faiz et al., LLMCarbon, ICLR 2024",
    "palm": "Chowdhery et al. 2022, PaLM (TPU v4 system power in training)",
    "bloom": "Luccioni et al. 2022, Estimating the Carbon Footprint of BLOOM",
    "nvidia-spec": "NVIDIA data sheets (V100 SXM2, A100 SXM4, H100 SXM5)",
    "nvidia-dgx-h100": "NVIDIA DGX H100 data sheet (10.2 kW per 8 GPUs incl. host)",
    "nvidia-pcf-h100": "NVIDIA HGX H100 product carbon footprint (2024)",
    "google-tpu-v4": "Google Cloud TPU v4 documentation; Jouppi et al., ISCA 2023",
    "scenario": "set in the scenario file",
})

#: Default embodied-carbon amortisation lifetime (LLMCarbon uses 5 years;
#: Wu et al. 2022 report 3-5 years for Meta's fleet).
DEFAULT_LIFETIME_YEARS = 5.0

EMBODIED_BOUNDARIES = ("die", "card", "card+host")
from .units import SECONDS_PER_YEAR  # noqa: F401  (re-exported)


@dataclass(frozen=True)
class Hardware:
    """One accelerator type.  Units: watts, TFLOP/s, kgCO2e, years."""

    name: str
    description: str = ""
    tdp_w: float | None = None
    system_power_w: float | None = None
    system_power_rel_std: float | None = None
    peak_tflops: float | None = None
    idle_w: float | None = None
    embodied_kgco2e: float | None = None
    embodied_boundary: str | None = None
    lifetime_years: float = DEFAULT_LIFETIME_YEARS
    sources: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))

    @property
    def default_power_w(self) -> float | None:
        """Power used when a workload gives none: measured system power, else TDP."""
        return self.system_power_w if self.system_power_w is not None else self.tdp_w

    @property
    def embodied_kg_per_chip_second(self) -> float:
        """Embodied carbon amortised linearly over the lifetime (0 where none is published)."""
        if self.embodied_kgco2e is None:
            return 0.0
        return self.embodied_kgco2e / (self.lifetime_years * SECONDS_PER_YEAR)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sources"] = dict(self.sources)
        return out


def _hw(name, description, sources, **values) -> Hardware:
    return Hardware(name=name, description=description, sources=MappingProxyType(sources), **values)


_CATALOG = {
    h.name: h
    for h in [
        _hw(
            "tpu-v2", "Google TPU v2",
            tdp_w=280.0,                 # Patterson 2021 Table 4
            system_power_w=221.0,        # Patterson 2021 Table 3 (mean of measured runs)
            system_power_rel_std=0.05,   # Patterson 2021 Table 3
            peak_tflops=46.0,            # Patterson 2021 Sec. 4
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "peak_tflops": "patterson2021", "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "tpu-v3", "Google TPU v3",
            tdp_w=450.0,                 # Patterson 2021 Table 4
            system_power_w=283.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.10,   # Patterson 2021 Table 3
            peak_tflops=123.0,           # Patterson 2021 Sec. 4
            embodied_kgco2e=7.0,         # LLMCarbon, die only
            embodied_boundary="die",
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "peak_tflops": "patterson2021", "embodied_kgco2e": "llmcarbon",
                     "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "tpu-v4", "Google TPU v4",
            tdp_w=192.0,                 # maximum chip power (Jouppi et al. 2023)
            system_power_w=378.5,        # PaLM training, per chip incl. host share
            peak_tflops=275.0,           # bf16 peak (Google Cloud TPU v4 docs)
            embodied_kgco2e=6.4,         # LLMCarbon, die only
            embodied_boundary="die",
            sources={"tdp_w": "google-tpu-v4", "system_power_w": "palm",
                     "peak_tflops": "google-tpu-v4", "embodied_kgco2e": "llmcarbon",
                     "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "p100", "NVIDIA Tesla P100",
            tdp_w=300.0,                 # NVIDIA data sheet
            system_power_w=271.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.11,   # Patterson 2021 Table 3
            peak_tflops=19.0,            # Patterson 2021 Sec. 4 (FP16)
            sources={"tdp_w": "nvidia-spec", "system_power_w": "patterson2021",
                     "peak_tflops": "patterson2021", "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "v100", "NVIDIA V100 SXM2",
            tdp_w=300.0,                 # Patterson 2021 Table 4
            system_power_w=325.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.02,   # Patterson 2021 Table 3
            peak_tflops=125.0,           # Patterson 2021 Sec. 4 (Tensor Core FP16)
            embodied_kgco2e=9.8,         # LLMCarbon, die only
            embodied_boundary="die",
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "peak_tflops": "patterson2021", "embodied_kgco2e": "llmcarbon",
                     "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "a100", "NVIDIA A100 SXM4",
            tdp_w=400.0,                 # NVIDIA data sheet (PCIe: 250 W)
            peak_tflops=312.0,           # NVIDIA data sheet, dense BF16/FP16
            idle_w=50.0,                 # BLOOM study
            embodied_kgco2e=150.0,       # BLOOM study, per card (Boavizta: 143)
            embodied_boundary="card",
            sources={"tdp_w": "nvidia-spec", "peak_tflops": "nvidia-spec", "idle_w": "bloom",
                     "embodied_kgco2e": "bloom", "lifetime_years": "llmcarbon"},
        ),
        _hw(
            "h100", "NVIDIA H100 SXM5",
            tdp_w=700.0,                 # NVIDIA data sheet (PCIe: 350 W)
            system_power_w=1275.0,       # DGX H100: 10.2 kW per 8 GPUs, host included
            peak_tflops=989.0,           # NVIDIA data sheet, dense BF16/FP16
            embodied_kgco2e=164.0,       # NVIDIA HGX H100 product carbon footprint, per card
            embodied_boundary="card",
            sources={"tdp_w": "nvidia-spec", "system_power_w": "nvidia-dgx-h100",
                     "peak_tflops": "nvidia-spec", "embodied_kgco2e": "nvidia-pcf-h100",
                     "lifetime_years": "llmcarbon"},
        ),
    ]
}

#: The built-in catalog, read-only.
CATALOG = MappingProxyType(_CATALOG)


def normalize_name(name: str) -> str:
    """``"TPU v3"``, ``"tpu_v3"`` and ``"tpu-v3"`` all name the same entry."""
    return re.sub(r"[^0-9a-z+]", "", name.lower())


def find(name: str, catalog=CATALOG) -> Hardware | None:
    """Look a hardware name up, ignoring case, spaces, dashes and underscores."""
    key = normalize_name(name)
    for entry_name, entry in catalog.items():
        if normalize_name(entry_name) == key:
            return entry
    return None


def suggest(name: str, names) -> str | None:
    """The closest defined name, for "did you mean" hints."""
    names = list(names)
    keyed = {normalize_name(n): n for n in names}
    match = difflib.get_close_matches(normalize_name(name), list(keyed), n=1, cutoff=0.5)
    return keyed[match[0]] if match else None


def derive(base: Hardware, name: str, **overrides) -> Hardware:
    """A new entry from ``base`` with some values replaced (scenario overrides)."""
    sources = dict(base.sources)
    for key in overrides:
        sources[key] = "scenario"
    return replace(base, name=name, sources=MappingProxyType(sources), **overrides)
