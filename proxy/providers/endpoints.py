"""Which calls are metered: (provider, method, path[, headers]) -> operation and wire format."""

from __future__ import annotations

from typing import Final

from proxy.providers import llm, services
from proxy.providers.base import (
    Endpoint,
    EndpointDetector,
    HeaderDetector,
    RawHeaders,
    RequestHeaders,
)
from proxy.providers.services import aws_media
from semconv import GenAiOperationNameValues, GenAiProviderNameValues

__all__ = ["ANTHROPIC_MESSAGES", "OPENAI_CHAT", "Endpoint", "detect_endpoint"]

OPENAI_CHAT: Final = "openai_chat"
ANTHROPIC_MESSAGES: Final = "anthropic_messages"


_ENDPOINTS: Final[dict[tuple[str, str, str], Endpoint]] = {
    # https://platform.openai.com/docs/api-reference/chat/create
    (GenAiProviderNameValues.OPENAI, "POST", "/v1/chat/completions"): Endpoint(
        GenAiOperationNameValues.CHAT, OPENAI_CHAT, stream_usage_opt_in=True
    ),
    # https://docs.anthropic.com/en/api/messages
    (GenAiProviderNameValues.ANTHROPIC, "POST", "/v1/messages"): Endpoint(
        GenAiOperationNameValues.CHAT, ANTHROPIC_MESSAGES
    ),
}


def detect_endpoint(
    provider_id: str, method: str, path: str, *, headers: RawHeaders | None = None
) -> Endpoint | None:
    """The metered endpoint for a call, or None when llmobserve does not meter it (yet).

    `path` is the raw URL path without the query string; a trailing slash is ignored.
    `headers` are the request headers, a mapping or ASGI `(name, value)` byte pairs; only the
    detectors of APIs that name the operation in a header (AWS JSON protocols) read them.
    """
    normalised = path.rstrip("/") or "/"
    method = method.upper()
    endpoint = _ENDPOINTS.get((provider_id, method, normalised))
    if endpoint is not None:
        return endpoint
    header_detector = _HEADER_DETECTORS.get(provider_id)
    if header_detector is not None:
        return header_detector(method, normalised, RequestHeaders(headers))
    detector = _DETECTORS.get(provider_id)
    return detector(method, normalised) if detector is not None else None


_DETECTORS: Final[dict[str, EndpointDetector]] = {**llm.DETECTORS, **services.DETECTORS}
_HEADER_DETECTORS: Final[dict[str, HeaderDetector]] = dict(aws_media.HEADER_DETECTORS)
