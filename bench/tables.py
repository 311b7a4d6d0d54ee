"""The printed report: one Markdown table per scenario, then the targets of issue 6."""

from __future__ import annotations

import math
from typing import Any

from bench.report import fmt, ratio, table

_TARGETS = ("direct", "bare", "ours")
_COLUMNS = ("", "direct", "bare", "ours", "ours/bare", "ours/direct")


def _row(label: str, values: dict[str, float], digits: int = 2) -> list[str]:
    cells = [label, *(fmt(values.get(t, math.nan), digits) for t in _TARGETS)]
    ours, bare, direct = values.get("ours", math.nan), values["bare"], values["direct"]
    return [*cells, fmt(ratio(ours, bare)), fmt(ratio(ours, direct))]


def _pick(section: dict[str, dict[str, float]], key: str) -> dict[str, float]:
    return {name: section[name][key] for name in _TARGETS if name in section}


def _machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    libs = ", ".join(f"{k} {v}" for k, v in m["libraries"].items())
    cpus = results["cpus"]
    load = (
        f"load average {m['load_before'][0]:.2f} before, {m['load_after'][0]:.2f} after "
        "(anything above ~0.1 before the run is other work sharing the cores)"
    )
    return (
        f"Machine: {m['cpu']}, {m['cores']} cores ({m['usable_cores']} usable); {m['python']}; "
        f"{m['platform']}\nLibraries: {libs}\n"
        f"Mode: {results['mode']}; proxies pinned to CPU {cpus['proxy']}, load generator, "
        f"fake upstream and sink on CPU {cpus['load']}; {results['plan']['rounds']} rounds, "
        f"medians of rounds; {load}."
    )


def _latency(results: dict[str, Any]) -> str:
    section = results["latency"]
    added = {
        "p50": {n: section[n]["added_p50_ms"] for n in ("bare", "ours")},
        "p99": {n: section[n]["added_p99_ms"] for n in ("bare", "ours")},
    }
    rows = [
        _row("p50 (ms)", _pick(section, "p50_ms"), 3),
        _row("p99 (ms)", _pick(section, "p99_ms"), 3),
    ]
    for q in ("p50", "p99"):
        values = added[q]
        rows.append(
            [
                f"added {q} over direct (ms)",
                "-",
                fmt(values["bare"], 3),
                fmt(values["ours"], 3),
                fmt(ratio(values["ours"], values["bare"])),
                "-",
            ]
        )
    return "### Latency, c=1, JSON chat completion\n\n" + table(_COLUMNS, rows)


def _throughput(results: dict[str, Any]) -> str:
    plan = results["plan"]
    sections = [(f"c={c}", results[f"throughput_{c}"]) for c in plan["concurrencies"]]
    sections.append((f"streams c={plan['stream_concurrency']}", results["stream_throughput"]))
    rows = []
    for label, section in sections:
        rows.append(_row(f"{label} req/s", _pick(section, "rps"), 0))
        rows.append(_row(f"{label} p50 (ms)", _pick(section, "p50_ms")))
        rows.append(_row(f"{label} p99 (ms)", _pick(section, "p99_ms")))
        rows.append(_row(f"{label} CPU µs/request", _pick(section, "cpu_us"), 0))
    return (
        "### Throughput, one proxy worker pinned to one core\n\n"
        "JSON chat completions; streams are 10 chunks written at once. CPU µs/request is the "
        "serving process's CPU time (the fake upstream's for direct) over the requests it "
        "answered: the figure least disturbed by other load on the machine.\n\n"
        + table(_COLUMNS, rows)
    )


def _streaming(results: dict[str, Any]) -> str:
    section, plan = results["streaming"], results["plan"]
    labels = (
        ("ttfb_p50_ms", "first byte p50 (ms)"),
        ("ttfb_p99_ms", "first byte p99 (ms)"),
        ("total_p50_ms", "whole stream p50 (ms)"),
        ("total_p99_ms", "whole stream p99 (ms)"),
        ("chunk_p50_ms", "chunk delay p50 (ms)"),
        ("chunk_p99_ms", "chunk delay p99 (ms)"),
        ("chunk_max_ms", "chunk delay max (ms)"),
    )
    rows = [_row(label, _pick(section, key), 3) for key, label in labels]
    for key, label in (
        ("ttfb_p50", "first byte"),
        ("chunk_p50", "chunk delay p50"),
        ("chunk_p99", "chunk delay p99"),
    ):
        bare, ours = section["bare"][f"added_{key}_ms"], section["ours"][f"added_{key}_ms"]
        rows.append(
            [f"added {label} (ms)", "-", fmt(bare, 3), fmt(ours, 3), fmt(ratio(ours, bare)), "-"]
        )
    title = (
        f"### Streaming, c=1: {plan['stream_events']} chunks {plan['stream_gap_ms']:g} ms apart "
        "(chunk delay: upstream write to client read)"
    )
    return f"{title}\n\n" + table(_COLUMNS, rows)


