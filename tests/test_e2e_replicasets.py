"""ReplicaSets and ReplicationControllers with a live daemon and the real kubectl:
examples/replicaset.yaml run from its file (three `frontend-xxxxx` pods owned by it), a
deleted pod replaced, a scale-down taking the unready pod first, an orphan adopted, a pod
whose labels change released, a Failed pod replaced, the table columns, describe, watch,
the status and scale subresources, bad input in the API server's words."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import KUBECTL, kubectl

EXAMPLE = Path(__file__).parent.parent / "examples" / "replicaset.yaml"
JSON = dict[str, Any]


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("replicasets")
    daemon = Minikubelet(EXAMPLE, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()


def pods(mk: Minikubelet, selector: str) -> list[JSON]:
    out, err, code = kubectl(mk, "get", "pods", "-l", selector, "-o", "json")
    assert code == 0, err
    return list(json.loads(out)["items"])


def active(mk: Minikubelet, selector: str) -> list[JSON]:
    return [
        p for p in pods(mk, selector)
        if not p["metadata"].get("deletionTimestamp")
        and p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
    ]  # fmt: skip


def ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def rs_status(mk: Minikubelet, name: str = "frontend", resource: str = "rs") -> JSON:
    out, _, code = kubectl(mk, "get", resource, name, "-o", "json")
    return dict(json.loads(out).get("status") or {}) if code == 0 else {}


def settled(mk: Minikubelet, n: int, selector: str = "tier=frontend") -> list[JSON]:
    """`n` active pods, all ready, and a status that says so."""

    def check() -> list[JSON] | None:
        now = active(mk, selector)
        status = rs_status(mk)
        if len(now) == n and all(ready(p) for p in now) and status.get("readyReplicas", 0) == n:
            return now
        return None

    result: list[JSON] = mk.wait_for(f"{n} ready frontend pods", check, timeout=60)
    return result


@contextlib.contextmanager
def owners_watched(mk: Minikubelet, name: str) -> Iterator[list[str]]:
    """Every controller-owner uid the pod shows, one per change, as `kubectl get -w` sees
    them ("" while it has none)."""
    watch = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "get", "pod", name, "--watch", "-o",
         'jsonpath={.metadata.ownerReferences[0].uid}{"\\n"}'],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "KUBECONFIG": "/dev/null"},
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(watch.stdout or []), daemon=True)
    reader.start()
    try:
        mk.wait_for("the watch's first line", lambda: bool(seen))
        yield seen
    finally:
        watch.terminate()
        watch.wait(timeout=30)
        reader.join(timeout=30)


def owner_uid(pod: JSON) -> str | None:
    refs = pod["metadata"].get("ownerReferences") or []
    return next((r["uid"] for r in refs if r.get("controller")), None)


def test_the_example_comes_up_owned_and_listed(mk: Minikubelet) -> None:
    up = settled(mk, 3)
    rs = json.loads(kubectl(mk, "get", "rs", "frontend", "-o", "json")[0])
    for pod in up:
        assert re.fullmatch(r"frontend-[bcdfghjklmnpqrstvwxz2456789]{5}", pod["metadata"]["name"])
        assert pod["metadata"]["generateName"] == "frontend-"
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "frontend",
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True,
        }]  # fmt: skip
    assert rs["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert rs["status"]["replicas"] == 3
    assert rs["status"]["availableReplicas"] == 3
    assert rs["status"]["fullyLabeledReplicas"] == 3
    assert rs["status"]["observedGeneration"] == rs["metadata"]["generation"]
    out, err, code = kubectl(mk, "get", "rs")
    assert (err, code) == ("", 0)
    assert out.split("\n")[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE"]
    assert out.split("\n")[1].split()[:4] == ["frontend", "3", "3", "3"]
    out, _, _ = kubectl(mk, "get", "replicasets", "-o", "wide")
    assert out.split("\n")[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE",
                                          "CONTAINERS", "IMAGES", "SELECTOR"]  # fmt: skip
    assert out.split("\n")[1].split()[5:] == ["php-redis", "busybox", "tier=frontend"]
    out, err, code = kubectl(mk, "get", "rs", "frontend", "--subresource=status")
    assert (err, code) == ("", 0)
    assert [ln.split()[:4] for ln in out.splitlines()] == [
        ["NAME", "DESIRED", "CURRENT", "READY"], ["frontend", "3", "3", "3"]]  # fmt: skip
    out, err, code = kubectl(mk, "get", "rs", "frontend", "--subresource=scale")
    assert (err, code) == ("", 0)
    assert [ln.split()[:3] for ln in out.splitlines()] == [
        ["NAME", "DESIRED", "AVAILABLE"], ["frontend", "3", "3"]]  # fmt: skip
    out, err, code = kubectl(mk, "describe", "rs", "frontend")
    assert (err, code) == ("", 0), err
    assert "Pods Status:  3 Running / 0 Waiting / 0 Succeeded / 0 Failed" in out
    assert "Selector:     tier=frontend" in out
    assert re.search(r"SuccessfulCreate\s+\S+\s+replicaset-controller\s+Created pod: frontend-",
                     out)  # fmt: skip


def test_a_deleted_pod_is_replaced(mk: Minikubelet) -> None:
    before = {p["metadata"]["name"] for p in settled(mk, 3)}
    victim = sorted(before)[0]
    _, err, code = kubectl(mk, "delete", "pod", victim, "--wait=false")
    assert code == 0, err
    after = {p["metadata"]["name"] for p in settled(mk, 3)}
    assert victim not in after
    assert len(after - before) == 1


def test_scale_down_takes_the_unready_pod_first(mk: Minikubelet) -> None:
    up = settled(mk, 3)
    unready = sorted(p["metadata"]["name"] for p in up)[1]
    flag = Path(f"/tmp/unready-{unready}")
    try:
        flag.write_text("")
        mk.wait_for("the pod unready", lambda: not ready(mk.pod(unready)), timeout=30)
        mk.wait_for("the status counts it", lambda: rs_status(mk).get("readyReplicas") == 2)
        out, err, code = kubectl(mk, "scale", "rs/frontend", "--replicas=1")
        assert (out.strip(), code) == ("replicaset.apps/frontend scaled", 0), err
        left = settled(mk, 1)
        assert unready not in {p["metadata"]["name"] for p in left}
        deleted = [e["message"] for e in mk.events() if e["reason"] == "SuccessfulDelete"]
        assert f"Deleted pod: {unready}" in deleted
        scale = json.loads(kubectl(mk, "get", "rs", "frontend", "--subresource=scale",
                                   "-o", "json")[0])  # fmt: skip
        assert scale["kind"] == "Scale"
        assert scale["spec"]["replicas"] == 1
    finally:
        flag.unlink(missing_ok=True)
        kubectl(mk, "scale", "rs/frontend", "--replicas=3")
    settled(mk, 3)


def test_a_pod_whose_labels_change_is_released(mk: Minikubelet) -> None:
    up = settled(mk, 3)
    rs_uid = owner_uid(up[0])
    name = up[0]["metadata"]["name"]
    flag = Path(f"/tmp/unready-{name}")
    try:
        _, err, code = kubectl(mk, "label", "pod", name, "tier=debug", "--overwrite")
        assert code == 0, err
        mk.wait_for("released", lambda: owner_uid(mk.pod(name)) is None)
        mk.wait_for("replaced", lambda: len(active(mk, "tier=frontend")) == 3)
        assert all(owner_uid(p) == rs_uid for p in active(mk, "tier=frontend"))
        assert mk.pod(name)["status"]["phase"] == "Running"  # released, not deleted
        with owners_watched(mk, name) as seen:
            flag.write_text("")  # a status write of the kubelet's keeps the release
            mk.wait_for("unready", lambda: not ready(mk.pod(name)), timeout=30)
            mk.wait_for("the watch sees it", lambda: len(seen) >= 2)
        assert {line.strip() for line in seen} == {""}
    finally:
        flag.unlink(missing_ok=True)
        kubectl(mk, "delete", "pod", name, "--wait=false")
    settled(mk, 3)


def test_a_failed_pod_is_replaced(mk: Minikubelet) -> None:
    up = settled(mk, 3)
    name = up[0]["metadata"]["name"]
    patch = json.dumps({"spec": {"activeDeadlineSeconds": 1}})
    _, err, code = kubectl(mk, "patch", "pod", name, "-p", patch)
    assert code == 0, err
    mk.wait_for("failed", lambda: mk.pod(name)["status"]["phase"] == "Failed", timeout=30)
    after = {p["metadata"]["name"] for p in settled(mk, 3)}
    assert name not in after
    assert mk.pod(name)["status"]["phase"] == "Failed"  # left in place, as upstream does
    kubectl(mk, "delete", "pod", name, "--wait=false")


ORPHAN = """
apiVersion: v1
kind: Pod
metadata: {{name: stray, labels: {{app: adopt}}}}
spec:
  containers:
  - name: c
    image: busybox
    command: [sh, -c, "exec sleep 600"]
    readinessProbe:
      exec: {{command: [test, "!", -e, "{flag}"]}}
      periodSeconds: 1
      failureThreshold: 1
