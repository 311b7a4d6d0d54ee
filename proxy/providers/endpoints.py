"""Which calls are metered: (provider, method, path) -> the operation and its wire format."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from semconv import GenAiOperationNameValues, GenAiProviderNameValues

OPENAI_CHAT: Final = "openai_chat"
ANTHROPIC_MESSAGES: Final = "anthropic_messages"


@dataclass(frozen=True)
class Endpoint:
    """A metered endpoint."""

    operation: str
    """The `gen_ai.operation.name` of calls to it."""
    wire_format: str
    """Which parser reads its responses (`OPENAI_CHAT`, `ANTHROPIC_MESSAGES`)."""
    stream_usage_opt_in: bool = False
    """OpenAI-style streams report usage only when asked (`stream_options.include_usage`)."""


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

    `path` is the URL path without the query string; a trailing slash is ignored.
    """
    normalised = path.rstrip("/") or "/"
    return _ENDPOINTS.get((provider_id, method.upper(), normalised))
