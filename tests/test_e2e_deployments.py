"""Deployments with a live daemon and the real kubectl: examples/rolling-update run from its
files (a rolling update held by a new pod that never becomes Ready, the old pods kept, and
resumed when the probe passes; `rollout status`, `history`, `undo`), the kubectl commands
(`scale`, `set image`, `rollout restart/pause/resume`, `apply` of a changed template,
`get` with its columns, `-o wide`, `describe`, `-w`, the status and scale subresources),
`port-forward deploy/x`, the podinfo app as 3 replicas, the docs' nginx Deployment and bad
input in the API server's words."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import textwrap
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import KUBECTL, kubectl

# the ReplicaSet controller makes the pods (branch ctl-rs); until it is here, nothing runs
pytest.importorskip("minikubelet.controllers.replicaset")
EXAMPLES = Path(__file__).parent.parent / "examples"
JSON = dict[str, Any]


def get(mk: Minikubelet, *args: str) -> JSON:
    out, err, code = kubectl(mk, "get", *args, "-o", "json")
    assert code == 0, err
    data: JSON = json.loads(out)
    return data


def ok(mk: Minikubelet, *args: str, timeout: float = 20) -> str:
    out, err, code = kubectl(mk, *args, timeout=timeout)
    assert code == 0, (args, out, err)
    return out


def ready(pod: JSON) -> bool:
    conditions = pod.get("status", {}).get("conditions") or []
    return any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)


def live_pods(mk: Minikubelet, selector: str) -> list[JSON]:
    return [
        p
        for p in get(mk, "pods", "-l", selector)["items"]
        if not p["metadata"].get("deletionTimestamp")
    ]


def replica_sets(mk: Minikubelet, selector: str) -> dict[str, JSON]:
    """The Deployment's replica sets by their revision."""
    return {
        rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: rs
        for rs in get(mk, "rs", "-l", selector)["items"]
    }


def image_of(obj: JSON) -> str:
    return str(obj["spec"]["template"]["spec"]["containers"][0]["image"])


def rolled_out(mk: Minikubelet, name: str, timeout: float = 90) -> str:
    return ok(
        mk,
        "rollout",
        "status",
        f"deploy/{name}",
        f"--timeout={int(timeout)}s",
        timeout=timeout + 10,
    )


def columns(out: str) -> list[list[str]]:
    return [line.split() for line in out.strip().splitlines()]


# --- the rolling-update example, from its files -------------------------------------------


@pytest.fixture
def rolling(tmp_path: Path) -> Iterator[tuple[Minikubelet, Path, Path]]:
    """examples/rolling-update and the app it runs copied, the file that makes a version
    unready in this test's own directory."""
    shutil.copytree(EXAMPLES / "rolling-update", tmp_path / "rolling-update")
    shutil.copytree(EXAMPLES / "apps", tmp_path / "apps")
    gates = tmp_path / "gates"
    gates.mkdir()
    for path in (tmp_path / "rolling-update").glob("hello-*.yaml"):
        text = path.read_text()
        assert "/tmp/minikubelet-rolling-update" in text
        path.write_text(text.replace("/tmp/minikubelet-rolling-update", str(gates)))
    mk = Minikubelet(tmp_path / "rolling-update" / "hello-v1.yaml", state_dir=tmp_path / "state")
    try:
        mk.wait_serving()
        yield mk, tmp_path / "rolling-update", gates
    finally:
        mk.close()
        assert not mk.survivors()