"""
ADOPTER = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: adopter}
spec:
  replicas: 1
  selector: {matchLabels: {app: adopt}}
  template:
    metadata: {labels: {app: adopt}}
    spec:
      containers: [{name: c, image: busybox, command: [sh, -c, "exec sleep 600"]}]
"""


def test_an_orphan_with_matching_labels_is_adopted(mk: Minikubelet, tmp_path: Path) -> None:
    flag = tmp_path / "unready"
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=ORPHAN.format(flag=flag))
    assert code == 0, err
    mk.wait_for("the orphan ready", lambda: ready(mk.pod("stray")), timeout=30)
    try:
        _, err, code = kubectl(mk, "apply", "-f", "-", stdin=ADOPTER)
        assert code == 0, err
        uid = json.loads(kubectl(mk, "get", "rs", "adopter", "-o", "json")[0])["metadata"]["uid"]
        mk.wait_for("adopted", lambda: owner_uid(mk.pod("stray")) == uid)
        mk.wait_for("counted", lambda: rs_status(mk, "adopter").get("replicas") == 1)
        assert [p["metadata"]["name"] for p in active(mk, "app=adopt")] == ["stray"]
        with owners_watched(mk, "stray") as seen:
            flag.write_text("")  # a status write of the kubelet's keeps the adoption
            mk.wait_for("unready", lambda: not ready(mk.pod("stray")), timeout=30)
            mk.wait_for("the watch sees it", lambda: len(seen) >= 2)
        assert {line.strip() for line in seen} == {uid}
        assert [p["metadata"]["name"] for p in active(mk, "app=adopt")] == ["stray"]
    finally:
        kubectl(mk, "delete", "rs", "adopter", "--wait=false")
        kubectl(mk, "delete", "pod", "-l", "app=adopt", "--wait=false")


