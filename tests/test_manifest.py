"""Manifests -> pods: defaults, validation in the API server's words, strict decoding,
warnings, files, stdin, several documents, and hostile input."""

from __future__ import annotations

import copy
import io
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minikubelet.core import spec
from minikubelet.manifest.load import (
    MAX_CONFIG_LENGTH,
    InvalidPod,
    ManifestError,
    load_manifests,
    parse_documents,
    pod_from_document,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
BASE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web"},
    "spec": {"containers": [{"name": "web", "image": "busybox", "command": ["sleep", "3600"]}]},
}
LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', "
    "regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
ENV_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or "
    "'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
KEY_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
    "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex "
    "used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
C0 = "spec.containers[0]"
DECODE = 'Pod in version "v1" cannot be handled as a Pod: '


def with_(*changes: tuple[str, Any]) -> dict[str, Any]:
    """BASE with `path = value` set for each change (`spec.containers[0].ports`); a value of
    DELETE removes the key."""
    doc = copy.deepcopy(BASE)
    for path, value in changes:
        parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
        target: Any = doc
        for part in parts[:-1]:
            key: Any = int(part[1:-1]) if part.startswith("[") else part
            target = target[key] if isinstance(target, list) else target.setdefault(key, {})
        last = parts[-1]
        if value is DELETE:
            del target[last]
        else:
            target[int(last[1:-1]) if last.startswith("[") else last] = value
    return doc


DELETE = object()


def load(doc: dict[str, Any], **kwargs: Any) -> tuple[spec.Pod, list[str]]:
    kwargs.setdefault("grpc_available", True)
    return pod_from_document(doc, source="pod.yaml", node_name="node1", now=NOW, **kwargs)


def errors_of(doc: dict[str, Any], **kwargs: Any) -> list[str]:
    with pytest.raises(InvalidPod) as err:
        load(doc, **kwargs)
    return err.value.errors


# --- defaults -------------------------------------------------------------------------------


def test_defaults_of_a_minimal_pod() -> None:
    pod, warnings = load(BASE)
    assert warnings == []
    assert (pod.name, pod.namespace, pod.source) == ("web", "default", "pod.yaml")
    assert pod.spec.restart_policy is spec.RestartPolicy.ALWAYS
    assert pod.spec.termination_grace_period_seconds == 30
    assert pod.spec.node_name == "node1"
    container = pod.spec.containers[0]
    assert container.image_pull_policy == "Always"
    assert container.termination_message_path == "/dev/termination-log"
    assert container.termination_message_policy == "File"
    body = pod.manifest["spec"]
    assert body["dnsPolicy"] == "ClusterFirst"
    assert body["schedulerName"] == "default-scheduler"
    assert body["enableServiceLinks"] is True
    assert body["securityContext"] == {}
    assert body["containers"][0]["resources"] == {}


def test_metadata_of_a_static_pod() -> None:
    pod, _ = load(BASE)
    meta = pod.manifest["metadata"]
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", pod.uid)
    assert meta["uid"] == pod.uid
    assert meta["creationTimestamp"] == "2024-05-01T12:00:00Z"
    assert pod.annotations == {
        "kubernetes.io/config.hash": pod.uid,
        "kubernetes.io/config.source": "file",
        "kubernetes.io/config.seen": "2024-05-01T12:00:00.123456Z",
    }
    assert pod.manifest["apiVersion"] == "v1"
    assert pod.manifest["kind"] == "Pod"


def test_uid_is_deterministic_and_depends_on_document_source_and_node() -> None:
    uid = load(BASE)[0].uid
    assert load(BASE)[0].uid == uid
    assert load(with_(("metadata.labels", {"a": "b"})))[0].uid != uid
    other = pod_from_document(BASE, source="other.yaml", node_name="node1", now=NOW)[0]
    assert other.uid != uid
    assert pod_from_document(BASE, source="pod.yaml", node_name="n2", now=NOW)[0].uid != uid


