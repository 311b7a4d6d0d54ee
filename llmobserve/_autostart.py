"""`observe(auto_start_proxy=True)`: start a local proxy when none answers."""

from __future__ import annotations

import atexit
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from urllib.parse import urlsplit

from proxy.protocol import HEALTH_PATH, SERVICE_NAME

log = logging.getLogger("llmobserve")


def proxy_is_up(proxy_url: str, timeout: float = 0.5) -> bool:
    try:
        with urllib.request.urlopen(f"{proxy_url}{HEALTH_PATH}", timeout=timeout) as response:  # noqa: S310 - our own http(s) proxy URL
            return bool(json.loads(response.read()).get("service") == SERVICE_NAME)
    except (OSError, ValueError):
        return False


def start_proxy(
    proxy_url: str, collector_url: str | None = None, wait: float = 20.0
) -> subprocess.Popen[bytes] | None:
    """Start `llmobserve-proxy` for `proxy_url` unless one answers there; None if not started."""
    if proxy_is_up(proxy_url):
        return None
    parts = urlsplit(proxy_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    if host not in ("localhost", "127.0.0.1", "::1"):
        log.warning("llmobserve: auto_start_proxy only starts a local proxy, not %s", host)
        return None
    try:
        import proxy.app  # noqa: F401 - fails early without the `proxy` extra
    except ImportError as exc:
        log.warning("llmobserve: cannot start the proxy (%s); install llmobserve[proxy]", exc)
        return None
    env = os.environ.copy()
    if collector_url:  # the proxy's spans go where the application's go
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector_url
        env.pop("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "proxy.cli", "--host", host, "--port", str(port)],
        env=env,
        stdin=subprocess.DEVNULL,
    )
    atexit.register(_stop, process)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.warning("llmobserve: the proxy exited at start (code %s)", process.returncode)
            return None
        if proxy_is_up(proxy_url, timeout=0.2):
            return process
        time.sleep(0.05)
    log.warning("llmobserve: the proxy did not answer within %.0fs", wait)
    return process


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
