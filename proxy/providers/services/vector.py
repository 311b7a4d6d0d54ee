"""Vector databases spoken over HTTP: meter what the wire carries, and nothing more.

- Pinecone (https://docs.pinecone.io/reference/api/latest/data-plane): query, fetch, list and
  search report `usage.readUnits` (`read_units` in the newer records API). Upserts report no
  write units (only `upsertedCount`), so `records` are counted from the request.
- Weaviate Cloud: billed by stored vector dimensions, nothing per request; each call is one
  `requests` unit, the endpoint its first path segment (`objects`, `batch`, `graphql`, ...).
- Qdrant Cloud (https://api.qdrant.tech/): billed by cluster resources; every REST response is a
  `{result, status, time}` envelope: one `requests` unit (`time`, server seconds, needs a span
  attribute: pricing dimensions are a closed set).
- Zilliz Cloud / Milvus REST v2 (https://docs.zilliz.com/reference/restful): responses carry a
  top-level `cost`, read as vCUs: `read_units` for search/query/get, `write_units` for
  insert/upsert/delete. Errors arrive as HTTP 200 with a non-zero `code`.
- Chroma Cloud: billed per byte written and returned (and scanned, which is not observable):
  `bytes` of the request body for add/upsert/update, of the response body for get/query.
- Elasticsearch (Elastic Cloud): billed by deployment or serverless VCU-hours; one `requests`
  unit per call, endpoint = its `_api` segment (`took` ms: as Qdrant's `time`).
MongoDB Atlas Vector Search and Redis speak their own TCP protocols: no HTTP to meter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Final

from proxy.providers.base import Endpoint, Provider, RequestFacts
from proxy.providers.result import CallResult, ResponseReader, mapping, text
from proxy.providers.services._common import (
    BYTES,
    DATABASE_REQUEST,
    ENDPOINT,
    READ_UNITS,
    RECORDS,
    REQUESTS,
    SEARCH,
    VECTOR_QUERY,
    VECTOR_WRITE,
    WRITE_UNITS,
    Context,
    HeaderReader,
    ServiceFormat,
    context_for,
    error_type,
    json_object,
    metered,
    quantity,
    request_units,
)

PINECONE: Final = "pinecone"
WEAVIATE: Final = "weaviate"
QDRANT: Final = "qdrant"
ZILLIZ: Final = "zilliz"
CHROMA: Final = "chroma"
ELASTICSEARCH: Final = "elasticsearch"

# Clusters have no one base URL: the base URLs below are vendor hosts under the cluster
# wildcard (the catalog requires one), not a cluster - send `X-LLMObserve-Target-URL` with the
# cluster's URL instead. `Provider.base_url` optional would say this better.
PROVIDERS: Final = (
    Provider(PINECONE, ("api.pinecone.io", "*.pinecone.io"), "https://api.pinecone.io", "pinecone"),
    Provider(
        WEAVIATE,
        ("*.weaviate.cloud", "*.weaviate.network"),
        "https://console.weaviate.cloud",
        "weaviate",
    ),
    Provider(QDRANT, ("*.cloud.qdrant.io",), "https://api.cloud.qdrant.io", "qdrant"),
    Provider(
        ZILLIZ,
        ("*.zillizcloud.com", "*.cloud.zilliz.com"),
        "https://api.cloud.zilliz.com",
        "zilliz",
    ),
    Provider(CHROMA, ("api.trychroma.com",), "https://api.trychroma.com", "chroma"),
    Provider(
        ELASTICSEARCH,
        ("*.elastic-cloud.com", "*.cloud.es.io", "*.found.io", "*.elastic.cloud"),
        "https://api.elastic-cloud.com",
        "elasticsearch",
    ),
)

_PINECONE_READS: Final = {("POST", "/query"), ("GET", "/vectors/fetch"), ("GET", "/vectors/list")}
_PINECONE_WRITES: Final = {
    "/vectors/upsert": "upsert",
    "/vectors/update": "update",
    "/vectors/delete": "delete",
}
_PINECONE_RECORDS = re.compile(r"/records/namespaces/[^/]+/(?P<op>search|upsert)")
_ZILLIZ = re.compile(r"/v2/vectordb/entities/(?P<op>[a-z_]+)")
ZILLIZ_READS: Final = ("search", "hybrid_search", "query", "get")
ZILLIZ_WRITES: Final = ("insert", "upsert", "delete")
_CHROMA = re.compile(
    r"/api/v[12]/(?:tenants/[^/]+/databases/[^/]+/)?collections/[^/]+/(?P<op>[a-z]+)"
)
CHROMA_WRITES: Final = ("add", "upsert", "update")
CHROMA_READS: Final = ("get", "query")
WEAVIATE_ENDPOINTS: Final = ("objects", "batch", "graphql", "schema", "backups", "nodes", "other")
ES_ENDPOINTS: Final = (
    "_search", "_msearch", "_knn_search", "_count", "_bulk", "_doc", "_create", "_update",
    "_mget", "_delete_by_query", "_update_by_query", "_query", "other",
)  # fmt: skip


def detect_pinecone(method: str, path: str) -> Endpoint | None:
    if (method, path) in _PINECONE_READS:
        return Endpoint(VECTOR_QUERY, "pinecone_read")
    if method == "POST" and path in _PINECONE_WRITES:
        return Endpoint(VECTOR_WRITE, f"pinecone_{_PINECONE_WRITES[path]}")
    found = _PINECONE_RECORDS.fullmatch(path) if method == "POST" else None
    if found is not None and found.group("op") == "search":
        return Endpoint(VECTOR_QUERY, "pinecone_read")
    if found is not None:
        return Endpoint(VECTOR_WRITE, "pinecone_upsert_records")
    return None


def detect_weaviate(method: str, path: str) -> Endpoint | None:
    parts = path.strip("/").split("/")
    if parts[0] != "v1" or len(parts) < 2 or parts[1] in (".well-known", "meta"):
        return None  # health and metadata probes are free
    name = parts[1] if parts[1] in WEAVIATE_ENDPOINTS else "other"
    return Endpoint(DATABASE_REQUEST, f"weaviate.{name}")


def detect_qdrant(method: str, path: str) -> Endpoint | None:
    if path in ("/healthz", "/livez", "/readyz", "/metrics", "/telemetry"):
        return None
    return Endpoint(DATABASE_REQUEST, "qdrant")


def detect_zilliz(method: str, path: str) -> Endpoint | None:
    found = _ZILLIZ.fullmatch(path) if method == "POST" else None
    if found is None or found.group("op") not in (*ZILLIZ_READS, *ZILLIZ_WRITES):
        return None
    operation = VECTOR_QUERY if found.group("op") in ZILLIZ_READS else VECTOR_WRITE
    return Endpoint(operation, f"zilliz.{found.group('op')}")


def detect_chroma(method: str, path: str) -> Endpoint | None:
    found = _CHROMA.fullmatch(path) if method == "POST" else None
    if found is None or found.group("op") not in (*CHROMA_READS, *CHROMA_WRITES):
        return None  # delete and collection management are not billed per byte
    operation = VECTOR_QUERY if found.group("op") in CHROMA_READS else VECTOR_WRITE
    return Endpoint(operation, f"chroma.{found.group('op')}")


def detect_elasticsearch(method: str, path: str) -> Endpoint | None:
    segments = [s for s in path.split("/") if s.startswith("_")]
    name = next((s for s in segments if s in ES_ENDPOINTS), "other")
    return Endpoint(
        SEARCH if "search" in name or name == "_query" else DATABASE_REQUEST,
        f"elasticsearch.{name}",
    )


class PineconeRead(ServiceFormat):
    def read(self, document: object, context: Context) -> CallResult:
        usage = mapping((mapping(document) or {}).get("usage")) or {}
        units = quantity(usage.get("readUnits", usage.get("read_units")))
        if units is None:
            return CallResult(problem="response has no usage.readUnits")
        return metered({READ_UNITS: units})


class PineconeWrite(ServiceFormat):
    """Write units when reported, else the records the request writes."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def read(self, document: object, context: Context) -> CallResult:
        usage = mapping((mapping(document) or {}).get("usage")) or {}
        units = quantity(usage.get("writeUnits", usage.get("write_units")))
        if units is not None:
            return metered({WRITE_UNITS: units})
        # Not request facts: records are the quantity only when write units are not reported.
        count = _records_written(self.kind, context.request.body)
        if count is None:
            return CallResult(problem=f"{self.kind}: the number of records is not on the wire")
        return metered({RECORDS: Decimal(count)})

    def read_empty(self, context: Context) -> CallResult:
        return self.read({}, context)


