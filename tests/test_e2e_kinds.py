"""ConfigMaps, Secrets and every other kind, with a live daemon and the real kubectl: a file
holding all of them (the Pod before its ConfigMap), the container's environment read from
them, a missing ConfigMap waiting in CreateContainerConfigError until kubectl creates it,
create/apply/patch/delete/get with the API server's tables, warnings and errors."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import kubernetes_validate
import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import kubectl, rows

FILE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: app, namespace: team}
    spec:
      serviceAccountName: robot
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "env | sort; exec sleep 600"]
        envFrom:
        - configMapRef: {name: settings}
          prefix: CFG_
        - configMapRef: {name: settings}
        env:
        - name: PASSWORD
          valueFrom: {secretKeyRef: {name: creds, key: password}}
    ---
    apiVersion: v1
    kind: Pod
    metadata: {name: waits}
    spec:
      containers:
      - name: app
        image: busybox
        command: [sh, -c, "echo LATER=$LATER; exec sleep 600"]
        env:
        - name: LATER
          valueFrom: {configMapKeyRef: {name: later, key: value}}
    ---
    apiVersion: v1
    kind: List
    items:
    - {apiVersion: v1, kind: Namespace, metadata: {name: team}}
    - {apiVersion: v1, kind: ServiceAccount, metadata: {name: robot, namespace: team}}
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: settings, namespace: team}
    data: {MODE: demo, "bad-": x, 1st: y}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: creds, namespace: team}
    stringData: {password: hunter2}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web}
    spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
    ---
    apiVersion: example.com/v1
    kind: Widget
    metadata: {name: gadget}
"""
INGRESS_WARNING = (
    "networking.k8s.io/v1 Ingress is stored and served but has no effect in minikubelet: it "
    "runs pods only"
)


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("kinds")
    path = tmp / "all.yaml"
    path.write_text(textwrap.dedent(FILE))
    daemon = Minikubelet(path, "--backoff-initial", "0.5", "--backoff-max", "1",
                         state_dir=tmp / "state")  # fmt: skip
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()


def _log(mk: Minikubelet, pod: str, namespace: str = "default") -> str:
    out, _, _ = kubectl(mk, "logs", pod, "-n", namespace)
    return out


def test_file_warnings(mk: Minikubelet) -> None:
    mk.wait_for("the warnings", lambda: any("Widget" in line for line in mk.stderr_lines))
    text = "\n".join(mk.stderr_lines)
    assert f'Ingress "web": {INGRESS_WARNING}' in text
    assert (
        'Widget "gadget" (example.com/v1) is skipped: minikubelet does not know this kind' in text
    )


def test_environment_from_configmap_and_secret(mk: Minikubelet) -> None:
    mk.wait_for("app's env", lambda: "PASSWORD=" in _log(mk, "app", "team"))
    lines = _log(mk, "app", "team").splitlines()
    assert "CFG_MODE=demo" in lines
    assert "PASSWORD=hunter2" in lines
    assert "CFG_1st=y" in lines  # the prefix makes it a valid name
    assert "MODE=demo" in lines
    assert not any(line.startswith("1st") for line in lines)
    out, err, code = kubectl(mk, "exec", "app", "-n", "team", "--", "sh", "-c", "echo $PASSWORD")
    assert (out, err, code) == ("hunter2\n", "", 0)  # exec gets the container's environment
    out, _, _ = kubectl(mk, "get", "events", "-n", "team", "--field-selector",
                        "reason=InvalidEnvironmentVariableNames", "-o",
                        "jsonpath={.items[*].message}")  # fmt: skip
    assert out == (
        "Keys [1st] from the EnvFrom configMap team/settings were skipped since they are "
        "considered invalid environment variable names."
    )


def test_missing_configmap_then_created(mk: Minikubelet) -> None:
    mk.wait_for("config error", lambda: mk.container("waits", "app")["state"].get("waiting", {})
                .get("reason") == "CreateContainerConfigError")  # fmt: skip
    waiting = mk.container("waits", "app")["state"]["waiting"]
    assert waiting["message"] == 'configmap "later" not found'
    out, _, _ = kubectl(mk, "get", "pod", "waits")
    assert rows(out)["waits"][2] == "CreateContainerConfigError"
    out, err, code = kubectl(mk, "create", "configmap", "later", "--from-literal=other=1")
    assert (out, err, code) == ("configmap/later created\n", "", 0)
    mk.wait_for("key error", lambda: mk.container("waits", "app")["state"].get("waiting", {})
                .get("message") == "couldn't find key value in ConfigMap default/later")  # fmt: skip
    out, err, code = kubectl(mk, "patch", "configmap", "later", "-p", '{"data":{"value":"ok"}}')
    assert (err, code) == ("", 0)
    mk.wait_for("started", lambda: "running" in mk.container("waits", "app")["state"])
    mk.wait_for("its log", lambda: "LATER=ok" in _log(mk, "waits"))


