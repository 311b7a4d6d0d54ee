"""``llmobserve pricing show|cost|check``: the price registry from the command line.

Exit codes: 0 when the answer is a price (or, for ``check``, when everything is
priced and valid), 1 when it is not, 2 for bad arguments (argparse).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from pricing import (
    PricingError,
    Quote,
    Registry,
    TokenUsage,
    Usage,
    default_registry,
    describe,
    price,
)
from semconv import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_USAGE_COST,
    LLMOBSERVE_COST_STATUS,
)

_PROVIDER = GEN_AI_PROVIDER_NAME
_MODELS = (GEN_AI_RESPONSE_MODEL, GEN_AI_REQUEST_MODEL)
_STATUS = LLMOBSERVE_COST_STATUS
_COST = GEN_AI_USAGE_COST


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``pricing`` and its three subcommands on the top-level parser."""
    group = commands.add_parser(
        "pricing", help="look up prices, price a call, check traces for unpriced models"
    )
    sub = group.add_subparsers(dest="pricing_command", required=True)

    show = sub.add_parser("show", help="print the price entry a model resolves to")
    show.add_argument("provider", help="provider id, e.g. openai, anthropic, gcp.gemini")
    show.add_argument("model")
    show.add_argument("--at", type=_moment, help="ISO-8601 time (default: now)")

    cost = sub.add_parser("cost", help="what one call costs")
    cost.add_argument("provider")
    cost.add_argument("model", help="model name; '-' for the provider's default entry")
    for flag in ("input", "output", "cache-read", "cache-write", "cache-write-1h", "reasoning"):
        cost.add_argument(f"--{flag}-tokens", type=_count, metavar="N")
    cost.add_argument("--service-tier", help="batch, flex, priority ...")
    cost.add_argument("--unit", action="append", default=[], metavar="NAME=QTY")
    cost.add_argument("--dimension", action="append", default=[], metavar="NAME=VALUE")
    cost.add_argument("--reported-cost", type=_decimal, metavar="USD")
    cost.add_argument("--at", type=_moment, help="ISO-8601 request time (default: now)")
    cost.add_argument("--json", action="store_true", help="print one JSON object")

    check = sub.add_parser(
        "check", help="unpriced models in trace exports, and price files that fail validation"
    )
    check.add_argument("files", nargs="*", type=Path, help="Jaeger /api/traces or OTLP JSON")
    check.add_argument("--data-dir", type=Path, help="price files to validate (default: bundled)")


def run(args: argparse.Namespace) -> int:
    command: str = args.pricing_command
    if command == "show":
        return _show(args)
    if command == "cost":
        return _cost(args)
    return _check(args)


# -- show ---------------------------------------------------------------------------


def _show(args: argparse.Namespace) -> int:
    registry = _registry()
    if registry is None:
        return 1
    found = describe(args.provider, args.model, registry, args.at)
    if found is None:
        print(f"no price for {args.provider} model {args.model!r}", file=sys.stderr)
        return 1
    print(f"{args.provider} {args.model} -> {found.entry} ({found.source})")
    for line in found.lines:
        print(f"  {line}")
    return 0


# -- cost ---------------------------------------------------------------------------


def _cost(args: argparse.Namespace) -> int:
    try:
        usage = _usage(args)
    except ValueError as exc:
        print(f"llmobserve pricing cost: {exc}", file=sys.stderr)
        return 2
    registry = _registry()
    if registry is None:
        return 1
    model = None if args.model == "-" else args.model
    quote = price(args.provider, model, usage, registry)
    if args.json:
        print(json.dumps(_quote_json(args.provider, model, quote), indent=2))
    else:
        _print_quote(args.provider, model, quote)
    return 0 if quote.status == "priced" else 1


def _usage(args: argparse.Namespace) -> Usage:
    counts = {
        name: getattr(args, f"{name}_tokens")
        for name in ("input", "output", "cache_read", "cache_write", "reasoning")
    }
    tokens = None
    if any(value is not None for value in counts.values()):
        tokens = TokenUsage(
            input_tokens=counts["input"] or 0,
            output_tokens=counts["output"] or 0,
            cache_read_tokens=counts["cache_read"] or 0,
            cache_write_tokens=counts["cache_write"] or 0,
            reasoning_tokens=counts["reasoning"] or 0,
        )
    dimensions = dict(_pairs(args.dimension, "--dimension"))
    if args.service_tier:
        dimensions["service_tier"] = args.service_tier
    if args.cache_write_1h_tokens is not None:
        dimensions["cache_write_1h_tokens"] = str(args.cache_write_1h_tokens)
    units = {name: _decimal(value) for name, value in _pairs(args.unit, "--unit")}
    return Usage(tokens, units, dimensions, args.reported_cost, args.at)


