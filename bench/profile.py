"""`python -m bench.profile [--concurrency 64] [--seconds 20] [--stream]`: where our proxy's
CPU goes, by component and by function.

Starts the benchmark's processes as `python -m bench` does (fake upstream and sink on the load
core, our proxy pinned to the proxy core), drives our proxy with the same load generator and
samples its worker with py-spy (`--nonblocking`: the proxy is not paused, ~1,000 samples a
second, every thread). Prints, per thread, the share of samples by the component whose code
was running (the innermost frame's file), then the functions with the largest inclusive
share. Time in C code that py-spy cannot see (uvloop's loop and its syscalls) shows as the
innermost Python frame that called it, `Runner.run`: "event loop (C)".

py-spy needs ptrace rights over the proxy (root, or `kernel.yama.ptrace_scope=0`).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import uvloop

from bench import load
from bench.load import Target, chat_request
from bench.processes import ServiceGroup, pin_current_thread
from bench.run import start_side_by_side
from bench.scenarios import BURST_QUERY

ROOT = Path(__file__).resolve().parents[1]
_OURS = tuple(f"{ROOT / package}/" for package in ("proxy", "pricing", "semconv", "llmobserve"))
_ENTRY = f"{ROOT / 'proxy' / 'cli.py'}:"  # `llmobserve-proxy` itself: every sample is under it
# (component, what a frame's file path contains), first match wins.
_COMPONENTS = (
    ("aiohttp (upstream client)", "/aiohttp/"),
    ("uvicorn (HTTP server)", "/uvicorn/"),
    ("OpenTelemetry SDK/API", "/opentelemetry/"),
    ("json", "/json/"),
    ("asyncio", "/asyncio/"),
    ("threading", "/threading.py"),
)
_LOOP = "event loop (C)"


def component(frame: str) -> str:
    """The component of one py-spy frame, `function (path:line)`."""
    name, _, location = frame.partition(" (")
    path = location.rsplit(":", 1)[0]
    if path.startswith(_OURS) and not location.startswith(_ENTRY):
        return "ours"
    if name == "Runner.run" or "uvloop" in path:
        return _LOOP
    return next((label for label, marker in _COMPONENTS if marker in path), "other")


def summarise(raw: str, top: int) -> str:
    """The tables for py-spy's `--format raw --threads` output."""
    by_thread: dict[str, list[tuple[list[str], int]]] = {}
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        by_thread.setdefault(frames[0], []).append((frames[1:], int(count)))
    total = sum(n for samples in by_thread.values() for _, n in samples) or 1
    out: list[str] = []
    for thread, samples in sorted(by_thread.items(), key=lambda item: -sum(n for _, n in item[1])):
        count = sum(n for _, n in samples)
        if count < total * 0.01:
            continue
        components: Counter[str] = Counter()
        inclusive: Counter[str] = Counter()
        for frames, n in samples:
            components[component(frames[-1]) if frames else "other"] += n
            for name in {f.partition(" (")[0] for f in frames if component(f) == "ours"}:
                inclusive[name] += n
        out.append(f"## {thread}: {count / total:.0%} of all samples\n")
        out.append("| component (innermost frame) | share of the thread |\n|---|---|")
        out += [f"| {name} | {n / count:.1%} |" for name, n in components.most_common()]
        out.append("\n| our function (inclusive) | share of the thread |\n|---|---|")
        out += [f"| `{name}` | {n / count:.1%} |" for name, n in inclusive.most_common(top)]
        out.append("")
    return "\n".join(out)


async def _drive(port: int, request: bytes, concurrency: int, seconds: float, spy: list[str]):
    await load.closed_loop(port, request, concurrency=concurrency, seconds=2.0)  # warm up
    process = await asyncio.create_subprocess_exec(
        *spy, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    result = await load.closed_loop(port, request, concurrency=concurrency, seconds=seconds + 1)
    _, errors = await process.communicate()
    if process.returncode:
        raise SystemExit(f"py-spy failed: {errors.decode(errors='replace')[-2000:]}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--stream", action="store_true", help="streams instead of JSON")
    parser.add_argument("--top", type=int, default=25, help="functions listed per thread")
    args = parser.parse_args(argv)
    spy_binary = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or shutil.which(
        "py-spy"
    )
    if spy_binary is None:
        parser.error("py-spy is not installed (it is in the dev environment: make)")
    with tempfile.TemporaryDirectory() as scratch, ServiceGroup() as group:
        started = start_side_by_side(group)
        for service in group.services:
            service.wait_ready()
        ours = next(s for s in group.services if s.name == "ours")
        worker = ours.worker_pids()[0]
        raw_path = Path(scratch) / "profile.raw"
        spy = [
            spy_binary, "record", "--pid", str(worker), "--rate", "1000", "--nonblocking",
            "--threads", "--full-filenames", "--format", "raw", "--output", str(raw_path),
            "--duration", str(args.seconds),
        ]  # fmt: skip
        target = Target("ours", started.ours_port, "/openai/v1/chat/completions")
        query = BURST_QUERY if args.stream else ""
        request = chat_request(target, tag="profile", stream=args.stream, query=query)
        pin_current_thread(started.load_cpus)
        result = uvloop.run(_drive(started.ours_port, request, args.concurrency, args.seconds, spy))
        kind = "streams" if args.stream else "JSON"
        print(
            f"# Our proxy, {kind} at c={args.concurrency}, {args.seconds} s: "
            f"{result.rate:,.0f} req/s while sampled\n"
        )
        print(summarise(raw_path.read_text(), args.top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
