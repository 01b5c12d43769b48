"""The API server's deletion arithmetic (CheckGracefulDelete, BeforeDelete), on a fixed `now`."""

from __future__ import annotations

import pytest

from minikubelet.core.deletion import (
    DeletionMark,
    before_delete,
    graceful_delete_period,
    stop_grace,
)
from minikubelet.core.model import Phase

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("phase", "requested", "spec", "expected"),
    [
        (Phase.RUNNING, None, 30, 30),  # the spec's grace period
        (Phase.RUNNING, 5, 30, 5),  # the request's
        (Phase.RUNNING, 0, 30, 0),
        (Phase.RUNNING, -3, 30, 1),  # negative: 1
        (Phase.PENDING, None, None, 0),
        (Phase.SUCCEEDED, 30, 30, 0),  # finished: nothing to stop
        (Phase.FAILED, None, 30, 0),
    ],
)
def test_graceful_delete_period(
    phase: Phase, requested: int | None, spec: int | None, expected: int
) -> None:
    assert graceful_delete_period(phase, requested, spec) == expected


def test_first_delete_marks_now_plus_the_grace_period() -> None:
    assert before_delete(None, None, 30, NOW) == (DeletionMark(NOW + 30, 30), True)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        (None, (DeletionMark(NOW + 30, 30), False)),  # pending: unchanged
        (30, (DeletionMark(NOW + 30, 30), False)),
        (60, (DeletionMark(NOW + 30, 30), False)),  # only shorter
        (10, (DeletionMark(NOW + 10, 10), True)),  # the deadline moves back by 20s
        (0, (DeletionMark(NOW, 0), True)),
        (-1, (DeletionMark(NOW + 1, 1), True)),
    ],
)
def test_a_second_delete_may_only_shorten(
    requested: int | None, expected: tuple[DeletionMark, bool]
) -> None:
    current = DeletionMark(NOW + 30, 30)
    assert before_delete(current, requested, 30, NOW + 5) == expected


def test_a_mark_with_no_grace_left_stays() -> None:
    current = DeletionMark(NOW, 0)
    assert before_delete(current, 0, 0, NOW + 5) == (current, False)


@pytest.mark.parametrize(
    ("current", "requested", "terminating", "expected"),
    [
        (30, None, False, (30, False)),  # the spec's grace period
        (30, 5, False, (5, False)),  # the first stop's own period, even a longer one
        (30, 60, False, (60, False)),
        (30, 5, True, (5, True)),  # a later, shorter one shortens the kills under way
        (5, 30, True, (5, False)),  # a later, longer one changes nothing
        (5, 5, True, (5, False)),
        (5, None, True, (5, False)),
    ],
)
def test_stop_grace(
    current: float, requested: float | None, terminating: bool, expected: tuple[float, bool]
) -> None:
    assert stop_grace(current, requested, terminating=terminating) == expected
