"""The results layer: what a run computed (:class:`Result` and its parts), the stable JSON
contract (docs/results.md), CSV and frames.  Depends on the model layer only."""
from .build import build_result
from .result import RESULT_SCHEMA_VERSION, DatacenterResult, PoolResult, Result, Totals, WorkloadResult

__all__ = ["RESULT_SCHEMA_VERSION", "DatacenterResult", "PoolResult", "Result", "Totals", "WorkloadResult",
           "build_result"]
