"""Which Gemini API and Vertex AI paths are metered; the model is in the URL.

Gemini API (https://ai.google.dev/api/generate-content): `/v1beta/models/{model}:generateContent`,
`:streamGenerateContent` (add `?alt=sse` for SSE), `:embedContent`, `:batchEmbedContents`
(also `/v1`, and `tunedModels/{id}`); `:countTokens` is free. The OpenAI-compatible surface
is `/v1beta/openai/...` (https://ai.google.dev/gemini-api/docs/openai).
Vertex AI (https://cloud.google.com/vertex-ai/generative-ai/docs/reference/rest):
`/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent` (also
`v1beta1`, and express mode without `projects/.../locations/...`); Claude on Vertex
(https://docs.anthropic.com/en/api/claude-on-vertex-ai) is
`.../publishers/anthropic/models/{model}:rawPredict` | `:streamRawPredict` with an Anthropic
Messages body; the OpenAI-compatible endpoint is `.../endpoints/openapi/chat/completions`.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from proxy.providers.base import Endpoint
from proxy.providers.llm._names import (
    CHAT,
    COMPATIBLE_CHAT,
    EMBEDDINGS,
    GEMINI_CONTENT,
    GEMINI_EMBED,
    GENERATE_CONTENT,
    VERTEX_ANTHROPIC,
)
from proxy.providers.llm.compatible import DETECT_GEMINI_OPENAI

_GEMINI = re.compile(r"^/(?:v1|v1beta|v1alpha)/((?:models|tunedModels)/[^/:]+):([A-Za-z]+)$")
_VERTEX = re.compile(
    r"^/(?:v1|v1beta1)/(?:projects/[^/]+/locations/[^/]+/)?"
    r"publishers/(google|anthropic)/models/([^/:]+):([A-Za-z]+)$"
)
_VERTEX_OPENAI = re.compile(
    r"^/(?:v1|v1beta1)/projects/[^/]+/locations/[^/]+/endpoints/openapi/chat/completions$"
)

_GOOGLE_METHODS = {
    "generateContent": Endpoint(GENERATE_CONTENT, GEMINI_CONTENT),
    "streamGenerateContent": Endpoint(GENERATE_CONTENT, GEMINI_CONTENT, stream=True),
}
_EMBED_METHODS = {
    "embedContent": Endpoint(EMBEDDINGS, GEMINI_EMBED),
    "batchEmbedContents": Endpoint(EMBEDDINGS, GEMINI_EMBED),
}
_ANTHROPIC_METHODS = {
    "rawPredict": Endpoint(CHAT, VERTEX_ANTHROPIC),
    "streamRawPredict": Endpoint(CHAT, VERTEX_ANTHROPIC, stream=True),
}


def _with_model(endpoint: Endpoint | None, model: str) -> Endpoint | None:
    if endpoint is None:
        return None
    return Endpoint(
        endpoint.operation,
        endpoint.wire_format,
        endpoint.stream_usage_opt_in,
        model=model,
        stream=endpoint.stream,
    )


def detect_gemini(method: str, path: str) -> Endpoint | None:
    if method != "POST":
        return None
    found = _GEMINI.match(unquote(path))  # clients may send `%3A` for the colon
    if found is None:
        return DETECT_GEMINI_OPENAI(method, path)
    name, action = found.groups()
    model = name.split("/", 1)[1] if name.startswith("models/") else name
    return _with_model(_GOOGLE_METHODS.get(action) or _EMBED_METHODS.get(action), model)


def detect_vertex(method: str, path: str) -> Endpoint | None:
    if method != "POST":
        return None
    decoded = unquote(path)
    if _VERTEX_OPENAI.match(decoded):
        return Endpoint(CHAT, COMPATIBLE_CHAT)
    found = _VERTEX.match(decoded)
    if found is None:
        return None
    publisher, model, action = found.groups()
    methods = _GOOGLE_METHODS if publisher == "google" else _ANTHROPIC_METHODS
    return _with_model(methods.get(action), model)


# https://cloud.google.com/vertex-ai/generative-ai/docs/learn/locations: the global location
# is served at `aiplatform.googleapis.com`, every region at `{LOCATION}-aiplatform.googleapis.com`
# (`{location}` is a Google Cloud region shape, see `proxy.providers.base.host_matches`).
VERTEX_HOSTS = ("aiplatform.googleapis.com", "{location}-aiplatform.googleapis.com")
