"""`llmobserve-proxy --host H --port P [--workers N]`."""

from __future__ import annotations

import argparse
import logging
import os
import signal

from proxy.protocol import DEFAULT_PORT

EXPORT_BATCH_SIZE = 128
"""`OTEL_BSP_MAX_EXPORT_BATCH_SIZE` unless set: see `main`."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llmobserve-proxy",
        description="Forward calls to paid APIs and emit one priced OpenTelemetry span per call.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 9000)")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument("--log-level", default="warning", help="uvicorn log level")
    args = parser.parse_args(argv)

    import uvicorn

    from pricing import PricingError, default_registry
    from proxy.security import bind_refusal
    from proxy.settings import Settings, SettingsError

    try:
        settings = Settings.from_env()  # fail now, with the variable named, not on a request
        default_registry()  # and LLMOBSERVE_PRICING_FILE, with its file, line and field
    except (SettingsError, PricingError) as exc:
        parser.error(str(exc))
    refusal = bind_refusal(args.host, settings)
    if refusal is not None:
        parser.error(refusal)  # never an open relay by accident
    logging.basicConfig(level=args.log_level.upper())
    # uvicorn finishes in-flight calls on SIGTERM, then re-raises the signal once it has
    # restored the previous handler; this one turns that into a clean exit (status 0).
    signal.signal(signal.SIGTERM, lambda *_: None)
    # Batches of 128 rather than the SDK's 512: smaller POSTs from the export thread, which
    # shares the GIL with the event loop (docs/benchmarks.md). Workers inherit the environment.
    os.environ.setdefault("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", str(EXPORT_BATCH_SIZE))
    uvicorn.run(
        "proxy.app:server_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        log_level=args.log_level,
        access_log=False,
        server_header=False,
        date_header=False,
        lifespan="on",
        timeout_graceful_shutdown=settings.shutdown_grace,  # type: ignore[arg-type]  # wait_for: a float is fine
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
