"""The admission plugins that read the cluster's objects, run on every create the API takes
and every create a controller makes (the API server's admission chain: LimitRanger and
Priority mutate a pod, then LimitRanger and ResourceQuota validate it; ResourceQuota also
counts the other objects of a namespace). The rules are pure (manifest/limitranges.py,
manifest/priorityclasses.py, manifest/resourcequotas.py); here they are given what the store
holds. Each raises `Forbidden` (a 403).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any, Protocol

from minikubelet.manifest import limitranges, priorityclasses
from minikubelet.manifest import resourcequotas as rq
from minikubelet.manifest.forbidden import Forbidden

JSON = dict[str, Any]

__all__ = ["Forbidden", "check_create", "check_pod", "mutate_pod", "quota_used"]


class Lister(Protocol):
    def list(self, resource: str, namespace: str | None = None) -> list[JSON]: ...


def _namespace(obj: JSON) -> str:
    return str((obj.get("metadata") or {}).get("namespace") or "default")


def mutate_pod(store: Lister, document: JSON) -> JSON:
    """The mutating plugins on a pod create: LimitRanger's defaults, then Priority's."""
    if not isinstance(document.get("metadata"), dict) or not isinstance(document.get("spec"), dict):
        return document  # it will not decode; the decoder says why
    ranges = store.list("limitranges", _namespace(document))
    pod = limitranges.mutate_pod(document, ranges) if ranges else document
    return priorityclasses.resolve(pod, store.list("priorityclasses"))


def _when(timestamp: Any) -> float | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def _needed(hard: JSON) -> set[tuple[str, str]]:
    """The (resource, group) whose objects a quota's hard limits count."""
    needed: set[tuple[str, str]] = set()
    for key in hard:
        if key.startswith("count/"):
            resource, _, group = key.removeprefix("count/").partition(".")
            needed.add((resource, group))
        elif key in rq.OBJECT_COUNTS:
            needed.add((key, ""))
        elif key.startswith("services."):
            needed.add(("services", ""))
        else:
            needed.add(("pods", ""))
    return needed


def quota_used(store: Lister, quota: JSON, now: float) -> dict[str, str]:
    """status.used of a quota: what its namespace's objects use of each of its hard resources
    (syncResourceQuota over the registry's evaluators)."""
    hard = (quota.get("spec") or {}).get("hard") or {}
    namespace = _namespace(quota)
    usages = []
    for resource, group in sorted(_needed(hard)):
        for obj in store.list(resource, namespace):
            if resource == "pods" and not group:
                when = _when((obj.get("metadata") or {}).get("deletionTimestamp"))
                if not rq.counts_pod(obj, now, when) or not rq.pod_matches(quota, obj):
                    continue
            elif group and (obj.get("apiVersion") or "").partition("/")[0] != group:
                continue
            usages.append(rq.usage_of(resource, group, obj))
    return rq.total(usages, hard)


def check_create(store: Lister, resource: str, group: str, obj: JSON) -> None:
    """ResourceQuota on the create of any object (a pod included), and Priority's one
    globalDefault class."""
    if resource == "priorityclasses":
        priorityclasses.check_global_default(obj, store.list("priorityclasses"))
        return
    quotas = store.list("resourcequotas", _namespace(obj))
    if not quotas:
        return
    now = time.time()
    rq.check_create(resource, group, obj, [(q, quota_used(store, q, now)) for q in quotas])


def check_pod(store: Lister, pod: JSON) -> None:
    """The validating plugins on a pod create (decoded, defaulted and valid): LimitRanger's
    min/max/ratio, then ResourceQuota."""
    ranges = store.list("limitranges", _namespace(pod))
    if ranges:
        limitranges.check_pod(pod, ranges)
    check_create(store, "pods", "", pod)
