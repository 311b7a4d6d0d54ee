"""The Docker files, docker-compose.yml, Prometheus and Grafana provisioning under deploy/ refer
only to files, ports, variables, metrics and services that exist. No Docker engine runs where these
tests run, so they parse the files instead of running them."""

from __future__ import annotations

import json
import re
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from proxy.protocol import DEFAULT_PORT, HEALTH_PATH
from tests.deploy.facts import (
    CONFIG,
    DEPLOY,
    ROOT,
    collector_metrics,
    collector_ports,
    collector_variables,
    documented_in_readme,
    load_yaml,
    proxy_variables,
    pyproject,
)
from tests.integration.test_collector_e2e import ATTRIBUTED_COST, CALLS, COST

PROXY_DOCKERFILE = DEPLOY / "Dockerfile"
COLLECTOR_DOCKERFILE = DEPLOY / "collector.Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "llmobserve-cost.json"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", dockerfile.read_text())
    found = []
    for raw in text.splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            op, _, args = line.partition(" ")
            found.append((op.upper(), args.strip()))
    return found


def arguments(dockerfile: Path, op: str) -> list[str]:
    return [args for name, args in instructions(dockerfile) if name == op]


def copied_sources(dockerfile: Path) -> list[str]:
    sources = []
    for args in arguments(dockerfile, "COPY"):
        if not args.startswith("--from="):
            sources += args.split()[:-1]
    return sources


def dockerignore_allows(dockerfile: Path, source: str) -> bool:
    """Whether the Dockerfile's own `.dockerignore` (an allow-list) lets `source` through."""
    ignore = dockerfile.with_name(dockerfile.name + ".dockerignore").read_text().splitlines()
    allowed = [line[1:].rstrip("/") for line in ignore if line.startswith("!")]
    return any(fnmatch(source.rstrip("/"), pattern) for pattern in allowed)


@pytest.mark.parametrize(
    "dockerfile", [PROXY_DOCKERFILE, COLLECTOR_DOCKERFILE], ids=lambda p: p.name
)
def test_dockerfile_copies_files_that_exist_and_are_in_its_build_context(dockerfile: Path) -> None:
    sources = copied_sources(dockerfile)
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert dockerignore_allows(dockerfile, source), f"{source} is left out of the context"


@pytest.mark.parametrize(
    "dockerfile", [PROXY_DOCKERFILE, COLLECTOR_DOCKERFILE], ids=lambda p: p.name
)
def test_dockerfile_runs_as_a_non_root_user(dockerfile: Path) -> None:
    (user,) = arguments(dockerfile, "USER")
    assert user.split(":")[0] not in ("root", "0")
    assert instructions(dockerfile)[-1][0] in ("CMD", "ENTRYPOINT")


def test_proxy_dockerfile_installs_the_locked_dependencies_and_the_proxy_extra() -> None:
    (base,) = arguments(PROXY_DOCKERFILE, "FROM")
    minimum = pyproject()["project"]["requires-python"].removeprefix(">=")
    assert base == f"python:{minimum}-slim"
    (install,) = (run for run in arguments(PROXY_DOCKERFILE, "RUN") if "pip install" in run)
    assert "--constraint requirements/lock.txt" in install
    assert '".[proxy]"' in install and "proxy" in pyproject()["project"]["optional-dependencies"]


def test_proxy_dockerfile_serves_on_the_proxy_port_and_checks_health() -> None:
    (cmd,) = arguments(PROXY_DOCKERFILE, "CMD")
    command = json.loads(cmd)
    assert command == ["llmobserve-proxy", "--host", "0.0.0.0", "--port", str(DEFAULT_PORT)]
    assert command[0] in pyproject()["project"]["scripts"]
    assert arguments(PROXY_DOCKERFILE, "EXPOSE") == [str(DEFAULT_PORT)]
    (healthcheck,) = arguments(PROXY_DOCKERFILE, "HEALTHCHECK")
    assert f"http://127.0.0.1:{DEFAULT_PORT}{HEALTH_PATH}" in healthcheck


