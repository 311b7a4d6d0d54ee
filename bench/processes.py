"""The benchmark's process tree: start servers pinned to cores, wait for them, read their RSS."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

_LOG_DIR = Path(tempfile.mkdtemp(prefix="llmobserve-bench-"))
ROOT = Path(__file__).resolve().parents[1]
"""The repository: children run `python -m bench.*` and `python -m proxy.cli` from here."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cores() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def pin_current_thread(cpus: Sequence[int]) -> None:
    """Pin the calling thread (the load generator's event loop) to `cpus`."""
    os.sched_setaffinity(0, set(cpus))


def pinned(cpus: Sequence[int] | None) -> Callable[[], None]:
    """A `preexec_fn` pinning the child (and so every thread it starts) to `cpus`."""
    affinity = set(cpus or ())

    def pin() -> None:
        if affinity:
            os.sched_setaffinity(0, affinity)

    return pin


def clean_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The parent's environment without any OTEL_* / LLMOBSERVE_* setting, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "LLMOBSERVE_"))}
    env.update(extra)
    return env


class Service:
    """One child process serving HTTP on `port`, optionally pinned to `cpus`."""

    def __init__(
        self,
        name: str,
        args: Sequence[str],
        port: int,
        *,
        cpus: Sequence[int] | None = None,
        env: Mapping[str, str] | None = None,
        ready_path: str | None = None,
    ) -> None:
        self.name = name
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = _LOG_DIR / f"{name}.log"
        self._ready_path = ready_path
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_environment(env or {}),
                cwd=ROOT,
                preexec_fn=pinned(cpus),  # noqa: PLW1509 - the benchmark starts no threads
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            if self._answers():
                return
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not start in {timeout} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        try:
            if self._ready_path is None:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                connection.request("GET", self._ready_path)
                return connection.getresponse().status < 500
            finally:
                connection.close()
        except OSError:
            return False

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the process itself, or its workers."""
        children = _children(self.process.pid)
        workers = [pid for pid in children if _is_python(pid) and not _is_helper(pid)]
        return workers or [self.process.pid]

    def rss_mb(self) -> list[float]:
        """Resident set size of each serving process, in MB."""
        return [_rss_kb(pid) / 1024 for pid in self.worker_pids()]

    def cpu_seconds(self) -> float:
        """User and system CPU time of the serving processes so far."""
        return sum(_cpu_seconds(pid) for pid in self.worker_pids())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _is_python(pid: int) -> bool:
    try:
        return "python" in Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return False


def _is_helper(pid: int) -> bool:
    """multiprocessing's resource tracker is a child too; it serves nothing."""
    try:
        return b"resource_tracker" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def _cpu_seconds(pid: int) -> float:
    # /proc/<pid>/stat fields 14 and 15 (utime, stime), after the command name's ")".
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ServiceGroup:
    """Starts services together; stops every one of them, whatever happens."""

    def __init__(self) -> None:
        self.services: list[Service] = []

    def start(self, service: Service) -> Service:
        self.services.append(service)
        return service

    def __enter__(self) -> ServiceGroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for service in reversed(self.services):
            service.stop()
