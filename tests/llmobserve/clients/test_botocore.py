"""boto3/botocore: routed at `URLLib3Session.send`; SigV4 signatures still verify upstream.

Each call goes through a real proxy to a fake AWS endpoint that recomputes the signature with
botocore's own signer (see `sigv4.py`) and refuses the call when it does not match.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

import pytest

boto3 = pytest.importorskip("boto3")

import botocore.exceptions  # noqa: E402
import botocore.httpsession  # noqa: E402
import httpx2  # noqa: E402
from botocore.config import Config  # noqa: E402
from opentelemetry.trace import SpanKind  # noqa: E402

import llmobserve  # noqa: E402
from llmobserve._botocore import BotocorePatch  # noqa: E402
from llmobserve._routing import Router  # noqa: E402
from llmobserve._servers import free_port  # noqa: E402
from proxy.protocol import (  # noqa: E402
    COST_HEADER_NAME,
    HEADER_PREFIX,
    ROLLUP_HEADER,
    TARGET_URL_HEADER,
)
from semconv import URL_FULL  # noqa: E402

from .conftest import (  # noqa: E402
    FakeUpstream,
    HangUp,
    Received,
    Reply,
    Route,
    assert_forwarded_verbatim,
    assert_proxy_span_is_child,
    in_section,
    json_reply,
)
from .sigv4 import (  # noqa: E402
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    SESSION_TOKEN,
    SigV4Endpoint,
    verify,
)

BEDROCK = f"bedrock-runtime.{REGION}.amazonaws.com"
POLLY = f"polly.{REGION}.amazonaws.com"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
# Headers that are the connection's or ours: everything else must arrive as the SDK sent it.
_NOT_FORWARDED_AS_IS = {"host", "connection", "traceparent", "baggage", "tracestate"}

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-3-haiku-20240307",
    "content": [{"type": "text", "text": "Hello!"}],
    "stop_reason": "end_turn",
    "usage": {"input_tokens": 12, "output_tokens": 7},
}
CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Hello!"}]}},
    "stopReason": "end_turn",
    "usage": {"inputTokens": 12, "outputTokens": 7, "totalTokens": 19},
    "metrics": {"latencyMs": 120},
}


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fake credentials from the environment; no profile, config file or instance metadata."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK_RUNTIME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/llmobserve-test-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/llmobserve-test-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


_CLIENTS: list[Any] = []


@pytest.fixture(autouse=True)
def close_clients() -> Any:
    """Close every client a test made (their pooled sockets would warn when collected)."""
    yield
    while _CLIENTS:
        _CLIENTS.pop().close()


def aws_client(service: str, **kwargs: Any) -> Any:
    made = boto3.client(service, region_name=REGION, **kwargs)
    _CLIENTS.append(made)
    return made


def aws_reply(request: Received) -> Reply:
    path = request.raw_path
    if path.endswith(b"/invoke"):
        counts = {
            "x-amzn-bedrock-input-token-count": "12",
            "x-amzn-bedrock-output-token-count": "7",
        }
        return json_reply(json.dumps(MESSAGE).encode(), **counts)
    if path.endswith(b"/converse"):
        return json_reply(json.dumps(CONVERSE).encode())
    if path == b"/v1/speech":
        return 200, {"content-type": "audio/mpeg", "x-amzn-requestcharacters": "5"}, b"ID3fake"
    if path == b"/v1/voices":
        return json_reply(b'{"Voices":[{"Id":"Joanna","LanguageCode":"en-US","Name":"Joanna"}]}')
    if path == b"/async-invoke":
        return json_reply(b'{"asyncInvokeSummaries":[]}')
    return 404, {"content-type": "application/json"}, b'{"message":"unknown operation"}'


def assert_signed_and_untouched(routed: Route, endpoint: SigV4Endpoint, host: str) -> Received:
    sent = assert_forwarded_verbatim(routed, host, auth="authorization")
    got = routed.upstream.received[-1]
    verdict = endpoint.verdicts[-1]
    assert verdict.valid
    assert "host" in verdict.signed_headers
    # Propagation and routing headers were added after signing: never signed.
    assert not {"traceparent", "baggage"} & set(verdict.signed_headers)
    assert not [n for n in verdict.signed_headers if n.startswith(HEADER_PREFIX)]
    # Every other header the SDK sent arrives unchanged (the proxy alters nothing signed).
    for name, value in sent.headers:
        lower = name.decode("latin-1").lower()
        if lower in _NOT_FORWARDED_AS_IS or lower.startswith(HEADER_PREFIX):
            continue
        assert value.decode("latin-1") in got.all(lower), lower
    return sent


def bedrock(**config: Any) -> Any:
    return aws_client("bedrock-runtime", config=Config(**config))


@pytest.mark.parametrize("created", ["before_observe", "after_observe"])
def test_bedrock_invoke_model_is_routed_and_its_signature_verifies(created, route, spans):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    if created == "before_observe":
        client = bedrock()
        llmobserve.observe(proxy_url=routed.proxy_url)
    else:
        llmobserve.observe(proxy_url=routed.proxy_url)
        client = bedrock()
    body = json.dumps(
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 100,
            "messages": [{"role": "user", "content": "Hello"}],
        }
    )
    traced = in_section(
        lambda: client.invoke_model(
            modelId=MODEL, body=body, contentType="application/json", accept="application/json"
        )
    )
    response = traced.value
    assert json.loads(response["body"].read()) == MESSAGE
    sent = assert_signed_and_untouched(routed, endpoint, BEDROCK)
    assert sent.header("host") == routed.proxy_url.removeprefix("http://")
    # The model id's colon is percent-encoded in the signed path, and stays so.
    assert sent.raw_path == b"/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    assert sent.body == body.encode()
    assert (
        sent.header(TARGET_URL_HEADER)
        == f"https://{BEDROCK}/model/{MODEL.replace(':', '%3A')}/invoke"
    )
    assert_proxy_span_is_child(routed, BEDROCK, traced, sent, spans)


def test_bedrock_converse_is_routed_and_its_signature_verifies(route, spans):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    client = bedrock()
    traced = in_section(
        lambda: client.converse(
            modelId=MODEL,
            messages=[{"role": "user", "content": [{"text": "Hello"}]}],
            inferenceConfig={"maxTokens": 100},
        )
    )
    assert traced.value["output"] == CONVERSE["output"]
    assert traced.value["usage"] == CONVERSE["usage"]
    sent = assert_signed_and_untouched(routed, endpoint, BEDROCK)
    assert sent.raw_path == b"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"
    assert json.loads(sent.body)["messages"] == [{"role": "user", "content": [{"text": "Hello"}]}]
    assert_proxy_span_is_child(routed, BEDROCK, traced, sent, spans)


def test_polly_synthesize_speech_is_routed_and_its_signature_verifies(route, spans):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([POLLY], endpoint)
    client = aws_client("polly")
    llmobserve.observe(proxy_url=routed.proxy_url)
    traced = in_section(
        lambda: client.synthesize_speech(Text="Hello", OutputFormat="mp3", VoiceId="Joanna")
    )
    assert traced.value["AudioStream"].read() == b"ID3fake"
    assert traced.value["RequestCharacters"] == 5
    sent = assert_signed_and_untouched(routed, endpoint, POLLY)
    assert (sent.method, sent.raw_path) == ("POST", b"/v1/speech")
    assert_proxy_span_is_child(routed, POLLY, traced, sent, spans)


def test_signed_query_strings_arrive_byte_exact(route):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([POLLY, BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    polly = aws_client("polly")
    voices = polly.describe_voices(LanguageCode="en-US", NextToken="a/b+c= d:é")
    assert voices["Voices"][0]["Id"] == "Joanna"
    sent = assert_signed_and_untouched(routed, endpoint, POLLY)
    assert sent.query == b"LanguageCode=en-US&NextToken=a%2Fb%2Bc%3D%20d%3A%C3%A9"
    bedrock().list_async_invokes(maxResults=5, sortBy="SubmissionTime", sortOrder="Descending")
    sent = assert_signed_and_untouched(routed, endpoint, BEDROCK)
    assert sent.query == b"maxResults=5&sortBy=SubmissionTime&sortOrder=Descending"


def test_each_retry_is_signed_afresh_and_routed_again(route):
    attempts: list[Received] = []

    def flaky(request: Received) -> Reply:
        attempts.append(request)
        if len(attempts) == 1:
            error = b'{"message":"try again"}'
            return 500, {"x-amzn-errortype": "InternalServerException"}, error
        return aws_reply(request)

    endpoint = SigV4Endpoint(flaky)
    routed = route([BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    client = bedrock(retries={"mode": "standard", "total_max_attempts": 2})
    client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert [v.valid for v in endpoint.verdicts] == [True, True]
    assert [r.header("amz-sdk-request") for r in routed.inbound] == [
        "attempt=1; max=2",
        "attempt=2; max=2",
    ]
    # Each attempt carries its own span's traceparent, exactly once.
    parents = [r.all("traceparent") for r in routed.inbound]
    assert [len(p) for p in parents] == [1, 1]
    assert parents[0] != parents[1]


def test_proxy_hop_bypasses_the_proxies_botocore_chose(route, offline):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    client = bedrock(proxies={"http": offline, "https": offline})
    client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert endpoint.verdicts[-1].valid


def local_endpoint(provider: FakeUpstream) -> str:
    return provider.url.replace("127.0.0.1", "localhost")


def test_unreachable_proxy_fails_open_with_one_warning(monkeypatch, caplog):
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    endpoint = SigV4Endpoint(aws_reply)
    with FakeUpstream(endpoint) as provider:
        llmobserve.observe(proxy_url=f"http://127.0.0.1:{free_port()}")
        client = aws_client("polly", endpoint_url=local_endpoint(provider))
        with caplog.at_level(logging.WARNING, logger="llmobserve"):
            for _ in range(2):
                speech = client.synthesize_speech(Text="Hi", OutputFormat="mp3", VoiceId="Joanna")
                assert speech["AudioStream"].read() == b"ID3fake"
    assert len([r for r in caplog.records if "unreachable" in r.getMessage()]) == 1
    assert [v.valid for v in endpoint.verdicts] == [True, True]
    assert provider.received[0].header(TARGET_URL_HEADER) is None


def test_request_the_proxy_may_have_forwarded_is_never_retried_direct(monkeypatch):
    monkeypatch.setenv("LLMOBSERVE_ALLOWED_HOSTS", "localhost")
    with FakeUpstream(SigV4Endpoint(aws_reply)) as provider, HangUp() as proxy:
        llmobserve.observe(proxy_url=proxy.url)
        polly = aws_client(
            "polly",
            endpoint_url=local_endpoint(provider),
            config=Config(retries={"total_max_attempts": 1}),
        )
        with pytest.raises(botocore.exceptions.ConnectionClosedError):
            polly.synthesize_speech(Text="Hello", OutputFormat="mp3", VoiceId="Joanna")
    assert proxy.requests == 1
    assert provider.received == []


def test_direct_mode_propagates_after_signing(monkeypatch, spans):
    endpoint = SigV4Endpoint(aws_reply)
    with FakeUpstream(endpoint) as provider:
        client = aws_client("polly", endpoint_url=provider.url)
        llmobserve.observe()
        traced = in_section(lambda: client.describe_voices(LanguageCode="en-US"))
    (request,) = provider.received
    assert endpoint.verdicts[0].valid
    assert request.header("traceparent") is not None
    assert "llmobserve.customer.id=customer-42" in (request.header("baggage") or "")
    (span,) = [s for s in spans.get_finished_spans() if s.kind == SpanKind.CLIENT]
    assert span.context.trace_id == traced.trace_id
    assert span.attributes[URL_FULL] == f"{provider.url}/v1/voices?REDACTED"


def test_the_fake_endpoint_rejects_whatever_changed_after_signing():
    """The oracle itself: a signed request verifies, and any change to what was signed fails."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    path = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    signed = AWSRequest("POST", f"https://{BEDROCK}{path}?a=%2F", data=b'{"x":1}')
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    SigV4Auth(credentials, "bedrock", REGION).add_auth(signed)
    headers = [(k.lower().encode(), str(v).encode()) for k, v in signed.headers.items()]

    def received(raw_path: str = path, query: bytes = b"a=%2F", **changed: bytes) -> Received:
        fields = {b"host": BEDROCK.encode(), **{k.encode(): v for k, v in changed.items()}}
        body = fields.pop(b"body", b'{"x":1}')
        return Received("POST", raw_path.encode(), query, headers + list(fields.items()), [body])

    assert verify(received()).valid
    assert not verify(received(raw_path=path.replace("%3A", ":"))).valid
    assert not verify(received(query=b"a=/")).valid
    assert not verify(received(body=b'{"x":2}')).valid
    assert not verify(received(host=b"bedrock-runtime.us-west-2.amazonaws.com")).valid


