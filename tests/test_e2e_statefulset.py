"""StatefulSets and DaemonSets end to end: the real daemon running real processes, driven and
read with the real kubectl (apply, get with the printed columns, describe, scale, set image,
patch, rollout status/history/undo) and from files (`minikubelet run examples/...`).

The StatefulSet's pods are Ready once the test creates their marker file (an exec readiness
probe `test -f`), so the order they come up in is the test's to drive: web-1 must not exist
while web-0 is Running but not Ready."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet, event_messages

KUBECTL = str(Path(sys.executable).parent / "kubectl")
ROOT = Path(__file__).resolve().parent.parent

STATEFULSET = """
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: web}
    spec:
      serviceName: web
      replicas: 3
      selector: {matchLabels: {app: web}}
      template:
        metadata: {labels: {app: web}}
        spec:
          terminationGracePeriodSeconds: 10
          containers:
          - name: web
            image: busybox
            env:
            - {name: MARKS, value: "MARKS_DIR"}
            - name: POD_NAME
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            command: [sh, -c, 'trap "sleep 1; exit 0" TERM; while true; do sleep 0.2; done']
            readinessProbe:
              exec: {command: [sh, -c, 'test -f "$MARKS/$POD_NAME"']}
              periodSeconds: 1
"""


def manifest(marks: Path) -> str:
    return textwrap.dedent(STATEFULSET).replace("MARKS_DIR", str(marks))


def kubectl(mk: Minikubelet, *args: str, stdin: str = "", timeout: float = 60) -> str:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    result = subprocess.run([KUBECTL, "--server", mk.url, *args], input=stdin,
                            capture_output=True, text=True, timeout=timeout, env=env)  # fmt: skip
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result.stdout


def pods(mk: Minikubelet, label: str) -> dict[str, dict[str, Any]]:
    items = mk.get_json(f"/api/v1/namespaces/default/pods?labelSelector={label}")["items"]
    return {p["metadata"]["name"]: p for p in items}


def ready(pod: dict[str, Any] | None) -> bool:
    conditions = ((pod or {}).get("status") or {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def running(pod: dict[str, Any] | None) -> bool:
    return ((pod or {}).get("status") or {}).get("phase") == "Running"


def sts(mk: Minikubelet) -> dict[str, Any]:
    return mk.get_json("/apis/apps/v1/namespaces/default/statefulsets/web")


@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[Minikubelet, Path]]:
    marks = tmp_path / "marks"
    marks.mkdir()
    path = tmp_path / "web.yaml"
    path.write_text(manifest(marks))
    mk = Minikubelet(path, state_dir=tmp_path / "state")
    try:
        mk.wait_serving()
        yield mk, marks
    finally:
        mk.close()
    assert mk.survivors() == []


def bring_up(mk: Minikubelet, marks: Path, names: list[str]) -> None:
    """Each pod in turn: Running, the next one not yet made; then Ready (its mark)."""
    for i, name in enumerate(names):
        mk.wait_for(f"{name} running", lambda n=name: running(pods(mk, "app=web").get(n)))
        later = [n for n in names[i + 1 :] if n in pods(mk, "app=web")]
        assert later == [], f"{later} made before {name} was Ready"
        (marks / name).touch()
        mk.wait_for(f"{name} ready", lambda n=name: ready(pods(mk, "app=web").get(n)))


def test_pods_come_up_in_order_scale_down_in_reverse(web: tuple[Minikubelet, Path]) -> None:
    mk, marks = web
    bring_up(mk, marks, ["web-0", "web-1", "web-2"])
    mk.wait_for("status", lambda: sts(mk).get("status", {}).get("readyReplicas") == 3)
    out = kubectl(mk, "get", "sts", "-o", "wide")
    header, row = out.splitlines()[0].split(), out.splitlines()[1].split()
    assert header == ["NAME", "READY", "AGE", "CONTAINERS", "IMAGES"]
    assert (row[0], row[1], row[3], row[4]) == ("web", "3/3", "web", "busybox")
    pod = pods(mk, "app=web")["web-1"]
    labels = pod["metadata"]["labels"]
    assert labels["statefulset.kubernetes.io/pod-name"] == "web-1"
    assert labels["apps.kubernetes.io/pod-index"] == "1"
    assert labels["controller-revision-hash"] == sts(mk)["status"]["updateRevision"]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("web-1", "web")
    assert event_messages(mk, "SuccessfulCreate")[:3] == [
        f"create Pod web-{i} in StatefulSet web successful" for i in range(3)]  # fmt: skip

    assert kubectl(mk, "scale", "sts", "web", "--replicas=1") == "statefulset.apps/web scaled\n"

    def reverse_order() -> bool:
        now = pods(mk, "app=web")
        assert not (now.get("web-1", {}).get("metadata", {}).get("deletionTimestamp")
                    and "web-2" in now), "web-1 deleted while web-2 was still there"  # fmt: skip
        return set(now) == {"web-0"}

    mk.wait_for("scaled down to web-0", reverse_order, timeout=60)
    deletes = event_messages(mk, "SuccessfulDelete")
    assert deletes == [f"delete Pod web-{i} in StatefulSet web successful" for i in (2, 1)]
    scale = mk.get_json("/apis/apps/v1/namespaces/default/statefulsets/web/scale")
    assert (scale["spec"]["replicas"], scale["status"]["replicas"]) == (1, 1)


def test_rolling_update_with_partition_history_and_undo(web: tuple[Minikubelet, Path]) -> None:
    mk, marks = web
    for name in ("web-0", "web-1", "web-2"):
        (marks / name).touch()
    mk.wait_for("3 ready", lambda: sts(mk).get("status", {}).get("readyReplicas") == 3)
    first = sts(mk)["status"]["currentRevision"]
    kubectl(mk, "patch", "sts", "web", "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":1}}}}')  # fmt: skip
    kubectl(mk, "set", "image", "sts/web", "web=busybox:1.36")
    out = kubectl(mk, "rollout", "status", "sts/web", "--timeout=90s", timeout=120)
    assert out.splitlines()[-1] == "partitioned roll out complete: 2 new pods have been updated..."
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods(mk, "app=web").items()}
    assert images == {"web-0": "busybox", "web-1": "busybox:1.36", "web-2": "busybox:1.36"}
    status = sts(mk)["status"]
    assert status["currentRevision"] == first != status["updateRevision"]
    assert (status["updatedReplicas"], status["currentReplicas"]) == (2, 1)
    assert status["observedGeneration"] == sts(mk)["metadata"]["generation"] == 3

    history = kubectl(mk, "rollout", "history", "sts/web")
    assert history.split()[-4:] == ["1", "<none>", "2", "<none>"]
    revisions = kubectl(mk, "get", "controllerrevisions")
    assert "statefulset.apps/web" in revisions

    kubectl(mk, "patch", "sts", "web", "-p",
            '{"spec":{"updateStrategy":{"rollingUpdate":{"partition":0}}}}')  # fmt: skip
    assert kubectl(mk, "rollout", "undo", "sts/web") == "statefulset.apps/web rolled back\n"
    kubectl(mk, "rollout", "status", "sts/web", "--timeout=90s", timeout=120)

    def all_old() -> bool:
        now = pods(mk, "app=web")
        return len(now) == 3 and all(
            p["spec"]["containers"][0]["image"] == "busybox" and ready(p) for p in now.values()
        )

    mk.wait_for("rolled back", all_old, timeout=90)
    described = kubectl(mk, "describe", "sts", "web")
    assert "RollingUpdate" in described.split("Update Strategy:")[1].splitlines()[0]
    assert "create Pod web-2 in StatefulSet web successful" in described


DAEMONSET = """
    apiVersion: apps/v1
    kind: DaemonSet
    metadata: {name: agent}
    spec:
      selector: {matchLabels: {app: agent}}
      template:
        metadata: {labels: {app: agent}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: agent
            image: busybox
            command: [sh, -c, 'trap "exit 0" TERM; while true; do sleep 0.2; done']
            readinessProbe:
              exec: {command: ["true"]}
              periodSeconds: 1
"""


def ds(mk: Minikubelet) -> dict[str, Any]:
    return mk.get_json("/apis/apps/v1/namespaces/default/daemonsets/agent")


def test_daemonset_one_pod_rolling_update_and_node_selector(tmp_path: Path) -> None:
    path = tmp_path / "ds.yaml"
    path.write_text(textwrap.dedent(DAEMONSET))
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        out = kubectl(mk, "rollout", "status", "ds/agent", "--timeout=60s", timeout=90)
        assert out.splitlines()[-1] == 'daemon set "agent" successfully rolled out'
        (name,) = pods(mk, "app=agent")
        assert name.startswith("agent-")
        assert len(name) == len("agent-") + 5
        out = kubectl(mk, "get", "ds", "-o", "wide")
        header = out.splitlines()[0].split()
        assert header == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE",
                          "NODE", "SELECTOR", "AGE", "CONTAINERS", "IMAGES", "SELECTOR"]  # fmt: skip
        row = out.splitlines()[1].split()
        assert row[:7] == ["agent", "1", "1", "1", "1", "1", "<none>"]
        assert row[-3:] == ["agent", "busybox", "app=agent"]

        kubectl(mk, "set", "image", "ds/agent", "agent=busybox:1.36")
        kubectl(mk, "rollout", "status", "ds/agent", "--timeout=60s", timeout=90)

        def replaced() -> bool:
            now = pods(mk, "app=agent")
            return (
                list(now) != [name]
                and len(now) == 1
                and all(
                    p["spec"]["containers"][0]["image"] == "busybox:1.36" and ready(p)
                    for p in now.values()
                )
            )

        mk.wait_for("the pod replaced", replaced, timeout=60)
        status = ds(mk)["status"]
        assert status["updatedNumberScheduled"] == 1
        assert status["observedGeneration"] == 2
        assert f"Deleted pod: {name}" in event_messages(mk, "SuccessfulDelete")
        assert f"Created pod: {name}" in event_messages(mk, "SuccessfulCreate")
        history = kubectl(mk, "rollout", "history", "ds/agent").split()
        assert history[-4:] == ["1", "<none>", "2", "<none>"]

        kubectl(mk, "patch", "ds", "agent", "-p",
                '{"spec":{"template":{"spec":{"nodeSelector":{"disktype":"ssd"}}}}}')  # fmt: skip
        mk.wait_for("no pod", lambda: pods(mk, "app=agent") == {}, timeout=60)
        mk.wait_for("desired 0", lambda: ds(mk)["status"]["desiredNumberScheduled"] == 0)
        row = kubectl(mk, "get", "ds", "agent").splitlines()[1].split()
        assert row[1:7] == ["0", "0", "0", "0", "0", "disktype=ssd"]

        env = {**os.environ, "KUBECONFIG": "/dev/null"}
        applied = subprocess.run([KUBECTL, "--server", mk.url, "apply", "-f", "-"],
                                 input=textwrap.dedent(CLAIMS), capture_output=True, text=True,
                                 timeout=60, env=env, check=True)  # fmt: skip
        assert applied.stderr == ""  # the claims are made: nothing to warn of
        db = mk.wait_for("db-0", lambda: pods(mk, "app=db").get("db-0"))
        assert db["spec"]["volumes"][0] == {
            "name": "data", "persistentVolumeClaim": {"claimName": "data-db-0"}}  # fmt: skip
        claim = mk.wait_for("the claim bound", lambda: (
            (c := mk.get_json("/api/v1/namespaces/default/persistentvolumeclaims/data-db-0"))
            ["status"].get("phase") == "Bound" and c))  # fmt: skip
        assert claim["metadata"]["labels"] == {"app": "db"}
        assert "ownerReferences" not in claim["metadata"]  # Retain: it outlives the set
        assert ("create Claim data-db-0 Pod db-0 in StatefulSet db success"
                in event_messages(mk, "SuccessfulCreate"))  # fmt: skip
    assert mk.survivors() == []


CLAIMS = """
    apiVersion: apps/v1
    kind: StatefulSet
    metadata: {name: db}
    spec:
      replicas: 1
      selector: {matchLabels: {app: db}}
      template:
        metadata: {labels: {app: db}}
        spec:
          terminationGracePeriodSeconds: 2
          containers:
          - name: db
            image: busybox
            command: [sh, -c, 'd="${MINIKUBELET_VOLUME_DATA:-/data}"; echo x >> "$d/runs";
              echo "run $(wc -l < "$d/runs")"; trap "exit 0" TERM;
              while true; do sleep 0.2; done']
            volumeMounts: [{name: data, mountPath: /data}]
      volumeClaimTemplates:
      - metadata: {name: data}
        spec:
          accessModes: [ReadWriteOnce]
          resources: {requests: {storage: 1Gi}}
"""


@pytest.mark.parametrize(("example", "kind", "name"), [
    ("statefulset.yaml", "sts", "web"), ("daemonset.yaml", "ds", "agent")])  # fmt: skip
def test_examples_roll_out(tmp_path: Path, example: str, kind: str, name: str) -> None:
    """`minikubelet run examples/<x>.yaml` from the repository root, then `kubectl rollout
    status` as the file's comment says."""
    with Minikubelet(ROOT / "examples" / example, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        out = kubectl(mk, "rollout", "status", f"{kind}/{name}", "--timeout=90s", timeout=120)
        assert "rolled out" in out or "roll out complete" in out
    assert mk.survivors() == []


def test_one_sigterm_stops_the_daemon_with_a_statefulset(web: tuple[Minikubelet, Path]) -> None:
    """The controllers stop before the node stops its pods: a StatefulSet does not make them
    again, and one SIGTERM is enough."""
    mk, marks = web
    for name in ("web-0", "web-1", "web-2"):
        (marks / name).touch()
    mk.wait_for("3 ready", lambda: sts(mk).get("status", {}).get("readyReplicas") == 3)
    mk.signal(signal.SIGTERM)
    assert mk.wait_exit(timeout=60) == 0
    started = [line for line in mk.stderr_lines if '"event": "container started"' in line]
    assert len(started) == 3, started


def test_a_stateful_sets_claims_keep_their_data_across_pods_and_daemon_runs(
    tmp_path: Path,
) -> None:
    manifest = tmp_path / "db.yaml"
    manifest.write_text(textwrap.dedent(CLAIMS))
    state = tmp_path / "state"

    def log(mk: Minikubelet) -> str:
        return kubectl(mk, "logs", "db-0")

    with Minikubelet(manifest, state_dir=state) as mk:
        mk.wait_for("run 1", lambda: "run 1" in log(mk), timeout=60)
        kubectl(mk, "delete", "pod", "db-0")
        mk.wait_for("db-0 again, run 2", lambda: "run 2" in log(mk), timeout=60)
    with Minikubelet(manifest, state_dir=state) as mk:  # the daemon again, the same state dir
        mk.wait_for("run 3", lambda: "run 3" in log(mk), timeout=60)
    assert (state / "claims" / "default" / "data-db-0" / "runs").read_text() == "x\nx\nx\n"
    assert mk.survivors() == []


def test_when_scaled_delete_removes_the_claims_of_a_scale_down(tmp_path: Path) -> None:
    """`whenScaled: Delete`: `kubectl scale --replicas=1` hands db-1's claim to db-1, and the
    garbage collector deletes it, and its data, with the pod; db-0's claim and data stay."""
    text = textwrap.dedent(CLAIMS).replace(
        "replicas: 1\n",
        (
            "replicas: 2\n  podManagementPolicy: Parallel\n"
            "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Retain}\n"
        ),
    )
    manifest = tmp_path / "db.yaml"
    manifest.write_text(text)
    state = tmp_path / "state"
    claims = state / "claims" / "default"

    def pvcs(mk: Minikubelet) -> set[str]:
        return set(kubectl(mk, "get", "pvc", "-o", "name").split())

    with Minikubelet(manifest, state_dir=state) as mk:
        for pod in ("db-0", "db-1"):
            mk.wait_for(f"{pod} ran", lambda pod=pod: "run 1" in kubectl(mk, "logs", pod),
                        timeout=60)  # fmt: skip
        assert pvcs(mk) == {"persistentvolumeclaim/data-db-0", "persistentvolumeclaim/data-db-1"}
        kubectl(mk, "scale", "statefulset/db", "--replicas=1")
        mk.wait_for("data-db-1 deleted", lambda: pvcs(mk) == {"persistentvolumeclaim/data-db-0"},
                    timeout=60)  # fmt: skip
        mk.wait_for("its data removed", lambda: not (claims / "data-db-1").exists(), timeout=30)
        assert (claims / "data-db-0" / "runs").read_text() == "x\n"
    assert mk.survivors() == []
