"""The resource quota controller: each ResourceQuota's status.hard is its spec.hard and its
status.used what its namespace's objects use of each (pkg/controller/resourcequota/
resource_quota_controller.go syncResourceQuota, over the evaluators of
pkg/quota/v1/evaluator/core). The usage is computed as admission computes it
(store/admission.py quota_used)."""

from __future__ import annotations

import copy

from minikubelet.controllers.base import FunctionController, Reader, Result, UpdateStatus
from minikubelet.store import admission
from minikubelet.store.kinds import KINDS


def reconcile(store: Reader, now: float) -> Result:
    actions = []
    for quota in store.list("resourcequotas"):
        hard = dict((quota.get("spec") or {}).get("hard") or {})
        status = {"hard": hard, "used": admission.quota_used(store, quota, now)}
        if (quota.get("status") or {}) != status:
            updated = copy.deepcopy(quota)
            updated["status"] = status
            actions.append(UpdateStatus("resourcequotas", updated))
    return Result(actions)


# every kind's change may move a count/<resource> (the pods' phase and deletion included)
CONTROLLER = FunctionController(
    "resourcequota-controller",
    frozenset({"pods", *(k.resource for k in KINDS)}),
    reconcile,
)
