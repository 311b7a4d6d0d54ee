"""YAML reading for price files: safe, strict about duplicate keys, and line-aware.

Mappings load as ``LineDict`` and sequences as ``LineList``: ordinary ``dict``
and ``list`` that also remember the 1-based line of every key and item, so a
schema problem found long after parsing can still name the line it is on
(``locate``).
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

import yaml


class LineDict(dict[Any, Any]):
    """A mapping that knows its own line and the line of each key."""

    line: int = 0
    key_lines: dict[Any, int]


class LineList(list[Any]):
    """A sequence that knows its own line and the line of each item."""

    line: int = 0
    item_lines: list[int]


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys and records node positions."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> LineDict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    result = LineDict(loader.construct_mapping(node, deep=True))
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, Hashable):
            result.key_lines.setdefault(key, key_node.start_mark.line + 1)
    return result


def _construct_sequence(loader: _StrictLoader, node: yaml.SequenceNode) -> LineList:
    result = LineList(loader.construct_sequence(node, deep=True))
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


def load_yaml(text: str) -> object:
    """Parse one YAML document; raises ``yaml.YAMLError`` (duplicate keys too)."""
    return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass


_STEP = re.compile(r"\[(\d+)\]|([^.\[\]]+)")


def locate(node: object, field: str) -> int | None:
    """The line of ``field`` (``prices[1].input_mtok``) inside ``node``.

    Walks as deep as the path exists and returns the line of the last step
    found, so a missing key points at the mapping that should hold it.
    """
    line = getattr(node, "line", None) or None
    for index, key in _STEP.findall(field):
        if index and isinstance(node, LineList) and int(index) < len(node):
            line, node = node.item_lines[int(index)], node[int(index)]
        elif key and isinstance(node, LineDict) and key in node:
            line, node = node.key_lines.get(key, line), node[key]
        else:
            break
    return line
