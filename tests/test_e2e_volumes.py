"""Volumes with a live daemon, real processes and the real kubectl, in host mode (each volume
a real directory, MINIKUBELET_VOLUME_<NAME> in the environment): the docs' two containers
sharing an emptyDir, an init container writing the config the app reads, a ConfigMap volume
edited through the API while the pod runs (the file changes, a subPath copy does not), a
missing ConfigMap waiting with FailedMount until it is created, hostPath type errors,
subPathExpr errors, emptyDir sizeLimit eviction, and a claim whose data outlives the pod and
the daemon."""

from __future__ import annotations

import json
import textwrap
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import kubectl, rows

from minikubelet.runtime import mountns

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

FILE = """
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: app-config}
    data: {app.properties: color=blue, other: "1"}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds}
    stringData: {password: hunter2}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: watcher, labels: {app: watcher}}
    spec:
      volumes:
      - name: config
        configMap: {name: app-config}
      - name: creds
        secret: {secretName: creds, defaultMode: 0400}
      - name: info
        downwardAPI:
          items:
          - {path: labels, fieldRef: {fieldPath: metadata.labels}}
      containers:
      - name: app
        image: busybox
        command: [sh, -c]
        args:
        - |
          labels=$(MINIKUBELET_VOLUME_INFO)/labels
          while true; do
            echo "config $(cat "$MINIKUBELET_VOLUME_CONFIG/app.properties")"
            echo "secret $(cat "$MINIKUBELET_VOLUME_CREDS/password")"
            echo "labels $(cat "$labels")"
            sleep 0.2
          done
        volumeMounts:
        - {name: config, mountPath: /etc/config}
        - {name: config, mountPath: /etc/app.properties, subPath: app.properties}
        - {name: creds, mountPath: /etc/creds}
        - {name: info, mountPath: /etc/podinfo}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: api-access}
    spec:
      volumes:
      - name: kube-api-access-abcde
        projected:
          defaultMode: 420
          sources:
          - serviceAccountToken: {expirationSeconds: 3607, path: token}
          - configMap:
              name: kube-root-ca.crt
              items: [{key: ca.crt, path: ca.crt}]
          - downwardAPI:
              items:
              - path: namespace
                fieldRef: {apiVersion: v1, fieldPath: metadata.namespace}
      containers:
      - name: app
        image: busybox
        command: [sh, -c]
        args:
        - |
          cd "$MINIKUBELET_VOLUME_KUBE_API_ACCESS_ABCDE"
          echo "namespace $(cat namespace) files $(ls | tr '\\n' ' ')"
          cut -d. -f2 token | base64 -d 2>/dev/null; echo
          exec sleep 600
        volumeMounts:
        - {name: kube-api-access-abcde, mountPath: /var/run/secrets/kubernetes.io/serviceaccount,
           readOnly: true}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: waits-for-config}
    spec:
      volumes:
      - {name: later, configMap: {name: later}}
      containers:
      - name: app
        image: busybox
        command: [sh, -c, 'echo "$(cat "$MINIKUBELET_VOLUME_LATER/value")"; exec sleep 600']
        volumeMounts:
        - {name: later, mountPath: /etc/later}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: host-paths}
    spec:
      volumes:
      - {name: not-a-dir, hostPath: {path: HOST_FILE, type: Directory}}
      containers:
      - name: app
        image: busybox
        command: [sleep, "600"]
        volumeMounts:
        - {name: not-a-dir, mountPath: /x}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: made-dir}
    spec:
      volumes:
      - {name: made, hostPath: {path: HOST_MADE, type: DirectoryOrCreate}}
      containers:
      - name: app
        image: busybox
        command: [sh, -c, 'echo made > "$MINIKUBELET_VOLUME_MADE/here"; exec sleep 600']
        volumeMounts:
        - {name: made, mountPath: /made}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: bad-expr}
    spec:
      volumes:
      - {name: data, emptyDir: {}}
      containers:
      - name: app
        image: busybox
        command: [sleep, "600"]
        volumeMounts:
        - {name: data, mountPath: /data, subPathExpr: $(NOT_SET)}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: restarts}
    spec:
      restartPolicy: OnFailure
      volumes:
      - {name: data, emptyDir: {}}
      - {name: fast, emptyDir: {medium: Memory}}
      containers:
      - name: app
        image: busybox
        command: [sh, -c]
        args:
        - |
          echo "fast in $MINIKUBELET_VOLUME_FAST"
          if [ -f "$MINIKUBELET_VOLUME_DATA/marker" ]; then echo kept; exec sleep 600; fi
          touch "$MINIKUBELET_VOLUME_DATA/marker"; exit 1
        volumeMounts:
        - {name: data, mountPath: /data}
        - {name: fast, mountPath: /fast}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: hog}
    spec:
      volumes:
      - {name: scratch, emptyDir: {sizeLimit: 1Mi}}
      containers:
      - name: app
        image: busybox
        command: [sh, -c, 'head -c 3000000 /dev/zero > "$MINIKUBELET_VOLUME_SCRATCH/fill"; exec sleep 600']
        volumeMounts:
        - {name: scratch, mountPath: /scratch}
"""


