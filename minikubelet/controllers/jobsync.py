"""The state one syncJob of the Job controller works on, and the small questions its pieces
ask of it (is this pod failed, does its failure count, is the Job suspended).

`job._Sync` runs syncJob; its pieces live beside it, each a class over this state:
`jobmanage.ManageJob` (manageJob: the pods to create or delete) and `jobtrack.TrackJob`
(trackJobStatusAndRemoveFinalizers and the one status write). Pure, as `job.py` is.
"""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.controllers import jobindex as ix
from minikubelet.controllers import jobpolicy as jp
from minikubelet.controllers.base import Action, Event

JSON = dict[str, Any]
COMPONENT = "job-controller"


class SyncState:
    """One syncJob over a Job and the pods it controls."""

    # what `_Sync.run` works out before it calls the pieces that read it
    terminating: int
    ready: int
    succeeded: int
    failed: int
    backoff_left: float
    prev_indexes: ix.Intervals
    succeeded_indexes: ix.Intervals
    failed_indexes: ix.Intervals | None
    delayed: dict[int, JSON]
    finished_cond: JSON | None

    def __init__(self, job: JSON, pods: list[JSON], now: float) -> None:
        self.job, self.pods, self.now = job, pods, now
        self.spec: JSON = job.get("spec") or {}
        self.status: JSON = copy.deepcopy(job.get("status") or {})
        self.actions: list[Action] = []
        self.events: list[Action] = []
        self.requeue: float | None = None
        self.indexed = self.spec.get("completionMode") == "Indexed"
        self.completions: int | None = self.spec.get("completions")
        self.per_index = self.indexed and self.spec.get("backoffLimitPerIndex") is not None
        self.policy: JSON | None = self.spec.get("podFailurePolicy")
        self.only_failed = (
            self.policy is not None or self.spec.get("podReplacementPolicy") == "Failed"
        )
        uncounted = self.status.get("uncountedTerminatedPods") or {}
        self.uncounted_succeeded = list(uncounted.get("succeeded") or [])
        self.uncounted_failed = list(uncounted.get("failed") or [])

    # --- the pieces of syncJob -----------------------------------------------------------

    def valid_index(self, pod: JSON) -> bool:
        index = ix.completion_index(pod)
        return not self.indexed or (index != ix.UNKNOWN and index < int(self.completions or 0))

    def failed_pod(self, pod: JSON) -> bool:
        return jp.is_failed(pod, self.only_failed)

    def counts(self, pod: JSON) -> bool:
        return jp.match_failure_policy(self.policy, pod)[1]

    def suspended(self) -> bool:
        return bool(self.spec.get("suspend"))

    def event(self, type_: str, reason: str, message: str) -> None:
        self.events.append(Event(self.job, type_, reason, message, COMPONENT))  # type: ignore[arg-type]
