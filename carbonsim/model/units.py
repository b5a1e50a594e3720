"""Internal units and their conversion factors: seconds, watts, joules, gCO2e/kWh, UTC."""
SECONDS_PER_HOUR = 3600.0
SECONDS_PER_DAY = 86400.0
SECONDS_PER_YEAR = 365.25 * SECONDS_PER_DAY
J_PER_WH = 3600.0
J_PER_KWH = 3.6e6