def test_watch_shows_the_ready_count_move(mk: Minikubelet) -> None:
    settled(mk, 3)
    watch = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "get", "rs", "frontend", "--watch", "--no-headers"],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "KUBECONFIG": "/dev/null"},
    )  # fmt: skip
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(watch.stdout or []), daemon=True)
    reader.start()
    try:
        mk.wait_for("the watch's first row", lambda: bool(seen))
        kubectl(mk, "scale", "rs/frontend", "--replicas=2")
        mk.wait_for("the watch sees 2", lambda: any(ln.split()[1:4] == ["2", "2", "2"]
                                                    for ln in seen))  # fmt: skip
    finally:
        watch.terminate()
        watch.wait(timeout=30)
        reader.join(timeout=30)
        kubectl(mk, "scale", "rs/frontend", "--replicas=3")
    assert seen[0].split()[1:4] == ["3", "3", "3"]
    settled(mk, 3)


def test_invalid_replica_sets_in_the_api_servers_words(mk: Minikubelet) -> None:
    bad = ADOPTER.replace("name: adopter", "name: bad").replace(
        "selector: {matchLabels: {app: adopt}}", "selector: {matchLabels: {app: other}}"
    )
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=bad)
    assert code == 1
    assert err.strip() == (
        'The ReplicaSet "bad" is invalid: spec.template.metadata.labels: Invalid value: '
        'map[string]string{"app":"adopt"}: `selector` does not match template `labels`'
    )
    _, err, code = kubectl(mk, "scale", "rs/frontend", "--replicas=-1")
    assert code == 1
    assert "replicas" in err
    changed = json.dumps({"spec": {"selector": {"matchLabels": {"tier": "x"}}}})
    _, err, code = kubectl(mk, "patch", "rs", "frontend", "-p", changed)
    assert code == 1
    assert "spec.selector: Invalid value: v1.LabelSelector{" in err
    assert "field is immutable" in err


RC = """
apiVersion: v1
kind: ReplicationController
metadata: {name: nginx}
spec:
  replicas: 2
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers: [{name: nginx, image: busybox, command: [sh, -c, "exec sleep 600"]}]
"""


