"""Scalar values in price files: rates, dates and type names for messages."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation


def parse_rate(raw: object, *, allow_zero: bool = False) -> Decimal | None:
    """A positive (or zero, if allowed) finite Decimal from a number or string, else None."""
    if isinstance(raw, bool):
        return None
    try:
        if isinstance(raw, int):
            value = Decimal(raw)
        elif isinstance(raw, float):
            value = Decimal(repr(raw))  # shortest round-trip text: 0.6 -> "0.6"
        elif isinstance(raw, str):
            value = Decimal(raw.strip())
        else:
            return None
    except InvalidOperation:
        return None
    if not value.is_finite() or value < 0 or (value == 0 and not allow_zero):
        return None
    return value


def parse_date(raw: object) -> date | None:
    if isinstance(raw, datetime):
        return None
    if isinstance(raw, date):
        return raw
    if isinstance(raw, str):
        try:
            return date.fromisoformat(raw)
        except ValueError:
            return None
    return None


def parse_iso(raw: str) -> date | datetime | None:
    """A date for ``2024-07-18``, a datetime for anything longer, else None."""
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(raw)
        except ValueError:
            continue
    return None


def kind(value: object) -> str:
    if value is None:
        return "nothing"
    if value == []:
        return "an empty list"
    return type(value).__name__
