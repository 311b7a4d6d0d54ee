"""SendGrid: e-mails = recipients of the request's personalizations; 202 with no body."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from semconv import GEN_AI_OPERATION_NAME
from tests.proxy.providers._services_support import (
    Reply,
    assert_units_only_span,
    detect,
    fake_upstream,
    fixture,
    observe,
    span_units,
)

SENDGRID = "sendgrid"
REQUEST = fixture("sendgrid", "mail_send_request.json")


def test_detect() -> None:
    assert detect(SENDGRID, "POST", "/v3/mail/send").operation == "email"
    assert detect_endpoint(SENDGRID, "GET", "/v3/stats") is None


def test_recipients_of_all_personalizations() -> None:
    result = observe(
        detect(SENDGRID, "POST", "/v3/mail/send"),
        b"",
        request_body=REQUEST,
        status=202,
        content_type="",
    )

    # 2 to + 1 cc + 1 bcc, then 1 to.
    assert result.units == {"emails": Decimal(5)}


def test_request_without_personalizations_says_why() -> None:
    result = observe(detect(SENDGRID, "POST", "/v3/mail/send"), b"", request_body=b"{}", status=202)

    assert result.problem == "nothing countable in the request"


def test_mail_send_through_the_proxy(start_proxy) -> None:
    reply = Reply(b"", status=202, headers={"x-message-id": "W1R8KpJtQ-6jFZ3Z0q7Y1g"})
    with fake_upstream({("POST", "/v3/mail/send"): reply}) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.sendgrid.com": url})
        response = httpx.post(f"{proxy.url}/sendgrid/v3/mail/send", content=REQUEST)

    assert (response.status_code, response.content) == (202, b"")
    attributes = proxy.span().attributes
    assert attributes[GEN_AI_OPERATION_NAME] == "email"
    assert_units_only_span(attributes)
    assert span_units(attributes) in (None, {"emails": 5.0})
