"""The Deployment controller's arithmetic and bookkeeping, pure: the rolling update's
fenceposts, the pod-template-hash, the replica sets' annotations, ordering and ownership,
as pkg/controller/deployment/util/deployment_util.go (ResolveFenceposts, MaxSurge,
MaxUnavailable, NewRSNewReplicas, IsSaturated, FindActiveOrLatest, GetReplicaSetProportion,
SetNewReplicaSetAnnotations), sync.go (getNewReplicaSet's new set), recreate.go
(oldPodsRunning), pkg/controller/controller_utils.go (ComputeHash,
ReplicaSetsByCreationTimestamp, ReplicaSetsBySizeOlder/Newer), controller_ref_manager.go
(ClaimReplicaSets) and k8s.io/apimachinery/pkg/util/intstr (GetScaledValueFromIntOrPercent)
define them.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable
from typing import Any

from minikubelet.core import workloads as wl
from minikubelet.core.gotext import parse_rfc3339

JSON = dict[str, Any]

HASH_LABEL = "pod-template-hash"  # apps.DefaultDeploymentUniqueLabelKey
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
ROLLBACK_TO = "deprecated.deployment.rollback.to"
# annotationsToSkip: what is not copied from a Deployment to its replica sets
ANNOTATIONS_TO_SKIP = frozenset(
    {LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO}
)
MAX_REV_HISTORY_CHARS = 2000  # the controller's maxRevHistoryLengthInChars


# --- intstr and the fenceposts ---------------------------------------------------------------


def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is; `N%` of total, rounded up or
    down. ValueError for a string that is not a percentage (validation refuses those)."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    if not value.endswith("%") or not value[:-1].lstrip("-").isdigit():
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    scaled = int(value[:-1]) * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def replicas(obj: JSON) -> int:
    """`spec.replicas` (the API server defaults it to 1; a stored object always has it)."""
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def is_rolling_update(deployment: JSON) -> bool:
    strategy = (deployment.get("spec") or {}).get("strategy") or {}
    return bool(strategy.get("type", "RollingUpdate") == "RollingUpdate")


def resolve_fenceposts(
    max_surge: int | str | None, max_unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """ResolveFenceposts: surge rounds up, unavailable rounds down; both 0 -> unavailable 1
    (validation refuses both explicitly 0; rounding down may still give it)."""
    surge = scaled_value(0 if max_surge is None else max_surge, desired, True)
    unavailable = scaled_value(0 if max_unavailable is None else max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _fenceposts(deployment: JSON) -> tuple[int, int]:
    rolling = ((deployment.get("spec") or {}).get("strategy") or {}).get("rollingUpdate") or {}
    return resolve_fenceposts(
        rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(deployment)
    )


def max_surge(deployment: JSON) -> int:
    """MaxSurge: 0 unless RollingUpdate."""
    return _fenceposts(deployment)[0] if is_rolling_update(deployment) else 0


def max_unavailable(deployment: JSON) -> int:
    """MaxUnavailable: 0 unless RollingUpdate with replicas; never more than replicas."""
    desired = replicas(deployment)
    if not is_rolling_update(deployment) or desired == 0:
        return 0
    return min(_fenceposts(deployment)[1], desired)


# --- the pod-template-hash -------------------------------------------------------------------

_ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789"  # k8s.io/apimachinery/pkg/util/rand


def safe_encode(text: str) -> str:
    """rand.SafeEncodeString: each character mapped into a vowel-free alphabet (no words,
    no ambiguous 0/1/3)."""
    return "".join(_ALPHANUMS[ord(ch) % len(_ALPHANUMS)] for ch in text)


def fnv32a(data: bytes) -> int:
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def compute_hash(template: JSON, collision_count: int | None) -> str:
    """controller.ComputeHash: FNV-32a of the template (here its canonical JSON, where
    upstream hashes the Go struct) and the collision count's 8 little-endian bytes, the
    uint32 printed in decimal through SafeEncodeString."""
    data = json.dumps(template, sort_keys=True, separators=(",", ":")).encode()
    if collision_count is not None:
        data += (collision_count & 0xFFFFFFFF).to_bytes(8, "little")
    return safe_encode(str(fnv32a(data)))


def without_hash(template: JSON) -> JSON:
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels")
    if labels is not None:
        labels.pop(HASH_LABEL, None)
        if not labels:
            del template["metadata"]["labels"]
    if "metadata" in template and not template["metadata"]:
        del template["metadata"]
    return template


def equal_ignore_hash(a: JSON, b: JSON) -> bool:
    """EqualIgnoreHash: two pod templates alike but for the pod-template-hash label."""
    return without_hash(a) == without_hash(b)


# --- replica sets ----------------------------------------------------------------------------


def status_count(obj: JSON, field: str) -> int:
    return int((obj.get("status") or {}).get(field) or 0)


def total_replicas(sets: Iterable[JSON | None]) -> int:
    """GetReplicaCountForReplicaSets: the sum of spec.replicas."""
    return sum(replicas(rs) for rs in sets if rs is not None)


def total_status(sets: Iterable[JSON | None], field: str) -> int:
    """GetActualReplicaCountForReplicaSets (`replicas`), GetReadyReplicaCountForReplicaSets,
    GetAvailableReplicaCountForReplicaSets: the sum of one status count."""
    return sum(status_count(rs, field) for rs in sets if rs is not None)


def active(sets: Iterable[JSON | None]) -> list[JSON]:
    """FilterActiveReplicaSets: those with replicas wanted."""
    return [rs for rs in sets if rs is not None and replicas(rs) > 0]


def by_creation(rs: JSON) -> tuple[float, str]:
    """ReplicaSetsByCreationTimestamp: oldest first, then by name."""
    meta = rs["metadata"]
    stamp = meta.get("creationTimestamp")  # none yet: one being created, the newest
    return (parse_rfc3339(stamp) if stamp else math.inf, meta["name"])


def sorted_by_size(sets: list[JSON], *, newer_first: bool) -> list[JSON]:
    """ReplicaSetsBySizeNewer / BySizeOlder: the largest first; ties newest (or oldest)
    first."""
    by_age = sorted(sets, key=by_creation, reverse=newer_first)
    return sorted(by_age, key=replicas, reverse=True)  # stable: ties keep the age order


def revision(obj: JSON) -> int:
    """Revision: the revision annotation as a number (0 without one or unparsable)."""
    value = (obj.get("metadata", {}).get("annotations") or {}).get(REVISION)
    try:
        return int(value) if value is not None else 0
    except ValueError:
        return 0


def max_revision(sets: Iterable[JSON]) -> int:
    return max((revision(rs) for rs in sets), default=0)


def annotations_of(obj: JSON) -> dict[str, str]:
    meta = obj.setdefault("metadata", {})
    if meta.get("annotations") is None:
        meta["annotations"] = {}
    result: dict[str, str] = meta["annotations"]
    return result


def set_replicas_annotations(rs: JSON, desired: int, max_replicas: int) -> bool:
    """SetReplicasAnnotations: desired-replicas and max-replicas; True if they changed."""
    notes = annotations_of(rs)
    wanted = {DESIRED_REPLICAS: str(desired), MAX_REPLICAS: str(max_replicas)}
    if all(notes.get(k) == v for k, v in wanted.items()):
        return False
    notes.update(wanted)
    return True


def replicas_annotations_need_update(rs: JSON, desired: int, max_replicas: int) -> bool:
    notes = rs["metadata"].get("annotations") or {}
    return notes.get(DESIRED_REPLICAS) != str(desired) or notes.get(MAX_REPLICAS) != str(
        max_replicas
    )


def set_new_rs_annotations(deployment: JSON, rs: JSON, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: the deployment's annotations copied (but those of
    annotationsToSkip); the revision raised to new_revision if lower, the old one kept in
    revision-history (a rollback to this set); replica annotations on a set about to be
    created. True if anything changed."""
    notes = annotations_of(rs)
    changed = False
    for key, value in (deployment["metadata"].get("annotations") or {}).items():
        if key not in ANNOTATIONS_TO_SKIP and notes.get(key) != value:
            notes[key] = value
            changed = True
    old_text = notes.get(REVISION)
    try:
        old = int(old_text) if old_text is not None else 0
    except ValueError:
        return changed
    if old < new_revision:
        notes[REVISION] = str(new_revision)
        changed = True
        if old_text is not None:
            history = notes.get(REVISION_HISTORY, "")
            revisions = [r for r in history.split(",") if r] + [old_text]
            while len(",".join(revisions)) > MAX_REV_HISTORY_CHARS and len(revisions) > 1:
                revisions.pop(0)
            notes[REVISION_HISTORY] = ",".join(revisions)
    if not exists:
        desired = replicas(deployment)
        changed = set_replicas_annotations(rs, desired, desired + max_surge(deployment)) or changed
    return changed


