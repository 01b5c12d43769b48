"""The table columns kubectl prints for Jobs and CronJobs, as the API server's table
convertor builds them: pkg/printers/internalversion/printers.go (jobColumnDefinitions and
printJob: STATUS, COMPLETIONS, DURATION, AGE, wide CONTAINERS, IMAGES, SELECTOR;
cronJobColumnDefinitions and printCronJob: SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE,
AGE, wide CONTAINERS, IMAGES, SELECTOR; layoutContainerCells; printBoolPtr).
"""

from __future__ import annotations

from typing import Any

from minikubelet.core.gotext import human_duration, parse_rfc3339
from minikubelet.core.workloads import selector_string

JSON = dict[str, Any]
Column = tuple[str, str, int, str]

JOB_COLUMNS: tuple[Column, ...] = (
    ("Status", "string", 0, "Status of the job."),
    ("Completions", "string", 0, "The number of pods which reached phase Succeeded. The value "
     "increases monotonically for a given spec. However, it may decrease in reaction to "
     "scale down of elastic indexed jobs."),
    ("Duration", "string", 0, "Time required to complete the job."),
)  # fmt: skip
CRONJOB_COLUMNS: tuple[Column, ...] = (
    ("Schedule", "string", 0, "The schedule in Cron format, see "
     "https://en.wikipedia.org/wiki/Cron."),
    ("Timezone", "string", 0, "The time zone name for the given schedule, see "
     "https://en.wikipedia.org/wiki/List_of_tz_database_time_zones."),
    ("Suspend", "boolean", 0, "This flag tells the controller to suspend subsequent "
     "executions, it does not apply to already started executions.  Defaults to false."),
    ("Active", "integer", 0, "A list of pointers to currently running jobs."),
    ("Last Schedule", "string", 0, "Information when was the last time the job was "
     "successfully scheduled."),
)  # fmt: skip
WIDE: tuple[Column, ...] = (
    ("Containers", "string", 1, "Names of each container in the template."),
    ("Images", "string", 1, "Images referenced by each container in the template."),
    ("Selector", "string", 1, "A label query over pods that should match the pod count. "
     "Normally, the system sets this field for you. More info: "
     "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors"),
)  # fmt: skip


def _containers(template_spec: JSON) -> list[str]:
    containers = template_spec.get("containers") or []
    return [",".join(str(c.get("name", "")) for c in containers),
            ",".join(str(c.get("image", "")) for c in containers)]  # fmt: skip


def _true(status: JSON, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True"
               for c in status.get("conditions") or [])  # fmt: skip


def job_status(job: JSON) -> str:
    """printJob's STATUS."""
    status = job.get("status") or {}
    if _true(status, "Complete"):
        return "Complete"
    if _true(status, "Failed"):
        return "Failed"
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for type_ in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _true(status, type_):
            return type_
    return "Running"


def job_cells(job: JSON, now: float) -> list[Any]:
    """printJob: STATUS, COMPLETIONS, DURATION, then the wide cells."""
    spec, status = job.get("spec") or {}, job.get("status") or {}
    succeeded = int(status.get("succeeded") or 0)
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{spec['completions']}"
    elif int(spec.get("parallelism") or 0) > 1:
        completions = f"{succeeded}/1 of {spec['parallelism']}"
    else:
        completions = f"{succeeded}/1"
    duration = ""
    if status.get("startTime"):
        start = parse_rfc3339(status["startTime"])
        end = parse_rfc3339(status["completionTime"]) if status.get("completionTime") else now
        duration = human_duration(end - start)
    template_spec = (spec.get("template") or {}).get("spec") or {}
    selector = selector_string(spec.get("selector")) or "<none>"
    return [job_status(job), completions, duration, *_containers(template_spec), selector]


def cronjob_cells(cronjob: JSON, now: float) -> list[Any]:
    """printCronJob: SCHEDULE, TIMEZONE, SUSPEND, ACTIVE, LAST SCHEDULE, then the wide cells."""
    spec, status = cronjob.get("spec") or {}, cronjob.get("status") or {}
    last = status.get("lastScheduleTime")
    last_cell = human_duration(now - parse_rfc3339(last)) if last else "<none>"
    suspend = spec.get("suspend")
    job_spec = (spec.get("jobTemplate") or {}).get("spec") or {}
    template_spec = (job_spec.get("template") or {}).get("spec") or {}
    selector = selector_string(job_spec.get("selector")) or "<none>"
    return [
        spec.get("schedule", ""),
        spec.get("timeZone") or "<none>",
        "<unset>" if suspend is None else ("True" if suspend else "False"),
        len(status.get("active") or []),
        last_cell,
        *_containers(template_spec),
        selector,
    ]
