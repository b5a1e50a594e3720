"""The accelerator catalog.

Power is the *measured average system power per accelerator* (chip, memory,
network, fans and a share of the host, as metered while the workload ran),
not the chip's TDP: Patterson et al. 2021 (Sec. 2.5, Table 3) show TDP is a
poor proxy, and their Table 4 uses measured power.

Power bases
-----------

Every entry says which figure a run uses when a workload gives no
``power_w_per_chip``, its ``power_basis``:

- ``"measured"``: ``system_power_w``, a published *measured* average system
  power per chip with its host share (the basis of Patterson et al.'s Table 4).
- ``"tdp"``: ``tdp_w``, the chip's thermal design power: chip only, no host,
  memory or network share.  The fallback where no measurement is published
  (what Meta's Llama 2/3 model cards and the BLOOM study use).  Where not even
  a TDP is published (TPU v5e, v5p) the entry has no power figure and a run
  asks for ``power_w_per_chip``.
- ``"max_rating"``: ``system_max_w``, a vendor's *maximum* system power
  rating divided by its accelerators (host included): an upper bound, not an
  average.

Runs on a non-measured basis warn once per hardware; ``compare`` and
``sweep`` warn when runs add or compare power on different bases.  Where a
vendor publishes a system maximum, ``system_max_w`` is listed for reference
even when the basis is another one.

Aliases: ``a100`` is the A100 SXM4 **80 GB** (the variant of the BLOOM study
and of Meta's Llama 2 model card; also ``a100-80gb``); ``h100`` is the H100
**SXM5** 80 GB (the variant of the measured HGX H100 node, the DGX H100 rating
and NVIDIA's HGX H100 carbon footprint; also ``h100-sxm``).  The PCIe H100 is
``h100-pcie``, the 40 GB A100 ``a100-40gb``.

Embodied carbon figures are published with very different boundaries: the die
alone (LLMCarbon) is 10-20x below a whole-card life-cycle assessment.  Every
figure carries its boundary: ``"die"``, ``"card"`` or ``"card+host"``.

Sources: every number of every entry names a key of :data:`SOURCES` (full
citation) in ``Hardware.sources``, and :data:`SOURCE_YEARS` gives its year.
Figures researched and not shipped, for the record: Latif et al. 2024
(arXiv:2412.08602) saw at most 8.4 kW on an 8-GPU H100 HGX node in training
(a peak, not an average); no measured average system power with host share
was found for the A100, H200, B200, L4, T4, MI250X, MI300X, TPU v5e/v5p or
Gaudi 2/3, so these stay on their TDP.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

from .names import name_key

#: Full citations of the short source keys used in ``Hardware.sources``.
SOURCES = MappingProxyType({
    "patterson2021": "Patterson et al. 2021, Carbon Emissions and Large Neural Network Training, arXiv:2104.10350 "
                     "(Table 3 measured average system power, Table 4 TDP, Sec. 4 peak TFLOP/s)",
    "llmcarbon": "Faiz et al., LLMCarbon, ICLR 2024 (die-only embodied carbon; 5-year linear amortisation)",
    "palm": "Chowdhery et al. 2022, PaLM (TPU v4 system power in training, 378.5 W per chip)",
    "bloom": "Luccioni et al. 2022, Estimating the Carbon Footprint of BLOOM (A100 idle ~50 W, 150 kgCO2e per card)",
    "newkirk2025": "Newkirk et al. 2025, Empirically-Calibrated H100 Node Power Models, arXiv:2506.14551 "
                   "(8-GPU H100 HGX nodes in training at Brookhaven National Laboratory: compute-intensive "
                   "workloads at 76% of the 10.2 kW rating, host included)",
    "nvidia-p100": "NVIDIA Tesla P100 data sheet (300 W SXM2)",
    "nvidia-a100": "NVIDIA A100 Tensor Core GPU data sheet (SXM4 40/80 GB: 400 W; 312 TFLOP/s dense BF16)",
    "nvidia-h100": "NVIDIA H100 Tensor Core GPU data sheet (SXM5 up to 700 W, 989 TFLOP/s dense BF16; "
                   "PCIe 350 W, 756 TFLOP/s dense BF16)",
    "nvidia-h200": "NVIDIA H200 Tensor Core GPU data sheet (SXM up to 700 W; 989 TFLOP/s dense BF16)",
    "nvidia-b200": "NVIDIA HGX B200 specifications (B200 up to 1,000 W; 2,250 TFLOP/s dense BF16)",
    "nvidia-l4": "NVIDIA L4 Tensor Core GPU data sheet (72 W; 121 TFLOP/s dense BF16/FP16)",
    "nvidia-t4": "NVIDIA T4 Tensor Core GPU data sheet (70 W; 65 TFLOP/s FP16 mixed precision)",
    "nvidia-dgx-a100": "NVIDIA DGX A100 data sheet (6.5 kW maximum system power for 8 GPUs incl. host)",
    "nvidia-dgx-h100": "NVIDIA DGX H100 data sheet (10.2 kW maximum system power for 8 GPUs incl. host)",
    "nvidia-dgx-b200": "NVIDIA DGX B200 data sheet (14.3 kW maximum system power for 8 GPUs incl. host)",
    "nvidia-pcf-h100": "NVIDIA HGX H100 product carbon footprint (164 kgCO2e per card)",
    "google-tpu-v4": "Google Cloud TPU v4 documentation; Jouppi et al., ISCA 2023 (275 TFLOP/s bf16; 192 W max chip)",
    "google-tpu-v5e": "Google Cloud TPU v5e documentation (197 TFLOP/s bf16 per chip; no power figure published)",
    "google-tpu-v5p": "Google Cloud TPU v5p documentation (459 TFLOP/s bf16 per chip; no power figure published)",
    "amd-mi250x": "AMD Instinct MI250X data sheet (560 W peak board power; 383 TFLOP/s BF16)",
    "amd-mi300x": "AMD Instinct MI300X data sheet (750 W board power; 1,307.4 TFLOP/s dense BF16)",
    "intel-gaudi": "Kaplan (Intel), Intel Gaudi 3 AI Accelerator, Hot Chips 2024 (Gaudi 2: 600 W OAM, 432 TFLOP/s "
                   "BF16; Gaudi 3: 900 W air-cooled OAM, 1,835 TFLOP/s BF16)",
    "llama2": "Touvron et al. 2023, Llama 2 model card (A100-80GB at 400 W: peak power per GPU, a TDP basis)",
    "llama3": "Meta 2024, Llama 3 model card (H100-80GB at 700 W: TDP basis)",
    "scenario": "set in the scenario file",
})

#: Year of publication of each source (``None``: the scenario file).
SOURCE_YEARS = MappingProxyType({
    "patterson2021": 2021, "llmcarbon": 2024, "palm": 2022, "bloom": 2022, "newkirk2025": 2025,
    "nvidia-p100": 2016, "nvidia-a100": 2021, "nvidia-h100": 2022, "nvidia-h200": 2024, "nvidia-b200": 2024,
    "nvidia-l4": 2023, "nvidia-t4": 2018, "nvidia-dgx-a100": 2020, "nvidia-dgx-h100": 2023,
    "nvidia-dgx-b200": 2024, "nvidia-pcf-h100": 2024, "google-tpu-v4": 2023, "google-tpu-v5e": 2023,
    "google-tpu-v5p": 2023, "amd-mi250x": 2021, "amd-mi300x": 2023, "intel-gaudi": 2024, "llama2": 2023,
    "llama3": 2024, "scenario": None,
})

#: Default embodied-carbon amortisation lifetime (LLMCarbon uses 5 years;
#: Wu et al. 2022 report 3-5 years for Meta's fleet).
DEFAULT_LIFETIME_YEARS = 5.0

EMBODIED_BOUNDARIES = ("die", "card", "card+host")
from .units import SECONDS_PER_YEAR  # noqa: F401  (re-exported)

#: The power bases, and the field each takes its figure from.
POWER_BASES = ("measured", "tdp", "max_rating")
POWER_BASIS_FIELD = MappingProxyType({"measured": "system_power_w", "tdp": "tdp_w", "max_rating": "system_max_w"})
POWER_BASIS_TEXT = MappingProxyType({
    "measured": "measured average system power per chip, host share included",
    "tdp": "chip TDP (chip only, no host share)",
    "max_rating": "system maximum power rating per chip, host included (an upper bound)",
})


@dataclass(frozen=True)
class Hardware:
    """One accelerator type.  Units: watts, TFLOP/s, kgCO2e, years.

    ``power_basis`` names the figure ``default_power_w`` uses (see the module
    docs); left ``None`` it is ``"measured"`` when ``system_power_w`` is
    given, else ``"tdp"`` when ``tdp_w`` is, else ``"max_rating"`` when
    ``system_max_w`` is, else ``"tdp"`` (no figure: a run must give one).
    """

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
    system_max_w: float | None = None
    power_basis: str | None = None
    note: str = ""

    def __post_init__(self):
        basis = self.power_basis
        if basis is None:
            basis = ("measured" if self.system_power_w is not None else "tdp" if self.tdp_w is not None
                     else "max_rating" if self.system_max_w is not None else "tdp")
            object.__setattr__(self, "power_basis", basis)
        if basis not in POWER_BASES:
            raise ValueError(f"{self.name}: power_basis must be one of {', '.join(POWER_BASES)}, got {basis!r}")
        if basis != "tdp" and getattr(self, POWER_BASIS_FIELD[basis]) is None:
            raise ValueError(f"{self.name}: power_basis {basis!r} needs {POWER_BASIS_FIELD[basis]}")

    @property
    def default_power_w(self) -> float | None:
        """Power used when a workload gives none: the figure of ``power_basis`` (None: none published)."""
        return getattr(self, POWER_BASIS_FIELD[self.power_basis])

    @property
    def power_source(self) -> str | None:
        """Source key of ``default_power_w``."""
        return self.sources.get(POWER_BASIS_FIELD[self.power_basis])

    def citation(self, key: str) -> str | None:
        """``"<full citation> (<year>)"`` of the source of field ``key``, None where it has none."""
        src = self.sources.get(key)
        if src is None:
            return None
        year = SOURCE_YEARS.get(src)
        return SOURCES.get(src, src) + (f" ({year})" if year else "")

    @property
    def embodied_kg_per_chip_second(self) -> float:
        """Embodied carbon amortised linearly over the lifetime (0 where none is published)."""
        if self.embodied_kgco2e is None:
            return 0.0
        return self.embodied_kgco2e / (self.lifetime_years * SECONDS_PER_YEAR)

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["sources"] = dict(self.sources)
        out["source_years"] = {k: SOURCE_YEARS.get(v) for k, v in self.sources.items()}
        out["default_power_w"] = self.default_power_w
        return out


def basis_warning(chip: Hardware) -> str | None:
    """The warning of a run that uses ``chip``'s catalog power on a non-measured basis (None: measured, or
    no figure at all)."""
    power = chip.default_power_w
    if chip.power_basis == "measured" or power is None:
        return None
    src = chip.power_source
    year = SOURCE_YEARS.get(src) if src else None
    cite = f" ({src}, {year})" if year else f" ({src})" if src else ""
    return (f"no measured system power for {chip.name}; using its {POWER_BASIS_TEXT[chip.power_basis]}: "
            f"{power:g} W per chip{cite}, not comparable with measured system power "
            "(set power_w_per_chip to override)")


def _hw(name, description, sources, **values) -> Hardware:
    sources = {"lifetime_years": "llmcarbon", **sources}
    return Hardware(name=name, description=description, sources=MappingProxyType(sources), **values)


_NO_MEASUREMENT = "no published measured average system power with host share: TDP basis"

_CATALOG = {
    h.name: h
    for h in [
        _hw(
            "tpu-v2", "Google TPU v2",
            tdp_w=280.0,                 # Patterson 2021 Table 4
            system_power_w=221.0,        # Patterson 2021 Table 3 (mean of measured runs)
            system_power_rel_std=0.05,   # Patterson 2021 Table 3
            peak_tflops=46.0,            # Patterson 2021 Sec. 4
            power_basis="measured",
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "system_power_rel_std": "patterson2021", "peak_tflops": "patterson2021"},
        ),
        _hw(
            "tpu-v3", "Google TPU v3",
            tdp_w=450.0,                 # Patterson 2021 Table 4
            system_power_w=283.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.10,   # Patterson 2021 Table 3
            peak_tflops=123.0,           # Patterson 2021 Sec. 4
            embodied_kgco2e=7.0,         # LLMCarbon, die only
            embodied_boundary="die",
            power_basis="measured",
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "system_power_rel_std": "patterson2021", "peak_tflops": "patterson2021",
                     "embodied_kgco2e": "llmcarbon"},
        ),
        _hw(
            "tpu-v4", "Google TPU v4",
            tdp_w=192.0,                 # maximum chip power (Jouppi et al. 2023)
            system_power_w=378.5,        # PaLM training, per chip incl. host share
            peak_tflops=275.0,           # bf16 peak (Google Cloud TPU v4 docs)
            embodied_kgco2e=6.4,         # LLMCarbon, die only
            embodied_boundary="die",
            power_basis="measured",
            sources={"tdp_w": "google-tpu-v4", "system_power_w": "palm",
                     "peak_tflops": "google-tpu-v4", "embodied_kgco2e": "llmcarbon"},
        ),
        _hw(
            "p100", "NVIDIA Tesla P100",
            tdp_w=300.0,                 # NVIDIA data sheet
            system_power_w=271.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.11,   # Patterson 2021 Table 3
            peak_tflops=19.0,            # Patterson 2021 Sec. 4 (FP16)
            power_basis="measured",
            sources={"tdp_w": "nvidia-p100", "system_power_w": "patterson2021",
                     "system_power_rel_std": "patterson2021", "peak_tflops": "patterson2021"},
        ),
        _hw(
            "v100", "NVIDIA V100 SXM2",
            tdp_w=300.0,                 # Patterson 2021 Table 4
            system_power_w=325.0,        # Patterson 2021 Table 3
            system_power_rel_std=0.02,   # Patterson 2021 Table 3
            peak_tflops=125.0,           # Patterson 2021 Sec. 4 (Tensor Core FP16)
            embodied_kgco2e=9.8,         # LLMCarbon, die only
            embodied_boundary="die",
            power_basis="measured",
            sources={"tdp_w": "patterson2021", "system_power_w": "patterson2021",
                     "system_power_rel_std": "patterson2021", "peak_tflops": "patterson2021",
                     "embodied_kgco2e": "llmcarbon"},
        ),
        _hw(
            "a100", "NVIDIA A100 SXM4 80 GB",
            tdp_w=400.0,                 # NVIDIA data sheet; Llama 2 model card reports the same 400 W
            system_max_w=6500.0 / 8,     # DGX A100: 6.5 kW maximum per 8 GPUs, host included
            peak_tflops=312.0,           # NVIDIA data sheet, dense BF16/FP16
            idle_w=50.0,                 # BLOOM study
            embodied_kgco2e=150.0,       # BLOOM study, per card (Boavizta: 143)
            embodied_boundary="card",
            power_basis="tdp",
            note=_NO_MEASUREMENT + " (400 W, as in Meta's Llama 2 model card and the BLOOM study); "
                 "DGX A100 rating 812.5 W per GPU with host",
            sources={"tdp_w": "nvidia-a100", "system_max_w": "nvidia-dgx-a100", "peak_tflops": "nvidia-a100",
                     "idle_w": "bloom", "embodied_kgco2e": "bloom"},
        ),
        _hw(
            "h100", "NVIDIA H100 SXM5 80 GB",
            tdp_w=700.0,                 # NVIDIA data sheet ("up to 700 W"); Llama 3 model card: 700 W
            system_power_w=0.76 * 10_200.0 / 8,   # measured: 76% of the 10.2 kW node rating, per GPU, host incl.
            system_max_w=10_200.0 / 8,   # DGX H100: 10.2 kW maximum per 8 GPUs, host included
            peak_tflops=989.0,           # NVIDIA data sheet, dense BF16/FP16
            embodied_kgco2e=164.0,       # NVIDIA HGX H100 product carbon footprint, per card
            embodied_boundary="card",
            power_basis="measured",
            note="measured on 8-GPU HGX H100 nodes in training (compute-intensive workloads; Latif et al. 2024 "
                 "saw an 8.4 kW peak on one such node)",
            sources={"tdp_w": "nvidia-h100", "system_power_w": "newkirk2025", "system_max_w": "nvidia-dgx-h100",
                     "peak_tflops": "nvidia-h100", "embodied_kgco2e": "nvidia-pcf-h100"},
        ),
        _hw(
            "a100-40gb", "NVIDIA A100 SXM4 40 GB",
            tdp_w=400.0,                 # NVIDIA data sheet
            system_max_w=6500.0 / 8,     # DGX A100 (first shipped with 40 GB GPUs): 6.5 kW per 8 GPUs
            peak_tflops=312.0,           # NVIDIA data sheet, dense BF16/FP16
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "nvidia-a100", "system_max_w": "nvidia-dgx-a100", "peak_tflops": "nvidia-a100"},
        ),
        _hw(
            "h100-pcie", "NVIDIA H100 PCIe 80 GB",
            tdp_w=350.0,                 # NVIDIA data sheet / product brief: maximum TDP 350 W
            peak_tflops=756.0,           # NVIDIA data sheet, dense BF16 (1,513 with sparsity)
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "nvidia-h100", "peak_tflops": "nvidia-h100"},
        ),
        _hw(
            "h200", "NVIDIA H200 SXM 141 GB",
            tdp_w=700.0,                 # NVIDIA data sheet: up to 700 W
            peak_tflops=989.0,           # NVIDIA data sheet, dense BF16 (1,979 with sparsity)
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "nvidia-h200", "peak_tflops": "nvidia-h200"},
        ),
        _hw(
            "b200", "NVIDIA B200 (HGX/DGX B200)",
            tdp_w=1000.0,                # HGX B200: up to 1,000 W per GPU
            system_max_w=14_300.0 / 8,   # DGX B200: 14.3 kW maximum per 8 GPUs, host included
            peak_tflops=2250.0,          # HGX B200, dense BF16 (4.5 PFLOP/s with sparsity)
            power_basis="tdp", note=_NO_MEASUREMENT + "; DGX B200 rating 1,787.5 W per GPU with host",
            sources={"tdp_w": "nvidia-b200", "system_max_w": "nvidia-dgx-b200", "peak_tflops": "nvidia-b200"},
        ),
        _hw(
            "l4", "NVIDIA L4",
            tdp_w=72.0,                  # NVIDIA data sheet: 72 W maximum
            peak_tflops=121.0,           # NVIDIA data sheet, dense BF16/FP16 (242 with sparsity)
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "nvidia-l4", "peak_tflops": "nvidia-l4"},
        ),
        _hw(
            "t4", "NVIDIA T4",
            tdp_w=70.0,                  # NVIDIA data sheet
            peak_tflops=65.0,            # NVIDIA data sheet, FP16 mixed precision
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "nvidia-t4", "peak_tflops": "nvidia-t4"},
        ),
        _hw(
            "mi250x", "AMD Instinct MI250X (OAM)",
            tdp_w=560.0,                 # AMD data sheet: 560 W peak board power
            peak_tflops=383.0,           # AMD data sheet, peak BF16/FP16
            power_basis="tdp", note=_NO_MEASUREMENT + " (board power)",
            sources={"tdp_w": "amd-mi250x", "peak_tflops": "amd-mi250x"},
        ),
        _hw(
            "mi300x", "AMD Instinct MI300X (OAM)",
            tdp_w=750.0,                 # AMD data sheet: 750 W board power
            peak_tflops=1307.4,          # AMD data sheet, dense BF16/FP16 (2,614.9 with sparsity)
            power_basis="tdp", note=_NO_MEASUREMENT + " (board power)",
            sources={"tdp_w": "amd-mi300x", "peak_tflops": "amd-mi300x"},
        ),
        _hw(
            "tpu-v5e", "Google TPU v5e",
            peak_tflops=197.0,           # Google Cloud TPU v5e docs, bf16 per chip
            power_basis="tdp",
            note="no published power figure: Google publishes neither a TDP nor a measured system power",
            sources={"peak_tflops": "google-tpu-v5e"},
        ),
        _hw(
            "tpu-v5p", "Google TPU v5p",
            peak_tflops=459.0,           # Google Cloud TPU v5p docs, bf16 per chip
            power_basis="tdp",
            note="no published power figure: Google publishes neither a TDP nor a measured system power",
            sources={"peak_tflops": "google-tpu-v5p"},
        ),
        _hw(
            "gaudi2", "Intel Gaudi 2 (OAM)",
            tdp_w=600.0,                 # Intel, Hot Chips 2024: 600 W OAM
            peak_tflops=432.0,           # Intel, Hot Chips 2024: peak BF16
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "intel-gaudi", "peak_tflops": "intel-gaudi"},
        ),
        _hw(
            "gaudi3", "Intel Gaudi 3 (air-cooled OAM)",
            tdp_w=900.0,                 # Intel, Hot Chips 2024: 900 W air-cooled (1,200 W liquid-cooled)
            peak_tflops=1835.0,          # Intel, Hot Chips 2024: BF16 matrix
            power_basis="tdp", note=_NO_MEASUREMENT,
            sources={"tdp_w": "intel-gaudi", "peak_tflops": "intel-gaudi"},
        ),
    ]
}

#: The built-in catalog, read-only.
CATALOG = MappingProxyType(_CATALOG)

#: Other names of catalog entries (where a name could mean several variants, the one of the published
#: figures: see the module docs).
ALIASES = MappingProxyType({
    "a100-80gb": "a100", "a100-sxm4-80gb": "a100", "a100-sxm4-40gb": "a100-40gb",
    "h100-sxm": "h100", "h100-sxm5": "h100", "h100-sxm-80gb": "h100", "h100-pcie-80gb": "h100-pcie",
    "h200-sxm": "h200", "tpu-v5-lite": "tpu-v5e", "tpu-v5litepod": "tpu-v5e",
})


def normalize_name(name: str) -> str:
    """``"TPU v3"``, ``"tpu_v3"`` and ``"tpu-v3"`` all name the same entry (the rule of :mod:`.names`)."""
    return name_key(name)


_ALIAS_KEYS = {normalize_name(k): v for k, v in ALIASES.items()}


def find(name: str, catalog=CATALOG, aliases: bool = True) -> Hardware | None:
    """Look a hardware name up, ignoring case, spaces, dashes and underscores; then (``aliases``)
    among :data:`ALIASES`."""
    key = normalize_name(name)
    for entry_name, entry in catalog.items():
        if normalize_name(entry_name) == key:
            return entry
    if aliases and key in _ALIAS_KEYS:
        return find(_ALIAS_KEYS[key], catalog, aliases=False)
    return None


def suggest(name: str, names) -> str | None:
    """The closest defined name, for "did you mean" hints."""
    names = list(names)
    keyed = {normalize_name(n): n for n in names}
    match = difflib.get_close_matches(normalize_name(name), list(keyed), n=1, cutoff=0.5)
    return keyed[match[0]] if match else None


def derive(base: Hardware, name: str, **overrides) -> Hardware:
    """A new entry from ``base`` with some values replaced (scenario overrides).

    A ``system_power_w`` given this way is a measured average system power (the scenario format's
    definition), so the entry's basis becomes ``"measured"`` unless ``power_basis`` is given too.
    """
    sources = dict(base.sources)
    for key in overrides:
        if key != "power_basis":
            sources[key] = "scenario"
    if "power_basis" not in overrides and overrides.get("system_power_w") is not None:
        overrides["power_basis"] = "measured"
    return replace(base, name=name, sources=MappingProxyType(sources), **overrides)
