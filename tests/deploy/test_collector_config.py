"""The Collector configuration is well formed: every pipeline component is defined."""

from __future__ import annotations

from pathlib import Path

import yaml

CONFIG = Path(__file__).resolve().parents[2] / "otel-collector-config.yaml"


def test_collector_config_pipelines_use_only_defined_components():
    config = yaml.safe_load(CONFIG.read_text())
    for name, pipeline in config["service"]["pipelines"].items():
        for kind in ("receivers", "processors", "exporters"):
            for component in pipeline.get(kind, []):
                assert component in config[kind], f"{name}: {kind[:-1]} {component} undefined"


def test_collector_config_receives_otlp_on_the_standard_ports():
    protocols = yaml.safe_load(CONFIG.read_text())["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"].endswith(":4317}")
    assert protocols["http"]["endpoint"].endswith(":4318}")
