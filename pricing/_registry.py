"""The price registry: bundled files and the user's overrides, indexed and queried."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pricing._calculator import check_usage, compute
from pricing._errors import PricingError
from pricing._loader import DATA_DIRECTORY, read_directory, read_override
from pricing._model import Cost, ModelEntry, ModelPrice, TokenUsage
from pricing._usage import Usage


@dataclass(frozen=True)
class _ProviderIndex:
    """Exact names resolve in O(1); pattern rules are tried in file order after."""

    exact: dict[str, ModelEntry]
    patterns: tuple[ModelEntry, ...]

    @classmethod
    def build(cls, entries: Iterable[ModelEntry]) -> _ProviderIndex:
        exact: dict[str, ModelEntry] = {}
        patterns: list[ModelEntry] = []
        for entry in entries:
            for name in entry.match.exact_names():
                exact.setdefault(name, entry)
            if entry.match.has_patterns():
                patterns.append(entry)
        return cls(exact, tuple(patterns))

    def lookup(self, model: str) -> ModelEntry | None:
        entry = self.exact.get(model)
        if entry is not None:
            return entry
        return next((e for e in self.patterns if e.match.matches(model)), None)


def _index(entries: Iterable[ModelEntry]) -> dict[str, _ProviderIndex]:
    by_provider: dict[str, list[ModelEntry]] = {}
    for entry in entries:
        by_provider.setdefault(entry.provider, []).append(entry)
    return {p: _ProviderIndex.build(group) for p, group in by_provider.items()}


_MAX_RESOLVED = 4096


class Registry:
    """Model prices per provider, with their history; build it with ``load()``.

    Entries from the user's override file (``origin == "override"``) are
    consulted before the bundled ones, provider by provider and model by model.

    >>> registry = Registry.load()
    >>> cost = registry.cost("openai", "gpt-4o-mini-2024-07-18", TokenUsage(1000, 500))
    >>> cost.model, cost.total
    ('gpt-4o-mini', Decimal('0.00045'))
    >>> registry.cost("openai", "no-such-model", TokenUsage(1, 1)) is None
    True
    """

    def __init__(
        self,
        entries: Iterable[ModelEntry],
        defaults: Mapping[str, str] | None = None,
        overrides: Iterable[ModelEntry] = (),
        override_defaults: Mapping[str, str] | None = None,
    ) -> None:
        self._entries = tuple(entries)
        self._overrides = tuple(overrides)
        self._bundled = _index(self._entries)
        self._override = _index(self._overrides)
        self._defaults = {**(defaults or {}), **(override_defaults or {})}
        # Request model names resolve through pattern rules (`gpt-4o-mini-2024-07-18`), tried
        # one by one: remembered per name. Names come from clients, so the memo is bounded.
        self._resolved: dict[tuple[str, str], ModelEntry | None] = {}

    @classmethod
    def load(cls, directory: Path | None = None, *, override: Path | None = None) -> Registry:
        """Load and validate every ``*.yaml`` file of ``directory``, then ``override``.

        ``directory`` defaults to the data bundled with this package. Raises
        ``PricingError`` listing every problem of every file, each with its
        file, line and field.
        """
        entries, defaults, problems = read_directory(directory or DATA_DIRECTORY)
        overrides: list[ModelEntry] = []
        override_defaults: dict[str, str] = {}
        if override is not None:
            overrides, override_defaults, more = read_override(override)
            problems.extend(more)
        if problems:
            raise PricingError(problems)
        return cls(entries, defaults, overrides, override_defaults)

    def entry(self, provider: str, model: str) -> ModelEntry | None:
        """The entry a request model name resolves to, override first."""
        key = (provider, model)
        try:
            return self._resolved[key]
        except KeyError:
            pass
        found = self._lookup(provider, model)
        if len(self._resolved) >= _MAX_RESOLVED:
            self._resolved.clear()
        self._resolved[key] = found
        return found

    def _lookup(self, provider: str, model: str) -> ModelEntry | None:
        for index in (self._override, self._bundled):
            provider_index = index.get(provider)
            found = provider_index.lookup(model) if provider_index is not None else None
            if found is not None:
                return found
        return None

    def default_model(self, provider: str) -> str | None:
        """The entry id used for calls that name no model (vector DBs, payments)."""
        return self._defaults.get(provider)

    def find(self, provider: str, model: str, at: datetime | None = None) -> ModelPrice | None:
        """The price in force at ``at`` (default: now) for a request model name.

        Returns None when the provider or model is unknown, or when ``at`` is
        before the model's first price. ``at`` must be timezone-aware.
        """
        moment = _moment(at)
        entry = self.entry(provider, model)
        return entry.price_at(moment) if entry is not None else None

    def cost(
        self, provider: str, model: str, usage: TokenUsage, at: datetime | None = None
    ) -> Cost | None:
        """The exact cost of one request from this registry alone, or None.

        None is deliberate: an unknown model must be flagged by the caller, never
        recorded as free. Raises ValueError for inconsistent usage (negative
        counts, cache tokens exceeding input, reasoning exceeding output) and
        for a naive ``at``. ``pricing.price()`` is the full chain (override,
        provider-reported cost, registry, genai-prices) and never raises.
        """
        check_usage(usage)
        price = self.find(provider, model, at)
        if price is None:
            return None
        result = compute(price, Usage(tokens=usage, at=_moment(at)), price.origin)
        return result if isinstance(result, Cost) else None

    def prices(self) -> tuple[ModelPrice, ...]:
        """Every dated price of every bundled model, by provider, model id, then date."""
        return tuple(price for entry in self._entries for price in entry.prices)

    def entries(self) -> tuple[ModelEntry, ...]:
        """Every bundled entry, then every override entry."""
        return (*self._entries, *self._overrides)

    def providers(self) -> tuple[str, ...]:
        """Every provider with bundled or override prices, sorted."""
        return tuple(sorted(self._bundled.keys() | self._override.keys()))


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.utcoffset() is None:
        raise ValueError(f"'at' must be timezone-aware, got naive datetime {at.isoformat()}")
    return at