def _memory(results: dict[str, Any]) -> str:
    section = results["memory"]
    bare, ours = section["bare"], section["ours"]
    first = bare["checkpoints"][0][0]
    rows = [
        ["idle (MB)", fmt(bare["idle_mb"], 1), fmt(ours["idle_mb"], 1)],
        [f"after {first:,} requests (MB)", fmt(bare["first_mb"], 1), fmt(ours["first_mb"], 1)],
        [
            f"after {ours['requests']:,} requests (MB)",
            fmt(bare["after_mb"], 1),
            fmt(ours["after_mb"], 1),
        ],
        ["growth, first to last (MB)", fmt(bare["growth_mb"], 1), fmt(ours["growth_mb"], 1)],
        ["errors", str(bare["errors"]), str(ours["errors"])],
    ]
    return "### RSS per worker (10% of requests streamed)\n\n" + table(("", "bare", "ours"), rows)


def _spans(results: dict[str, Any]) -> str:
    s = results["spans"]
    rows = [
        ["requests sent", f"{s['sent']:,}"],
        ["answered 200", f"{s['ok']:,}"],
        ["spans exported to the sink", f"{s['exported']:,}"],
        ["spans lost", f"{s['lost']:,}"],
        ["latency p50 / p99 (ms)", f"{fmt(s['p50_ms'], 3)} / {fmt(s['p99_ms'], 3)}"],
        ["load generator's worst lag (ms)", fmt(s["max_lag_ms"], 1)],
    ]
    title = f"### Spans at a fixed {s['rate']:,} req/s for {s['seconds']:g} s (our proxy)"
    return f"{title}\n\n" + table(("", ""), rows)


def _workers(results: dict[str, Any]) -> str:
    w = results["workers"]
    rows = [
        ["1 worker, pinned to one core", fmt(w["one_rps"], 0), "1.00", fmt(w["one_cpu_us"], 0)],
        [
            "2 workers (`--workers 2`), both cores",
            fmt(w["two_rps"], 0),
            fmt(ratio(w["two_rps"], w["one_rps"])),
            fmt(w["two_cpu_us"], 0),
        ],
    ]
    title = f"### Scale-out: req/s at c={w['concurrency']} (the load generator shares the cores)"
    return f"{title}\n\n" + table(("", "req/s", "vs 1 worker", "CPU µs/request"), rows)


def _sdk(results: dict[str, Any]) -> str:
    s = results["sdk"]

    def cpu(name: str) -> str:
        value = s.get(f"cpu_added_{name}_us")
        return "-" if value is None else fmt(value, 1)

    rows = [
        ["`with section(...)`: enter + exit (mean)", fmt(s["section_us"], 1), "-", "-"],
        ["through our proxy, unpatched, by base URL", fmt(s["unpatched_proxy_us"], 1), "-", "-"],
        [
            "through our proxy, patched (proxy mode)",
            fmt(s["patched_proxy_us"], 1),
            fmt(s["added_proxy_us"], 1),
            cpu("proxy"),
        ],
        ["to the fake upstream, unpatched", fmt(s["unpatched_us"], 1), "-", "-"],
        [
            "to the fake upstream, patched, metered in-process (direct mode)",
            fmt(s["patched_metered_us"], 1),
            fmt(s["added_metered_us"], 1),
            cpu("metered"),
        ],
        [
            "to the fake upstream, patched, host not metered",
            fmt(s["patched_not_metered_us"], 1),
            fmt(s["added_not_metered_us"], 1),
            cpu("not_metered"),
        ],
    ]
    note = (
        "Added µs: p50 patched minus p50 unpatched, within a round. Through the proxy that "
        "difference carries the proxy's own run-to-run spread (tens of µs either way); the CPU "
        "column - the same call against an in-memory pool that answers at once, all threads "
        "counted - is the SDK's cost alone."
    )
    header = ("", "µs", "added µs", "CPU µs added")
    return "### SDK: one httpx2 POST, p50 (µs)\n\n" + table(header, rows) + "\n\n" + note


