"""ConfigMaps, Secrets and the other registered kinds, without a daemon: admission in the API
server's words (pkg/apis/core/validation ValidateConfigMap/ValidateSecret and their updates),
the environment the kubelet builds from them (makeEnvironmentVariables), manifest loading of
every kind in a file, and the official 1.34 schemas as an oracle for what is stored."""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
from daemon_harness import Minikubelet

from minikubelet.core import envsources
from minikubelet.manifest import load
from minikubelet.manifest.configmaps import (
    ObjectInvalid,
    ObjectUndecodable,
    admit_configmap,
    admit_namespace,
    admit_secret,
)
from minikubelet.store import kinds
from minikubelet.store.objects import ObjectStore

EXAMPLES = Path(__file__).parent.parent / "examples"
KEY_MSG = (
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. "
    "'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is "
    "'[-._a-zA-Z0-9]+')"
)


def cm(data: dict[str, str] | None = None, **more: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "cfg", "namespace": "default"}}  # fmt: skip
    if data is not None:
        obj["data"] = data
    return {**obj, **more}


def secret(**more: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "default"}, **more}  # fmt: skip


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def errors(admit: Any, obj: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    with pytest.raises(ObjectInvalid) as err:
        admit(obj, old)
    return err.value.errors


INVALID: list[tuple[str, Any, dict[str, Any], dict[str, Any] | None, list[str]]] = [
    ("cm-key", admit_configmap, cm({"a b": "1"}), None,
     [f'data[a b]: Invalid value: "a b": {KEY_MSG}']),
    ("cm-dotdot", admit_configmap, cm({"..x": "1"}), None,
     ["data[..x]: Invalid value: \"..x\": must not start with '..'"]),
    ("cm-overlap", admit_configmap, cm({"k": "1"}, binaryData={"k": b64("x")}), None,
     ['data[k]: Invalid value: "k": duplicate of key present in binaryData']),
    ("cm-size", admit_configmap, cm({"big": "x" * (1024 * 1024 + 1)}), None,
     ["Too long: must have at most 1048576 bytes"]),
    ("cm-name", admit_configmap,
     {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Bad_Name",
                                                            "namespace": "default"}},
     None,
     ['metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain must consist '
      "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
      "alphanumeric character (e.g. 'example.com', regex used for validation is "
      "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"]),
    ("cm-immutable", admit_configmap, cm({"a": "2"}, immutable=True),
     cm({"a": "1"}, immutable=True),
     ["data: Forbidden: field is immutable when `immutable` is set"]),
    ("cm-immutable-flag", admit_configmap, cm({"a": "1"}), cm({"a": "1"}, immutable=True),
     ["immutable: Forbidden: field is immutable when `immutable` is set"]),
    ("basic-auth", admit_secret, secret(type="kubernetes.io/basic-auth"), None,
     ["data[username]: Required value", "data[password]: Required value"]),
    ("tls", admit_secret, secret(type="kubernetes.io/tls", data={"tls.crt": b64("c")}), None,
     ["data[tls.key]: Required value"]),
    ("ssh", admit_secret, secret(type="kubernetes.io/ssh-auth"), None,
     ["data[ssh-privatekey]: Required value"]),
    ("sa-token", admit_secret, secret(type="kubernetes.io/service-account-token"), None,
     ["metadata.annotations[kubernetes.io/service-account.name]: Required value"]),
    ("dockerconfigjson", admit_secret,
     secret(type="kubernetes.io/dockerconfigjson", stringData={".dockerconfigjson": "{"}), None,
     ['data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": unexpected end '
      "of JSON input"]),
    ("dockercfg", admit_secret, secret(type="kubernetes.io/dockercfg"), None,
     ["data[.dockercfg]: Required value"]),
    ("secret-type-change", admit_secret, secret(type="Opaque"),
     secret(type="kubernetes.io/basic-auth", data={"username": b64("u")}),
     ['type: Invalid value: "Opaque": field is immutable']),
    ("secret-immutable", admit_secret, secret(data={"a": b64("2")}, immutable=True),
     secret(type="Opaque", data={"a": b64("1")}, immutable=True),
     ["data: Forbidden: field is immutable when `immutable` is set"]),
    ("namespace-name", admit_namespace,
     {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a.b"}}, None,
     ['metadata.name: Invalid value: "a.b": must not contain dots']),
]  # fmt: skip


@pytest.mark.parametrize(("admit", "obj", "old", "expected"), [c[1:] for c in INVALID],
                         ids=[c[0] for c in INVALID])  # fmt: skip
def test_invalid(admit: Any, obj: dict[str, Any], old: Any, expected: list[str]) -> None:
    assert errors(admit, obj, old) == expected


def test_secret_string_data_merged_and_type_defaulted() -> None:
    stored = admit_secret(secret(data={"a": b64("old"), "b": b64("kept")},
                                 stringData={"a": "new"}))  # fmt: skip
    assert stored["type"] == "Opaque"
    assert "stringData" not in stored
    assert stored["data"] == {"a": b64("new"), "b": b64("kept")}


def test_secret_data_must_be_base64() -> None:
    with pytest.raises(ObjectUndecodable) as err:
        admit_secret(secret(data={"a": "no!"}))
    assert str(err.value) == (
        'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input byte 2'
    )


def test_immutable_configmap_keeps_its_labels_editable() -> None:
    old = cm({"a": "1"}, immutable=True)
    new = cm({"a": "1"}, immutable=True)
    new["metadata"]["labels"] = {"x": "y"}
    assert admit_configmap(new, old)["metadata"]["labels"] == {"x": "y"}


# --- the environment ------------------------------------------------------------------------


def _container(env: list[dict[str, Any]] | None = None,
               env_from: list[dict[str, Any]] | None = None) -> Any:  # fmt: skip
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {"containers": [
        {"name": "c", "image": "busybox", "command": ["true"], "env": env or [],
         "envFrom": env_from or []}]}}  # fmt: skip
    pod, _ = load.pod_from_document(doc, source="t", node_name="n")
    return pod.spec.containers[0]


