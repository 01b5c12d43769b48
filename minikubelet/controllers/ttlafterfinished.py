"""The ttl-after-finished controller (pkg/controller/ttlafterfinished
ttlafterfinished_controller.go processJob, needsCleanup, timeLeft; jobFinishTime): a finished
Job whose `ttlSecondsAfterFinished` has run out is deleted with background propagation (the
garbage collector takes its pods); one still within it is looked at again when it runs out.
Pure.
"""

from __future__ import annotations

from typing import Any

from minikubelet.controllers.base import (
    Action,
    Delete,
    FunctionController,
    Reader,
    Result,
    earliest,
)
from minikubelet.controllers.jobstatus import condition, finished
from minikubelet.core.gotext import parse_rfc3339
from minikubelet.core.workloads import deleting

JSON = dict[str, Any]


def finished_time(job: JSON) -> float | None:
    """ttlafterfinished's jobFinishTime: when the Complete or Failed condition became True."""
    kind = finished(job)
    cond = condition(job.get("status") or {}, kind) if kind else None
    stamp = (cond or {}).get("lastTransitionTime")
    return parse_rfc3339(stamp) if stamp else None


def reconcile_ttl(store: Reader, now: float) -> Result:
    """processJob over every Job."""
    actions: list[Action] = []
    requeue: float | None = None
    for job in store.list("jobs"):
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        at = finished_time(job)
        if ttl is None or at is None or deleting(job):
            continue
        expires = at + int(ttl)
        if now >= expires:
            meta = job["metadata"]
            actions.append(
                Delete(
                    "jobs",
                    meta.get("namespace", "default"),
                    meta["name"],
                    uid=meta.get("uid"),
                    propagation="Background",
                )
            )
        else:
            requeue = earliest(requeue, expires)
    return Result(actions, requeue)


# the ttl-after-finished controller: woken by Jobs
TTL_CONTROLLER = FunctionController(
    "ttl-after-finished-controller", frozenset({"jobs"}), reconcile_ttl
)
