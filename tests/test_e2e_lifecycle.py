"""The whole pod lifecycle end to end: init containers, sidecars, postStart and preStop,
graceful termination, activeDeadlineSeconds, memory limits (OOMKilled), termination messages.
"""

from __future__ import annotations

import json
import signal
from pathlib import Path

from daemon_harness import Minikubelet, condition
from daemon_harness import event_messages as events_of
from daemon_harness import run_manifest as run


def logged_messages(mk: Minikubelet) -> list[str]:
    out = []
    for line in list(mk.stderr_lines):
        if line.startswith("{"):
            out.append(str(json.loads(line).get("message", "")))
    return out


def phase(mk: Minikubelet, name: str) -> str:
    return str(mk.pod(name)["status"]["phase"])


def test_init_containers_run_in_order_before_containers(tmp_path: Path) -> None:
    gate = tmp_path / "gate"
    order = tmp_path / "order"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: inits}}
        spec:
          initContainers:
          - name: first
            image: busybox
            command: [sh, -c, "echo first >> {order}; until [ -e {gate} ]; do sleep 0.05; done"]
          - name: second
            image: busybox
            command: [sh, -c, "echo second >> {order}"]
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "echo app >> {order}; sleep 600"]
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for(
            "first running",
            lambda: (
                (p := mk.pod("inits"))["status"]["initContainerStatuses"][0]["state"].get("running")
                and p
            ),
        )
        st = p["status"]
        assert st["phase"] == "Pending"
        assert [c["name"] for c in st["initContainerStatuses"]] == ["first", "second"]
        assert st["initContainerStatuses"][1]["state"] == {"waiting": {"reason": "PodInitializing"}}
        assert st["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
        init = condition(p, "Initialized")
        assert init is not None
        assert (init["status"], init["reason"]) == ("False", "ContainersNotInitialized")
        assert init["message"] == "containers with incomplete status: [first second]"
        gate.touch()
        p = mk.wait_for(
            "Running", lambda: (p := mk.pod("inits"))["status"]["phase"] == "Running" and p
        )
        assert [
            c["state"]["terminated"]["reason"] for c in p["status"]["initContainerStatuses"]
        ] == [
            "Completed",
            "Completed",
        ]
        assert condition(p, "Initialized")["status"] == "True"  # type: ignore[index]
        mk.wait_for("app ran", lambda: order.read_text() == "first\nsecond\napp\n")


def test_failed_init_container_under_never_fails_the_pod(tmp_path: Path) -> None:
    marker = tmp_path / "app-ran"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: badinit}}
        spec:
          restartPolicy: Never
          initContainers:
          - name: setup
            image: busybox
            command: [sh, -c, "exit 2"]
          containers:
          - name: app
            image: busybox
            command: [touch, "{marker}"]
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for(
            "Failed", lambda: (p := mk.pod("badinit"))["status"]["phase"] == "Failed" and p
        )
        setup = p["status"]["initContainerStatuses"][0]
        assert setup["state"]["terminated"]["exitCode"] == 2
        assert not marker.exists()


def test_failed_init_container_is_restarted_with_backoff(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: retryinit}
        spec:
          initContainers:
          - name: setup
            image: busybox
            command: [sh, -c, "exit 1"]
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
    """
    with run(tmp_path, pod, "--backoff-initial", "1", "--backoff-max", "1") as mk:
        c = mk.wait_for(
            "init crash loop",
            lambda: (
                (c := mk.container("retryinit", "setup"))["state"].get("waiting", {}).get("reason")
                == "CrashLoopBackOff"
                and c
            ),
        )
        assert c["restartCount"] >= 1
        assert phase(mk, "retryinit") == "Pending"


def test_sidecar_starts_first_and_stops_last(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: withsidecar}}
        spec:
          terminationGracePeriodSeconds: 5
          initContainers:
          - name: side
            image: busybox
            restartPolicy: Always
            command: [sh, -c, "echo side-start >> {log}; trap 'echo side-stop >> {log}; exit 0' TERM; while true; do sleep 0.05; done"]
            startupProbe:
              exec: {{command: ["true"]}}
              periodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "echo app-start >> {log}; trap 'echo app-stop >> {log}; exit 0' TERM; while true; do sleep 0.05; done"]
    """
    mk = run(tmp_path, pod)
    try:
        mk.wait_serving()
        p = mk.wait_for(
            "Ready",
            lambda: (
                (p := mk.pod("withsidecar")) and condition(p, "Ready")["status"] == "True" and p
            ),  # type: ignore[index]
        )
        side = p["status"]["initContainerStatuses"][0]
        assert side["started"] is True
        assert side["ready"] is True
        assert "running" in side["state"]
        assert p["status"]["phase"] == "Running"
        mk.signal(signal.SIGTERM)
        assert mk.wait_exit() == 0
        assert log.read_text().splitlines() == ["side-start", "app-start", "app-stop", "side-stop"]
    finally:
        mk.close()