def _records_written(kind: str, body: bytes) -> int | None:
    if kind == "upsert_records":  # NDJSON, one record per line
        return sum(1 for line in body.splitlines() if line.strip())
    request = json_object(body) or {}
    if kind == "upsert":
        vectors = request.get("vectors")
        return len(vectors) if isinstance(vectors, list) else None
    if kind == "update":
        return 1 if text(request.get("id")) else None
    ids = request.get("ids")  # delete; deleteAll and filter deletes count nothing knowable
    return len(ids) if isinstance(ids, list) and not request.get("deleteAll") else None


class Zilliz(ServiceFormat):
    def __init__(self, unit: str) -> None:
        self.unit = unit

    def read(self, document: object, context: Context) -> CallResult:
        body = mapping(document) or {}
        code = body.get("code")
        if code is not None and code not in (0, 200):  # 0 on Zilliz Cloud, 200 on some Milvus
            return CallResult(error_type=error_type(body) or "error", problem="request failed")
        cost = quantity(body.get("cost"))
        if cost is None:
            return CallResult(problem="response has no cost")
        return metered({self.unit: cost})


class CountedRequest(ServiceFormat):
    """One `requests` unit per successful call; the body (search hits, records) is not held."""

    def __init__(self, endpoint: str | None) -> None:
        self.endpoint = endpoint

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self._count, context_for(content_type, request, headers))

    def _count(self, context: Context, size: int) -> CallResult:
        dimensions = {ENDPOINT: self.endpoint} if self.endpoint else {}
        return metered({REQUESTS: Decimal(1)}, dimensions=dimensions)


