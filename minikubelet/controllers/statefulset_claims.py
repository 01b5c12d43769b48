"""Who owns a StatefulSet's claims: `persistentVolumeClaimRetentionPolicy` as owner references,
as pkg/controller/statefulset stateful_set_utils.go sets them (isClaimOwnerUpToDate,
updateClaimOwnerRefForSetAndPod) and stateful_pod_control.go applies them
(ClaimsMatchRetentionPolicy, UpdatePodClaimForRetentionPolicy). Pure.

The garbage collector does the deleting: a claim owned by the set goes with the set, a claim
owned by its pod goes with the pod.

| whenScaled | whenDeleted | a pod in the ordinal range | a pod scaled down (condemned) |
|---|---|---|---|
| Retain | Retain | no reference | no reference |
| Retain | Delete | the set | the set |
| Delete | Retain | no reference | the pod |
| Delete | Delete | the set | the pod |

Each reference is a controller reference (metav1.NewControllerRef). A claim with a reference
to another object of the set's or pod's kind and name but another uid (a stale one, left by an
earlier set of the same name) is not touched; another controller's claim loses only our
references and gets no new one.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import statefulset_pods as sp
from minikubelet.controllers.base import Reader, Update
from minikubelet.core.workloads import owner_reference

JSON = dict[str, Any]
RETAIN, DELETE = "Retain", "Delete"


def policy(sts: JSON) -> tuple[str, str]:
    """getPersistentVolumeClaimRetentionPolicy: (whenScaled, whenDeleted), Retain by default."""
    retention = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
    return retention.get("whenScaled") or RETAIN, retention.get("whenDeleted") or RETAIN


def _group(api_version: str) -> str:
    return api_version.split("/")[0] if "/" in api_version else ""


def _matches(ref: JSON, obj: JSON) -> bool:
    """matchesRef: the same group, kind and name (the uid is not compared)."""
    return (
        _group(str(ref.get("apiVersion", ""))) == _group(str(obj.get("apiVersion", "")))
        and ref.get("kind") == obj.get("kind")
        and ref.get("name") == obj["metadata"]["name"]
    )


def _uid(obj: JSON) -> str:
    return str(obj["metadata"].get("uid", ""))


def _refs(claim: JSON) -> list[JSON]:
    return list(claim["metadata"].get("ownerReferences") or [])


def _has_ref(claim: JSON, owner: JSON) -> bool:
    """hasOwnerRef: by uid."""
    return any(ref.get("uid") == _uid(owner) for ref in _refs(claim))


def _has_stale_ref(claim: JSON, owner: JSON) -> bool:
    """hasStaleOwnerRef: the first reference matching the owner's kind and name has another uid."""
    for ref in _refs(claim):
        if _matches(ref, owner):
            return ref.get("uid") != _uid(owner)
    return False


def _unexpected_controller(claim: JSON, sts: JSON, pod: JSON) -> bool:
    """hasUnexpectedController: under a Delete policy, a controller of the claim that is neither
    the set nor the pod, or a reference to either with another uid."""
    if policy(sts) == (RETAIN, RETAIN):
        return False
    for ref in _refs(claim):
        for owner in (sts, pod):
            if _matches(ref, owner):
                if ref.get("uid") != _uid(owner):
                    return True
                break
        else:
            if ref.get("controller") is True:
                return True
    return False


def _non_controller_owner(claim: JSON, sts: JSON, pod: JSON) -> bool:
    """hasNonControllerOwner: the set or pod is an owner but not the controller."""
    ours = {_uid(sts), _uid(pod)}
    return any(ref.get("uid") in ours and ref.get("controller") is not True for ref in _refs(claim))


def up_to_date(claim: JSON, sts: JSON, pod: JSON) -> bool:
    """isClaimOwnerUpToDate."""
    if _has_stale_ref(claim, sts) or _has_stale_ref(claim, pod):
        return True
    if _unexpected_controller(claim, sts, pod):
        return not (_has_ref(claim, sts) or _has_ref(claim, pod))
    if _non_controller_owner(claim, sts, pod):
        return False
    scaled, deleted = policy(sts)
    set_ref, pod_ref = _has_ref(claim, sts), _has_ref(claim, pod)
    scaled_down = not sp.in_ordinal_range(pod, sts)
    if scaled == DELETE and deleted == DELETE:
        return scaled_down != set_ref and scaled_down == pod_ref
    if scaled == DELETE:
        return not set_ref and scaled_down == pod_ref
    if deleted == DELETE:
        return set_ref and not pod_ref
    return not set_ref and not pod_ref


def owner_refs(claim: JSON, sts: JSON, pod: JSON) -> list[JSON]:
    """updateClaimOwnerRefForSetAndPod: the claim's references with ours scrubbed and set again
    as the policy and the pod's place (in range or scaled down) say."""
    unexpected = _unexpected_controller(claim, sts, pod)
    refs = [r for r in _refs(claim) if not (_matches(r, sts) or _matches(r, pod))]
    if unexpected:
        return refs
    scaled, deleted = policy(sts)
    scaled_down = not sp.in_ordinal_range(pod, sts)
    owner: JSON | None = None
    if scaled == DELETE and scaled_down:
        owner = pod
    elif deleted == DELETE and not (scaled == DELETE and scaled_down):
        owner = sts
    if owner is not None and not any(r.get("uid") == _uid(owner) for r in refs):
        refs.append(owner_reference(owner))
    return refs


def retention_updates(sts: JSON, pod: JSON, store: Reader) -> list[Update]:
    """UpdatePodClaimForRetentionPolicy, where ClaimsMatchRetentionPolicy says it is needed:
    an update of each existing claim of the pod's ordinal whose references do not match."""
    namespace = sts["metadata"].get("namespace", "default")
    updates: list[Update] = []
    for wanted in sp.claims_for(sts, sp.ordinal(pod)):
        claim = store.get("persistentvolumeclaims", namespace, wanted["metadata"]["name"])
        if claim is None or up_to_date(claim, sts, pod):
            continue
        meta = {**claim["metadata"], "ownerReferences": owner_refs(claim, sts, pod)}
        if not meta["ownerReferences"]:
            del meta["ownerReferences"]
        updates.append(Update("persistentvolumeclaims", {**claim, "metadata": meta}))
    return updates
