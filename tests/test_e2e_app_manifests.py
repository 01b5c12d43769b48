"""The manifests people deploy, run as they are: the podinfo-like app (a Pod with only
`image:`, probes, a ConfigMap through envFrom, a Secret through secretKeyRef, a Service whose
endpoints follow readiness) from its directory with the local file beside it; the same
rendered by `kubectl kustomize` and piped in; a `helm template`-style rendering on stdin; and
one file holding a Namespace, ServiceAccount, ConfigMap, Secret, Service, Pod and Ingress."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from daemon_harness import Minikubelet

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KUBECTL = str(Path(sys.executable).parent / "kubectl")

pytestmark = pytest.mark.slow


def kubectl(mk: Minikubelet, *args: str) -> str:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    done = subprocess.run(
        [KUBECTL, "--server", mk.url, *args], capture_output=True, text=True, timeout=60, env=env
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def ready(mk: Minikubelet, name: str, namespace: str = "default") -> bool:
    conditions = mk.pod(name, namespace).get("status", {}).get("conditions", [])
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def test_the_podinfo_app_runs_from_its_directory(tmp_path: Path) -> None:
    with Minikubelet(EXAMPLES / "podinfo", state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("podinfo Ready", lambda: ready(mk, "podinfo"), timeout=60)
        with urllib.request.urlopen("http://127.0.0.1:9898/", timeout=10) as resp:
            info = json.load(resp)
        assert info["message"] == "hello from minikubelet"  # the ConfigMap, through envFrom
        assert info["secretSet"] is True  # the Secret, through secretKeyRef
        assert info["hostname"] == "podinfo"
        mk.wait_for(
            "the Service's endpoints hold the ready pod",
            lambda: "127.0.0.1:9898" in kubectl(mk, "get", "endpoints", "podinfo"),
            timeout=30,
        )
        assert mk.container("podinfo", "podinfo")["image"] == "ghcr.io/stefanprodan/podinfo:6.7.1"


def test_kustomize_rendering_is_accepted_as_it_comes(tmp_path: Path) -> None:
    rendered = subprocess.run(
        [KUBECTL, "kustomize", str(EXAMPLES / "podinfo")],
        capture_output=True, text=True, timeout=60, check=True,
    ).stdout  # fmt: skip
    assert "app.kubernetes.io/part-of: podinfo-demo" in rendered
    overlay = EXAMPLES / "podinfo" / "minikubelet.local.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "minikubelet", "validate", "-", "--overlay", str(overlay)],
        input=rendered, capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "1 pod(s) valid" in done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


HELM_RENDERED = """---
# Source: web/templates/configmap.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: release-web
  labels:
    helm.sh/chart: web-0.1.0
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: release
    app.kubernetes.io/managed-by: Helm
data:
  GREETING: "hi"
---
# Source: web/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: release-web
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: release
spec:
  type: ClusterIP
  ports:
    - port: 80
      targetPort: http
      protocol: TCP
      name: http
  selector:
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: release
---
# Source: web/templates/pod.yaml
apiVersion: v1
kind: Pod
metadata:
  name: release-web
  labels:
    app.kubernetes.io/name: web
    app.kubernetes.io/instance: release
spec:
  containers:
    - name: web
      image: "python:3.12-slim"
      imagePullPolicy: IfNotPresent
      command: ["python3", "-m", "http.server", "PORT", "--bind", "127.0.0.1"]
      ports:
        - name: http
          containerPort: PORT
          protocol: TCP
      envFrom:
        - configMapRef:
            name: release-web
      readinessProbe:
        httpGet:
          path: /
          port: http
        periodSeconds: 1
"""


def test_a_helm_template_rendering_runs_from_stdin(tmp_path: Path) -> None:
    port = free_port()
    text = HELM_RENDERED.replace("PORT", str(port))
    done = subprocess.run(
        [sys.executable, "-m", "minikubelet", "run", "-", "--port", "0",
         "--state-dir", str(tmp_path / "state"), "--until", "ready", "--timeout", "60"],
        input=text, capture_output=True, text=True, timeout=120, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: every pod is Ready" in done.stdout


def test_one_file_of_every_usual_kind(tmp_path: Path) -> None:
    with Minikubelet(EXAMPLES / "all-kinds.yaml", state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("the pod Ready", lambda: ready(mk, "shop", "shop"), timeout=60)
        listed = kubectl(mk, "get", "ns,sa,cm,secret,svc,ingress", "-n", "shop", "-o", "name")
        for name in (
            "namespace/shop",
            "serviceaccount/shop-app",
            "configmap/shop-config",
            "secret/shop-secret",
            "service/shop",
            "ingress.networking.k8s.io/shop",
        ):
            assert name in listed.split(), listed
        mk.wait_for(
            "the Service's endpoints",
            lambda: "127.0.0.1:8765" in kubectl(mk, "get", "endpoints", "shop", "-n", "shop"),
            timeout=30,
        )
    warnings = [line for line in mk.stderr_lines if "Ingress" in line and "no effect" in line]
    assert len(warnings) == 1, mk.stderr_lines[-20:]


SERVED = (
    "/api/v1/pods",
    "/api/v1/services",
    "/api/v1/endpoints",
    "/apis/discovery.k8s.io/v1/endpointslices",
    "/api/v1/configmaps",
    "/api/v1/secrets",
    "/api/v1/namespaces",
    "/api/v1/serviceaccounts",
    "/api/v1/events",
    "/api/v1/nodes",
    "/apis/networking.k8s.io/v1/ingresses",
)


def test_every_object_served_validates_against_the_official_schema(tmp_path: Path) -> None:
    """The official 1.34 schemas (kubernetes-validate) as the oracle: each object of each kind
    the daemon serves, with the example files' objects in it, decodes strictly."""
    import kubernetes_validate

    with Minikubelet(EXAMPLES / "all-kinds.yaml", state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("the pod Ready", lambda: ready(mk, "shop", "shop"), timeout=60)
        mk.wait_for(
            "the endpoints",
            lambda: mk.get_json("/api/v1/namespaces/shop/endpoints/shop").get("subsets"),
        )
        checked = set()
        for path in SERVED:
            listing = mk.get_json(path)
            kind = listing["kind"].removesuffix("List")
            for item in listing["items"]:
                obj = {"apiVersion": listing["apiVersion"], "kind": kind, **item}
                kubernetes_validate.validate(obj, "1.34", strict=True)
                checked.add(kind)
    assert {"Pod", "Service", "Endpoints", "EndpointSlice", "ConfigMap", "Secret", "Namespace",
            "ServiceAccount", "Event", "Node", "Ingress"} <= checked  # fmt: skip
