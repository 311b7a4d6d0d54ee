"""llmobserve: OpenTelemetry-native cost observability for applications that call paid APIs.

>>> import llmobserve
>>> llmobserve.observe(collector_url="http://localhost:4318", proxy_url="http://localhost:9000")
>>> from llmobserve import section, set_customer_id
>>> set_customer_id("customer-123")
>>> with section("agent:support"):
...     ...  # provider calls made here are priced by the proxy and attributed to both
"""

from __future__ import annotations

import atexit
import logging
import subprocess
import threading
from dataclasses import dataclass

from llmobserve._autostart import start_proxy
from llmobserve._config import Config
from llmobserve._context import get_customer_id, get_section_path, set_customer_id
from llmobserve._instrumentation import Instrumentation
from llmobserve._routing import Router
from llmobserve._section import section
from llmobserve._tracing import TracingSetup, set_up_tracing

__version__ = "0.1.0"
__all__ = [
    "__version__",
    "flush",
    "get_customer_id",
    "get_section_path",
    "observe",
    "section",
    "set_customer_id",
    "shutdown",
]

log = logging.getLogger("llmobserve")


@dataclass
class _State:
    config: Config
    tracing: TracingSetup
    instrumentation: Instrumentation
    proxy_process: subprocess.Popen[bytes] | None


_lock = threading.Lock()
_state: _State | None = None


def observe(
    collector_url: str | None = None,
    proxy_url: str | None = None,
    *,
    service_name: str | None = None,
    auto_start_proxy: bool = False,
) -> None:
    """Set up tracing, context propagation and (with a proxy URL) proxy routing.

    `collector_url` is an OTLP/HTTP base URL (spans go to `{collector_url}/v1/traces`); without
    it, `LLMOBSERVE_COLLECTOR_URL` and then the standard `OTEL_EXPORTER_OTLP_*` variables apply.
    `proxy_url` (or `LLMOBSERVE_PROXY_URL`) turns on proxy mode: calls to provider hosts go
    through the proxy, and straight to the provider whenever the proxy cannot be reached.
    `auto_start_proxy=True` starts a local proxy (default `http://localhost:9000`) if none
    answers. A second call does nothing; telemetry problems are logged, never raised.

    >>> observe(proxy_url="http://localhost:9000", service_name="support-bot")
    """
    global _state  # noqa: PLW0603 - one process-wide setup, guarded by _lock
    with _lock:
        if _state is not None:
            log.debug("llmobserve: observe() already called; ignoring")
            return
        try:
            config = Config.resolve(collector_url, proxy_url, service_name, auto_start_proxy)
            tracing = set_up_tracing(config)
            process = None
            if config.auto_start_proxy and config.proxy_url:
                process = start_proxy(config.proxy_url, config.collector_url)
            router = (
                Router(
                    config.proxy_url,
                    config.allowed_hosts,
                    config.proxy_retry_after,
                    proxy_token=config.proxy_token,
                )
                if config.proxy_url
                else None
            )
            instrumentation = Instrumentation(router, config.upstream_overrides)
            instrumentation.apply()
        except Exception:  # telemetry never breaks the application
            log.exception("llmobserve: setup failed; the application runs without it")
            return
        _state = _State(config, tracing, instrumentation, process)
        atexit.register(flush)


def flush(timeout_millis: int = 5000) -> None:
    """Export the spans recorded so far (also done at exit)."""
    state = _state
    if state is not None:
        try:
            state.tracing.flush(timeout_millis)
        except Exception:
            log.exception("llmobserve: flush failed")


def shutdown() -> None:
    """Flush spans and undo everything `observe()` changed (patches, instrumentations,
    an auto-started proxy). `observe()` may be called again afterwards."""
    global _state
    with _lock:
        state, _state = _state, None
    if state is None:
        return
    try:
        state.instrumentation.remove()
        state.tracing.close()
    except Exception:
        log.exception("llmobserve: shutdown was incomplete")
    if state.proxy_process is not None and state.proxy_process.poll() is None:
        state.proxy_process.terminate()
        state.proxy_process.wait(timeout=10)