def test_sidecar_does_not_keep_a_finished_pod_alive(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: jobsidecar}
        spec:
          restartPolicy: Never
          initContainers:
          - name: side
            image: busybox
            restartPolicy: Always
            command: [sleep, "600"]
          containers:
          - name: job
            image: busybox
            command: [sh, -c, "sleep 0.5"]
    """
    with run(tmp_path, pod) as mk:
        mk.wait_for("Succeeded", lambda: phase(mk, "jobsidecar") == "Succeeded", timeout=40)


def test_post_start_failure_kills_and_waits_with_reason(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: hookfail}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            lifecycle:
              postStart:
                exec: {command: [sh, -c, "echo nope; exit 1"]}
    """
    with run(tmp_path, pod, "--backoff-initial", "5") as mk:
        mk.wait_for(
            "PostStartHookError",
            lambda: (
                (c := mk.container("hookfail", "app"))["state"].get("waiting", {}).get("reason")
                in ("PostStartHookError", "CrashLoopBackOff")
                and c["restartCount"] >= 1
                and c
            ),
        )
        assert "PostStartHook failed" in events_of(mk, "FailedPostStartHook")
        assert "FailedPostStartHook" in events_of(mk, "Killing")
        message = (
            'Exec lifecycle hook ([sh -c echo nope; exit 1]) for Container "app" in Pod '
            '"hookfail_default('
        )
        mk.wait_for("hook message logged", lambda: any(message in m for m in logged_messages(mk)))


def test_post_start_runs_before_running(tmp_path: Path) -> None:
    marker = tmp_path / "hooked"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: hookok}}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            lifecycle:
              postStart:
                exec: {{command: [sh, -c, "sleep 1; touch {marker}"]}}
    """
    with run(tmp_path, pod) as mk:
        mk.wait_for("running", lambda: "running" in mk.container("hookok", "app")["state"])
        assert marker.exists()


def test_pre_stop_runs_before_sigterm_and_counts_against_grace(tmp_path: Path) -> None:
    log = tmp_path / "log"
    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: drain}}
        spec:
          terminationGracePeriodSeconds: 3
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "trap 'echo term >> {log}; exit 0' TERM; while true; do sleep 0.05; done"]
            lifecycle:
              preStop:
                exec: {{command: [sh, -c, "echo prestop >> {log}; sleep 1"]}}
    """
    mk = run(tmp_path, pod)
    try:
        mk.wait_serving()
        mk.wait_for("running", lambda: phase(mk, "drain") == "Running")
        mk.signal(signal.SIGTERM)
        assert mk.wait_exit() == 0
        assert log.read_text().splitlines() == ["prestop", "term"]
    finally:
        mk.close()


def test_active_deadline_fails_the_pod(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: deadline}
        spec:
          activeDeadlineSeconds: 1
          terminationGracePeriodSeconds: 1
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for(
            "Failed", lambda: (p := mk.pod("deadline"))["status"]["phase"] == "Failed" and p
        )
        assert p["status"]["reason"] == "DeadlineExceeded"
        assert (
            p["status"]["message"]
            == "Pod was active on the node longer than the specified deadline"
        )
        mk.wait_for(
            "container stopped",
            lambda: "terminated" in mk.container("deadline", "app")["state"],
        )


