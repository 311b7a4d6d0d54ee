"""Fixtures: the simulator in-process, behind raw httpx2 and the real OpenAI/Anthropic SDKs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import httpx2
import openai
import pytest

from llmobserve.simulator import ASGIApp, create_app

BASE_URL = "http://simulator"


@pytest.fixture
def app() -> ASGIApp:
    return create_app()


def _transport(app: ASGIApp) -> httpx2.ASGITransport:
    return httpx2.ASGITransport(app=app)


@pytest.fixture
async def client(app: ASGIApp) -> AsyncIterator[httpx2.AsyncClient]:
    async with httpx2.AsyncClient(transport=_transport(app), base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def openai_client(app: ASGIApp) -> AsyncIterator[openai.AsyncOpenAI]:
    http = httpx2.AsyncClient(transport=_transport(app))
    sdk = openai.AsyncOpenAI(
        api_key="sk-simulator", base_url=f"{BASE_URL}/v1", http_client=http, max_retries=0
    )
    async with sdk:
        yield sdk


@pytest.fixture
async def anthropic_client(app: ASGIApp) -> AsyncIterator[anthropic.AsyncAnthropic]:
    http = httpx2.AsyncClient(transport=_transport(app))
    sdk = anthropic.AsyncAnthropic(
        api_key="sk-ant-simulator", base_url=BASE_URL, http_client=http, max_retries=0
    )
    async with sdk:
        yield sdk
