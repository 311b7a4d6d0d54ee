"""Stripe: the exact fee of an expanded balance transaction, in USD, once per charge."""

from __future__ import annotations

from decimal import Decimal

import httpx

from proxy.providers.endpoints import detect_endpoint
from proxy.providers.services import commerce
from semconv import ERROR_TYPE, GEN_AI_OPERATION_NAME, LLMOBSERVE_COST_STATUS
from tests.proxy.providers._services_support import Reply, detect, fake_upstream, fixture, observe

STRIPE = "stripe"


def _fresh() -> None:
    commerce.WIRE_FORMATS[STRIPE].ledger.clear()  # type: ignore[attr-defined]


def test_detect_payment_calls_only() -> None:
    assert detect(STRIPE, "POST", "/v1/charges").operation == "payment"
    assert detect(STRIPE, "POST", "/v1/payment_intents/pi_1/confirm").operation == "payment"
    assert detect(STRIPE, "GET", "/v1/balance_transactions/txn_1").operation == "payment"
    assert detect_endpoint(STRIPE, "POST", "/v1/customers") is None
    assert detect_endpoint(STRIPE, "GET", "/v1/charges") is None  # a listing bills nothing


def test_expanded_fee_is_exact_usd_once_per_charge() -> None:
    _fresh()
    endpoint = detect(STRIPE, "GET", "/v1/charges/ch_3PQx7e2eZvKYlo2C0mZ8a1Bq")
    body = fixture("stripe", "charge_expanded.json")

    first = observe(endpoint, body)
    again = observe(endpoint, body)

    assert first.reported_cost == Decimal("0.88")  # 88 cents, exactly
    assert first.response_id == "ch_3PQx7e2eZvKYlo2C0mZ8a1Bq"
    assert first.units == {}
    assert again.reported_cost is None
    assert again.problem == "charge was already metered"


def test_unexpanded_charge_reports_the_amount_for_a_price_table() -> None:
    _fresh()

    result = observe(
        detect(STRIPE, "POST", "/v1/charges"), fixture("stripe", "charge_not_expanded.json")
    )

    assert result.reported_cost is None
    assert result.units == {"amount": Decimal("25"), "requests": Decimal(1)}
    assert result.response_model == "card"


def test_balance_transaction_in_another_currency_is_not_converted() -> None:
    _fresh()

    result = observe(
        detect(STRIPE, "GET", "/v1/balance_transactions/txn_1"),
        fixture("stripe", "balance_transaction_eur.json"),
    )

    assert result.reported_cost is None
    assert result.problem == "charged in eur, not USD; not converted"


def test_payment_intent_without_a_charge_is_not_billed() -> None:
    body = fixture("stripe", "payment_intent_requires_payment_method.json")

    result = observe(detect(STRIPE, "POST", "/v1/payment_intents"), body)

    assert result.problem == "no successful charge yet; no fee reported"


def test_card_declined_error_type() -> None:
    result = observe(
        detect(STRIPE, "POST", "/v1/charges"),
        fixture("stripe", "error_card_declined.json"),
        status=402,
    )

    assert result.error_type == "card_declined"


def test_charge_and_decline_through_the_proxy(start_proxy) -> None:
    _fresh()
    replies = {
        ("GET", "/v1/charges/ch_3PQx7e2eZvKYlo2C0mZ8a1Bq"): Reply(
            fixture("stripe", "charge_expanded.json")
        ),
        ("POST", "/v1/charges"): Reply(fixture("stripe", "error_card_declined.json"), status=402),
    }
    with fake_upstream(replies) as (url, _):
        proxy = start_proxy(upstream_overrides={"api.stripe.com": url})
        httpx.get(
            f"{proxy.url}/stripe/v1/charges/ch_3PQx7e2eZvKYlo2C0mZ8a1Bq?expand[]=balance_transaction"
        )
        declined = httpx.post(f"{proxy.url}/stripe/v1/charges", content=b"amount=2000&currency=usd")

    assert declined.status_code == 402
    charge, decline = sorted((s.attributes for s in proxy.spans(2)), key=lambda a: ERROR_TYPE in a)
    assert charge[GEN_AI_OPERATION_NAME] == "payment"
    assert charge[LLMOBSERVE_COST_STATUS] in ("priced", "unknown_model", "usage_unavailable")
    assert decline[ERROR_TYPE] == "card_declined"
    assert decline[LLMOBSERVE_COST_STATUS] == "upstream_error"
