"""Admission of Jobs and CronJobs (batch/v1): the API server's defaults, its generated
selector and its validation, in its words. Pure.

Upstream: pkg/apis/batch/v1/defaults.go (SetDefaults_Job, SetDefaults_CronJob),
pkg/registry/batch/job/strategy.go (PrepareForCreate: status cleared, generation 1,
generateSelector: the `batch.kubernetes.io/controller-uid`, `batch.kubernetes.io/job-name`,
`controller-uid` and `job-name` template labels and the selector on the controller uid, unless
`manualSelector`), pkg/registry/batch/cronjob/strategy.go, and
pkg/apis/batch/validation/validation.go (ValidateJob, validateJobSpec, validatePodFailurePolicy,
validateSuccessPolicy, ValidateJobSpecUpdate, ValidateCronJobCreate, validateScheduleFormat,
validateTimeZone).
"""

from __future__ import annotations

import copy
import re
import uuid
import zoneinfo
from typing import Any

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.configmaps import ObjectInvalid, validate_object_meta
from minikubelet.manifest.podtemplate import default_template, template_errors

JSON = dict[str, Any]
CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
MAX_INT32 = 2**31 - 1
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


# --- Jobs ---------------------------------------------------------------------------------


def default_job(obj: JSON) -> None:
    """SetDefaults_Job."""
    spec = obj.setdefault("spec", {})
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
        spec["parallelism"] = 1
    spec.setdefault("parallelism", 1)
    if spec.get("backoffLimit") is None:
        spec["backoffLimit"] = MAX_INT32 if spec.get("backoffLimitPerIndex") is not None else 6
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in rule.get("onPodConditions") or []:
            pattern.setdefault("status", "True")
    if spec.get("podReplacementPolicy") is None:
        spec["podReplacementPolicy"] = (
            "Failed" if spec.get("podFailurePolicy") else ("TerminatingOrFailed")
        )
    spec.setdefault("manualSelector", False)


def generate_selector(obj: JSON) -> None:
    """generateSelector: the template labels naming the Job and its uid, and the selector on
    the uid."""
    meta = obj["metadata"]
    template = obj["spec"].setdefault("template", {})
    labels = template.setdefault("metadata", {}).setdefault("labels", {})
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, meta["name"])
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, meta["uid"])
    selector = obj["spec"].get("selector") or {}
    match = dict(selector.get("matchLabels") or {})
    match.setdefault(CONTROLLER_UID, meta["uid"])
    obj["spec"]["selector"] = {**selector, "matchLabels": match}


def _nonnegative(spec: JSON, field: str, path: str) -> list[str]:
    value = spec.get(field)
    if isinstance(value, int) and value < 0:
        return [fe.invalid(f"{path}.{field}", value, "must be greater than or equal to 0")]
    return []


def _selector_matches(selector: JSON, labels: JSON) -> bool:
    from minikubelet.core.workloads import selector_matches

    return selector_matches(selector, labels)


