"""`python -m llmobserve.simulator`: the runner, started as a real process on a real socket."""

from __future__ import annotations

import itertools
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx2
import openai
import pytest

from llmobserve.simulator import SCENARIO_HEADER
from llmobserve.simulator.__main__ import main

REPO_ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "Hello"}]


def test_main_help_says_it_is_a_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "SIMULATOR" in out
    assert "NOT a provider" in out
    assert "--port" in out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def simulator_url() -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llmobserve.simulator",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                if httpx2.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                _, stderr = process.communicate(timeout=5)
                pytest.fail(f"simulator did not start: {stderr.decode(errors='replace')}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.communicate(timeout=10)


@pytest.mark.integration
def test_main_serves_openai_sdk_stream_over_socket(simulator_url: str) -> None:
    with openai.OpenAI(
        api_key="sk-simulator",
        base_url=f"{simulator_url}/v1",
        http_client=httpx2.Client(),
        max_retries=0,
    ) as client:
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=HELLO,
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(stream)

    usage = chunks[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 7, 19)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
        "Hello! How can I help you today?"
    )


@pytest.mark.integration
def test_main_slow_stream_reaches_client_incrementally(simulator_url: str) -> None:
    arrivals = []
    with (
        anthropic.Anthropic(
            api_key="sk-ant-simulator",
            base_url=simulator_url,
            http_client=httpx2.Client(),
            max_retries=0,
        ) as client,
        client.messages.stream(
            model="claude-3-haiku-20240307",
            max_tokens=64,
            messages=HELLO,
            extra_headers={SCENARIO_HEADER: "slow_stream"},
        ) as stream,
    ):
        for _ in stream.text_stream:
            arrivals.append(time.monotonic())
        message = stream.get_final_message()

    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 7)
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert len(gaps) == 6
    assert min(gaps) >= 0.03  # 50 ms apart on the wire, so the stream was not buffered


@pytest.mark.integration
def test_main_gzips_json_on_the_wire(simulator_url: str) -> None:
    with (
        httpx2.Client(base_url=simulator_url) as client,
        client.stream(
            "POST",
            "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": HELLO},
            headers={"authorization": "Bearer sk-simulator", "accept-encoding": "gzip"},
        ) as response,
    ):
        raw = b"".join(response.iter_raw())

    assert response.headers["content-encoding"] == "gzip"
    assert response.headers["x-llmobserve-simulator"] == "1"
    assert raw[:2] == b"\x1f\x8b"
