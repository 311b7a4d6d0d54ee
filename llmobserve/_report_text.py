"""Plain-text cost tables: the tree, by customer, by section path, by model, unpriced calls.

Shared by `llmobserve demo`, `llmobserve report` and the console exporter. Amounts are
printed exactly: every amount in one report gets as many decimal places as the most precise
of them needs (at least 2, at most 12), so the decimal points line up and nothing is rounded
away from the prices the proxy computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

from llmobserve._costtree import MAY_BE_BILLED, Call, Node, Records, Totals, build_tree, group

MAX_PLACES = 12
_LABEL_WIDTH = (28, 64)


def money_places(amounts: Iterable[Decimal]) -> int:
    """Decimal places that show every amount exactly (2..12)."""
    places = 2
    for amount in amounts:
        exponent = amount.normalize().as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return min(places, MAX_PLACES)


def money(amount: Decimal, places: int) -> str:
    return f"${amount:,.{places}f}"


def places_for(records: Records) -> int:
    amounts = [c.cost for c in records.calls if c.cost is not None]
    return money_places([*amounts, *(s.cost for s in records.sections)])


def plural(count: int, word: str) -> str:
    return f"{count:,} {word}" + ("" if count == 1 else "s")


def _tokens(value: int, known: bool = True) -> str:
    return f"{value:,}" if known else "-"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Columns sized to their content, aligned by `align` (`l` or `r` per column)."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    lines = []
    for row in (header, *rows):
        cells = [
            cell.ljust(widths[i]) if align[i] == "l" else cell.rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


_COLUMNS = ["calls", "input", "cached", "output", "cost (USD)", ""]
_ALIGN = "rrrrrl"


def _clip(label: str) -> str:
    limit = _LABEL_WIDTH[1]
    return label if len(label) <= limit else label[: limit - 1] + "…"


def _totals_cells(totals: Totals, places: int, *, count: bool = True) -> list[str]:
    """calls, input, cached, output, cost, and how many calls have no price."""
    known = totals.tokens_known
    all_unpriced = totals.calls and totals.unpriced == totals.calls
    return [
        f"{totals.calls:,}" if count else "",
        _tokens(totals.input_tokens, known),
        _tokens(totals.cache_read_tokens, known),
        _tokens(totals.output_tokens, known),
        "-" if all_unpriced else money(totals.cost, places),
        f"+{totals.unpriced} unpriced" if totals.unpriced else "",
    ]


def render_tree(records: Records, *, show_calls: bool = True, places: int | None = None) -> str:
    """customer -> section -> (calls), with calls, tokens and cost on every node, and the total.

    Node amounts include everything below them; a call that could not be priced shows its
    status and reason instead of an amount and is counted as `+N unpriced`, never as $0.
    """
    places = places_for(records) if places is None else places
    roots = build_tree(records)
    header = ["", *_COLUMNS]
    rows: list[list[str]] = []
    notes: dict[int, str] = {}
    grand = Totals()
    for root in roots:
        totals = root.totals()
        grand.merge(totals)
        rows.append([f"customer {root.label}", *_totals_cells(totals, places)])
        _tree_rows(root, "", rows=rows, notes=notes, places=places, show_calls=show_calls)
    rows.append(["TOTAL", *_totals_cells(grand, places)])
    lines = _table(header, rows, "l" + _ALIGN)
    out = [lines[0]]
    for index, line in enumerate(lines[1:]):
        if index == len(rows) - 1:
            out.append("─" * len(lines[0].rstrip() or "x"))
        out.append(line)
        if index in notes:
            out.append(notes[index])
    return "\n".join(out)


def _tree_rows(
    node: Node,
    prefix: str,
    *,
    rows: list[list[str]],
    notes: dict[int, str],
    places: int,
    show_calls: bool,
) -> None:
    items: list[Node | Call] = list(node.children.values())
    if show_calls:
        items = sorted([*node.calls, *items], key=_first_ns)
    for index, item in enumerate(items):
        last = index == len(items) - 1
        branch = prefix + ("└─ " if last else "├─ ")
        below = prefix + ("   " if last else "│  ")
        if isinstance(item, Call):
            label = _clip(f"{branch}{item.name}")
            single = Totals()
            single.add(item)
            cells = _totals_cells(single, places, count=False)
            if item.cost is None:
                if not (item.input_tokens or item.output_tokens):
                    cells[1:4] = ["", "", ""]  # no usage at all, e.g. a 429
                cells[5] = "unpriced"
                notes[len(rows)] = f"{below}   ↳ {item.why_unpriced}"
            rows.append([label, *cells])
            continue
        rows.append([_clip(f"{branch}{item.label}"), *_totals_cells(item.totals(), places)])
        _tree_rows(item, below, rows=rows, notes=notes, places=places, show_calls=show_calls)


def _first_ns(item: Node | Call) -> int:
    if isinstance(item, Call):
        return item.start_ns
    starts = [c.start_ns for c in item.calls] + [s.start_ns for s in item.rollups]
    starts += [_first_ns(child) for child in item.children.values()]
    return min((s for s in starts if s), default=0)


def render_by_model(calls: Sequence[Call], places: int) -> str:
    groups = group(calls, lambda c: (c.provider, c.model))
    rows = [
        [provider, model, *_totals_cells(totals, places)]
        for (provider, model), totals in groups.items()
    ]
    return "\n".join(_table(["provider", "model", *_COLUMNS], rows, "ll" + _ALIGN))


def render_by_customer(calls: Sequence[Call], places: int) -> str:
    groups = group(calls, lambda c: c.customer or "(no customer)")
    rows = [[name, *_totals_cells(totals, places)] for name, totals in groups.items()]
    return "\n".join(_table(["customer", *_COLUMNS], rows, "l" + _ALIGN))


def render_by_section(calls: Sequence[Call], places: int) -> str:
    """Cost by the section path the calls were made in (each call counted once)."""
    groups = group(calls, lambda c: c.section_path or "(no section)")
    rows = [[_clip(path), *_totals_cells(totals, places)] for path, totals in groups.items()]
    return "\n".join(_table(["section path", *_COLUMNS], rows, "l" + _ALIGN))


def render_unpriced(calls: Sequence[Call]) -> str:
    """Every call without a price, with its status and reason; empty when there is none."""
    unpriced = [c for c in calls if c.cost is None]
    if not unpriced:
        return ""
    billed = sum(1 for c in unpriced if c.status in MAY_BE_BILLED)
    lines = [
        f"{len(unpriced)} call(s) without a price, not in the totals above"
        + (f" ({billed} may have been billed by the provider)" if billed else "")
    ]
    rows = [
        [
            call.customer or "(no customer)",
            _clip(call.section_path or "(no section)"),
            call.name,
            call.why_unpriced,
        ]
        for call in unpriced
    ]
    lines += ["  " + line for line in _table(["customer", "section", "call", "why"], rows, "llll")]
    return "\n".join(lines)
