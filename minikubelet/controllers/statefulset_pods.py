"""A StatefulSet's pods, one per ordinal, as pkg/controller/statefulset stateful_set_utils.go
makes and reads them. Pure.

- `<set>-<ordinal>` (getPodName), the ordinal read back with `(.*)-([0-9]+)$`
  (getParentNameAndOrdinal); the ordinals run from `spec.ordinals.start` (getStartOrdinal).
- newStatefulSetPod: controller.GetPodFromTemplate (the template's labels, annotations,
  finalizers and spec, `generateName: <set>-`, the set as controller owner), then
  initIdentity (the `statefulset.kubernetes.io/pod-name` and `apps.kubernetes.io/pod-index`
  labels, `hostname` the pod's name, `subdomain` the set's `serviceName`) and updateStorage
  (a volume per claim template referencing its claim `<template>-<set>-<ordinal>`:
  getPersistentVolumeClaimName), and the `controller-revision-hash` label (setPodRevision).
- newVersionedStatefulSetPod: a pod below the partition (or, with `RollingUpdate` and no
  `rollingUpdate`, below `currentReplicas`) is made from the current revision, the others from
  the update revision.
- isRunningAndReady, isRunningAndAvailable, isHealthy, isTerminating, isFailed, isSucceeded.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minikubelet.controllers.history import REVISION_HASH_LABEL
from minikubelet.core.workloads import deleting, owner_reference, pod_available, pod_phase
from minikubelet.core.workloads import pod_ready as is_pod_ready

JSON = dict[str, Any]
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"  # apps.StatefulSetPodNameLabel
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"  # apps.PodIndexLabel
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")  # statefulPodRegex


def parent_and_ordinal(pod: JSON) -> tuple[str, int]:
    """getParentNameAndOrdinal: ("", -1) for a name that does not end in `-<number>`."""
    match = _ORDINAL.match(pod["metadata"]["name"])
    if match is None:
        return "", -1
    return match.group(1), int(match.group(2))


def ordinal(pod: JSON) -> int:
    return parent_and_ordinal(pod)[1]


def start_ordinal(sts: JSON) -> int:
    """getStartOrdinal: `spec.ordinals.start`, 0 without it."""
    return int(((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0)


def replicas(sts: JSON) -> int:
    value = (sts.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def end_ordinal(sts: JSON) -> int:
    """getEndOrdinal: the last ordinal of the set's range (start + replicas - 1)."""
    return start_ordinal(sts) + replicas(sts) - 1


def in_ordinal_range(pod: JSON, sts: JSON) -> bool:
    """podInOrdinalRange."""
    return start_ordinal(sts) <= ordinal(pod) <= end_ordinal(sts)


def pod_name(sts: JSON, index: int) -> str:
    return f"{sts['metadata']['name']}-{index}"


def claim_name(template: JSON, sts: JSON, index: int) -> str:
    """getPersistentVolumeClaimName: `<claim template>-<set>-<ordinal>`."""
    return f"{template['metadata']['name']}-{sts['metadata']['name']}-{index}"


def claim_volumes(sts: JSON, index: int) -> list[JSON]:
    """The pod's volumes for the set's claim templates (updateStorage): the seam where the
    claims themselves are made once PersistentVolumeClaims are bound to volumes."""
    return [
        {"name": t["metadata"]["name"],
         "persistentVolumeClaim": {"claimName": claim_name(t, sts, index)}}
        for t in (sts.get("spec") or {}).get("volumeClaimTemplates") or []
        if (t.get("metadata") or {}).get("name")
    ]  # fmt: skip