def test_a_rolling_update_stalls_on_an_unready_pod_and_resumes(
    rolling: tuple[Minikubelet, Path, Path],
) -> None:
    mk, files, gates = rolling
    assert "successfully rolled out" in rolled_out(mk, "hello")
    assert columns(ok(mk, "get", "deploy", "hello"))[1][:4] == ["hello", "4/4", "4", "4"]
    [first] = replica_sets(mk, "app=hello").values()
    assert first["metadata"]["name"].startswith("hello-")
    hash_ = first["metadata"]["labels"]["pod-template-hash"]
    assert first["metadata"]["name"] == f"hello-{hash_}"
    for pod in live_pods(mk, "app=hello"):
        assert pod["metadata"]["name"].startswith(f"hello-{hash_}-")
        assert pod["metadata"]["labels"]["pod-template-hash"] == hash_

    # v2 whose readiness fails: one new pod (maxSurge 1), never Ready, the old four stay
    (gates / "unready-v2").touch()
    ok(mk, "apply", "-f", str(files / "hello-v2.yaml"))

    def new_pod_failing() -> JSON | None:
        sets = replica_sets(mk, "app=hello")
        if "2" not in sets:
            return None
        new_hash = sets["2"]["metadata"]["labels"]["pod-template-hash"]
        unhealthy = [
            e
            for e in mk.events()
            if e["reason"] == "Unhealthy"
            and e["involvedObject"]["name"].startswith(f"hello-{new_hash}-")
            and e.get("count", 1) >= 3
        ]
        return sets if unhealthy else None

    sets = mk.wait_for("the new pod failing its readiness probe", new_pod_failing, timeout=60)
    assert sets["1"]["spec"]["replicas"] == 4
    assert sets["2"]["spec"]["replicas"] == 1
    pods = live_pods(mk, "app=hello")
    assert sorted((image_of({"spec": {"template": p}}), ready(p)) for p in pods) == [
        ("example.local/hello:v1", True),
        ("example.local/hello:v1", True),
        ("example.local/hello:v1", True),
        ("example.local/hello:v1", True),
        ("example.local/hello:v2", False),
    ]
    status = get(mk, "deploy", "hello")["status"]
    assert status["replicas"] == 5
    assert status["updatedReplicas"] == 1
    assert status["availableReplicas"] == 4
    assert status["unavailableReplicas"] == 1
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Available"]["reason"] == "MinimumReplicasAvailable"
    assert conditions["Progressing"]["status"] == "True"
    assert conditions["Progressing"]["reason"] == "ReplicaSetUpdated"
    assert columns(ok(mk, "get", "deploy", "hello"))[1][:4] == ["hello", "4/4", "1", "4"]
    out, err, code = kubectl(mk, "rollout", "status", "deploy/hello", "--timeout=1s")
    assert code == 1
    assert (
        'Waiting for deployment "hello" rollout to finish: 1 out of 4 new replicas have been updated...'
        in out
    )
    assert "timed out waiting for the condition" in err

    # the probe passes: the rollout goes on and finishes
    (gates / "unready-v2").unlink()
    assert "successfully rolled out" in rolled_out(mk, "hello")
    sets = replica_sets(mk, "app=hello")
    assert (sets["1"]["spec"]["replicas"], sets["2"]["spec"]["replicas"]) == (0, 4)
    mk.wait_for(
        "only v2 pods",
        lambda: (
            {image_of({"spec": {"template": p}}) for p in live_pods(mk, "app=hello")}
            == {"example.local/hello:v2"}
        ),
    )
    deploy = get(mk, "deploy", "hello")
    assert deploy["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    progressing = {c["type"]: c for c in deploy["status"]["conditions"]}["Progressing"]
    assert progressing["reason"] == "NewReplicaSetAvailable"
    assert (
        progressing["message"]
        == f'ReplicaSet "{sets["2"]["metadata"]["name"]}" has successfully progressed.'
    )
    scaled = [e["message"] for e in mk.events() if e["reason"] == "ScalingReplicaSet"]
    assert f"Scaled up replica set {sets['2']['metadata']['name']} from 0 to 1" in scaled
    assert f"Scaled down replica set {first['metadata']['name']} from 4 to 3" in scaled

    # history and undo (kubectl patches the template back from the old replica set)
    history = columns(ok(mk, "rollout", "history", "deploy/hello"))
    assert history[0] == ["deployment.apps/hello"]
    assert [row[0] for row in history[2:]] == ["1", "2"]
    ok(mk, "rollout", "undo", "deploy/hello")
    assert "successfully rolled out" in rolled_out(mk, "hello")
    sets = replica_sets(mk, "app=hello")
    assert sorted(sets) == ["2", "3"]  # revision 1's set is revision 3 now
    assert sets["3"]["metadata"]["name"] == first["metadata"]["name"]
    assert sets["3"]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
    assert image_of(get(mk, "deploy", "hello")) == "example.local/hello:v1"


# --- kubectl against one daemon ------------------------------------------------------------


WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: app
        image: {image}
        command: [sleep, "600"]
        readinessProbe:
          exec: {{command: ["true"]}}
          periodSeconds: 1
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("deployments")
    path = tmp / "one.yaml"
    path.write_text(WEB.format(name="first", replicas=1, image="busybox:1.36"))
    daemon = Minikubelet(path, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()
        assert not daemon.survivors()


def apply(mk: Minikubelet, text: str) -> str:
    out, err, code = kubectl(mk, "apply", "-f", "-", stdin=text)
    assert code == 0, err
    return out


def test_a_deployment_from_a_file_runs(mk: Minikubelet) -> None:
    assert "successfully rolled out" in rolled_out(mk, "first")
    [pod] = live_pods(mk, "app=first")
    assert ready(pod)
    [owner] = pod["metadata"]["ownerReferences"]
    assert owner["kind"] == "ReplicaSet"
    assert owner["controller"] is True


def test_get_columns_wide_and_describe(mk: Minikubelet) -> None:
    assert "created" in apply(mk, WEB.format(name="cols", replicas=2, image="busybox:1.36"))
    rolled_out(mk, "cols")
    header, row = columns(ok(mk, "get", "deploy", "cols"))
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert row[:4] == ["cols", "2/2", "2", "2"]
    header, row = columns(ok(mk, "get", "deploy", "cols", "-o", "wide"))
    assert header == [
        "NAME",
        "READY",
        "UP-TO-DATE",
        "AVAILABLE",
        "AGE",
        "CONTAINERS",
        "IMAGES",
        "SELECTOR",
    ]
    assert row[5:] == ["app", "busybox:1.36", "app=cols"]
    assert ok(mk, "get", "deploy/cols", "-o", "name") == "deployment.apps/cols\n"
    described = ok(mk, "describe", "deploy", "cols")
    rs_name = next(iter(replica_sets(mk, "app=cols").values()))["metadata"]["name"]
    for line in (
        "Replicas:               2 desired | 2 updated | 2 total | 2 available | 0 unavailable",
        "StrategyType:           RollingUpdate",
        "RollingUpdateStrategy:  25% max unavailable, 25% max surge",
        f"NewReplicaSet:   {rs_name} (2/2 replicas created)",
        f"Scaled up replica set {rs_name} from 0 to 2",
    ):
        assert line in described, described
    assert "Available      True    MinimumReplicasAvailable" in described
    assert "Progressing    True    NewReplicaSetAvailable" in described
    everything = ok(mk, "get", "all", "-l", "app=cols")
    assert "deployment.apps/cols" in everything
    assert f"replicaset.apps/{rs_name}" in everything


def test_scale_and_the_scale_subresource(mk: Minikubelet) -> None:
    apply(mk, WEB.format(name="scaled", replicas=1, image="busybox:1.36"))
    rolled_out(mk, "scaled")
    assert ok(mk, "scale", "deploy/scaled", "--replicas=3") == "deployment.apps/scaled scaled\n"
    rolled_out(mk, "scaled")
    scale = json.loads(
        ok(mk, "get", "--raw", "/apis/apps/v1/namespaces/default/deployments/scaled/scale")
    )
    assert scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": "app=scaled"}
    assert len(live_pods(mk, "app=scaled")) == 3
    [rs] = replica_sets(mk, "app=scaled").values()
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == "3"
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "4"
    ok(mk, "scale", "deploy/scaled", "--replicas=1")
    mk.wait_for("one pod left", lambda: len(live_pods(mk, "app=scaled")) == 1, timeout=60)
    status = json.loads(
        ok(mk, "get", "--raw", "/apis/apps/v1/namespaces/default/deployments/scaled/status")
    )
    assert status["status"]["observedGeneration"] == status["metadata"]["generation"]


def test_set_image_restart_apply_and_history(mk: Minikubelet) -> None:
    apply(mk, WEB.format(name="hist", replicas=2, image="busybox:1.36"))
    rolled_out(mk, "hist")
    ok(mk, "set", "image", "deploy/hist", "app=busybox:1.37")
    ok(mk, "annotate", "deploy/hist", "kubernetes.io/change-cause=set image to 1.37")
    rolled_out(mk, "hist")
    ok(mk, "rollout", "restart", "deploy/hist")
    rolled_out(mk, "hist")
    restarted = get(mk, "deploy", "hist")["spec"]["template"]["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/restartedAt" in restarted
    assert "configured" in apply(mk, WEB.format(name="hist", replicas=2, image="busybox:1.38"))
    rolled_out(mk, "hist")
    sets = replica_sets(mk, "app=hist")
    assert sorted(sets) == ["1", "2", "3", "4"]
    assert [image_of(sets[r]) for r in "1234"] == [
        "busybox:1.36",
        "busybox:1.37",
        "busybox:1.37",
        "busybox:1.38",
    ]
    assert [sets[r]["spec"]["replicas"] for r in "1234"] == [0, 0, 0, 2]
    assert {image_of({"spec": {"template": p}}) for p in live_pods(mk, "app=hist")} == {
        "busybox:1.38"
    }
    history = ok(mk, "rollout", "history", "deploy/hist")
    assert "2         set image to 1.37" in history
    detail = ok(mk, "rollout", "history", "deploy/hist", "--revision=1")
    assert "revision #1" in detail
    assert "busybox:1.36" in detail


def test_pause_holds_a_template_change_and_resume_rolls_it_out(mk: Minikubelet) -> None:
    apply(mk, WEB.format(name="paused", replicas=1, image="busybox:1.36"))
    rolled_out(mk, "paused")
    ok(mk, "rollout", "pause", "deploy/paused")
    ok(mk, "set", "image", "deploy/paused", "app=busybox:1.37")

    def paused_condition() -> JSON | None:
        deploy = get(mk, "deploy", "paused")
        conditions = {c["type"]: c for c in deploy["status"].get("conditions") or []}
        observed = deploy["status"].get("observedGeneration") == deploy["metadata"]["generation"]
        progressing = conditions.get("Progressing") or {}
        return deploy if observed and progressing.get("reason") == "DeploymentPaused" else None

    deploy = mk.wait_for("the paused condition", paused_condition)
    assert {c["type"]: c["status"] for c in deploy["status"]["conditions"]}[
        "Progressing"
    ] == "Unknown"
    assert len(replica_sets(mk, "app=paused")) == 1  # no new replica set while paused
    _out, _, code = kubectl(mk, "rollout", "undo", "deploy/paused")
    assert code != 0
    ok(mk, "rollout", "resume", "deploy/paused")
    rolled_out(mk, "paused")
    assert sorted(replica_sets(mk, "app=paused")) == ["1", "2"]


def test_watch_shows_the_rollout(mk: Minikubelet) -> None:
    apply(mk, WEB.format(name="watched", replicas=1, image="busybox:1.36"))
    rolled_out(mk, "watched")
    watch = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "get", "deploy", "watched", "-w", "--output-watch-events"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "KUBECONFIG": "/dev/null"},
    )
    lines: list[list[str]] = []

    def read() -> None:
        assert watch.stdout is not None
        for line in watch.stdout:
            lines.append(line.split())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        mk.wait_for(
            "the watch's first row", lambda: ["ADDED", "watched", "1/1"] in [r[:3] for r in lines]
        )
        ok(mk, "scale", "deploy/watched", "--replicas=2")
        mk.wait_for(
            "the rollout seen",
            lambda: ["MODIFIED", "watched", "2/2", "2", "2"] in [r[:5] for r in lines],
            timeout=60,
        )
    finally:
        watch.terminate()
        watch.wait(timeout=10)
        reader.join(10)
    assert lines[0][:2] == ["EVENT", "NAME"]


def test_a_rollout_that_makes_no_progress_exceeds_its_deadline(mk: Minikubelet) -> None:
    never_ready = (
        WEB.format(name="stuck", replicas=1, image="busybox:1.36")
        .replace('exec: {command: ["true"]}', 'exec: {command: ["false"]}')
        .replace("replicas: 1", "replicas: 1\n  progressDeadlineSeconds: 2")
    )
    apply(mk, never_ready)
    _out, err, code = kubectl(mk, "rollout", "status", "deploy/stuck", "--timeout=60s", timeout=70)
    assert code == 1
    assert 'error: deployment "stuck" exceeded its progress deadline' in err
    conditions = {c["type"]: c for c in get(mk, "deploy", "stuck")["status"]["conditions"]}
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Progressing"]["reason"] == "ProgressDeadlineExceeded"
    [rs] = replica_sets(mk, "app=stuck").values()
    assert conditions["Progressing"]["message"] == (
        f'ReplicaSet "{rs["metadata"]["name"]}" has timed out progressing.'
    )
    assert conditions["Available"]["reason"] == "MinimumReplicasUnavailable"
    assert columns(ok(mk, "get", "deploy", "stuck"))[1][:4] == ["stuck", "0/1", "1", "0"]


def test_recreate_stops_the_old_pods_before_the_new_ones_start(mk: Minikubelet) -> None:
    recreate = WEB.format(name="recreate", replicas=2, image="busybox:1.36").replace(
        "replicas: 2", "replicas: 2\n  strategy: {type: Recreate}"
    )
    apply(mk, recreate)
    rolled_out(mk, "recreate")
    ok(mk, "set", "image", "deploy/recreate", "app=busybox:1.37")
    rolled_out(mk, "recreate")
    sets = replica_sets(mk, "app=recreate")
    old, new = sets["1"]["metadata"]["name"], sets["2"]["metadata"]["name"]
    scaled = [
        e["message"]
        for e in mk.events()
        if e["reason"] == "ScalingReplicaSet" and e["involvedObject"]["name"] == "recreate"
    ]
    assert scaled == [
        f"Scaled up replica set {old} from 0 to 2",
        f"Scaled down replica set {old} from 2 to 0",
        f"Scaled up replica set {new} from 0 to 2",
    ]
    created = {
        p["metadata"]["name"]: p["metadata"]["creationTimestamp"]
        for p in live_pods(mk, "app=recreate")
    }
    assert all(name.startswith(new) for name in created)


def test_kubectl_create_deployment_and_expose(mk: Minikubelet) -> None:
    """`kubectl create deployment` sends protobuf; `expose` reads the selector."""
    out = ok(mk, "create", "deployment", "made", "--image=busybox:1.36", "--", "sleep", "600")
    assert out == "deployment.apps/made created\n"
    ok(mk, "wait", "--for=condition=available", "deploy/made", "--timeout=60s", timeout=70)
    [pod] = live_pods(mk, "app=made")
    assert pod["spec"]["containers"][0]["command"] == ["sleep", "600"]
    ok(mk, "expose", "deployment", "made", "--port=80")
    assert get(mk, "svc", "made")["spec"]["selector"] == {"app": "made"}
    _, err, code = kubectl(mk, "get", "deploy", "missing")
    assert code == 1
    assert 'Error from server (NotFound): deployments.apps "missing" not found' in err


def test_server_side_apply_creates_and_changes_a_deployment(mk: Minikubelet) -> None:
    text = WEB.format(name="ssa", replicas=1, image="busybox:1.36")
    out, err, code = kubectl(mk, "apply", "--server-side", "-f", "-", stdin=text)
    assert code == 0, err
    assert out == "deployment.apps/ssa serverside-applied\n"
    rolled_out(mk, "ssa")
    changed = text.replace("replicas: 1", "replicas: 2").replace("busybox:1.36", "busybox:1.37")
    out, err, code = kubectl(mk, "apply", "--server-side", "-f", "-", stdin=changed)
    assert code == 0, err
    rolled_out(mk, "ssa")
    sets = replica_sets(mk, "app=ssa")
    assert [image_of(sets[r]) for r in ("1", "2")] == ["busybox:1.36", "busybox:1.37"]
    assert (sets["1"]["spec"]["replicas"], sets["2"]["spec"]["replicas"]) == (0, 2)


def test_bad_input_in_the_api_servers_words(mk: Minikubelet) -> None:
    bad = (
        WEB.format(name="bad", replicas=1, image="busybox")
        .replace("selector: {matchLabels: {app: bad}}", "selector: {matchLabels: {app: other}}")
        .replace("replicas: 1", "replicas: -1")
    )
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=bad)
    assert code == 1
    assert 'The Deployment "bad" is invalid: ' in err
    assert "spec.replicas: Invalid value: -1: must be greater than or equal to 0" in err
    assert (
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"bad"}: '
        "`selector` does not match template `labels`"
    ) in err
    _, err, code = kubectl(mk, "scale", "deploy/first", "--replicas=-1")
    assert code == 1
    assert "must be greater than or equal to 0" in err
    _, err, code = kubectl(
        mk,
        "patch",
        "deploy/first",
        "--type=merge",
        "-p",
        '{"spec":{"selector":{"matchLabels":{"app":"x"}}}}',
    )
    assert code == 1
    assert "field is immutable" in err