def desired_annotation(rs: JSON) -> int | None:
    value = (rs["metadata"].get("annotations") or {}).get(DESIRED_REPLICAS)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def is_saturated(deployment: JSON, rs: JSON | None) -> bool:
    """IsSaturated: the new set has all the replicas, annotated so, all available."""
    if rs is None:
        return False
    desired = replicas(deployment)
    return (
        replicas(rs) == desired
        and desired_annotation(rs) == desired
        and status_count(rs, "availableReplicas") == desired
    )


def new_rs_new_replicas(deployment: JSON, all_sets: list[JSON], new_rs: JSON) -> int:
    """NewRSNewReplicas: RollingUpdate scales the new set up as far as maxSurge allows
    (never past replicas); Recreate goes straight to replicas."""
    desired = replicas(deployment)
    if not is_rolling_update(deployment):
        return desired
    max_total = desired + _fenceposts(deployment)[0]
    current = total_replicas(all_sets)
    if current >= max_total:
        return replicas(new_rs)
    return replicas(new_rs) + min(max_total - current, desired - replicas(new_rs))


def find_active_or_latest(new_rs: JSON | None, old_sets: list[JSON]) -> JSON | None:
    """FindActiveOrLatest: the only set with replicas, or the newest when none has any;
    None when several do (they are scaled proportionally)."""
    if new_rs is None and not old_sets:
        return None
    newest_first = sorted(old_sets, key=by_creation, reverse=True)
    live = active([*newest_first, new_rs])
    if not live:
        return new_rs if new_rs is not None else newest_first[0]
    return live[0] if len(live) == 1 else None


