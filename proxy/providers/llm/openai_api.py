"""Which OpenAI-API paths are metered, for OpenAI and for the hosts that serve the same paths
under another prefix (Azure OpenAI deployments and `/openai/v1`, Groq `/openai/v1`).

OpenAI Chat Completions (`POST /v1/chat/completions`) is in the core table; this detector
gets every other OpenAI path. References: https://platform.openai.com/docs/api-reference
(responses, completions, embeddings, images, audio) and, for Azure,
https://learn.microsoft.com/azure/ai-services/openai/reference (deployment URLs,
`?api-version=`) and https://learn.microsoft.com/azure/ai-foundry/openai/api-version-lifecycle
(the `/openai/v1/` API, `model` in the body).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Collection
from urllib.parse import unquote

from proxy.providers.base import Endpoint
from proxy.providers.llm._common import detector
from proxy.providers.llm._names import (
    CHAT,
    EMBEDDINGS,
    IMAGE_EDIT,
    IMAGE_GENERATION,
    OPENAI_COMPLETIONS,
    OPENAI_EMBEDDINGS,
    OPENAI_IMAGES,
    OPENAI_RESPONSES,
    OPENAI_SPEECH,
    OPENAI_TRANSCRIPTION,
    SPEECH,
    TEXT_COMPLETION,
    TRANSCRIPTION,
    TRANSLATION,
)

ALL_KINDS = frozenset({"chat", "completions", "responses", "embeddings", "images", "audio"})
_AZURE_DEPLOYMENT = re.compile(r"^/openai/deployments/([^/]+)(/.+)$")


def openai_paths(
    prefix: str,
    *,
    chat_wire: str,
    inject: bool,
    kinds: Collection[str] = ALL_KINDS,
) -> dict[tuple[str, str], Endpoint]:
    """The (POST, path) table of the OpenAI API under `prefix` (e.g. `/v1`).

    `inject`: whether chat and completion streams may be asked for usage on the client's
    behalf (only where the host is known to accept `stream_options`).
    """
    table: dict[str, Endpoint] = {}
    if "chat" in kinds:
        table["/chat/completions"] = Endpoint(CHAT, chat_wire, stream_usage_opt_in=inject)
    if "completions" in kinds:
        table["/completions"] = Endpoint(
            TEXT_COMPLETION, OPENAI_COMPLETIONS, stream_usage_opt_in=inject
        )
    if "responses" in kinds:
        table["/responses"] = Endpoint(CHAT, OPENAI_RESPONSES)
    if "embeddings" in kinds:
        table["/embeddings"] = Endpoint(EMBEDDINGS, OPENAI_EMBEDDINGS)
    if "images" in kinds:
        table["/images/generations"] = Endpoint(IMAGE_GENERATION, OPENAI_IMAGES)
        table["/images/edits"] = Endpoint(IMAGE_EDIT, OPENAI_IMAGES)
        table["/images/variations"] = Endpoint(IMAGE_GENERATION, OPENAI_IMAGES)
    if "audio" in kinds:
        table["/audio/transcriptions"] = Endpoint(TRANSCRIPTION, OPENAI_TRANSCRIPTION)
        table["/audio/translations"] = Endpoint(TRANSLATION, OPENAI_TRANSCRIPTION)
        table["/audio/speech"] = Endpoint(SPEECH, OPENAI_SPEECH)
    return {("POST", prefix + suffix): endpoint for suffix, endpoint in table.items()}


# OpenAI itself: chat is in the core table; stream usage can be asked for on completions.
detect_openai = detector(
    openai_paths("/v1", chat_wire=OPENAI_COMPLETIONS, inject=True, kinds=ALL_KINDS - {"chat"})
)

# Azure: the dated API names the deployment in the path. Older api-versions reject
# `stream_options` (and the query string is not visible here), so usage is never injected
# there; the v1 API accepts it.
_AZURE_DEPLOYMENT_PATHS = openai_paths("", chat_wire=OPENAI_COMPLETIONS, inject=False)
_AZURE_V1 = openai_paths("/openai/v1", chat_wire=OPENAI_COMPLETIONS, inject=True)
_AZURE_OTHER = {
    # Responses API preview path (`/openai/responses?api-version=...`).
    ("POST", "/openai/responses"): Endpoint(CHAT, OPENAI_RESPONSES),
    # Azure AI Foundry model inference (non-OpenAI models, `model` in the body).
    ("POST", "/models/chat/completions"): Endpoint(CHAT, OPENAI_COMPLETIONS),
}


def detect_azure(method: str, path: str) -> Endpoint | None:
    deployment = _AZURE_DEPLOYMENT.match(path)
    if deployment is not None:
        endpoint = _AZURE_DEPLOYMENT_PATHS.get((method, deployment.group(2)))
        if endpoint is None:
            return None
        # The deployment is the user's name for a model: a fallback for the request model;
        # pricing uses the response's `model`, which names the real one.
        return dataclasses.replace(endpoint, model=unquote(deployment.group(1)))
    return _AZURE_V1.get((method, path)) or _AZURE_OTHER.get((method, path))
