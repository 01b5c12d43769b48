"""Restart decisions and backoff arithmetic on an injected clock (plain floats).

Ports client-go `flowcontrol/backoff_test.go` and the kubelet's `doBackOff` expectations.
"""

from __future__ import annotations

import pytest

from minikubelet.core.restart import (
    Backoff,
    back_off,
    backoff_event_message,
    crash_loop_message,
    format_duration,
    should_restart,
)
from minikubelet.core.spec import RestartPolicy

ALWAYS, ON_FAILURE, NEVER = RestartPolicy.ALWAYS, RestartPolicy.ON_FAILURE, RestartPolicy.NEVER
POD = "web_default(6f1c)"


@pytest.mark.parametrize(
    ("policy", "exit_code", "deleting", "sidecar", "expected"),
    [
        pytest.param(ALWAYS, None, False, False, True, id="no-previous-instance-starts"),
        pytest.param(NEVER, None, False, False, True, id="never-still-starts-first-instance"),
        pytest.param(ALWAYS, 0, False, False, True, id="always-restarts-after-exit-0"),
        pytest.param(ALWAYS, 1, False, False, True, id="always-restarts-after-exit-1"),
        pytest.param(ON_FAILURE, 0, False, False, False, id="onfailure-keeps-exit-0"),
        pytest.param(ON_FAILURE, 137, False, False, True, id="onfailure-restarts-failure"),
        pytest.param(NEVER, 1, False, False, False, id="never-keeps-failure"),
        pytest.param(NEVER, 0, False, False, False, id="never-keeps-success"),
        pytest.param(ALWAYS, 1, True, False, False, id="deleting-never-restarts"),
        pytest.param(ALWAYS, None, True, False, False, id="deleting-does-not-start"),
        pytest.param(NEVER, 0, False, True, True, id="sidecar-restarts-under-never"),
        pytest.param(ON_FAILURE, 0, False, True, True, id="sidecar-restarts-after-exit-0"),
        pytest.param(NEVER, 1, True, True, False, id="sidecar-not-restarted-when-deleting"),
    ],
)
def test_should_restart(
    policy: RestartPolicy, exit_code: int | None, deleting: bool, sidecar: bool, expected: bool
) -> None:
    assert (
        should_restart(
            policy=policy, last_exit_code=exit_code, deleting=deleting, is_sidecar=sidecar
        )
        is expected
    )


def test_slow_backoff_doubles_to_the_cap_and_reset_clears() -> None:
    # backoff_test.go TestSlowBackoff (case 52)
    b = Backoff(initial=1, max=50)
    now = 0.0
    seen = []
    for _ in range(10):
        now += 1
        seen.append(b.get())
        b = b.next(now)
    assert seen == [0, 1, 2, 4, 8, 16, 32, 50, 50, 50]
    assert b.reset().get() == 0


def test_backoff_window_passes_after_twice_max() -> None:
    # backoff_test.go TestBackoffReset (case 53): generic client-go expiry is 2 x max
    b = Backoff(initial=1, max=5, expire_after=10)
    now = 0.0
    for _ in range(6):
        now += 1
        b = b.next(now)
    assert b.in_backoff_since(now, now)
    last_event = now
    assert not b.in_backoff_since(last_event, now + 11)


def test_backoff_high_water_mark_holds_below_expiry() -> None:
    # backoff_test.go TestBackoffHightWaterMark (case 54)
    b = Backoff(initial=1, max=5, expire_after=10)
    now = 0.0
    for _ in range(6):
        now += 1
        b = b.next(now)
    now += 5 + 1
    assert b.next(now).get() == 5


def test_backoff_gc_expiry_after_twice_max() -> None:
    # backoff_test.go TestBackoffGC (case 55)
    b = Backoff(initial=1, max=5, expire_after=10)
    now = 0.0
    for _ in range(6):
        now += 1
        b = b.next(now)
    now += 5 + 1
    assert not b.expired(now)
    now += 5 + 1
    assert b.expired(now)


# (tick, in backoff, window when in backoff) from TestIsInBackOffSinceUpdate (case 56)
SINCE_UPDATE_TABLE = [
    (0, False, 0), (1, False, 1), (2, True, 2), (3, False, 2), (4, True, 4), (5, True, 4),
    (6, True, 4), (7, False, 4), *[(t, True, 8) for t in range(8, 15)], (15, False, 8),
    *[(t, True, 10) for t in range(16, 25)], (25, False, 10),
    *[(t, True, 10) for t in range(26, 35)], (35, False, 10), (56, False, 0), (57, False, 1),
]  # fmt: skip


def test_in_backoff_since_update_table() -> None:
    b = Backoff(initial=1, max=10, expire_after=20)
    for tick, in_backoff, window in SINCE_UPDATE_TABLE:
        assert b.in_backoff_since_update(tick) is in_backoff, f"tick {tick}"
        if in_backoff:
            assert b.get() == window, f"tick {tick}"
        else:
            b = b.next(tick)


def crash(b: Backoff, finished_at: float) -> tuple[Backoff, float]:
    """What the supervisor does after an exit (`back_off`, the same function it calls): wait
    out the window, then Next and start. Returns the new backoff and the start time."""
    start = finished_at + (back_off(b, finished_at, finished_at) or 0.0)
    return b.next(finished_at, now=start), start


