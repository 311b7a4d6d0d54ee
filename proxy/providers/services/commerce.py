"""Payments, messaging, e-mail and search APIs: the fees and prices they report, counts otherwise.

- Stripe (https://docs.stripe.com/api/balance_transactions/object): API calls are free; the cost
  is the processing fee of a `balance_transaction` (`fee`, integer minor units, and
  `fee_details[]`), visible on charges and PaymentIntents only when expanded
  (`expand[]=balance_transaction` / `latest_charge.balance_transaction`). Reported in USD when
  the currency is `usd` (cents / 100, exact). Not expanded: the `amount` charged (USD) and one
  charge (`requests`), for a percentage-plus-fixed price table. Once per charge.
- PayPal (https://developer.paypal.com/docs/api/payments/v2/#captures_get): captures carry
  `seller_receivable_breakdown.paypal_fee {currency_code, value}`; absent while PENDING.
- Twilio (https://www.twilio.com/docs/messaging/api/message-resource): `price` (negative decimal
  string, `null` until the message is sent) in `price_unit`, and `num_segments`; calls carry
  `price` and `duration`. Metered once per `sid`, on the first response that has a price.
- SendGrid `POST /v3/mail/send` (https://www.twilio.com/docs/sendgrid/api-reference/mail-send/mail-send):
  `202` with an empty body; billed per e-mail: recipients in `personalizations[].to/cc/bcc`.
- Algolia (https://www.algolia.com/doc/rest-api/search/): search requests are billed (`requests`);
  a multi-query (`/1/indexes/*/queries`) counts each of its `requests`; batches count `records`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Final

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services._common import (
    EMAIL,
    EMAILS,
    MESSAGE,
    PAYMENT,
    RECORDS,
    REQUESTS,
    SEARCH,
    SECONDS,
    SEGMENTS,
    Context,
    HeaderReader,
    Ledger,
    ServiceFormat,
    Units,
    context_for,
    json_object,
    metered,
    quantity,
    request_units,
)

STRIPE: Final = "stripe"
PAYPAL: Final = "paypal"
TWILIO: Final = "twilio"
SENDGRID: Final = "sendgrid"
ALGOLIA: Final = "algolia"

PROVIDERS: Final = (
    Provider(STRIPE, ("api.stripe.com",), "https://api.stripe.com", "stripe"),
    Provider(
        PAYPAL,
        ("api-m.paypal.com", "api-m.sandbox.paypal.com"),
        "https://api-m.paypal.com",
        "paypal",
    ),
    Provider(TWILIO, ("api.twilio.com", "*.twilio.com"), "https://api.twilio.com", "twilio"),
    Provider(SENDGRID, ("api.sendgrid.com",), "https://api.sendgrid.com", "sendgrid"),
    # `{APPID}-dsn.algolia.net` has no single base URL: `latency` is Algolia's public demo app
    # (see vector.py on cluster base URLs).
    Provider(
        ALGOLIA, ("*.algolia.net", "*.algolianet.com"), "https://latency-dsn.algolia.net", "algolia"
    ),
)

_STRIPE = re.compile(
    r"(POST /v1/(charges|payment_intents(/[^/]+/(confirm|capture))?)"
    r"|GET /v1/(charges|payment_intents|balance_transactions)/[^/]+)"
)
_PAYPAL = re.compile(
    r"(POST /v2/(checkout/orders|payments/authorizations)/[^/]+/capture"
    r"|GET /v2/(checkout/orders|payments/captures)/[^/]+)"
)
_TWILIO = re.compile(r"/2010-04-01/Accounts/[^/]+/(Messages|Calls)(/[^/]+)?\.json")
_ALGOLIA = re.compile(r"/1/indexes/(?P<index>[^/]+)(?P<action>/queries|/query|/batch)?")
CENTS: Final = Decimal(100)
AMOUNT: Final = "amount"
"""USD charged, for percentage fees (`pricing` `UnitPrice.percent`)."""


def detect_stripe(method: str, path: str) -> Endpoint | None:
    return Endpoint(PAYMENT, STRIPE) if _STRIPE.fullmatch(f"{method} {path}") else None


def detect_paypal(method: str, path: str) -> Endpoint | None:
    return Endpoint(PAYMENT, PAYPAL) if _PAYPAL.fullmatch(f"{method} {path}") else None


def detect_twilio(method: str, path: str) -> Endpoint | None:
    if method in ("GET", "POST") and _TWILIO.fullmatch(path):
        return Endpoint(MESSAGE, TWILIO)
    return None


def detect_sendgrid(method: str, path: str) -> Endpoint | None:
    return Endpoint(EMAIL, SENDGRID) if (method, path) == ("POST", "/v3/mail/send") else None


def detect_algolia(method: str, path: str) -> Endpoint | None:
    found = _ALGOLIA.fullmatch(path)
    if found is None:
        return None
    action = found.group("action")
    if method == "POST" and action == "/queries":
        return Endpoint(SEARCH, "algolia_queries")
    if (method == "POST" and action == "/query") or (method == "GET" and action is None):
        return Endpoint(SEARCH, "algolia_query")
    if method == "POST" and action == "/batch":
        return Endpoint(SEARCH, "algolia_batch")
    return None


class Stripe(ServiceFormat):
    """The exact fee when the balance transaction is expanded; else the charged amount.

    Metered once per charge (a balance transaction's `source`), so a charge created and
    later fetched with its fee is one record, whichever response comes first.
    """

    def __init__(self) -> None:
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        charge = _StripeCharge.of(mapping(document) or {})
        if charge is None:
            return CallResult(problem="no successful charge yet; no fee reported")
        if charge.currency != "usd":
            return CallResult(
                response_id=charge.id,
                problem=f"charged in {charge.currency}, not USD; not converted",
            )
        if not self.ledger.first(charge.id, True):
            return CallResult(response_id=charge.id, problem="charge was already metered")
        if charge.fee is not None:
            return metered({}, response_id=charge.id, reported_cost=charge.fee / CENTS)
        if charge.amount is None:
            return CallResult(response_id=charge.id, problem="charge has no amount")
        # Not expanded: the amount, for a price table ("card": percent + fixed per charge).
        units = {AMOUNT: charge.amount / CENTS, REQUESTS: Decimal(1)}
        return metered(units, model="card", response_id=charge.id)


@dataclass(frozen=True)
class _StripeCharge:
    id: str
    currency: str | None
    amount: Decimal | None
    fee: Decimal | None
    """From the expanded balance transaction (`fee`, minor units), when there is one."""

    @classmethod
    def of(cls, body: Mapping[str, object]) -> _StripeCharge | None:
        kind = body.get("object")
        if kind == "balance_transaction":
            source = text(body.get("source")) or text(body.get("id"))
            return cls._make(source, body.get("currency"), body.get("amount"), body)
        if kind == "payment_intent":
            if body.get("status") != "succeeded":
                return None
            latest = body.get("latest_charge")
            if isinstance(latest, str):
                return cls._make(latest, body.get("currency"), body.get("amount_received"), None)
            body = mapping(latest) or {}
        if body.get("object") != "charge" or body.get("status") != "succeeded":
            return None
        amount = body.get("amount_captured") or body.get("amount")
        txn = mapping(body.get("balance_transaction"))
        return cls._make(text(body.get("id")), body.get("currency"), amount, txn)

    @classmethod
    def _make(
        cls,
        charge_id: str | None,
        currency: object,
        amount: object,
        transaction: Mapping[str, object] | None,
    ) -> _StripeCharge | None:
        if charge_id is None:
            return None
        fee = (transaction or {}).get("fee")
        if transaction is not None:
            currency = transaction.get("currency")
        return cls(
            charge_id,
            text(currency),
            _minor_units(amount),
            _minor_units(fee),
        )


def _minor_units(value: object) -> Decimal | None:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return Decimal(value)
    return None


class PayPal(ServiceFormat):
    def __init__(self) -> None:
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        total, problems, ids = Decimal(0), [], []
        for capture in _captures(body):
            capture_id = text(capture.get("id"))
            breakdown = mapping(capture.get("seller_receivable_breakdown"))
            fee = mapping((breakdown or {}).get("paypal_fee"))
            if fee is None or capture_id is None:
                problems.append(f"capture is {text(capture.get('status'))}: no paypal_fee yet")
                continue
            value = _decimal(fee.get("value"))
            if fee.get("currency_code") != "USD" or value is None:
                problems.append(f"paypal_fee is in {fee.get('currency_code')}, not USD")
                continue
            if self.ledger.first(capture_id, True):
                total += value
                ids.append(capture_id)
        if not ids:
            return CallResult(problem="; ".join(problems) or "no capture in the response")
        return metered({}, response_id=ids[0], reported_cost=total)


def _captures(body: Mapping[str, object]) -> Iterator[Mapping[str, object]]:
    if "seller_receivable_breakdown" in body or "final_capture" in body:
        yield body
    units = body.get("purchase_units")
    for unit in units if isinstance(units, list) else []:
        payments = mapping((mapping(unit) or {}).get("payments")) or {}
        captures = payments.get("captures")
        for capture in captures if isinstance(captures, list) else []:
            if isinstance(capture, dict):
                yield capture


def _decimal(value: object) -> Decimal | None:
    try:
        return Decimal(value) if isinstance(value, str) else None
    except InvalidOperation:
        return None


class Twilio(ServiceFormat):
    def __init__(self) -> None:
        self.ledger: Ledger[bool] = Ledger()

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        listed = body.get("messages", body.get("calls"))
        listed = listed if isinstance(listed, list) else []
        items = [body] if "sid" in body else [i for i in listed if isinstance(i, dict)]
        cost, units, ids, problem = Decimal(0), Units(), [], None
        kinds: set[str] = set()
        for item in items:
            sid, price = text(item.get("sid")), _decimal(item.get("price"))
            if sid is None or price is None:
                problem = "price is null until Twilio has sent it; a later GET carries the price"
                continue
            if item.get("price_unit") != "USD":
                problem = f"price is in {item.get('price_unit')}, not USD; not converted"
                continue
            if not self.ledger.first(sid, True):
                problem = problem or "already metered"
                continue
            cost += abs(price)  # Twilio reports what it charges as a negative amount
            ids.append(sid)
            kind = "voice" if "duration" in item else "sms"
            kinds.add("mms" if (quantity(item.get("num_media")) or 0) > 0 else kind)
            for unit, key in ((SEGMENTS, "num_segments"), (SECONDS, "duration")):
                amount = quantity(item.get(key))
                if amount is not None:
                    units[unit] = units.get(unit, Decimal(0)) + amount
        if not ids:
            return CallResult(problem=problem or "no message or call in the response")
        model = kinds.pop() if len(kinds) == 1 else None  # `sms`, `mms` or `voice`
        return metered(units, model=model, response_id=ids[0], reported_cost=cost)


class _RequestCounted(ServiceFormat):
    """Billed by what the request asks for; the response only has to succeed."""

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self._read, context_for(content_type, request, headers))

    def _read(self, context: Context, size: int) -> CallResult:
        return request_units(context, "nothing countable in the request")


class SendGrid(_RequestCounted):
    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        request = json_object(body) or {}
        personalizations = request.get("personalizations")
        if not isinstance(personalizations, list):
            return RequestFacts(body=body)
        recipients = sum(
            len(field)
            for item in personalizations
            for field in ((mapping(item) or {}).get(key) for key in ("to", "cc", "bcc"))
            if isinstance(field, list)
        )
        return RequestFacts(body=body, units={EMAILS: Decimal(recipients)})


class Algolia(_RequestCounted):
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        if self.kind == "query":
            return RequestFacts(body=body, units={REQUESTS: Decimal(1)})
        requests = (json_object(body) or {}).get("requests")
        if not isinstance(requests, list):
            return RequestFacts(body=body)
        unit = REQUESTS if self.kind == "queries" else RECORDS
        return RequestFacts(body=body, units={unit: Decimal(len(requests))})


DETECTORS: Final = {
    STRIPE: detect_stripe,
    PAYPAL: detect_paypal,
    TWILIO: detect_twilio,
    SENDGRID: detect_sendgrid,
    ALGOLIA: detect_algolia,
}

WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {
    STRIPE: Stripe(),
    PAYPAL: PayPal(),
    TWILIO: Twilio(),
    SENDGRID: SendGrid(),
    "algolia_query": Algolia("query"),
    "algolia_queries": Algolia("queries"),
    "algolia_batch": Algolia("batch"),
}
