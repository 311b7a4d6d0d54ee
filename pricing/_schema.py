"""The price file format: one YAML document per provider, validated strictly.

::

    provider: openai              # OTel gen_ai.provider.name; equals the file stem
    currency: USD
    models:                       # sorted by id
      - id: gpt-4o-mini
        match: {exact: gpt-4o-mini}          # see pricing._match
        prices:                              # ascending effective_from
          - effective_from: 2024-07-18       # date (UTC midnight) or tz-aware datetime
            input_mtok: "0.15"               # per million tokens; string or number
            cached_input_mtok: "0.075"       # optional
            output_mtok: "0.60"
        source: {url: https://..., checked: 2026-11-27}

Optional rates besides ``cached_input_mtok``: ``cache_write_mtok`` (Anthropic
five-minute write), ``cache_write_1h_mtok`` and ``output_reasoning_mtok``.
Unknown keys, duplicate keys, missing fields, non-positive rates, naive
datetimes, unsorted ids, bad regexes and rules that match another model's id
are all problems; every problem is collected and none stops the walk, so one
``PricingError`` lists them all.

Adding a rate means a line in ``_RATE_FIELDS``, a ``ModelPrice`` field and its
line where ``_Parser.model`` builds the price.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pricing._errors import Problem
from pricing._match import AnyOf, MatchRule, leaf_rule
from pricing._model import ModelEntry, ModelPrice

# YAML key -> ModelPrice attribute, and whether the key is required.
_RATE_FIELDS: dict[str, tuple[str, bool]] = {
    "input_mtok": ("input_mtok", True),
    "output_mtok": ("output_mtok", True),
    "cached_input_mtok": ("cache_read_mtok", False),
    "cache_write_mtok": ("cache_write_mtok", False),
    "cache_write_1h_mtok": ("cache_write_1h_mtok", False),
    "output_reasoning_mtok": ("reasoning_mtok", False),
}
_FILE_KEYS = frozenset({"provider", "currency", "models"})
_MODEL_KEYS = frozenset({"id", "match", "prices", "source"})
_PRICE_KEYS = frozenset({"effective_from", *_RATE_FIELDS})
_REQUIRED_PRICE_KEYS = frozenset(
    {"effective_from", *(key for key, (_, required) in _RATE_FIELDS.items() if required)}
)
_SOURCE_KEYS = frozenset({"url", "checked"})
_RULE_KEYS = frozenset({"exact", "prefix", "regex", "any"})
_PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_CURRENCY = re.compile(r"[A-Z]{3}")

# One parsed entry of ``prices``: when it starts, and ModelPrice rate attributes.
_Dated = tuple[datetime, dict[str, Decimal]]


def parse_document(data: object, file: str, stem: str) -> tuple[list[ModelEntry], list[Problem]]:
    """Validate one provider document; return its entries and every problem found."""
    parser = _Parser(file)
    entries = parser.document(data, stem)
    return entries, parser.problems


class _Parser:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []
        self.rules: list[tuple[str, MatchRule]] = []  # (model id, rule) of every parsed rule

    def problem(self, model: str | None, field: str, message: str) -> None:
        self.problems.append(Problem(self.file, model, field, message))

    def keys(
        self,
        raw: dict[Any, Any],
        model: str | None,
        path: str,
        allowed: frozenset[str],
        required: frozenset[str],
    ) -> None:
        prefix = f"{path}." if path else ""
        for key in raw:
            if key not in allowed:
                self.problem(
                    model, f"{prefix}{key}", f"unknown key (allowed: {', '.join(sorted(allowed))})"
                )
        for key in sorted(required - raw.keys()):
            self.problem(model, f"{prefix}{key}", "required field is missing")

    # -- file level ---------------------------------------------------------------

    def document(self, data: object, stem: str) -> list[ModelEntry]:
        if not isinstance(data, dict):
            self.problem(None, "<document>", f"expected a mapping, got {_kind(data)}")
            return []
        self.keys(data, None, "", _FILE_KEYS, _FILE_KEYS)
        provider = self.provider(data.get("provider"), stem)
        currency = self.currency(data.get("currency"))
        models = data.get("models")
        if "models" in data and (not isinstance(models, list) or not models):
            self.problem(None, "models", f"expected a non-empty list, got {_kind(models)}")
            return []
        entries: list[ModelEntry] = []
        for index, raw in enumerate(models or []):
            entry = self.model(raw, index, provider, currency)
            if entry is not None:
                entries.append(entry)
        self.check_order([_model_id(raw) for raw in models or []])
        self.check_captures()
        return entries

    def provider(self, raw: object, stem: str) -> str:
        if raw is None:
            return stem
        if not isinstance(raw, str) or not _PROVIDER_ID.fullmatch(raw):
            self.problem(None, "provider", f"expected a lower-case provider id, got {raw!r}")
            return stem
        if raw != stem:
            self.problem(None, "provider", f"{raw!r} does not match the file name {stem!r}")
        return raw

    def currency(self, raw: object) -> str:
        if raw is not None and (not isinstance(raw, str) or not _CURRENCY.fullmatch(raw)):
            self.problem(None, "currency", f"expected an ISO 4217 code such as USD, got {raw!r}")
        return raw if isinstance(raw, str) else "USD"

    def check_order(self, ids: list[str | None]) -> None:
        seen: set[str] = set()
        previous: str | None = None
        for model_id in ids:
            if model_id is None:
                continue
            if model_id in seen:
                self.problem(model_id, "id", "duplicate model id")
            elif previous is not None and model_id < previous:
                self.problem(
                    model_id,
                    "id",
                    f"models must be sorted by id; {model_id!r} comes after {previous!r}",
                )
            seen.add(model_id)
            previous = model_id if previous is None else max(previous, model_id)

    def check_captures(self) -> None:
        """No rule may match another model's id, nor claim another's exact name.

        Runs over every model whose id and rule parsed, even if its prices or
        source did not, so these problems are reported in the same pass.
        """
        claimed: dict[str, str] = {}
        for model_id, rule in self.rules:
            for other_id, _ in self.rules:
                if other_id != model_id and rule.matches(other_id):
                    self.problem(model_id, "match", f"also matches the id of model {other_id!r}")
            for name in rule.exact_names():
                owner = claimed.setdefault(name, model_id)
                if owner != model_id:
                    self.problem(
                        model_id,
                        "match",
                        f"exact name {name!r} is already claimed by model {owner!r}",
                    )

    # -- model level --------------------------------------------------------------

    def model(self, raw: object, index: int, provider: str, currency: str) -> ModelEntry | None:
        """The entry, or None; None always comes with at least one recorded problem."""
        model_id = _model_id(raw)
        label = model_id if model_id is not None else f"#{index}"
        if not isinstance(raw, dict):
            self.problem(label, "<model>", f"expected a mapping, got {_kind(raw)}")
            return None
        self.keys(raw, label, "", _MODEL_KEYS, _MODEL_KEYS)
        if "id" in raw and model_id is None:
            self.problem(
                label, "id", f"expected a non-empty string without spaces, got {raw['id']!r}"
            )
        rule = self.rule(raw["match"], label, "match") if "match" in raw else None
        if model_id is not None and rule is not None:
            self.rules.append((model_id, rule))
        source = self.source(raw["source"], label) if "source" in raw else None
        prices = self.prices(raw.get("prices"), label) if "prices" in raw else None
        if model_id is None or rule is None or source is None or prices is None:
            return None
        url, checked = source
        history = tuple(
            ModelPrice(
                provider=provider,
                model=model_id,
                match=rule,
                effective_from=effective_from,
                input_mtok=rates["input_mtok"],
                output_mtok=rates["output_mtok"],
                cache_read_mtok=rates.get("cache_read_mtok"),
                cache_write_mtok=rates.get("cache_write_mtok"),
                cache_write_1h_mtok=rates.get("cache_write_1h_mtok"),
                reasoning_mtok=rates.get("reasoning_mtok"),
                source_url=url,
                checked=checked,
                currency=currency,
            )
            for effective_from, rates in prices
        )
        return ModelEntry(provider=provider, id=model_id, match=rule, prices=history)

    def rule(self, raw: object, model: str, path: str) -> MatchRule | None:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in _RULE_KEYS:
            self.problem(
                model, path, f"expected exactly one of {', '.join(sorted(_RULE_KEYS))}, got {raw!r}"
            )
            return None
        kind, value = next(iter(raw.items()))
        path = f"{path}.{kind}"
        if kind == "any":
            return self.any_rule(value, model, path)
        if not isinstance(value, str) or not value:
            self.problem(model, path, f"expected a non-empty string, got {value!r}")
            return None
        try:
            return leaf_rule(kind, value)
        except re.error as exc:
            self.problem(model, path, f"invalid regular expression {value!r}: {exc}")
            return None

    def any_rule(self, raw: object, model: str, path: str) -> AnyOf | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, path, f"expected a non-empty list of rules, got {_kind(raw)}")
            return None
        rules = [self.rule(item, model, f"{path}[{i}]") for i, item in enumerate(raw)]
        valid = tuple(r for r in rules if r is not None)
        return AnyOf(valid) if len(valid) == len(rules) else None

    def source(self, raw: object, model: str) -> tuple[str, date] | None:
        if not isinstance(raw, dict):
            self.problem(
                model, "source", f"expected a mapping with url and checked, got {_kind(raw)}"
            )
            return None
        self.keys(raw, model, "source", _SOURCE_KEYS, _SOURCE_KEYS)
        url, checked = raw.get("url"), raw.get("checked")
        ok = True
        if "url" in raw and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            self.problem(model, "source.url", f"expected an http(s) URL, got {url!r}")
            ok = False
        parsed = _parse_date(checked) if "checked" in raw else None
        if "checked" in raw and parsed is None:
            self.problem(
                model, "source.checked", f"expected a date such as 2026-11-27, got {checked!r}"
            )
        if not ok or parsed is None or not isinstance(url, str):
            return None
        return url, parsed

    # -- price level --------------------------------------------------------------

    def prices(self, raw: object, model: str) -> list[_Dated] | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, "prices", f"expected a non-empty list, got {_kind(raw)}")
            return None
        parsed = [self.price(item, model, f"prices[{i}]") for i, item in enumerate(raw)]
        ok = all(p is not None for p in parsed)
        for i in range(1, len(parsed)):
            before, after = parsed[i - 1], parsed[i]
            if before is not None and after is not None and after[0] <= before[0]:
                ok = False
                self.problem(
                    model,
                    f"prices[{i}].effective_from",
                    "must be later than the previous price's "
                    f"({before[0].isoformat()}); list prices oldest first",
                )
        return [p for p in parsed if p is not None] if ok else None

    def price(self, raw: object, model: str, path: str) -> _Dated | None:
        if not isinstance(raw, dict):
            self.problem(model, path, f"expected a mapping, got {_kind(raw)}")
            return None
        self.keys(raw, model, path, _PRICE_KEYS, _REQUIRED_PRICE_KEYS)
        ok = raw.keys() >= _REQUIRED_PRICE_KEYS
        effective_from = None
        if "effective_from" in raw:
            effective_from = self.effective_from(raw["effective_from"], model, path)
        rates: dict[str, Decimal] = {}
        for key, (attribute, _) in _RATE_FIELDS.items():
            if key not in raw:
                continue
            rate = _parse_rate(raw[key])
            if rate is None:
                ok = False
                self.problem(
                    model,
                    f"{path}.{key}",
                    f"expected a positive number or numeric string, got {raw[key]!r}",
                )
            else:
                rates[attribute] = rate
        if not ok or effective_from is None:
            return None
        return effective_from, rates

    def effective_from(self, raw: object, model: str, path: str) -> datetime | None:
        field = f"{path}.effective_from"
        value = _parse_iso(raw) if isinstance(raw, str) else raw
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


def _parse_rate(raw: object) -> Decimal | None:
    """A positive finite Decimal from a number or numeric string, else None."""
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
    return value if value.is_finite() and value > 0 else None


def _parse_iso(raw: str) -> date | datetime | None:
    """A date for ``2024-07-18``, a datetime for anything longer, else None."""
    for parse in (date.fromisoformat, datetime.fromisoformat):
        try:
            return parse(raw)
        except ValueError:
            continue
    return None


def _parse_date(raw: object) -> date | None:
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


def _model_id(raw: object) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str) and value and not any(c.isspace() for c in value):
            return value
    return None


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if value == []:
        return "an empty list"
    return type(value).__name__
