"""Admission of CronJobs (batch/v1): the API server's defaults and validation, in its words.
Pure.

Upstream: pkg/apis/batch/v1/defaults.go (SetDefaults_CronJob), pkg/registry/batch/cronjob/
strategy.go, and pkg/apis/batch/validation/validation.go (ValidateCronJobCreate,
validateScheduleFormat, validateTimeZone); the Job template is validated as `batch.py`
validates a Job's spec.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.batch import JSON, go_value, job_spec_errors, nonnegative
from minikubelet.manifest.configmaps import ObjectInvalid, validate_object_meta
from minikubelet.manifest.podtemplate import default_template

_TZ_PART = re.compile(r"[A-Za-z\.\-_0-9+]{1,14}")
_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def default_cronjob(obj: JSON) -> None:
    """SetDefaults_CronJob."""
    spec = obj.setdefault("spec", {})
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)


def schedule_error(schedule: str) -> str | None:
    """cron.ParseStandard's complaint about a schedule, in robfig/cron's words where they are
    known (`expected exactly 5 fields, found 3: [* * *]`, `unrecognized descriptor: @often`),
    or None for a schedule that parses."""
    text = schedule.strip()
    if text.startswith("TZ=") or text.startswith("CRON_TZ="):
        _, _, text = text.partition(" ")
        text = text.strip()
    if text.startswith("@"):
        if text in _MACROS or text.startswith("@every "):
            return None
        return f"unrecognized descriptor: {text}"
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]"
    from croniter import croniter  # only a CronJob needs it (imported when one comes)

    try:
        croniter(text)
    except (ValueError, KeyError) as error:
        return str(error) or "unparseable cron expression"
    return None


def cron_expression(schedule: str) -> str:
    """The five fields croniter reads: a macro expanded."""
    text = schedule.strip()
    return _MACROS.get(text, text)


def timezone_errors(zone: Any, path: str) -> list[str]:
    """validateTimeZone."""
    if zone is None:
        return []
    if zone == "":
        return [fe.invalid(path, zone, "timeZone must be nil or non-empty string")]
    for part in str(zone).split("/"):
        if part in (".", "..") or part.startswith("-") or not _TZ_PART.fullmatch(part):
            return [fe.invalid(path, zone, f"unknown time zone {zone}")]
    if str(zone).lower() == "local":
        return [
            fe.invalid(
                path,
                zone,
                "timeZone must be an explicit time zone as defined in "
                "https://www.iana.org/time-zones",
            )
        ]
    import zoneinfo  # here: only a CronJob's timeZone needs it (`run` starts without it)

    try:
        zoneinfo.ZoneInfo(str(zone))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return [fe.invalid(path, zone, f"unknown time zone {zone}")]
    return []


def admit_cronjob(obj: JSON, old: JSON | None = None) -> JSON:
    """A CronJob as stored: defaults, then ValidateCronJobCreate / Update."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    namespace = meta.get("namespace") or "default"
    if old is not None:
        obj["status"] = copy.deepcopy(old.get("status") or {})
    else:
        obj.pop("status", None)
        meta["generation"] = 1
    default_cronjob(obj)
    spec = obj["spec"]
    job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    if job_spec.get("template") is not None:
        job_spec["template"] = default_template(job_spec["template"])
    errors = validate_object_meta(obj, namespaced=True)
    name = str(meta.get("name") or "")
    if len(name) > 52:
        errors.append(fe.invalid("metadata.name", name, "must be no more than 52 characters"))
    schedule = spec.get("schedule") or ""
    if not schedule:
        errors.append(fe.required("spec.schedule"))
    else:
        problem = schedule_error(str(schedule))
        if problem:
            errors.append(fe.invalid("spec.schedule", schedule, problem))
        if "TZ" in str(schedule):
            errors.append(
                fe.invalid(
                    "spec.schedule",
                    schedule,
                    "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
                )
            )
    errors += timezone_errors(spec.get("timeZone"), "spec.timeZone")
    errors += nonnegative(spec, "startingDeadlineSeconds", "spec")
    policy = spec.get("concurrencyPolicy")
    if policy not in ("Allow", "Forbid", "Replace"):
        errors.append(
            fe.not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
        )
    for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errors += nonnegative(spec, field, "spec")
    errors += job_spec_errors(job_spec, "spec.jobTemplate.spec", namespace)
    if job_spec.get("selector") is not None:
        errors.append(
            f"spec.jobTemplate.spec.selector: Invalid value: "
            f"{go_value(job_spec['selector'])}: `selector` will be auto-generated"
        )
    if job_spec.get("manualSelector"):
        errors.append(
            fe.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))
        )
    if errors:
        raise ObjectInvalid("CronJob", name, errors)
    return obj