def test_first_crash_restarts_at_once() -> None:
    b, start = crash(Backoff(), 100.0)
    assert start == 100.0
    assert b.get() == 10


def test_second_quick_crash_waits_ten_seconds_with_kubelet_message() -> None:
    # case 57: second crash within 10 s of finishedAt -> refused with back-off 10s
    b, start = crash(Backoff(), 100.0)
    finished = start + 2
    assert b.in_backoff_since(finished, finished + 1)
    assert b.remaining(finished, finished + 1) == pytest.approx(9.0)
    message = crash_loop_message(delay=b.get(), container="app", pod_full_name=POD)
    assert message == "back-off 10s restarting failed container=app pod=web_default(6f1c)"
    assert not b.in_backoff_since(finished, finished + 10)


def test_quick_crashes_wait_10_20_40_up_to_300() -> None:
    b, now = Backoff(), 0.0
    waits = []
    for _ in range(9):
        finished = now + 1  # each instance runs one second
        b, now = crash(b, finished)
        waits.append(now - finished)
    assert waits == [0, 10, 20, 40, 80, 160, 300, 300, 300]
    printed = [format_duration(w) for w in waits[1:7]]
    assert printed == ["10s", "20s", "40s", "1m20s", "2m40s", "5m0s"]


def test_backoff_resets_after_600s_since_last_update() -> None:
    b, start = crash(Backoff(), 0.0)
    b, start = crash(b, start + 1)  # waits 10, entry now 20
    assert b.get() == 20
    long_run_end = start + 600.5
    assert not b.in_backoff_since(long_run_end, long_run_end)
    b, restart = crash(b, long_run_end)
    assert restart == long_run_end
    assert b.get() == 10


def test_backoff_does_not_reset_at_exactly_600s() -> None:
    b = Backoff().next(0.0).next(1.0)
    assert b.get() == 20
    assert b.in_backoff_since(601.0, 601.0)


def test_exit_code_is_not_an_input_to_backoff() -> None:
    # Under Always, a container that keeps exiting 0 also ends up in CrashLoopBackOff.
    assert should_restart(policy=ALWAYS, last_exit_code=0)
    b, start = crash(Backoff(), 0.0)
    assert b.in_backoff_since(start + 1, start + 1)


def test_zero_initial_never_waits() -> None:
    b = Backoff(initial=0)
    for t in range(5):
        assert not b.in_backoff_since(float(t), float(t))
        assert b.remaining(float(t), float(t)) == 0
        b = b.next(float(t))
    assert b.get() == 0


def test_max_below_initial_lowers_initial() -> None:
    b = Backoff(initial=10, max=4)
    assert b.initial == 4
    assert b.next(0).get() == 4
    assert b.next(0).next(1).get() == 4


def test_remaining_counts_down_from_event_time() -> None:
    b = Backoff().next(0.0).next(1.0)  # 20 s window
    assert b.remaining(5.0, 5.0) == 20
    assert b.remaining(5.0, 12.5) == 12.5
    assert b.remaining(5.0, 25.0) == 0


def test_next_uses_now_as_last_update_when_given() -> None:
    b = Backoff().next(100.0, now=130.0)
    assert b.last_update == 130.0
    assert Backoff().next(100.0).last_update == 100.0


def test_empty_backoff_is_expired_and_idle() -> None:
    b = Backoff()
    assert b.get() == 0
    assert b.expired(0.0)
    assert not b.in_backoff_since(0.0, 0.0)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        pytest.param(0, "0s", id="zero"),
        pytest.param(10, "10s", id="seconds"),
        pytest.param(80, "1m20s", id="minutes"),
        pytest.param(300, "5m0s", id="five-minutes"),
        pytest.param(3600, "1h0m0s", id="hour"),
        pytest.param(3723, "1h2m3s", id="hms"),
        pytest.param(1.5, "1.5s", id="fractional-seconds"),
        pytest.param(0.5, "500ms", id="milliseconds"),
        pytest.param(0.0015, "1.5ms", id="fractional-milliseconds"),
        pytest.param(0.000002, "2µs", id="microseconds"),
        pytest.param(0.000000005, "5ns", id="nanoseconds"),
        pytest.param(-10, "-10s", id="negative"),
    ],
)
def test_format_duration_matches_go(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_backoff_event_message() -> None:
    assert (
        backoff_event_message("app", POD)
        == "Back-off restarting failed container app in pod web_default(6f1c)"
    )


def test_crash_loop_message_prints_go_duration() -> None:
    assert (
        crash_loop_message(delay=20, container="app", pod_full_name=POD)
        == "back-off 20s restarting failed container=app pod=web_default(6f1c)"
    )


def test_back_off_is_none_outside_the_window_and_the_rest_of_it_inside() -> None:
    fresh = Backoff()
    assert back_off(fresh, 100.0, 100.5) is None  # the first exit restarts at once
    b = fresh.next(100.0, now=100.0)  # started again at once: the window is 10 s
    assert back_off(b, 105.0, 106.0) == pytest.approx(9.0)
    assert back_off(b, 105.0, 115.0) is None
