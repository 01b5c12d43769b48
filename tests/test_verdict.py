"""The CI mode's verdict as a table: which statuses answer `--until ready|complete`, and how."""

from __future__ import annotations

import pytest

from minikubelet.core.model import ConditionType, Phase, PodCondition, PodStatus
from minikubelet.core.verdict import Verdict, decide


def _status(phase: Phase, ready: bool = False) -> PodStatus:
    cond = PodCondition(type=ConditionType.READY, status="True" if ready else "False")
    return PodStatus(phase=phase, conditions=(cond,))


RUNNING_READY = _status(Phase.RUNNING, ready=True)
RUNNING = _status(Phase.RUNNING)
DONE = _status(Phase.SUCCEEDED)
FAILED = _status(Phase.FAILED)


@pytest.mark.parametrize(
    ("until", "pods", "expected"),
    [
        ("ready", [], None),
        ("ready", [("a", RUNNING_READY), ("b", RUNNING)], None),
        (
            "ready",
            [("a", RUNNING_READY), ("b", RUNNING_READY)],
            Verdict(0, "OK: every pod is Ready"),
        ),
        ("complete", [("a", DONE), ("b", RUNNING)], None),
        ("complete", [("a", DONE), ("b", DONE)], Verdict(0, "OK: every pod Succeeded")),
        (
            "complete",
            [("a", FAILED), ("b", RUNNING), ("c", FAILED)],
            Verdict(1, "FAILED: pod a, c Failed"),
        ),
        ("complete", [], None),
    ],
)
def test_decide(until: str, pods: list[tuple[str, PodStatus]], expected: Verdict | None) -> None:
    assert decide(until, pods) == expected
