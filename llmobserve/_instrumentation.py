"""Everything `observe()` changes in the process, and how `shutdown()` undoes it.

Each piece fails soft: a library that is missing or changed shape is left alone with a
warning, and the rest still works.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any, Protocol

from llmobserve._aiohttp import AiohttpPatch
from llmobserve._botocore import BotocorePatch
from llmobserve._httpx_family import HttpxFamilyPatch
from llmobserve._requests import RequestsPatch
from llmobserve._routing import Router

log = logging.getLogger("llmobserve")

# Official OpenTelemetry instrumentations: (module, class, library they need).
_OFFICIAL = (
    ("opentelemetry.instrumentation.httpx", "HTTPXClientInstrumentor", "httpx"),
    ("opentelemetry.instrumentation.requests", "RequestsInstrumentor", "requests"),
    ("opentelemetry.instrumentation.aiohttp_client", "AioHttpClientInstrumentor", "aiohttp"),
    ("opentelemetry.instrumentation.threading", "ThreadingInstrumentor", "threading"),
)


class _Patch(Protocol):
    def apply(self) -> None: ...

    def remove(self) -> None: ...


class Instrumentation:
    def __init__(self, router: Router | None, overrides: Mapping[str, str] | None = None) -> None:
        self.router = router
        self.overrides = dict(overrides or {})
        self._patches: list[_Patch] = []
        self._instrumentors: list[Any] = []

    def apply(self) -> None:
        # Routing first, so the official instrumentations wrap around it and their spans
        # show the provider URL rather than the proxy's.
        # httpx and httpx2 are patched in both modes: routing in proxy mode, in-process
        # metering (direct mode, and calls that fail open) otherwise.
        overrides = self.overrides
        self._patch(
            "httpx2",
            lambda m: HttpxFamilyPatch(m, self.router, trace_requests=True, overrides=overrides),
        )
        self._patch(
            "httpx",
            lambda m: HttpxFamilyPatch(m, self.router, trace_requests=False, overrides=overrides),
        )
        # aiohttp and botocore propagate in both modes (no instrumentation covers aiohttp
        # sessions created before observe(), nor botocore's HTTP requests). These and
        # requests route in proxy mode and meter in-process otherwise, as httpx does.
        self._patch("aiohttp", lambda m: AiohttpPatch(m, self.router, overrides))
        self._patch("botocore", lambda _: BotocorePatch(self.router, overrides))
        self._patch("requests", lambda _: RequestsPatch(self.router, overrides))
        for module_name, class_name, library in _OFFICIAL:
            self._instrument(module_name, class_name, library)

    def remove(self) -> None:
        for instrumentor in reversed(self._instrumentors):
            try:
                instrumentor.uninstrument()
            except Exception:
                log.warning("llmobserve: could not uninstrument %s", type(instrumentor).__name__)
        self._instrumentors.clear()
        for patch in reversed(self._patches):
            try:
                patch.remove()
            except Exception:
                log.warning("llmobserve: could not remove the %s patch", type(patch).__name__)
        self._patches.clear()

    def _patch(self, library: str, make: Any) -> None:
        try:
            module = importlib.import_module(library)
        except ImportError:
            return
        try:
            patch = make(module)
            patch.apply()
        except Exception as exc:
            log.warning("llmobserve: %s left unpatched (%s: %s)", library, type(exc).__name__, exc)
            return
        self._patches.append(patch)

    def _instrument(self, module_name: str, class_name: str, library: str) -> None:
        try:
            importlib.import_module(library)
        except ImportError:
            return
        try:
            instrumentor = getattr(importlib.import_module(module_name), class_name)()
            if instrumentor.is_instrumented_by_opentelemetry:
                return  # the application (or opentelemetry-instrument) did it already
            instrumentor.instrument()
        except Exception as exc:
            log.warning(
                "llmobserve: %s not instrumented (%s: %s)", library, type(exc).__name__, exc
            )
            return
        self._instrumentors.append(instrumentor)