def rs_proportion(rs: JSON, deployment: JSON, to_add: int, added: int, status_replicas: int) -> int:
    """GetReplicaSetProportion / getReplicaSetFraction: this set's share of a scaling, from
    its size against the max-replicas it was sized for (the deployment's status.replicas
    without the annotation), bounded by what is left to add or remove."""
    if replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    desired = replicas(deployment)
    if desired == 0:
        fraction = -replicas(rs)
    else:
        max_now = desired + max_surge(deployment)
        value = (rs["metadata"].get("annotations") or {}).get(MAX_REPLICAS)
        try:
            before = int(value) if value is not None else status_replicas
        except ValueError:
            before = status_replicas
        size = replicas(rs) * max_now / before if before else float(replicas(rs))
        fraction = math.floor(size + 0.5) - replicas(rs)  # integer.RoundToInt32
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def name_of(obj: JSON) -> str:
    return str(obj["metadata"]["name"])


def new_replica_set(deployment: JSON, owner: JSON, template: JSON, hash_: str) -> JSON:
    """getNewReplicaSet's new set: `<deployment>-<hash>`, the hash label added to its
    labels, its selector and its template's labels, owned by the deployment, no replicas
    yet, the deployment's minReadySeconds."""
    new_template = copy.deepcopy(template)
    labels = {**(new_template.get("metadata", {}).get("labels") or {}), HASH_LABEL: hash_}
    new_template.setdefault("metadata", {})["labels"] = labels
    selector = copy.deepcopy(deployment["spec"]["selector"])
    selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH_LABEL: hash_}
    spec: JSON = {"replicas": 0, "selector": selector, "template": new_template}
    if deployment["spec"].get("minReadySeconds"):
        spec["minReadySeconds"] = deployment["spec"]["minReadySeconds"]
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{hash_}",
            "namespace": meta["namespace"],
            "labels": dict(labels),
            "ownerReferences": [wl.owner_reference(owner)],
        },
        "spec": spec,
    }


def old_pods_running(pods: list[JSON], new: JSON | None, old: list[JSON]) -> bool:
    """recreate.go oldPodsRunning: an old set still counts pods, or a pod of one is not
    terminal."""
    if total_status(old, "replicas") > 0:
        return True
    new_uid = new["metadata"].get("uid") if new is not None else None
    old_uids = {rs["metadata"].get("uid") for rs in old}
    for pod in pods:
        owner = (wl.controller_of(pod) or {}).get("uid")
        if (
            owner in old_uids
            and owner != new_uid
            and wl.pod_phase(pod) not in ("Failed", "Succeeded")
        ):
            return True
    return False


def claim(deployment: JSON, sets: list[JSON]) -> tuple[list[JSON], list[JSON]]:
    """ClaimReplicaSets: the deployment's own sets that its selector still matches, with
    matching orphans adopted (an owner reference added, written with the sync's other
    changes); and the owned sets the selector no longer matches, released (their owner
    reference removed)."""
    selector = deployment["spec"].get("selector")
    uid = deployment["metadata"].get("uid")
    claimed, released = [], []
    for rs in sets:
        ref = wl.controller_of(rs)
        matches = wl.selector_matches(selector, rs["metadata"].get("labels") or {})
        refs = rs["metadata"].get("ownerReferences") or []
        if ref is not None and ref.get("uid") == uid:
            if matches or wl.deleting(deployment):
                claimed.append(rs)
            else:
                kept = [r for r in refs if r.get("uid") != uid]
                released.append({**rs, "metadata": {**rs["metadata"], "ownerReferences": kept}})
        elif ref is None and matches and not wl.deleting(rs) and not wl.deleting(deployment):
            owner = wl.owner_reference(deployment)
            claimed.append(
                {**rs, "metadata": {**rs["metadata"], "ownerReferences": [*refs, owner]}}
            )
    return claimed, released
