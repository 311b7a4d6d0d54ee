"""The scenarios. Each returns plain data (medians of rounds); `bench.run` prints it.

Rounds interleave the targets (direct, bare, ours), rotating their order every round, so a
slow minute of the machine hits all of them alike; differences over direct are taken within
a round, then the median over rounds is reported.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import load
from bench.load import Target, chat_request
from bench.processes import ROOT, Service, clean_environment, pin_current_thread, pinned
from bench.report import median, ms, percentile

T = TypeVar("T")
STREAM_QUERY = "events={events}&gap_ms={gap}"
BURST_QUERY = "events=10&gap_ms=0"  # streams as fast as the upstream can write them


@dataclass(frozen=True)
class Plan:
    """How long and how much; `--quick` and `--smoke` are smaller plans."""

    rounds: int = 5
    warmup_seconds: float = 1.0
    latency_seconds: float = 2.0
    throughput_seconds: float = 5.0
    concurrencies: tuple[int, ...] = (64, 256)
    stream_concurrency: int = 64
    stream_count: int = 200
    stream_events: int = 10
    stream_gap_ms: float = 2.0
    rss_requests: int = 100_000
    rss_checkpoints: int = 10
    spans_rate: int = 1000
    spans_seconds: float = 60.0
    workers_concurrency: int = 128
    workers_seconds: float = 5.0
    sdk_iterations: int = 2000
    sdk_rounds: int = 5


FULL = Plan()
QUICK = Plan(
    rounds=3,
    warmup_seconds=0.5,
    latency_seconds=1.0,
    throughput_seconds=2.0,
    stream_count=60,
    rss_requests=20_000,
    rss_checkpoints=4,
    spans_seconds=10.0,
    workers_seconds=2.0,
    sdk_iterations=500,
    sdk_rounds=3,
)
SMOKE = Plan(
    rounds=1,
    warmup_seconds=0.1,
    latency_seconds=0.2,
    throughput_seconds=0.3,
    concurrencies=(8,),
    stream_concurrency=8,
    stream_count=3,
    stream_events=3,
    rss_requests=400,
    rss_checkpoints=2,
    spans_rate=100,
    spans_seconds=1.0,
    workers_concurrency=8,
    workers_seconds=0.3,
    sdk_iterations=20,
    sdk_rounds=1,
)


@dataclass
class Rig:
    plan: Plan
    targets: list[Target]
    """direct, bare, ours - in that order."""
    services: dict[str, Service]
    load_cpus: list[int]
    all_cpus: list[int]
    idle_rss: dict[str, float] = field(default_factory=dict)
    serving: dict[str, Service] = field(default_factory=dict)
    """Target name -> the process that answers it (direct: the fake upstream)."""

    def target(self, name: str) -> Target:
        return next(t for t in self.targets if t.name == name)


def rotated(items: Sequence[T], round_index: int) -> list[T]:
    shift = round_index % len(items)
    return [*items[shift:], *items[:shift]]


async def warm_up(rig: Rig) -> None:
    for target in rig.targets:
        request = chat_request(target, tag="warmup")
        await load.closed_loop(
            target.port, request, concurrency=16, seconds=rig.plan.warmup_seconds
        )
        stream = chat_request(target, tag="warmup", stream=True, query=BURST_QUERY)
        await load.closed_loop(target.port, stream, concurrency=4, seconds=rig.plan.warmup_seconds)


async def latency(rig: Rig) -> dict[str, dict[str, float]]:
    """c=1, JSON: p50/p99 per target, and what each proxy adds over direct."""
    rounds: dict[str, list[tuple[float, float]]] = {t.name: [] for t in rig.targets}
    errors = dict.fromkeys(rounds, 0)
    for index in range(rig.plan.rounds):
        for target in rotated(rig.targets, index):
            result = await load.closed_loop(
                target.port,
                chat_request(target, tag="latency"),
                concurrency=1,
                seconds=rig.plan.latency_seconds,
            )
            times = ms(s.ended - s.started for s in result.samples)
            rounds[target.name].append((percentile(times, 0.5), percentile(times, 0.99)))
            errors[target.name] += result.errors
    direct = rounds["direct"]
    out: dict[str, dict[str, float]] = {}
    for name, values in rounds.items():
        out[name] = {
            "p50_ms": median(v[0] for v in values),
            "p99_ms": median(v[1] for v in values),
            "added_p50_ms": median(v[0] - d[0] for v, d in zip(values, direct, strict=True)),
            "added_p99_ms": median(v[1] - d[1] for v, d in zip(values, direct, strict=True)),
            "errors": errors[name],
        }
    return out


async def throughput(
    rig: Rig,
    concurrency: int,
    targets: Sequence[Target] | None = None,
    seconds: float = 0.0,
    *,
    stream: bool = False,
) -> dict[str, dict[str, float]]:
    """Closed loop at `concurrency` (JSON, or streams of 10 chunks written at once): requests
    per second, latency under load, and the serving process's CPU time per request - the
    figure least disturbed by anything else running on the machine."""
    targets = list(targets or rig.targets)
    rounds: dict[str, list[tuple[float, float, float, float]]] = {t.name: [] for t in targets}
    errors = dict.fromkeys(rounds, 0)
    tag = f"{'stream' if stream else 'throughput'}-{concurrency}"
    for index in range(rig.plan.rounds):
        for target in rotated(targets, index):
            service = rig.serving[target.name]
            request = chat_request(target, tag=tag, stream=stream, query=BURST_QUERY)
            cpu = service.cpu_seconds()
            result = await load.closed_loop(
                target.port,
                request if stream else chat_request(target, tag=tag),
                concurrency=concurrency,
                seconds=seconds or rig.plan.throughput_seconds,
                warmup=0.3,
            )
            await asyncio.sleep(0.05)  # the last answers' bookkeeping (span end, metrics)
            cpu_us = (service.cpu_seconds() - cpu) * 1e6 / max(result.answered, 1)
            values = ms(s.ended - s.started for s in result.samples)
            rounds[target.name].append(
                (result.rate, percentile(values, 0.5), percentile(values, 0.99), cpu_us)
            )
            errors[target.name] += result.errors
    return {
        name: {
            "rps": median(v[0] for v in values),
            "p50_ms": median(v[1] for v in values),
            "p99_ms": median(v[2] for v in values),
            "cpu_us": median(v[3] for v in values),
            "errors": errors[name],
        }
        for name, values in rounds.items()
    }


async def streaming(rig: Rig) -> dict[str, dict[str, float]]:
    """c=1 streams of `stream_events` chunks `stream_gap_ms` apart: first byte, total, and
    the delay of every chunk (a proxy holding chunks back adds a gap to it)."""
    plan = rig.plan
    query = STREAM_QUERY.format(events=plan.stream_events, gap=plan.stream_gap_ms)
    keys = ("ttfb_p50", "ttfb_p99", "total_p50", "total_p99", "chunk_p50", "chunk_p99", "chunk_max")
    rounds: dict[str, list[dict[str, float]]] = {t.name: [] for t in rig.targets}
    for index in range(plan.rounds):
        for target in rotated(rig.targets, index):
            request = chat_request(target, tag="streaming", stream=True, query=query)
            samples = await load.streams(target.port, request, count=plan.stream_count)
            ttfb = ms(s.first_byte - s.started for s in samples)
            total = ms(s.ended - s.started for s in samples)
            delays = ms(d for s in samples for d in s.event_delays)
            if len(delays) != plan.stream_events * len(samples):
                raise RuntimeError(f"{target.name}: {len(delays)} stamped chunks arrived")
            stats = (
                percentile(ttfb, 0.5),
                percentile(ttfb, 0.99),
                percentile(total, 0.5),
                percentile(total, 0.99),
                percentile(delays, 0.5),
                percentile(delays, 0.99),
                max(delays),
            )
            rounds[target.name].append(dict(zip(keys, stats, strict=True)))
    direct = rounds["direct"]
    out: dict[str, dict[str, float]] = {}
    for name, values in rounds.items():
        summary = {f"{k}_ms": median(v[k] for v in values) for k in keys}
        for key in ("ttfb_p50", "total_p50", "chunk_p50", "chunk_p99"):
            summary[f"added_{key}_ms"] = median(
                v[key] - d[key] for v, d in zip(values, direct, strict=True)
            )
        out[name] = summary
    return out


async def memory(rig: Rig) -> dict[str, dict[str, Any]]:
    """RSS at idle, then after every 1/`rss_checkpoints` of `rss_requests` (10% streams)."""
    plan = rig.plan
    step = plan.rss_requests // plan.rss_checkpoints
    out: dict[str, dict[str, Any]] = {}
    for name in ("bare", "ours"):
        target, service = rig.target(name), rig.services[name]
        json_request = chat_request(target, tag="memory")
        stream_request = chat_request(target, tag="memory", stream=True, query=BURST_QUERY)
        checkpoints: list[tuple[int, float]] = []
        errors = 0
        for index in range(1, plan.rss_checkpoints + 1):
            errors += await load.count_loop(
                target.port, json_request, concurrency=64, count=step - step // 10
            )
            errors += await load.count_loop(
                target.port, stream_request, concurrency=16, count=step // 10
            )
            checkpoints.append((index * step, service.rss_mb()[0]))
        out[name] = {
            "idle_mb": rig.idle_rss[name],
            "checkpoints": checkpoints,
            "first_mb": checkpoints[0][1],
            "after_mb": checkpoints[-1][1],
            "growth_mb": checkpoints[-1][1] - checkpoints[0][1],
            "requests": plan.rss_requests,
            "errors": errors,
        }
    return out


def sink_counts(sink: Service) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=10)
    try:
        connection.request("GET", "/counts")
        document: dict[str, Any] = json.loads(connection.getresponse().read())
        return document
    finally:
        connection.close()


async def spans(rig: Rig) -> dict[str, float]:
    """Open loop at `spans_rate` req/s on our proxy; then count the spans the sink received."""
    plan = rig.plan
    target = rig.target("ours")
    tag = f"spans-{time.time_ns()}"
    result = await load.fixed_rate(
        target.port, chat_request(target, tag=tag), rate=plan.spans_rate, seconds=plan.spans_seconds
    )
    # The batch processor exports every 5 s (OTEL_BSP_SCHEDULE_DELAY) or per 512 spans.
    deadline = time.monotonic() + 30
    exported = 0
    while time.monotonic() < deadline:
        exported = int(sink_counts(rig.services["sink"])["spans"].get(tag, 0))
        if exported >= result.sent:
            break
        await asyncio.sleep(0.5)
    values = ms(s.ended - s.started for s in result.samples)
    return {
        "rate": plan.spans_rate,
        "seconds": plan.spans_seconds,
        "sent": result.sent,
        "ok": result.ok,
        "errors": result.errors,
        "exported": exported,
        "lost": result.sent - exported,
        "max_lag_ms": result.max_lag_ms,
        "p50_ms": percentile(values, 0.5),
        "p99_ms": percentile(values, 0.99),
    }


async def workers(rig: Rig, two_workers: Service) -> dict[str, float]:
    """`--workers 2` on all cores against one worker pinned to one core (same load)."""
    one = rig.target("ours")
    two = Target("ours-2-workers", two_workers.port, one.path)
    rig.serving[two.name] = two_workers
    pin_current_thread(rig.all_cpus)  # the load generator shares the cores with the workers
    try:
        result = await throughput(
            rig, rig.plan.workers_concurrency, [one, two], seconds=rig.plan.workers_seconds
        )
    finally:
        pin_current_thread(rig.load_cpus)
    return {
        "concurrency": rig.plan.workers_concurrency,
        "one_rps": result[one.name]["rps"],
        "two_rps": result[two.name]["rps"],
        "one_cpu_us": result[one.name]["cpu_us"],
        "two_cpu_us": result[two.name]["cpu_us"],
        "two_rss_mb": max(two_workers.rss_mb()),
        "errors": result[one.name]["errors"] + result[two.name]["errors"],
    }


def sdk(rig: Rig, cpus: Sequence[int]) -> dict[str, float]:
    """The SDK micro-benchmarks, in a process of their own (see `bench.sdk`)."""
    plan = rig.plan
    command = [
        sys.executable,
        "-m",
        "bench.sdk",
        "--upstream-port",
        str(rig.services["upstream"].port),
        "--sink-port",
        str(rig.services["sink"].port),
        "--proxy-port",
        str(rig.services["ours"].port),
        "--iterations",
        str(plan.sdk_iterations),
        "--rounds",
        str(plan.sdk_rounds),
    ]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        cwd=ROOT,
        env=clean_environment({}),
        preexec_fn=pinned(cpus),
    )
    if completed.returncode != 0:
        raise RuntimeError(f"bench.sdk failed:\n{completed.stderr[-3000:]}")
    document: dict[str, float] = json.loads(completed.stdout.strip().splitlines()[-1])
    return document
