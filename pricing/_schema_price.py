"""The ``prices`` list of a model entry: dated rates, tiers, windows and units.

::

    prices:                                  # ascending effective_from
      - effective_from: 2025-09-29           # date (UTC midnight) or tz-aware datetime
        input_mtok: "3"                      # per million tokens; string or number
        cached_input_mtok: "0.30"            # cache read
        cache_write_mtok: "3.75"             # five-minute cache write
        cache_write_1h_mtok: "6"             # one-hour cache write
        output_mtok: "15"
        output_reasoning_mtok: "15"          # only where reasoning is priced apart
        tiers:                               # long context: whole request at these rates
          - {above_input_tokens: 200000, input_mtok: "6", output_mtok: "22.50"}
        service_tiers:                       # batch | flex | priority | scale
          batch: {input_mtok: "1.50", output_mtok: "7.50", tiers: [...]}
        windows:                             # daily UTC windows; days optional (mon..sun)
          - {start: "16:30", end: "00:30", input_mtok: "0.135", output_mtok: "0.55"}
        units:                               # non-token units, see pricing._usage.UNIT_NAMES
          - {unit: characters, per: 1000000, price: "15"}
          - {unit: images, price: "0.08", when: {size: 1024x1024, quality: hd}}
          - {unit: amount, percent: "2.9"}
          - {unit: seconds, per: 60, price: "0.024", minimum: 15}

Every rate is positive. A price needs token rates, units, or both; token rates
other than ``input_mtok`` need ``input_mtok`` beside them. Tiers ascend;
a service tier repeats the long-context tiers when the base has them (its
long-context rates differ too); windows do not combine with tiers.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from pricing._errors import Problem
from pricing._model import ContextTier, Rates, ServiceTier, TimeWindow, UnitPrice
from pricing._schema_values import kind, parse_iso, parse_rate
from pricing._usage import DIMENSIONS, UNIT_NAMES

# YAML key -> Rates attribute.
RATE_FIELDS: dict[str, str] = {
    "input_mtok": "input_mtok",
    "output_mtok": "output_mtok",
    "cached_input_mtok": "cache_read_mtok",
    "cache_write_mtok": "cache_write_mtok",
    "cache_write_1h_mtok": "cache_write_1h_mtok",
    "output_reasoning_mtok": "reasoning_mtok",
}
_PRICE_KEYS = frozenset({"effective_from", "tiers", "service_tiers", "windows", "units"})
_TIER_KEYS = frozenset({"above_input_tokens", *RATE_FIELDS})
_SERVICE_TIER_KEYS = frozenset({"tiers", *RATE_FIELDS})
_SERVICE_TIERS = frozenset({"batch", "flex", "priority", "scale"})
_WINDOW_KEYS = frozenset({"start", "end", "days", *RATE_FIELDS})
_UNIT_KEYS = frozenset({"unit", "per", "price", "percent", "minimum", "when"})
_DAYS = {"mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6, "sun": 7}
_CLOCK = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")


class Priced:
    """One parsed ``prices`` item, ready to become a ``ModelPrice``."""

    def __init__(self, effective_from: datetime, rates: Rates) -> None:
        self.effective_from = effective_from
        self.rates = rates
        self.tiers: tuple[ContextTier, ...] = ()
        self.service_tiers: dict[str, ServiceTier] = {}
        self.windows: tuple[TimeWindow, ...] = ()
        self.units: tuple[UnitPrice, ...] = ()


class PriceParser:
    """Validates price lists, recording every problem instead of stopping."""

    problems: list[Problem]

    def problem(self, model: str | None, field: str, message: str) -> None:
        raise NotImplementedError

    def keys(
        self,
        raw: dict[Any, Any],
        model: str | None,
        path: str,
        allowed: frozenset[str],
        required: frozenset[str],
    ) -> bool:
        """Report unknown and missing keys; True when there were none."""
        prefix = f"{path}." if path else ""
        ok = True
        for key in raw:
            if key not in allowed:
                ok = False
                self.problem(
                    model, f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required - raw.keys()):
            ok = False
            self.problem(model, f"{prefix}{key}", "required field is missing")
        return ok

    def prices(self, raw: object, model: str) -> list[Priced] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, "prices", f"expected a non-empty list, got {kind(raw)}")
            return None
        parsed = [self.price(item, model, f"prices[{i}]") for i, item in enumerate(raw)]
        ok = all(p is not None for p in parsed)
        for i in range(1, len(parsed)):
            before, after = parsed[i - 1], parsed[i]
            if (
                before is not None
                and after is not None
                and after.effective_from <= before.effective_from
            ):
                ok = False
                self.problem(
                    model,
                    f"prices[{i}].effective_from",
                    "must be later than the previous price's "
                    f"({before.effective_from.isoformat()}); list prices oldest first",
                )
        return [p for p in parsed if p is not None] if ok else None

    def price(self, raw: object, model: str, path: str) -> Priced | None:
        """The parsed price, or None; None always comes with recorded problems."""
        if not isinstance(raw, dict):
            self.problem(model, path, f"expected a mapping, got {kind(raw)}")
            return None
        before = len(self.problems)
        allowed = _PRICE_KEYS | RATE_FIELDS.keys()
        self.keys(raw, model, path, allowed, frozenset({"effective_from"}))
        start = None
        if "effective_from" in raw:
            start = self.effective_from(raw["effective_from"], model, path)
        rates = self.rates(raw, model, path, base=True)
        priced = Priced(start or datetime.min.replace(tzinfo=UTC), rates or Rates())
        if "tiers" in raw:
            priced.tiers = self.tiers(raw["tiers"], model, f"{path}.tiers") or ()
        if "service_tiers" in raw:
            priced.service_tiers = self.service_tiers(
                raw["service_tiers"], model, path, base_tiered="tiers" in raw
            )
        if "windows" in raw:
            priced.windows = self.windows(raw["windows"], model, f"{path}.windows") or ()
            if "tiers" in raw or "service_tiers" in raw:
                self.problem(
                    model, f"{path}.windows", "cannot be combined with tiers or service_tiers"
                )
        if "units" in raw:
            priced.units = self.units(raw["units"], model, f"{path}.units") or ()
        if rates is not None and rates.is_empty() and "units" not in raw:
            self.problem(model, path, "a price needs token rates (input_mtok ...) or units")
        return priced if len(self.problems) == before else None

    def rates(self, raw: dict[Any, Any], model: str, path: str, *, base: bool) -> Rates | None:
        values: dict[str, Decimal] = {}
        ok = True
        for key, attribute in RATE_FIELDS.items():
            if key not in raw:
                continue
            rate = parse_rate(raw[key])
            if rate is None:
                ok = False
                self.problem(
                    model,
                    f"{path}.{key}",
                    f"expected a positive number or numeric string, got {raw[key]!r}",
                )
            else:
                values[attribute] = rate
        if base and values and "input_mtok" not in values and "input_mtok" not in raw:
            ok = False
            self.problem(
                model, f"{path}.input_mtok", "required field is missing (other token rates are set)"
            )
        return Rates(**values) if ok else None

    def tiers(self, raw: object, model: str, path: str) -> tuple[ContextTier, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, path, f"expected a non-empty list, got {kind(raw)}")
            return None
        tiers: list[ContextTier] = []
        for i, item in enumerate(raw):
            where = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.problem(model, where, f"expected a mapping, got {kind(item)}")
                continue
            self.keys(item, model, where, _TIER_KEYS, frozenset({"above_input_tokens"}))
            above = item.get("above_input_tokens")
            rates = self.rates(item, model, where, base=False)
            if "above_input_tokens" in item and (
                not isinstance(above, int) or isinstance(above, bool) or above <= 0
            ):
                self.problem(
                    model,
                    f"{where}.above_input_tokens",
                    f"expected a positive integer, got {above!r}",
                )
                continue
            if rates is None or not isinstance(above, int):
                continue
            if rates.is_empty():
                self.problem(model, where, "a tier needs at least one rate")
                continue
            if tiers and above <= tiers[-1].above_input_tokens:
                self.problem(model, f"{where}.above_input_tokens", "tiers must ascend")
                continue
            tiers.append(ContextTier(above, rates))
        return tuple(tiers) if len(tiers) == len(raw) else None

    def service_tiers(
        self, raw: object, model: str, path: str, *, base_tiered: bool
    ) -> dict[str, ServiceTier]:
        where = f"{path}.service_tiers"
        if not isinstance(raw, dict) or not raw:
            self.problem(model, where, f"expected a non-empty mapping, got {kind(raw)}")
            return {}
        result: dict[str, ServiceTier] = {}
        for name, item in raw.items():
            here = f"{where}.{name}"
            if name not in _SERVICE_TIERS:
                self.problem(
                    model,
                    here,
                    f"unknown service tier (allowed: {', '.join(sorted(_SERVICE_TIERS))})",
                )
                continue
            if not isinstance(item, dict):
                self.problem(model, here, f"expected a mapping, got {kind(item)}")
                continue
            self.keys(item, model, here, _SERVICE_TIER_KEYS, frozenset())
            rates = self.rates(item, model, here, base=False)
            tiers = self.tiers(item["tiers"], model, f"{here}.tiers") if "tiers" in item else ()
            if base_tiered and not item.get("tiers"):
                self.problem(
                    model,
                    f"{here}.tiers",
                    "the base price has long-context tiers; give this service tier's too",
                )
                continue
            if rates is None or tiers is None:
                continue
            if rates.is_empty():
                self.problem(model, here, "a service tier needs at least one rate")
                continue
            result[name] = ServiceTier(rates, tiers)
        return result

    def windows(self, raw: object, model: str, path: str) -> tuple[TimeWindow, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, path, f"expected a non-empty list, got {kind(raw)}")
            return None
        windows: list[TimeWindow] = []
        for i, item in enumerate(raw):
            where = f"{path}[{i}]"
            if not isinstance(item, dict):
                self.problem(model, where, f"expected a mapping, got {kind(item)}")
                continue
            self.keys(item, model, where, _WINDOW_KEYS, frozenset({"start", "end"}))
            start = (
                self.clock(item.get("start"), model, f"{where}.start") if "start" in item else None
            )
            end = self.clock(item.get("end"), model, f"{where}.end") if "end" in item else None
            days = (
                self.days(item["days"], model, f"{where}.days") if "days" in item else frozenset()
            )
            rates = self.rates(item, model, where, base=False)
            if start is None or end is None or days is None or rates is None:
                continue
            if start == end or rates.is_empty():
                self.problem(model, where, "a window needs start != end and at least one rate")
                continue
            windows.append(TimeWindow(start, end, days, rates))
        return tuple(windows) if len(windows) == len(raw) else None

    def clock(self, raw: object, model: str, field: str) -> time | None:
        if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
            return time(raw // 60, raw % 60)  # YAML 1.1 reads 16:30 as sexagesimal 990
        if isinstance(raw, str) and (match := _CLOCK.fullmatch(raw)):
            return time(int(match[1]), int(match[2]))
        self.problem(model, field, f'expected a UTC time such as "16:30", got {raw!r}')
        return None

    def days(self, raw: object, model: str, field: str) -> frozenset[int] | None:
        if isinstance(raw, list) and raw and all(d in _DAYS for d in raw):
            return frozenset(_DAYS[d] for d in raw)
        self.problem(model, field, f"expected a list of days ({', '.join(_DAYS)}), got {raw!r}")
        return None

    def units(self, raw: object, model: str, path: str) -> tuple[UnitPrice, ...] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, path, f"expected a non-empty list, got {kind(raw)}")
            return None
        units: list[UnitPrice] = []
        seen: set[tuple[str, frozenset[tuple[str, str]]]] = set()
        for i, item in enumerate(raw):
            unit = self.unit(item, model, f"{path}[{i}]")
            if unit is None:
                continue
            key = (unit.unit, frozenset(unit.when.items()))
            if key in seen:
                self.problem(
                    model,
                    f"{path}[{i}]",
                    f"a price for {unit.unit} with the same 'when' comes earlier",
                )
                continue
            seen.add(key)
            units.append(unit)
        return tuple(units) if len(units) == len(raw) else None

    def unit(self, raw: object, model: str, where: str) -> UnitPrice | None:
        if not isinstance(raw, dict):
            self.problem(model, where, f"expected a mapping, got {kind(raw)}")
            return None
        ok = self.keys(raw, model, where, _UNIT_KEYS, frozenset({"unit"}))
        name = raw.get("unit")
        if "unit" in raw and name not in UNIT_NAMES:
            ok = False
            self.problem(
                model,
                f"{where}.unit",
                f"unknown unit {name!r} (known: {', '.join(sorted(UNIT_NAMES))})",
            )
        if ("price" in raw) == ("percent" in raw):
            ok = False
            self.problem(model, where, "give exactly one of price (per 'per' units) or percent")
        numbers: dict[str, Decimal] = {}
        for key in ("per", "price", "percent", "minimum"):
            if key in raw:
                # price 0 states that a unit is free (Anthropic web fetch), so it is
                # priced rather than unknown
                value = parse_rate(raw[key], allow_zero=key == "price")
                if value is None:
                    ok = False
                    self.problem(
                        model, f"{where}.{key}", f"expected a positive number, got {raw[key]!r}"
                    )
                else:
                    numbers[key] = value
        when = self.when(raw.get("when", {}), model, f"{where}.when")
        if not ok or when is None or not isinstance(name, str):
            return None
        return UnitPrice(
            unit=name,
            when=when,
            per=numbers.get("per", Decimal(1)),
            price=numbers.get("price"),
            percent=numbers.get("percent"),
            minimum=numbers.get("minimum"),
        )

    def when(self, raw: object, model: str, field: str) -> dict[str, str] | None:
        if not isinstance(raw, dict):
            self.problem(model, field, f"expected a mapping of dimensions, got {kind(raw)}")
            return None
        result: dict[str, str] = {}
        for key, value in raw.items():
            allowed = DIMENSIONS.get(key) if isinstance(key, str) else None
            if key not in DIMENSIONS:
                self.problem(
                    model,
                    f"{field}.{key}",
                    f"unknown dimension (known: {', '.join(sorted(DIMENSIONS))})",
                )
            elif (
                not isinstance(value, str)
                or not value
                or (allowed is not None and value not in allowed)
            ):
                self.problem(model, f"{field}.{key}", f"invalid value {value!r}")
            else:
                result[key] = value
        return result if len(result) == len(raw) else None

    def effective_from(self, raw: object, model: str, path: str) -> datetime | None:
        field = f"{path}.effective_from"
        value = parse_iso(raw) if isinstance(raw, str) else raw
        if isinstance(value, datetime):
            if value.utcoffset() is None:
                self.problem(
                    model, field, f"{value.isoformat()} must be timezone-aware (append Z for UTC)"
                )
                return None
            return value.astimezone(UTC)
        if isinstance(value, date):
            return datetime(value.year, value.month, value.day, tzinfo=UTC)
        self.problem(model, field, f"expected an ISO date or datetime, got {raw!r}")
        return None
