"""Job and CronJob admission (manifest/batch.py): the defaults and generated selector as the
API server stores them, and validation in its words (pkg/apis/batch/validation,
validation_test.go TestValidateJob / TestValidateCronJob)."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.manifest import batch, cronjobs
from minikubelet.manifest.configmaps import ObjectInvalid

JSON = dict[str, Any]


def job(**spec: Any) -> JSON:
    template = spec.pop("template", {"spec": {"restartPolicy": "Never",
                                              "containers": [{"name": "pi", "image": "perl"}]}})  # fmt: skip
    return {"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "pi", "namespace": "default", "uid": "u1"},
            "spec": {"template": template, **spec}}  # fmt: skip


def errors_of(admit: Any, obj: JSON, old: JSON | None = None) -> list[str]:
    with pytest.raises(ObjectInvalid) as info:
        admit(obj, old)
    return info.value.errors


def test_job_defaults_and_generated_selector() -> None:
    got = batch.admit_job(job())
    spec = got["spec"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert (spec["completionMode"], spec["suspend"], spec["manualSelector"]) == (
        "NonIndexed", False, False)  # fmt: skip
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": "u1"}}
    labels = {"batch.kubernetes.io/controller-uid": "u1", "batch.kubernetes.io/job-name": "pi",
              "controller-uid": "u1", "job-name": "pi"}  # fmt: skip
    assert spec["template"]["metadata"]["labels"] == labels
    assert got["metadata"]["labels"] == labels  # the Job's labels default to the template's
    assert got["metadata"]["generation"] == 1
    assert "status" not in got


def test_job_defaults_that_depend_on_other_fields() -> None:
    assert batch.admit_job(job(parallelism=3))["spec"].get("completions") is None
    per_index = batch.admit_job(job(completionMode="Indexed", completions=2,
                                    backoffLimitPerIndex=1))  # fmt: skip
    assert per_index["spec"]["backoffLimit"] == 2**31 - 1
    policy = {"rules": [{"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]}]}
    with_policy = batch.admit_job(job(podFailurePolicy=policy))["spec"]
    assert with_policy["podReplacementPolicy"] == "Failed"
    assert with_policy["podFailurePolicy"]["rules"][0]["onPodConditions"][0]["status"] == "True"


def test_a_uid_is_given_on_create() -> None:
    obj = job()
    del obj["metadata"]["uid"]
    got = batch.admit_job(obj)
    uid = got["metadata"]["uid"]
    assert uid
    assert got["spec"]["selector"]["matchLabels"]["batch.kubernetes.io/controller-uid"] == uid


@pytest.mark.parametrize("restart", [None, "Always"])
def test_restart_policy_must_be_on_failure_or_never(restart: str | None) -> None:
    template: JSON = {"spec": {"containers": [{"name": "pi", "image": "perl"}]}}
    if restart:
        template["spec"]["restartPolicy"] = restart
    assert errors_of(batch.admit_job, job(template=template)) == [
        'spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"parallelism": -1}, "spec.parallelism: Invalid value: -1: must be greater than or equal to 0"),
        ({"backoffLimit": -2}, "spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0"),
        ({"completionMode": "Indexed", "parallelism": 2}, "spec.completions: Required value: when completion mode is Indexed"),
        ({"completionMode": "Sometimes"}, 'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"'),
        ({"backoffLimitPerIndex": 1}, "spec.backoffLimitPerIndex: Forbidden: requires indexed completion mode"),
        ({"podFailurePolicy": {"rules": [{"action": "Restart", "onExitCodes": {"operator": "In", "values": [1]}}]}},
         'spec.podFailurePolicy.rules[0].action: Unsupported value: "Restart": supported values: "Count", "FailIndex", "FailJob", "Ignore"'),
        ({"podFailurePolicy": {"rules": [{"action": "Count", "onExitCodes": {"operator": "In", "values": [0]}}]}},
         "spec.podFailurePolicy.rules[0].onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator"),
    ],
)  # fmt: skip
def test_job_spec_errors(spec: JSON, error: str) -> None:
    assert error in errors_of(batch.admit_job, job(**spec))


def test_job_update_keeps_status_and_refuses_a_new_template() -> None:
    old = batch.admit_job(job())
    old["status"] = {"active": 1}
    new = {**old, "status": {}, "spec": {**old["spec"], "parallelism": 2}}
    assert batch.admit_job(new, old)["status"] == {"active": 1}
    changed = {**old, "spec": {**old["spec"], "template": {**old["spec"]["template"],
               "spec": {**old["spec"]["template"]["spec"], "restartPolicy": "OnFailure"}}}}  # fmt: skip
    assert any(e.startswith("spec.template: Invalid value") and e.endswith("field is immutable")
               for e in errors_of(batch.admit_job, changed, old))  # fmt: skip


def cronjob(schedule: str = "*/1 * * * *", **spec: Any) -> JSON:
    return {"apiVersion": "batch/v1", "kind": "CronJob",
            "metadata": {"name": "hello", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": {"template": {"spec": {
                "restartPolicy": "OnFailure", "containers": [{"name": "c", "image": "b"}]}}}},
                **spec}}  # fmt: skip


def test_cronjob_defaults() -> None:
    spec = cronjobs.admit_cronjob(cronjob())["spec"]
    assert (spec["concurrencyPolicy"], spec["suspend"], spec["successfulJobsHistoryLimit"],
            spec["failedJobsHistoryLimit"]) == ("Allow", False, 3, 1)  # fmt: skip


@pytest.mark.parametrize("schedule", ["@hourly", "@daily", "0 */2 * * 1-5", "@every 5m"])
def test_schedules_that_parse(schedule: str) -> None:
    cronjobs.admit_cronjob(cronjob(schedule))


@pytest.mark.parametrize(
    ("schedule", "error"),
    [
        ("* * *", 'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3: [* * *]'),
        ("@often", 'spec.schedule: Invalid value: "@often": unrecognized descriptor: @often'),
        ("TZ=UTC 0 * * * *", 'spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'),
        ("CRON_TZ=UTC 0 * * * *", 'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead'),
    ],
)  # fmt: skip
def test_schedule_errors(schedule: str, error: str) -> None:
    assert error in errors_of(cronjobs.admit_cronjob, cronjob(schedule))


def test_a_bad_field_value_in_a_schedule_is_refused() -> None:
    (error,) = errors_of(cronjobs.admit_cronjob, cronjob("61 * * * *"))
    assert error.startswith('spec.schedule: Invalid value: "61 * * * *": ')


@pytest.mark.parametrize(
    ("zone", "error"),
    [
        ("Mars/Olympus", 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'),
        ("", 'spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string'),
        ("Local", 'spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones'),
    ],
)  # fmt: skip
def test_time_zone_errors(zone: str, error: str) -> None:
    assert errors_of(cronjobs.admit_cronjob, cronjob(timeZone=zone)) == [error]


def test_cronjob_job_template_is_checked_and_its_selector_generated_later() -> None:
    bad = cronjob()
    bad["spec"]["jobTemplate"]["spec"]["template"]["spec"]["restartPolicy"] = "Always"
    assert errors_of(cronjobs.admit_cronjob, bad) == [
        'spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: '
        '"OnFailure", "Never"']  # fmt: skip
    assert cronjobs.admit_cronjob(cronjob(timeZone="Europe/Paris"))["spec"]["timeZone"] == (
        "Europe/Paris")  # fmt: skip
    long = cronjob()
    long["metadata"]["name"] = "x" * 53
    assert "must be no more than 52 characters" in errors_of(cronjobs.admit_cronjob, long)[0]
