"""Ports on one shared network end to end: a pod whose ports are taken waits unscheduled."""

from __future__ import annotations

from pathlib import Path

from daemon_harness import Minikubelet, condition, event_messages, write_manifest
from test_e2e_kubectl import kubectl, rows

from minikubelet.core.ports import NO_FREE_PORTS

# The ports are only declared (nothing binds them), so no real port is needed.
PODS = """
    apiVersion: v1
    kind: Pod
    metadata: {name: first}
    spec:
      containers:
      - {name: app, image: busybox, command: [sleep, "600"], ports: [{containerPort: 7}]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: second}
    spec:
      initContainers:
      - name: side
        image: busybox
        restartPolicy: Always
        command: [sleep, "600"]
        ports: [{containerPort: 7}]
      containers:
      - {name: app, image: busybox, command: [sleep, "600"]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: third}
    spec:
      containers:
      - {name: app, image: busybox, command: [sleep, "600"], ports: [{containerPort: 7}]}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: udp}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sleep, "600"]
        ports: [{containerPort: 7, protocol: UDP}]
"""


def test_a_pod_whose_ports_are_taken_is_pending_until_they_free_up(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, PODS)
    with Minikubelet(manifest, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("first and udp running", lambda: all(
            mk.pod(n)["status"]["phase"] == "Running" for n in ("first", "udp")))  # fmt: skip
        second = mk.pod("second")
        assert second["status"]["phase"] == "Pending"
        scheduled = condition(second, "PodScheduled")
        assert scheduled is not None
        assert scheduled["status"] == "False"
        assert scheduled["reason"] == "Unschedulable"
        assert scheduled["message"] == NO_FREE_PORTS
        assert "containerStatuses" not in second["status"]
        assert "nodeName" not in second["spec"]  # not bound to the node yet
        assert rows(kubectl(mk, "get", "pods")[0])["second"][2] == "Pending"
        describe = kubectl(mk, "describe", "pod", "second")[0]
        assert "FailedScheduling" in describe
        assert "default-scheduler" in describe
        assert "didn't have free ports for the requested pod ports" in describe
        assert NO_FREE_PORTS in event_messages(mk, "FailedScheduling")
        assert mk.pod("third")["status"]["phase"] == "Pending"
        _out, err, code = kubectl(mk, "delete", "pod", "third", "--wait=true", timeout=60)
        assert code == 0, err
        assert mk.get("/api/v1/namespaces/default/pods/third")[0] == 404
        _out, err, code = kubectl(mk, "delete", "pod", "first", "--wait=true", timeout=60)
        assert code == 0, err
        mk.wait_for("second runs", lambda: mk.pod("second")["status"]["phase"] == "Running")
        assert condition(mk.pod("second"), "PodScheduled")["status"] == "True"  # type: ignore[index]
        assert mk.pod("second")["spec"]["nodeName"]  # bound once placed
        assert any("Successfully assigned default/second" in m
                   for m in event_messages(mk, "Scheduled"))  # fmt: skip
        assert "third" not in rows(kubectl(mk, "get", "pods")[0])


def test_a_finished_pod_frees_its_ports(tmp_path: Path) -> None:
    manifest = write_manifest(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: job}
        spec:
          restartPolicy: Never
          initContainers: [{name: gate, image: busybox, command: [sh, -c, "read x"], stdin: true}]
          containers:
          - {name: app, image: busybox, command: ["true"], ports: [{containerPort: 7}]}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: server}
        spec:
          containers:
          - {name: app, image: busybox, command: [sleep, "600"], ports: [{containerPort: 7}]}
        """,
    )
    with Minikubelet(manifest, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for(
            "job initialising", lambda: mk.pod("job")["status"].get("initContainerStatuses")
        )
        assert mk.pod("server")["status"]["phase"] == "Pending"
        kubectl(mk, "attach", "job", "-c", "gate", "-i", stdin="go\n", timeout=60)
        mk.wait_for("job done", lambda: mk.pod("job")["status"]["phase"] == "Succeeded")
        mk.wait_for("server runs", lambda: mk.pod("server")["status"]["phase"] == "Running")