def test_tables(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "get", "configmaps", "-n", "team")
    assert (err, code) == ("", 0)
    assert out.splitlines()[0].split() == ["NAME", "DATA", "AGE"]
    assert rows(out)["settings"][1] == "3"
    out, _, _ = kubectl(mk, "get", "secrets", "-n", "team")
    assert out.splitlines()[0].split() == ["NAME", "TYPE", "DATA", "AGE"]
    assert rows(out)["creds"][1:3] == ["Opaque", "1"]
    out, _, _ = kubectl(mk, "get", "ns")
    assert {"default", "team", "kube-system"} <= set(rows(out))
    out, _, _ = kubectl(mk, "get", "sa", "-n", "team")
    assert set(rows(out)) == {"default", "robot"}
    out, _, _ = kubectl(mk, "get", "ingress")
    assert out.splitlines()[0].split() == ["NAME", "CREATED", "AT"]
    assert "web" in rows(out)


def test_create_apply_edit_delete(mk: Minikubelet, tmp_path: Path) -> None:
    out, err, code = kubectl(mk, "create", "secret", "generic", "token",
                             "--from-literal=token=abc")  # fmt: skip
    assert (out, err, code) == ("secret/token created\n", "", 0)
    out, _, _ = kubectl(mk, "get", "secret", "token", "-o", "jsonpath={.data.token}")
    assert out == "YWJj"
    env_file = tmp_path / "app.env"
    env_file.write_text("A=1\nB=two\n")
    out, err, code = kubectl(mk, "create", "configmap", "fromenv", f"--from-env-file={env_file}")
    assert (err, code) == ("", 0)
    out, _, _ = kubectl(mk, "get", "cm", "fromenv", "-o", "yaml")
    assert '  A: "1"\n  B: two\n' in out
    manifest = textwrap.dedent("""
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: frozen}
        immutable: true
        data: {a: "1"}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: applied}
        spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
    """)
    out, err, code = kubectl(mk, "apply", "-f", "-", stdin=manifest)
    assert code == 0, err
    assert out == "configmap/frozen created\ningress.networking.k8s.io/applied created\n"
    assert err == f"Warning: {INGRESS_WARNING}\n"
    _, err, code = kubectl(mk, "patch", "cm", "frozen", "-p", '{"data":{"a":"2"}}')
    assert code == 1
    assert err == (
        'The ConfigMap "frozen" is invalid: data: Forbidden: field is immutable when '
        "`immutable` is set\n"
    )
    _, err, code = kubectl(mk, "create", "configmap", "Bad", "--from-literal=a=1")
    assert code == 1
    assert err.startswith('error: failed to create configmap: ConfigMap "Bad" is invalid: '
                          'metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain')  # fmt: skip
    _, err, code = kubectl(mk, "apply", "-f", "-",
                           stdin="{apiVersion: v1, kind: Secret, metadata: {name: x}, datum: {}}")  # fmt: skip
    assert (err, code) == (
        'Error from server (BadRequest): error when creating "STDIN": Secret in version "v1" '
        'cannot be handled as a Secret: strict decoding error: unknown field "datum"\n',
        1,
    )
    out, err, code = kubectl(mk, "delete", "cm", "frozen")
    assert (err, code) == ("", 0)
    _, err, code = kubectl(mk, "get", "cm", "frozen")
    assert err == 'Error from server (NotFound): configmaps "frozen" not found\n'


def test_served_objects_validate_against_the_schema(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "get", "configmaps,secrets,namespaces,serviceaccounts", "-A",
                             "-o", "json")  # fmt: skip
    assert (err, code) == ("", 0)
    items = json.loads(out)["items"]
    assert {i["kind"] for i in items} == {"ConfigMap", "Secret", "Namespace", "ServiceAccount"}
    for item in items:
        kubernetes_validate.validate(item, "1.34", strict=True)


def test_deleting_a_namespace_deletes_what_it_holds(mk: Minikubelet) -> None:
    for args in (("create", "namespace", "scratch"),
                 ("create", "configmap", "c", "-n", "scratch", "--from-literal=a=1")):  # fmt: skip
        _, err, code = kubectl(mk, *args)
        assert (err, code) == ("", 0)
    out, err, code = kubectl(mk, "get", "sa", "-n", "scratch")
    assert set(rows(out)) == {"default"}
    out, err, code = kubectl(mk, "delete", "namespace", "scratch")
    assert (out, err, code) == ('namespace "scratch" deleted\n', "", 0)
    out, err, code = kubectl(mk, "get", "cm,sa", "-n", "scratch")
    assert (out, code) == ("", 0)
    _, err, code = kubectl(mk, "delete", "namespace", "default")
    assert (err, code) == (
        'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may '
        "not be deleted\n",
        1,
    )
