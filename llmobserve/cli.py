"""`llmobserve`: the command line (`demo`, `report`, `pricing ...`)."""

from __future__ import annotations

import argparse
import os
import sys


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        # `llmobserve report ... | head`: the reader left; stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="llmobserve", description="OpenTelemetry-native cost observability for paid APIs."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="a small multi-agent workload through a real proxy, against a local SIMULATOR",
        description="Run a small multi-agent workload (the real openai, anthropic and boto3 "
        "SDKs, two customers, nested sections) through a real proxy against a local provider "
        "SIMULATOR (no network, no API keys) and print the cost tree. Set "
        "OTEL_EXPORTER_OTLP_ENDPOINT or --jaeger to also send the spans to a tracing backend.",
    )
    demo.add_argument(
        "--jaeger",
        metavar="URL",
        help="Jaeger's UI/query URL (e.g. http://localhost:16686): spans are sent to its OTLP "
        "port (OTEL_EXPORTER_OTLP_ENDPOINT, default the same host's :4318) and the trace URLs "
        "printed",
    )
    demo.add_argument(
        "--live",
        action="store_true",
        help="call the real providers (needs OPENAI_API_KEY and ANTHROPIC_API_KEY; Bedrock "
        "runs when AWS credentials are configured). Spends real money, well under a cent.",
    )
    from llmobserve import _pricing_cli, _report

    _report.add_command(commands)
    _pricing_cli.add_commands(commands)
    args = parser.parse_args(argv)
    if args.command == "pricing":
        return _pricing_cli.run(args)
    if args.command == "report":
        return _report.run(args)
    if args.command == "demo":
        from llmobserve import _demo

        return _demo.run(jaeger=args.jaeger, live=args.live)
    parser.error(f"unknown command {args.command}")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
