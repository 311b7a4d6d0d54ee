"""Which calls are metered: (provider, method, path) -> the operation and its wire format."""

from __future__ import annotations

from typing import Final

from proxy.providers import llm, services
from proxy.providers.base import Endpoint, EndpointDetector
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


def detect_endpoint(provider_id: str, method: str, path: str) -> Endpoint | None:
    """The metered endpoint for a call, or None when llmobserve does not meter it (yet).

    `path` is the raw URL path without the query string; a trailing slash is ignored.
    """
    normalised = path.rstrip("/") or "/"
    method = method.upper()
    endpoint = _ENDPOINTS.get((provider_id, method, normalised))
    if endpoint is not None:
        return endpoint
    detector = _DETECTORS.get(provider_id)
    return detector(method, normalised) if detector is not None else None


_DETECTORS: Final[dict[str, EndpointDetector]] = {**llm.DETECTORS, **services.DETECTORS}
