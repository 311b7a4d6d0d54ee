"""SDK configuration: arguments first, then `LLMOBSERVE_*`, then the standard `OTEL_*`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from llmobserve._routing import DEFAULT_RETRY_AFTER
from proxy.protocol import DEFAULT_PORT
from proxy.settings import parse_overrides

DEFAULT_PROXY_URL = f"http://localhost:{DEFAULT_PORT}"


@dataclass(frozen=True)
class Config:
    collector_url: str | None
    """OTLP/HTTP base URL; None means the `OTEL_EXPORTER_OTLP_*` variables (or their default)."""
    proxy_url: str | None
    service_name: str | None
    default_service_name: str
    auto_start_proxy: bool
    sdk_disabled: bool
    allowed_hosts: tuple[str, ...]
    upstream_overrides: Mapping[str, str]
    """host -> origin (`LLMOBSERVE_UPSTREAM_OVERRIDES`), honoured in direct mode too."""
    proxy_token: str | None = field(default=None, repr=False)
    """Sent to the proxy in `X-LLMObserve-Proxy-Token` (`LLMOBSERVE_PROXY_TOKEN`)."""
    proxy_retry_after: float = DEFAULT_RETRY_AFTER
    """Seconds calls go direct after the proxy was unreachable (`LLMOBSERVE_PROXY_RETRY_AFTER`)."""

    @classmethod
    def resolve(
        cls,
        collector_url: str | None,
        proxy_url: str | None,
        service_name: str | None,
        auto_start_proxy: bool,
        environ: Mapping[str, str] | None = None,
    ) -> Config:
        env = os.environ if environ is None else environ
        proxy = proxy_url or env.get("LLMOBSERVE_PROXY_URL") or None
        if auto_start_proxy and proxy is None:
            proxy = DEFAULT_PROXY_URL
        script = Path(sys.argv[0]).stem if sys.argv and sys.argv[0] else ""
        return cls(
            collector_url=collector_url or env.get("LLMOBSERVE_COLLECTOR_URL") or None,
            proxy_url=proxy,
            service_name=service_name,
            default_service_name=script or "python-app",
            auto_start_proxy=auto_start_proxy,
            sdk_disabled=env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true",
            upstream_overrides=parse_overrides(env.get("LLMOBSERVE_UPSTREAM_OVERRIDES", "")),
            proxy_token=env.get("LLMOBSERVE_PROXY_TOKEN", "").strip() or None,
            proxy_retry_after=_retry_after(env.get("LLMOBSERVE_PROXY_RETRY_AFTER", "")),
            allowed_hosts=tuple(
                h.strip().lower()
                for h in env.get("LLMOBSERVE_ALLOWED_HOSTS", "").split(",")
                if h.strip()
            ),
        )


def _retry_after(raw: str) -> float:
    """A bad value falls back to the default (telemetry settings never stop the application)."""
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_RETRY_AFTER
    return value if 0 < value < float("inf") else DEFAULT_RETRY_AFTER
