"""Header rules for forwarding, and the request facts pricing needs.

RFC 9110 section 7.6.1: hop-by-hop headers (and those the `Connection` header names) belong to
one connection and are not forwarded. Ours (`X-LLMObserve-*`, our baggage entries) never leave
the proxy: customer ids must not reach third parties.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from proxy.protocol import HEADER_PREFIX, OUR_BAGGAGE_KEYS
from proxy.providers.base import RequestFacts

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_REPLACED_UPSTREAM = frozenset({b"host", b"content-length", b"traceparent"})
_DROPPED = HOP_BY_HOP | _REPLACED_UPSTREAM
_DROPPED_KEEPING_LENGTH = _DROPPED - {b"content-length"}
_OUR_PREFIX = HEADER_PREFIX.encode()
RawHeaders = list[tuple[bytes, bytes]]
_INCLUDE_USAGE = b',"stream_options":{"include_usage":true}'


def connection_tokens(headers: Iterable[tuple[bytes, bytes]]) -> frozenset[bytes]:
    tokens: set[bytes] = set()
    for name, value in headers:
        if name.lower() == b"connection":
            tokens.update(t.strip().lower() for t in value.split(b",") if t.strip())
    return frozenset(tokens)


def strip_our_baggage(value: bytes) -> bytes:
    """Remove our entries from a W3C `baggage` header value; others pass unchanged."""
    kept = []
    for member in value.split(b","):
        key = member.split(b";", 1)[0].split(b"=", 1)[0].strip()
        if unquote(key.decode("latin-1")) not in OUR_BAGGAGE_KEYS:
            kept.append(member)
    return b",".join(kept).strip()


def upstream_headers(
    headers: Iterable[tuple[bytes, bytes]], *, accept_identity: bool, keep_length: bool = False
) -> list[tuple[str, str]]:
    """The client's headers as they may go upstream (Host, length and traceparent are set
    by the caller)."""
    headers = list(headers)
    # A body streamed through unread keeps the client's declared length.
    dropped = _DROPPED_KEEPING_LENGTH if keep_length else _DROPPED
    if any(name.lower() == b"connection" for name, _ in headers):
        dropped = dropped | connection_tokens(headers)
    out: list[tuple[str, str]] = []
    for name, value in headers:
        lower = name.lower()
        if lower in dropped or lower.startswith(_OUR_PREFIX):
            continue
        if lower == b"accept-encoding" and accept_identity:
            continue
        kept = strip_our_baggage(value) if lower == b"baggage" else value
        if kept:
            out.append((name.decode("latin-1"), kept.decode("latin-1")))
    if accept_identity:
        out.append(("Accept-Encoding", "identity"))
    return out


def downstream_headers(raw: Iterable[tuple[bytes, bytes]], *, drop_length: bool) -> RawHeaders:
    """Upstream response headers for the client, lowercased as ASGI asks."""
    raw = list(raw)
    dropped = HOP_BY_HOP | connection_tokens(raw)
    if drop_length:
        dropped = dropped | {b"content-length"}
    return [(name.lower(), value) for name, value in raw if name.lower() not in dropped]


def read_request(body: bytes, *, stream_usage_opt_in: bool, inject: bool) -> RequestFacts:
    """Model and streaming flag of a JSON request; asks an OpenAI-style stream for usage.

    A body that is not a JSON object is forwarded untouched (the provider will say why).
    """
    try:
        document = json.loads(body)
    except ValueError:
        return RequestFacts(body=body)
    if not isinstance(document, dict):
        return RequestFacts(body=body)
    model = document.get("model")
    model = model if isinstance(model, str) and model else None
    stream = document.get("stream") is True
    if not (stream and stream_usage_opt_in and inject):
        return RequestFacts(model, stream, body)
    options = document.get("stream_options")
    if options is not None and not (
        isinstance(options, dict) and options.get("include_usage") is not True
    ):
        return RequestFacts(model, stream, body)  # asked for usage already, or not an object
    return RequestFacts(model, stream, _asking_for_usage(body, document), usage_injected=True)


def _asking_for_usage(body: bytes, document: dict[str, Any]) -> bytes:
    """The request with `stream_options.include_usage` set to true.

    https://platform.openai.com/docs/api-reference/chat/create#chat-create-stream_options
    """
    options = document.get("stream_options")
    if options is None and json.detect_encoding(body) == "utf-8":
        # The usual case: the member is added to the client's bytes, which otherwise go as
        # they came (no re-serialisation: reading the request takes half the time, and
        # nothing else of theirs changes).
        end = body.rstrip().rfind(b"}")
        return body[:end] + _INCLUDE_USAGE + body[end:]
    document["stream_options"] = {**(options or {}), "include_usage": True}
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:  # a lone surrogate escape: valid JSON, not encodable UTF-8
        return json.dumps(document, separators=(",", ":")).encode()
