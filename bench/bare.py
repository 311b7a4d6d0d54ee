"""The bare pass-through: the fastest a Python proxy on our stack can forward a call.

Same server stack as `llmobserve-proxy` (uvicorn, uvloop, httptools, a plain ASGI callable),
one aiohttp session (no connection limit) as the upstream client - the reference issue 6 sets -
and nothing else: no routing rules, no parsing, no span, no metrics. `/openai/...` goes to
`{upstream}/...`. (The proxy has its own upstream client, `proxy/upstream.py`; `bench.minimal`
is a pass-through on a minimal one.)

`python -m bench.bare --port 8082 --upstream http://127.0.0.1:8081`
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import aiohttp
import uvicorn
from yarl import URL

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
_PREFIX = "/openai"


async def read_body(receive: Any) -> bytes:
    """The whole ASGI request body."""
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            return body


class BarePassThrough:
    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rstrip("/")
        self._session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        body = await read_body(receive)
        path = scope["raw_path"].decode("latin-1").removeprefix(_PREFIX)
        query = scope["query_string"].decode("latin-1")
        url = f"{self._upstream}{path}?{query}" if query else f"{self._upstream}{path}"
        headers = [
            (k.decode("latin-1"), v.decode("latin-1"))
            for k, v in scope["headers"]
            if k not in HOP_BY_HOP
        ]
        assert self._session is not None
        async with self._session.request(
            scope["method"],
            URL(url, encoded=True),
            headers=headers,
            data=body,
            allow_redirects=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
        ) as response:
            out = [(k.lower(), v) for k, v in response.raw_headers if k.lower() not in HOP_BY_HOP]
            if "Content-Length" in response.headers:
                out.append((b"content-length", response.headers["Content-Length"].encode()))
            await send({"type": "http.response.start", "status": response.status, "headers": out})
            async for chunk in response.content.iter_any():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._session = aiohttp.ClientSession(
                    connector=aiohttp.TCPConnector(limit=0),
                    auto_decompress=False,
                    cookie_jar=aiohttp.DummyCookieJar(),
                    trust_env=False,
                    timeout=aiohttp.ClientTimeout(total=None),
                )
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._session is not None:
                    await self._session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


def serve(prog: str, app: Callable[[str], Any], argv: list[str] | None = None) -> int:
    """`--port P --upstream URL`: serve `app(URL)` on loopback as both pass-throughs run."""
    parser = argparse.ArgumentParser(prog=prog)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args(argv)
    uvicorn.run(
        app(args.upstream),
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        log_level="warning",
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    return serve("python -m bench.bare", BarePassThrough, argv)


if __name__ == "__main__":
    raise SystemExit(main())