class ChromaBytes(ServiceFormat):
    def __init__(self, write: bool) -> None:
        self.write = write

    def request_facts(self, body: bytes, endpoint: Endpoint) -> RequestFacts:
        return RequestFacts(body=body, units={BYTES: Decimal(len(body))} if self.write else {})

    def response_reader(
        self, content_type: str, request: RequestFacts, headers: Mapping[str, str]
    ) -> ResponseReader:
        return HeaderReader(self._read, context_for(content_type, request, headers))

    def _read(self, context: Context, size: int) -> CallResult:
        if self.write:
            return request_units(context, "empty request")
        return metered({BYTES: Decimal(size)})


DETECTORS: Final = {
    PINECONE: detect_pinecone,
    WEAVIATE: detect_weaviate,
    QDRANT: detect_qdrant,
    ZILLIZ: detect_zilliz,
    CHROMA: detect_chroma,
    ELASTICSEARCH: detect_elasticsearch,
}

WIRE_FORMATS: Final[dict[str, ServiceFormat]] = {
    "pinecone_read": PineconeRead(),
    **{f"pinecone_{k}": PineconeWrite(k) for k in ("upsert", "update", "delete", "upsert_records")},
    **{f"weaviate.{n}": CountedRequest(n) for n in WEAVIATE_ENDPOINTS},
    "qdrant": CountedRequest(None),
    **{f"zilliz.{op}": Zilliz(READ_UNITS) for op in ZILLIZ_READS},
    **{f"zilliz.{op}": Zilliz(WRITE_UNITS) for op in ZILLIZ_WRITES},
    **{f"chroma.{op}": ChromaBytes(write=False) for op in CHROMA_READS},
    **{f"chroma.{op}": ChromaBytes(write=True) for op in CHROMA_WRITES},
    **{f"elasticsearch.{n}": CountedRequest(n) for n in ES_ENDPOINTS},
}
