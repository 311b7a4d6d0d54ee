"""The simulator ASGI application: request log, routing, and the control endpoints."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable

from . import _anthropic, _bedrock, _openai
from ._asgi import ASGIApp, Receive, Scope, Send, read_request, send_reply, serve_lifespan
from ._log import RequestLog
from ._wire import Reply, Request, json_reply

CONTROL_PREFIX = "/__simulator__/"
REQUESTS_PATH = "/__simulator__/requests"
HEALTH_PATH = "/health"


class Simulator:
    """One simulated upstream serving every simulated provider; see the package docstring."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._log = RequestLog()
        self._seq = itertools.count(1)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await serve_lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        request = await read_request(scope, receive)
        await send_reply(self.dispatch(request), request, send)

    def dispatch(self, request: Request) -> Reply:
        """Answer one request; provider requests are logged first, whatever the outcome."""
        if request.path == HEALTH_PATH or request.path.startswith(CONTROL_PREFIX):
            return self._control(request)
        self._log.record(request)
        seq = next(self._seq)
        route = (request.method, request.path)
        if route == ("POST", "/v1/chat/completions"):
            return _openai.chat_completions(request, seq, int(self._clock()))
        if route == ("POST", "/v1/messages"):
            return _anthropic.messages(request, seq)
        if _bedrock.is_bedrock(request):
            return _bedrock.handle(request, seq)
        return _not_found(request)

    def _control(self, request: Request) -> Reply:
        route = (request.method, request.path)
        if route == ("GET", HEALTH_PATH):
            return json_reply(200, {"status": "ok", "service": "llmobserve-simulator"})
        if route == ("GET", REQUESTS_PATH):
            return json_reply(200, self._log.entries())
        if route == ("DELETE", REQUESTS_PATH):
            self._log.clear()
            return json_reply(200, {"deleted": True})
        return _not_found(request)


def _not_found(request: Request) -> Reply:
    # OpenAI's shape for unknown routes; good enough for either provider in a simulator.
    message = f"Invalid URL ({request.method} {request.path}): no such route in the simulator"
    error = {"message": message, "type": "invalid_request_error", "param": None, "code": None}
    return json_reply(404, {"error": error})


def create_app() -> ASGIApp:
    """Build a fresh simulator with an empty request log and its own id sequence.

    Example: ``uvicorn --factory llmobserve.simulator:create_app --port 8081``, or
    ``httpx2.AsyncClient(transport=httpx2.ASGITransport(app=create_app()))`` in a test.
    """
    return Simulator()