# --- port-forward deploy/x -------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_port_forward_to_a_deployment(mk: Minikubelet) -> None:
    port, local = free_port(), free_port()
    apply(
        mk,
        textwrap.dedent(f"""\
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: served}}
        spec:
          replicas: 1
          selector: {{matchLabels: {{app: served}}}}
          template:
            metadata: {{labels: {{app: served}}}}
            spec:
              containers:
              - name: web
                image: python:3.11-slim
                command: [python3, -m, http.server, "{port}", --bind, 127.0.0.1]
                ports: [{{containerPort: {port}}}]
                readinessProbe: {{tcpSocket: {{port: {port}}}, periodSeconds: 1}}
        """),
    )
    rolled_out(mk, "served")
    forward = subprocess.Popen(
        [KUBECTL, "--server", mk.url, "port-forward", "deploy/served", f"{local}:{port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "KUBECONFIG": "/dev/null"},
    )
    try:
        assert forward.stdout is not None
        line = forward.stdout.readline()
        assert f"Forwarding from 127.0.0.1:{local} -> {port}" in line
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
            assert response.status == 200
    finally:
        forward.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            forward.communicate(timeout=10)


# --- the examples people deploy --------------------------------------------------------------


def test_the_podinfo_app_runs_as_three_replicas(tmp_path: Path) -> None:
    with Minikubelet(EXAMPLES / "podinfo-replicas", state_dir=tmp_path / "state") as mk:
        mk.wait_for(
            "3/3 ready",
            lambda: columns(ok(mk, "get", "deploy", "podinfo"))[1][1] == "3/3",
            timeout=90,
        )
        pods = live_pods(mk, "app=podinfo")
        ports = set()
        for pod in pods:
            log = ok(mk, "logs", pod["metadata"]["name"])
            ports.add(log.split("127.0.0.1:")[1].split()[0])
        assert len(ports) == 3  # each on a port of its own
    assert not mk.survivors()


def test_the_docs_nginx_deployment_runs_from_its_published_yaml(tmp_path: Path) -> None:
    text = (EXAMPLES / "nginx-deployment.yaml").read_text()
    assert "image: nginx:1.14.2" in text
    assert "containerPort: 80" in text
    with Minikubelet(
        EXAMPLES / "nginx-deployment.yaml",
        "--image",
        "nginx:1.14.2=python3 -m http.server 0 --bind 127.0.0.1",
        state_dir=tmp_path / "state",
    ) as mk:
        # three replicas of one containerPort on one shared network: one runs, two wait
        def settled() -> list[list[str]] | None:
            rows = columns(ok(mk, "get", "pods", "-l", "app=nginx"))[1:]
            statuses = sorted(r[2] for r in rows)
            return rows if statuses == ["Pending", "Pending", "Running"] else None

        mk.wait_for("one running, two pending", settled, timeout=60)
        reasons = [e["message"] for e in mk.events() if e["reason"] == "FailedScheduling"]
        assert any("didn't have free ports" in m for m in reasons)
        ok(mk, "scale", "deploy/nginx-deployment", "--replicas=1")
        rolled_out(mk, "nginx-deployment")
    assert not mk.survivors()
