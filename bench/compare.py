"""`python -m bench.compare [--baseline DIR]`: CPU per request of our proxy, A/B, in one sitting.

For work on the proxy's hot path: the full benchmark takes minutes and its req/s move with
whatever else the shared machine runs, while the serving process's CPU time per request
hardly does. This starts the fake upstream and the sink on the load core, then the bare
pass-through, our proxy from this tree and - with `--baseline` - our proxy from another
checkout (`git archive HEAD | tar -x -C DIR`) on the proxy core - with `--minimal`, also the
pass-through on a minimal upstream client (`bench.minimal`) - and interleaves rounds of JSON at
c=64, streams at c=64 and JSON at c=1 over them.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import uvloop

from bench import load
from bench.load import Target, chat_request
from bench.processes import (
    Service,
    ServiceGroup,
    clean_environment,
    free_port,
    pin_current_thread,
    pinned,
)
from bench.report import median, ms, percentile
from bench.run import proxy_environment, start_side_by_side
from bench.scenarios import BURST_QUERY, rotated


class _Checkout(Service):
    """`python -m proxy.cli` run from another directory (the `before` of an A/B)."""

    def __init__(self, name: str, root: Path, port: int, cpus: Sequence[int], env: dict[str, str]):
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self._ready_path = "/health"
        self.log_path = Path(f"/tmp/bench-{name}-{port}.log")
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "proxy.cli", "--port", str(port), "--workers", "1"],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=root,
                preexec_fn=pinned(cpus),  # noqa: PLW1509 - the benchmark starts no threads
            )


async def _measure(
    services: dict[str, Service], targets: list[Target], rounds: int, seconds: float
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, list[float]]] = {t.name: {} for t in targets}
    for index in range(rounds):
        for target in rotated(targets, index):
            service = services[target.name]
            for label, concurrency, stream in (("json64", 64, False), ("stream64", 64, True)):
                query = BURST_QUERY if stream else ""
                request = chat_request(target, tag=label, stream=stream, query=query)
                cpu = service.cpu_seconds()
                result = await load.closed_loop(
                    target.port, request, concurrency=concurrency, seconds=seconds, warmup=0.3
                )
                await asyncio.sleep(0.05)
                cpu_us = (service.cpu_seconds() - cpu) * 1e6 / max(result.answered, 1)
                results[target.name].setdefault(f"{label}_cpu_us", []).append(cpu_us)
                results[target.name].setdefault(f"{label}_rps", []).append(result.rate)
            single = await load.closed_loop(
                target.port, chat_request(target, tag="c1"), concurrency=1, seconds=seconds
            )
            times = ms(s.ended - s.started for s in single.samples)
            results[target.name].setdefault("c1_p50_ms", []).append(percentile(times, 0.5))
            results[target.name].setdefault("c1_p99_ms", []).append(percentile(times, 0.99))
    return {name: {k: median(v) for k, v in values.items()} for name, values in results.items()}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--baseline", type=Path, help="another checkout to run as `before`")
    parser.add_argument(
        "--minimal", action="store_true", help="also the pass-through on a minimal client"
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args(argv)
    with ServiceGroup() as group:
        started = start_side_by_side(group)
        proxy_cpus, load_cpus = started.proxy_cpus, started.load_cpus
        bare, ours = started.bare_port, started.ours_port
        path = "/openai/v1/chat/completions"
        targets = [Target("bare", bare, path), Target("ours", ours, path)]
        if args.minimal:
            port = free_port()
            upstream = started.upstream.url
            command = ["-m", "bench.minimal", "--port", str(port), "--upstream", upstream]
            group.start(Service("minimal", command, port, cpus=proxy_cpus))
            targets.append(Target("minimal", port, path))
        if args.baseline is not None:
            before = free_port()
            group.start(
                _Checkout(
                    "before",
                    args.baseline,
                    before,
                    proxy_cpus,
                    clean_environment(proxy_environment(started.upstream.url, started.sink.url)),
                )
            )
            targets.append(Target("before", before, path))
        for service in group.services:
            service.wait_ready()
        services = {s.name: s for s in group.services}
        pin_current_thread(load_cpus)
        results = uvloop.run(_measure(services, targets, args.rounds, args.seconds))
    keys = sorted(next(iter(results.values())))
    print(f"{'':10}" + "".join(f"{k:>16}" for k in keys))
    for name, values in results.items():
        print(f"{name:10}" + "".join(f"{values[k]:16.3f}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
