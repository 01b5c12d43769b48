"""ResourceQuota, LimitRange and PriorityClass with a live daemon and the real kubectl: a file
holding all three applied, their tables and `describe`, a pod defaulted by the LimitRange and
given its class's priority, pods refused in the admission plugins' words, and a Deployment
over quota whose ReplicaSet gets FailedCreate events."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import kubectl, kubectl_ok, rows

POLICY = """
    apiVersion: scheduling.k8s.io/v1
    kind: PriorityClass
    metadata: {name: high}
    value: 1000
    preemptionPolicy: Never
    description: important
    ---
    apiVersion: v1
    kind: LimitRange
    metadata: {name: limits, namespace: team}
    spec:
      limits:
      - type: Container
        default: {cpu: 200m, memory: 64Mi}
        defaultRequest: {cpu: 100m, memory: 32Mi}
        max: {cpu: 500m}
    ---
    apiVersion: v1
    kind: ResourceQuota
    metadata: {name: q, namespace: team}
    spec:
      hard: {pods: "2", requests.cpu: "1", limits.memory: 1Gi, configmaps: "2"}
"""
POD = """
    apiVersion: v1
    kind: Pod
    metadata: {{name: {name}, namespace: team}}
    spec:
      priorityClassName: {klass}
      containers:
      - name: app
        image: busybox
        command: [sleep, "600"]
        resources: {resources}
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("policy")
    path = tmp / "ns.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata: {name: team}\n")
    daemon = Minikubelet(path, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()


def _pod(name: str, klass: str = "high", resources: str = "{}") -> str:
    return textwrap.dedent(POD.format(name=name, klass=klass, resources=resources))


def _used(mk: Minikubelet, namespace: str, name: str) -> dict[str, str]:
    out = kubectl_ok(mk, "get", "quota", name, "-n", namespace, "-o", "json")
    return dict(json.loads(out).get("status", {}).get("used") or {})


def test_policy_kinds(mk: Minikubelet, tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(textwrap.dedent(POLICY))
    out = kubectl_ok(mk, "apply", "-f", str(path))
    assert out.splitlines() == [
        "priorityclass.scheduling.k8s.io/high created",
        "limitrange/limits created",
        "resourcequota/q created",
    ]
    out = kubectl_ok(mk, "get", "pc")
    assert out.splitlines()[0].split() == [
        "NAME", "VALUE", "GLOBAL-DEFAULT", "AGE", "PREEMPTIONPOLICY"]  # fmt: skip
    table = rows(out)
    assert table["high"][1:3] == ["1000", "false"]
    assert table["high"][4] == "Never"
    assert table["system-node-critical"][1] == "2000001000"
    assert table["system-cluster-critical"][1] == "2000000000"
    out = kubectl_ok(mk, "get", "limits", "-n", "team")
    assert out.splitlines()[0].split() == ["NAME", "CREATED", "AT"]
    assert "limits" in rows(out)
    mk.wait_for("the quota's status", lambda: _used(mk, "team", "q").get("pods") == "0", timeout=60)
    out = kubectl_ok(mk, "get", "quota", "-n", "team")
    assert out.splitlines()[0].split() == ["NAME", "AGE", "REQUEST", "LIMIT"]
    assert "configmaps: 0/2, pods: 0/2, requests.cpu: 0/1" in out
    assert "limits.memory: 0/1Gi" in out

    # a pod defaulted by the LimitRange, given its class's priority
    kubectl_ok(mk, "apply", "-f", "-", stdin=_pod("one"))
    got = json.loads(kubectl_ok(mk, "get", "pod", "one", "-n", "team", "-o", "json"))
    assert got["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "200m", "memory": "64Mi"},
        "requests": {"cpu": "100m", "memory": "32Mi"},
    }
    assert (got["spec"]["priority"], got["spec"]["preemptionPolicy"]) == (1000, "Never")
    assert got["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for "
        "container app"
    )
    mk.wait_for("one counted", lambda: _used(mk, "team", "q").get("pods") == "1", timeout=60)
    out = kubectl_ok(mk, "describe", "quota", "q", "-n", "team")
    described = {line.split()[0]: line.split()[1:] for line in out.splitlines()[3:] if line}
    assert described["pods"] == ["1", "2"]
    assert described["requests.cpu"] == ["100m", "1"]
    assert described["limits.memory"] == ["64Mi", "1Gi"]

    # refused: an unknown class, over the LimitRange's max, over the quota
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=_pod("two", klass="nope"))
    assert code != 0
    assert 'pods "two" is forbidden: no PriorityClass with name nope was found' in err
    big = "{limits: {cpu: '1'}}"
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=_pod("two", resources=big))
    assert code != 0
    assert 'pods "two" is forbidden: maximum cpu usage per Container is 500m, but limit is 1' in err
    kubectl_ok(mk, "apply", "-f", "-", stdin=_pod("two"))
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=_pod("three"))
    assert code != 0
    assert ('pods "three" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, '
            "limited: pods=2") in err  # fmt: skip
    kubectl_ok(mk, "create", "configmap", "a", "-n", "team")
    kubectl_ok(mk, "create", "configmap", "b", "-n", "team")
    _, err, code = kubectl(mk, "create", "configmap", "c", "-n", "team")
    assert code != 0
    assert ('configmaps "c" is forbidden: exceeded quota: q, requested: configmaps=1, used: '
            "configmaps=2, limited: configmaps=2") in err  # fmt: skip


def test_cpu_quota_wants_requests_and_deployment_fails_create(mk: Minikubelet) -> None:
    kubectl_ok(mk, "create", "namespace", "small")
    kubectl_ok(mk, "create", "quota", "cq", "-n", "small", "--hard=cpu=1,pods=1")
    mk.wait_for("cq's status", lambda: "pods" in _used(mk, "small", "cq"), timeout=60)
    _, err, code = kubectl(mk, "run", "bare", "-n", "small", "--image=busybox", "--", "sleep", "1")
    assert code != 0
    assert 'pods "bare" is forbidden: failed quota: cq: must specify cpu for: bare' in err
    kubectl_ok(mk, "apply", "-n", "small", "-f", "-", stdin=textwrap.dedent("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: 2
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - name: app
                image: busybox
                command: [sleep, "600"]
                resources: {requests: {cpu: 100m}}
    """))  # fmt: skip

    def failed() -> list[str]:
        out = kubectl_ok(mk, "get", "events", "-n", "small", "--field-selector",
                         "reason=FailedCreate", "-o", "json")  # fmt: skip
        return [e["message"] for e in json.loads(out)["items"]
                if e["involvedObject"]["kind"] == "ReplicaSet"]  # fmt: skip

    mk.wait_for("a FailedCreate event", lambda: bool(failed()), timeout=60)
    message = failed()[0]
    assert message.startswith('Error creating: pods "web-')
    assert message.endswith(
        "is forbidden: exceeded quota: cq, requested: pods=1, used: pods=1, limited: pods=1"
    )
    mk.wait_for("one pod counted", lambda: _used(mk, "small", "cq").get("pods") == "1", timeout=60)
    assert _used(mk, "small", "cq")["cpu"] == "100m"