def test_shutdown_restores_botocore():
    original = botocore.httpsession.URLLib3Session.send
    llmobserve.observe(proxy_url="http://127.0.0.1:9")
    assert botocore.httpsession.URLLib3Session.send is not original
    llmobserve.shutdown()
    assert botocore.httpsession.URLLib3Session.send is original


def test_patch_is_idempotent_and_removes_cleanly():
    original = botocore.httpsession.URLLib3Session.send
    first, second = BotocorePatch(Router("http://127.0.0.1:9")), BotocorePatch(None)
    first.apply()
    patched = botocore.httpsession.URLLib3Session.send
    second.apply()
    assert botocore.httpsession.URLLib3Session.send is patched
    second.remove()
    assert botocore.httpsession.URLLib3Session.send is patched
    first.remove()
    assert botocore.httpsession.URLLib3Session.send is original


def test_changed_botocore_is_left_alone_with_one_warning(route, monkeypatch, caplog):
    monkeypatch.delattr(botocore.exceptions, "EndpointConnectionError")
    original = botocore.httpsession.URLLib3Session.send
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    with caplog.at_level(logging.WARNING, logger="llmobserve"):
        llmobserve.observe(proxy_url=routed.proxy_url)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "botocore left unpatched" in warnings[0]
    assert botocore.httpsession.URLLib3Session.send is original
    # boto3 still works (unrouted), and the other clients are still routed.
    polly = aws_client("polly", endpoint_url=routed.upstream.url)
    assert polly.describe_voices()["Voices"][0]["Id"] == "Joanna"
    assert routed.upstream.received[-1].header(TARGET_URL_HEADER) is None
    with httpx2.Client() as client:
        client.post(f"https://{BEDROCK}/model/x/converse", content=b"{}")
    assert routed.inbound[-1].header(TARGET_URL_HEADER) == f"https://{BEDROCK}/model/x/converse"


