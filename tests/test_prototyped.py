"""Protobuf Jobs and CronJobs decoded from k8s.io/api's field numbers (api/prototyped.py):
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
