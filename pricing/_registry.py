"""The price registry: every provider file loaded, indexed, and queried."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from pricing._calculator import check_usage, compute_cost
from pricing._errors import PricingError, Problem
from pricing._model import Cost, ModelEntry, ModelPrice, TokenUsage
from pricing._schema import parse_document
from pricing._yaml import load_yaml

DATA_DIRECTORY = Path(__file__).parent / "data"


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


class Registry:
    """Model prices per provider, with their history; build it with ``load()``.

    >>> registry = Registry.load()
    >>> cost = registry.cost("openai", "gpt-4o-mini-2024-07-18", TokenUsage(1000, 500))
    >>> cost.model, cost.total
    ('gpt-4o-mini', Decimal('0.00045'))
    >>> registry.cost("openai", "no-such-model", TokenUsage(1, 1)) is None
    True
    """

    def __init__(self, entries: Iterable[ModelEntry]) -> None:
        by_provider: dict[str, list[ModelEntry]] = {}
        for entry in entries:
            by_provider.setdefault(entry.provider, []).append(entry)
        self._entries = tuple(e for group in by_provider.values() for e in group)
        self._providers = {p: _ProviderIndex.build(group) for p, group in by_provider.items()}

    @classmethod
    def load(cls, directory: Path | None = None) -> Registry:
        """Load and validate every ``*.yaml`` file of ``directory``.

        ``directory`` defaults to the data bundled with this package. Raises
        ``PricingError`` listing every problem of every file.
        """
        directory = DATA_DIRECTORY if directory is None else directory
        entries, problems = _read_directory(directory)
        if problems:
            raise PricingError(problems)
        return cls(entries)

    def find(self, provider: str, model: str, at: datetime | None = None) -> ModelPrice | None:
        """The price in force at ``at`` (default: now) for a request model name.

        Returns None when the provider or model is unknown, or when ``at`` is
        before the model's first price. ``at`` must be timezone-aware.
        """
        moment = _moment(at)
        index = self._providers.get(provider)
        entry = index.lookup(model) if index is not None else None
        return entry.price_at(moment) if entry is not None else None

    def cost(
        self, provider: str, model: str, usage: TokenUsage, at: datetime | None = None
    ) -> Cost | None:
        """The exact cost of one request, or None if no price is known for it.

        None is deliberate: an unknown model must be flagged by the caller, never
        recorded as free. Raises ValueError for inconsistent usage (negative
        counts, cache tokens exceeding input, reasoning exceeding output) and
        for a naive ``at``.
        """
        check_usage(usage)
        price = self.find(provider, model, at)
        return compute_cost(price, usage) if price is not None else None

    def prices(self) -> tuple[ModelPrice, ...]:
        """Every dated price of every model, by provider, model id, then date."""
        return tuple(price for entry in self._entries for price in entry.prices)


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    if at.utcoffset() is None:
        raise ValueError(f"'at' must be timezone-aware, got naive datetime {at.isoformat()}")
    return at


def _read_directory(directory: Path) -> tuple[list[ModelEntry], list[Problem]]:
    where = str(directory)
    if not directory.is_dir():
        return [], [Problem(where, None, "<directory>", "is not a directory")]
    problems = [
        Problem(str(path), None, "<file>", "price files must end in .yaml")
        for path in sorted(directory.glob("*.yml"))
    ]
    files = sorted(directory.glob("*.yaml"))
    if not files:
        problems.append(Problem(where, None, "<directory>", "contains no *.yaml price files"))
    entries: list[ModelEntry] = []
    for path in files:
        file_entries, file_problems = _read_file(path)
        entries.extend(file_entries)
        problems.extend(file_problems)
    return entries, problems


def _read_file(path: Path) -> tuple[list[ModelEntry], list[Problem]]:
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        return [], [Problem(str(path), None, "<file>", f"cannot be read: {exc}")]
    except yaml.YAMLError as exc:
        return [], [Problem(str(path), None, "<file>", f"is not valid YAML: {_describe(exc)}")]
    return parse_document(data, str(path), path.stem)


def _describe(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        mark = exc.problem_mark
        what = " ".join(filter(None, [exc.context, exc.problem]))
        return f"line {mark.line + 1}, column {mark.column + 1}: {what}"
    return " ".join(str(exc).split())
