"""The Deployment's status, pure: its counts from its replica sets, and its conditions as
the controller sets them, from pkg/controller/deployment/sync.go (calculateStatus,
checkPausedConditions), progress.go (syncRolloutStatus, requeueStuckDeployment) and
util/deployment_util.go (NewDeploymentCondition, SetDeploymentCondition, DeploymentComplete,
DeploymentProgressing, DeploymentTimedOut). `Available` says whether replicas -
maxUnavailable are available; `Progressing` whether the rollout moves, is done, paused or
stuck past progressDeadlineSeconds.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers import deployment_util as du
from minikubelet.core.gotext import parse_rfc3339, rfc3339

JSON = dict[str, Any]
MAX_INT32 = 2**31 - 1

# condition reasons
REPLICASET_UPDATED = "ReplicaSetUpdated"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
PAUSED = "DeploymentPaused"
RESUMED = "DeploymentResumed"
MIN_AVAILABLE = "MinimumReplicasAvailable"
MIN_UNAVAILABLE = "MinimumReplicasUnavailable"


# --- conditions ------------------------------------------------------------------------------


def new_condition(type_: str, status: str, reason: str, message: str, now: float) -> JSON:
    """NewDeploymentCondition, both times now."""
    stamp = rfc3339(now)
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": stamp,
        "lastTransitionTime": stamp,
        "reason": reason,
        "message": message,
    }


def get_condition(status: JSON, type_: str) -> JSON | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == type_:
            return dict(condition)
    return None


def remove_condition(status: JSON, type_: str) -> None:
    kept = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if kept:
        status["conditions"] = kept
    else:
        status.pop("conditions", None)


def set_condition(status: JSON, condition: JSON) -> None:
    """SetDeploymentCondition: nothing if the status and reason are the same; the transition
    time kept if only the reason changes; the condition moved to the end."""
    current = get_condition(status, condition["type"])
    if current and current["status"] == condition["status"]:
        if current.get("reason") == condition["reason"]:
            return
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def has_progress_deadline(deployment: JSON) -> bool:
    deadline = deployment["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def _count(status: JSON, field: str) -> int:
    return int(status.get(field) or 0)


def deployment_complete(deployment: JSON, status: JSON) -> bool:
    """DeploymentComplete: every replica updated and available, the generation observed."""
    desired = du.replicas(deployment)
    return (
        _count(status, "updatedReplicas") == desired
        and _count(status, "replicas") == desired
        and _count(status, "availableReplicas") == desired
        and _count(status, "observedGeneration")
        >= int(deployment["metadata"].get("generation") or 0)
    )


def deployment_progressing(deployment: JSON, new: JSON) -> bool:
    """DeploymentProgressing: more updated, fewer old, more ready or more available pods than
    the stored status says."""
    old = deployment.get("status") or {}
    old_old = _count(old, "replicas") - _count(old, "updatedReplicas")
    new_old = _count(new, "replicas") - _count(new, "updatedReplicas")
    return (
        _count(new, "updatedReplicas") > _count(old, "updatedReplicas")
        or new_old < old_old
        or _count(new, "readyReplicas") > _count(old, "readyReplicas")
        or _count(new, "availableReplicas") > _count(old, "availableReplicas")
    )


def progress_deadline_at(deployment: JSON, status: JSON) -> float | None:
    """When the Progressing condition's lastUpdateTime plus progressDeadlineSeconds runs out."""
    condition = get_condition(status, "Progressing")
    if condition is None or not has_progress_deadline(deployment):
        return None
    stamp = condition.get("lastUpdateTime")
    if not stamp:
        return None
    return parse_rfc3339(stamp) + int(deployment["spec"]["progressDeadlineSeconds"])


def deployment_timed_out(deployment: JSON, status: JSON, now: float) -> bool:
    """DeploymentTimedOut: no progress reported for progressDeadlineSeconds (never after a
    completed rollout)."""
    condition = get_condition(status, "Progressing")
    if condition is None or not has_progress_deadline(deployment):
        return False
    if condition.get("reason") == NEW_RS_AVAILABLE:
        return False
    if condition.get("reason") == TIMED_OUT:
        return True
    deadline = progress_deadline_at(deployment, status)
    return deadline is not None and deadline < now


