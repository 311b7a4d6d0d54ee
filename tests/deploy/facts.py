"""What the project itself defines, read from its sources, for the deploy-file tests to check
against: the variables the proxy and the Collector read, the Collector's default ports, and the
metric names its configuration makes the Prometheus exporter expose."""

from __future__ import annotations

import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import opentelemetry.environment_variables as api_variables
import opentelemetry.sdk.environment_variables as sdk_variables
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CONFIG = ROOT / "otel-collector-config.yaml"
README = ROOT / "README.md"


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


@cache
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


@cache
def proxy_variables() -> frozenset[str]:
    """`LLMOBSERVE_*` names proxy/settings.py reads, and the `OTEL_*` names the OpenTelemetry
    SDK reads (the proxy configures its exporter from them)."""
    settings = (ROOT / "proxy" / "settings.py").read_text()
    ours = set(re.findall(r'"(LLMOBSERVE_[A-Z0-9_]+)"', settings))
    otel = {
        value
        for module in (api_variables, sdk_variables)
        for name, value in vars(module).items()
        if name.startswith("OTEL_") and isinstance(value, str)
    }
    return frozenset(ours | otel)


def documented_in_readme(variable: str) -> bool:
    return f"`{variable}`" in README.read_text()


@cache
def collector_variables() -> frozenset[str]:
    """Every `${env:NAME}` otel-collector-config.yaml reads."""
    return frozenset(re.findall(r"\$\{env:([A-Z0-9_]+)", CONFIG.read_text()))


def config_default(value: str) -> str:
    """`${env:NAME:-default}` -> `default`."""
    match = re.fullmatch(r"\$\{env:[A-Z0-9_]+:-(.+)\}", str(value))
    assert match, f"{value!r} has no default"
    return match[1]


def port_of(address: str) -> int:
    """The port of `host:port` or of a URL."""
    if "://" in address:
        port = urlsplit(address).port
        assert port, address
        return port
    return int(address.rsplit(":", 1)[1])


@cache
def collector_ports() -> dict[str, int]:
    """The Collector's listening ports, as the configuration's defaults give them."""
    config = load_yaml(CONFIG)
    protocols = config["receivers"]["otlp"]["protocols"]
    readers = config["service"]["telemetry"]["metrics"]["readers"]
    telemetry_port = readers[0]["pull"]["exporter"]["prometheus"]["port"]
    return {
        "otlp_grpc": port_of(config_default(protocols["grpc"]["endpoint"])),
        "otlp_http": port_of(config_default(protocols["http"]["endpoint"])),
        "prometheus": port_of(config_default(config["exporters"]["prometheus"]["endpoint"])),
        "health": port_of(config_default(config["extensions"]["health_check"]["endpoint"])),
        "telemetry": int(config_default(telemetry_port)),
    }


def _label(attribute: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", attribute)


@cache
def collector_metrics() -> dict[str, frozenset[str]]:
    """Metric name -> label names, as the Prometheus exporter exposes what the configuration's
    connectors produce (suffixes: `_<unit>`, `_total` for monotonic sums, `_seconds` and the
    histogram series; checked against the real exporter by tests/integration)."""
    connectors = load_yaml(CONFIG)["connectors"]
    metrics: dict[str, frozenset[str]] = {}
    for metric in connectors["signal_to_metrics"]["spans"]:
        name = _label(metric["name"]) + f"_{metric['unit']}"
        if metric.get("sum", {}).get("monotonic"):
            name += "_total"
        labels = {_label(a["key"]) for a in metric["attributes"]} | {"job"}
        metrics[name] = frozenset(labels)
    span_metrics = connectors["span_metrics"]
    namespace = _label(span_metrics["namespace"])
    dimensions = {_label(d["name"]) for d in span_metrics["dimensions"]} | {
        "service_name",
        "span_name",
        "span_kind",
        "status_code",
        "job",
        "instance",
    }
    metrics[f"{namespace}_calls_total"] = frozenset(dimensions)
    assert span_metrics["histogram"]["unit"] == "s"
    for series in ("bucket", "sum", "count"):
        extra = {"le"} if series == "bucket" else set()
        metrics[f"{namespace}_duration_seconds_{series}"] = frozenset(dimensions | extra)
    return metrics
