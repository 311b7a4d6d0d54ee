"""deploy/k8s: the proxy as an autoscaled Deployment behind a Service, the Collector as a gateway
running otel-collector-config.yaml. Parsed and cross-checked, not applied (no cluster here)."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from proxy.protocol import DEFAULT_PORT, HEALTH_PATH
from tests.deploy.facts import (
    CONFIG,
    DEPLOY,
    collector_ports,
    collector_variables,
    documented_in_readme,
    load_yaml,
    load_yaml_documents,
    proxy_variables,
)

K8S = DEPLOY / "k8s"


def resources() -> list[dict[str, Any]]:
    kustomization = load_yaml(K8S / "kustomization.yaml")
    return [doc for path in kustomization["resources"] for doc in load_yaml_documents(K8S / path)]


def resource(kind: str, name: str) -> dict[str, Any]:
    (found,) = (r for r in resources() if r["kind"] == kind and r["metadata"]["name"] == name)
    return found


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def container_port(deployment: dict[str, Any], port: int | str) -> int:
    """A numbered or named port of the deployment's container, as a number."""
    ports = container(deployment)["ports"]
    if isinstance(port, int):
        assert port in {p["containerPort"] for p in ports}, port
        return port
    (number,) = (p["containerPort"] for p in ports if p["name"] == port)
    return int(number)


def selects(service: dict[str, Any], deployment: dict[str, Any]) -> bool:
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    return bool(service["spec"]["selector"].items() <= labels.items())


def service_ports(service: dict[str, Any], deployment: dict[str, Any]) -> dict[int, int]:
    """Service port -> the container port it reaches."""
    return {
        p["port"]: container_port(deployment, p.get("targetPort", p["port"]))
        for p in service["spec"]["ports"]
    }


def environment(deployment: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(deployment).get("env", [])}


def compose_image(name: str) -> str:
    return str(load_yaml(DEPLOY / "docker-compose.yml")["services"][name]["image"])


def test_kustomization_lists_every_manifest_and_nothing_missing() -> None:
    listed = set(load_yaml(K8S / "kustomization.yaml")["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk


def test_deployments_select_their_own_pods() -> None:
    for deployment in (r for r in resources() if r["kind"] == "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_proxy_runs_three_replicas_of_the_proxy_image() -> None:
    proxy = resource("Deployment", "llmobserve-proxy")
    assert proxy["spec"]["replicas"] == 3
    assert container(proxy)["image"] == compose_image("proxy")
    dockerfile_cmd = next(
        line.removeprefix("CMD ")
        for line in (DEPLOY / "Dockerfile").read_text().splitlines()
        if line.startswith("CMD ")
    )
    assert container(proxy)["args"] == json.loads(dockerfile_cmd)
    assert proxy["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True


def test_proxy_probes_health_on_the_proxy_port() -> None:
    proxy = resource("Deployment", "llmobserve-proxy")
    for probe in ("readinessProbe", "livenessProbe"):
        check = container(proxy)[probe]["httpGet"]
        assert check["path"] == HEALTH_PATH
        assert container_port(proxy, check["port"]) == DEFAULT_PORT


def test_proxy_service_reaches_the_proxy_pods() -> None:
    proxy = resource("Deployment", "llmobserve-proxy")
    service = resource("Service", "llmobserve-proxy")
    assert selects(service, proxy)
    assert service_ports(service, proxy) == {DEFAULT_PORT: DEFAULT_PORT}


def test_proxy_autoscaler_scales_the_deployment_from_three_replicas_on_cpu() -> None:
    autoscaler = resource("HorizontalPodAutoscaler", "llmobserve-proxy")
    target = autoscaler["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "llmobserve-proxy")
    assert autoscaler["spec"]["minReplicas"] >= 3
    assert autoscaler["spec"]["maxReplicas"] > autoscaler["spec"]["minReplicas"]
    (metric,) = autoscaler["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    # CPU utilisation is measured against the request, so there must be one.
    proxy = resource("Deployment", "llmobserve-proxy")
    assert container(proxy)["resources"]["requests"]["cpu"]


def test_proxy_reads_only_variables_the_proxy_knows_and_sends_to_the_gateway() -> None:
    proxy = resource("Deployment", "llmobserve-proxy")
    env = environment(proxy)
    referenced = set(re.findall(r"\$\(([A-Z_]+)\)", " ".join(env.values())))
    for variable in env:
        if variable in referenced:
            continue  # a helper the other values expand, e.g. POD_NAME
        assert variable in proxy_variables(), variable
        if variable.startswith("LLMOBSERVE_"):
            assert documented_in_readme(variable), variable
    endpoint = urlsplit(env["OTEL_EXPORTER_OTLP_ENDPOINT"])
    collector = resource("Service", endpoint.hostname or "")
    gateway = resource("Deployment", "otel-collector")
    assert selects(collector, gateway)
    assert service_ports(collector, gateway)[endpoint.port or 0] == collector_ports()["otlp_http"]


def test_collector_config_map_is_otel_collector_config_verbatim() -> None:
    config_map = resource("ConfigMap", "otel-collector-config")
    assert config_map["data"]["config.yaml"] == CONFIG.read_text(), (
        "deploy/k8s/collector-config.yaml is out of date; regenerate it with the command in its "
        "header (kubectl create configmap ... --dry-run=client -o yaml)"
    )


def test_collector_gateway_runs_the_config_map() -> None:
    gateway = resource("Deployment", "otel-collector")
    spec = gateway["spec"]["template"]["spec"]
    args = container(gateway)["args"]
    config_path = args[args.index("--config") + 1]
    (mount,) = container(gateway)["volumeMounts"]
    (volume,) = (v for v in spec["volumes"] if v["name"] == mount["name"])
    assert volume["configMap"]["name"] == "otel-collector-config"
    (item,) = volume["configMap"]["items"]
    assert f"{mount['mountPath']}/{item['path']}" == config_path
    assert item["key"] == "config.yaml"
    assert container(gateway)["image"] == compose_image("collector")
    assert set(environment(gateway)) <= collector_variables()


def test_collector_gateway_listens_and_is_probed_on_the_config_ports() -> None:
    gateway = resource("Deployment", "otel-collector")
    ports = collector_ports()
    for port in ports.values():
        container_port(gateway, port)
    for probe in ("readinessProbe", "livenessProbe"):
        assert (
            container_port(gateway, container(gateway)[probe]["httpGet"]["port"]) == ports["health"]
        )
    service = resource("Service", "otel-collector")
    reached = service_ports(service, gateway)
    assert {ports["otlp_grpc"], ports["otlp_http"]} <= set(reached.values())
