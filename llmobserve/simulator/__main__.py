"""Command line: ``python -m llmobserve.simulator --host 127.0.0.1 --port 8081``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

DESCRIPTION = (
    "Run the llmobserve provider SIMULATOR: a fake OpenAI (/v1/chat/completions), Anthropic "
    "(/v1/messages) and Amazon Bedrock (/model/{id}/converse|converse-stream|invoke) upstream "
    "with canned replies and deterministic token usage, "
    "for tests and the offline demo. It is NOT a provider: it never contacts the network "
    "and accepts any API key."
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m llmobserve.simulator", description=DESCRIPTION)
    parser.add_argument(
        "--host", default="127.0.0.1", help="interface to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--port", type=int, default=8081, help="port to bind (default: %(default)s)"
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn log level (default: %(default)s)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Imported late so that `--help` works without the server dependency installed.
    import uvicorn

    from . import create_app

    print(
        f"llmobserve SIMULATOR (not a real provider) on http://{args.host}:{args.port}",
        file=sys.stderr,
    )
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level=args.log_level)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
