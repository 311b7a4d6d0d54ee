"""Render finished spans as a cost tree: customer -> sections -> priced calls.

Works on any set of `ReadableSpan`s from one or more processes (the SDK's section spans and
the proxy's call spans meet through their parent ids).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from opentelemetry.sdk.trace import ReadableSpan

from semconv import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION,
)


@dataclass
class Node:
    label: str
    detail: str = ""
    own_cost: Decimal | None = None
    children: list[Node] = field(default_factory=list)

    @property
    def cost(self) -> Decimal:
        own = self.own_cost or Decimal(0)
        return own + sum((child.cost for child in self.children), Decimal(0))


def _usd(value: object) -> Decimal | None:
    # Span attributes are floats; their shortest repr is the decimal the proxy computed.
    return Decimal(repr(value)) if isinstance(value, float | int) else None


def build(spans: Iterable[ReadableSpan]) -> list[Node]:
    """One root node per customer (or "(no customer)"), sections and calls below."""
    spans = list(spans)
    by_id = {s.context.span_id: s for s in spans if s.context is not None}
    children: dict[int | None, list[ReadableSpan]] = defaultdict(list)
    for span in spans:
        children[_section_parent(span, by_id)].append(span)
    customers: dict[str, Node] = {}
    for root in children[None]:
        node = _node(root, children)
        if node is None:
            continue
        customer = str((root.attributes or {}).get(LLMOBSERVE_CUSTOMER_ID, "(no customer)"))
        customers.setdefault(customer, Node(f"customer {customer}")).children.append(node)
    return list(customers.values())


def _is_call(span: ReadableSpan) -> bool:
    return LLMOBSERVE_COST_STATUS in (span.attributes or {})


def _is_section(span: ReadableSpan) -> bool:
    return LLMOBSERVE_SECTION in (span.attributes or {})


def _section_parent(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> int | None:
    """The span id of the nearest enclosing section (skipping HTTP and SDK spans)."""
    parent = span.parent
    while parent is not None:
        ancestor = by_id.get(parent.span_id)
        if ancestor is None:
            return None
        if _is_section(ancestor):
            return parent.span_id
        parent = ancestor.parent
    return None


def _node(span: ReadableSpan, children: dict[int | None, list[ReadableSpan]]) -> Node | None:
    attrs = span.attributes or {}
    if _is_call(span):
        tokens = f"{attrs.get(GEN_AI_USAGE_INPUT_TOKENS, '?')} in / "
        tokens += f"{attrs.get(GEN_AI_USAGE_OUTPUT_TOKENS, '?')} out"
        cost = _usd(attrs.get(GEN_AI_USAGE_COST))
        detail = f"{attrs.get(GEN_AI_PROVIDER_NAME, '?')}, {tokens}"
        if cost is None:
            detail += f", UNPRICED: {attrs.get(LLMOBSERVE_COST_STATUS)}"
            reason = attrs.get(LLMOBSERVE_COST_REASON)
            detail += f" ({reason})" if reason else ""
        return Node(span.name, detail, cost)
    if not _is_section(span):
        return None
    node = Node(span.name)
    ordered = sorted(children.get(span.context.span_id, []), key=lambda s: s.start_time or 0)
    node.children = [n for n in (_node(c, children) for c in ordered) if n is not None]
    return node


def render(roots: Sequence[Node]) -> str:
    lines: list[str] = []
    width = 72
    for root in roots:
        lines.append(f"{root.label:<{width}} ${root.cost:.8f}")
        _render_children(root.children, "", lines, width)
    total = sum((root.cost for root in roots), Decimal(0))
    lines.append(f"{'TOTAL':<{width}} ${total:.8f}")
    return "\n".join(lines)


def _render_children(nodes: Sequence[Node], prefix: str, lines: list[str], width: int) -> None:
    for index, node in enumerate(nodes):
        last = index == len(nodes) - 1
        branch = "└─ " if last else "├─ "
        label = f"{prefix}{branch}{node.label}"
        if node.detail:
            label += f"  ({node.detail})"
        cost = "" if node.own_cost is None and not node.children else f"${node.cost:.8f}"
        lines.append(f"{label:<{width}} {cost}")
        _render_children(node.children, prefix + ("   " if last else "│  "), lines, width)