# -- direct mode and section rollup ---------------------------------------------------------

INVOKE_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello"}],
    }
)


def call_spans(spans: Any) -> list[Any]:
    return [
        s for s in spans.get_finished_spans() if "llmobserve.cost.status" in (s.attributes or {})
    ]


def assert_priced_from_the_reply(span: Any, traced: Any, *, host: str = BEDROCK) -> None:
    attrs = span.attributes
    assert span.kind is SpanKind.CLIENT
    assert span.instrumentation_scope.name == "llmobserve.direct"
    assert attrs["server.address"] == host
    assert attrs["llmobserve.customer.id"] == "customer-42"
    assert attrs["llmobserve.section.path"] == traced.section_path
    assert attrs["llmobserve.cost.status"] == "priced"
    # The section adds up exactly the call's cost (the float's shortest repr is exact).
    assert traced.cost == Decimal(repr(attrs["gen_ai.usage.cost"])) > 0


def assert_signed_body_arrived_untouched(endpoint: SigV4Endpoint, got: Received) -> None:
    verdict = endpoint.verdicts[-1]
    assert verdict.valid  # the body (in x-amz-content-sha256) and the Host are the signed ones
    assert not {"traceparent", "baggage"} & set(verdict.signed_headers)
    # The application's own baggage entries pass; the customer id and section path do not.
    assert got.all("baggage") == ["tenant.region=eu"]
    assert not [n for n in got.names() if n.startswith(HEADER_PREFIX)]