def _log(mk: Minikubelet, pod: str) -> str:
    out, _, _ = kubectl(mk, "logs", pod)
    return out


def _waiting(mk: Minikubelet, pod: str, container: str = "app") -> dict[str, str]:
    return dict(mk.container(pod, container)["state"].get("waiting", {}))


def _events(mk: Minikubelet, pod: str, reason: str) -> list[str]:
    return [
        e["message"]
        for e in mk.events()
        if e["involvedObject"]["name"] == pod and e["reason"] == reason
    ]


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("volumes")
    host_file = tmp / "a-file"
    host_file.write_text("x")
    text = textwrap.dedent(FILE).replace("HOST_FILE", str(host_file))
    text = text.replace("HOST_MADE", str(tmp / "made" / "here"))
    path = tmp / "pods.yaml"
    path.write_text(text)
    daemon = Minikubelet(path, "--volumes=host", "--backoff-initial", "0.5", "--backoff-max",
                         "1", "--volume-usage-interval", "0.2", state_dir=tmp / "state")  # fmt: skip
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()
    assert daemon.survivors() == []


def test_projections_in_host_mode(mk: Minikubelet) -> None:
    mk.wait_for("the watcher's files", lambda: "labels app=" in _log(mk, "watcher"))
    lines = _log(mk, "watcher").splitlines()
    assert "config color=blue" in lines
    assert "secret hunter2" in lines  # base64-decoded
    assert 'labels app="watcher"' in lines
    volumes = mk.state_dir / "pods"
    [pod_dir] = [p for p in volumes.iterdir() if p.name.startswith("default_watcher_")]
    creds = pod_dir / "_volumes" / "creds"
    assert (creds / "password").stat().st_mode & 0o777 == 0o400  # defaultMode
    assert (creds / "..data").is_symlink()
    warnings = [
        json.loads(line) for line in mk.stderr_lines
        if "volume not at its mountPath" in line and '"default/watcher"' in line
    ]  # fmt: skip
    assert len(warnings) == 4  # one per mount
    first = warnings[0]
    assert first["mount_path"] == "/etc/config"
    assert first["files"] == str(pod_dir / "_volumes" / "config")
    # a subPath mount is the file of the version there was at the start (a bind mount of it
    # keeps that version, as in Kubernetes): inside a `..<timestamp>` directory
    sub = warnings[1]
    assert sub["mount_path"] == "/etc/app.properties"
    assert Path(sub["files"]).parent.name.startswith("..2")


def test_the_service_account_volume_layout(mk: Minikubelet) -> None:
    """A `kube-api-access-*` volume as the ServiceAccount admission plugin adds it: token,
    ca.crt (the kube-root-ca.crt ConfigMap) and namespace."""
    mk.wait_for("its files", lambda: "namespace default" in _log(mk, "api-access"))
    lines = _log(mk, "api-access").splitlines()
    assert lines[0] == "namespace default files ca.crt namespace token "
    assert '"sub":"system:serviceaccount:default:default"' in lines[1]


def test_a_configmap_edited_through_the_api_changes_the_file(mk: Minikubelet) -> None:
    mk.wait_for("first config", lambda: "config color=blue" in _log(mk, "watcher"))
    target = mk.state_dir / "pods"
    [pod_dir] = [p for p in target.iterdir() if p.name.startswith("default_watcher_")]
    config = pod_dir / "_volumes" / "config"
    before = (config / "..data").readlink()
    out, err, code = kubectl(mk, "patch", "configmap", "app-config", "-p",
                             '{"data":{"app.properties":"color=green"}}')  # fmt: skip
    assert (err, code) == ("", 0), out
    mk.wait_for("the new config", lambda: "config color=green" in _log(mk, "watcher"))
    assert (config / "..data").readlink() != before  # a new timestamped directory
    assert (config / "app.properties").read_text() == "color=green"
    out, err, code = kubectl(mk, "exec", "watcher", "--", "sh", "-c",
                             'cat "$MINIKUBELET_VOLUME_CONFIG/app.properties"')  # fmt: skip
    assert (out, err, code) == ("color=green", "", 0)  # exec gets the volumes' variables
    kubectl(mk, "patch", "configmap", "app-config", "--type", "json",
            "-p", '[{"op":"remove","path":"/data/other"}]')  # fmt: skip
    mk.wait_for("a removed key's file goes", lambda: not (config / "other").exists())


