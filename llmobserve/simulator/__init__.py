"""llmobserve provider SIMULATOR: a fake OpenAI/Anthropic/Bedrock upstream for tests and the demo.

THIS IS A SIMULATOR, NOT A PROVIDER. It never contacts the network, never runs a model and
accepts any API key. It replays the *documented* response shapes of the OpenAI Chat
Completions, Anthropic Messages and Amazon Bedrock runtime (Converse, ConverseStream,
InvokeModel) APIs with deterministic token counts, so the proxy, the SDK instrumentation and
the offline demo can be exercised and their costs checked by hand.
Every response carries the header ``x-llmobserve-simulator: 1``.

Run it with ``python -m llmobserve.simulator --host 127.0.0.1 --port 8081`` or in-process::

    import httpx2
    from llmobserve.simulator import create_app

    client = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_app()))

Routes (dispatch is by path; the ``Host`` header is ignored):

- ``POST /v1/chat/completions`` (OpenAI). Needs ``Authorization: Bearer <anything>``.
  ``"stream": true`` gives SSE chunks; the usage chunk (``"choices": []``) and the
  ``"usage": null`` on every other chunk appear only with
  ``"stream_options": {"include_usage": true}``. ``gpt-4o-mini`` answers as
  ``gpt-4o-mini-2024-07-18`` and ``gpt-4o`` as ``gpt-4o-2024-08-06``; other names are echoed.
- ``POST /v1/messages`` (Anthropic). Needs a non-empty ``x-api-key`` or, as
  anthropic-sdk-python 2.x sends it, ``Authorization: Bearer <key>``. ``"stream": true``
  gives the named events message_start, content_block_start, ping, content_block_delta x N,
  content_block_stop, message_delta, message_stop. The model name is echoed.
- ``POST /model/{modelId}/converse``, ``/converse-stream`` and ``/invoke`` (Amazon Bedrock
  runtime; ``modelId`` percent-encoded as botocore sends it). Needs an ``Authorization`` header
  (``AWS4-HMAC-SHA256 ...`` as SigV4 signs it, or ``Bearer <Bedrock API key>``); the signature
  is not checked. Converse answers ``output.message``, ``stopReason`` and ``usage``
  (``inputTokens``, ``outputTokens``, ``totalTokens``, ``cacheReadInputTokens``,
  ``cacheWriteInputTokens``); ConverseStream answers the binary AWS event stream
  (``application/vnd.amazon.eventstream``: messageStart, contentBlockDelta x N,
  contentBlockStop, messageStop, metadata with the usage); InvokeModel answers the model
  family's own body (Anthropic Messages for ``*anthropic.claude*`` ids, Amazon Nova for other
  ``messages`` bodies, Meta Llama for ``prompt`` bodies) with the usage also in the
  ``x-amzn-bedrock-*-token-count`` headers. Errors carry ``x-amzn-errortype``.
- ``GET /__simulator__/requests``: every provider request since start or reset (method,
  path, query_string, headers as received, body as UTF-8 text or base64 with
  ``body_base64: true``). ``DELETE`` resets it. Control routes and ``/health`` are not logged.
- ``GET /health``: ``{"status": "ok", "service": "llmobserve-simulator"}``.

Non-streaming JSON is gzip-compressed (``content-encoding: gzip``) when ``Accept-Encoding``
allows gzip, unless the request sends ``x-simulator-no-gzip: 1``. Streams are never compressed.

Token rule (deterministic; tests and the demo compute costs from it):

- input tokens = 10 + the sum, over every message plus the top-level ``system`` prompt
  (Anthropic, Bedrock), of ``ceil(len(text) / 4)``, where ``text`` is the content string, or
  the concatenated ``text`` of its text blocks (``{"type": "text"}``, or Bedrock's untyped
  ``{"text": ...}``; other blocks count as empty). Bedrock bodies without ``messages`` count
  10 + ``ceil(len(prompt) / 4)``.
- output tokens = the number of whitespace-separated words of the canned reply:
  ``"Hello! How can I help you today?"`` (7) for every non-Claude model, and
  ``"Hello! I'm Claude. How can I help?"`` (7) for Claude models (a name starting with
  ``claude``, or a Bedrock id such as ``anthropic.claude-...``).
  Streams send the reply one word per delta.

So the single user message ``"Hello"`` costs 10 + ceil(5/4) = 12 input and 7 output tokens.

Scenarios, chosen per request with the header ``x-simulator-scenario``
(an unknown name is a 400 in the provider's error shape):

- ``cached``: OpenAI adds 1024 to ``prompt_tokens`` and reports all 1024 as
  ``prompt_tokens_details.cached_tokens`` (prompt_tokens INCLUDES cached tokens). Anthropic
  keeps ``input_tokens`` and adds ``cache_read_input_tokens=1024`` and
  ``cache_creation_input_tokens=256`` (all ``ephemeral_5m``), since its ``input_tokens``
  EXCLUDES cache tokens; Bedrock likewise keeps ``inputTokens`` and adds
  ``cacheReadInputTokens=1024`` and ``cacheWriteInputTokens=256``.
- ``reasoning``: OpenAI adds 64 ``completion_tokens_details.reasoning_tokens``, included in
  ``completion_tokens``. Anthropic is unchanged.
- ``rate_limit``: 429 with the provider's error body and ``retry-after: 1`` (Bedrock:
  ``ThrottlingException``).
- ``server_error``: 500 with the provider's error body (Bedrock: ``InternalServerException``).
- ``malformed``: 200 ``application/json`` whose body is the first half of the real one; a
  stream is cut in the middle of an event (no usage chunk, ``[DONE]``, message_delta,
  message_stop, or Bedrock's messageStop and metadata).
- ``slow_stream``: streams wait 50 ms between events.
"""

from ._app import create_app
from ._asgi import ASGIApp
from ._scenarios import NO_GZIP_HEADER, SCENARIO_HEADER, SCENARIOS

__all__ = ["NO_GZIP_HEADER", "SCENARIOS", "SCENARIO_HEADER", "ASGIApp", "create_app"]
