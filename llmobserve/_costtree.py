"""Calls and sections read from spans, and the cost tree: customer -> section path -> calls.

The spans may come from this process (`ReadableSpan`: the demo, the console exporter) or be
read back from a backend (`llmobserve report`: Jaeger, OTLP JSON). Two kinds matter:

- call spans: the one span per provider call carrying `llmobserve.cost.status` (and
  `gen_ai.usage.cost` when priced), emitted by the proxy, or by the SDK in direct mode;
- section spans (`llmobserve.section`): used only where no call span is in view. An
  application in proxy mode sees its own sections, with their rollup
  (`llmobserve.section.cost`), but not the proxy's call spans.

Calls are placed by the customer id and section path they carry (both travel as baggage), so
the tree is right whichever process a span was recorded in. Money is `Decimal`, parsed from the
float attribute's shortest repr (the decimal the pricing computed), so every sum is exact.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from opentelemetry.sdk.trace import ReadableSpan

from semconv import (
    ERROR_TYPE,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_STREAM,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    GEN_AI_USAGE_COST,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
    HTTP_RESPONSE_STATUS_CODE,
    LLMOBSERVE_COST_REASON,
    LLMOBSERVE_COST_STATUS,
    LLMOBSERVE_CUSTOMER_ID,
    LLMOBSERVE_SECTION,
    LLMOBSERVE_SECTION_CALLS,
    LLMOBSERVE_SECTION_COST,
    LLMOBSERVE_SECTION_PATH,
    LLMOBSERVE_SECTION_UNPRICED_CALLS,
    LlmobserveCostStatusValues,
)

NO_CUSTOMER = "(no customer)"
NO_SECTION = "(no section)"
K = TypeVar("K", bound=Hashable)

# Statuses that say money may have been spent that the totals do not include. The others
# (`upstream_error`, `not_billable`) mean the provider charged nothing for the call.
MAY_BE_BILLED = frozenset(
    {
        LlmobserveCostStatusValues.UNKNOWN_MODEL,
        LlmobserveCostStatusValues.USAGE_UNAVAILABLE,
        LlmobserveCostStatusValues.NOT_METERED,
        "invalid_usage",
    }
)


def usd(value: object) -> Decimal | None:
    """A USD attribute as `Decimal`: floats via their shortest repr (`1.175e-05` is exactly
    the `0.00001175` the pricing computed), strings as written."""
    if isinstance(value, bool):
        return None
    try:
        if isinstance(value, float | int):
            return Decimal(repr(value))
        if isinstance(value, str):
            return Decimal(value)
    except InvalidOperation:
        return None
    return None


def _count(value: object) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return 0


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Call:
    """One provider call, as its span recorded it."""

    name: str
    start_ns: int
    customer: str | None
    section_path: str | None
    provider: str
    model: str
    """The model the call was priced for: the response model, else the requested one."""
    cost: Decimal | None
    """USD; None when the call could not be priced (see `status` and `reason`)."""
    status: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    reason: str | None = None
    error_type: str | None = None
    http_status: int | None = None
    stream: bool = False
    trace_id: str = ""
    span_id: str = ""
    service: str = ""

    @property
    def why_unpriced(self) -> str:
        """`status: reason`, or what the provider answered for an upstream error."""
        detail = self.reason
        if detail is None and (self.error_type or self.http_status):
            parts = [f"HTTP {self.http_status}" if self.http_status else ""]
            if self.error_type and self.error_type != str(self.http_status):
                parts.append(self.error_type)
            detail = " ".join(p for p in parts if p)
        return f"{self.status}: {detail}" if detail else self.status


@dataclass(frozen=True)
class SectionSpan:
    """One entry into a section, with the rollup of the calls made inside it."""

    customer: str | None
    path: str
    start_ns: int
    cost: Decimal
    calls: int
    unpriced: int


@dataclass(frozen=True)
class Records:
    calls: tuple[Call, ...] = ()
    sections: tuple[SectionSpan, ...] = ()

    def __add__(self, other: Records) -> Records:
        return Records(self.calls + other.calls, self.sections + other.sections)


def record(
    name: str,
    attributes: Mapping[str, object],
    *,
    start_ns: int,
    trace_id: str = "",
    span_id: str = "",
    service: str = "",
) -> Call | SectionSpan | None:
    """The call or section a span describes; None for every other span."""
    customer = _text(attributes.get(LLMOBSERVE_CUSTOMER_ID))
    status = _text(attributes.get(LLMOBSERVE_COST_STATUS))
    if status is not None:
        cost = usd(attributes.get(GEN_AI_USAGE_COST))
        model = _text(attributes.get(GEN_AI_RESPONSE_MODEL)) or _text(
            attributes.get(GEN_AI_REQUEST_MODEL)
        )
        http_status = _count(attributes.get(HTTP_RESPONSE_STATUS_CODE)) or None
        return Call(
            name=name,
            start_ns=start_ns,
            customer=customer,
            section_path=_text(attributes.get(LLMOBSERVE_SECTION_PATH)),
            provider=_text(attributes.get(GEN_AI_PROVIDER_NAME)) or "(unknown)",
            model=model or "(no model)",
            cost=cost,
            status=status,
            input_tokens=_count(attributes.get(GEN_AI_USAGE_INPUT_TOKENS)),
            output_tokens=_count(attributes.get(GEN_AI_USAGE_OUTPUT_TOKENS)),
            cache_read_tokens=_count(attributes.get(GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)),
            cache_write_tokens=_count(attributes.get(GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS)),
            reasoning_tokens=_count(attributes.get(GEN_AI_USAGE_REASONING_OUTPUT_TOKENS)),
            reason=_text(attributes.get(LLMOBSERVE_COST_REASON)),
            error_type=_text(str(attributes.get(ERROR_TYPE) or "")),
            http_status=http_status,
            stream=attributes.get(GEN_AI_REQUEST_STREAM) is True,
            trace_id=trace_id,
            span_id=span_id,
            service=service,
        )
    path = _text(attributes.get(LLMOBSERVE_SECTION_PATH))
    if path is not None and LLMOBSERVE_SECTION in attributes:
        return SectionSpan(
            customer=customer,
            path=path,
            start_ns=start_ns,
            cost=usd(attributes.get(LLMOBSERVE_SECTION_COST)) or Decimal(0),
            calls=_count(attributes.get(LLMOBSERVE_SECTION_CALLS)),
            unpriced=_count(attributes.get(LLMOBSERVE_SECTION_UNPRICED_CALLS)),
        )
    return None


def collect(found: Iterable[Call | SectionSpan | None]) -> Records:
    calls: list[Call] = []
    sections: list[SectionSpan] = []
    for item in found:
        if isinstance(item, Call):
            calls.append(item)
        elif isinstance(item, SectionSpan):
            sections.append(item)
    calls.sort(key=lambda c: c.start_ns)
    sections.sort(key=lambda s: s.start_ns)
    return Records(tuple(calls), tuple(sections))


def from_readable_spans(spans: Iterable[ReadableSpan]) -> Records:
    """Records from this process's finished spans."""

    def one(span: ReadableSpan) -> Call | SectionSpan | None:
        context = span.context
        return record(
            span.name,
            span.attributes or {},
            start_ns=span.start_time or 0,
            trace_id=format(context.trace_id, "032x") if context else "",
            span_id=format(context.span_id, "016x") if context else "",
            service=str(span.resource.attributes.get("service.name", "")),
        )

    return collect(one(span) for span in spans)