def _quote_json(provider: str, model: str | None, quote: Quote) -> dict[str, Any]:
    cost = quote.cost
    result: dict[str, Any] = {"status": quote.status, "provider": provider, "model": model}
    if cost is None:
        return {**result, "total_usd": None, "reason": quote.reason}
    return {
        **result,
        "entry": cost.model,
        "source": str(cost.source),
        "currency": cost.currency,
        "total_usd": str(cost.total),
        "breakdown": {
            "input": str(cost.input),
            "output": str(cost.output),
            "cache_read": str(cost.cache_read),
            "cache_write": str(cost.cache_write),
            "other": str(cost.other),
            "units": {name: str(value) for name, value in cost.units.items()},
        },
        "notes": list(cost.notes),
    }


def _print_quote(provider: str, model: str | None, quote: Quote) -> None:
    cost = quote.cost
    if cost is None:
        print(f"{provider} {model or '(default)'}: {quote.status}: {quote.reason}")
        return
    print(
        f"{provider} {model or '(default)'}: {cost.total} {cost.currency} "
        f"(source {cost.source}, entry {cost.model})"
    )
    for name in ("input", "output", "cache_read", "cache_write", "other"):
        print(f"  {name:<12} {getattr(cost, name)}")
    for name, value in cost.units.items():
        print(f"    {name:<10} {value}")
    for note in cost.notes:
        print(f"  note: {note}")


# -- check --------------------------------------------------------------------------


def _check(args: argparse.Namespace) -> int:
    failed = False
    try:
        registry = _load(args.data_dir)
        print("price data: valid")
    except PricingError as exc:
        print(exc)
        registry, failed = None, True
    seen: Counter[tuple[str, str]] = Counter()
    for path in args.files:
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read trace export: {exc}")
            failed = True
            continue
        for attributes in _spans(document):
            pair = _unpriced(attributes)
            if pair is not None:
                seen[pair] += 1
    for (provider, model), spans in sorted(seen.items()):
        now = describe(provider, model, registry) if registry is not None else None
        state = f"priced now by {now.source} ({now.entry})" if now else "still unpriced"
        failed = failed or now is None
        print(f"unpriced: {provider} {model!r} in {spans} span(s): {state}")
    if args.files and not seen:
        print("no unpriced model calls found")
    return 1 if failed else 0


def _load(directory: Path | None) -> Registry:
    if directory is None:
        default_registry.cache_clear()
        return default_registry()
    return Registry.load(directory)


def _unpriced(attributes: Mapping[str, object]) -> tuple[str, str] | None:
    provider = attributes.get(_PROVIDER)
    if not isinstance(provider, str):
        return None
    status = attributes.get(_STATUS)
    if status != "unknown_model" and (status is not None or _COST in attributes):
        return None
    model = next((attributes[k] for k in _MODELS if isinstance(attributes.get(k), str)), "")
    return provider, str(model)


def _spans(document: object) -> Iterator[dict[str, object]]:
    """Span attributes from a Jaeger ``/api/traces`` answer or an OTLP JSON export."""
    if not isinstance(document, dict):
        return
    for trace in document.get("data") or []:  # Jaeger
        for span in trace.get("spans") or [] if isinstance(trace, dict) else []:
            tags = span.get("tags") or [] if isinstance(span, dict) else []
            yield {t["key"]: t.get("value") for t in tags if isinstance(t, dict) and "key" in t}
    for resource in document.get("resourceSpans") or []:  # OTLP
        for scope in resource.get("scopeSpans") or [] if isinstance(resource, dict) else []:
            for span in scope.get("spans") or [] if isinstance(scope, dict) else []:
                attributes = span.get("attributes") or [] if isinstance(span, dict) else []
                yield {
                    a["key"]: _otlp_value(a.get("value"))
                    for a in attributes
                    if isinstance(a, dict) and "key" in a
                }


def _otlp_value(value: object) -> object:
    if not isinstance(value, dict) or not value:
        return None
    kind, inner = next(iter(value.items()))
    return float(inner) if kind == "doubleValue" else inner


# -- helpers ------------------------------------------------------------------------


def _registry() -> Registry | None:
    try:
        return default_registry()
    except PricingError as exc:
        print(exc, file=sys.stderr)
        return None


def _pairs(items: list[str], flag: str) -> Iterator[tuple[str, str]]:
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not value:
            raise ValueError(f"{flag} expects NAME=VALUE, got {item!r}")
        yield name.strip(), value.strip()


def _count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise ValueError(f"expected a decimal number, got {text!r}") from None


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO-8601 time, got {text!r}") from None
    if moment.utcoffset() is None:
        raise argparse.ArgumentTypeError(f"{text!r} needs a time zone (append Z for UTC)")
    return moment