def claims_for(sts: JSON, index: int) -> list[JSON]:
    """getPersistentVolumeClaims: the claims of one ordinal, one per claim template, named
    `<template>-<set>-<ordinal>`, labelled with the template's labels and the set's
    selector's matchLabels. With `persistentVolumeClaimRetentionPolicy.whenDeleted: Delete`
    they are owned by the set, so the garbage collector deletes them with it
    (updateClaimOwnerRefForSetAndPod); with Retain (the default) they outlive the pods and
    the set, holding their data."""
    spec = sts.get("spec") or {}
    match = (spec.get("selector") or {}).get("matchLabels") or {}
    out = []
    for template in spec.get("volumeClaimTemplates") or []:
        meta = template.get("metadata") or {}
        if not meta.get("name"):
            continue
        claim_meta: JSON = {
            "name": claim_name(template, sts, index),
            "namespace": sts["metadata"].get("namespace", "default"),
            "labels": {**(meta.get("labels") or {}), **match},
        }
        if meta.get("annotations"):
            claim_meta["annotations"] = dict(meta["annotations"])
        retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
        if retention.get("whenDeleted") == "Delete":
            claim_meta["ownerReferences"] = [owner_reference(sts)]
        out.append({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_meta,
                    "spec": copy.deepcopy(template.get("spec") or {})})  # fmt: skip
    return out


def revision_of(pod: JSON) -> str:
    """getPodRevision."""
    return str((pod["metadata"].get("labels") or {}).get(REVISION_HASH_LABEL) or "")


def new_pod(sts: JSON, index: int, revision: str) -> JSON:
    """newStatefulSetPod and setPodRevision."""
    template = (sts.get("spec") or {}).get("template") or {}
    template_meta = template.get("metadata") or {}
    name = pod_name(sts, index)
    spec = copy.deepcopy(template.get("spec") or {})
    meta: JSON = {
        "name": name,
        "generateName": f"{sts['metadata']['name']}-",
        "namespace": sts["metadata"].get("namespace", "default"),
        "labels": {**(template_meta.get("labels") or {}), POD_NAME_LABEL: name,
                   POD_INDEX_LABEL: str(index), REVISION_HASH_LABEL: revision},
        "ownerReferences": [owner_reference(sts)],
    }  # fmt: skip
    if template_meta.get("annotations"):
        meta["annotations"] = dict(template_meta["annotations"])
    if template_meta.get("finalizers"):
        meta["finalizers"] = list(template_meta["finalizers"])
    claims = claim_volumes(sts, index)
    if claims:
        names = {v["name"] for v in claims}
        spec["volumes"] = claims + [v for v in spec.get("volumes") or [] if v["name"] not in names]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}


def partition(sts: JSON) -> int | None:
    rolling = ((sts.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")
    return None if rolling is None else int(rolling.get("partition") or 0)


def strategy(sts: JSON) -> str:
    return str(((sts.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate")


def versioned_pod(current_set: JSON, update_set: JSON, current: str, update: str,
                  index: int, current_replicas: int) -> JSON:  # fmt: skip
    """newVersionedStatefulSetPod (with Go's precedence: `a && b || c`)."""
    start = start_ordinal(current_set)
    cut = partition(current_set)
    rolling = strategy(current_set) == "RollingUpdate"
    if (rolling and cut is None and index < start + current_replicas) or (
        cut is not None and index < start + cut
    ):
        return new_pod(current_set, index, current)
    return new_pod(update_set, index, update)


def running_and_ready(pod: JSON) -> bool:
    """isRunningAndReady."""
    return pod_phase(pod) == "Running" and is_pod_ready(pod)


def running_and_available(pod: JSON, min_ready_seconds: int, now: float) -> bool:
    """isRunningAndAvailable."""
    return pod_phase(pod) == "Running" and pod_available(pod, min_ready_seconds, now)


def terminating(pod: JSON) -> bool:
    return deleting(pod)


def healthy(pod: JSON) -> bool:
    """isHealthy: running and ready, not terminating."""
    return running_and_ready(pod) and not terminating(pod)


def finished(pod: JSON) -> bool:
    """isFailed or isSucceeded: a pod to delete and make again."""
    return pod_phase(pod) in ("Failed", "Succeeded")
