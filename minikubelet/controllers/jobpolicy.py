"""The Job controller's rules about single pods (pure): which failed pods a `podFailurePolicy`
ignores, counts, fails the Job or the index for; whether a `successPolicy` is met; when a pod
finished; the pod re-creation back-off; the order in which active pods are removed.

Upstream: pkg/controller/job/pod_failure_policy.go (matchPodFailurePolicy, matchOnExitCodes,
matchOnPodConditions), success_policy.go (matchSuccessPolicy, matchSucceededIndexesRule),
backoff_utils.go (getFinishedTime, newBackoffRecord, getRemainingTimeForFailuresCount),
job_controller.go (DefaultJobPodFailureBackOff 10 s, MaxJobPodFailureBackOff 10 min,
isPodFailed, pastBackoffLimitOnFailure) and pkg/controller/controller_utils.go (ActivePods).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from minikubelet.controllers import jobindex as ix
from minikubelet.core.gotext import parse_rfc3339
from minikubelet.core.workloads import pod_condition, pod_phase, pod_ready_since

JSON = dict[str, Any]
DEFAULT_BACKOFF = 10.0  # DefaultJobPodFailureBackOff
MAX_BACKOFF = 600.0  # MaxJobPodFailureBackOff (the docs say six minutes; the code ten)


def _stamp(text: Any) -> float | None:
    if not text:
        return None
    try:
        return parse_rfc3339(str(text))
    except ValueError:
        return None


def is_failed(pod: JSON, only_replace_failed: bool) -> bool:
    """isPodFailed: Failed, or (unless only failed pods are replaced, as under a
    podFailurePolicy) being deleted without having succeeded."""
    if pod_phase(pod) == "Failed":
        return True
    if only_replace_failed:
        return False
    return bool(pod["metadata"].get("deletionTimestamp")) and pod_phase(pod) != "Succeeded"


def _terminated(status: JSON) -> JSON | None:
    terminated = (status.get("state") or {}).get("terminated")
    return terminated if isinstance(terminated, dict) else None


def _matching_container(statuses: Iterable[JSON], rule: JSON) -> tuple[str, int] | None:
    name = rule.get("containerName")
    values = [int(v) for v in rule.get("values") or []]
    for status in statuses:
        terminated = _terminated(status)
        if terminated is None or (name is not None and name != status.get("name")):
            continue
        code = int(terminated.get("exitCode") or 0)
        if code == 0:
            continue
        if (rule.get("operator") == "In" and code in values) or (
            rule.get("operator") == "NotIn" and code not in values
        ):
            return str(status.get("name") or ""), code
    return None


def match_failure_policy(policy: JSON | None, pod: JSON) -> tuple[str | None, bool, str | None]:
    """matchPodFailurePolicy: (the Job's failure message if a FailJob rule matched, whether
    the failure counts towards the backoff limit, the matched rule's action)."""
    if not policy:
        return None, True, None
    status = pod.get("status") or {}
    meta = pod["metadata"]
    where = f"{meta.get('namespace', 'default')}/{meta['name']}"
    for index, rule in enumerate(policy.get("rules") or []):
        action = str(rule.get("action") or "")
        if rule.get("onExitCodes") is not None:
            found = _matching_container(status.get("containerStatuses") or [], rule["onExitCodes"])
            if found is None:
                found = _matching_container(
                    status.get("initContainerStatuses") or [], rule["onExitCodes"]
                )
            if found is None:
                continue
            message = (
                f"Container {found[0]} for pod {where} failed with exit code "
                f"{found[1]} matching {action} rule at index {index}"
            )
        elif rule.get("onPodConditions") is not None:
            condition = next(
                (
                    c
                    for c in status.get("conditions") or []
                    for p in rule["onPodConditions"]
                    if c.get("type") == p.get("type") and c.get("status") == p.get("status", "True")
                ),
                None,
            )
            if condition is None:
                continue
            message = (
                f"Pod {where} has condition {condition['type']} matching {action} "
                f"rule at index {index}"
            )
        else:
            continue
        if action == "Ignore":
            return None, False, action
        if action == "FailJob":
            return message, True, action
        return None, True, action  # Count, FailIndex
    return None, True, None


def match_success_policy(
    policy: JSON | None, completions: int, succeeded: ix.Intervals
) -> str | None:
    """matchSuccessPolicy: `Matched rules at index N` for the first rule the succeeded indexes
    meet (all of `succeededIndexes`, or `succeededCount` of them, or `succeededCount` in all)."""
    if not policy or not succeeded:
        return None
    for index, rule in enumerate(policy.get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            required = ix.parse(str(rule["succeededIndexes"]), completions)
            if not required:
                continue
            contains = sum(
                max(0, min(rl, sl) - max(rf, sf) + 1) for rf, rl in required for sf, sl in succeeded
            )
            if contains == ix.total(required) or (count is not None and contains >= int(count)):
                return f"Matched rules at index {index}"
        elif count is not None and ix.total(succeeded) >= int(count):
            return f"Matched rules at index {index}"
    return None


def finished_at(pod: JSON) -> float:
    """getFinishedTime: the latest container finish if all finished, else the Ready=False
    transition, else the deletion time less the grace period, else the creation time."""
    status = pod.get("status") or {}
    sidecars = {
        c.get("name")
        for c in (pod.get("spec") or {}).get("initContainers") or []
        if c.get("restartPolicy") == "Always"
    }
    statuses = list(status.get("containerStatuses") or []) + [
        s for s in status.get("initContainerStatuses") or [] if s.get("name") in sidecars
    ]
    latest: float | None = None
    for container in statuses:
        terminated = _terminated(container)
        at = _stamp(terminated.get("finishedAt")) if terminated else None
        if at is None:
            latest = None
            break
        latest = at if latest is None else max(latest, at)
    if latest is not None and statuses:
        return latest
    ready = pod_condition(pod, "Ready")
    if ready and ready.get("status") == "False" and _stamp(ready.get("lastTransitionTime")):
        return float(_stamp(ready.get("lastTransitionTime")) or 0.0)
    meta = pod["metadata"]
    deleted = _stamp(meta.get("deletionTimestamp"))
    if deleted is not None:
        return deleted - float(meta.get("deletionGracePeriodSeconds") or 0)
    return _stamp(meta.get("creationTimestamp")) or 0.0


def backoff_delay(failures: int) -> float:
    """The re-creation delay after `failures` failures in a row: 10 s doubling, capped."""
    delay = DEFAULT_BACKOFF
    for _ in range(1, failures):
        delay *= 2
        if delay >= MAX_BACKOFF:
            return MAX_BACKOFF
    return delay


def failures_after_last_success(succeeded: list[JSON], failed: list[JSON]) -> tuple[int, float]:
    """newBackoffRecord over every finished pod of the Job: the failures that finished after
    the last success, and when the last of them finished."""
    last_success = max((finished_at(p) for p in succeeded), default=None)
    times = sorted(finished_at(p) for p in failed)
    if last_success is not None:
        times = [t for t in times if t > last_success]
    return len(times), (times[-1] if times else 0.0)


def remaining_backoff(failures: int, last_failure: float, now: float) -> float:
    """getRemainingTimeForFailuresCount."""
    if failures == 0:
        return 0.0
    elapsed = now - last_failure
    delay = backoff_delay(failures)
    return 0.0 if delay < elapsed else delay - elapsed


def restarts_of_running(pods: Iterable[JSON]) -> int:
    """pastBackoffLimitOnFailure's sum: the restarts of every container, init ones too, of the
    pods still Pending or Running."""
    total = 0
    for pod in pods:
        if pod_phase(pod) in ("Pending", "Running"):
            status = pod.get("status") or {}
            for s in (status.get("initContainerStatuses") or []) + (
                status.get("containerStatuses") or []
            ):
                total += int(s.get("restartCount") or 0)
    return total


_PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def removal_rank(pod: JSON) -> tuple[Any, ...]:
    """controller.ActivePods' order, ascending: the pod to remove first comes first
    (unassigned, pending, not ready, ready more recently, more restarts, newer)."""
    since = pod_ready_since(pod)
    restarts = sum(
        int(s.get("restartCount") or 0)
        for s in (pod.get("status") or {}).get("containerStatuses") or []
    )
    created = _stamp(pod["metadata"].get("creationTimestamp")) or 0.0
    return (
        bool((pod.get("spec") or {}).get("nodeName")),
        _PHASE_RANK.get(pod_phase(pod), 3),
        since is not None,
        -(since or 0.0),
        -restarts,
        -created,
        pod["metadata"]["name"],
    )