# -- totals ---------------------------------------------------------------------------


@dataclass
class Totals:
    """What a group of calls cost. `tokens_known` is False for section rollups, which carry
    costs and call counts but no tokens."""

    cost: Decimal = Decimal(0)
    calls: int = 0
    unpriced: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0
    tokens_known: bool = True
    first_ns: int = 0

    def add(self, call: Call) -> None:
        self.calls += 1
        if call.cost is None:
            self.unpriced += 1
        else:
            self.cost += call.cost
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        self.cache_read_tokens += call.cache_read_tokens
        self.cache_write_tokens += call.cache_write_tokens
        self.reasoning_tokens += call.reasoning_tokens
        if call.start_ns and (not self.first_ns or call.start_ns < self.first_ns):
            self.first_ns = call.start_ns

    def merge(self, other: Totals) -> None:
        self.cost += other.cost
        self.calls += other.calls
        self.unpriced += other.unpriced
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens
        self.tokens_known = self.tokens_known and other.tokens_known


def total(calls: Iterable[Call]) -> Totals:
    result = Totals()
    for call in calls:
        result.add(call)
    return result


def group(calls: Iterable[Call], key: Callable[[Call], K]) -> dict[K, Totals]:
    """Totals per key, most expensive first (then by first call)."""
    groups: dict[K, Totals] = {}
    for call in calls:
        groups.setdefault(key(call), Totals()).add(call)
    return dict(sorted(groups.items(), key=lambda item: (-item[1].cost, item[1].first_ns)))


# -- the tree -------------------------------------------------------------------------


@dataclass
class Node:
    """A customer or a section; `calls` are the calls made directly in it."""

    label: str
    children: dict[str, Node] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    rollups: list[SectionSpan] = field(default_factory=list)

    def has_calls(self) -> bool:
        return bool(self.calls) or any(child.has_calls() for child in self.children.values())

    def totals(self) -> Totals:
        """Calls in the subtree when any is in view; else the sections' own rollup."""
        result = Totals()
        if not self.has_calls() and self.rollups:
            for rollup in self.rollups:
                result.merge(
                    Totals(
                        cost=rollup.cost,
                        calls=rollup.calls + rollup.unpriced,
                        unpriced=rollup.unpriced,
                        tokens_known=rollup.calls + rollup.unpriced == 0,
                    )
                )
            return result
        for call in self.calls:
            result.add(call)
        for child in self.children.values():
            result.merge(child.totals())
        return result


def build_tree(records: Records) -> list[Node]:
    """One node per customer (in order of first appearance), sections below, calls in them."""
    customers: dict[str, Node] = {}

    def node_for(customer: str | None, path: str | None) -> Node:
        name = customer or NO_CUSTOMER
        node = customers.setdefault(name, Node(name))
        for label in (path or NO_SECTION).split("/"):
            node = node.children.setdefault(label, Node(label))
        return node

    events: list[tuple[int, Call | SectionSpan]] = [(c.start_ns, c) for c in records.calls]
    events += [(s.start_ns, s) for s in records.sections]
    for _, item in sorted(events, key=lambda event: event[0]):
        if isinstance(item, Call):
            node_for(item.customer, item.section_path).calls.append(item)
        else:
            node_for(item.customer, item.path).rollups.append(item)
    return list(customers.values())
