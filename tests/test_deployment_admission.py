"""Deployment admission (manifest/deployments.py): the API server's defaults
(pkg/apis/apps/v1/defaults.go SetDefaults_Deployment) and its validation in its words
(pkg/apis/apps/validation ValidateDeployment, validation_test.go TestValidateDeployment's
cases), and kubectl's cells (printers.go printDeployment)."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest

from minikubelet.controllers import deployment as dc
from minikubelet.controllers.base import Create, Update, UpdateStatus
from minikubelet.manifest.configmaps import ObjectInvalid, ObjectUndecodable
from minikubelet.manifest.deployments import admit_deployment, cells

JSON = dict[str, Any]


def deployment(**spec: Any) -> JSON:
    base: JSON = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]}},
        },
    }  # fmt: skip
    base["spec"].update(spec)
    return base


def errors_of(obj: JSON, old: JSON | None = None) -> list[str]:
    with pytest.raises(ObjectInvalid) as info:
        admit_deployment(obj, old)
    assert str(info.value).startswith('Deployment "web" is invalid: ')
    return info.value.errors


def test_defaults() -> None:
    admitted = admit_deployment({**deployment(), "status": {"replicas": 9}})
    spec = admitted["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}
    }  # fmt: skip
    assert spec["revisionHistoryLimit"] == 10
    assert spec["progressDeadlineSeconds"] == 600
    pod = spec["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 30
    assert pod["dnsPolicy"] == "ClusterFirst"
    assert pod["containers"][0]["imagePullPolicy"] == "IfNotPresent"
    assert admitted["status"] == {}  # a new deployment's status is the controller's
    assert admit_deployment(copy.deepcopy(admitted), admitted)["spec"] == spec  # idempotent


def test_recreate_gets_no_rolling_update_defaults() -> None:
    admitted = admit_deployment(deployment(strategy={"type": "Recreate"}))
    assert admitted["spec"]["strategy"] == {"type": "Recreate"}


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": -1}, "spec.replicas: Invalid value: -1: must be greater than or equal to 0"),
        ({"selector": None}, "spec.selector: Required value"),
        ({"selector": {}}, "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:"
         "map[string]string(nil), MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: "
         "empty selector is invalid for deployment"),
        ({"selector": {"matchLabels": {"app": "other"}}},
         'spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: '
         "`selector` does not match template `labels`"),
        ({"template": {"metadata": {"labels": {"app": "web"}},
                       "spec": {"restartPolicy": "Never",
                                "containers": [{"name": "app", "image": "nginx"}]}}},
         'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: '
         '"Always"'),
        ({"template": {"metadata": {"labels": {"app": "web"}},
                       "spec": {"containers": [{"name": "app"}]}}},
         "spec.template.spec.containers[0].image: Required value"),
        ({"strategy": {"type": "Recreate", "rollingUpdate": {}}},
         "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` is "
         "'Recreate'"),
        ({"strategy": {"type": "Blue"}},
         'spec.strategy: Unsupported value: apps.DeploymentStrategy{Type:"Blue", '
         "RollingUpdate:(*apps.RollingUpdateDeployment)(nil)}: supported values: \"Recreate\", "
         '"RollingUpdate"'),
        ({"strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}},
         "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:0, "
         'IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'),
        ({"strategy": {"rollingUpdate": {"maxSurge": "0%", "maxUnavailable": "0%"}}},
         "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, "
         'IntVal:0, StrVal:"0%"}: may not be 0 when `maxSurge` is 0'),
        ({"strategy": {"rollingUpdate": {"maxSurge": "abc"}}},
         "spec.strategy.rollingUpdate.maxSurge: Invalid value: intstr.IntOrString{Type:1, "
         "IntVal:0, StrVal:\"abc\"}: a valid percent string must be a numeric string followed "
         "by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')"),
        ({"strategy": {"rollingUpdate": {"maxSurge": -1}}},
         "spec.strategy.rollingUpdate.maxSurge: Invalid value: -1: must be greater than or "
         "equal to 0"),
        ({"strategy": {"rollingUpdate": {"maxUnavailable": "150%"}}},
         "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: intstr.IntOrString{Type:1, "
         'IntVal:0, StrVal:"150%"}: must not be greater than 100%'),
        ({"minReadySeconds": -1},
         "spec.minReadySeconds: Invalid value: -1: must be greater than or equal to 0"),
        ({"revisionHistoryLimit": -2},
         "spec.revisionHistoryLimit: Invalid value: -2: must be greater than or equal to 0"),
        ({"minReadySeconds": 10, "progressDeadlineSeconds": 10},
         "spec.progressDeadlineSeconds: Invalid value: 10: must be greater than minReadySeconds"),
        ({"selector": {"matchExpressions": [{"key": "app", "operator": "In"}]}},
         "spec.selector.matchExpressions[0].values: Required value: must be specified when "
         "`operator` is 'In' or 'NotIn'"),
    ],
)  # fmt: skip
def test_validation(spec: JSON, expected: str) -> None:
    obj = deployment(**spec)
    if spec.get("selector", "") is None:
        del obj["spec"]["selector"]
    assert expected in errors_of(obj)


def test_the_selector_is_immutable() -> None:
    old = admit_deployment(deployment())
    new = copy.deepcopy(old)
    new["spec"]["selector"] = {"matchLabels": {"app": "web", "tier": "x"}}
    new["spec"]["template"]["metadata"]["labels"]["tier"] = "x"
    assert errors_of(new, old) == [
        'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":'
        '"web", "tier":"x"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is '
        "immutable"
    ]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"replicas": "3"}, "cannot unmarshal string into Go struct field "
         "DeploymentSpec.spec.replicas of type int32"),
        ({"paused": "yes"}, "cannot unmarshal string into Go struct field "
         "DeploymentSpec.spec.paused of type bool"),
        ({"template": {"metadata": {"labels": {"app": True}}, "spec": {}}},
         "cannot unmarshal bool into Go struct field ObjectMeta.spec.template.metadata.labels "
         "of type string"),
        ({"strategy": {"rollingUpdate": {"maxSurge": 1.5}}}, "cannot unmarshal number into Go "
         "struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type "
         "intstr.IntOrString"),
    ],
)  # fmt: skip
def test_undecodable(spec: JSON, expected: str) -> None:
    with pytest.raises(ObjectUndecodable) as info:
        admit_deployment(deployment(**spec))
    assert str(info.value).startswith(
        'Deployment in version "v1" cannot be handled as a Deployment: json: '
    )
    assert expected in str(info.value)


def test_cells() -> None:
    obj = admit_deployment(deployment(replicas=3))
    obj["status"] = {"replicas": 3, "readyReplicas": 2, "updatedReplicas": 3,
                     "availableReplicas": 2}  # fmt: skip
    assert cells(obj) == ["2/3", 3, 2, "app", "nginx:1.27", "app=web"]
    obj["status"] = {}
    assert cells(obj)[:3] == ["0/3", 0, 0]


def test_what_is_stored_validates_against_the_official_schema() -> None:
    """The admitted Deployment, the ReplicaSet its controller creates and the status it
    writes, strictly against the official 1.34 schemas (kubernetes_validate)."""
    obj = admit_deployment(deployment(replicas=3, minReadySeconds=5))
    obj["metadata"].update(uid="u1", generation=1, resourceVersion="1",
                           creationTimestamp="2026-01-01T00:00:00Z")  # fmt: skip
    kubernetes_validate.validate(obj, "1.34", strict=True)

    class Store:
        def get(self, resource: str, namespace: str, name: str) -> JSON | None:
            return None

        def list(self, resource: str, namespace: str | None = None) -> list[JSON]:
            return [obj] if resource == "deployments" else []

    actions = dc.reconcile(Store(), 1_800_000_000.0).actions
    [create] = [a for a in actions if isinstance(a, Create)]
    kubernetes_validate.validate(create.object, "1.34", strict=True)
    [status] = [a for a in actions if isinstance(a, UpdateStatus)]
    kubernetes_validate.validate(status.object, "1.34", strict=True)
    [update] = [a for a in actions if isinstance(a, Update)]
    kubernetes_validate.validate(update.object, "1.34", strict=True)