def test_given_uid_is_kept_and_api_source_is_marked() -> None:
    doc = with_(("metadata.uid", "1234"))
    pod, _ = pod_from_document(doc, source="api", node_name="node1", now=NOW)
    assert pod.uid == "1234"
    assert pod.annotations["kubernetes.io/config.hash"] == "1234"
    assert pod.annotations["kubernetes.io/config.source"] == "api"


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("busybox:1.36", "IfNotPresent"),
        ("localhost:5000/busybox", "Always"),
        ("busybox@sha256:abc", "IfNotPresent"),
    ],
    ids=str,
)
def test_image_pull_policy_default(image: str, policy: str) -> None:
    pod, _ = load(with_((f"{C0}.image", image)))
    assert pod.spec.containers[0].image_pull_policy == policy


def test_probe_defaults_and_zero_means_default() -> None:
    probe = {"httpGet": {"port": 8080}, "timeoutSeconds": 0, "periodSeconds": 0}
    pod, _ = load(with_((f"{C0}.readinessProbe", probe)))
    got = pod.spec.containers[0].readiness_probe
    assert got == spec.Probe(handler=spec.HTTPGetAction(port=8080), timeout_seconds=1)
    assert got.period_seconds == 10
    served = pod.manifest["spec"]["containers"][0]["readinessProbe"]
    assert served == {
        "httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"},
        "timeoutSeconds": 1,
        "periodSeconds": 10,
        "successThreshold": 1,
        "failureThreshold": 3,
    }


def test_ports_env_and_handlers_are_built() -> None:
    container = {
        "name": "web",
        "image": "busybox",
        "args": ["/bin/sh", "-c", "touch /tmp/healthy; sleep 30"],
        "ports": [{"name": "http", "containerPort": 8080}],
        "env": [
            {"name": "A", "value": "1"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "MEM", "valueFrom": {"resourceFieldRef": {"resource": "limits.memory"}}},
        ],
        "livenessProbe": {"tcpSocket": {"port": "http"}},
        "startupProbe": {"grpc": {"port": 9090}},
        "lifecycle": {"preStop": {"sleep": {"seconds": 5}}, "stopSignal": "SIGUSR1"},
    }
    pod, _ = load(with_(("spec.containers", [container])))
    built = pod.spec.containers[0]
    assert built.argv == ("/bin/sh", "-c", "touch /tmp/healthy; sleep 30")
    assert built.ports == (spec.ContainerPort(container_port=8080, name="http"),)
    assert built.env[1].field_ref == spec.ObjectFieldSelector(field_path="metadata.name")
    assert built.env[2].resource_field_ref is not None
    assert built.env[2].resource_field_ref.divisor.value == 1
    assert built.liveness_probe is not None
    assert built.liveness_probe.handler == spec.TCPSocketAction(port="http")
    assert built.startup_probe is not None
    assert built.startup_probe.handler == spec.GRPCAction(port=9090)
    assert built.lifecycle == spec.Lifecycle(
        pre_stop=spec.SleepAction(seconds=5), stop_signal="SIGUSR1"
    )
    served = pod.manifest["spec"]["containers"][0]
    assert served["ports"][0]["protocol"] == "TCP"
    assert served["env"][1]["valueFrom"]["fieldRef"]["apiVersion"] == "v1"
    assert served["env"][2]["valueFrom"]["resourceFieldRef"]["divisor"] == "0"


def test_limits_are_copied_into_missing_requests_in_canonical_form() -> None:
    resources = {"limits": {"cpu": 0.5, "memory": "1.5Gi"}, "requests": {"memory": "1Gi"}}
    pod, _ = load(with_((f"{C0}.resources", resources)))
    served = pod.manifest["spec"]["containers"][0]["resources"]
    assert served == {
        "limits": {"cpu": "500m", "memory": "1536Mi"},
        "requests": {"memory": "1Gi", "cpu": "500m"},
    }
    requests = pod.spec.containers[0].resources.requests
    assert requests["cpu"].value == Decimal("0.5")


def test_sidecar_init_container() -> None:
    init: dict[str, Any] = {"name": "side", "image": "x", "command": ["x"]}
    init |= {"restartPolicy": "Always", "readinessProbe": {"exec": {"command": ["true"]}}}
    pod, _ = load(with_(("spec.initContainers", [init])))
    assert pod.spec.init_containers[0].is_sidecar


