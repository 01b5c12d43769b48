"""Whether a workload is done (pure), over the store's JSON objects: a Deployment, StatefulSet
or DaemonSet has finished its rollout by kubectl's rules (`kubectl rollout status`:
staging/src/k8s.io/kubectl/pkg/polymorphichelpers/rollout_status.go, DeploymentStatusViewer,
DaemonSetStatusViewer, StatefulSetStatusViewer, with their messages); a Job is done when its
`Complete` or `Failed` condition is True (`kubectl wait --for=condition=complete`).

Also which workload a pod belongs to: the top of its chain of controller references (a pod ->
its ReplicaSet -> its Deployment), so that the CI mode judges a pod through its owner.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

JSON = dict[str, Any]
ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")
RESOURCES = {"Deployment": "deployments", "StatefulSet": "statefulsets",
             "DaemonSet": "daemonsets", "Job": "jobs", "ReplicaSet": "replicasets",
             "ReplicationController": "replicationcontrollers", "CronJob": "cronjobs"}  # fmt: skip
TIMED_OUT = "ProgressDeadlineExceeded"  # deploymentutil.TimedOutReason


@dataclass(frozen=True, slots=True)
class Standing:
    """Where one workload is: `done` (rolled out, or the Job complete), `failed` (a Deployment
    past its progress deadline, a Job Failed), kubectl's words for it, and its conditions as
    `Type=Status (Reason: message)`."""

    kind: str
    namespace: str
    name: str
    done: bool
    failed: bool
    message: str
    conditions: tuple[str, ...]

    @property
    def title(self) -> str:
        return f"{self.kind.lower()} {self.namespace}/{self.name}"


def _int(obj: Mapping[str, Any] | None, key: str, default: int = 0) -> int:
    value = (obj or {}).get(key)
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def _condition(obj: JSON, type_: str) -> JSON | None:
    for condition in (obj.get("status") or {}).get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None


def conditions(obj: JSON) -> tuple[str, ...]:
    out = []
    for c in (obj.get("status") or {}).get("conditions") or []:
        text = f"{c.get('type')}={c.get('status')}"
        why = ": ".join(str(p) for p in (c.get("reason"), c.get("message")) if p)
        out.append(text + (f" ({why})" if why else ""))
    return tuple(out)


def _observed(obj: JSON) -> bool:
    generation = _int(obj.get("metadata"), "generation", 1)
    return generation <= _int(obj.get("status"), "observedGeneration")


def deployment_rollout(d: JSON) -> tuple[bool, bool, str]:
    """DeploymentStatusViewer.Status: (done, failed, message)."""
    name, spec, status = d["metadata"]["name"], d.get("spec") or {}, d.get("status") or {}
    if not _observed(d):
        return False, False, "Waiting for deployment spec update to be observed..."
    progressing = _condition(d, "Progressing")
    if progressing is not None and progressing.get("reason") == TIMED_OUT:
        return False, True, f'deployment "{name}" exceeded its progress deadline'
    replicas, updated = _int(spec, "replicas", 1), _int(status, "updatedReplicas")
    total, available = _int(status, "replicas"), _int(status, "availableReplicas")
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return (
            False,
            False,
            f"{waiting}{updated} out of {replicas} new replicas have been updated...",
        )
    if total > updated:
        return False, False, f"{waiting}{total - updated} old replicas are pending termination..."
    if available < updated:
        return False, False, f"{waiting}{available} of {updated} updated replicas are available..."
    return True, False, f'deployment "{name}" successfully rolled out'


def daemonset_rollout(d: JSON) -> tuple[bool, bool, str]:
    """DaemonSetStatusViewer.Status. kubectl refuses an `OnDelete` DaemonSet ("rollout status
    is only available for RollingUpdate strategy type"); here one is done once its pods are
    available, since nothing else would end the wait."""
    name, status = d["metadata"]["name"], d.get("status") or {}
    if not _observed(d):
        return False, False, "Waiting for daemon set spec update to be observed..."
    desired = _int(status, "desiredNumberScheduled")
    updated, available = _int(status, "updatedNumberScheduled"), _int(status, "numberAvailable")
    strategy = ((d.get("spec") or {}).get("updateStrategy") or {}).get("type", "RollingUpdate")
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if strategy == "RollingUpdate" and updated < desired:
        return False, False, f"{waiting}{updated} out of {desired} new pods have been updated..."
    if available < desired:
        return False, False, f"{waiting}{available} of {desired} updated pods are available..."
    return True, False, f'daemon set "{name}" successfully rolled out'


def statefulset_rollout(s: JSON) -> tuple[bool, bool, str]:
    """StatefulSetStatusViewer.Status (an `OnDelete` one: done once its pods are ready)."""
    spec, status = s.get("spec") or {}, s.get("status") or {}
    if _int(status, "observedGeneration") == 0 or not _observed(s):
        return False, False, "Waiting for statefulset spec update to be observed..."
    replicas, ready = _int(spec, "replicas", 1), _int(status, "readyReplicas")
    if ready < replicas:
        return False, False, f"Waiting for {replicas - ready} pods to be ready..."
    strategy = spec.get("updateStrategy") or {}
    updated = _int(status, "updatedReplicas")
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return True, False, f"statefulset has {ready} ready pods"
    rolling = strategy.get("rollingUpdate")
    if rolling is not None:
        wanted = replicas - _int(rolling, "partition")
        if updated < wanted:
            return (
                False,
                False,
                (
                    "Waiting for partitioned roll out to finish: "
                    f"{updated} out of {wanted} new pods have been updated..."
                ),
            )
        return (
            True,
            False,
            f"partitioned roll out complete: {updated} new pods have been updated...",
        )
    revision = status.get("updateRevision", "")
    if revision != status.get("currentRevision", ""):
        return (
            False,
            False,
            (
                f"waiting for statefulset rolling update to complete {updated} pods at revision "
                f"{revision}..."
            ),
        )
    return (
        True,
        False,
        (
            f"statefulset rolling update complete {_int(status, 'currentReplicas')} pods at "
            f"revision {status.get('currentRevision', '')}..."
        ),
    )


def job_outcome(j: JSON) -> tuple[bool, bool, str]:
    """A Job's standing from its conditions: Complete, Failed, or still running."""
    name, status = j["metadata"]["name"], j.get("status") or {}
    for type_, done, failed in (("Failed", False, True), ("Complete", True, False)):
        condition = _condition(j, type_)
        if condition is not None and condition.get("status") == "True":
            why = ": ".join(
                str(p) for p in (condition.get("reason"), condition.get("message")) if p
            )
            return done, failed, f'job "{name}" {type_}' + (f" ({why})" if why else "")
    counts = ", ".join(f"{_int(status, k)} {k}" for k in ("active", "succeeded", "failed"))
    return False, False, f'Waiting for job "{name}" to complete: {counts}'


_RULES = {"Deployment": deployment_rollout, "StatefulSet": statefulset_rollout,
          "DaemonSet": daemonset_rollout, "Job": job_outcome}  # fmt: skip


def standing(obj: JSON) -> Standing:
    done, failed, message = _RULES[obj["kind"]](obj)
    meta = obj["metadata"]
    return Standing(obj["kind"], meta.get("namespace", ""), meta["name"], done, failed, message,
                    conditions(obj))  # fmt: skip


# --- which workload a pod belongs to ---------------------------------------------------------


def controller_ref(obj: JSON) -> JSON | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def index_by_uid(objects: Iterable[JSON]) -> dict[str, JSON]:
    return {str(o["metadata"].get("uid")): o for o in objects if o["metadata"].get("uid")}


def root_owner(obj: JSON, by_uid: Mapping[str, JSON]) -> JSON | None:
    """The top of `obj`'s chain of controller references among `by_uid` (None if it has no
    controller there: a bare pod, or one whose owner is gone)."""
    top, seen = None, set()
    ref = controller_ref(obj)
    while ref is not None and str(ref.get("uid")) in by_uid and ref.get("uid") not in seen:
        seen.add(ref.get("uid"))
        top = by_uid[str(ref.get("uid"))]
        ref = controller_ref(top)
    return top


def chain(obj: JSON, by_uid: Mapping[str, JSON]) -> list[JSON]:
    """`obj`'s owners from the top down (Deployment, ReplicaSet), without `obj`."""
    out: list[JSON] = []
    ref = controller_ref(obj)
    while ref is not None and str(ref.get("uid")) in by_uid:
        owner = by_uid[str(ref.get("uid"))]
        if owner in out:
            break
        out.insert(0, owner)
        ref = controller_ref(owner)
    return out


# --- the /ui page's groups ---------------------------------------------------------------------


def summary(obj: JSON) -> str:
    """A word on where an owner is, as `kubectl get` puts it (READY 2/3, COMPLETIONS 1/1)."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    kind = obj.get("kind")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "ReplicationController"):
        return f"{_int(status, 'readyReplicas')}/{_int(spec, 'replicas', 1)} ready"
    if kind == "DaemonSet":
        return f"{_int(status, 'numberReady')}/{_int(status, 'desiredNumberScheduled')} ready"
    if kind == "Job":
        done = [c for c in conditions(obj) if c.startswith(("Complete=True", "Failed=True"))]
        counts = f"{_int(status, 'succeeded')}/{_int(spec, 'completions', 1)} completions"
        return counts + (f", {done[0].split('=')[0]}" if done else "")
    return ""


def _link(obj: JSON) -> JSON:
    meta = obj["metadata"]
    return {"kind": obj.get("kind", ""), "namespace": meta.get("namespace", ""),
            "name": meta["name"], "summary": summary(obj)}  # fmt: skip


def pod_groups(pods: Iterable[JSON], owners: Iterable[JSON]) -> list[JSON]:
    """The pods grouped by their chain of controller owners (a Deployment -> its ReplicaSet;
    a Job), each group `{"key", "chain": [{kind, namespace, name, summary}, ...], "pods":
    ["namespace/name", ...]}`, ordered by chain, and the bare pods last (an empty chain)."""
    by_uid = index_by_uid(owners)
    groups: dict[str, JSON] = {}
    for pod in pods:
        links = [_link(o) for o in chain(pod, by_uid)]
        key = ">".join(f"{link['kind']}/{link['namespace']}/{link['name']}" for link in links)
        group = groups.setdefault(key, {"key": key, "chain": links, "pods": []})
        group["pods"].append(f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}")
    return sorted(groups.values(), key=lambda g: (not g["chain"], g["key"]))
