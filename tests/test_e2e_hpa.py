"""The HorizontalPodAutoscaler with a live daemon and the real kubectl: `kubectl autoscale`
(an autoscaling/v2 HPA sent as protobuf) over a Deployment whose container burns CPU above
its request scales it to `--max`, and `kubectl get hpa` shows it; an HPA on a metric type
minikubelet cannot read is warned of at create and reports ScalingActive False."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from daemon_harness import Minikubelet, event_messages, serving
from test_e2e_kubectl import kubectl, kubectl_ok

JSON = dict[str, Any]
# busy half the time: several times a 100m request, whatever the machine's load
BURN = (
    "import time\n"
    "while True:\n"
    "    t = time.monotonic()\n"
    "    while time.monotonic() - t < 0.05:\n"
    "        pass\n"
    "    time.sleep(0.05)\n"
)
MANIFEST = f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: burner}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: burner}}}}
  template:
    metadata: {{labels: {{app: burner}}}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: burn
        image: python
        command: ["python3", "-c", {json.dumps(BURN)}]
        resources: {{requests: {{cpu: 100m}}}}
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    yield from serving(tmp_path_factory, "hpa", MANIFEST)


def _get(mk: Minikubelet, *args: str) -> JSON:
    data: JSON = json.loads(kubectl_ok(mk, "get", *args, "-o", "json"))
    return data


def _wait(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        assert time.monotonic() < deadline, what
        time.sleep(1)


@pytest.mark.timeout(400)
def test_kubectl_autoscale_scales_a_busy_deployment_up(mk: Minikubelet) -> None:
    out = kubectl_ok(mk, "autoscale", "deploy/burner", "--cpu-percent=50", "--min=1", "--max=3")
    assert "horizontalpodautoscaler.autoscaling/burner autoscaled" in out
    hpa = _get(mk, "hpa", "burner")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1", "kind": "Deployment", "name": "burner"
    }  # fmt: skip
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization", "averageUtilization": 50
    }  # fmt: skip

    def scaled() -> bool:
        status = _get(mk, "hpa", "burner").get("status") or {}
        deploy = _get(mk, "deploy", "burner")
        return status.get("desiredReplicas") == 3 and deploy["spec"]["replicas"] == 3

    try:
        _wait(scaled, 300, "the HPA never scaled the Deployment to 3")
        table = kubectl_ok(mk, "get", "hpa", "burner")
        header, row = table.splitlines()[:2]
        assert header.split() == [
            "NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"
        ]  # fmt: skip
        cells = row.split()
        assert cells[:2] == ["burner", "Deployment/burner"]
        assert cells[2] == "cpu:"
        assert cells[3].endswith("%/50%")
        assert cells[4:6] == ["1", "3"]
        messages = event_messages(mk, "SuccessfulRescale")
        assert any(
            m.startswith("New size: ")
            and m.endswith(
                "; reason: cpu resource utilization (percentage of request) above target"
            )
            for m in messages
        ), messages
        status = _get(mk, "hpa", "burner")["status"]
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["AbleToScale"]["status"] == "True"
        assert conditions["ScalingActive"]["reason"] == "ValidMetricFound"
        assert status["currentMetrics"][0]["resource"]["name"] == "cpu"
        assert "lastScaleTime" in status
    finally:
        kubectl_ok(mk, "delete", "hpa", "burner")
        kubectl_ok(mk, "scale", "deploy/burner", "--replicas=0")


@pytest.mark.timeout(200)
def test_unsupported_metric_type_is_warned_of_and_inactive(mk: Minikubelet) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "custom"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burner"},
            "minReplicas": 1,
            "maxReplicas": 2,
            "metrics": [{"type": "Pods", "pods": {
                "metric": {"name": "packets-per-second"},
                "target": {"type": "AverageValue", "averageValue": "1k"}}}],
        },
    }  # fmt: skip
    kubectl_ok(mk, "scale", "deploy/burner", "--replicas=1")
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=json.dumps(hpa))
    assert code == 0, err
    assert "a Pods metric needs a custom or external metrics API" in err
    try:

        def inactive() -> JSON | None:
            status = _get(mk, "hpa", "custom").get("status") or {}
            found = {c["type"]: c for c in status.get("conditions") or []}
            active = found.get("ScalingActive")
            return active if active and active["status"] == "False" else None

        active = _wait(inactive, 120, "ScalingActive never became False")
        assert active["reason"] == "FailedGetPodsMetric"
        assert active["message"].startswith("the HPA was unable to compute the replica count: ")
    finally:
        kubectl_ok(mk, "delete", "hpa", "custom")
        kubectl_ok(mk, "scale", "deploy/burner", "--replicas=0")