def _lookup(store: ObjectStore) -> envsources.Lookup:
    return store.get


def _store(*objs: dict[str, Any]) -> ObjectStore:
    store = ObjectStore()
    for obj in objs:
        kind = kinds.by_kind(obj["apiVersion"], obj["kind"])
        assert kind is not None
        kinds.put_object(store, kind, kind.admit(obj, None))
    return store


def test_env_from_prefix_and_invalid_names() -> None:
    store = _store(cm({"a-b": "1", "1x": "2", "GOOD": "3"}), secret(stringData={"pw": "s"}))
    container = _container(env_from=[{"configMapRef": {"name": "cfg"}},
                                     {"secretRef": {"name": "s"}, "prefix": "S_"}])  # fmt: skip
    resolved = envsources.resolve(container, "default", store.get)
    assert resolved.sources == {"a-b": "1", "GOOD": "3", "S_pw": "s"}
    assert resolved.invalid == [
        "Keys [1x] from the EnvFrom configMap default/cfg were skipped since they are "
        "considered invalid environment variable names."
    ]


@pytest.mark.parametrize(("ref", "message"), [
    ({"configMapKeyRef": {"name": "nope", "key": "k"}}, 'configmap "nope" not found'),
    ({"configMapKeyRef": {"name": "cfg", "key": "k"}}, "couldn't find key k in ConfigMap default/cfg"),
    ({"secretKeyRef": {"name": "nope", "key": "k"}}, 'secret "nope" not found'),
    ({"secretKeyRef": {"name": "s", "key": "k"}}, "couldn't find key k in Secret default/s"),
])  # fmt: skip
def test_missing_reference_is_the_kubelets_error(ref: dict[str, Any], message: str) -> None:
    store = _store(cm({"a": "1"}), secret(stringData={"pw": "s"}))
    container = _container(env=[{"name": "V", "valueFrom": ref}])
    with pytest.raises(envsources.EnvConfigError) as err:
        envsources.resolve(container, "default", store.get)
    assert str(err.value) == message


def test_optional_references_define_nothing() -> None:
    store = _store(cm({"a": "1"}))
    container = _container(
        env=[{"name": "V", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "k",
                                                             "optional": True}}},
             {"name": "W", "valueFrom": {"secretKeyRef": {"name": "x", "key": "k",
                                                          "optional": True}}},
             {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "cfg", "key": "a"}}}],
        env_from=[{"secretRef": {"name": "gone", "optional": True}}],
    )  # fmt: skip
    resolved = envsources.resolve(container, "default", store.get)
    assert (resolved.sources, resolved.refs) == ({}, {2: "1"})


