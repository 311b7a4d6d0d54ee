"""The values passed between detection, parsing and pricing, and the plug-in points.

A provider group (`proxy/providers/llm/`, `proxy/providers/services/`) contributes:
- `PROVIDERS`: `Provider` entries (hosts, base-URL prefix);
- `DETECTORS`: provider id -> `detect(method, path) -> Endpoint | None`;
- `WIRE_FORMATS`: wire-format name -> an object implementing `WireFormat`
  (see `proxy.providers.result`), optionally with `read_request` and `response_reader`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Provider:
    """A provider the proxy knows: its hosts and the prefix that routes to it by base URL."""

    id: str
    """`gen_ai.provider.name` where the conventions define one, else our lowercase id."""
    hosts: tuple[str, ...]
    """Exact host names, or `*.suffix` patterns matching any subdomain."""
    base_url: str
    """Where `/{prefix}/...` is sent when a client uses the proxy as its base URL."""
    prefix: str
    """First path segment for base-URL routing, e.g. `openai` for `/openai/v1/...`."""


@dataclass(frozen=True)
class Endpoint:
    """A metered endpoint."""

    operation: str
    """The `gen_ai.operation.name` of calls to it (or our own operation name)."""
    wire_format: str
    """Which wire format reads its requests and responses."""
    stream_usage_opt_in: bool = False
    """OpenAI-style streams report usage only when asked (`stream_options.include_usage`)."""
    model: str | None = None
    """The model when the URL names it (Gemini, Bedrock, Azure deployments)."""
    stream: bool | None = None
    """True when the URL alone says the response streams (`:streamGenerateContent`)."""


EndpointDetector = Callable[[str, str], "Endpoint | None"]
"""`detect(method, path)`: the endpoint a call is for, or None when not metered."""


@dataclass(frozen=True)
class RequestFacts:
    """What the request says that pricing and the span need."""

    model: str | None = None
    stream: bool = False
    body: bytes = b""
    """The body to send upstream (the client's, or one asking for stream usage)."""
    usage_injected: bool = False
    units: Mapping[str, Decimal] = field(default_factory=dict)
    """Billable quantities known from the request (TTS characters, images asked for)."""
    dimensions: Mapping[str, str] = field(default_factory=dict)
    """Price dimensions known from the request (image size and quality, ...)."""
