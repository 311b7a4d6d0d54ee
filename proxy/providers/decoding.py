"""Decode a copy of a compressed response body for parsing, with a bound on memory."""

from __future__ import annotations

import zlib
from collections.abc import Iterator


class DecodingError(Exception):
    """The body could not be decoded; the message says why."""


class BodyDecoder:
    """Incrementally undo `Content-Encoding` (identity, gzip, deflate).

    `decode` yields pieces of at most `max_piece` bytes, so one small compressed chunk that
    inflates hugely never becomes one huge buffer.
    """

    def __init__(self, content_encoding: str, max_piece: int) -> None:
        encoding = content_encoding.strip().lower()
        self._max_piece = max_piece
        self._encoding = encoding
        self._started = False
        self._zlib: zlib._Decompress | None
        if encoding in ("", "identity"):
            self._zlib = None
        elif encoding in ("gzip", "x-gzip"):
            self._zlib = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            # RFC 9110 8.4.1.2 says zlib-wrapped; accept a gzip header too (32+), and retry
            # as raw deflate (no header) when neither header is there.
            self._zlib = zlib.decompressobj(32 + zlib.MAX_WBITS)
        else:
            raise DecodingError(f"unsupported content-encoding {encoding!r}")

    def decode(self, chunk: bytes) -> Iterator[bytes]:
        if self._zlib is None:
            if chunk:
                yield chunk
            return
        data = chunk
        while data:
            piece = self._inflate(data)
            if piece:
                yield piece
            data = self._zlib.unconsumed_tail

    def _inflate(self, data: bytes) -> bytes:
        assert self._zlib is not None
        try:
            piece = self._zlib.decompress(data, self._max_piece)
        except zlib.error as exc:
            if self._encoding == "deflate" and not self._started:
                self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, no header
                self._started = True
                return self._inflate(data)
            raise DecodingError(f"body is not valid {self._encoding} data: {exc}") from exc
        self._started = True
        return piece

    def flush(self) -> bytes:
        if self._zlib is None:
            return b""
        try:
            return self._zlib.flush()
        except zlib.error as exc:
            raise DecodingError(f"body is not valid {self._encoding} data: {exc}") from exc