@pytest.fixture
def aws_upstream(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A fake AWS endpoint checking SigV4, standing in for Bedrock and Polly (overrides)."""
    endpoint = SigV4Endpoint(aws_reply)
    with FakeUpstream(endpoint) as upstream:
        monkeypatch.setenv(
            "LLMOBSERVE_UPSTREAM_OVERRIDES", f"{BEDROCK}={upstream.url},{POLLY}={upstream.url}"
        )
        yield endpoint, upstream


@pytest.mark.parametrize("created", ["before_observe", "after_observe"])
def test_direct_mode_prices_invoke_model_without_touching_the_signed_body(
    created, aws_upstream, spans
):
    endpoint, upstream = aws_upstream
    if created == "before_observe":
        client = bedrock()
        llmobserve.observe()
    else:
        llmobserve.observe()
        client = bedrock()

    def call() -> Any:
        response = client.invoke_model(modelId=MODEL, body=INVOKE_BODY)
        return json.loads(response["body"].read())  # a streaming body: metered as it is read

    traced = in_section(call, **{"tenant.region": "eu"})
    assert traced.value == MESSAGE
    (got,) = upstream.received
    assert got.header("host") == BEDROCK
    assert got.raw_path == b"/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke"
    assert got.body == INVOKE_BODY.encode()
    assert_signed_body_arrived_untouched(endpoint, got)
    (span,) = call_spans(spans)
    assert span.name == f"chat {MODEL}"
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes[OUTPUT]) == (12, 7)
    assert_priced_from_the_reply(span, traced)


OUTPUT = "gen_ai.usage.output_tokens"


def test_direct_mode_prices_converse_read_inside_botocore(aws_upstream, spans):
    endpoint, upstream = aws_upstream
    llmobserve.observe()
    client = bedrock()
    traced = in_section(
        lambda: client.converse(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello"}]}]
        ),
        **{"tenant.region": "eu"},
    )
    assert traced.value["usage"] == CONVERSE["usage"]
    assert_signed_body_arrived_untouched(endpoint, upstream.received[-1])
    (span,) = call_spans(spans)
    assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes[OUTPUT]) == (12, 7)
    assert_priced_from_the_reply(span, traced)


def test_direct_mode_meters_polly_characters(aws_upstream, spans):
    endpoint, upstream = aws_upstream
    llmobserve.observe()
    polly = aws_client("polly")

    def call() -> Any:
        speech = polly.synthesize_speech(Text="Hello", OutputFormat="mp3", VoiceId="Joanna")
        return speech["AudioStream"].read()

    traced = in_section(call, **{"tenant.region": "eu"})
    assert traced.value == b"ID3fake"
    assert_signed_body_arrived_untouched(endpoint, upstream.received[-1])
    (span,) = call_spans(spans)
    assert span.attributes["llmobserve.usage.characters"] == 5.0
    assert_priced_from_the_reply(span, traced, host=POLLY)


def test_unreachable_proxy_fails_open_and_the_call_is_priced_in_process(aws_upstream, spans):
    endpoint, upstream = aws_upstream
    llmobserve.observe(proxy_url=f"http://127.0.0.1:{free_port()}")
    client = bedrock()
    traced = in_section(
        lambda: client.converse(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello"}]}]
        ),
        **{"tenant.region": "eu"},
    )
    assert traced.value["usage"] == CONVERSE["usage"]
    assert_signed_body_arrived_untouched(endpoint, upstream.received[-1])
    (span,) = call_spans(spans)
    assert_priced_from_the_reply(span, traced)


def test_sections_roll_up_the_cost_the_proxy_reports(route, spans):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    client = bedrock()

    def calls() -> Any:
        invoked = client.invoke_model(modelId=MODEL, body=INVOKE_BODY)
        conversed = client.converse(
            modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hello"}]}]
        )
        return json.loads(invoked["body"].read()), invoked, conversed

    traced = in_section(calls)
    message, invoked, conversed = traced.value
    assert message == MESSAGE
    # The cost report is the SDK's: the application never sees it.
    for response in (invoked, conversed):
        assert COST_HEADER_NAME not in response["ResponseMetadata"]["HTTPHeaders"]
    sent = assert_signed_and_untouched(routed, endpoint, BEDROCK)
    assert sent.header(ROLLUP_HEADER) == "1"
    assert all(v.valid for v in endpoint.verdicts)
    costs = [s.attributes["gen_ai.usage.cost"] for s in routed.proxy_spans(2)]
    assert len(costs) == 2
    assert traced.cost == sum(Decimal(repr(c)) for c in costs) > 0
    assert call_spans(spans) == []  # the proxy's spans are the call records


def test_outside_a_section_the_proxy_is_not_asked_for_the_cost(route):
    endpoint = SigV4Endpoint(aws_reply)
    routed = route([BEDROCK], endpoint)
    llmobserve.observe(proxy_url=routed.proxy_url)
    bedrock().converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "Hi"}]}])
    assert routed.inbound[-1].header(ROLLUP_HEADER) is None
    assert endpoint.verdicts[-1].valid
