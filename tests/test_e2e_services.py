"""Services with a live daemon and the real kubectl: the endpoints controller following a
readiness probe that flips (Endpoints, EndpointSlices, a watch, `describe svc`), the
clusterIP from the loopback range, the Service's variables in a later pod's environment."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import KUBECTL, kubectl

FILE = """
    apiVersion: v1
    kind: Service
    metadata: {{name: web}}
    spec:
      selector: {{app: web}}
      ports: [{{name: http, port: 80, targetPort: http}}]
    ---
    apiVersion: v1
    kind: Pod
    metadata: {{name: web, labels: {{app: web}}}}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "exec sleep 600"]
        ports: [{{name: http, containerPort: 8080}}]
        readinessProbe:
          exec: {{command: [test, -f, "{flag}"]}}
          periodSeconds: 1
          failureThreshold: 1
"""
PROXY_WARNING = "v1 Service has no traffic proxy in minikubelet: connect to the pods' ports"
LATER = """
apiVersion: v1
kind: Pod
metadata: {name: later}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "env | sort; exec sleep 600"]
"""


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Minikubelet, Path]]:
    tmp = tmp_path_factory.mktemp("services")
    flag = tmp / "ready"
    path = tmp / "all.yaml"
    path.write_text(textwrap.dedent(FILE.format(flag=flag)))
    daemon = Minikubelet(path, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon, flag
    finally:
        daemon.close()


def _endpoints(mk: Minikubelet) -> dict[str, object]:
    out, _, code = kubectl(mk, "get", "endpoints", "web", "-o", "json")
    return json.loads(out) if code == 0 else {}


def _subset(mk: Minikubelet) -> dict[str, list[dict[str, object]]]:
    subsets = _endpoints(mk).get("subsets") or [{}]
    assert isinstance(subsets, list)
    return subsets[0]  # type: ignore[no-any-return]


def test_readiness_moves_the_pod_in_and_out(setup: tuple[Minikubelet, Path]) -> None:
    mk, flag = setup
    mk.wait_for("not ready address", lambda: bool(_subset(mk).get("notReadyAddresses")))
    subset = _subset(mk)
    assert subset["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert subset["notReadyAddresses"][0]["targetRef"]["name"] == "web"  # type: ignore[index]
    out, err, code = kubectl(mk, "get", "endpoints", "web")
    assert (err, code) == ("", 0)
    assert out.splitlines()[1].split()[:2] == ["web", "<none>"]
    watch = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "get", "endpointslices", "-l",
         "kubernetes.io/service-name=web", "--watch", "-o",
         'jsonpath={.endpoints[*].conditions.ready}{"\\n"}'],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "KUBECONFIG": "/dev/null"},
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(watch.stdout or []), daemon=True)
    reader.start()
    try:
        mk.wait_for("the watch's first slice", lambda: bool(seen))
        flag.write_text("")
        mk.wait_for("ready address", lambda: bool(_subset(mk).get("addresses")))
        assert not _subset(mk).get("notReadyAddresses")
        out, _, _ = kubectl(mk, "get", "endpoints", "web")
        assert out.splitlines()[1].split()[1].endswith(":8080")
        out, err, code = kubectl(mk, "describe", "svc", "web")
        assert (err, code) == ("", 0)
        endpoints_line = next(line for line in out.splitlines() if line.startswith("Endpoints:"))
        assert endpoints_line.split()[1].endswith(":8080")
        flag.unlink()
        mk.wait_for("not ready again", lambda: bool(_subset(mk).get("notReadyAddresses")))
        mk.wait_for("the watch sees it", lambda: seen[-1:] == ["false\n"])
    finally:
        watch.terminate()
        watch.wait(timeout=30)
        reader.join(timeout=30)
    states = [line.strip() for line in seen]
    assert states[0] == "false"
    assert "true" in states
    assert states[-1] == "false"


def test_service_defaults_and_cluster_ip(setup: tuple[Minikubelet, Path]) -> None:
    mk, _ = setup
    out, err, code = kubectl(mk, "get", "svc", "web", "-o", "json")
    assert (err, code) == ("", 0)
    spec = json.loads(out)["spec"]
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("127.96.0.0/16")
    assert (spec["type"], spec["sessionAffinity"]) == ("ClusterIP", "None")
    assert spec["ports"] == [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": "http"}]
    bad = "{apiVersion: v1, kind: Service, metadata: {name: bad}, spec: {ports: [{port: 0}]}}"
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=bad)
    assert code != 0
    assert 'The Service "bad" is invalid' in err
    assert "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive" in err
    good = "{apiVersion: v1, kind: Service, metadata: {name: db}, spec: {clusterIP: None}}"
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=good)
    assert (out, code) == ("service/db created\n", 0)
    assert f"Warning: {PROXY_WARNING}" in err
    assert f'Service "web": {PROXY_WARNING}' in "\n".join(mk.stderr_lines)
    headless = json.loads(kubectl(mk, "get", "svc", "db", "-o", "json")[0])["spec"]
    assert headless["clusterIP"] == "None"


def test_later_pod_gets_service_env(setup: tuple[Minikubelet, Path]) -> None:
    mk, _ = setup
    _out, err, code = kubectl(mk, "apply", "-f", "-", stdin=LATER)
    assert code == 0, err
    spec = json.loads(kubectl(mk, "get", "svc", "web", "-o", "json")[0])["spec"]
    ip = spec["clusterIP"]

    def log() -> str:
        return kubectl(mk, "logs", "later")[0]

    mk.wait_for("later's env", lambda: "WEB_SERVICE_HOST=" in log())
    lines = log().splitlines()
    assert f"WEB_SERVICE_HOST={ip}" in lines
    assert "WEB_SERVICE_PORT=80" in lines
    assert "WEB_SERVICE_PORT_HTTP=80" in lines
    assert f"WEB_PORT=tcp://{ip}:80" in lines
    assert f"WEB_PORT_80_TCP_ADDR={ip}" in lines
    assert "KUBERNETES_SERVICE_PORT_HTTPS=" in log()


def test_kubectl_create_service_sends_protobuf_and_is_understood(
    setup: tuple[Minikubelet, Path],
) -> None:
    mk, _ = setup
    out, err, code = kubectl(mk, "create", "service", "clusterip", "made", "--tcp=8080:http")
    assert (out, code) == ("service/made created\n", 0), err
    spec = json.loads(kubectl(mk, "get", "svc", "made", "-o", "json")[0])["spec"]
    assert spec["selector"] == {"app": "made"}
    assert spec["ports"] == [
        {"name": "8080-http", "port": 8080, "protocol": "TCP", "targetPort": "http"}
    ]
    assert (spec["type"], spec["sessionAffinity"]) == ("ClusterIP", "None")
    assert ipaddress.ip_address(spec["clusterIP"]) in ipaddress.ip_network("127.96.0.0/16")
