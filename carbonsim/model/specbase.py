"""The base of the file format's models: strict tables, UTC dates and the years a scenario may span.

Shared by :mod:`.spec` and the tables it is built from (:mod:`.spec_measured`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

from ..grid.signal import FIRST_YEAR, LAST_YEAR

DEFAULT_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
EARLIEST = dt.datetime(FIRST_YEAR, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(LAST_YEAR + 1, 1, 1, tzinfo=dt.timezone.utc)
#: The rule of every date, as error messages state it.
DATE_RANGE = f"between {FIRST_YEAR}-01-01 and {LAST_YEAR}-12-31"


class StrictModel(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, allow_inf_nan=False, validate_default=False
    )


def to_utc(value: Any) -> Any:
    """TOML dates, datetimes and ISO strings -> aware UTC datetimes (naive = UTC)."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be a date or date-time such as 2020-04-01 or 2020-04-01T08:00:00Z")
    if isinstance(value, dt.datetime):
        try:
            value = value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)
        except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
            raise ValueError(f"must be {DATE_RANGE}")
    elif isinstance(value, dt.date):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    else:
        return value  # let the type check report it
    if not (EARLIEST <= value < LATEST):
        raise ValueError(f"must be {DATE_RANGE}")
    return value