# --- loading files --------------------------------------------------------------------------


def _load(tmp_path: Path, text: str) -> load.LoadResult:
    path = tmp_path / "all.yaml"
    path.write_text(text)
    return load.load_manifests([str(path)], node_name="n", kinds=kinds.BY_KIND)


def test_every_kind_in_a_file(tmp_path: Path) -> None:
    result = _load(
        tmp_path,
        """
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Namespace, metadata: {name: team}}
- {apiVersion: v1, kind: ServiceAccount, metadata: {name: robot}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web}
spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w1}
---
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: [{name: c, image: busybox, command: ["true"]}]}
""",
    )
    assert [p.name for p in result.pods] == ["p"]
    assert [(k.kind, o["metadata"]["name"]) for k, o in result.objects] == [
        ("Namespace", "team"),
        ("ServiceAccount", "robot"),
        ("Ingress", "web"),
    ]
    where = str(tmp_path / "all.yaml")
    assert result.warnings == [
        f'{where} (document 2): Ingress "web": networking.k8s.io/v1 Ingress is stored and '
        "served but has no effect in minikubelet: it runs pods only",
        f'{where} (document 3): Widget "w1" (example.com/v1) is skipped: minikubelet does '
        "not know this kind",
    ]


def test_every_invalid_object_is_listed(tmp_path: Path) -> None:
    with pytest.raises(load.ManifestError) as err:
        _load(
            tmp_path,
            """
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
data: {"a b": "1"}
---
apiVersion: v1
kind: Secret
metadata: {name: b}
type: kubernetes.io/tls
""",
        )
    where = str(tmp_path / "all.yaml")
    assert err.value.lines == [
        f'{where} (document 1): ConfigMap "a" is invalid: data[a b]: Invalid value: "a b": '
        + KEY_MSG,
        f'{where} (document 2): Secret "b" is invalid: data[tls.crt]: Required value',
        f'{where} (document 2): Secret "b" is invalid: data[tls.key]: Required value',
    ]


def test_unknown_fields_are_a_strict_decoding_error(tmp_path: Path) -> None:
    with pytest.raises(load.ManifestError) as err:
        _load(tmp_path, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, colour: red}\n"
                        "datas: {a: b}\n")  # fmt: skip
    assert err.value.lines == [
        f'{tmp_path / "all.yaml"}: ConfigMap in version "v1" cannot be handled as a '
        'ConfigMap: strict decoding error: unknown field "datas", unknown field '
        '"metadata.colour"'
    ]


