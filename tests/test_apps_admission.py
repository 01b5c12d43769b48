"""Admission of StatefulSets, DaemonSets and ControllerRevisions (manifest/apps.py): the
defaults of pkg/apis/apps/v1/defaults.go and the errors of pkg/apis/apps/validation in the API
server's words (cases from validation_test.go TestValidateStatefulSet, TestValidateDaemonSet,
TestValidateDaemonSetUpdate, TestValidateControllerRevision), and the table cells of
printers.go."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikubelet.manifest import apps, daemonsets, statefulsets
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable

JSON = dict[str, Any]


def sts(**spec: Any) -> JSON:
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}},
                 **spec},
    }  # fmt: skip


def ds(**spec: Any) -> JSON:
    obj = sts(**spec)
    obj["kind"] = "DaemonSet"
    obj["metadata"]["name"] = "agent"
    return obj


def errors_of(admit: Any, obj: JSON, old: JSON | None = None) -> list[str]:
    with pytest.raises(ObjectInvalid) as caught:
        admit(obj, old)
    return caught.value.errors


def test_statefulset_defaults() -> None:
    got = statefulsets.admit_statefulset(sts())
    spec = got["spec"]
    assert spec["replicas"] == 1
    assert spec["podManagementPolicy"] == "OrderedReady"
    assert spec["updateStrategy"] == {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}
    assert spec["revisionHistoryLimit"] == 10
    assert spec["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Retain", "whenScaled": "Retain"}  # fmt: skip
    template_spec = spec["template"]["spec"]
    assert template_spec["restartPolicy"] == "Always"
    assert template_spec["terminationGracePeriodSeconds"] == 30
    assert template_spec["containers"][0]["imagePullPolicy"] == "Always"


def test_statefulset_rolling_update_without_rolling_update_stays_without() -> None:
    """SetDefaults_StatefulSet: a given RollingUpdate type without rollingUpdate keeps none."""
    got = statefulsets.admit_statefulset(sts(updateStrategy={"type": "RollingUpdate"}))
    assert got["spec"]["updateStrategy"] == {"type": "RollingUpdate"}


def test_claim_templates_defaults() -> None:
    claims = [{"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}},
              {"metadata": {"name": "logs"}, "spec": {}}]  # fmt: skip
    got = statefulsets.admit_statefulset(sts(volumeClaimTemplates=claims))
    first = got["spec"]["volumeClaimTemplates"][0]
    assert first["apiVersion"] == "v1"
    assert first["kind"] == "PersistentVolumeClaim"
    assert first["spec"]["volumeMode"] == "Filesystem"
    assert first["status"] == {"phase": "Pending"}


@pytest.mark.parametrize(("change", "error"), [
    ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
    ({"minReadySeconds": -1},
     "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"),
    ({"podManagementPolicy": "Sometimes"},
     "spec.podManagementPolicy: Invalid value: \"Sometimes\": must be 'OrderedReady' or "
     "'Parallel'"),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": -1}}},
     "spec.updateStrategy.rollingUpdate.partition: Invalid value: -1: must be greater than or "
     "equal to 0"),
    ({"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0}}},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: 0: cannot be 0"),
    ({"persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Keep"}},
     'spec.persistentVolumeClaimRetentionPolicy.whenDeleted: Unsupported value: "Keep": '
     'supported values: "Retain", "Delete"'),
    ({"ordinals": {"start": -2}},
     "spec.ordinals.start: Invalid value: -2: must be greater than or equal to 0"),
    ({"selector": {"matchLabels": {"app": "other"}}},
     'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
     "`selector` does not match template `labels`"),
])  # fmt: skip
def test_statefulset_errors(change: JSON, error: str) -> None:
    assert error in errors_of(statefulsets.admit_statefulset, sts(**change))


def test_statefulset_template_restart_policy_and_labels() -> None:
    """The template's pod spec is not validated (ValidatePodTemplateSpecForStatefulSet): a
    pod that would be invalid is refused when it is created."""
    obj = sts()
    obj["spec"]["template"]["spec"]["restartPolicy"] = "Never"
    obj["spec"]["template"]["spec"]["activeDeadlineSeconds"] = 5
    obj["spec"]["template"]["metadata"]["labels"]["bad key!"] = "x"
    obj["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    del obj["spec"]["template"]["spec"]["containers"][0]["image"]
    errors = errors_of(statefulsets.admit_statefulset, obj)
    assert 'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: ' \
        '"Always"' in errors  # fmt: skip
    assert "spec.template.spec.activeDeadlineSeconds: Forbidden: activeDeadlineSeconds in " \
        "StatefulSet is not Supported" in errors  # fmt: skip
    assert any(e.startswith('spec.template.labels: Invalid value: "bad key!"') for e in errors)
    assert not any("image" in e for e in errors)


def test_statefulset_template_that_does_not_decode() -> None:
    obj = sts()
    obj["spec"]["template"]["spec"]["containers"] = "web"
    with pytest.raises(ObjectUndecodable) as caught:
        statefulsets.admit_statefulset(obj)
    assert str(caught.value) == (
        'StatefulSet in version "v1" cannot be handled as a StatefulSet: json: cannot unmarshal '
        "string into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container"
    )


def test_daemonset_template_is_validated_as_a_pod() -> None:
    obj = ds()
    del obj["spec"]["template"]["spec"]["containers"][0]["image"]
    assert "spec.template.spec.containers[0].image: Required value" in errors_of(
        daemonsets.admit_daemonset, obj)  # fmt: skip


def test_statefulset_selector_required_and_not_empty() -> None:
    obj = sts()
    del obj["spec"]["selector"]
    assert "spec.selector: Required value" in errors_of(statefulsets.admit_statefulset, obj)
    obj["spec"]["selector"] = {}
    assert any("empty selector is invalid for statefulset" in e
               for e in errors_of(statefulsets.admit_statefulset, obj))  # fmt: skip


def test_statefulset_name_is_a_dns_label() -> None:
    obj = sts()
    obj["metadata"]["name"] = "web.example"
    assert errors_of(statefulsets.admit_statefulset, obj) == [
        'metadata.name: Invalid value: "web.example": must not contain dots'
    ]


def test_statefulset_update_only_some_fields() -> None:
    old = statefulsets.admit_statefulset(sts())
    scaled = copy.deepcopy(old)
    scaled["spec"]["replicas"] = 5
    scaled["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    assert statefulsets.admit_statefulset(scaled, old)["spec"]["replicas"] == 5
    renamed = copy.deepcopy(old)
    renamed["spec"]["serviceName"] = "other"
    assert errors_of(statefulsets.admit_statefulset, renamed, old) == [
        "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
        "'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and "
        "'minReadySeconds' are forbidden"
    ]


def test_statefulset_wrong_type_is_a_decoding_error() -> None:
    with pytest.raises(ObjectUndecodable) as caught:
        statefulsets.admit_statefulset(sts(replicas="three"))
    assert str(caught.value) == (
        'StatefulSet in version "v1" cannot be handled as a StatefulSet: json: cannot unmarshal '
        "string into Go struct field StatefulSetSpec.spec.replicas of type int32"
    )


def test_daemonset_defaults_and_template_generation() -> None:
    got = daemonsets.admit_daemonset(ds())
    assert got["spec"]["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}  # fmt: skip
    assert got["spec"]["revisionHistoryLimit"] == 10
    assert got["metadata"]["annotations"][daemonsets.TEMPLATE_GENERATION] == "1"
    same = daemonsets.admit_daemonset(copy.deepcopy(got), got)
    assert same["metadata"]["annotations"][daemonsets.TEMPLATE_GENERATION] == "1"
    changed = copy.deepcopy(got)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    changed["metadata"]["annotations"] = {}
    assert daemonsets.admit_daemonset(changed, got)["metadata"]["annotations"][
        daemonsets.TEMPLATE_GENERATION] == "2"  # fmt: skip


@pytest.mark.parametrize(("strategy", "error"), [
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
     "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
     "maxSurge is 0"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}},
     "spec.updateStrategy.rollingUpdate.maxSurge: Invalid value: 1: may not be set when "
     "maxUnavailable is non-zero"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "120%", "maxSurge": 0}},
     'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "120%": must not be '
     "greater than 100%"),
    ({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "x", "maxSurge": 0}},
     'spec.updateStrategy.rollingUpdate.maxUnavailable: Invalid value: "x": a valid percent '
     "string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex "
     "used for validation is '[0-9]+%')"),
])  # fmt: skip
def test_daemonset_rolling_update_errors(strategy: JSON, error: str) -> None:
    assert error in errors_of(daemonsets.admit_daemonset, ds(updateStrategy=strategy))


def test_daemonset_selector_is_immutable() -> None:
    old = daemonsets.admit_daemonset(ds())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    errors = errors_of(daemonsets.admit_daemonset, new, old)
    assert any(e.startswith("spec.selector: Invalid value: ") and e.endswith("field is immutable")
               for e in errors)  # fmt: skip


def test_controllerrevision() -> None:
    revision = {"apiVersion": "apps/v1", "kind": "ControllerRevision",
                "metadata": {"name": "web-abc", "namespace": "default"}, "revision": 1}  # fmt: skip
    assert "data: Required value: data is mandatory" in errors_of(
        apps.admit_controllerrevision, revision)  # fmt: skip
    revision["data"] = {"spec": {}}
    stored = apps.admit_controllerrevision(revision)
    changed = {**copy.deepcopy(stored), "data": {"spec": {"x": 1}}}
    assert any(e.endswith("field is immutable")
               for e in errors_of(apps.admit_controllerrevision, changed, stored))  # fmt: skip


def test_table_cells() -> None:
    obj = statefulsets.admit_statefulset(sts(replicas=3))
    obj["status"] = {"readyReplicas": 2, "replicas": 3}
    assert statefulsets.statefulset_cells(obj) == ["2/3"]
    assert apps.template_containers(obj) == ("c", "nginx")
    daemon = daemonsets.admit_daemonset(ds())
    daemon["status"] = {"desiredNumberScheduled": 1, "currentNumberScheduled": 1,
                        "numberReady": 0, "numberMisscheduled": 0}  # fmt: skip
    assert daemonsets.daemonset_cells(daemon) == [1, 1, 0, 0, 0, "<none>"]
    revision = {"metadata": {"name": "web-1", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": "web", "controller": True}]},
        "revision": 2}  # fmt: skip
    assert apps.controllerrevision_cells(revision) == ["statefulset.apps/web", 2]
