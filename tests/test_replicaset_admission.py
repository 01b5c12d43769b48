"""Admission of ReplicaSets and ReplicationControllers (manifest/replicasets.py): the API
server's defaults and its field errors, word for word (pkg/apis/apps/validation
validation_test.go TestValidateReplicaSet, pkg/apis/core/validation TestValidateReplicationController),
and kubectl's cells (printers.go printReplicaSet / printReplicationController)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from minikubelet.manifest import replicasets as rsa
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable

JSON = dict[str, Any]


def no_template_errors(template: JSON, path: str, namespace: str) -> list[str]:
    return []


def with_default(template: JSON) -> JSON:
    return {**template, "defaulted": True}


ADMIT_RS = rsa.make_admit_replicaset(no_template_errors, with_default)
ADMIT_RC = rsa.make_admit_replication_controller(no_template_errors, with_default)


def rs(**spec: Any) -> JSON:
    body: JSON = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {"metadata": {"labels": {"app": "web"}},
                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
    }  # fmt: skip
    body.update(spec)
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": "web", "namespace": "default"}, "spec": body}  # fmt: skip


def errors_of(admit: Any, obj: JSON, old: JSON | None = None) -> list[str]:
    with pytest.raises(ObjectInvalid) as caught:
        admit(obj, old)
    return caught.value.errors


def test_defaults_replicas_and_the_template() -> None:
    """SetDefaults_ReplicaSet: replicas 1; the template gets the pod defaults; a status sent
    on create is dropped (the controller's)."""
    obj = rs()
    obj["status"] = {"replicas": 9}
    admitted = ADMIT_RS(obj, None)
    assert admitted["spec"]["replicas"] == 1
    assert admitted["spec"]["template"]["defaulted"] is True
    assert "status" not in admitted
    assert obj["spec"].get("replicas") is None  # not changed in place


def test_an_update_keeps_the_stored_status() -> None:
    old = {**ADMIT_RS(rs(), None), "status": {"replicas": 1}}
    assert ADMIT_RS(rs(replicas=2), old)["status"] == {"replicas": 1}


def test_selector_not_matching_the_template_labels() -> None:
    obj = rs(selector={"matchLabels": {"app": "other"}})
    assert errors_of(ADMIT_RS, obj) == [
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`"
    ]


def test_selector_required() -> None:
    """A missing selector is required, and selects nothing, so it does not match either."""
    obj = rs()
    del obj["spec"]["selector"]
    assert errors_of(ADMIT_RS, obj) == [
        "spec.selector: Required value",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
        "`selector` does not match template `labels`",
    ]


def test_empty_selector() -> None:
    assert errors_of(ADMIT_RS, rs(selector={})) == [
        "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
        "deployment"
    ]


def test_negative_replicas_and_min_ready_seconds() -> None:
    assert errors_of(ADMIT_RS, rs(replicas=-1, minReadySeconds=-2)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.minReadySeconds: Invalid value: -2: must be greater than or equal to 0",
    ]


def test_match_expressions_are_validated() -> None:
    selector = {"matchExpressions": [{"key": "app", "operator": "In"}]}
    errors = errors_of(ADMIT_RS, rs(selector=selector))
    assert errors[0] == ("spec.selector.matchExpressions[0].values: Required value: must be "
                         "specified when `operator` is 'In' or 'NotIn'")  # fmt: skip
    assert errors[1].startswith("spec.selector: Invalid value: v1.LabelSelector{")
    assert errors[1].endswith(": invalid label selector")


def test_match_expressions_that_select_the_template() -> None:
    selector = {"matchExpressions": [{"key": "app", "operator": "In", "values": ["web"]}]}
    assert ADMIT_RS(rs(selector=selector), None)["spec"]["selector"] == selector


def test_restart_policy_and_active_deadline() -> None:
    obj = rs()
    obj["spec"]["template"]["spec"].update(restartPolicy="OnFailure", activeDeadlineSeconds=5)
    assert errors_of(ADMIT_RS, obj) == [
        'spec.template.spec.restartPolicy: Unsupported value: "OnFailure": supported values: '
        '"Always"',
        "spec.template.spec.activeDeadlineSeconds: Invalid value: 5: activeDeadlineSeconds in "
        "ReplicaSet is not Supported",
    ]


def test_template_errors_are_the_pod_templates() -> None:
    def complain(template: JSON, path: str, namespace: str) -> list[str]:
        return [f"{path}.spec.containers: Required value ({namespace})"]

    admit = rsa.make_admit_replicaset(complain, with_default)
    assert errors_of(admit, rs()) == ["spec.template.spec.containers: Required value (default)"]


def test_the_selector_is_immutable() -> None:
    old = ADMIT_RS(rs(), None)
    new = rs(selector={"matchLabels": {"app": "web", "x": "y"}})
    new["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    assert errors_of(ADMIT_RS, new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":'
        '"web", "x":"y"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable"
    ]


def test_metadata_is_validated() -> None:
    obj = rs()
    obj["metadata"]["name"] = "Web"
    assert errors_of(ADMIT_RS, obj)[0].startswith('metadata.name: Invalid value: "Web": a ')


def test_a_replicas_that_is_not_a_number() -> None:
    wanted = "cannot unmarshal string into Go struct field ReplicaSetSpec.spec.replicas of type"
    with pytest.raises(ObjectUndecodable, match=re.escape(wanted + " int32")):
        ADMIT_RS(rs(replicas="3"), None)


def rc(**spec: Any) -> JSON:
    body: JSON = {"template": {"metadata": {"labels": {"app": "nginx"}},
                               "spec": {"containers": [{"name": "nginx", "image": "nginx"}]}}}  # fmt: skip
    body.update(spec)
    return {"apiVersion": "v1", "kind": "ReplicationController",
            "metadata": {"name": "nginx", "namespace": "default"}, "spec": body}  # fmt: skip


def test_rc_defaults_selector_and_labels_from_the_template() -> None:
    """SetDefaults_ReplicationController."""
    admitted = ADMIT_RC(rc(), None)
    assert admitted["spec"]["selector"] == {"app": "nginx"}
    assert admitted["metadata"]["labels"] == {"app": "nginx"}
    assert admitted["spec"]["replicas"] == 1


def test_rc_errors() -> None:
    assert errors_of(ADMIT_RC, rc(selector={"app": "other"}, replicas=-1)) == [
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        'spec.template.metadata.labels: Invalid value: map[string]string{"app":"nginx"}: '
        "`selector` does not match template `labels`",
    ]
    obj = rc()
    del obj["spec"]["template"]
    assert errors_of(ADMIT_RC, obj) == ["spec.selector: Required value",
                                        "spec.template: Required value"]  # fmt: skip


def test_cells() -> None:
    """printReplicaSet: DESIRED CURRENT READY, wide CONTAINERS IMAGES SELECTOR."""
    obj = ADMIT_RS(rs(replicas=3), None)
    obj["status"] = {"replicas": 2, "readyReplicas": 1}
    assert rsa.replica_cells(obj) == [3, 2, 1]
    assert rsa.replicaset_wide_cells(obj) == ["c", "busybox", "app=web"]
    assert rsa.rc_wide_cells(ADMIT_RC(rc(), None)) == ["nginx", "nginx", "app=nginx"]
