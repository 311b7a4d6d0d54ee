"""`llmobserve report`: what the calls cost, by customer, section path and model.

    llmobserve report --jaeger http://localhost:16686 --service llmobserve-proxy --since 1h
    llmobserve report traces.json --html report.html --csv calls.csv

Reads the calls' spans back from Jaeger's HTTP API or from files (Jaeger JSON, OTLP JSON; see
`_report_sources`), prints the tables, and writes a one-file HTML report with charts and a CSV
with one row per call. Exit status: 0 on success (even with no calls), 1 when a source cannot
be read, 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmobserve import _report_html, _report_text
from llmobserve._costtree import Call, Records, total
from llmobserve._report_sources import SourceError, TimeRange, query_jaeger, read_file

DEFAULT_SERVICE = "llmobserve-proxy"
DEFAULT_SINCE = "1h"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
CSV_COLUMNS = (
    "start_time_utc",
    "customer",
    "section_path",
    "provider",
    "model",
    "operation",
    "input_tokens",
    "cached_input_tokens",
    "cache_write_tokens",
    "output_tokens",
    "reasoning_tokens",
    "cost_usd",
    "cost_status",
    "cost_reason",
    "service",
    "trace_id",
    "span_id",
)


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="cost by customer, section and model, from Jaeger or trace files",
        description="Read the calls' spans back from Jaeger's HTTP API or from trace files "
        "(Jaeger JSON, OTLP JSON or JSON Lines) and print the cost by customer, section path "
        "and model, and every call without a price with its status and reason.",
    )
    report.add_argument(
        "files", nargs="*", type=Path, help="Jaeger /api/traces JSON or OTLP JSON files"
    )
    report.add_argument("--jaeger", metavar="URL", help="Jaeger query URL, http://host:16686")
    report.add_argument(
        "--service",
        default=DEFAULT_SERVICE,
        help="Jaeger service whose traces to read (default %(default)s: every proxied call)",
    )
    report.add_argument(
        "--since",
        type=_duration,
        metavar="DURATION",
        help=f"the last 30m, 6h, 7d ... (Jaeger default: {DEFAULT_SINCE})",
    )
    report.add_argument("--start", type=_moment, help="ISO-8601 start; no zone means UTC")
    report.add_argument("--end", type=_moment, help="ISO-8601 end (default: now)")
    report.add_argument(
        "--limit", type=int, default=1500, help="most traces to fetch from Jaeger (%(default)s)"
    )
    report.add_argument("--html", type=Path, metavar="PATH", help="write an HTML report")
    report.add_argument("--csv", type=Path, metavar="PATH", help="write one CSV row per call")
    report.add_argument("--tree", action="store_true", help="also print the cost tree")


def run(args: argparse.Namespace, now: datetime | None = None) -> int:
    if not args.files and not args.jaeger:
        print("llmobserve report: give trace files or --jaeger URL", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("llmobserve report: --limit must be at least 1", file=sys.stderr)
        return 2
    if args.since is not None and args.start is not None:
        print("llmobserve report: use --since or --start, not both", file=sys.stderr)
        return 2
    now = now or datetime.now(UTC)
    span = _time_range(args, now)
    try:
        records, source = _read(args, span)
    except SourceError as exc:
        print(f"llmobserve report: {exc}", file=sys.stderr)
        return 1
    print(summary(records, source))
    if args.tree and (records.calls or records.sections):
        print("\nCOST TREE\n")
        print(_report_text.render_tree(records))
    if args.html:
        page = _report_html.Page("LLM cost report", source, now)
        args.html.write_text(_report_html.render(records, page), encoding="utf-8")
        print(f"\nHTML report: {args.html}")
    if args.csv:
        write_csv(records.calls, args.csv)
        print(f"CSV, one row per call: {args.csv}")
    return 0


def _time_range(args: argparse.Namespace, now: datetime) -> TimeRange:
    since: timedelta | None = args.since
    if since is None and args.start is None and args.jaeger:
        since = _duration(DEFAULT_SINCE)
    start = now - since if since is not None else args.start
    end = args.end if args.end is not None else (now if start is not None else None)
    return TimeRange(start, end)


def _read(args: argparse.Namespace, span: TimeRange) -> tuple[Records, str]:
    records = Records()
    sources = []
    if args.jaeger:
        found, traces = query_jaeger(args.jaeger, args.service, span, args.limit)
        records += found
        sources.append(f"{traces} trace(s) of service {args.service} from Jaeger {args.jaeger}")
        if traces >= args.limit:
            sources.append(f"LIMIT of {args.limit} traces reached: narrow the time range")
    for path in args.files:
        records += read_file(path)
        sources.append(str(path))
    return _deduplicated(records, span if args.files else TimeRange()), "; ".join(sources)


def _deduplicated(records: Records, span: TimeRange) -> Records:
    """The same span read twice (overlapping exports) counts once; files honour the range."""
    seen: set[tuple[str, str]] = set()
    calls: list[Call] = []
    for call in sorted(records.calls, key=lambda c: c.start_ns):
        key = (call.trace_id, call.span_id)
        if call.span_id and key in seen:
            continue
        seen.add(key)
        if call.start_ns == 0 or span.contains(call.start_ns):
            calls.append(call)
    return Records(tuple(calls), records.sections)


def summary(records: Records, source: str) -> str:
    """The text report: totals, by customer, by section path, by model, unpriced calls."""
    calls = records.calls
    places = _report_text.places_for(records)
    lines = [f"llmobserve report: {source}"]
    if not calls:
        lines.append("\nNo provider call spans (with llmobserve.cost.status) found.")
        if records.sections:
            lines += [
                "Only section spans: the calls were priced by a proxy whose spans are not here.",
                "Section rollups (llmobserve.section.cost):\n",
                _report_text.render_tree(records, places=places),
            ]
        return "\n".join(lines)
    totals = total(calls)
    unpriced = f", {totals.unpriced} without a price" if totals.unpriced else ""
    lines += [
        f"\nTOTAL {_report_text.money(totals.cost, places)} USD over {totals.calls} calls"
        f"{unpriced}",
        "\nBY CUSTOMER\n",
        _report_text.render_by_customer(calls, places),
        "\nBY SECTION PATH (where each call was made)\n",
        _report_text.render_by_section(calls, places),
        "\nBY MODEL\n",
        _report_text.render_by_model(calls, places),
    ]
    unpriced_text = _report_text.render_unpriced(calls)
    if unpriced_text:
        lines += ["", unpriced_text]
    return "\n".join(lines)


def write_csv(calls: tuple[Call, ...], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for call in calls:
            started = datetime.fromtimestamp(call.start_ns / 1e9, UTC) if call.start_ns else None
            writer.writerow(
                [
                    started.isoformat(timespec="milliseconds") if started else "",
                    call.customer or "",
                    call.section_path or "",
                    call.provider,
                    call.model,
                    call.name.split(" ", 1)[0],
                    call.input_tokens,
                    call.cache_read_tokens,
                    call.cache_write_tokens,
                    call.output_tokens,
                    call.reasoning_tokens,
                    "" if call.cost is None else f"{call.cost:f}",
                    call.status,
                    call.reason or "",
                    call.service,
                    call.trace_id,
                    call.span_id,
                ]
            )


def _duration(text: str) -> timedelta:
    parts = _DURATION.findall(text.strip().lower())
    if not parts or "".join(n + u for n, u in parts) != text.strip().lower():
        raise argparse.ArgumentTypeError(f"expected a duration like 30m, 6h or 1d12h, got {text!r}")
    return timedelta(seconds=sum(float(n) * _UNIT_SECONDS[u] for n, u in parts))


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO-8601 time, got {text!r}") from None
    return moment if moment.utcoffset() is not None else moment.replace(tzinfo=UTC)
