"""`llmobserve`: the command line (`llmobserve demo`)."""

from __future__ import annotations

import argparse


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="llmobserve", description="OpenTelemetry-native cost observability for paid APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "demo",
        help="run the README example through a real proxy against a local provider simulator",
        description="Run the README example through a real proxy against a local provider "
        "SIMULATOR (no network, no API keys) and print the cost tree. Set "
        "OTEL_EXPORTER_OTLP_ENDPOINT to also send the spans to Jaeger, Tempo or a Collector.",
    )
    args = parser.parse_args(argv)
    if args.command == "demo":
        from llmobserve import _demo

        return _demo.run()
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
