"""From what a response reported to what the call cost: one implementation for the proxy
and for the SDK's direct mode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pricing import Cost, Registry, Usage, price
from proxy.providers.base import RequestFacts
from proxy.providers.result import CallResult
from semconv import LlmobserveCostStatusValues

_STATUSES = {
    "priced": LlmobserveCostStatusValues.PRICED,
    "unknown_model": LlmobserveCostStatusValues.UNKNOWN_MODEL,
    "invalid_usage": LlmobserveCostStatusValues.USAGE_UNAVAILABLE,
    "not_billable": LlmobserveCostStatusValues.NOT_BILLABLE,
}


@dataclass(frozen=True)
class CallCost:
    status: str
    """An `llmobserve.cost.status` value."""
    cost: Cost | None = None
    reason: str | None = None

    @property
    def total(self) -> Decimal | None:
        return self.cost.total if self.cost is not None else None


def price_call(
    provider_id: str,
    status_code: int,
    facts: RequestFacts,
    result: CallResult,
    registry: Registry,
    *,
    at: datetime | None = None,
) -> CallCost:
    """Price one call. Never raises, never answers $0 for something it does not know."""
    values = LlmobserveCostStatusValues
    if not result.metered:
        if status_code >= 400:
            return CallCost(values.UPSTREAM_ERROR)
        return CallCost(values.USAGE_UNAVAILABLE, reason=result.problem or "no usage reported")
    usage = Usage(
        tokens=result.usage,
        units={**facts.units, **result.units},
        dimensions={**facts.dimensions, **result.dimensions},
        reported_cost=result.reported_cost,
        at=at or datetime.now(UTC),
    )
    quote = price(provider_id, result.response_model or facts.model, usage, registry)
    status = _STATUSES.get(quote.status, values.USAGE_UNAVAILABLE)
    return CallCost(status, quote.cost, quote.reason or result.problem)
