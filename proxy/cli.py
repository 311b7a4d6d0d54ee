"""`llmobserve-proxy --host H --port P [--workers N]`."""

from __future__ import annotations

import argparse
import logging

from proxy.protocol import DEFAULT_PORT


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

    from proxy.settings import Settings, SettingsError

    try:
        Settings.from_env()  # fail now, with the variable named, not on the first request
    except SettingsError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=args.log_level.upper())
    uvicorn.run(
        "proxy.main:app",
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
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