def test_a_replication_controller(mk: Minikubelet) -> None:
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=RC)
    assert code == 0, err
    try:
        mk.wait_for("two nginx pods", lambda: len(active(mk, "app=nginx")) == 2)
        for pod in active(mk, "app=nginx"):
            assert pod["metadata"]["name"].startswith("nginx-")
            assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicationController"
        mk.wait_for("ready", lambda: rs_status(mk, "nginx", "rc").get("readyReplicas") == 2,
                    timeout=60)  # fmt: skip
        out, err, code = kubectl(mk, "get", "rc", "-o", "wide")
        assert (err, code) == ("", 0)
        header, row = out.split("\n")[:2]
        assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS",
                                  "IMAGES", "SELECTOR"]  # fmt: skip
        assert row.split()[:4] == ["nginx", "2", "2", "2"]
        assert row.split()[-1] == "app=nginx"
        _, _, code = kubectl(mk, "scale", "rc/nginx", "--replicas=1")
        assert code == 0
        mk.wait_for("one nginx pod", lambda: len(active(mk, "app=nginx")) == 1)
        out, err, code = kubectl(mk, "describe", "rc", "nginx")
        assert code == 0, err
        assert "replication-controller" in out
    finally:
        kubectl(mk, "delete", "rc", "nginx", "--wait=false")
        with contextlib.suppress(AssertionError):
            kubectl(mk, "delete", "pod", "-l", "app=nginx", "--wait=false")


def test_the_file_is_validated_too(tmp_path: Path) -> None:
    """A bad ReplicaSet in a file stops `run` with the API server's error, nothing started."""
    path = tmp_path / "bad.yaml"
    path.write_text(textwrap.dedent(ADOPTER.replace("replicas: 1", "replicas: -2")))
    daemon = Minikubelet(path, state_dir=tmp_path / "state")
    try:
        assert daemon.wait_exit(60) == 2
        text = "\n".join(daemon.stderr_lines + daemon.stdout_lines)
        assert "spec.replicas: Invalid value: -2: must be greater than or equal to 0" in text
    finally:
        daemon.close()


BROKEN = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: broken}
spec:
  replicas: 2
  selector: {matchLabels: {app: broken}}
  template:
    metadata: {labels: {app: broken}}
    spec:
      containers: [{name: c, image: busybox, command: [sleep, "600"]}]
      ephemeralContainers: [{name: debug, image: busybox}]
"""


def test_a_pod_the_api_refuses_is_a_failed_create_and_a_replica_failure(mk: Minikubelet) -> None:
    """A template may hold what a pod create may not (ephemeralContainers, as the API server
    validates a template and a pod create apart): FailedCreate events with the API's error,
    and the ReplicaFailure condition."""
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=BROKEN)
    assert code == 0, err
    try:
        conditions = mk.wait_for(
            "ReplicaFailure", lambda: rs_status(mk, "broken").get("conditions"), timeout=30
        )
        assert [(c["type"], c["status"], c["reason"]) for c in conditions] == [
            ("ReplicaFailure", "True", "FailedCreate")
        ]
        assert re.fullmatch(
            r'Pod "broken-\w{5}" is invalid: spec.ephemeralContainers: Forbidden: cannot be set '
            r"on create",
            conditions[0]["message"],
        )
        out, err, code = kubectl(mk, "describe", "rs", "broken")
        assert code == 0, err
        assert re.search(r"Warning\s+FailedCreate\s+\S+\s+replicaset-controller\s+Error "
                         r'creating: Pod "broken-\w{5}" is invalid', out)  # fmt: skip
        assert rs_status(mk, "broken").get("replicas") == 0
    finally:
        kubectl(mk, "delete", "rs", "broken", "--wait=false")


def _marked(marker: str) -> list[psutil.Process]:
    """The live processes whose environment carries this sandbox marker."""
    found = []
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            mine = proc.environ().get("MINIKUBELET_SANDBOX") == marker
            if mine and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
    return found


def _marker_of(pod: JSON) -> str:
    """The sandbox marker of a running pod's container process (found by its POD_NAME)."""
    name = pod["metadata"]["name"]
    for proc in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            environ = proc.environ()
            if environ.get("POD_NAME") == name and environ.get("MINIKUBELET_SANDBOX"):
                return environ["MINIKUBELET_SANDBOX"]
    raise AssertionError(f"no process of {name}")


def test_stopping_the_daemon_makes_no_replacements(tmp_path: Path) -> None:
    """At shutdown the controllers stop before the pods do: a ReplicaSet does not replace
    the pods being stopped with new ones that outlive the daemon."""
    daemon = Minikubelet(EXAMPLE, state_dir=tmp_path / "state")
    marker = ""
    try:
        daemon.wait_serving()
        up = settled(daemon, 3)
        marker = _marker_of(up[0])
        assert len(_marked(marker)) >= 3
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(60) == 0
        left = _marked(marker)
        assert left == [], [p.cmdline() for p in left]
        started = [ln for ln in daemon.stderr_lines if '"container started"' in ln]
        assert len(started) == 3, started
    finally:
        for proc in _marked(marker) if marker else []:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        daemon.close()