# --- the status as the controller writes it ----------------------------------------------------


def _condition(type_: str, status: str, reason: str, message: str, now: float) -> JSON:
    return new_condition(type_, status, reason, message, now)


def calculate_status(d: JSON, sets: list[JSON], new: JSON | None, now: float) -> JSON:
    """calculateStatus: the counts of all the sets (`updatedReplicas` the new one's, zeros
    left out as the API's omitempty does), the conditions kept, `Available` set."""
    current = d.get("status") or {}
    available = du.total_status(sets, "availableReplicas")
    status: JSON = {
        "observedGeneration": int(d["metadata"].get("generation") or 0),
        "replicas": du.total_status(sets, "replicas"),
        "updatedReplicas": du.total_status([new], "replicas"),
        "readyReplicas": du.total_status(sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(du.total_replicas(sets) - available, 0),
    }
    status = {k: v for k, v in status.items() if v}
    if current.get("collisionCount") is not None:
        status["collisionCount"] = current["collisionCount"]
    if current.get("conditions"):
        status["conditions"] = [dict(c) for c in current["conditions"]]
    if available >= du.replicas(d) - du.max_unavailable(d):
        set_condition(
            status,
            _condition(
                "Available", "True", MIN_AVAILABLE, "Deployment has minimum availability.", now
            ),
        )
    else:
        set_condition(
            status,
            _condition(
                "Available",
                "False",
                MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                now,
            ),
        )
    return status


def rollout_status(
    d: JSON, sets: list[JSON], new: JSON | None, now: float
) -> tuple[JSON, float | None]:
    """syncRolloutStatus: the Progressing condition from what changed since the current
    status (complete, progressing, or timed out), and requeueStuckDeployment's time to look
    again: the deadline (and a second) while the rollout is neither done nor timed out."""
    status = calculate_status(d, sets, new, now)
    name = d["metadata"]["name"]
    subject = f'ReplicaSet "{new["metadata"]["name"]}"' if new else f'Deployment "{name}"'
    if not has_progress_deadline(d):
        remove_condition(status, "Progressing")
    current = get_condition(d.get("status") or {}, "Progressing")
    complete = (
        status.get("replicas", 0) == status.get("updatedReplicas", 0)
        and current is not None
        and current.get("reason") == NEW_RS_AVAILABLE
    )
    if has_progress_deadline(d) and not complete:
        if deployment_complete(d, status):
            set_condition(
                status,
                _condition(
                    "Progressing",
                    "True",
                    NEW_RS_AVAILABLE,
                    f"{subject} has successfully progressed.",
                    now,
                ),
            )
        elif deployment_progressing(d, status):
            condition = _condition(
                "Progressing", "True", REPLICASET_UPDATED, f"{subject} is progressing.", now
            )
            if current is not None:
                if current["status"] == "True":
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, "Progressing")
            status.setdefault("conditions", []).append(condition)
        elif deployment_timed_out(d, status, now):
            set_condition(
                status,
                _condition(
                    "Progressing", "False", TIMED_OUT, f"{subject} has timed out progressing.", now
                ),
            )
    progressing = get_condition(status, "Progressing")
    requeue = None
    if (
        progressing is not None
        and not deployment_complete(d, status)
        and progressing.get("reason") != TIMED_OUT
    ):
        deadline = progress_deadline_at(d, status)
        requeue = None if deadline is None else deadline + 1
    return status, requeue


def check_paused(d: JSON, now: float) -> None:
    """checkPausedConditions: Progressing Unknown DeploymentPaused / DeploymentResumed (never
    over a timeout), in d's status."""
    if not has_progress_deadline(d):
        return
    status = d.setdefault("status", {})
    current = get_condition(status, "Progressing")
    if current is not None and current.get("reason") == TIMED_OUT:
        return
    shown = current is not None and current.get("reason") == PAUSED
    if d["spec"].get("paused") and not shown:
        set_condition(
            status, _condition("Progressing", "Unknown", PAUSED, "Deployment is paused", now)
        )
    elif not d["spec"].get("paused") and shown:
        set_condition(
            status, _condition("Progressing", "Unknown", RESUMED, "Deployment is resumed", now)
        )
