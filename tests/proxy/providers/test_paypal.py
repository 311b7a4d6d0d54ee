"""PayPal: `seller_receivable_breakdown.paypal_fee` of captures, in USD, once per capture."""

from __future__ import annotations

from decimal import Decimal

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import commerce
from tests.proxy.providers._services_support import detect, fixture, observe

PAYPAL = "paypal"


def test_detect() -> None:
    assert (
        detect(PAYPAL, "POST", "/v2/checkout/orders/5O190127TN364715T/capture").operation
        == "payment"
    )
    assert detect(PAYPAL, "GET", "/v2/payments/captures/3C679366HH908993F").operation == "payment"
    assert detect_endpoint(PAYPAL, "POST", "/v2/checkout/orders") is None


def test_order_capture_fee_once() -> None:
    commerce.WIRE_FORMATS[PAYPAL].ledger.clear()  # type: ignore[attr-defined]
    endpoint = detect(PAYPAL, "POST", "/v2/checkout/orders/5O190127TN364715T/capture")
    body = fixture("paypal", "order_captured.json")

    first = observe(endpoint, body)
    again = observe(endpoint, body)

    assert (first.reported_cost, first.response_id) == (Decimal("3.98"), "3C679366HH908993F")
    assert again.reported_cost is None


def test_pending_capture_has_no_fee_yet() -> None:
    result = observe(
        detect(PAYPAL, "GET", "/v2/payments/captures/2GG279541U471931P"),
        fixture("paypal", "capture_pending.json"),
    )

    assert result.reported_cost is None
    assert result.problem == "capture is PENDING: no paypal_fee yet"
