"""The base of the file format's models: strict tables, UTC dates and the years a scenario may span.

Shared by :mod:`.spec` and the tables it is built from (:mod:`.spec_measured`).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

DEFAULT_START = dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.timezone.utc)


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
            raise ValueError("must be between 1970-01-01 and 2199-12-31")
    elif isinstance(value, dt.date):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    else:
        return value  # let the type check report it
    if not (EARLIEST <= value < LATEST):
        raise ValueError("must be between 1970-01-01 and 2199-12-31")
    return value
