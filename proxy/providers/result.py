"""What reading one provider response yields, and the helpers every wire format shares."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from pricing import TokenUsage
from proxy.providers.sse import Event


class UsageError(ValueError):
    """The response's usage object is present but not what the provider documents."""


@dataclass(frozen=True)
class CallResult:
    """Everything the span needs from a response. Fields are None when not reported."""

    response_model: str | None = None
    response_id: str | None = None
    usage: TokenUsage | None = None
    finish_reasons: tuple[str, ...] = ()
    problem: str | None = None
    """Why usage could not be read, in words; None when it was (or nothing is metered)."""
    error_type: str | None = None
    """The provider's error code when the body was an error document."""
    units: Mapping[str, Decimal] = field(default_factory=dict)
    """Non-token billable quantities (`pricing.Usage.units` names: characters, seconds, ...)."""
    dimensions: Mapping[str, str] = field(default_factory=dict)
    """Price dimensions the response reports (service tier, image size, ...)."""
    reported_cost: Decimal | None = None
    """USD the provider itself reported for the call (OpenRouter `usage.cost`, ...)."""

    @property
    def metered(self) -> bool:
        """True when the response reported something billable."""
        return self.usage is not None or bool(self.units) or self.reported_cost is not None


class StreamReader(Protocol):
    """Accumulates what a streamed response reports, one SSE event at a time."""

    def on_event(self, event: Event) -> None: ...

    def result(self) -> CallResult: ...


class ResponseReader(Protocol):
    """Reads one response body, fed as decoded bytes in arbitrary pieces."""

    def feed(self, data: bytes) -> None: ...

    def result(self) -> CallResult: ...


class WireFormat(Protocol):
    """One provider API's format.

    Required: `read_document` (a JSON body), `read_error` (an error body) and `stream_reader`
    (SSE). Optional, looked up with `getattr`:
    - `read_request(body: bytes, endpoint: Endpoint, inject_stream_usage: bool) -> RequestFacts`
      (default: `proxy.forwarding.read_request`, JSON `model` and `stream`);
    - `response_reader(content_type: str, request: RequestFacts, headers: Mapping[str, str])
      -> ResponseReader | None` for bodies that are neither one JSON document nor SSE (binary
      event streams, NDJSON, audio with usage in headers); None falls back to the default.
    """

    def read_document(self, document: object) -> CallResult: ...

    def read_error(self, document: object) -> str | None: ...

    def stream_reader(self) -> StreamReader: ...


def token_count(usage: Mapping[str, object], key: str, *, required: bool = False) -> int:
    """A token count from a usage object: absent or null is 0 unless `required`."""
    value = usage.get(key)
    if value is None:
        if required:
            raise UsageError(f"usage has no {key!r}")
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        raise UsageError(f"usage {key!r} is {value!r}, not a token count")
    if value < 0:
        raise UsageError(f"usage {key!r} is negative ({value})")
    return value


def decode_json(body: bytes, kind: str = "response body") -> object | CallResult:
    """The JSON document in `body`, or a `CallResult` saying why it is not one."""
    try:
        document: object = json.loads(body)
    except UnicodeDecodeError as exc:
        return CallResult(problem=f"{kind} is not valid JSON (invalid UTF-8 at byte {exc.start})")
    except json.JSONDecodeError as exc:
        return CallResult(problem=f"{kind} is not valid JSON ({exc.msg} at byte {exc.pos})")
    return document


def mapping(value: object) -> Mapping[str, object] | None:
    return value if isinstance(value, dict) else None


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