def test_cli_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: A}\n")
    result = subprocess.run([sys.executable, "-m", "minikubelet", "validate", str(path)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.startswith(f'error: {path}: ConfigMap "A" is invalid: metadata.name')


# --- the official schemas as an oracle ------------------------------------------------------


def _validate(obj: dict[str, Any]) -> None:
    kubernetes_validate.validate(obj, "1.34", strict=True)


def test_example_validates_against_the_schema() -> None:
    result = load.load_manifests([str(EXAMPLES / "config-and-secret.yaml")], node_name="n",
                                 kinds=kinds.BY_KIND)  # fmt: skip
    for doc in load.parse_documents((EXAMPLES / "config-and-secret.yaml").read_text(),
                                    source="x"):  # fmt: skip
        _validate(doc)
    assert len(result.objects) == 2
    assert len(result.pods) == 1


def test_stored_objects_validate_against_the_schema() -> None:
    store = _store(cm({"a": "1"}, binaryData={"b": b64("x")}),
                   secret(stringData={"username": "u"}, type="kubernetes.io/basic-auth"),
                   {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})  # fmt: skip
    kinds.seed(store)
    served = [o for r in ("configmaps", "secrets", "namespaces", "serviceaccounts")
              for o in store.list(r)]  # fmt: skip
    assert len(served) >= 8
    for obj in served:
        _validate(obj)


def test_every_workload_kind_is_loaded_and_run_not_skipped(tmp_path: Path) -> None:
    template = "{metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: busybox}]}}"
    selector = "selector: {matchLabels: {a: b}}"
    docs = [
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n"
        f"spec: {{{selector}, template: {template}}}",
        f"apiVersion: apps/v1\nkind: ReplicaSet\nmetadata: {{name: r}}\n"
        f"spec: {{{selector}, template: {template}}}",
        f"apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: s}}\n"
        f"spec: {{{selector}, serviceName: s, template: {template}}}",
        f"apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {{name: ds}}\n"
        f"spec: {{{selector}, template: {template}}}",
        "apiVersion: v1\nkind: ReplicationController\nmetadata: {name: rc}\n"
        f"spec: {{selector: {{a: b}}, template: {template}}}",
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j}\n"
        "spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: x}]}}}",
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cj}\nspec: {schedule: '@hourly', "
        "jobTemplate: {spec: {template: {spec: {restartPolicy: Never, "
        "containers: [{name: c, image: x}]}}}}}",
    ]
    path = tmp_path / "workloads.yaml"
    path.write_text("\n---\n".join(docs) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "minikubelet", "validate", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "skipped" not in done.stderr
    assert done.stdout == (
        "0 pod(s) valid; 1 CronJob, 1 DaemonSet, 1 Deployment, 1 Job, 1 ReplicaSet, "
        "1 ReplicationController, 1 StatefulSet valid\n"
    )


def test_stored_kinds_are_decoded_strictly_from_the_official_schema(tmp_path: Path) -> None:
    from minikubelet.manifest import schemas

    ingress = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "x", "labelz": {}, "labels": {"any-key": "v"}},
        "spec": {"rules": [{"host": "a", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"servicez": {}}}]}}]},
    }  # fmt: skip
    assert schemas.unknown_fields("networking.k8s.io/v1", "Ingress", ingress) == [
        'unknown field "metadata.labelz"',
        'unknown field "spec.rules[0].http.paths[0].backend.servicez"',
    ]
    assert schemas.unknown_fields("example.com/v1", "Widget", {"spec": {"x": 1}}) == []
    path = tmp_path / "ingress.yaml"
    path.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: x}\nspec: {rulez: []}\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "minikubelet", "validate", str(path)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert (
        'Ingress in version "v1" cannot be handled as a Ingress: strict decoding error: '
        'unknown field "spec.rulez"'
    ) in done.stderr


def test_a_workload_template_is_warned_of_once_as_written_not_for_its_defaults() -> None:
    from minikubelet.manifest.load import template_warnings

    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "w"},
              "spec": {"template": {"spec": {"hostNetwork": True, "containers": [
                  {"name": "c", "image": "x", "imagePullPolicy": "Always"}]}}}}  # fmt: skip
    assert [w.split(":")[0] for w in template_warnings(deploy)] == [
        "spec.template.spec.hostNetwork",
        "spec.template.spec.containers[*].imagePullPolicy",
    ]
    plain = {"kind": "Deployment", "spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": "x"}]}}}}  # fmt: skip
    assert template_warnings(plain) == []  # the defaults it will get are not the user's
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {
        "dnsPolicy": "None", "containers": [{"name": "c", "image": "x"}]}}}}}}  # fmt: skip
    assert template_warnings(cron)[0].startswith("spec.jobTemplate.spec.template.spec.dnsPolicy:")
    daemon = {"kind": "DaemonSet", "spec": {"template": {"spec": {
        "nodeSelector": {"a": "b"}, "containers": [{"name": "c", "image": "x"}]}}}}  # fmt: skip
    assert template_warnings(daemon) == []  # the DaemonSet controller acts on it


def test_pods_a_controller_makes_are_not_warned_of_again(tmp_path: Path) -> None:
    path = tmp_path / "deploy.yaml"
    path.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec: {replicas: 2, selector: {matchLabels: {a: b}}, template: {metadata: {labels:"
        " {a: b}}, spec: {hostNetwork: true, containers: [{name: c, image: busybox,"
        " command: [sleep, '60']}]}}}\n"
    )
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_for("two pods", lambda: len(mk.get_json("/api/v1/pods")["items"]) == 2)
        mk.wait_for(
            "both running",
            lambda: all(
                p["status"].get("phase") == "Running" for p in mk.get_json("/api/v1/pods")["items"]
            ),
        )
    log = "\n".join(mk.stderr_lines)
    assert log.count("spec.template.spec.hostNetwork") == 1  # once, for the Deployment
    assert "manifest warning" not in log  # and not again for each of its pods
