"""`python -m bench [--quick] [--smoke] [--json PATH]`: the whole benchmark, one process tree.

Starts, on loopback: the fast fake upstream and the span sink (on the load generator's
core), the bare pass-through and our proxy (`llmobserve-proxy`, one worker, tracing on,
exporting OTLP to the sink) pinned to the first core; the load generator runs in this
process, pinned to the other core(s). Then runs the scenarios and prints the tables.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvloop

from bench import scenarios
from bench.load import Target
from bench.processes import Service, ServiceGroup, cores, free_port, pin_current_thread
from bench.report import machine
from bench.scenarios import FULL, QUICK, SMOKE, Plan, Rig
from bench.tables import render


def _plan(args: argparse.Namespace) -> Plan:
    if args.smoke:
        return SMOKE
    return QUICK if args.quick else FULL


@dataclass(frozen=True)
class SideBySide:
    """The processes every comparison needs, started but not yet ready."""

    upstream: Service
    sink: Service
    bare_port: int
    ours_port: int
    proxy_cpus: list[int]
    load_cpus: list[int]


def start_side_by_side(group: ServiceGroup) -> SideBySide:
    """The fake upstream and the sink on the load core(s); the bare pass-through and our proxy
    (one worker, tracing on, exporting to the sink) on the first core."""
    all_cpus = cores()
    proxy_cpus = all_cpus[:1]
    load_cpus = all_cpus[1:] or all_cpus
    upstream_port, sink_port = free_port(), free_port()
    upstream = group.start(
        Service(
            "upstream",
            ["-m", "bench.upstream", "--port", str(upstream_port)],
            upstream_port,
            cpus=load_cpus,
        )
    )
    sink = group.start(
        Service("sink", ["-m", "bench.sink", "--port", str(sink_port)], sink_port, cpus=load_cpus)
    )
    bare_port, ours_port = free_port(), free_port()
    group.start(
        Service(
            "bare",
            ["-m", "bench.bare", "--port", str(bare_port), "--upstream", upstream.url],
            bare_port,
            cpus=proxy_cpus,
        )
    )
    group.start(
        Service(
            "ours",
            ["-m", "proxy.cli", "--port", str(ours_port), "--workers", "1"],
            ours_port,
            cpus=proxy_cpus,
            env=proxy_environment(upstream.url, sink.url),
            ready_path="/health",
        )
    )
    return SideBySide(upstream, sink, bare_port, ours_port, proxy_cpus, load_cpus)


def _start(group: ServiceGroup, plan: Plan) -> tuple[Rig, list[int]]:
    started = start_side_by_side(group)
    upstream, upstream_port = started.upstream, started.upstream.port
    bare_port, ours_port = started.bare_port, started.ours_port
    proxy_cpus, load_cpus, all_cpus = started.proxy_cpus, started.load_cpus, cores()
    for service in group.services:
        service.wait_ready()
    rig = Rig(
        plan,
        [
            Target("direct", upstream_port, "/v1/chat/completions"),
            Target("bare", bare_port, "/openai/v1/chat/completions"),
            Target("ours", ours_port, "/openai/v1/chat/completions"),
        ],
        {s.name: s for s in group.services},
        load_cpus,
        all_cpus,
    )
    rig.idle_rss = {name: rig.services[name].rss_mb()[0] for name in ("bare", "ours")}
    rig.serving = {"direct": upstream, "bare": rig.services["bare"], "ours": rig.services["ours"]}
    return rig, proxy_cpus


def proxy_environment(upstream_url: str, sink_url: str) -> dict[str, str]:
    """Our proxy as deployed, but with api.openai.com sent to the fake upstream."""
    return {
        "LLMOBSERVE_UPSTREAM_OVERRIDES": f"api.openai.com={upstream_url}",
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink_url,
    }


async def _run(rig: Rig, group: ServiceGroup) -> dict[str, Any]:
    plan = rig.plan
    results: dict[str, Any] = {}
    step = _progress()
    step("memory (fresh processes, first)")
    results["memory"] = await scenarios.memory(rig)
    step("warm-up")
    await scenarios.warm_up(rig)
    step("latency c=1")
    results["latency"] = await scenarios.latency(rig)
    for concurrency in plan.concurrencies:
        step(f"throughput c={concurrency}")
        results[f"throughput_{concurrency}"] = await scenarios.throughput(rig, concurrency)
    step(f"stream throughput c={plan.stream_concurrency}")
    results["stream_throughput"] = await scenarios.throughput(
        rig, plan.stream_concurrency, stream=True
    )
    step("streaming")
    results["streaming"] = await scenarios.streaming(rig)
    step(f"spans at {plan.spans_rate} req/s for {plan.spans_seconds:g} s")
    results["spans"] = await scenarios.spans(rig)
    step("two workers vs one")
    port = free_port()
    upstream, sink = rig.services["upstream"].url, rig.services["sink"].url
    two = group.start(
        Service(
            "ours-2-workers",
            ["-m", "proxy.cli", "--port", str(port), "--workers", "2"],
            port,
            cpus=rig.all_cpus,
            env=proxy_environment(upstream, sink),
            ready_path="/health",
        )
    )
    two.wait_ready()
    results["workers"] = await scenarios.workers(rig, two)
    two.stop()
    step("SDK micro-benchmarks")
    results["sdk"] = scenarios.sdk(rig, rig.load_cpus)  # our proxy keeps its core
    step("done")
    return results


def _progress() -> Callable[[str], None]:
    started = time.monotonic()

    def step(name: str) -> None:
        print(f"[{time.monotonic() - started:6.1f} s] {name}", file=sys.stderr, flush=True)

    return step


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a short run (under 3 minutes)")
    parser.add_argument("--smoke", action="store_true", help="seconds: proves the suite runs")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    plan = _plan(args)
    info = machine()
    info["load_before"] = os.getloadavg()
    mode = "smoke" if args.smoke else "quick" if args.quick else "full"
    with ServiceGroup() as group:
        rig, proxy_cpus = _start(group, plan)
        pin_current_thread(rig.load_cpus)
        results = uvloop.run(_run(rig, group))
    info["load_after"] = os.getloadavg()
    results["machine"] = info
    results["mode"] = mode
    results["plan"] = plan.__dict__
    results["cpus"] = {"proxy": proxy_cpus, "load": rig.load_cpus}
    print(render(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
