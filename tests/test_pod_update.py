"""ValidatePodUpdate's spec rules (pkg/apis/core/validation/validation.go), table-tested on
v1 spec dicts: what an update may change, and the API server's texts for what it may not."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from minikubelet.manifest.podupdatevalidation import UPDATABLE_POD_SPEC_FIELDS, validate_pod_update

OLD: dict[str, Any] = {
    "containers": [{"name": "app", "image": "busybox:1", "command": ["sleep", "600"]}],
    "initContainers": [{"name": "init", "image": "busybox:1", "command": ["true"]}],
    "restartPolicy": "Always",
    "terminationGracePeriodSeconds": 30,
    "tolerations": [{"key": "a", "operator": "Exists", "effect": "NoExecute"}],
}
DEADLINE = "spec.activeDeadlineSeconds: Invalid value: "
FORBIDDEN = "spec: Forbidden: pod updates may not change fields other than " + ",".join(
    UPDATABLE_POD_SPEC_FIELDS
)


def changed(edit: Callable[[dict[str, Any]], object], old: dict[str, Any] = OLD) -> list[str]:
    new = copy.deepcopy(old)
    edit(new)
    return validate_pod_update(old, new)


def with_deadline(seconds: int) -> dict[str, Any]:
    return {**OLD, "activeDeadlineSeconds": seconds}


@pytest.mark.parametrize(
    ("edit", "old"),
    [
        (lambda s: s["containers"][0].update(image="busybox:2"), OLD),
        (lambda s: s["initContainers"][0].update(image="busybox:2"), OLD),
        (lambda s: s.update(activeDeadlineSeconds=30), OLD),  # set from nil
        (lambda s: s.update(activeDeadlineSeconds=10), with_deadline(30)),  # lowered
        (lambda s: s.update(activeDeadlineSeconds=30), with_deadline(30)),  # unchanged
        (lambda s: s["tolerations"].append({"key": "b", "operator": "Exists"}), OLD),
        (lambda s: s["tolerations"][0].update(tolerationSeconds=5), OLD),
        (lambda s: s.update(terminationGracePeriodSeconds=1), {**OLD, "terminationGracePeriodSeconds": -1}),
        (lambda s: None, OLD),
    ],
)  # fmt: skip
def test_allowed_updates(edit: Callable[[dict[str, Any]], object], old: dict[str, Any]) -> None:
    assert changed(edit, old) == []


@pytest.mark.parametrize(
    ("edit", "old", "errors"),
    [
        (lambda s: s.update(activeDeadlineSeconds=60), with_deadline(30),
         [DEADLINE + "60: must be less than or equal to previous value"]),
        (lambda s: s.pop("activeDeadlineSeconds"), with_deadline(30),
         [DEADLINE + "null: must not update from a positive integer to nil value"]),
        (lambda s: s.update(activeDeadlineSeconds=-1), OLD,
         [DEADLINE + "-1: must be between 0 and 2147483647, inclusive"]),
        (lambda s: s["containers"].append({"name": "b", "image": "x"}), OLD,
         ["spec.containers: Forbidden: pod updates may not add or remove containers"]),
        (lambda s: s.update(initContainers=[]), OLD,
         ["spec.initContainers: Forbidden: pod updates may not add or remove containers"]),
        (lambda s: s["containers"][0].update(image=""), OLD,
         ["spec.containers[0].image: Required value"]),
        (lambda s: s["containers"][0].update(image=" busybox"), OLD,
         ['spec.containers[0].image: Invalid value: " busybox": must not have leading or '
          "trailing whitespace"]),
        (lambda s: s.update(tolerations=[]), OLD,
         ["spec.tolerations: Forbidden: existing toleration can not be modified except its "
          "tolerationSeconds"]),
        (lambda s: s.update(terminationGracePeriodSeconds=1), OLD,
         [FORBIDDEN + "\n  core.PodSpec{\n- \tterminationGracePeriodSeconds: 30,\n"
          "+ \tterminationGracePeriodSeconds: 1,\n  }"]),
    ],
)  # fmt: skip
def test_refused_updates(
    edit: Callable[[dict[str, Any]], object], old: dict[str, Any], errors: list[str]
) -> None:
    assert changed(edit, old) == errors


def test_forbidden_change_lists_what_differs_besides_what_may_change() -> None:
    def edit(spec: dict[str, Any]) -> None:
        spec["containers"][0].update(image="busybox:2", command=["true"])
        spec["activeDeadlineSeconds"] = 5
        spec["nodeSelector"] = {"disk": "ssd"}

    assert changed(edit) == [
        FORBIDDEN + "\n  core.PodSpec{\n"
        '- \tcontainers[0].command: ["sleep","600"],\n'
        '+ \tcontainers[0].command: ["true"],\n'
        '+ \tnodeSelector: {"disk":"ssd"},\n'
        "  }"
    ]