def test_collector_dockerfile_builds_with_the_install_script_and_runs_our_config() -> None:
    assert any(
        "scripts/install-collector.sh" in run for run in arguments(COLLECTOR_DOCKERFILE, "RUN")
    )
    (cmd,) = arguments(COLLECTOR_DOCKERFILE, "CMD")
    config_path = json.loads(cmd)[json.loads(cmd).index("--config") + 1]
    assert f"otel-collector-config.yaml {config_path}" in arguments(COLLECTOR_DOCKERFILE, "COPY")
    exposed = {
        int(port) for args in arguments(COLLECTOR_DOCKERFILE, "EXPOSE") for port in args.split()
    }
    assert exposed == set(collector_ports().values())


# docker-compose.yml


def compose() -> dict[str, Any]:
    return dict(load_yaml(COMPOSE))


def service(name: str) -> dict[str, Any]:
    return dict(compose()["services"][name])


def published(name: str) -> set[int]:
    return {int(str(mapping).split(":")[-1]) for mapping in service(name).get("ports", [])}


def volume_mounts(name: str) -> dict[str, str]:
    """Container path -> host path, for bind mounts (relative to deploy/)."""
    mounts = {}
    for volume in service(name).get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[target] = source
    return mounts


def url_target(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port, url
    return parts.hostname, parts.port


def test_compose_runs_the_whole_stack() -> None:
    assert {"proxy", "collector", "jaeger", "tempo", "prometheus", "grafana"} <= set(
        compose()["services"]
    )


def test_compose_pins_every_image() -> None:
    for name, spec in compose()["services"].items():
        image = spec["image"]
        assert ":" in image and not image.endswith(":latest"), f"{name}: {image}"


def test_compose_builds_our_images_from_dockerfiles_that_exist() -> None:
    for name, dockerfile in (("proxy", PROXY_DOCKERFILE), ("collector", COLLECTOR_DOCKERFILE)):
        build = service(name)["build"]
        assert (DEPLOY / build["context"]).resolve() == ROOT
        assert ROOT / build["dockerfile"] == dockerfile


def test_compose_bind_mounts_files_that_exist() -> None:
    for name in compose()["services"]:
        for source in volume_mounts(name).values():
            assert (DEPLOY / source).exists(), f"{name}: {source}"


def test_compose_proxy_reads_only_variables_the_proxy_knows() -> None:
    environment = service("proxy")["environment"]
    for variable in environment:
        assert variable in proxy_variables(), variable
        if variable.startswith("LLMOBSERVE_"):
            assert documented_in_readme(variable), variable
    assert published("proxy") == {DEFAULT_PORT}
    host, port = url_target(environment["OTEL_EXPORTER_OTLP_ENDPOINT"])
    assert (host, port) == ("collector", collector_ports()["otlp_http"])


def test_compose_collector_runs_our_config_and_publishes_its_ports() -> None:
    collector = service("collector")
    config_path = collector["command"][collector["command"].index("--config") + 1]
    assert (DEPLOY / volume_mounts("collector")[config_path]).resolve() == CONFIG
    ports = collector_ports()
    assert {ports["otlp_grpc"], ports["otlp_http"], ports["prometheus"]} <= published("collector")
    assert set(collector["environment"]) <= collector_variables()


def test_compose_collector_exports_to_the_jaeger_and_tempo_services() -> None:
    environment = service("collector")["environment"]
    assert url_target(environment["JAEGER_OTLP_ENDPOINT"]) == ("jaeger", 4318)
    tempo_config = load_yaml(DEPLOY / volume_mounts("tempo")["/etc/tempo.yaml"])
    tempo_http = tempo_config["distributor"]["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert url_target(environment["TEMPO_OTLP_ENDPOINT"]) == (
        "tempo",
        int(tempo_http.split(":")[-1]),
    )
    assert 16686 in published("jaeger")  # the Jaeger UI


def test_prometheus_scrapes_the_collectors_cost_metrics() -> None:
    prometheus = load_yaml(DEPLOY / volume_mounts("prometheus")["/etc/prometheus/prometheus.yml"])
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    }
    assert f"collector:{collector_ports()['prometheus']}" in targets
    (cost_job,) = (j for j in prometheus["scrape_configs"] if j["job_name"] == "llmobserve-cost")
    assert cost_job["honor_labels"] is True  # keeps the exporter's job = service.name