# --- validation -------------------------------------------------------------------------------

INVALID: list[tuple[str, dict[str, Any], list[str] | None]] = [
    (
        "container-name",
        with_((f"{C0}.name", "Web")),
        [f'{C0}.name: Invalid value: "Web": {LABEL_MSG}'],
    ),
    (
        "pod-name",
        with_(("metadata.name", "Web_1")),
        [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}'],
    ),
    (
        "pod-name-missing",
        with_(("metadata.name", DELETE)),
        ["metadata.name: Required value: name or generateName is required"],
    ),
    (
        "namespace",
        with_(("metadata.namespace", "a.b")),
        ['metadata.namespace: Invalid value: "a.b": must not contain dots'],
    ),
    (
        "label-key",
        with_(("metadata.labels", {"a b": "x"})),
        [f'metadata.labels: Invalid value: "a b": {KEY_MSG}'],
    ),
    (
        "label-value",
        with_(("metadata.labels", {"a": "x" * 64})),
        [f'metadata.labels: Invalid value: "{"x" * 64}": must be no more than 63 characters'],
    ),
    (
        "no-containers",
        with_(("spec.containers", [])),
        ["spec.containers: Required value"],
    ),
    (
        "duplicate-across-init",
        with_(("spec.initContainers", [{"name": "web", "image": "x", "command": ["x"]}])),
        ['spec.initContainers[0].name: Duplicate value: "web"'],
    ),
    (
        "image-required",
        with_((f"{C0}.image", DELETE)),
        [f"{C0}.image: Required value"],
    ),
    (
        "port-name",
        with_((f"{C0}.ports", [{"name": "-HTTP--long-name-x", "containerPort": 80}])),
        [
            f'{C0}.ports[0].name: Invalid value: "-HTTP--long-name-x": '
            "must be no more than 15 characters",
            f'{C0}.ports[0].name: Invalid value: "-HTTP--long-name-x": '
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            f'{C0}.ports[0].name: Invalid value: "-HTTP--long-name-x": '
            "must not contain consecutive hyphens",
            f'{C0}.ports[0].name: Invalid value: "-HTTP--long-name-x": '
            "must not begin or end with a hyphen",
        ],
    ),
    (
        "port-name-duplicate",
        with_(
            (
                f"{C0}.ports",
                [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}],
            )
        ),
        [f'{C0}.ports[1].name: Duplicate value: "http"'],
    ),
    (
        "port-numbers",
        with_((f"{C0}.ports", [{"containerPort": 70000, "protocol": "ICMP"}, {"name": "a1"}])),
        [
            f"{C0}.ports[0].containerPort: Invalid value: 70000: "
            "must be between 1 and 65535, inclusive",
            f'{C0}.ports[0].protocol: Unsupported value: "ICMP": '
            'supported values: "SCTP", "TCP", "UDP"',
            f"{C0}.ports[1].containerPort: Required value",
        ],
    ),
    (
        "env-name",
        with_((f"{C0}.env", [{"name": "1A"}, {"value": "x"}])),
        [
            f'{C0}.env[0].name: Invalid value: "1A": {ENV_MSG}',
            f"{C0}.env[1].name: Required value",
        ],
    ),
    (
        "env-value-from-empty",
        with_((f"{C0}.env", [{"name": "A", "valueFrom": {}}])),
        [
            f'{C0}.env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, '
            "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        ],
    ),
    (
        "env-value-and-value-from",
        with_(
            (
                f"{C0}.env",
                [{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "x.y"}}}],
            )
        ),
        [
            f'{C0}.env[0].valueFrom.fieldRef.fieldPath: Invalid value: "x.y": '
            "error converting fieldPath: field label not supported: x.y",
            f'{C0}.env[0].valueFrom: Invalid value: "": '
            "may not be specified when `value` is not empty",
        ],
    ),
    (
        "env-field-path-unsupported",
        with_(
            (f"{C0}.env", [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "status.phase"}}}])
        ),
        [
            f'{C0}.env[0].valueFrom.fieldRef.fieldPath: Unsupported value: "status.phase": '
            'supported values: "metadata.name", "metadata.namespace", "metadata.uid", '
            '"spec.nodeName", "spec.serviceAccountName", "status.hostIP", "status.hostIPs", '
            '"status.podIP", "status.podIPs"'
        ],
    ),
    (
        "env-resource-field",
        with_(
            (
                f"{C0}.env",
                [
                    {
                        "name": "A",
                        "valueFrom": {
                            "resourceFieldRef": {
                                "resource": "limits.cpu",
                                "containerName": "nope",
                                "divisor": "1Mi",
                            }
                        },
                    }
                ],
            )
        ),
        [
            f'{C0}.env[0].valueFrom.resourceFieldRef.divisor: Invalid value: "limits.cpu": '
            "only divisor's values 1m and 1 are supported with the cpu resource",
            f'{C0}.env[0].valueFrom.resourceFieldRef.containerName: Not found: "nope"',
        ],
    ),
    (
        "env-secret-key",
        with_((f"{C0}.env", [{"name": "A", "valueFrom": {"secretKeyRef": {"name": "s"}}}])),
        [f"{C0}.env[0].valueFrom.secretKeyRef.key: Required value"],
    ),
    (
        "probe-handlers",
        with_((f"{C0}.livenessProbe", {"exec": {"command": []}, "tcpSocket": {"port": 1}})),
        [
            f"{C0}.livenessProbe.exec.command: Required value",
            f"{C0}.livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
        ],
    ),
    (
        "probe-no-handler",
        with_((f"{C0}.startupProbe", {"periodSeconds": 5})),
        [f"{C0}.startupProbe: Required value: must specify a handler type"],
    ),
    (
        "probe-numbers",
        with_(
            (
                f"{C0}.livenessProbe",
                {
                    "httpGet": {"port": "8080", "scheme": "FTP", "httpHeaders": [{"name": "a b"}]},
                    "initialDelaySeconds": -1,
                    "successThreshold": 2,
                    "terminationGracePeriodSeconds": 0,
                },
            )
        ),
        [
            f'{C0}.livenessProbe.httpGet.port: Invalid value: "8080": '
            "must contain at least one letter (a-z)",
            f'{C0}.livenessProbe.httpGet.scheme: Unsupported value: "FTP": '
            'supported values: "HTTP", "HTTPS"',
            f'{C0}.livenessProbe.httpGet.httpHeaders: Invalid value: "a b": a valid HTTP header '
            "must consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used "
            "for validation is '[-A-Za-z0-9]+')",
            f"{C0}.livenessProbe.initialDelaySeconds: Invalid value: -1: "
            "must be greater than or equal to 0",
            f"{C0}.livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: "
            "must be greater than 0",
            f"{C0}.livenessProbe.successThreshold: Invalid value: 2: must be 1",
        ],
    ),
    (
        "readiness-grace",
        with_((f"{C0}.readinessProbe", {"grpc": {"port": 0}, "terminationGracePeriodSeconds": 5})),
        [
            f"{C0}.readinessProbe.grpc.port: Invalid value: 0: "
            "must be between 1 and 65535, inclusive",
            f"{C0}.readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: "
            "must not be set for readinessProbes",
        ],
    ),
    (
        "lifecycle",
        with_(
            (
                f"{C0}.lifecycle",
                {"postStart": {"sleep": {"seconds": 31}}, "preStop": {"tcpSocket": {"port": 0}}},
            )
        ),
        [
            f"{C0}.lifecycle.postStart.sleep: Invalid value: 31: "
            "must be non-negative and less than terminationGracePeriodSeconds (30)",
            f"{C0}.lifecycle.preStop.tcpSocket.port: Invalid value: 0: "
            "must be between 1 and 65535, inclusive",
        ],
    ),
    (
        "init-container-probes",
        with_(
            (
                "spec.initContainers",
                [
                    {
                        "name": "init",
                        "image": "x",
                        "command": ["x"],
                        "restartPolicy": "OnFailure",
                        "livenessProbe": {"exec": {"command": ["x"]}},
                        "lifecycle": {},
                    }
                ],
            )
        ),
        [
            'spec.initContainers[0].restartPolicy: Unsupported value: "OnFailure": '
            'supported values: "Always"',
            "spec.initContainers[0].lifecycle: Forbidden: "
            "may not be set for init containers without restartPolicy=Always",
            "spec.initContainers[0].livenessProbe: Forbidden: "
            "may not be set for init containers without restartPolicy=Always",
        ],
    ),
    (
        "regular-container-restart-policy",
        with_((f"{C0}.restartPolicy", "Always")),
        [f"{C0}.restartPolicy: Forbidden: may not be set for non-init containers"],
    ),
    (
        "pod-restart-policy",
        with_(("spec.restartPolicy", "always")),
        [
            'spec.restartPolicy: Unsupported value: "always": '
            'supported values: "Always", "OnFailure", "Never"'
        ],
    ),
    (
        "pod-numbers",
        with_(("spec.terminationGracePeriodSeconds", -1), ("spec.activeDeadlineSeconds", 0)),
        [
            "spec.terminationGracePeriodSeconds: Invalid value: -1: "
            "must be greater than or equal to 0",
            "spec.activeDeadlineSeconds: Invalid value: 0: "
            "must be between 1 and 2147483647, inclusive",
        ],
    ),
    (
        "requests-over-limits",
        with_((f"{C0}.resources", {"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})),
        [
            f'{C0}.resources.requests: Invalid value: "2": '
            "must be less than or equal to cpu limit of 1"
        ],
    ),
    (
        "resource-names-and-signs",
        with_((f"{C0}.resources", {"limits": {"gpu": "1", "memory": "-1"}})),
        [
            f'{C0}.resources.limits[gpu]: Invalid value: "gpu": '
            "must be a standard resource for containers",
            f'{C0}.resources.limits[memory]: Invalid value: "-1": '
            "must be greater than or equal to 0",
            f'{C0}.resources.requests[gpu]: Invalid value: "gpu": '
            "must be a standard resource for containers",
            f'{C0}.resources.requests[memory]: Invalid value: "-1": '
            "must be greater than or equal to 0",
        ],
    ),
    (
        "stop-signal",
        with_((f"{C0}.lifecycle", {"stopSignal": "SIGFOO"})),
        None,  # checked below: the message lists every Linux signal
    ),
    (
        "nul-in-command",
        with_((f"{C0}.command", ["sh", "a\0b"])),
        [f'{C0}.command[1]: Invalid value: "a\\x00b": must not contain a NUL byte'],
    ),
    (
        "surrogate-in-args",
        with_((f"{C0}.args", ["\ud800"])),
        [f'{C0}.args[0]: Invalid value: "\\ud800": must be valid UTF-8 text'],
    ),
    (
        "nul-in-env-value",
        with_((f"{C0}.env", [{"name": "A", "value": "x\0"}])),
        [f'{C0}.env[0].value: Invalid value: "x\\x00": must not contain a NUL byte'],
    ),
    (
        "nul-in-working-dir",
        with_((f"{C0}.workingDir", "/tmp\0")),
        [f'{C0}.workingDir: Invalid value: "/tmp\\x00": must not contain a NUL byte'],
    ),
    (
        "nul-in-hook-command",
        with_((f"{C0}.lifecycle", {"preStop": {"exec": {"command": ["a\0"]}}})),
        [
            f'{C0}.lifecycle.preStop.exec.command[0]: Invalid value: "a\\x00": '
            "must not contain a NUL byte"
        ],
    ),
    (
        "surrogate-in-probe-command",
        with_((f"{C0}.livenessProbe", {"exec": {"command": ["\udfff"]}})),
        [f'{C0}.livenessProbe.exec.command[0]: Invalid value: "\\udfff": must be valid UTF-8 text'],
    ),
    (
        "ephemeral-containers",
        with_(("spec.ephemeralContainers", [{"name": "e", "image": "x", "command": ["x"]}])),
        ["spec.ephemeralContainers: Forbidden: cannot be set on create"],
    ),
]


@pytest.mark.parametrize(("doc", "expected"), [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid(doc: dict[str, Any], expected: list[str] | None) -> None:
    errors = errors_of(doc)
    if expected is None:
        assert len(errors) == 1
        assert errors[0].startswith(f'{C0}.lifecycle.stopSignal: Unsupported value: "SIGFOO": ')
        assert '"SIGTERM"' in errors[0]
    else:
        assert errors == expected


def test_invalid_pod_message_format() -> None:
    one = InvalidPod("web", ["e1"])
    assert str(one) == 'Pod "web" is invalid: e1'
    assert str(InvalidPod("web", ["e1", "e2"])) == 'Pod "web" is invalid: [e1, e2]'


def test_grpc_probe_needs_the_extra() -> None:
    doc = with_((f"{C0}.livenessProbe", {"grpc": {"port": 9090}}))
    assert errors_of(doc, grpc_available=False) == [
        f"{C0}.livenessProbe.grpc: Forbidden: gRPC probes need the grpc extra, which is not "
        "installed: pip install 'minikubelet[grpc]'"
    ]


# --- strict decoding --------------------------------------------------------------------------

DECODE_CASES: list[tuple[str, dict[str, Any], str]] = [
    (
        "unknown-fields",
        with_((f"{C0}.livenessprobe", {}), ("spec.foo", 1)),
        'strict decoding error: unknown field "spec.containers[0].livenessprobe", '
        'unknown field "spec.foo"',
    ),
    (
        "unknown-nested-volume-field",
        with_(("spec.volumes", [{"name": "v", "hostPath": {"path": "/", "tipe": "x"}}])),
        'strict decoding error: unknown field "spec.volumes[0].hostPath.tipe"',
    ),
    (
        "string-for-int",
        with_((f"{C0}.ports", [{"containerPort": "80"}])),
        "json: cannot unmarshal string into Go struct field "
        "ContainerPort.spec.containers.ports.containerPort of type int32",
    ),
    (
        "number-for-string",
        with_((f"{C0}.env", [{"name": "A", "value": 8080}])),
        "json: cannot unmarshal number into Go struct field "
        "EnvVar.spec.containers.env.value of type string",
    ),
    (
        "float-for-int",
        with_(("spec.terminationGracePeriodSeconds", 1.5)),
        "json: cannot unmarshal number 1.5 into Go struct field "
        "PodSpec.spec.terminationGracePeriodSeconds of type int64",
    ),
    (
        "list-for-object",
        with_((f"{C0}.livenessProbe", [])),
        "json: cannot unmarshal array into Go struct field "
        "Container.spec.containers.livenessProbe of type v1.Probe",
    ),
    (
        "object-for-list",
        with_(("spec.containers", {})),
        "json: cannot unmarshal object into Go struct field "
        "PodSpec.spec.containers of type []v1.Container",
    ),
    (
        "named-string-type",
        with_(("spec.restartPolicy", True)),
        "json: cannot unmarshal bool into Go struct field "
        "PodSpec.spec.restartPolicy of type v1.RestartPolicy",
    ),
    (
        "label-value-type",
        with_(("metadata.labels", {"a": 1})),
        "json: cannot unmarshal number into Go struct field "
        "ObjectMeta.metadata.labels of type string",
    ),
    (
        "int-or-string",
        with_((f"{C0}.readinessProbe", {"httpGet": {"port": {}}})),
        "json: cannot unmarshal object into Go struct field "
        "HTTPGetAction.spec.containers.readinessProbe.httpGet.port of type int32",
    ),
    (
        "quantity",
        with_((f"{C0}.resources", {"limits": {"memory": "1GB"}})),
        "quantities must match the regular expression "
        "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
    ),
]


@pytest.mark.parametrize(
    ("doc", "detail"), [c[1:] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES]
)
def test_decode_errors(doc: dict[str, Any], detail: str) -> None:
    with pytest.raises(ManifestError) as err:
        load(doc)
    assert err.value.lines == [DECODE + detail]


@pytest.mark.parametrize(
    ("doc", "line"),
    [
        ({"apiVersion": "v1"}, "Object 'Kind' is missing: a manifest must have kind: Pod"),
        ({"kind": "Pod"}, "Object 'apiVersion' is missing: a manifest must have apiVersion: v1"),
        (
            {"apiVersion": "apps/v1", "kind": "Deployment"},
            'kind "Deployment" in apiVersion "apps/v1" is not supported: '
            "minikubelet runs only kind: Pod in apiVersion: v1",
        ),
    ],
    ids=["no-kind", "no-version", "deployment"],
)
def test_only_v1_pods(doc: dict[str, Any], line: str) -> None:
    with pytest.raises(ManifestError) as err:
        load(doc)
    assert err.value.lines == [line]


# --- warnings ---------------------------------------------------------------------------------


def test_warns_once_per_ignored_field_and_never_for_defaults() -> None:
    containers = [
        {
            "name": n,
            "image": "x",
            "command": ["x"],
            "volumeMounts": [{"name": "v", "mountPath": "/v"}],
            "securityContext": {"runAsUser": 1000},
        }
        for n in ("a", "b")
    ]
    doc = with_(
        ("spec.containers", containers),
        ("spec.volumes", [{"name": "v", "emptyDir": {}}]),
        ("spec.dnsPolicy", "ClusterFirst"),
    )
    _, warnings = load(doc)
    assert warnings == [  # volumes and their mounts are used: no warning for them
        "spec.dnsPolicy: has no local meaning in minikubelet and is ignored "
        "(processes use the host's resolver)",
        "spec.containers[*].securityContext: has no local meaning in minikubelet and is "
        "ignored (processes run as the minikubelet user)",
    ]


# --- files, stdin, documents ----------------------------------------------------------------

BUSYBOX_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    test: liveness
  name: liveness-exec
spec:
  containers:
  - name: liveness
    image: registry.k8s.io/busybox
    args:
    - /bin/sh
    - -c
    - touch /tmp/healthy; sleep 30; rm -f /tmp/healthy; sleep 600
    livenessProbe:
      exec:
        command:
        - cat
        - /tmp/healthy
      initialDelaySeconds: 5
      periodSeconds: 5
"""


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_kubernetes_docs_busybox_pod(tmp_path: Path) -> None:
    result = load_manifests([write(tmp_path, "pod.yaml", BUSYBOX_YAML)], node_name="node1")
    (pod,) = result.pods
    assert result.warnings == []
    assert pod.spec.containers[0].argv[:2] == ("/bin/sh", "-c")
    assert pod.spec.containers[0].liveness_probe is not None
    assert pod.spec.containers[0].liveness_probe.period_seconds == 5


def test_json_input_and_stdin() -> None:
    text = json.dumps(BASE)
    result = load_manifests(["-"], stdin=io.StringIO(text), node_name="node1")
    assert [pod.name for pod in result.pods] == ["web"]
    assert result.pods[0].source == "-"


def test_several_documents_and_empty_ones(tmp_path: Path) -> None:
    second = BUSYBOX_YAML.replace("liveness-exec", "other")
    path = write(tmp_path, "pods.yaml", f"---\n{BUSYBOX_YAML}---\n---\n{second}")
    result = load_manifests([path], node_name="node1")
    assert [pod.name for pod in result.pods] == ["liveness-exec", "other"]


def test_every_error_of_every_file_and_duplicates(tmp_path: Path) -> None:
    good = write(tmp_path, "a.yaml", BUSYBOX_YAML)
    bad = write(tmp_path, "b.yaml", f"{BUSYBOX_YAML}---\n[1]\n---\nkind: Pod\napiVersion: v1\n")
    missing = str(tmp_path / "missing.yaml")
    with pytest.raises(ManifestError) as err:
        load_manifests([good, bad, missing], node_name="node1")
    assert err.value.lines == [
        f'{bad} (document 1): Pod "liveness-exec" in namespace "default" is defined twice '
        f"(first in {good})",
        f"{bad} (document 2): a manifest must be a mapping (a YAML or JSON object), not a list",
        f'{bad} (document 3): Pod "" is invalid: metadata.name: Required value: '
        "name or generateName is required",
        f'{bad} (document 3): Pod "" is invalid: spec.containers: Required value',
        f"{missing}: cannot read: No such file or directory",
    ]


def test_yaml_error_names_line_and_column() -> None:
    with pytest.raises(ManifestError) as err:
        parse_documents("apiVersion: v1\nkind: Pod\nmetadata: {name: [x}\n", source="p.yaml")
    assert err.value.lines == [
        "p.yaml: line 3, column 20: while parsing a flow sequence, expected ',' or ']', but got '}'"
    ]


def test_json_error_names_line_and_column() -> None:
    with pytest.raises(ManifestError) as err:
        parse_documents('{"kind": "Pod",\n "x": }', source="p.json")
    assert err.value.lines == ["p.json: line 2, column 7: Expecting value"]


def test_duplicate_keys_are_strict_errors() -> None:
    (doc,) = parse_documents(
        BUSYBOX_YAML + "  restartPolicy: Never\n  restartPolicy: Always\n", source="p"
    )
    with pytest.raises(ManifestError) as err:
        load(doc)
    assert err.value.lines == [
        DECODE + 'strict decoding error: duplicate field "spec.restartPolicy"'
    ]


def test_timestamps_stay_strings() -> None:
    (doc,) = parse_documents("a: 2024-01-01\nb: 1\n", source="p")
    assert doc == {"a": "2024-01-01", "b": 1}


def test_directory_is_read_like_a_static_pod_path(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", BUSYBOX_YAML)
    write(tmp_path, ".hidden.yaml", "junk: [")
    (tmp_path / "sub").mkdir()
    result = load_manifests([str(tmp_path)], node_name="node1")
    assert [pod.name for pod in result.pods] == ["liveness-exec"]


# --- hostile input ----------------------------------------------------------------------------

BOMB = "\n".join(
    ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
)


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (BOMB, "p: the document expands to too many values (YAML alias bomb?)"),
        ("a: &a [*a]\n", "p: line 1, column 4: found unconstructable recursive node"),
        ("[" * 5000 + "]" * 5000, "p: line 1, column 101: nested more than 100 levels deep"),
        ('{"a":' + "[" * 3000 + "]" * 3000 + "}", "p: nested more than 100 levels deep"),
        ('{"a":' + "[" * 200 + "]" * 200 + "}", "p: nested more than 100 levels deep"),
        ("a: !!binary aGVsbG8=\n", "p: a YAML bytes value has no JSON form"),
        ("a: .nan\n", "p: nan is not a JSON number"),
        ("? [a]\n: b\n", "p: line 1, column 3: a mapping key must be a string or a number"),
        ("\x00\x01", "p: character 1: unacceptable character #x0000: special characters are "),
        ("plain string", "p: a manifest must be a mapping (a YAML or JSON object), not a string"),
    ],
    ids=[
        "alias-bomb",
        "recursive",
        "deep-yaml",
        "deep-json",
        "json-200",
        "binary",
        "nan",
        "key",
        "nul",
        "str",
    ],
)
def test_hostile_text_gives_manifest_errors(text: str, line: str) -> None:
    with pytest.raises(ManifestError) as err:
        parse_documents(text, source="p")
    assert err.value.lines[0].startswith(line)


def test_too_large_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_CONFIG_LENGTH + 1))
    with pytest.raises(ManifestError) as err:
        load_manifests([str(path)], node_name="node1")
    assert err.value.lines == [
        f"{path}: larger than 10485760 bytes, the most the kubelet reads from a manifest"
    ]


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bin"
    path.write_bytes(b"\xff\xfe\x00junk")
    with pytest.raises(ManifestError) as err:
        load_manifests([str(path)], node_name="node1")
    assert err.value.lines == [f"{path}: not UTF-8 text (byte 0): invalid start byte"]


@pytest.mark.parametrize(
    "junk",
    [
        {"apiVersion": "v1", "kind": "Pod", "metadata": [], "spec": "x"},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [None, 1, "x"]}},
        {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"env": [None]}]}},
        {"apiVersion": ["v1"], "kind": {"a": 1}},
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a"}, "spec": None},
        with_((f"{C0}.livenessProbe", {"httpGet": None})),
        with_((f"{C0}.resources", {"limits": {"cpu": None, "memory": [1]}})),
    ],
    ids=["types", "null-containers", "null-env", "kind-types", "null-spec", "null-handler", "rl"],
)
def test_junk_never_raises_anything_else(junk: dict[str, Any]) -> None:
    with pytest.raises((ManifestError, InvalidPod)):
        load(junk)
