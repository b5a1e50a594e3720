"""The grid layer: hourly carbon intensity of electricity grids.

Every signal is a :class:`GridSignal`: hourly values in gCO2e/kWh from a UTC,
hour-aligned start, tagged with its basis (``"direct"`` combustion only,
``"lifecycle"``, or ``"unspecified"``) so that different bases are never mixed
silently.  Bundled real data (:mod:`.bundle`, names in docs/grid-data.md), users'
CSV files (:mod:`.readers`), gaps, glitches and year alignment (:mod:`.signal`).
Needs numpy and the standard library only; imports nothing else of carbonsim.
"""
from .bundle import clear_cache, data_version, list_signals, load_signal
from .files import recording_reads
from .readers import read_csv, read_eia930_csv, read_electricitymaps_csv
from .signal import (
                     BASES,
                     DEFAULT_MAX_GAP_HOURS,
                     GAP_POLICIES,
                     GLITCH_POLICIES,
                     KINDS,
                     UNIT_FACTORS,
                     UNITS,
                     GridDataWarning,
                     GridError,
                     GridSignal,
                     GridSpanError,
                     align,
                     align_index,
                     constant_signal,
                     fill_gaps,
                     find_glitches,
                     used_hours_notes,
)

__all__ = [
    "BASES", "DEFAULT_MAX_GAP_HOURS", "GAP_POLICIES", "GLITCH_POLICIES", "GridDataWarning", "GridError", "GridSignal",
    "GridSpanError", "KINDS", "UNITS", "UNIT_FACTORS", "align", "align_index", "clear_cache", "constant_signal", "data_version", "fill_gaps", "find_glitches",
    "list_signals", "load_signal", "read_csv", "read_eia930_csv", "read_electricitymaps_csv", "recording_reads", "used_hours_notes",
]