def test_memory_limit_oomkilled(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: hog}
        spec:
          restartPolicy: Never
          containers:
          - name: hog
            image: python
            command: [python3, -c, "import time\\nx=[]\\nwhile True:\\n x.append(bytearray(8<<20))\\n time.sleep(0.02)"]
            resources:
              limits: {memory: 64Mi}
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for("Failed", lambda: (p := mk.pod("hog"))["status"]["phase"] == "Failed" and p)
        term = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert (term["reason"], term["exitCode"]) == ("OOMKilled", 137)
        assert p["status"]["qosClass"] == "Burstable"


def test_fallback_to_logs_on_error(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: msg}
        spec:
          restartPolicy: Never
          containers:
          - name: app
            image: busybox
            terminationMessagePolicy: FallbackToLogsOnError
            command: [sh, -c, "echo line one; echo line two >&2; exit 1"]
    """
    with run(tmp_path, pod) as mk:
        p = mk.wait_for("Failed", lambda: (p := mk.pod("msg"))["status"]["phase"] == "Failed" and p)
        term = p["status"]["containerStatuses"][0]["state"]["terminated"]
        assert term["message"] == "line one\nline two"


def test_guaranteed_qos(tmp_path: Path) -> None:
    pod = """
        apiVersion: v1
        kind: Pod
        metadata: {name: guaranteed}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sleep, "600"]
            resources:
              limits: {memory: 1Gi, cpu: 500m}
    """
    with run(tmp_path, pod) as mk:
        assert mk.pod("guaranteed")["status"]["qosClass"] == "Guaranteed"
        mk.wait_for(
            "cpu limit warning",
            lambda: any("cpu" in line and "not enforced" in line for line in mk.stderr_lines),
        )


def test_containers_start_one_at_a_time_after_their_post_start(tmp_path: Path) -> None:
    """kubelet SyncPod: sidecars, then regular containers, one at a time; each start returns
    only once its postStart hook has; a failed hook kills that container, the next starts."""
    log = tmp_path / "order"

    def container(name: str, hook_exit: int = 0, *, sidecar: bool = False) -> str:
        wait = f"until grep -q '^{name} Starting$' {log}; do sleep 0.05; done; sleep 0.5"
        hook = f"{wait}; echo PostStart-{name} exit {hook_exit} >> {log}; exit {hook_exit}"
        return f"""
          - name: {name}
            image: busybox
            {"restartPolicy: Always" if sidecar else ""}
            command: [sh, -c, "echo {name} Starting >> {log}; exec sleep 600"]
            lifecycle:
              postStart:
                exec: {{command: [sh, -c, "{hook}"]}}"""

    pod = f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: order}}
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          initContainers:{container("sidecar-1", sidecar=True)}{container("sidecar-2", sidecar=True)}
          containers:{container("regular-1")}{container("regular-2", 1)}{container("regular-3")}
    """
    with run(tmp_path, pod) as mk:
        mk.wait_for(
            "regular-3 running",
            lambda: "running" in mk.container("order", "regular-3")["state"],
            timeout=60,
        )
        mk.wait_for("its hook logged", lambda: len(log.read_text().splitlines()) >= 10)
        assert log.read_text().splitlines() == [
            "sidecar-1 Starting",
            "PostStart-sidecar-1 exit 0",
            "sidecar-2 Starting",
            "PostStart-sidecar-2 exit 0",
            "regular-1 Starting",
            "PostStart-regular-1 exit 0",
            "regular-2 Starting",
            "PostStart-regular-2 exit 1",
            "regular-3 Starting",
            "PostStart-regular-3 exit 0",
        ]
        assert "FailedPostStartHook" in events_of(mk, "Killing")
        failed = mk.container("order", "regular-2")
        assert failed["state"]["terminated"]["exitCode"] == 143  # SIGTERM
