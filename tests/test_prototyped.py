"""Protobuf Jobs, CronJobs and HorizontalPodAutoscalers decoded from k8s.io/api's field numbers (api/prototyped.py):
a pointer field's zero is kept, a plain field's zero is left out, as the JSON encoder's
omitempty would; maps, repeated fields, IntOrString and Quantity."""

from __future__ import annotations

import pytest

from minikubelet.api import prototyped
from minikubelet.api.protowire import MAGIC


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def num(field: int, n: int) -> bytes:
    return varint(field << 3) + varint(n)


def msg(field: int, *parts: bytes) -> bytes:
    body = b"".join(parts)
    return varint(field << 3 | 2) + varint(len(body)) + body


def text(field: int, value: str) -> bytes:
    return msg(field, value.encode())


def entry(field: int, key: str, value: bytes) -> bytes:
    return msg(field, text(1, key), msg(2, value))


def envelope(kind: str, raw: bytes) -> bytes:
    return MAGIC + msg(1, text(1, "batch/v1"), text(2, kind)) + msg(2, raw)


def test_a_job_with_zeros_kept_and_dropped() -> None:
    container = b"".join([
        text(1, "c"), text(2, ""),  # image "" (a plain string): left out
        text(3, "sh"), text(3, "-c"),  # command, repeated
        msg(6, num(3, 8080)),  # ports: containerPort 8080 (hostPort 0 not sent)
        msg(8, entry(1, "cpu", text(1, "250m"))),  # resources.limits: Quantity
    ])  # fmt: skip
    pod_spec = b"".join([msg(2, container), text(3, "Never"), num(4, 0)])
    spec = b"".join([
        num(7, 0),  # backoffLimit: 0, a pointer: kept
        num(1, 2),  # parallelism: 2
        num(10, 0),  # suspend: false, a pointer: kept
        msg(6, msg(1, entry(11, "app", b"")), msg(2, pod_spec)),
    ])  # fmt: skip
    raw = msg(1, text(1, "pi"), text(3, "default")) + msg(2, spec) + msg(3, num(4, 1))
    job = prototyped.decode_typed_object(envelope("Job", raw))
    assert job["apiVersion"] == "batch/v1"
    assert job["metadata"] == {"name": "pi", "namespace": "default"}
    assert "status" not in job
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["parallelism"] == 2
    assert job["spec"]["suspend"] is False
    template = job["spec"]["template"]
    assert template["metadata"]["labels"] == {"app": ""}
    assert template["spec"]["restartPolicy"] == "Never"
    assert template["spec"]["terminationGracePeriodSeconds"] == 0  # *int64: kept
    (c,) = template["spec"]["containers"]
    assert c == {"name": "c", "command": ["sh", "-c"], "ports": [{"containerPort": 8080}],
                 "resources": {"limits": {"cpu": "250m"}}}  # fmt: skip


def test_negative_numbers_and_int_or_string() -> None:
    port = msg(2, num(1, 1) + text(3, "http"))  # IntOrString: type 1, strVal
    probe = msg(1, msg(2, port))  # the embedded ProbeHandler, its httpGet
    container = text(1, "c") + msg(11, probe, num(2, 5))  # readinessProbe
    pod_spec = msg(2, container) + num(5, -1 & ((1 << 64) - 1))  # activeDeadlineSeconds -1
    raw = msg(1, text(1, "j")) + msg(2, msg(6, msg(2, pod_spec)))
    job = prototyped.decode_typed_object(envelope("Job", raw))
    spec = job["spec"]["template"]["spec"]
    assert spec["activeDeadlineSeconds"] == -1
    readiness = spec["containers"][0]["readinessProbe"]
    assert readiness == {"httpGet": {"port": "http"}, "initialDelaySeconds": 5}


def test_other_kinds_and_garbage_are_refused() -> None:
    assert prototyped.kind_of(envelope("Job", b"")) == "Job"
    assert prototyped.kind_of(b"{}") == ""
    with pytest.raises(ValueError, match="no protobuf decoding for kind 'Deployment'"):
        prototyped.decode_typed_object(envelope("Deployment", b""))
    with pytest.raises(ValueError, match="does not appear to be a protobuf"):
        prototyped.decode_typed_object(b"{}")


def test_an_autoscaling_v2_hpa_as_kubectl_autoscale_sends_it() -> None:
    """HorizontalPodAutoscaler (autoscaling/v2 generated.proto): spec 2, scaleTargetRef 1,
    minReplicas 2 (a pointer), maxReplicas 3, metrics 4 -> MetricSpec type 1, resource 4 ->
    name 1, target 2 -> type 1, averageUtilization 4 (a pointer)."""
    ref = msg(1, text(1, "Deployment"), text(2, "web"), text(3, "apps/v1"))
    target = msg(2, text(1, "Utilization"), num(4, 50))
    metric = msg(4, text(1, "Resource"), msg(4, text(1, "cpu"), target))
    raw = msg(1, text(1, "web")) + msg(2, ref, num(2, 1), num(3, 3), metric)
    body = (
        MAGIC + msg(1, text(1, "autoscaling/v2"), text(2, "HorizontalPodAutoscaler")) + msg(2, raw)
    )
    assert prototyped.decode_typed_object(body) == {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [{"type": "Resource", "resource": {
                "name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}],
        },
    }  # fmt: skip
    v1 = (
        MAGIC
        + msg(1, text(1, "autoscaling/v1"), text(2, "HorizontalPodAutoscaler"))
        + msg(2, msg(1, text(1, "web")) + msg(2, ref, num(2, 1), num(3, 3), num(4, 0)))
    )
    assert prototyped.decode_typed_object(v1)["spec"] == {
        "scaleTargetRef": {"kind": "Deployment", "name": "web", "apiVersion": "apps/v1"},
        "minReplicas": 1,
        "maxReplicas": 3,
        "targetCPUUtilizationPercentage": 0,
    }
