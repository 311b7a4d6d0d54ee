"""`llmobserve report --html`: one self-contained HTML file (inline CSS and SVG, no script,
nothing fetched), readable offline and safe to attach to an email.

Every string that comes from a span is escaped: customer ids and section names are set by
whoever calls the proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

from llmobserve import _report_charts as charts
from llmobserve._costtree import MAY_BE_BILLED, Call, Records, Totals, group, total
from llmobserve._report_text import money, money_places, places_for, plural
from semconv import LlmobserveCostStatusValues

_TOP_SERIES = 6
_STATUS_MEANING = {
    LlmobserveCostStatusValues.UNKNOWN_MODEL: "usage known, but no price for the model",
    LlmobserveCostStatusValues.USAGE_UNAVAILABLE: "the response reported no readable usage",
    LlmobserveCostStatusValues.UPSTREAM_ERROR: "the provider refused or failed the call",
    LlmobserveCostStatusValues.NOT_BILLABLE: "the provider does not charge for it",
    LlmobserveCostStatusValues.NOT_METERED: "an endpoint llmobserve does not meter yet",
    "invalid_usage": "the provider reported impossible counts",
}


@dataclass(frozen=True)
class Page:
    title: str
    source: str
    """Where the spans came from, in words."""
    generated: datetime


def render(records: Records, page: Page) -> str:
    calls = list(records.calls)
    places = places_for(records)
    body = [
        _header(calls, page),
        _cards(calls, places),
        _card("Cost over time", _time_chart(calls), "by customer; hover a bar for details"),
        '<div class="grid">',
        _card("Top customers", _top_customers(calls), ""),
        _card("Top sections", _ranked(calls, lambda c: c.section_path or "(no section)"), ""),
        "</div>",
        '<div class="grid wide-left">',
        _card("By model", _models_donut(calls), "share of the priced cost"),
        _card("Calls without a price", _unpriced_summary(calls), "never counted as $0"),
        "</div>",
        _card("Customers", _table(calls, "customer", lambda c: c.customer, places), ""),
        _card("Section paths", _table(calls, "section path", lambda c: c.section_path, places), ""),
        _card("Models", _model_table(calls, places), ""),
        _unpriced_table(calls),
        _footer(),
    ]
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(page.title)}</title><style>{_CSS}</style></head>"
        f"<body><main>{''.join(body)}</main></body></html>\n"
    )


def _header(calls: Sequence[Call], page: Page) -> str:
    starts = [c.start_ns for c in calls if c.start_ns]
    if starts:
        first, last = (_when(min(starts)), _when(max(starts)))
        period = f"{first} to {last}"
    else:
        period = "no calls"
    generated = page.generated.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<header><h1>{escape(page.title)}</h1>"
        f'<p class="sub"><b>{escape(period)}</b><br>{escape(page.source)} · generated {generated}'
        "</p></header>"
    )


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _card(title: str, content: str, note: str) -> str:
    hint = f'<span class="note">{escape(note)}</span>' if note else ""
    return f'<section class="card"><h2>{escape(title)}{hint}</h2>{content}</section>'


def _cards(calls: Sequence[Call], places: int) -> str:
    totals = total(calls)
    customers = len({c.customer for c in calls})
    unpriced = totals.unpriced
    priced = totals.calls - unpriced
    kpis = [
        ("Total cost", money(totals.cost, money_places([totals.cost])), f"{priced:,} priced calls"),
        (
            "Calls",
            f"{totals.calls:,}",
            f"{unpriced:,} without a price" if unpriced else "all priced",
        ),
        (
            "Tokens in / out",
            f"{totals.input_tokens:,} / {totals.output_tokens:,}",
            f"{totals.cache_read_tokens:,} input tokens read from cache",
        ),
        (
            "Customers",
            f"{customers:,}",
            f"{len({c.section_path for c in calls}):,} section paths · "
            f"{len({c.model for c in calls}):,} models",
        ),
    ]
    items = "".join(
        f'<div class="kpi"><div class="kpi-label">{escape(label)}</div>'
        f'<div class="kpi-value">{escape(value)}</div>'
        f'<div class="kpi-note">{escape(note)}</div></div>'
        for label, value, note in kpis
    )
    warn = ""
    billed = sum(1 for c in calls if c.cost is None and c.status in MAY_BE_BILLED)
    if billed:
        warn = (
            f'<p class="warn">{billed:,} call(s) may have been billed by the provider but have '
            "no price here: the total is a lower bound. See “Calls without a price”.</p>"
        )
    return f'<div class="kpis">{items}</div>{warn}'


def _time_chart(calls: Sequence[Call]) -> str:
    by_customer = group(calls, lambda c: c.customer or "(no customer)")
    top = [name for name, totals in by_customer.items() if totals.cost > 0][:_TOP_SERIES]
    series = top + (["other"] if len(by_customer) > len(top) else [])
    points = []
    for call in calls:
        if call.cost is not None and call.start_ns:
            name = call.customer or "(no customer)"
            points.append((call.start_ns / 1e9, name if name in top else "other", call.cost))
    return charts.time_chart(series, points)


def _detail(totals: Totals) -> str:
    tokens = f"{totals.input_tokens:,} in / {totals.output_tokens:,} out"
    text = f"{plural(totals.calls, 'call')} · {tokens}"
    return text + (f" · {totals.unpriced} without a price" if totals.unpriced else "")


def _ranked(calls: Sequence[Call], key: Callable[[Call], str]) -> str:
    groups = group(calls, key)
    return charts.ranked_bars([(name, t.cost, _detail(t)) for name, t in groups.items()])


def _top_customers(calls: Sequence[Call]) -> str:
    """Coloured as in the cost-over-time chart: the top six in colour, the rest grey."""
    groups = group(calls, lambda c: c.customer or "(no customer)")
    rows = [(name, t.cost, _detail(t)) for name, t in groups.items()]

    def colours(rank: int) -> str:
        return charts.colour(rank) if rank < _TOP_SERIES else charts.OTHER_COLOUR

    return charts.ranked_bars(rows, colours=colours)


def _models_donut(calls: Sequence[Call]) -> str:
    groups = group((c for c in calls if c.cost is not None), lambda c: (c.model, c.provider))
    return charts.donut([(model, provider, t.cost) for (model, provider), t in groups.items()])


def _unpriced_summary(calls: Sequence[Call]) -> str:
    unpriced = [c for c in calls if c.cost is None]
    if not unpriced:
        return '<p class="ok">Every call in this report was priced.</p>'
    by_status = group(unpriced, lambda c: c.status)
    items = "".join(
        f'<li><span class="pill {"bad" if status in MAY_BE_BILLED else "neutral"}">'
        f"{escape(status)}</span><b>{totals.calls:,}</b> "
        f"{escape(_STATUS_MEANING.get(status, ''))}</li>"
        for status, totals in sorted(by_status.items(), key=lambda item: -item[1].calls)
    )
    return f'<ul class="statuses">{items}</ul><p class="more">Each one is listed below.</p>'


_HEADS = ["calls", "input", "cached", "output", "cost (USD)", "share"]


def _table(calls: Sequence[Call], name: str, key: Callable[[Call], str | None], places: int) -> str:
    groups = group(calls, lambda c: key(c) or f"(no {name})")
    grand = sum((t.cost for t in groups.values()), Decimal(0))
    rows = [[label, *_cells(totals, grand, places)] for label, totals in groups.items()]
    return _html_table([name, *_HEADS], rows, "l" + "r" * len(_HEADS))


def _model_table(calls: Sequence[Call], places: int) -> str:
    groups = group(calls, lambda c: (c.provider, c.model))
    grand = sum((t.cost for t in groups.values()), Decimal(0))
    rows = [[p, m, *_cells(totals, grand, places)] for (p, m), totals in groups.items()]
    return _html_table(["provider", "model", *_HEADS], rows, "ll" + "r" * len(_HEADS))


def _cells(totals: Totals, grand: Decimal, places: int) -> list[str]:
    return [
        f"{totals.calls:,}" + (f" ({totals.unpriced} unpriced)" if totals.unpriced else ""),
        f"{totals.input_tokens:,}",
        f"{totals.cache_read_tokens:,}",
        f"{totals.output_tokens:,}",
        "-" if totals.calls == totals.unpriced else money(totals.cost, places),
        f"{totals.cost / grand:.1%}" if grand else "",
    ]


def _html_table(head: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> str:
    cls = {"l": "", "r": ' class="num"'}
    header = "".join(f"<th{cls[align[i]]}>{escape(h)}</th>" for i, h in enumerate(head))
    body = "".join(
        "<tr>"
        + "".join(f"<td{cls[align[i]]}>{escape(c)}</td>" for i, c in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="scroll"><table><thead><tr>{header}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _unpriced_table(calls: Sequence[Call]) -> str:
    unpriced = [c for c in calls if c.cost is None]
    if not unpriced:
        return ""
    rows = [
        [
            _when(c.start_ns) if c.start_ns else "",
            c.customer or "(no customer)",
            c.section_path or "(no section)",
            f"{c.name} ({c.provider})",
            c.why_unpriced,
        ]
        for c in unpriced
    ]
    table = _html_table(["time", "customer", "section", "call", "status: reason"], rows, "lllll")
    return _card("Calls without a price", table, "llmobserve.cost.status and .reason")


def _footer() -> str:
    return (
        "<footer>Amounts are exact sums, in USD, of each call's <code>gen_ai.usage.cost</code> "
        "(priced by the llmobserve proxy, or the SDK in direct mode). A call that could not be "
        "priced carries <code>llmobserve.cost.status</code> and "
        "<code>llmobserve.cost.reason</code> instead and is never counted as $0. Generated by "
        "<code>llmobserve report</code>.</footer>"
    )


_CSS = """
:root{--bg:#f5f6f8;--card:#fff;--ink:#1f2937;--muted:#6b7280;--line:#e5e7eb;--track:#eef0f4;
--warn-bg:#fff7ed;--warn:#9a3412;--ok:#047857}
@media (prefers-color-scheme:dark){:root{--bg:#0f1115;--card:#181b21;--ink:#e5e7eb;
--muted:#9ca3af;--line:#2a2f38;--track:#242933;--warn-bg:#2b1d12;--warn:#fdba74;--ok:#34d399}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:28px 20px 40px}
header h1{margin:0;font-size:24px;font-weight:650;letter-spacing:-.01em}
.sub{margin:4px 0 18px;color:var(--muted)}.sub b{color:var(--ink);font-weight:560}
.kpis{display:grid;grid-template-columns:repeat(4,1fr);gap:14px;margin-bottom:14px}
.kpi,.card{background:var(--card);border:1px solid var(--line);border-radius:12px;
box-shadow:0 1px 2px rgba(0,0,0,.04)}
.kpi{padding:14px 16px}
.kpi-label{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.05em}
.kpi-value{font-size:24px;font-weight:650;margin:4px 0 2px;font-variant-numeric:tabular-nums;
white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.kpi-note{color:var(--muted);font-size:12.5px}
.warn{background:var(--warn-bg);color:var(--warn);border-radius:10px;padding:10px 14px;
margin:0 0 14px}
.ok{color:var(--ok)}
.card{padding:16px 18px;margin-bottom:14px;min-width:0}
.card h2{font-size:15px;margin:0 0 12px;font-weight:620;display:flex;gap:10px;align-items:baseline}
.note{color:var(--muted);font-weight:400;font-size:12.5px}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:14px;align-items:start;margin-bottom:14px}
.grid .card{margin-bottom:0}
.grid.wide-left{grid-template-columns:3fr 2fr}
.chart{width:100%;height:auto;display:block}
.grid line,.chart .grid{stroke:var(--line);stroke-width:1}
.axis{fill:var(--muted);font-size:11.5px}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;margin:-4px 0 8px;color:var(--muted);
font-size:12.5px}
.legend i,.donut-legend i{display:inline-block;width:10px;height:10px;border-radius:3px;
margin-right:6px;vertical-align:-1px}
.ranked{list-style:none;margin:0;padding:0}
.ranked li{margin:0 0 10px}
.row{display:flex;justify-content:space-between;gap:12px}
.label{overflow:hidden;text-overflow:ellipsis;white-space:nowrap;min-width:0}
.value{font-variant-numeric:tabular-nums;font-weight:600;white-space:nowrap}
.track{height:8px;background:var(--track);border-radius:4px;margin:4px 0 2px;overflow:hidden}
.bar{height:100%;border-radius:4px}
.detail,.more{color:var(--muted);font-size:12px;margin:0}
.donut-wrap{display:flex;gap:18px;align-items:center}
.donut{width:160px;flex:none}
.ring-bg{stroke:var(--track)}
.donut-total{font-size:13.5px;font-weight:650;fill:var(--ink)}
.donut-legend{list-style:none;margin:0;padding:0;flex:1;min-width:0}
.donut-legend li{display:grid;grid-template-columns:16px minmax(0,1fr) auto 38px;gap:6px;
align-items:center;padding:4px 0;border-bottom:1px solid var(--line)}
.donut-legend .name{overflow-wrap:break-word;min-width:0;line-height:1.25}
.donut-legend small{display:block;color:var(--muted);font-size:11.5px}
.donut-legend li:last-child{border-bottom:0}
.share{color:var(--muted);text-align:right;font-variant-numeric:tabular-nums}
.statuses{list-style:none;margin:0 0 8px;padding:0}
.statuses li{padding:6px 0;border-bottom:1px solid var(--line)}
.statuses b{margin:0 6px}
.pill{display:inline-block;border-radius:999px;padding:1px 9px;font-size:12px;font-weight:600}
.pill.bad{background:#fee2e2;color:#991b1b}.pill.neutral{background:var(--track);color:var(--muted)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th{color:var(--muted);font-weight:600;text-align:left;border-bottom:1px solid var(--line);
padding:6px 8px}
td{padding:6px 8px;border-bottom:1px solid var(--line);vertical-align:top}
tbody tr:hover{background:var(--track)}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.empty{color:var(--muted)}
footer{color:var(--muted);font-size:12.5px;margin-top:18px}
code{font-size:12px}
@media (max-width:800px){.kpis{grid-template-columns:1fr 1fr}
.grid,.grid.wide-left{grid-template-columns:1fr}}
"""
