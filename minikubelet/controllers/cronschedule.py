"""A CronJob's schedule arithmetic (pure, on a given `now`): the next activation after a time
(robfig/cron's Schedule.Next, here with croniter, in the CronJob's `timeZone`), the most
recent unmet schedule time with the 100 missed-starts rule, and when to look again.

Upstream: pkg/controller/cronjob/utils.go (mostRecentScheduleTime, nextScheduleTime,
nextScheduleTimeDuration, getJobName / getTimeHashInMinutes) and cronjob_controllerv2.go
(formatSchedule, nextScheduleDelta of 100 ms).
"""

from __future__ import annotations

import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Literal

from croniter import croniter

from minikubelet.manifest.cronjobs import cron_expression

NEXT_SCHEDULE_DELTA = 0.1
Missed = Literal["none", "few", "many"]
_EVERY = re.compile(r"@every\s+(.+)")
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_GO_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(h|ms|us|µs|ns|m|s)")


def zone(name: str | None) -> tzinfo:
    """time.LoadLocation: UTC for none; ZoneInfoNotFoundError for an unknown zone."""
    return zoneinfo.ZoneInfo(name) if name else UTC


def go_duration(text: str) -> float | None:
    """time.ParseDuration for `1h30m`, `90s`, `1.5h`; None if it is not one."""
    text = text.strip()
    if not text or _GO_DURATION.sub("", text) != "":
        return None
    return sum(float(n) * _UNIT[u] for n, u in _GO_DURATION.findall(text))


@dataclass(frozen=True, slots=True)
class Schedule:
    """A parsed schedule in its time zone."""

    expression: str
    tz: tzinfo
    every: float | None = None  # `@every <duration>`: a constant delay

    def next(self, t: float) -> float:
        """Schedule.Next: the first activation strictly after `t` (whole seconds)."""
        if self.every is not None:
            return math.floor(t) + max(1.0, float(round(self.every)))
        start = datetime.fromtimestamp(math.floor(t), self.tz)
        return float(croniter(self.expression, start).get_next(float))


def parse(schedule: str, time_zone: str | None) -> Schedule:
    """cron.ParseStandard of formatSchedule's `TZ=<timeZone> <schedule>`; ValueError for a
    schedule that does not parse, ZoneInfoNotFoundError for an unknown zone."""
    text = schedule.strip()
    tz = zone(time_zone)
    for prefix in ("CRON_TZ=", "TZ="):
        if text.startswith(prefix):
            name, _, text = text[len(prefix) :].partition(" ")
            tz = zone(name)
            text = text.strip()
    every = _EVERY.fullmatch(text)
    if every:
        delay = go_duration(every.group(1))
        if delay is None:
            raise ValueError(f"failed to parse duration {text}: {every.group(1)}")
        return Schedule(text, tz, delay)
    expression = cron_expression(text)
    if not croniter.is_valid(expression):
        raise ValueError(f"unparseable schedule: {schedule}")
    return Schedule(expression, tz)


def most_recent(
    schedule: Schedule,
    created: float,
    last_scheduled: float | None,
    now: float,
    starting_deadline: int | None,
) -> tuple[float, float | None, Missed]:
    """mostRecentScheduleTime: (the time from which schedules count, the most recent one due
    at or before `now` or None, how many were missed). ValueError for a schedule with less
    than a second between two activations (`59 23 31 2 *` never fires)."""
    earliest = last_scheduled if last_scheduled is not None else created
    if starting_deadline is not None:
        earliest = max(earliest, now - starting_deadline)
    try:
        t1 = schedule.next(earliest)
        t2 = schedule.next(t1)
    except Exception as error:  # croniter's CroniterBadDateError: no such date, ever
        raise ValueError("time difference between two schedules is less than 1 second") from error
    if now < t1:
        return earliest, None, "none"
    if now < t2:
        return earliest, t1, "none"
    between = round(t2 - t1)
    if between < 1:
        raise ValueError("time difference between two schedules is less than 1 second")
    missed_count = int(now - t1) // between + 1
    recent: float | None = None
    t = schedule.next(t1 + (missed_count - 2) * between)
    while t <= now:
        recent = t
        t = schedule.next(t)
    missed: Missed = "many" if missed_count > 100 else "few" if missed_count > 0 else "none"
    return earliest, recent, missed


def next_unmet(
    schedule: Schedule,
    created: float,
    last_scheduled: float | None,
    now: float,
    starting_deadline: int | None,
) -> tuple[float | None, Missed]:
    """nextScheduleTime: the schedule time to run now, if any (with the deadline applied),
    and how many were missed (`many`: the TooManyMissedTimes warning)."""
    _, recent, missed = most_recent(schedule, created, last_scheduled, now, starting_deadline)
    if recent is None or recent > now:
        return None, missed
    return recent, missed


def requeue_at(
    schedule: Schedule, created: float, last_scheduled: float | None, now: float
) -> float:
    """nextScheduleTimeDuration, as a time: the activation after the most recent one, and
    100 ms."""
    try:
        earliest, recent, missed = most_recent(schedule, created, last_scheduled, now, None)
    except ValueError:
        recent, earliest, missed = now, now, "none"
    if recent is None:
        recent = earliest if missed == "none" else now
    return schedule.next(recent) + NEXT_SCHEDULE_DELTA


def job_name(cronjob_name: str, scheduled: float) -> str:
    """getJobName: `<cronjob>-<scheduled time in minutes since the epoch>`."""
    return f"{cronjob_name}-{int(scheduled // 60)}"


def scheduled_stamp(scheduled: float, tz: tzinfo) -> str:
    """The scheduled-timestamp annotation: RFC 3339 in the CronJob's zone."""
    moment = datetime.fromtimestamp(scheduled, tz)
    if moment.utcoffset() == datetime.fromtimestamp(0, UTC).utcoffset():
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.isoformat(timespec="seconds")
