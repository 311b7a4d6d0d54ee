"""SDK configuration: arguments first, then `LLMOBSERVE_*`, then the standard `OTEL_*`."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from proxy.protocol import DEFAULT_PORT

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
            allowed_hosts=tuple(
                h.strip().lower()
                for h in env.get("LLMOBSERVE_ALLOWED_HOSTS", "").split(",")
                if h.strip()
            ),
        )
