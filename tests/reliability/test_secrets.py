"""API keys never leave the proxy except to their provider: a scan of everything it emits.

Calls carry every kind of credential the providers use (bearer tokens, `x-api-key`, `api-key`,
`x-goog-api-key`, `?key=`, AWS SigV4 headers and presigned queries, session tokens), through
successes, upstream errors, timeouts, resets and refusals. Then the spans (as exported), the
metrics (as read), every log record at DEBUG and every body the proxy wrote itself are searched
for each secret.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

import httpx
import pytest

from proxy.protocol import TARGET_URL_HEADER
from tests.reliability.conftest import (
    ANTHROPIC_BODY,
    OPENAI_BODY,
    Exchange,
    RawUpstream,
    answer_openai_json,
    anthropic_events,
    closed_port,
    stall,
)

SECRETS = {
    "openai": "sk-proj-SECRETopenai0001",
    "anthropic": "sk-ant-SECRETanthropic0002",
    "azure": "SECRETazure0003",
    "goog_header": "AIzaSECRETgoogheader0004",
    "goog_query": "AIzaSECRETgoogquery0005",
    "aws_key_id": "AKIASECRETKEYID0006",
    "aws_signature": "5ec7e75ec7e75ec7e75ec7e7aws0007",
    "aws_session": "SECRETsessiontoken0008",
    "presigned_signature": "5ec7e7presigned0009",
    "presigned_credential": "AKIASECRETPRESIGN0010",
}
S = SECRETS
AWS_AUTHORIZATION = (
    f"AWS4-HMAC-SHA256 Credential={S['aws_key_id']}/20250101/us-east-1/bedrock/aws4_request, "
    f"SignedHeaders=host;x-amz-date, Signature={S['aws_signature']}"
)


async def reset_mid_stream(exchange: Exchange) -> None:
    await exchange.read_request()
    await exchange.start_stream()
    await exchange.send_chunk(anthropic_events()[0])
    await asyncio.sleep(0.05)
    exchange.reset()


async def error_document(exchange: Exchange) -> None:
    await exchange.read_request()
    await exchange.send_json(
        {"error": {"type": "invalid_request_error", "message": "bad key"}}, "401 Unauthorized"
    )


def calls(proxy_url: str) -> list[httpx.Response]:
    """Every kind of credential, on every path through the proxy."""
    p = proxy_url
    bearer = {"Authorization": f"Bearer {S['openai']}"}
    aws = {
        "Authorization": AWS_AUTHORIZATION,
        "X-Amz-Security-Token": S["aws_session"],
        "X-Amz-Date": "20250101T000000Z",
    }
    presigned = (
        f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={S['presigned_credential']}%2F2025"
        f"&X-Amz-Signature={S['presigned_signature']}&X-Amz-Security-Token={S['aws_session']}"
    )
    gemini = "/gemini/v1beta/models/gemini-2.0-flash:generateContent"
    responses = [
        httpx.post(f"{p}/openai/v1/chat/completions", json=OPENAI_BODY, headers=bearer),
        httpx.post(
            f"{p}/anthropic/v1/messages", json=ANTHROPIC_BODY, headers={"x-api-key": S["anthropic"]}
        ),
        httpx.post(
            f"{p}/v1/chat/completions?api-version=2024-10-21",
            json=OPENAI_BODY,
            headers={
                TARGET_URL_HEADER: "https://res.openai.azure.com/openai/deployments/d/chat/"
                "completions?api-version=2024-10-21",
                "api-key": S["azure"],
            },
        ),
        httpx.post(f"{p}{gemini}", json={}, headers={"x-goog-api-key": S["goog_header"]}),
        httpx.post(f"{p}{gemini}?key={S['goog_query']}", json={}),
        httpx.post(
            f"{p}/bedrock/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
            json={"messages": []},
            headers=aws,
        ),
        httpx.post(
            f"{p}/bedrock/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke?{presigned}",
            json={"messages": []},
        ),
        # Refusals the proxy answers itself, the secrets in the request all the same.
        httpx.post(
            f"{p}/v1/x?key={S['goog_query']}",
            headers={
                TARGET_URL_HEADER: f"https://evil.example.com/v1/x?key={S['goog_query']}",
                **bearer,
            },
        ),
        httpx.post(
            f"{p}/v1/x",
            headers={TARGET_URL_HEADER: f"https://api.openai.com/v1/ x?key={S['goog_query']}"},
        ),
        httpx.post(f"{p}/nowhere/v1?key={S['goog_query']}", headers=bearer),
        httpx.post(f"{p}/openai/v1/chat/completions", content=b"x" * 5000, headers=bearer),  # 413
    ]
    return responses


@pytest.fixture
def uvicorn_logs(caplog):
    """Call once the servers run (uvicorn resets its loggers when configured): their records,
    which do not propagate to the root logger, then reach caplog too, at DEBUG."""
    uvicorn = logging.getLogger("uvicorn")

    def capture() -> None:
        uvicorn.addHandler(caplog.handler)
        uvicorn.setLevel(logging.DEBUG)

    yield capture
    uvicorn.removeHandler(caplog.handler)


def test_no_secret_reaches_spans_metrics_logs_or_error_bodies(run_proxy, caplog, uvicorn_logs):
    caplog.set_level(logging.DEBUG)
    with (
        RawUpstream(answer_openai_json) as fine,
        RawUpstream(error_document) as refusing,
        RawUpstream(stall) as silent,
        RawUpstream(reset_mid_stream) as resetting,
    ):
        proxy = run_proxy(
            upstream_overrides={
                "api.openai.com": fine.url,
                "api.anthropic.com": refusing.url,
                "res.openai.azure.com": fine.url,
                "generativelanguage.googleapis.com": silent.url,
                "bedrock-runtime.us-east-1.amazonaws.com": f"http://127.0.0.1:{closed_port()}",
            },
            upstream_timeout=0.3,
            max_request_bytes=4096,
        )
        # A stream reset mid-way (the proxy aborts the client connection and logs why).
        stream = run_proxy(upstream_overrides={"api.anthropic.com": resetting.url})
        uvicorn_logs()
        responses = calls(proxy.url)
        with contextlib.suppress(httpx.HTTPError):
            httpx.post(
                f"{stream.url}/anthropic/v1/messages",
                json=ANTHROPIC_BODY,
                headers={"x-api-key": S["anthropic"], "Authorization": f"Bearer {S['openai']}"},
            )
        # Forwarded as they came: the provider is the one place the keys go.
        assert any(S["openai"].encode() in r for r in fine.requests)
        assert any(S["goog_query"].encode() in r for r in silent.requests)
        spans = [*proxy.spans(7), *stream.spans(1)]
    statuses = [r.status_code for r in responses]
    # openai ok, anthropic 401 from upstream, azure ok, gemini 504 twice, bedrock 502 twice,
    # then the proxy's own refusals: 403 (host), 400 (URL), 404 (prefix), 413 (size).
    assert statuses == [200, 401, 200, 504, 504, 502, 502, 403, 400, 404, 413]
    emitted = {
        "spans": json.dumps([json.loads(s.to_json()) for s in spans]),
        "metrics": proxy.metrics.get_metrics_data().to_json()
        + stream.metrics.get_metrics_data().to_json(),
        # Everything logged in this process but by the test's own HTTP client (httpx logs the
        # URLs it requests, `?key=` included: that is the client's log, not the proxy's).
        "logs": "\n".join(
            caplog.handler.format(r)
            for r in caplog.records
            if not r.name.startswith(("httpx", "httpcore"))
        ),
        "proxy bodies": "\n".join(
            r.text for r in responses if r.headers.get("content-type") == "application/json"
        ),
    }
    assert len(spans) >= 8
    assert "failed mid-response" in emitted["logs"]  # the proxy's own logs were captured
    for where, text in emitted.items():
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} found in {where}"
