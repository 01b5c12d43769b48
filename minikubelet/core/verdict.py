"""The CI mode's verdict (`--until ready|complete`): from the pods' statuses to an exit code
and a line of text, as soon as the answer is known, or None while it is not.

`ready`: 0 once every pod is Ready. `complete`: 1 as soon as one pod Failed, 0 once every pod
Succeeded. No pods at all is no answer (the command line refuses that case up front).

With workloads (`decide_objects`, over the store's objects): `ready` waits for every
Deployment, StatefulSet and DaemonSet to finish its rollout (core/rollout.py, kubectl's
rules) and every bare pod to be Ready; `complete` for every Job to be Complete and every bare
pod to finish. A pod a workload controls is judged through that workload.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from minikubelet.core import rollout
from minikubelet.core.model import ConditionType, Phase, PodStatus

JSON = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Verdict:
    code: int
    text: str


def decide(until: str, pods: Sequence[tuple[str, PodStatus]]) -> Verdict | None:
    """`pods` as (name, status) pairs."""
    statuses = [status for _, status in pods]
    if not statuses:
        return None
    if until == "ready":
        if all(is_ready(s) for s in statuses):
            return Verdict(0, "OK: every pod is Ready")
        return None
    if until == "complete":
        failed = [name for name, status in pods if status.phase == Phase.FAILED]
        if failed:
            return Verdict(1, f"FAILED: pod {', '.join(failed)} Failed")
        if all(s.phase == Phase.SUCCEEDED for s in statuses):
            return Verdict(0, "OK: every pod Succeeded")
    return None


def is_ready(status: PodStatus) -> bool:
    return any(c.type == ConditionType.READY and c.status == "True" for c in status.conditions)


# --- with workloads: over the store's objects --------------------------------------------------

# what each `--until` waits for besides bare pods (a file with none of these and no pod has
# nothing to wait for)
WAITED_KINDS = {"ready": frozenset({*rollout.ROLLOUT_KINDS, "ReplicaSet",
                                    "ReplicationController"}),
                "complete": frozenset({"Job"})}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Judged:
    """What `--until` waits for: the workloads it judges and the bare pods (those no workload
    here controls), each pod as (namespace/name, phase, ready)."""

    workloads: tuple[rollout.Standing, ...]
    bare_pods: tuple[tuple[str, str, bool], ...]


def _replicas_ready(obj: JSON) -> tuple[bool, bool, str]:
    """A ReplicaSet (or ReplicationController) no Deployment owns: done once observed and
    as many pods are ready as it wants (kubectl has no rollout status for one)."""
    spec, status, name = obj.get("spec") or {}, obj.get("status") or {}, obj["metadata"]["name"]
    wanted, ready = int(spec.get("replicas", 1)), int(status.get("readyReplicas") or 0)
    generation = int(obj["metadata"].get("generation") or 1)
    observed = generation <= int(status.get("observedGeneration") or 0)
    kind = obj["kind"].lower()
    if observed and ready >= wanted:
        return True, False, f'{kind} "{name}" has {ready} ready replicas'
    return False, False, f'Waiting for {kind} "{name}": {ready} of {wanted} replicas are ready...'


def _standing(obj: JSON) -> rollout.Standing:
    if obj["kind"] in ("ReplicaSet", "ReplicationController"):
        done, failed, message = _replicas_ready(obj)
        meta = obj["metadata"]
        return rollout.Standing(obj["kind"], meta.get("namespace", ""), meta["name"], done,
                                failed, message, rollout.conditions(obj))  # fmt: skip
    return rollout.standing(obj)


def judged(until: str, pods: Sequence[JSON], owners: Sequence[JSON]) -> Judged:
    """`owners`: every workload object the store holds (Deployments, ReplicaSets, Jobs, ...).
    A workload is judged itself unless another workload controls it (a Deployment's
    ReplicaSets are judged through the Deployment); a pod only if no workload here does."""
    by_uid = rollout.index_by_uid(owners)
    kinds = WAITED_KINDS.get(until, frozenset())
    workloads = tuple(
        _standing(o) for o in owners
        if o.get("kind") in kinds and (until == "complete" or rollout.root_owner(o, by_uid) is None)
    )  # fmt: skip
    bare = tuple(
        (f"{p['metadata'].get('namespace', '')}/{p['metadata']['name']}",
         str((p.get("status") or {}).get("phase") or "Pending"), _json_ready(p))
        for p in pods if rollout.root_owner(p, by_uid) is None
    )  # fmt: skip
    return Judged(workloads, bare)


def _json_ready(pod: JSON) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def decide_objects(until: str, pods: Sequence[JSON], owners: Sequence[JSON]) -> Verdict | None:
    """The verdict over the store's pods and workloads: `ready` once every workload has rolled
    out and every bare pod is Ready (1 at once for a Deployment past its progress deadline);
    `complete` once every Job is Complete and every bare pod Succeeded (1 as soon as a Job
    is Failed or a bare pod Failed). None while undecided, or with nothing to wait for."""
    found = judged(until, pods, owners)
    if not found.workloads and not found.bare_pods:
        return None
    failed = [w.message for w in found.workloads if w.failed]
    if until == "complete":
        broken = [name.partition("/")[2] for name, phase, _ in found.bare_pods if phase == "Failed"]
        if broken:
            failed.append(f"pod {', '.join(broken)} Failed")
    if failed:
        return Verdict(1, "FAILED: " + "; ".join(failed))
    if not all(w.done for w in found.workloads):
        return None
    if until == "ready" and all(ready for _, _, ready in found.bare_pods):
        parts = ["every workload rolled out"] * bool(found.workloads)
        parts += ["every pod is Ready"] * bool(found.bare_pods)
        return Verdict(0, "OK: " + " and ".join(parts))
    if until == "complete" and all(phase == "Succeeded" for _, phase, _ in found.bare_pods):
        parts = ["every job Complete"] * bool(found.workloads)
        parts += ["every pod Succeeded"] * bool(found.bare_pods)
        return Verdict(0, "OK: " + " and ".join(parts))
    return None


def _pod_ok(until: str, pod: JSON) -> bool:
    if until == "ready":
        return _json_ready(pod)
    return (pod.get("status") or {}).get("phase") == "Succeeded"


def _key(obj: JSON) -> tuple[str, str, str]:
    return obj["kind"], obj["metadata"].get("namespace", ""), obj["metadata"]["name"]


def held_back(
    until: str, pods: Sequence[JSON], owners: Sequence[JSON]
) -> list[tuple[rollout.Standing, tuple[str, ...]]]:
    """Each judged workload with the pods (namespace/name) that hold it back: its pods that
    are not Ready (`ready`) or have not Succeeded (`complete`)."""
    by_uid = rollout.index_by_uid(owners)
    tops = [(rollout.root_owner(p, by_uid), p) for p in pods]
    out = []
    for workload in judged(until, pods, owners).workloads:
        key = (workload.kind, workload.namespace, workload.name)
        held = tuple(
            f"{p['metadata'].get('namespace', '')}/{p['metadata']['name']}"
            for top, p in tops
            if top is not None and _key(top) == key and not _pod_ok(until, p)
        )
        out.append((workload, held))
    return out
