"""The price file format: one YAML document per provider, validated strictly.

::

    provider: openai              # OTel gen_ai.provider.name (or ours); equals the file stem
    currency: USD
    default_model: standard       # optional: the entry used when a call names no model
    models:                       # sorted by id
      - id: gpt-4o-mini
        match: {exact: gpt-4o-mini}          # see pricing._match
        note: "..."                          # optional: how this entry bills, in words
        prices: [...]                        # see pricing._schema_price
        source: {url: https://..., checked: 2026-11-27}
      - id: omni-moderation
        match: {prefix: omni-moderation-}
        not_billable: "moderation is free"   # instead of prices
        source: {url: https://..., checked: 2026-11-27}

A user override file (``LLMOBSERVE_PRICING_FILE``) is either one such
document or ``{providers: [<document>, ...]}``; there ``provider`` is
required (there is no file stem to take it from) and ``source`` is optional.

Unknown keys, duplicate keys, missing fields, non-positive rates, naive
datetimes, unsorted ids, bad regexes and rules that match another model's id
are all problems; every problem is collected, with its line, and none stops
the walk, so one ``PricingError`` lists them all.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pricing._errors import Problem
from pricing._match import AnyOf, MatchRule, leaf_rule
from pricing._model import ModelEntry, ModelPrice
from pricing._schema_price import Priced, PriceParser
from pricing._schema_values import kind, parse_date
from pricing._yaml import locate

_FILE_KEYS = frozenset({"provider", "currency", "models", "default_model"})
_REQUIRED_FILE_KEYS = frozenset({"provider", "currency", "models"})
_MODEL_KEYS = frozenset({"id", "match", "prices", "source", "note", "not_billable"})
_SOURCE_KEYS = frozenset({"url", "checked"})
_RULE_KEYS = frozenset({"exact", "prefix", "regex", "any"})
_PROVIDER_ID = re.compile(r"[a-z0-9][a-z0-9_.-]*")
_CURRENCY = re.compile(r"[A-Z]{3}")


def parse_document(
    data: object, file: str, stem: str
) -> tuple[list[ModelEntry], dict[str, str], list[Problem]]:
    """Validate one bundled provider document.

    Returns its entries, ``{provider: default_model}`` and every problem found.
    """
    parser = _Parser(file, data, "registry")
    entries, default = parser.document(data, stem, "")
    defaults = {entries[0].provider: default} if entries and default else {}
    return entries, defaults, parser.problems


def parse_override(
    data: object, file: str
) -> tuple[list[ModelEntry], dict[str, str], list[Problem]]:
    """Validate a user override file: one document or ``{providers: [...]}``."""
    parser = _Parser(file, data, "override")
    documents: list[tuple[object, str]] = [(data, "")]
    if isinstance(data, dict) and "providers" in data:
        extra = sorted(set(data) - {"providers"})
        for key in extra:
            parser.problem(None, key, "unknown key next to 'providers'")
        raw = data["providers"]
        if not isinstance(raw, list) or not raw:
            parser.problem(None, "providers", f"expected a non-empty list, got {kind(raw)}")
            return [], {}, parser.problems
        documents = [(item, f"providers[{i}].") for i, item in enumerate(raw)]
    entries: list[ModelEntry] = []
    defaults: dict[str, str] = {}
    seen: set[str] = set()
    for document, prefix in documents:
        found, default = parser.document(document, None, prefix)
        provider = found[0].provider if found else None
        if provider is not None and provider in seen:
            parser.problem(None, f"{prefix}provider", f"provider {provider!r} appears twice")
        if provider is not None:
            seen.add(provider)
            if default:
                defaults[provider] = default
        entries.extend(found)
    return entries, defaults, parser.problems


class _Parser(PriceParser):
    def __init__(self, file: str, root: object, origin: str) -> None:
        self.file = file
        self.root = root
        self.origin = origin
        self.problems: list[Problem] = []
        self.prefix = ""  # "providers[1]." while inside an override's nested document
        self.nodes: dict[str, object] = {}  # model label -> its raw mapping, for line numbers
        self.rules: list[tuple[str, MatchRule]] = []

    def problem(self, model: str | None, field: str, message: str) -> None:
        if model is not None and model in self.nodes:
            line = locate(self.nodes[model], field)
        else:
            line = locate(self.root, f"{self.prefix}{field}")
        self.problems.append(Problem(self.file, model, field, message, line))

    # -- file level ---------------------------------------------------------------

    def document(self, data: object, stem: str | None, prefix: str) -> tuple[list[ModelEntry], str]:
        self.prefix, self.nodes, self.rules = prefix, {}, []
        if not isinstance(data, dict):
            self.problem(None, "<document>", f"expected a mapping, got {kind(data)}")
            return [], ""
        required = _REQUIRED_FILE_KEYS if stem is not None else _REQUIRED_FILE_KEYS - {"currency"}
        self.keys(data, None, "", _FILE_KEYS, required)
        provider = self.provider(data.get("provider"), stem)
        currency = self.currency(data.get("currency"))
        models = data.get("models")
        if "models" in data and (not isinstance(models, list) or not models):
            self.problem(None, "models", f"expected a non-empty list, got {kind(models)}")
            return [], ""
        entries: list[ModelEntry] = []
        for index, raw in enumerate(models or []):
            entry = self.model(raw, index, provider, currency)
            if entry is not None:
                entries.append(entry)
        self.check_order([_model_id(raw) for raw in models or []])
        self.check_captures()
        default = data.get("default_model")
        if "default_model" in data and default not in {_model_id(raw) for raw in models or []}:
            self.problem(None, "default_model", f"{default!r} is not the id of a model here")
            default = None
        return entries, default if isinstance(default, str) else ""

    def provider(self, raw: object, stem: str | None) -> str:
        fallback = stem or "unknown"
        if raw is None:
            return fallback
        if not isinstance(raw, str) or not _PROVIDER_ID.fullmatch(raw):
            self.problem(None, "provider", f"expected a lower-case provider id, got {raw!r}")
            return fallback
        if stem is not None and raw != stem:
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
        self.nodes.setdefault(label, raw)
        if not isinstance(raw, dict):
            self.problem(label, "<model>", f"expected a mapping, got {kind(raw)}")
            return None
        required = {"id", "match"}
        required |= {"source"} if self.origin == "registry" else set()
        required |= set() if "not_billable" in raw else {"prices"}
        self.keys(raw, label, "", _MODEL_KEYS, frozenset(required))
        if "id" in raw and model_id is None:
            self.problem(
                label, "id", f"expected a non-empty string without spaces, got {raw['id']!r}"
            )
        rule = self.rule(raw["match"], label, "match") if "match" in raw else None
        if model_id is not None and rule is not None:
            self.rules.append((model_id, rule))
        source = self.source(raw["source"], label) if "source" in raw else self.default_source()
        note = self.text(raw, "note", label)
        not_billable = self.text(raw, "not_billable", label)
        if "not_billable" in raw and "prices" in raw:
            self.problem(label, "not_billable", "a model has either prices or not_billable")
            return None
        prices = self.prices(raw.get("prices"), label) if "prices" in raw else []
        if model_id is None or rule is None or source is None or prices is None:
            return None
        url, checked = source
        history = tuple(
            self.model_price(
                priced,
                provider=provider,
                model_id=model_id,
                rule=rule,
                url=url,
                checked=checked,
                currency=currency,
                note=note,
            )
            for priced in prices
        )
        return ModelEntry(provider, model_id, rule, history, self.origin, not_billable)

    def model_price(
        self,
        priced: Priced,
        *,
        provider: str,
        model_id: str,
        rule: MatchRule,
        url: str,
        checked: Any,
        currency: str,
        note: str | None,
    ) -> ModelPrice:
        rates = priced.rates
        return ModelPrice(
            provider=provider,
            model=model_id,
            match=rule,
            effective_from=priced.effective_from,
            input_mtok=rates.input_mtok,
            output_mtok=rates.output_mtok,
            cache_read_mtok=rates.cache_read_mtok,
            cache_write_mtok=rates.cache_write_mtok,
            cache_write_1h_mtok=rates.cache_write_1h_mtok,
            reasoning_mtok=rates.reasoning_mtok,
            tiers=priced.tiers,
            service_tiers=priced.service_tiers,
            windows=priced.windows,
            units=priced.units,
            source_url=url,
            checked=checked,
            currency=currency,
            origin=self.origin,
            note=note,
        )

    def text(self, raw: dict[Any, Any], key: str, label: str) -> str | None:
        value = raw.get(key)
        if key in raw and (not isinstance(value, str) or not value.strip()):
            self.problem(label, key, f"expected a non-empty string, got {value!r}")
            return None
        return value if isinstance(value, str) else None

    def default_source(self) -> tuple[str, Any] | None:
        """Override entries may omit ``source``: the file itself is the source."""
        if self.origin == "registry":
            return None
        return self.file, datetime.now(UTC).date()

    def rule(self, raw: object, model: str, path: str) -> MatchRule | None:
        if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in _RULE_KEYS:
            self.problem(
                model, path, f"expected exactly one of {', '.join(sorted(_RULE_KEYS))}, got {raw!r}"
            )
            return None
        rule_kind, value = next(iter(raw.items()))
        path = f"{path}.{rule_kind}"
        if rule_kind == "any":
            return self.any_rule(value, model, path)
        if not isinstance(value, str) or not value:
            self.problem(model, path, f"expected a non-empty string, got {value!r}")
            return None
        try:
            return leaf_rule(rule_kind, value)
        except re.error as exc:
            self.problem(model, path, f"invalid regular expression {value!r}: {exc}")
            return None

    def any_rule(self, raw: object, model: str, path: str) -> AnyOf | None:
        if not isinstance(raw, list) or not raw:
            self.problem(model, path, f"expected a non-empty list of rules, got {kind(raw)}")
            return None
        rules = [self.rule(item, model, f"{path}[{i}]") for i, item in enumerate(raw)]
        valid = tuple(r for r in rules if r is not None)
        return AnyOf(valid) if len(valid) == len(rules) else None

    def source(self, raw: object, model: str) -> tuple[str, Any] | None:
        if not isinstance(raw, dict):
            self.problem(
                model, "source", f"expected a mapping with url and checked, got {kind(raw)}"
            )
            return None
        self.keys(raw, model, "source", _SOURCE_KEYS, _SOURCE_KEYS)
        url, checked = raw.get("url"), raw.get("checked")
        ok = True
        if "url" in raw and not (isinstance(url, str) and url.startswith(("https://", "http://"))):
            self.problem(model, "source.url", f"expected an http(s) URL, got {url!r}")
            ok = False
        parsed = parse_date(checked) if "checked" in raw else None
        if "checked" in raw and parsed is None:
            self.problem(
                model, "source.checked", f"expected a date such as 2026-11-27, got {checked!r}"
            )
        if not ok or parsed is None or not isinstance(url, str):
            return None
        return url, parsed


def _model_id(raw: object) -> str | None:
    if isinstance(raw, dict):
        value = raw.get("id")
        if isinstance(value, str) and value and not any(c.isspace() for c in value):
            return value
    return None