def job_spec_errors(spec: JSON, path: str, namespace: str) -> list[str]:
    """validateJobSpec."""
    errors: list[str] = []
    for field in (
        "parallelism",
        "completions",
        "activeDeadlineSeconds",
        "backoffLimit",
        "ttlSecondsAfterFinished",
        "backoffLimitPerIndex",
        "maxFailedIndexes",
    ):
        errors += _nonnegative(spec, field, path)
    mode = spec.get("completionMode")
    indexed = mode == "Indexed"
    if mode not in (None, "NonIndexed", "Indexed"):
        errors.append(fe.not_supported(f"{path}.completionMode", mode, ("NonIndexed", "Indexed")))
    if indexed and spec.get("completions") is None:
        errors.append(fe.required(f"{path}.completions", "when completion mode is Indexed"))
    if spec.get("backoffLimitPerIndex") is not None and not indexed:
        errors.append(
            fe.forbidden(f"{path}.backoffLimitPerIndex", "requires indexed completion mode")
        )
    if spec.get("maxFailedIndexes") is not None:
        if spec.get("backoffLimitPerIndex") is None:
            errors.append(
                fe.required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified")
            )
        elif spec.get("completions") is not None and spec["maxFailedIndexes"] > spec["completions"]:
            errors.append(
                fe.invalid(
                    f"{path}.maxFailedIndexes",
                    spec["maxFailedIndexes"],
                    "must be less than or equal to completions",
                )
            )
    replacement = spec.get("podReplacementPolicy")
    if replacement not in (None, "TerminatingOrFailed", "Failed"):
        errors.append(
            fe.not_supported(
                f"{path}.podReplacementPolicy", replacement, ("Failed", "TerminatingOrFailed")
            )
        )
    template = spec.get("template") or {}
    errors += [
        e
        for e in template_errors(template, f"{path}.template")
        if not e.startswith(f"{path}.template.spec.restartPolicy")
    ]
    restart = (template.get("spec") or {}).get("restartPolicy")
    if restart not in ("OnFailure", "Never"):
        errors.append(
            fe.required(f"{path}.template.spec.restartPolicy", 'valid values: "OnFailure", "Never"')
        )
    policy = spec.get("podFailurePolicy")
    if policy is not None:
        if restart not in (None, "Never") and restart in ("OnFailure", "Never"):
            errors.append(
                fe.invalid(
                    f"{path}.template.spec.restartPolicy",
                    restart,
                    'only "Never" is supported when podFailurePolicy is specified',
                )
            )
        if replacement not in (None, "Failed"):
            errors.append(
                fe.not_supported(f"{path}.podReplacementPolicy", replacement, ("Failed",))
            )
        errors += _failure_policy_errors(policy, spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        errors += _success_policy_errors(spec, f"{path}.successPolicy")
    return errors


def _failure_policy_errors(policy: JSON, spec: JSON, path: str) -> list[str]:
    """validatePodFailurePolicy and its rules."""
    errors: list[str] = []
    rules = policy.get("rules") or []
    if len(rules) > 20:
        errors.append(f"{path}.rules: Too many: {len(rules)}: must have at most 20 items")
    actions = ["Count", "FailIndex", "FailJob", "Ignore"]
    for i, rule in enumerate(rules):
        where = f"{path}.rules[{i}]"
        action = rule.get("action")
        if action not in actions:
            errors.append(fe.not_supported(f"{where}.action", action, actions))
        elif action == "FailIndex" and spec.get("backoffLimitPerIndex") is None:
            errors.append(
                fe.forbidden(f"{where}.action", "requires the backoffLimitPerIndex to be set")
            )
        codes, conditions = rule.get("onExitCodes"), rule.get("onPodConditions")
        if codes is None and conditions is None:
            errors.append(
                fe.invalid(
                    where, "", "specifying one of onExitCodes and onPodConditions is required"
                )
            )
        elif codes is not None and conditions is not None:
            errors.append(
                fe.invalid(
                    where, "", "specifying both OnExitCodes and OnPodConditions is not supported"
                )
            )
        elif codes is not None:
            errors += _exit_codes_errors(codes, f"{where}.onExitCodes")
        else:
            for j, pattern in enumerate(conditions):
                status = pattern.get("status")
                if status not in ("True", "False", "Unknown"):
                    errors.append(
                        fe.not_supported(
                            f"{where}.onPodConditions[{j}].status",
                            status,
                            ("False", "True", "Unknown"),
                        )
                    )
                if not pattern.get("type"):
                    errors.append(fe.required(f"{where}.onPodConditions[{j}].type"))
    return errors


def _exit_codes_errors(codes: JSON, path: str) -> list[str]:
    errors: list[str] = []
    operator = codes.get("operator")
    if operator not in ("In", "NotIn"):
        errors.append(fe.not_supported(f"{path}.operator", operator, ("In", "NotIn")))
    values = codes.get("values") or []
    if not values:
        errors.append(fe.invalid(f"{path}.values", values, "at least one value is required"))
    seen: set[int] = set()
    previous: int | None = None
    for k, value in enumerate(values):
        if value in seen:
            errors.append(fe.duplicate(f"{path}.values[{k}]", value))
        if operator == "In" and value == 0:
            errors.append(
                fe.invalid(f"{path}.values[{k}]", value, "must not be 0 for the In operator")
            )
        if previous is not None and value < previous:
            errors.append(fe.invalid(f"{path}.values[{k}]", value, "must be ordered"))
        seen.add(value)
        previous = value
    return errors


def _success_policy_errors(spec: JSON, path: str) -> list[str]:
    """validateSuccessPolicy."""
    policy = spec["successPolicy"]
    if spec.get("completionMode") != "Indexed":
        return [fe.invalid(path, "", "requires indexed completion mode")]
    rules = policy.get("rules") or []
    if not rules:
        return [
            fe.required(
                f"{path}.rules",
                "at least one rules must be specified when the successPolicy is specified",
            )
        ]
    errors: list[str] = []
    for i, rule in enumerate(rules):
        where = f"{path}.rules[{i}]"
        indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if indexes is None and count is None:
            errors.append(
                fe.required(
                    where, "at least one of succeededCount or succeededIndexes must be specified"
                )
            )
        if count is not None and count < 0:
            errors.append(
                fe.invalid(f"{where}.succeededCount", count, "must be greater than or equal to 0")
            )
        completions = spec.get("completions")
        if count is not None and completions is not None and count > completions:
            errors.append(
                fe.invalid(
                    f"{where}.succeededCount",
                    count,
                    f"must be less than or equal to {completions} "
                    "(the number of specified completions)",
                )
            )
    return errors


def admit_job(obj: JSON, old: JSON | None = None) -> JSON:
    """A Job as the API server stores it (the strategy's PrepareForCreate / PrepareForUpdate,
    the defaults, the generated selector) or ObjectInvalid. A uid is given on create, as the
    API server does before its strategy runs, so that the selector can name it."""
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    namespace = meta.get("namespace") or "default"
    if old is not None:
        meta["uid"] = old["metadata"].get("uid")
        obj["status"] = copy.deepcopy(old.get("status") or {})
    else:
        meta.setdefault("uid", str(uuid.uuid4()))
        obj.pop("status", None)
        meta["generation"] = 1
    default_job(obj)
    spec = obj["spec"]
    manual = bool(spec.get("manualSelector"))
    if not manual and old is None and meta.get("name"):
        generate_selector(obj)
    spec["template"] = default_template(spec.get("template") or {})
    template_labels = ((spec["template"].get("metadata") or {}).get("labels")) or {}
    if not meta.get("labels") and template_labels:
        meta["labels"] = dict(template_labels)
    errors = validate_object_meta(obj, namespaced=True)
    errors += job_spec_errors(spec, "spec", namespace)
    selector = spec.get("selector")
    if selector is None:
        errors.append(fe.required("spec.selector"))
    elif not _selector_matches(selector, template_labels):
        errors.append(
            fe.invalid(
                "spec.template.metadata.labels",
                template_labels,
                "`selector` does not match template `labels`",
            )
        )
    if old is not None:
        errors += _job_update_errors(spec, old.get("spec") or {})
    if errors:
        raise ObjectInvalid("Job", str(meta.get("name") or ""), errors)
    return obj


def _job_update_errors(spec: JSON, old: JSON) -> list[str]:
    """ValidateJobSpecUpdate: completions (but for an Indexed Job scaled with parallelism),
    selector, template, completionMode, podFailurePolicy, successPolicy immutable."""
    errors = []
    immutable = "field is immutable"
    indexed_scale = spec.get("completionMode") == "Indexed" and spec.get("completions") == spec.get(
        "parallelism"
    )
    if spec.get("completions") != old.get("completions") and not indexed_scale:
        errors.append(fe.invalid("spec.completions", spec.get("completions"), immutable))
    for field in (
        "selector",
        "completionMode",
        "podFailurePolicy",
        "successPolicy",
        "manualSelector",
    ):
        if spec.get(field) != old.get(field):
            errors.append(f"spec.{field}: Invalid value: {_go_value(spec.get(field))}: {immutable}")
    if spec.get("template") != old.get("template"):
        errors.append(
            f"spec.template: Invalid value: {_go_value(spec.get('template'))}: {immutable}"
        )
    return errors


def _go_value(value: Any) -> str:
    if isinstance(value, dict | list):
        return "core.PodTemplateSpec{...}" if isinstance(value, dict) else "[]"
    return fe.show(value)


# --- CronJobs -----------------------------------------------------------------------------


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
    errors += _nonnegative(spec, "startingDeadlineSeconds", "spec")
    policy = spec.get("concurrencyPolicy")
    if policy not in ("Allow", "Forbid", "Replace"):
        errors.append(
            fe.not_supported("spec.concurrencyPolicy", policy, ("Allow", "Forbid", "Replace"))
        )
    for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        errors += _nonnegative(spec, field, "spec")
    errors += job_spec_errors(job_spec, "spec.jobTemplate.spec", namespace)
    if job_spec.get("selector") is not None:
        errors.append(
            f"spec.jobTemplate.spec.selector: Invalid value: "
            f"{_go_value(job_spec['selector'])}: `selector` will be auto-generated"
        )
    if job_spec.get("manualSelector"):
        errors.append(
            fe.not_supported("spec.jobTemplate.spec.manualSelector", True, ("nil", "false"))
        )
    if errors:
        raise ObjectInvalid("CronJob", name, errors)
    return obj
