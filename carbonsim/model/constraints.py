"""The constraint vocabulary shared by the file format and the Python APIs.

Each type is a number with its rule (pydantic ``Annotated`` constraints), used by the
scenario file format (:mod:`.spec`) and by the configuration objects of the Python
API (:mod:`.serving`), so one rule is written once and says the same thing
("must be greater than 0, got -5") wherever a value comes from.
"""
from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

#: Limits of what carbonsim simulates (docs/scenario-format.md, "Limits"), checked in the parse step
#: for every workload kind: a run, job, trial or service lasts at most MAX_HOURS (100 years), every
#: workload ends before 2200-01-01, a job has at most MAX_CHIPS chips and at most MAX_FLOPS FLOP.
MAX_HOURS = 876_000
MAX_CHIPS = 10_000_000
MAX_FLOPS = 1e32

#: Largest batch, fleet and horizon the serving kernels take.
MAX_BATCH = 1 << 20
MAX_REPLICAS = 10_000_000
MAX_CHIPS_PER_REPLICA = 1_000_000

Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(gt=0, le=1, allow_inf_nan=False)]          # (0, 1]
Percentile = Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)]      # (0, 100]
Watts = Annotated[float, Field(gt=0, le=1e5, allow_inf_nan=False)]
IdleWatts = Annotated[float, Field(ge=0, le=1e5, allow_inf_nan=False)]
BatchSize = Annotated[int, Field(ge=1, le=MAX_BATCH)]
Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS)]
MinReplicas = Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
MaxReplicas = Annotated[int, Field(ge=1, le=MAX_REPLICAS)]
ChipsPerReplica = Annotated[int, Field(ge=1, le=MAX_CHIPS_PER_REPLICA)]
ControllerInterval = Annotated[float, Field(ge=1e-3, allow_inf_nan=False)]
ServiceTime = Literal["deterministic", "exponential"]
