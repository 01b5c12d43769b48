"""A pods/{name}/status write: the status strategy's PrepareForUpdate and ValidatePodStatusUpdate."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.core.model import PodCondition
from minikubelet.manifest.statusupdate import decode_status, external_conditions, prepare, validate

STORED: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "default", "uid": "u1",
                 "deletionTimestamp": "2024-05-01T12:00:30Z", "ownerReferences": [{"uid": "o"}]},
    "spec": {"restartPolicy": "Never", "containers": [{"name": "app", "image": "busybox"}]},
    "status": {
        "qosClass": "BestEffort",
        "containerStatuses": [{"name": "app", "state": {"terminated": {"exitCode": 0}}}],
    },
}  # fmt: skip


def written(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "web", "namespace": "default", "uid": "u1", "labels": {"a": "b"}},
        "spec": {"containers": [{"name": "app", "image": "other"}]},
        "status": status,
    }


def test_prepare_keeps_the_stored_spec_and_server_fields() -> None:
    pod = prepare(STORED, written(message="hi"))
    assert pod["spec"] == STORED["spec"]
    assert pod["metadata"]["deletionTimestamp"] == "2024-05-01T12:00:30Z"
    assert pod["metadata"]["ownerReferences"] == [{"uid": "o"}]
    assert pod["metadata"]["labels"] == {"a": "b"}
    assert pod["status"] == {"message": "hi", "qosClass": "BestEffort"}  # qosClass backfilled


@pytest.mark.parametrize(
    ("status", "errors"),
    [
        ({}, []),
        ({"conditions": [{"type": "Ready", "status": "True"}, {"type": "a.io/b", "status": "x"}]},
         []),
        ({"conditions": [{"type": "PodReadyToStartContainers"}, {"type": "-bad"}]},
         ['metadata.conditions[1].Type: Invalid value: "-bad": name part must consist of '
          "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
          "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
          "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"]),
        ({"qosClass": "Burstable"},
         ['status.qosClass: Invalid value: "Burstable": field is immutable']),
        ({"containerStatuses": [{"name": "app", "state": {"running": {}}}]},
         ["status.containerStatuses[0].state: Forbidden: may not be transitioned to "
          "non-terminated state"]),
    ],
)  # fmt: skip
def test_validate(status: dict[str, Any], errors: list[str]) -> None:
    assert validate(STORED, prepare(STORED, written(**status))) == errors


def test_immutable_metadata() -> None:
    doc = written()
    doc["metadata"]["uid"] = "u2"
    assert validate(STORED, prepare(STORED, doc)) == [
        'metadata.uid: Invalid value: "u2": field is immutable'
    ]


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("x", "json: cannot unmarshal string into Go struct field Pod.status of type v1.PodStatus"),
        ({"conditions": {}}, "json: cannot unmarshal object into Go struct field "
                             "PodStatus.status.conditions of type []v1.PodCondition"),
        ({"conditions": [{"type": 1}]}, "json: cannot unmarshal number into Go struct field "
                                        "PodCondition.status.conditions.type of type string"),
        ({"message": True}, "json: cannot unmarshal bool into Go struct field "
                            "PodStatus.status.message of type string"),
    ],
)  # fmt: skip
def test_decode_errors(status: Any, message: str) -> None:
    with pytest.raises(ValueError, match=r"^json: ") as caught:
        decode_status(status)
    assert str(caught.value) == message


def test_external_conditions_leave_the_kubelets_out() -> None:
    status = {"conditions": [
        {"type": "Ready", "status": "True"},
        {"type": "a.io/gate", "status": "True", "lastTransitionTime": "2024-05-01T12:00:00Z",
         "reason": "Set", "message": "by hand"},
        {"type": "DisruptionTarget", "status": "True", "lastTransitionTime": None},
    ]}  # fmt: skip
    assert external_conditions(decode_status(status)) == (
        PodCondition(type="a.io/gate", status="True", reason="Set", message="by hand",
                     last_transition_time=1714564800.0),
        PodCondition(type="DisruptionTarget", status="True"),
    )  # fmt: skip
