"""The Job controller's bookkeeping of a Job (pure): its conditions as
ensureJobConditionStatus / newCondition write them, when it is finished (util.IsJobFinished),
the `batch.kubernetes.io/job-tracking` finalizer its pods carry until counted, and the pod it
makes from its template (manageJob's pod template: the controller's owner reference, the
finalizer, and for an Indexed Job the index annotation and label, the hostname
`<job>-<index>`, JOB_COMPLETION_INDEX and, with backoffLimitPerIndex, the index's failure
counts; indexed_job_utils.go addCompletionIndex*, addIndexFailureCountAnnotation).
"""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.controllers import jobindex as ix
from minikubelet.core.gotext import rfc3339
from minikubelet.core.workloads import owner_reference

JSON = dict[str, Any]
FINALIZER = "batch.kubernetes.io/job-tracking"


def condition(status: JSON, type_: str) -> JSON | None:
    for cond in status.get("conditions") or []:
        if cond.get("type") == type_ and cond.get("status") == "True":
            return dict(cond)
    return None


def finished(job: JSON) -> str | None:
    """util.IsJobFinished: `Complete` or `Failed` when one of them is True."""
    status = job.get("status") or {}
    for type_ in ("Complete", "Failed"):
        if condition(status, type_):
            return type_
    return None


def new_condition(type_: str, reason: str, message: str, now: float, status: str = "True") -> JSON:
    stamp = rfc3339(now)
    return {
        "type": type_,
        "status": status,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def ensure_condition(
    conditions: list[JSON], type_: str, status: str, reason: str, message: str, now: float
) -> bool:
    """ensureJobConditionStatus: set or update; a False one is never added fresh."""
    for i, cond in enumerate(conditions):
        if cond.get("type") == type_:
            if (cond.get("status"), cond.get("reason"), cond.get("message")) == (
                status,
                reason,
                message,
            ):
                return False
            conditions[i] = new_condition(type_, reason, message, now, status)
            return True
    if status == "False":
        return False
    conditions.append(new_condition(type_, reason, message, now, status))
    return True


def has_finalizer(pod: JSON) -> bool:
    return FINALIZER in (pod["metadata"].get("finalizers") or [])


def without_finalizer(pod: JSON) -> JSON:
    meta = dict(pod["metadata"])
    meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
    if not meta["finalizers"]:
        del meta["finalizers"]
    return {**pod, "metadata": meta}


def pod_from_template(
    job: JSON, index: int | None, *, per_index: bool, replaced: JSON | None, replaced_counts: bool
) -> JSON:
    """The pod from the template: the controller's owner reference and the tracking
    finalizer; for an index its annotation, label, hostname, env and failure counts."""
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    meta = template.get("metadata") or {}
    name = job["metadata"]["name"]
    pod_meta: JSON = {
        "generateName": f"{name}-",
        "namespace": job["metadata"].get("namespace", "default"),
        "labels": dict(meta.get("labels") or {}),
        "annotations": dict(meta.get("annotations") or {}),
        "finalizers": [*(f for f in meta.get("finalizers") or [] if f != FINALIZER), FINALIZER],
        "ownerReferences": [owner_reference(job)],
    }
    spec = dict(template.get("spec") or {})
    if index is not None:
        pod_meta["generateName"] = ix.generate_name(name, index)
        pod_meta["annotations"][ix.INDEX_KEY] = str(index)
        pod_meta["labels"][ix.INDEX_KEY] = str(index)
        spec["hostname"] = f"{name}-{index}"
        spec["initContainers"] = ix.with_index_env(spec.get("initContainers") or [])
        spec["containers"] = ix.with_index_env(spec.get("containers") or [])
        if not spec["initContainers"]:
            del spec["initContainers"]
        if per_index:
            counted, ignored = 0, 0
            if replaced is not None:
                counted = ix.failure_count(replaced)
                ignored = ix.absolute_failure_count(replaced) - counted
                if replaced_counts:
                    counted += 1
                else:
                    ignored += 1
            pod_meta["annotations"][ix.FAILURE_COUNT_KEY] = str(counted)
            if ignored:
                pod_meta["annotations"][ix.IGNORED_FAILURE_COUNT_KEY] = str(ignored)
    for key in ("labels", "annotations"):
        if not pod_meta[key]:
            del pod_meta[key]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": pod_meta, "spec": spec}