# Grafana


def grafana_mounts() -> dict[str, str]:
    return volume_mounts("grafana")


def test_grafana_provisions_data_sources_for_the_compose_services() -> None:
    provisioning = DEPLOY / grafana_mounts()["/etc/grafana/provisioning"]
    sources = load_yaml(provisioning / "datasources" / "datasources.yaml")["datasources"]
    expected = {
        "prometheus": ("prometheus", 9090),
        "tempo": ("tempo", 3200),
        "jaeger": ("jaeger", 16686),
    }
    assert {s["uid"]: url_target(s["url"]) for s in sources} == expected
    tempo_config = load_yaml(DEPLOY / "tempo.yaml")
    assert tempo_config["server"]["http_listen_port"] == 3200
    assert 9090 in published("prometheus")


def test_grafana_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    provisioning = DEPLOY / grafana_mounts()["/etc/grafana/provisioning"]
    (provider,) = load_yaml(provisioning / "dashboards" / "dashboards.yaml")["providers"]
    mounted = DEPLOY / grafana_mounts()[provider["options"]["path"]]
    assert DASHBOARD.parent.resolve() == mounted.resolve()
    home = service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


def dashboard() -> dict[str, Any]:
    return dict(json.loads(DASHBOARD.read_text()))


def queries() -> list[str]:
    exprs = [t["expr"] for panel in dashboard()["panels"] for t in panel["targets"]]
    exprs += [v["definition"] for v in dashboard()["templating"]["list"]]
    return exprs


def metric_names(query: str) -> set[str]:
    """The metrics a PromQL query reads (label names and matchers left out)."""
    query = re.sub(r"\bby \([^)]*\)|\{[^}]*\}", "", query)
    query = re.sub(r"label_values\(([^,]+),[^)]*\)", r"\1", query)
    return set(re.findall(r"\bllmobserve_[a-zA-Z0-9_]+", query))


def label_names(query: str) -> set[str]:
    """The labels a PromQL query groups or filters by."""
    used = set()
    for group in re.findall(r"\bby \(([^)]*)\)", query):
        used |= {label.strip() for label in group.split(",")}
    used |= set(re.findall(r"([a-z_]+)(?:=~|!=|=)\"", query))
    used |= set(re.findall(r"label_values\([^,]+, *([a-z_]+)\)", query))
    return used


def test_dashboard_queries_only_metrics_the_collector_config_produces() -> None:
    metrics = collector_metrics()
    # The names derived from the config are the ones the real exporter exposed end to end.
    assert {COST, ATTRIBUTED_COST, CALLS} <= set(metrics)
    for query in queries():
        assert metric_names(query), query
        assert metric_names(query) <= set(metrics), query


def test_dashboard_groups_and_filters_by_labels_its_metrics_have() -> None:
    metrics = collector_metrics()
    for query in queries():
        (name,) = metric_names(query)
        assert label_names(query) <= metrics[name], f"{label_names(query) - metrics[name]} ({name})"


def test_dashboard_shows_cost_by_customer_section_and_model_over_time() -> None:
    panels = dashboard()["panels"]
    grouped_by = {
        label: {p["type"] for p in panels for t in p["targets"] if f"by ({label})" in t["expr"]}
        for label in ("llmobserve_customer_id", "llmobserve_section_path", "gen_ai_request_model")
    }
    for label, types in grouped_by.items():
        assert "timeseries" in types, f"no cost over time by {label}"
    uids = {p["datasource"]["uid"] for p in panels}
    provisioning = DEPLOY / grafana_mounts()["/etc/grafana/provisioning"]
    sources = load_yaml(provisioning / "datasources" / "datasources.yaml")["datasources"]
    assert uids <= {s["uid"] for s in sources}
