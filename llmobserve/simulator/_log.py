"""The request log behind `GET/DELETE /__simulator__/requests`."""

from __future__ import annotations

import base64

from ._wire import Request


class RequestLog:
    """Every provider request since start or the last reset, as received."""

    def __init__(self) -> None:
        self._entries: list[dict[str, object]] = []

    def record(self, request: Request) -> None:
        try:
            body, is_base64 = request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            body, is_base64 = base64.b64encode(request.body).decode("ascii"), True
        self._entries.append(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path.decode("latin-1"),
                "query_string": request.query_string.decode("latin-1"),
                # latin-1 maps every byte to one character, so values round-trip exactly.
                "headers": [
                    [name.decode("latin-1"), value.decode("latin-1")]
                    for name, value in request.headers
                ],
                "body": body,
                "body_base64": is_base64,
            }
        )

    def entries(self) -> list[dict[str, object]]:
        return list(self._entries)

    def clear(self) -> None:
        self._entries.clear()
