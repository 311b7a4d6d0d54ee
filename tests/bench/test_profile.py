"""`bench.profile` sorts py-spy's samples into components and our functions."""

from __future__ import annotations

from bench.profile import ROOT, component, summarise

_CLI = f"main ({ROOT}/proxy/cli.py:48)"
_HANDLER = f"ProxyHandler.__call__ ({ROOT}/proxy/handler.py:186)"
_PRICE = f"price ({ROOT}/pricing/_quote.py:67)"
_AIOHTTP = "ClientSession._request (/venv/lib/python3.11/site-packages/aiohttp/client.py:900)"
_LOOP = "Runner.run (/usr/lib/python3.11/asyncio/runners.py:118)"


def test_component_reads_the_frames_file():
    assert component(_HANDLER) == "ours"
    assert component(_PRICE) == "ours"
    assert component(_AIOHTTP) == "aiohttp (upstream client)"
    assert component(_LOOP) == "event loop (C)"
    assert component(_CLI) == "other"  # the entry point holds every sample: not ours


def test_summarise_shares_by_thread_component_and_inclusive_function():
    raw = "\n".join(
        [
            f"thread (1): MainThread;{_CLI};{_LOOP} 50",
            f"thread (1): MainThread;{_CLI};{_LOOP};{_HANDLER};{_AIOHTTP} 30",
            f"thread (1): MainThread;{_CLI};{_LOOP};{_HANDLER};{_PRICE} 20",
            "thread (2): export;_bootstrap (/usr/lib/python3.11/threading.py:995) 1",
            "garbage line",
        ]
    )
    text = summarise(raw, top=5)
    assert "## thread (1): MainThread: 99% of all samples" in text
    assert "| event loop (C) | 50.0% |" in text
    assert "| aiohttp (upstream client) | 30.0% |" in text
    assert "| ours | 20.0% |" in text
    assert "| `ProxyHandler.__call__` | 50.0% |" in text
    assert "| `price` | 20.0% |" in text
    assert "thread (2)" not in text  # under 1 % of the samples: left out
