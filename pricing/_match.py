"""Match rules: which request model names a price entry applies to.

A rule is one of::

    {exact: gpt-4o-mini}                                  name == value
    {prefix: claude-3-5-sonnet-}                          name.startswith(value)
    {regex: '^gpt-4o-mini-\\d{4}-\\d{2}-\\d{2}$'}          re.fullmatch(value, name)
    {any: [<rule>, ...]}                                  any sub-rule matches

Matching is case-sensitive: providers echo their canonical lower-case ids in
responses, and case folding would hide typos in the data. Regexes use
``fullmatch`` so a pattern can never capture a longer name by accident; anchors
in the data are allowed but redundant.

New kinds of rule (``contains``, ``and`` ...) are new classes here plus a
branch in ``leaf_rule`` (or in ``pricing._schema`` for composite rules).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Exact:
    value: str

    def matches(self, name: str) -> bool:
        return name == self.value

    def exact_names(self) -> tuple[str, ...]:
        return (self.value,)

    def has_patterns(self) -> bool:
        return False


@dataclass(frozen=True)
class Prefix:
    value: str

    def matches(self, name: str) -> bool:
        return name.startswith(self.value)

    def exact_names(self) -> tuple[str, ...]:
        return ()

    def has_patterns(self) -> bool:
        return True


@dataclass(frozen=True)
class Regex:
    pattern: re.Pattern[str]

    def matches(self, name: str) -> bool:
        return self.pattern.fullmatch(name) is not None

    def exact_names(self) -> tuple[str, ...]:
        return ()

    def has_patterns(self) -> bool:
        return True


@dataclass(frozen=True)
class AnyOf:
    rules: tuple[MatchRule, ...]

    def matches(self, name: str) -> bool:
        return any(rule.matches(name) for rule in self.rules)

    def exact_names(self) -> tuple[str, ...]:
        return tuple(name for rule in self.rules for name in rule.exact_names())

    def has_patterns(self) -> bool:
        return any(rule.has_patterns() for rule in self.rules)


MatchRule = Exact | Prefix | Regex | AnyOf


def leaf_rule(kind: str, value: str) -> Exact | Prefix | Regex:
    """Build an ``exact``/``prefix``/``regex`` rule; raises ``re.error`` on a bad regex."""
    if kind == "exact":
        return Exact(value)
    if kind == "prefix":
        return Prefix(value)
    if kind == "regex":
        return Regex(re.compile(value))
    raise ValueError(f"unknown rule kind {kind!r}")
