"""Decode a copy of a compressed response body for parsing, with a bound on memory."""

from __future__ import annotations

import zlib


class DecodingError(Exception):
    """The body could not be decoded; the message says why."""


class BodyDecoder:
    """Incrementally undo `Content-Encoding` (identity, gzip, deflate)."""

    def __init__(self, content_encoding: str, max_output: int) -> None:
        encoding = content_encoding.strip().lower()
        self._max_output = max_output
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            # RFC 9110 says zlib-wrapped; some servers send raw deflate. Auto-detect the header.
            self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)
        else:
            raise DecodingError(f"unsupported content-encoding {encoding!r}")

    def decode(self, chunk: bytes) -> bytes:
        if self._zlib is None:
            return chunk
        try:
            return self._zlib.decompress(chunk, self._max_output)
        except zlib.error as exc:
            raise DecodingError(f"body is not valid {self._name()}: {exc}") from exc

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise DecodingError(f"body is not valid {self._name()}: {exc}") from exc

    def _name(self) -> str:
        return "compressed data"
