"""The values passed between detection, parsing and pricing, and the plug-in points.

A provider group (`proxy/providers/llm/`, `proxy/providers/services/`) contributes:
- `PROVIDERS`: `Provider` entries (host patterns, base-URL prefix);
- `DETECTORS`: provider id -> `detect(method, path) -> Endpoint | None`, or, for APIs that
  name the operation in a header (AWS JSON protocols), `HEADER_DETECTORS`: provider id ->
  `detect(method, path, headers: RequestHeaders) -> Endpoint | None`;
- `WIRE_FORMATS`: wire-format name -> an object implementing `WireFormat`
  (see `proxy.providers.result`), optionally with `read_request` and `response_reader`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Final, TypeAlias, cast


@dataclass(frozen=True)
class Provider:
    """A provider the proxy knows: its hosts and the prefix that routes to it by base URL."""

    id: str
    """`gen_ai.provider.name` where the conventions define one, else our lowercase id."""
    hosts: tuple[str, ...]
    """Host patterns (see `host_matches`): exact names, `*.suffix`, or `{region}` templates."""
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

RawHeaders: TypeAlias = Mapping[str, str] | Iterable[tuple[bytes, bytes]]
"""Request headers as a client library (a mapping) or an ASGI scope (byte pairs) holds them."""


class RequestHeaders:
    """Case-insensitive lookup in request headers, in whichever form the caller has them.

    Built only for the providers whose detector reads a header, and it copies nothing: the
    proxy's hot path for every other provider never pays for converting its ASGI headers.
    """

    __slots__ = ("_raw",)

    def __init__(self, raw: RawHeaders | None) -> None:
        self._raw = raw

    def get(self, name: str) -> str | None:
        """The first value of header `name` (any case), stripped, or None."""
        if self._raw is None:
            return None
        wanted = name.lower()
        # `.items()` also covers header objects that are not `Mapping`s (botocore's
        # `HTTPHeaders` is an `email.message.Message`).
        items = getattr(self._raw, "items", None)
        pairs = cast("Iterable[tuple[object, object]]", items() if callable(items) else self._raw)
        for key, value in pairs:
            if _text(key).lower() == wanted:
                return _text(value).strip()
        return None


def _text(value: object) -> str:
    return value.decode("latin-1") if isinstance(value, bytes) else str(value)


HeaderDetector = Callable[[str, str, RequestHeaders], "Endpoint | None"]
"""`detect(method, path, headers)`: for APIs that name the operation in a request header."""


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


# Host patterns.
#
# A placeholder stands for part of ONE DNS label, in the shape the provider documents, so
# `bedrock-runtime.{region}.amazonaws.com` can never match `x.bedrock-runtime...` or
# `....amazonaws.com.evil.com`: the template is matched whole and no shape admits a dot.
_PLACEHOLDERS: Final = {
    # AWS Regions: us-east-1, us-gov-west-1, ap-southeast-7, cn-north-1
    # (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html).
    "{region}": "[a-z]{2}(?:-[a-z]+)+-[0-9]+",
    # Google Cloud locations: us-central1, europe-west12, northamerica-northeast1
    # (https://cloud.google.com/vertex-ai/docs/general/locations).
    "{location}": "[a-z]+-[a-z]+[0-9]+",
}
_PLACEHOLDER = re.compile(r"(\{[a-z]+\})")


def _template(pattern: str) -> re.Pattern[str]:
    """The regular expression for a `{placeholder}` template.

    An unknown placeholder is kept literally: no host contains braces, so a mistyped
    `LLMOBSERVE_ALLOWED_HOSTS` entry allows nothing rather than too much.
    """
    pieces = _PLACEHOLDER.split(pattern)
    return re.compile("".join(_PLACEHOLDERS.get(piece) or re.escape(piece) for piece in pieces))


@dataclass(frozen=True)
class HostSet:
    """Host patterns compiled for lookups: exact names, `*.suffix`es and templates."""

    exact: frozenset[str]
    suffixes: tuple[str, ...]
    """`.suffix` (with its dot) of each `*.suffix` pattern."""
    templates: tuple[re.Pattern[str], ...]

    @classmethod
    def of(cls, patterns: Iterable[str]) -> HostSet:
        lowered = [p.lower() for p in patterns]
        return cls(
            frozenset(p for p in lowered if not p.startswith("*.") and "{" not in p),
            tuple(p[1:] for p in lowered if p.startswith("*.")),
            tuple(_template(p) for p in lowered if not p.startswith("*.") and "{" in p),
        )

    def matches(self, host: str) -> bool:
        """`host` must already be normalised (`normalise_host`)."""
        return (
            host in self.exact
            or any(host.endswith(s) and len(host) > len(s) for s in self.suffixes)
            or any(t.fullmatch(host) is not None for t in self.templates)
        )


def normalise_host(host: str) -> str:
    return host.lower().rstrip(".")


@lru_cache(maxsize=1024)
def _host_set(pattern: str) -> HostSet:
    return HostSet.of((pattern,))


def host_matches(host: str, pattern: str) -> bool:
    """Whether `host` is one of the hosts `pattern` names (case and a final dot ignored).

    - `api.openai.com`: that host only;
    - `*.openai.azure.com`: any subdomain, not the bare suffix;
    - `bedrock-runtime.{region}.amazonaws.com`, `{location}-aiplatform.googleapis.com`: the
      placeholder matches one region-shaped piece of a label, never a dot.

    >>> host_matches("us-east5-aiplatform.googleapis.com", "{location}-aiplatform.googleapis.com")
    True
    """
    return _host_set(pattern).matches(normalise_host(host))
