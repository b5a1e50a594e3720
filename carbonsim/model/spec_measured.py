"""``[[workloads.measured]]``: runs whose energy was measured (the file format's table).

Its readers and resolution are in :mod:`.measured`.
"""
from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator, model_validator

from .specbase import StrictModel, to_utc

COMPONENTS = ("cpu", "gpu", "ram")
INLINE_KEYS = ("duration_hours", "energy_kwh", "cpu_energy_kwh", "gpu_energy_kwh", "ram_energy_kwh")


class MeasuredSpec(StrictModel):
    """``[[workloads.measured]]``: a CodeCarbon log, a power trace, or the measured figures of one run."""

    name: str = Field(min_length=1, max_length=200, examples=["fine-tune"])
    description: str = ""
    datacenter: str = Field(min_length=1, examples=["lab"])
    hardware: str | None = Field(None, min_length=1, examples=["a100-40gb"],
                                 description="Accelerator of the run, for embodied carbon (default: from the "
                                             "log's gpu_model where it names a catalog entry).")
    chips: int | None = Field(None, ge=1, le=10_000_000, examples=[8],
                              description="Accelerators of the run (default: the log's gpu_count, else 1).")
    phase: Literal["training", "experimentation", "inference"] = "training"
    codecarbon: str | None = Field(None, min_length=1, examples=["emissions.csv"],
                                   description="A CodeCarbon emissions.csv (path relative to the scenario file): "
                                               "one workload per run (row).")
    power_trace: str | None = Field(None, min_length=1, examples=["power.csv"],
                                    description="CSV timestamp,watts of the run's IT power (path relative to the "
                                                "scenario file).")
    runs: list[str] = Field(default_factory=list, max_length=100_000,
                            description="run_id values of the CodeCarbon log to keep (default: every run).")
    components: list[Literal["cpu", "gpu", "ram"]] = Field(
        default_factory=lambda: list(COMPONENTS), min_length=1, max_length=3,
        description="Measured components counted as the run's IT energy.")
    timezone: str = Field("UTC", description="Timezone of naive timestamps (CodeCarbon writes the machine's local "
                                             "time without an offset).", examples=["Europe/Paris"])
    start: dt.datetime | None = Field(None, description="Start of the run (figures given here; default "
                                                        "scenario.start).", examples=["2024-05-27T11:26:35Z"])
    duration_hours: float | None = Field(None, gt=0, le=876_000, examples=[0.0833])
    energy_kwh: float | None = Field(None, ge=0, le=1e12, description="Measured IT energy of the run, when the "
                                                                     "components are not known.")
    cpu_energy_kwh: float | None = Field(None, ge=0, le=1e12)
    gpu_energy_kwh: float | None = Field(None, ge=0, le=1e12)
    ram_energy_kwh: float | None = Field(None, ge=0, le=1e12)
    measured_pue: float = Field(1.0, ge=1.0, le=5.0, description="PUE already applied to the measured energies "
                                                                 "(divided out; the datacenter's PUE applies).")
    reported_energy_kwh: float | None = Field(None, ge=0, le=1e12,
                                              description="Energy the measuring tool reported, shown beside ours.")
    reported_co2e_kg: float | None = Field(None, ge=0, le=1e12,
                                           description="CO2e the measuring tool reported, shown beside ours.")

    _utc = field_validator("start", mode="before")(to_utc)

    @model_validator(mode="after")
    def _source(self):
        inline = [k for k in INLINE_KEYS if getattr(self, k) is not None]
        sources = [k for k in ("codecarbon", "power_trace") if getattr(self, k) is not None] + (
            ["the figures (duration_hours, energies)"] if inline else [])
        if len(sources) != 1:
            raise ValueError("give exactly one of codecarbon (an emissions.csv), power_trace (a CSV of timestamp,watts) "
                             "or the measured figures (duration_hours with energy_kwh or cpu/gpu/ram_energy_kwh)"
                             + (f" (got {', '.join(sources)})" if sources else ""))
        if self.runs and self.codecarbon is None:
            raise ValueError("runs selects runs of a codecarbon log; remove it or give codecarbon")
        if self.start is not None and not inline:
            raise ValueError("start is read from the file; remove it")
        if inline:
            if self.duration_hours is None:
                raise ValueError("measured figures need duration_hours")
            parts = [k for k in INLINE_KEYS[2:] if getattr(self, k) is not None]
            if (self.energy_kwh is None) == (not parts):
                raise ValueError("give energy_kwh, or the components cpu_energy_kwh, gpu_energy_kwh and "
                                 "ram_energy_kwh, not both")
        if self.codecarbon is not None and "measured_pue" in self.model_fields_set:
            raise ValueError("a CodeCarbon log gives its PUE in its pue column; remove measured_pue")
        try:
            import zoneinfo
            zoneinfo.ZoneInfo(self.timezone)
        except Exception:
            raise ValueError(f"timezone {self.timezone!r} is not an IANA name such as 'Europe/Paris'")
        return self
