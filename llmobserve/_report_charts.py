"""The HTML report's charts, drawn here as inline SVG and plain HTML: nothing is fetched.

- `time_chart`: cost over time, one stacked column per time bucket, one colour per series;
- `ranked_bars`: a ranked list with proportional bars (top customers, top sections);
- `donut`: shares of a whole (cost by model), with its legend.

Every label comes from span attributes, which any caller of the proxy can set: all text is
escaped. Amounts are `Decimal`; SVG geometry uses floats only for drawing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from html import escape

PALETTE = (
    "#4f46e5",
    "#0ea5e9",
    "#10b981",
    "#f59e0b",
    "#ef4444",
    "#a855f7",
    "#14b8a6",
    "#f97316",
)
OTHER_COLOUR = "#94a3b8"
_BUCKET_SECONDS = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
    86400, 172800, 604800,
)  # fmt: skip
_MAX_BUCKETS = 48


def colour(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def short_money(amount: Decimal) -> str:
    """For labels: whole cents from a cent up (`$1,234.50`, `$0.70`); below a cent the exact
    amount (`$0.00001775`), since those are the ones a reader checks against a price."""
    if amount == 0:
        return "$0"
    if amount >= Decimal("0.01"):
        return f"${amount:,.2f}"
    exponent = amount.normalize().as_tuple().exponent
    places = min(12, -exponent) if isinstance(exponent, int) else 12
    return f"${amount:.{places}f}"


@dataclass(frozen=True)
class Bucket:
    start: float
    """Seconds since the epoch (UTC)."""
    values: Mapping[str, Decimal]


def bucket_size(first: float, last: float) -> int:
    """The smallest round bucket size (seconds) that gives at most 48 buckets."""
    for size in _BUCKET_SECONDS:
        if (last - first) / size < _MAX_BUCKETS:
            return size
    return _BUCKET_SECONDS[-1]


def buckets(points: Sequence[tuple[float, str, Decimal]]) -> tuple[list[Bucket], int]:
    """Sum (time, series, amount) points into round, contiguous time buckets."""
    if not points:
        return [], 1
    first = min(p[0] for p in points)
    last = max(p[0] for p in points)
    size = bucket_size(first, last)
    start = math.floor(first / size) * size
    count = math.floor((last - start) / size) + 1
    sums: list[dict[str, Decimal]] = [{} for _ in range(count)]
    for moment, series, amount in points:
        slot = sums[min(count - 1, math.floor((moment - start) / size))]
        slot[series] = slot.get(series, Decimal(0)) + amount
    return [Bucket(start + i * size, values) for i, values in enumerate(sums)], size


def _tick_label(moment: float, size: int, span: float) -> str:
    when = datetime.fromtimestamp(moment, UTC)
    if span >= 2 * 86400:
        return when.strftime("%b %d %H:%M") if size < 86400 else when.strftime("%b %d")
    return when.strftime("%H:%M:%S") if size < 60 else when.strftime("%H:%M")


def _nice_step(maximum: float, ticks: int = 4) -> float:
    raw = maximum / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    for factor in (1.0, 2.0, 2.5, 5.0):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10.0 * magnitude


def time_chart(series: Sequence[str], points: Sequence[tuple[float, str, Decimal]]) -> str:
    """Stacked columns of cost per time bucket; `series` in legend order."""
    slots, size = buckets(points)
    if not slots:
        return '<p class="empty">No priced calls in this range.</p>'
    width, height, left, bottom, top = 960, 280, 72, 34, 12
    plot_w, plot_h = width - left - 12, height - bottom - top
    peak = max(float(sum(b.values.values(), Decimal(0))) for b in slots) or 1.0
    step = _nice_step(peak)
    ceiling = step * math.ceil(peak / step)
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Cost over time, {len(slots)} buckets of {size} seconds">'
    ]
    for i in range(round(ceiling / step) + 1):
        y = top + plot_h - plot_h * (i * step) / ceiling
        label = short_money(Decimal(repr(round(i * step, 12))).normalize())
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(f'<text class="axis" x="{left - 8}" y="{y + 4:.1f}" text-anchor="end">')
        parts.append(f"{escape(label)}</text>")
    slot_w = plot_w / len(slots)
    bar_w = max(2.0, min(slot_w * 0.72, 64.0))
    label_every = max(1, math.ceil(len(slots) / 8))
    span = slots[-1].start - slots[0].start
    for index, slot in enumerate(slots):
        x = left + index * slot_w + (slot_w - bar_w) / 2
        y = top + plot_h
        for position, name in enumerate(series):
            amount = slot.values.get(name)
            if not amount:
                continue
            h = plot_h * float(amount) / ceiling
            y -= h
            when = datetime.fromtimestamp(slot.start, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w:.1f}" height="{max(h, 0.5):.1f}" '
                f'rx="2" fill="{_series_colour(position, name)}"><title>'
                f"{escape(name)}: {escape(short_money(amount))} ({when}, {size}s bucket)"
                "</title></rect>"
            )
        if index % label_every == 0:
            cx = left + index * slot_w + slot_w / 2
            parts.append(
                f'<text class="axis" x="{cx:.1f}" y="{height - 10}" text-anchor="middle">'
                f"{escape(_tick_label(slot.start, size, span))}</text>"
            )
    parts.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{_series_colour(i, name)}"></i>{escape(name)}</span>'
        for i, name in enumerate(series)
    )
    return f'<div class="legend">{legend}</div>' + "".join(parts)


def _series_colour(position: int, name: str) -> str:
    return OTHER_COLOUR if name == "other" else colour(position)


def ranked_bars(
    rows: Sequence[tuple[str, Decimal, str]],
    *,
    limit: int = 10,
    colours: Callable[[int], str] = lambda _: PALETTE[0],
) -> str:
    """A ranked list of (label, amount, detail), bars proportional to the largest amount;
    `colours(rank)` paints each bar (one colour by default)."""
    if not rows:
        return '<p class="empty">Nothing to show.</p>'
    peak = max(amount for _, amount, _ in rows) or Decimal(1)
    items = []
    for index, (label, amount, detail) in enumerate(rows[:limit]):
        share = float(amount / peak) * 100 if peak else 0.0
        fill = colours(index)
        items.append(
            '<li><div class="row">'
            f'<span class="label" title="{escape(label)}">{escape(label)}</span>'
            f'<span class="value">{escape(short_money(amount))}</span></div>'
            f'<div class="track"><div class="bar" style="width:{max(share, 0.6):.2f}%;'
            f'background:{fill}"></div></div>'
            f'<div class="detail">{escape(detail)}</div></li>'
        )
    more = len(rows) - limit
    tail = f'<p class="more">and {more} more in the table below</p>' if more > 0 else ""
    return f'<ol class="ranked">{"".join(items)}</ol>{tail}'


def donut(rows: Sequence[tuple[str, str, Decimal]], *, limit: int = 6) -> str:
    """Shares of the total as a ring: (label, sub-label, amount) rows, the largest `limit`
    named and the rest as `other`."""
    total = sum((amount for _, _, amount in rows), Decimal(0))
    if not rows or total <= 0:
        return '<p class="empty">No priced calls.</p>'
    shown = list(rows[:limit])
    rest = sum((amount for _, _, amount in rows[limit:]), Decimal(0))
    if rest > 0:
        shown.append(("other", f"{len(rows) - limit} more", rest))
    radius, stroke = 70.0, 28.0
    circumference = 2 * math.pi * radius
    offset = 0.0
    rings, legend = [], []
    for index, (label, sub, amount) in enumerate(shown):
        fraction = float(amount / total)
        length = circumference * fraction
        fill = _series_colour(index, label)
        rings.append(
            f'<circle r="{radius}" cx="100" cy="100" fill="none" stroke="{fill}" '
            f'stroke-width="{stroke}" stroke-dasharray="{length:.3f} {circumference:.3f}" '
            f'stroke-dashoffset="{-offset:.3f}" transform="rotate(-90 100 100)">'
            f"<title>{escape(label)}: {escape(short_money(amount))} ({fraction:.1%})</title>"
            "</circle>"
        )
        offset += length
        legend.append(
            f'<li><i style="background:{fill}"></i><span class="name">{escape(label)}'
            f"<small>{escape(sub)}</small></span>"
            f'<span class="value">{escape(short_money(amount))}</span>'
            f'<span class="share">{_percent(fraction)}</span></li>'
        )
    svg = (
        '<svg class="donut" viewBox="0 0 200 200" role="img" aria-label="Cost by model">'
        f'<circle r="{radius}" cx="100" cy="100" fill="none" class="ring-bg" '
        f'stroke-width="{stroke}"/>{"".join(rings)}'
        f'<text x="100" y="96" text-anchor="middle" class="donut-total">'
        f"{escape(short_money(total))}</text>"
        '<text x="100" y="116" text-anchor="middle" class="axis">total</text></svg>'
    )
    return f'<div class="donut-wrap">{svg}<ul class="donut-legend">{"".join(legend)}</ul></div>'


def _percent(fraction: float) -> str:
    return "<1%" if 0 < fraction < 0.005 else f"{fraction:.0%}"