def test_bad_volumes_through_the_api(mk: Minikubelet) -> None:
    pod = textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: bad}
        spec:
          volumes: [{name: v, emptyDir: {}, configMap: {name: x}}]
          containers:
          - {name: app, image: busybox, volumeMounts: [{name: x, mountPath: /x, subPath: ../y}]}
    """)
    _, err, code = kubectl(mk, "create", "-f", "-", stdin=pod)
    assert code == 1
    assert err == (
        'The Pod "bad" is invalid: \n'
        "* spec.volumes[0].configMap: Forbidden: may not specify more than 1 volume type\n"
        '* spec.containers[0].volumeMounts[0].name: Not found: "x"\n'
        '* spec.containers[0].volumeMounts.subPath: Invalid value: "../y": must not contain '
        "'..'\n"
    )


def test_a_source_with_no_local_meaning_is_warned_through_the_api(mk: Minikubelet) -> None:
    pod = textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: network-disk}
        spec:
          volumes: [{name: share, nfs: {server: nas.local, path: /export}}]
          containers:
          - {name: app, image: busybox, command: [sh, -c, 'ls -a "$MINIKUBELET_VOLUME_SHARE";
             exec sleep 600'], volumeMounts: [{name: share, mountPath: /share}]}
    """)
    out, err, code = kubectl(mk, "create", "-f", "-", stdin=pod)
    assert (out, code) == ("pod/network-disk created\n", 0)
    assert err == (
        "Warning: spec.volumes[0].nfs: has no local meaning in minikubelet: the volume is an "
        "empty directory\n"
    )
    mk.wait_for("an empty directory", lambda: _log(mk, "network-disk") == ".\n..\n")


def test_an_empty_dir_outlives_a_container_restart(mk: Minikubelet) -> None:
    mk.wait_for("the second run", lambda: "kept" in _log(mk, "restarts"))
    assert mk.container("restarts", "app")["restartCount"] == 1
    fast = _log(mk, "restarts").splitlines()[0].removeprefix("fast in ")
    assert fast.startswith("/dev/shm/minikubelet-")  # medium: Memory, on the tmpfs
    assert fast.endswith("/fast")


def test_a_label_change_reaches_the_downward_api_file(mk: Minikubelet) -> None:
    mk.wait_for("the labels", lambda: 'labels app="watcher"' in _log(mk, "watcher"))
    _, err, code = kubectl(mk, "label", "pod", "watcher", "tier=web")
    assert (err, code) == ("", 0)
    # the file is `app="watcher"\ntier="web"`: its second line follows the first
    mk.wait_for("the new label", lambda: 'tier="web"' in _log(mk, "watcher").splitlines())


def test_a_missing_configmap_waits_with_failed_mount(mk: Minikubelet) -> None:
    mk.wait_for("FailedMount", lambda: _events(mk, "waits-for-config", "FailedMount"))
    assert _events(mk, "waits-for-config", "FailedMount")[0] == (
        'MountVolume.SetUp failed for volume "later" : configmap "later" not found'
    )
    assert _waiting(mk, "waits-for-config")["reason"] == "ContainerCreating"
    conditions = {
        c["type"]: c["status"] for c in mk.pod("waits-for-config")["status"]["conditions"]
    }
    assert conditions["PodReadyToStartContainers"] == "False"  # no sandbox before the volumes
    out, _, _ = kubectl(mk, "get", "pod", "waits-for-config")
    assert rows(out)["waits-for-config"][2] == "ContainerCreating"
    out, err, code = kubectl(mk, "create", "configmap", "later", "--from-literal=value=arrived")
    assert (err, code) == ("", 0), out
    mk.wait_for("started", lambda: "running" in mk.container("waits-for-config", "app")["state"])
    conditions = {
        c["type"]: c["status"] for c in mk.pod("waits-for-config")["status"]["conditions"]
    }
    assert conditions["PodReadyToStartContainers"] == "True"
    mk.wait_for("its log", lambda: "arrived" in _log(mk, "waits-for-config"))


