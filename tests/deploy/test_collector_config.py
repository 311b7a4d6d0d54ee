"""otel-collector-config.yaml is well formed and does what docs/deploy.md says: addresses from the
environment, memory limited first, Tempo isolated from Jaeger, span cost summed into a counter."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "otel-collector-config.yaml"


def test_collector_config_pipelines_use_only_defined_components() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    connectors = config.get("connectors", {})
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                defined = component in config[kind] or (
                    kind != "processors" and component in connectors
                )
                assert defined, f"{name}: {kind[:-1]} {component} undefined"


def test_collector_config_receives_otlp_on_the_standard_ports() -> None:
    protocols = yaml.safe_load(CONFIG.read_text())["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317}")
    assert protocols["http"]["endpoint"].endswith(":4318}")


def env_default(value: str) -> str:
    """`${env:NAME:-default}` -> default; the test fails on a value the environment cannot set."""
    match = re.fullmatch(r"\$\{env:[A-Z0-9_]+:-(.+)\}", value)
    assert match, f"{value!r} is not overridable from the environment"
    return match[1]


def test_collector_config_takes_every_address_from_the_environment() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    addresses = [
        config["receivers"]["otlp"]["protocols"]["grpc"]["endpoint"],
        config["receivers"]["otlp"]["protocols"]["http"]["endpoint"],
        config["exporters"]["prometheus"]["endpoint"],
        config["extensions"]["health_check"]["endpoint"],
        *(config["exporters"][e]["endpoint"] for e in ("otlp_http/jaeger", "otlp_http/tempo")),
    ]
    defaults = [env_default(address) for address in addresses]
    assert defaults[-2:] == ["http://jaeger:4318", "http://tempo:4318"]


def test_collector_config_limits_memory_first_in_every_pipeline() -> None:
    for name, pipeline in yaml.safe_load(CONFIG.read_text())["service"]["pipelines"].items():
        assert pipeline["processors"][0] == "memory_limiter", name


def test_collector_config_isolates_tempo_from_jaeger() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    pipelines = config["service"]["pipelines"]
    tempo = [p for p in pipelines.values() if "otlp_http/tempo" in p["exporters"]]
    assert len(tempo) == 1 and tempo[0]["exporters"] == ["otlp_http/tempo"]
    assert "batch" in tempo[0]["processors"]
    for exporter in ("otlp_http/jaeger", "otlp_http/tempo"):
        assert config["exporters"][exporter]["sending_queue"]["enabled"] is True


def test_collector_config_sums_span_cost_by_provider_and_model() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    (cost,) = (
        m
        for m in config["connectors"]["signal_to_metrics"]["spans"]
        if m["name"] == "llmobserve.spans.cost"
    )
    assert cost["unit"] == "USD"
    assert cost["sum"] == {
        "value": 'Double(span.attributes["gen_ai.usage.cost"])',
        "monotonic": True,
    }
    assert [a["key"] for a in cost["attributes"]] == [
        "gen_ai.provider.name",
        "gen_ai.request.model",
        "gen_ai.response.model",
    ]
    pipelines = config["service"]["pipelines"]
    # Deltas from signal_to_metrics become running totals before the Prometheus exporter.
    (metrics,) = (p for p in pipelines.values() if "signal_to_metrics" in p["receivers"])
    assert "delta_to_cumulative" in metrics["processors"]
    assert metrics["exporters"] == ["prometheus"]
