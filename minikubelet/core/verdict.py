"""The CI mode's verdict (`--until ready|complete`): from the pods' statuses to an exit code
and a line of text, as soon as the answer is known, or None while it is not.

`ready`: 0 once every pod is Ready. `complete`: 1 as soon as one pod Failed, 0 once every pod
Succeeded. No pods at all is no answer (the command line refuses that case up front).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from minikubelet.core.model import ConditionType, Phase, PodStatus


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
