"""The builder manifest (deploy/otelcol-builder.yaml) builds exactly the Collector that
otel-collector-config.yaml needs, from one Collector release, with the builder that
scripts/install-collector.sh installs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "otel-collector-config.yaml"
MANIFEST = ROOT / "deploy" / "otelcol-builder.yaml"
SCRIPT = ROOT / "scripts" / "install-collector.sh"

KINDS = ("receivers", "processors", "exporters", "connectors", "extensions")
# A module's last path element is its type without underscores plus its kind:
# memorylimiterprocessor <-> memory_limiter, otlphttpexporter <-> otlp_http.
SUFFIX = {kind: kind[:-1] for kind in KINDS}


def load(path: Path) -> dict[str, Any]:
    return dict(yaml.safe_load(path.read_text()))


def component_type(component_id: str) -> str:
    """`otlp_http/jaeger` -> `otlphttp`: the type, spelled as in module names."""
    return component_id.partition("/")[0].replace("_", "")


def used_by_config(config: dict[str, Any]) -> dict[str, set[str]]:
    """Component types each kind uses in the service (pipelines and extensions)."""
    used: dict[str, set[str]] = {kind: set() for kind in KINDS}
    service = config["service"]
    used["extensions"] = {component_type(c) for c in service.get("extensions", [])}
    for pipeline in service["pipelines"].values():
        used["receivers"] |= {component_type(c) for c in pipeline.get("receivers", [])}
        used["processors"] |= {component_type(c) for c in pipeline.get("processors", [])}
        used["exporters"] |= {component_type(c) for c in pipeline.get("exporters", [])}
    # A connector is an exporter of one pipeline and a receiver of another.
    connectors = {component_type(c) for c in config.get("connectors", {})}
    used["connectors"] = connectors
    used["receivers"] -= connectors
    used["exporters"] -= connectors
    return used


def built_by_manifest(manifest: dict[str, Any]) -> dict[str, set[str]]:
    built: dict[str, set[str]] = {}
    for kind in KINDS:
        names = set()
        for entry in manifest.get(kind, []):
            module = entry["gomod"].split()[0]
            name = module.rsplit("/", 1)[1]
            assert name.endswith(SUFFIX[kind]), f"{module} listed under {kind}"
            names.add(name.removesuffix(SUFFIX[kind]))
        built[kind] = names
    return built


def manifest_modules(manifest: dict[str, Any]) -> list[tuple[str, str]]:
    entries = [e for kind in (*KINDS, "providers") for e in manifest.get(kind, [])]
    entries.append(manifest["telemetry"])
    modules = []
    for entry in entries:
        module, version = entry["gomod"].split()
        modules.append((module, version))
    return modules


def test_manifest_builds_exactly_the_components_the_config_uses() -> None:
    assert built_by_manifest(load(MANIFEST)) == used_by_config(load(CONFIG))


def test_config_defines_no_component_it_does_not_use() -> None:
    config = load(CONFIG)
    used = used_by_config(config)
    for kind in KINDS:
        defined = {component_type(c) for c in config.get(kind, {})}
        assert defined == used[kind], kind


def test_manifest_pins_every_module_to_one_collector_release() -> None:
    modules = manifest_modules(load(MANIFEST))
    unstable = {version for _, version in modules if version.startswith("v0.")}
    stable = {version for _, version in modules if version.startswith("v1.")}
    assert len(unstable) == 1, unstable  # core and contrib v0.x move together
    assert len(stable) == 1, stable  # the core's stable (v1.x) modules of that same release
    # A core release v0.N ships stable modules v1.(N - 94): v0.161.0 <-> v1.67.0.
    (minor,) = (int(v.split(".")[1]) for v in unstable)
    assert stable == {f"v1.{minor - 94}.0"}


def test_install_script_uses_the_builder_of_the_manifest_release() -> None:
    release = {version for _, version in manifest_modules(load(MANIFEST)) if version[:3] == "v0."}
    match = re.search(r'VERSION="\$\{OTELCOL_BUILDER_VERSION:-(v[0-9.]+)\}"', SCRIPT.read_text())
    assert match, "install-collector.sh must name its builder version"
    assert {match[1]} == release


def test_manifest_builds_the_config_providers_the_config_needs() -> None:
    modules = {module.rsplit("/", 1)[1] for module, _ in manifest_modules(load(MANIFEST))}
    assert "${env:" in CONFIG.read_text()
    assert {"envprovider", "fileprovider"} <= modules
