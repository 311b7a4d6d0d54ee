"""Values passed between the ASGI plumbing and the provider handlers.

A handler is a pure function from a `Request` to a `Reply`; only `_asgi` talks ASGI. That
keeps the provider modules readable as "what the API would answer" and testable without I/O.
"""

from __future__ import annotations

import hashlib
import json
import string
from dataclasses import dataclass

JSON_CONTENT_TYPE = "application/json"
SSE_CONTENT_TYPE = "text/event-stream; charset=utf-8"

_ID_ALPHABET = string.digits + string.ascii_letters


@dataclass(frozen=True)
class Request:
    """One HTTP request exactly as the simulator received it."""

    method: str
    path: str
    query_string: bytes
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    raw_path: bytes = b""
    """The path as sent on the wire, percent-encoding intact."""

    def header(self, name: str) -> str | None:
        """Return the first value of header `name` (case-insensitive), or None."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


@dataclass(frozen=True)
class BodyReply:
    """A complete response body (JSON unless `content_type` says otherwise)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    content_type: str = JSON_CONTENT_TYPE


@dataclass(frozen=True)
class StreamReply:
    """A server-sent-events response, written one element of `events` at a time."""

    events: tuple[bytes, ...]
    headers: tuple[tuple[str, str], ...] = ()
    delay_seconds: float = 0.0
    status: int = 200
    content_type: str = SSE_CONTENT_TYPE


Reply = BodyReply | StreamReply


def dumps(value: object) -> bytes:
    """Serialise compactly, as the providers do on the wire (no spaces after separators)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_reply(status: int, value: object, headers: tuple[tuple[str, str], ...] = ()) -> BodyReply:
    return BodyReply(status=status, body=dumps(value), headers=headers)


def sse_data(value: object) -> bytes:
    """One unnamed SSE event (OpenAI style)."""
    return b"data: " + dumps(value) + b"\n\n"


def sse_event(name: str, value: object) -> bytes:
    """One named SSE event (Anthropic style)."""
    return b"event: " + name.encode("ascii") + b"\ndata: " + dumps(value) + b"\n\n"


def make_id(seed: str, length: int) -> str:
    """A stable, realistic-looking alphanumeric id derived from `seed`.

    Same seed, same id: a fresh simulator answers its n-th request with the same ids on
    every run, which keeps logs and snapshots comparable.
    """
    number = int.from_bytes(hashlib.sha256(seed.encode("utf-8")).digest(), "big")
    chars: list[str] = []
    while len(chars) < length:
        number, digit = divmod(number, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return "".join(chars)