def _sdk_added(sdk: dict[str, Any], name: str) -> str:
    wall = f"{fmt(sdk[f'added_{name}_us'], 1)} µs p50"
    cpu = sdk.get(f"cpu_added_{name}_us")
    return wall if cpu is None else f"{wall}, {fmt(cpu, 1)} µs CPU"


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, met) for each target of issue 6."""
    lat = results["latency"]
    ours_lat, bare_lat = lat["ours"], lat["bare"]
    rates = [results[f"throughput_{c}"] for c in results["plan"]["concurrencies"]]
    worst_rps = min(r["ours"]["rps"] for r in rates)
    worst_share = min(ratio(r["ours"]["rps"], r["bare"]["rps"]) for r in rates)
    stream = results["streaming"]["ours"]
    gap = results["plan"]["stream_gap_ms"]
    memory = results["memory"]["ours"]
    spans = results["spans"]
    sdk = results["sdk"]
    workers = results["workers"]
    p50_share = ratio(ours_lat["added_p50_ms"], bare_lat["added_p50_ms"])
    p99_share = ratio(ours_lat["added_p99_ms"], bare_lat["added_p99_ms"])
    return [
        (
            "added latency c=1 p50 ≤ 0.7 ms",
            f"{fmt(ours_lat['added_p50_ms'], 3)} ms",
            ours_lat["added_p50_ms"] <= 0.7,
        ),
        (
            "added latency c=1 p99 ≤ 2 ms",
            f"{fmt(ours_lat['added_p99_ms'], 3)} ms",
            ours_lat["added_p99_ms"] <= 2.0,
        ),
        (
            "added latency ≤ 1.5x bare's (p50, p99)",
            f"{fmt(p50_share)}x, {fmt(p99_share)}x",
            p50_share <= 1.5 and p99_share <= 1.5,
        ),
        (
            "≥ 1,500 req/s per worker (worst concurrency)",
            f"{fmt(worst_rps, 0)} req/s",
            worst_rps >= 1500,
        ),
        ("≥ 0.6x bare's req/s (worst concurrency)", f"{fmt(worst_share)}x", worst_share >= 0.6),
        (
            "streaming first byte adds ≤ 1 ms p50",
            f"{fmt(stream['added_ttfb_p50_ms'], 3)} ms",
            stream["added_ttfb_p50_ms"] <= 1.0,
        ),
        (
            # A proxy that held chunks back would delay most of them by about one gap.
            f"chunks never held back (added chunk delay p50 < half the {gap:g} ms gap)",
            f"{fmt(stream['added_chunk_p50_ms'], 3)} ms "
            f"(p99 {fmt(stream['added_chunk_p99_ms'], 3)})",
            stream["added_chunk_p50_ms"] < gap / 2,
        ),
        ("≤ 80 MB RSS per worker", f"{fmt(memory['after_mb'], 1)} MB", memory["after_mb"] <= 80),
        (
            "RSS flat across the run (growth ≤ 2 MB)",
            f"{fmt(memory['growth_mb'], 1)} MB",
            memory["growth_mb"] <= 2.0,
        ),
        (
            f"0 spans lost at {spans['rate']:,} req/s for {spans['seconds']:g} s",
            f"{spans['lost']:,} lost of {spans['sent']:,}",
            spans["lost"] == 0,
        ),
        (
            "SDK patched call adds ≤ 0.2 ms (proxy mode)",
            _sdk_added(sdk, "proxy"),
            max(sdk["added_proxy_us"], sdk.get("cpu_added_proxy_us", 0.0)) <= 200,
        ),
        (
            "SDK patched call adds ≤ 0.2 ms (direct mode, metered in-process)",
            _sdk_added(sdk, "metered"),
            max(sdk["added_metered_us"], sdk.get("cpu_added_metered_us", 0.0)) <= 200,
        ),
        (
            "2 workers beat 1",
            f"{fmt(ratio(workers['two_rps'], workers['one_rps']))}x",
            workers["two_rps"] > workers["one_rps"],
        ),
    ]


def _targets(results: dict[str, Any]) -> str:
    rows = [
        [name, measured, "met" if met else "**missed**"] for name, measured, met in targets(results)
    ]
    return "### Targets (issue 6)\n\n" + table(("target", "measured", ""), rows)


def render(results: dict[str, Any]) -> str:
    parts = [
        _machine(results),
        _latency(results),
        _throughput(results),
        _streaming(results),
        _memory(results),
        _spans(results),
        _workers(results),
        _sdk(results),
        _targets(results),
    ]
    return "\n\n".join(parts) + "\n"
