"""Twilio: `price` once it is known (null at creation), `num_segments`, once per sid."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import commerce
from semconv import ERROR_TYPE, GEN_AI_OPERATION_NAME, LLMOBSERVE_COST_REASON
from tests.proxy.providers._services_support import Reply, detect, fake_upstream, fixture, observe

TWILIO = "twilio"
ACCOUNT = "/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"


def _fresh() -> None:
    commerce.WIRE_FORMATS[TWILIO].ledger.clear()  # type: ignore[attr-defined]


def test_detect() -> None:
    assert detect(TWILIO, "POST", f"{ACCOUNT}/Messages.json").operation == "message"
    assert (
        detect(
            TWILIO, "GET", f"{ACCOUNT}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json"
        ).operation
        == "message"
    )
    assert (
        detect(TWILIO, "GET", f"{ACCOUNT}/Calls/CA42ed11f93dc08b952027ffbc406d0868.json").operation
        == "message"
    )
    assert detect_endpoint(TWILIO, "GET", f"{ACCOUNT}/IncomingPhoneNumbers.json") is None


def test_queued_message_has_no_price_yet() -> None:
    _fresh()

    result = observe(
        detect(TWILIO, "POST", f"{ACCOUNT}/Messages.json"),
        fixture("twilio", "message_queued.json"),
        status=201,
    )

    assert (result.reported_cost, result.units) == (None, {})
    assert result.problem == "price is null until Twilio has sent it; a later GET carries the price"


def test_sent_message_price_and_segments_once() -> None:
    _fresh()
    endpoint = detect(TWILIO, "GET", f"{ACCOUNT}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json")
    body = fixture("twilio", "message_sent.json")

    first = observe(endpoint, body)
    again = observe(endpoint, body)

    assert first.reported_cost == Decimal("0.01660")  # "-0.01660" is what Twilio charged
    assert first.units == {"segments": Decimal(2)}
    assert first.response_model == "sms"
    assert again.reported_cost is None


def test_completed_call_price_and_duration() -> None:
    _fresh()

    result = observe(
        detect(TWILIO, "GET", f"{ACCOUNT}/Calls/CA42ed11f93dc08b952027ffbc406d0868.json"),
        fixture("twilio", "call_completed.json"),
    )

    assert (result.reported_cost, result.units) == (Decimal("0.03000"), {"seconds": Decimal(71)})
    assert result.response_model == "voice"


def test_non_usd_price_is_not_converted() -> None:
    _fresh()
    body = fixture("twilio", "message_sent.json").replace(b'"USD"', b'"EUR"')

    result = observe(detect(TWILIO, "GET", f"{ACCOUNT}/Messages/SM1.json"), body)

    assert result.problem == "price is in EUR, not USD; not converted"


def test_not_found_error_code() -> None:
    result = observe(
        detect(TWILIO, "GET", f"{ACCOUNT}/Messages/SM1.json"),
        fixture("twilio", "error_not_found.json"),
        status=404,
    )

    assert result.error_type == "20404"


def test_send_then_fetch_through_the_proxy(start_proxy) -> None:
    _fresh()
    replies = {
        ("POST", f"{ACCOUNT}/Messages.json"): Reply(
            fixture("twilio", "message_queued.json"), status=201
        ),
        ("GET", f"{ACCOUNT}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json"): Reply(
            fixture("twilio", "message_sent.json")
        ),
    }
    with fake_upstream(replies) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.twilio.com": url})
        httpx.post(
            f"{proxy.url}/twilio{ACCOUNT}/Messages.json", content=b"To=%2B15558675310&Body=hi"
        )
        httpx.get(f"{proxy.url}/twilio{ACCOUNT}/Messages/SM1f0e8ae6ade43cb3c0ce4525424e404f.json")

    created, fetched = (s.attributes for s in proxy.spans(2))
    assert created[GEN_AI_OPERATION_NAME] == "message"
    assert "price is null" in created[LLMOBSERVE_COST_REASON]
    assert ERROR_TYPE not in fetched