def test_host_path_types(mk: Minikubelet, tmp_path: Path) -> None:
    mk.wait_for("FailedMount", lambda: _events(mk, "host-paths", "FailedMount"))
    [message, *_] = _events(mk, "host-paths", "FailedMount")
    assert message.startswith('MountVolume.SetUp failed for volume "not-a-dir" : hostPath type '
                              "check failed: ")  # fmt: skip
    assert message.endswith("/a-file is not a directory")
    assert _waiting(mk, "host-paths")["reason"] == "ContainerCreating"
    mk.wait_for("made", lambda: "running" in mk.container("made-dir", "app")["state"])
    made = mk.wait_for("the file", lambda: list(mk.state_dir.parent.glob("made/here/here")))
    assert made[0].read_text() == "made\n"


def test_a_mount_that_cannot_be_made_is_the_containers_error(mk: Minikubelet) -> None:
    mk.wait_for("the error", lambda: _waiting(mk, "bad-expr").get("reason")
                == "CreateContainerConfigError")  # fmt: skip
    assert _waiting(mk, "bad-expr")["message"] == "missing value for NOT_SET"
    assert "Error: missing value for NOT_SET" in _events(mk, "bad-expr", "Failed")
    assert mk.proc.poll() is None  # the daemon goes on


def test_empty_dir_size_limit_evicts_the_pod(mk: Minikubelet) -> None:
    mk.wait_for("evicted", lambda: mk.pod("hog")["status"].get("reason") == "Evicted")
    status = mk.pod("hog")["status"]
    assert status["phase"] == "Failed"
    assert status["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "1Mi". '
    assert _events(mk, "hog", "Evicted") == [status["message"]]
    out, _, _ = kubectl(mk, "get", "pod", "hog")
    # printPod: a terminated container's reason stands over the pod's, as on a real node
    assert rows(out)["hog"][2] == "Error"
    [pod_dir] = [p for p in (mk.state_dir / "pods").iterdir() if p.name.startswith("default_hog_")]
    mk.wait_for("its volumes removed", lambda: not (pod_dir / "_volumes").exists())


def test_two_containers_share_an_empty_dir(tmp_path: Path) -> None:
    with Minikubelet(EXAMPLES / "two-container-emptydir.yaml", state_dir=tmp_path) as mk:
        mk.wait_for("debian done", lambda: mk.container("shared-volume", "debian-container")
                    ["state"].get("terminated", {}).get("exitCode") == 0)  # fmt: skip

        def page() -> str:
            with urllib.request.urlopen("http://127.0.0.1:8186/", timeout=5) as resp:
                return str(resp.read().decode())

        assert mk.wait_for("the page", page) == "Hello from the debian container\n"
        volume = mk.wait_for(
            "the volume", lambda: list(tmp_path.glob("pods/*/_volumes/shared-data"))
        )
        _, err, code = kubectl(mk, "delete", "pod", "shared-volume", "--grace-period", "1")
        assert (err, code) == ("", 0)
        mk.wait_for("removed with the pod", lambda: not volume[0].exists())
    assert mk.survivors() == []


def test_init_container_writes_the_apps_config(tmp_path: Path) -> None:
    with Minikubelet(EXAMPLES / "init-config.yaml", state_dir=tmp_path) as mk:
        mk.wait_for("the app's log", lambda: "greeting" in _log(mk, "configured"))
        assert _log(mk, "configured") == "greeting: hello from configured\n"
    assert mk.survivors() == []


def test_claim_data_outlives_the_pod_and_the_daemon(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with Minikubelet(EXAMPLES / "claim.yaml", state_dir=state) as mk:
        mk.wait_for("first run", lambda: "run 1" in _log(mk, "counter"))
        out, err, code = kubectl(mk, "get", "pvc")
        assert (err, code) == ("", 0)
        header = out.splitlines()[0].split()
        assert header[:4] == ["NAME", "STATUS", "VOLUME", "CAPACITY"]
        row = rows(out)["counter"]
        assert row[1] == "Bound"
        assert row[2].startswith("pvc-")
        assert row[3:5] == ["1Gi", "RWO"]
        manifest, _, _ = kubectl(mk, "get", "pod", "counter", "-o", "json")
        _, err, code = kubectl(mk, "delete", "pod", "counter", "--grace-period", "1")
        assert (err, code) == ("", 0)
        mk.wait_for("gone", lambda: "counter" not in kubectl(mk, "get", "pods")[0])
        again = json.loads(manifest)
        again["metadata"] = {"name": "counter"}
        again.pop("status")
        _, err, code = kubectl(mk, "create", "-f", "-", stdin=json.dumps(again))
        assert code == 0, err
        mk.wait_for("second run", lambda: "run 2" in _log(mk, "counter"))
    assert (state / "claims" / "default" / "counter" / "runs").read_text() == "2\n"
    with Minikubelet(EXAMPLES / "claim.yaml", state_dir=state) as mk:
        mk.wait_for("third run", lambda: "run 3" in _log(mk, "counter"))
        data = state / "claims" / "default" / "counter"
        _, err, code = kubectl(mk, "delete", "pvc", "counter")
        assert code == 0, err
        assert data.exists()  # the pod still mounts it: kept
        _, err, code = kubectl(mk, "delete", "pod", "counter", "--grace-period", "1")
        assert code == 0, err
        mk.wait_for("gone", lambda: "counter" not in kubectl(mk, "get", "pods")[0])
        _, err, code = kubectl(mk, "apply", "-f", str(EXAMPLES / "claim.yaml"))
        assert code == 0, err
        mk.wait_for("a fresh claim", lambda: "run 1" in _log(mk, "counter"))  # not run 4
        _, err, code = kubectl(mk, "delete", "pod", "counter", "--grace-period", "1")
        assert code == 0, err
        mk.wait_for("gone again", lambda: "counter" not in kubectl(mk, "get", "pods")[0])
        kubectl(mk, "delete", "pvc", "counter")
        mk.wait_for("its data deleted with it", lambda: not data.exists())
    assert mk.survivors() == []


def test_a_pod_whose_claim_does_not_exist_waits(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(
        textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: orphan}
        spec:
          volumes: [{name: data, persistentVolumeClaim: {claimName: missing}}]
          containers:
          - {name: app, image: busybox, command: [sleep, "600"],
             volumeMounts: [{name: data, mountPath: /data}]}
    """)
    )
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_for("FailedMount", lambda: _events(mk, "orphan", "FailedMount"))
        assert _events(mk, "orphan", "FailedMount")[0] == (
            "error processing PVC default/missing: failed to fetch PVC from API server: "
            'persistentvolumeclaims "missing" not found'
        )
        claim = textwrap.dedent("""
            apiVersion: v1
            kind: PersistentVolumeClaim
            metadata: {name: missing}
            spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Mi}}}
        """)
        _, err, code = kubectl(mk, "apply", "-f", "-", stdin=claim)
        assert code == 0, err
        mk.wait_for("started", lambda: "running" in mk.container("orphan", "app")["state"])
    assert mk.survivors() == []


NAMESPACED = """
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {app.yaml: "color: blue\\n"}
---
apiVersion: v1
kind: Pod
metadata: {name: mounted}
spec:
  containers:
  - name: app
    image: busybox
    command: [sh, -c, 'cat /etc/minikubelet-e2e/app.yaml; echo $MINIKUBELET_VOLUME_CONFIG; exec sleep 600']
    readinessProbe:
      exec: {command: [test, -f, /etc/minikubelet-e2e/app.yaml]}
      periodSeconds: 1
    volumeMounts:
    - {name: config, mountPath: /etc/minikubelet-e2e, readOnly: true}
  volumes:
  - name: config
    configMap: {name: app-config}
"""


@pytest.mark.skipif(not mountns.available().ok, reason="this host does not allow mount namespaces")
def test_namespace_mode_mounts_each_volume_at_its_mount_path(tmp_path: Path) -> None:
    path = tmp_path / "pods.yaml"
    path.write_text(NAMESPACED)
    with Minikubelet(path, "--volumes=namespace", state_dir=tmp_path / "state") as mk:
        mk.wait_for("ready: the probe sees the file", lambda: mk.container("mounted", "app")
                    .get("ready") is True)  # fmt: skip
        assert _log(mk, "mounted").splitlines()[0] == "color: blue"
        assert _log(mk, "mounted").splitlines()[1:] == [""]  # no host-mode variable
        out, err, code = kubectl(mk, "exec", "mounted", "--", "cat",
                                 "/etc/minikubelet-e2e/app.yaml")  # fmt: skip
        assert (out, code) == ("color: blue\n", 0), err
        _, err, code = kubectl(mk, "exec", "mounted", "--", "touch", "/etc/minikubelet-e2e/x")
        assert code != 0
        assert "Read-only file system" in err
    assert not Path("/etc/minikubelet-e2e").exists()  # nothing appeared on the host
    assert mk.survivors() == []
