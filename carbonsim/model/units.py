"""Internal units and their conversion factors: seconds, watts, joules, gCO2e/kWh, UTC."""
from ..grid.signal import MAX_INTENSITY

SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY
J_PER_WH = 3600.0
J_PER_KWH = 3.6e6

#: Carbon-intensity units a scenario may write in ``grid_intensity = "954 lbs/MWh"``, as
#: multipliers to gCO2e/kWh (1 lb = 453.59237 g exactly, by the international yard and
#: pound agreement of 1959).  A ``CO2``, ``CO2e`` or ``CO2eq`` after the mass is accepted.
INTENSITY_UNITS = {"g/kwh": 1.0, "kg/kwh": 1000.0, "t/mwh": 1000.0, "kg/mwh": 1.0, "g/mwh": 0.001,
                   "lb/mwh": 0.45359237, "lbs/mwh": 0.45359237, "lb/kwh": 453.59237, "lbs/kwh": 453.59237}
INTENSITY_UNIT_NAMES = "g/kWh, kg/kWh, t/MWh, kg/MWh, lbs/MWh or lbs/kWh"


def intensity_g_per_kwh(text: str) -> float:
    """``"954 lbs/MWh"`` -> gCO2e/kWh (432.7...); ValueError naming the accepted form otherwise."""
    import math
    import re

    match = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(\S.*?)\s*", text)
    if match is None:
        raise ValueError(f"must be a number and a unit such as \"954 lbs/MWh\" or \"0.429 kg/kWh\" "
                         f"(units: {INTENSITY_UNIT_NAMES})")
    number, unit = float(match.group(1)), match.group(2)
    key = unit.lower().replace(" ", "").replace("₂", "2")
    for tag in ("co2eq", "co2e", "co2"):
        key = key.replace(tag, "")
    if key not in INTENSITY_UNITS:
        raise ValueError(f"unit {unit!r} is not a carbon-intensity unit (use {INTENSITY_UNIT_NAMES})")
    value = number * INTENSITY_UNITS[key]
    if not math.isfinite(value) or value < 0 or value > MAX_INTENSITY:
        raise ValueError(f"must be between 0 and {MAX_INTENSITY} gCO2e/kWh (is {value:g} gCO2e/kWh)")
    return value
