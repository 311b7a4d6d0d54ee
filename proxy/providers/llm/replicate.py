"""Replicate predictions: asynchronous jobs, metered once, on the response that shows them done.

https://replicate.com/docs/topics/predictions and .../predictions/lifecycle: a prediction
(created by `POST /v1/predictions`, `/v1/models/{owner}/{name}/predictions` or
`/v1/deployments/{owner}/{name}/predictions`, polled with `GET /v1/predictions/{id}`) has a
`status`: `starting`, `processing`, then `succeeded`, `failed`, `canceled` or `aborted`.
`metrics.predict_time` is the billed compute time in seconds; official language models also
report `metrics.input_token_count` / `output_token_count`. Public models bill canceled
predictions for the time they ran, and never aborted ones
(https://replicate.com/changelog/2025-10-16-prediction-deadlines).

A create call (unless `Prefer: wait` made it synchronous) and every poll before the end carry
nothing billable; the first response showing a finished prediction is metered, and later
responses for the same id are not (a small in-memory LRU of ids; one proxy process's view).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from urllib.parse import unquote

from pricing import TokenUsage
from proxy.providers.base import Endpoint, RequestFacts
from proxy.providers.llm._common import json_object, quantity
from proxy.providers.llm._names import PREDICTION, REPLICATE_PREDICTION, UNIT_SECONDS
from proxy.providers.llm.embeddings import NoStream
from proxy.providers.result import CallResult, UsageError, mapping, text, token_count

BILLED_STATUSES = frozenset({"succeeded", "failed", "canceled"})
_MODEL_CREATE = re.compile(r"^/v1/(models|deployments)/([^/]+)/([^/]+)/predictions$")
_PREDICTION = re.compile(r"^/v1/predictions/[^/]+(/cancel)?$")


class PredictionLedger:
    """Ids of predictions already metered, the oldest forgotten past `capacity`."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._capacity = capacity
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()  # direct mode reads responses on many threads

    def first_time(self, prediction_id: str) -> bool:
        """True the first time an id is seen (and remembers it)."""
        with self._lock:
            if prediction_id in self._ids:
                self._ids.move_to_end(prediction_id)
                return False
            self._ids[prediction_id] = None
            if len(self._ids) > self._capacity:
                self._ids.popitem(last=False)
            return True

    def forget(self) -> None:
        with self._lock:
            self._ids.clear()


LEDGER = PredictionLedger()


def detect(method: str, path: str) -> Endpoint | None:
    if method == "POST" and path == "/v1/predictions":
        return Endpoint(PREDICTION, REPLICATE_PREDICTION)
    created = _MODEL_CREATE.match(path)
    if method == "POST" and created is not None:
        model = f"{unquote(created.group(2))}/{unquote(created.group(3))}"
        return Endpoint(PREDICTION, REPLICATE_PREDICTION, model=model)
    polled = _PREDICTION.match(path)
    if polled is not None and (method == "POST") == bool(polled.group(1)):
        return Endpoint(PREDICTION, REPLICATE_PREDICTION)  # GET a prediction, POST .../cancel
    return None


def _tokens(metrics: Mapping[str, object]) -> TokenUsage | None:
    if metrics.get("input_token_count") is None and metrics.get("output_token_count") is None:
        return None
    return TokenUsage(
        input_tokens=token_count(metrics, "input_token_count"),
        output_tokens=token_count(metrics, "output_token_count"),
    )


def read_prediction(body: Mapping[str, object], ledger: PredictionLedger = LEDGER) -> CallResult:
    model = text(body.get("model")) or text(body.get("version"))
    prediction_id = text(body.get("id"))
    status = text(body.get("status")) or "unknown"
    reasons = (status,)
    if status not in BILLED_STATUSES:
        waiting = (
            "aborted predictions are not billed"
            if status == "aborted"
            else f"prediction is {status}; it is metered on the response that shows it finished"
        )
        return CallResult(model, prediction_id, finish_reasons=reasons, problem=waiting)
    error = "prediction_failed" if status == "failed" else None
    if prediction_id is not None and not ledger.first_time(prediction_id):
        repeated = f"prediction {prediction_id} was metered on an earlier response"
        return CallResult(model, prediction_id, None, reasons, repeated, error)
    metrics = mapping(body.get("metrics")) or {}
    seconds = quantity(metrics.get("predict_time"))
    units = {UNIT_SECONDS: seconds} if seconds is not None else {}
    try:
        tokens = _tokens(metrics)
    except UsageError as exc:
        return CallResult(model, prediction_id, None, reasons, f"unreadable metrics: {exc}", error)
    problem = None if units or tokens else "finished prediction reports no metrics.predict_time"
    return CallResult(model, prediction_id, tokens, reasons, problem, error, units)


class Predictions:
    """`WireFormat` for Replicate predictions (create, get, cancel)."""

    def read_request(self, body: bytes, endpoint: Endpoint, inject: bool) -> RequestFacts:
        # `stream: true` asks for a stream URL; this response itself is JSON.
        document = json_object(body) or {}
        version = text(document.get("version"))
        model: str | None = version
        if version and "/" in version:  # `owner/name:hash`, or a model name
            model = version.split(":", 1)[0]
        return RequestFacts(model, False, body)

    def read_document(self, document: object) -> CallResult:
        body = mapping(document)
        if body is None:
            return CallResult(problem="response body is not a JSON object")
        return read_prediction(body)

    def read_error(self, document: object) -> str | None:
        # Errors are RFC 7807 problem documents (`title`, `detail`, `status`).
        title = text((mapping(document) or {}).get("title"))
        return title.lower().replace(" ", "_") if title else None

    def stream_reader(self) -> NoStream:
        return NoStream()
