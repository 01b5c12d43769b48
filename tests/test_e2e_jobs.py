"""Jobs and CronJobs end to end: the daemon runs the Job controller on real processes and the
real kubectl drives it (apply, get with the printed columns, wait, describe, logs, the
status subresource, create job --from=cronjob), from the examples' files."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import kubectl, rows

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

FAILING = """
    apiVersion: batch/v1
    kind: Job
    metadata: {name: fails}
    spec:
      backoffLimit: 0
      template:
        spec:
          restartPolicy: Never
          containers: [{name: main, image: busybox, command: [sh, -c, "echo trying; exit 3"]}]
"""
CRONJOB = """
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: nightly}
    spec:
      schedule: "0 3 * * *"
      timeZone: Europe/Paris
      jobTemplate:
        spec:
          backoffLimit: 0
          template:
            spec:
              restartPolicy: OnFailure
              containers:
              - name: run
                image: busybox
                command: [sh, -c, "echo nightly run"]
                env:
                - name: MODE
                  valueFrom: {configMapKeyRef: {name: settings, key: mode, optional: true}}
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Minikubelet:
    tmp = tmp_path_factory.mktemp("jobs")
    shutil.copy(EXAMPLES / "pi-job.yaml", tmp / "pi-job.yaml")
    daemon = Minikubelet(tmp / "pi-job.yaml", state_dir=tmp / "state")
    daemon.wait_serving()
    yield daemon  # type: ignore[misc]
    daemon.close()


def _job(mk: Minikubelet, name: str) -> dict:  # type: ignore[type-arg]
    out, err, code = kubectl(mk, "get", "job", name, "-o", "json")
    assert code == 0, err
    return json.loads(out)  # type: ignore[no-any-return]


def _wait(mk: Minikubelet, condition: str, job: str) -> None:
    _, err, code = kubectl(
        mk, "wait", f"--for=condition={condition}", f"job/{job}", "--timeout=60s"
    )
    assert code == 0, err


def test_the_pi_job_from_its_file_completes(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "wait", "--for=condition=complete", "job/pi", "--timeout=60s")
    assert code == 0, err
    assert out.strip() == "job.batch/pi condition met"
    out, _, _ = kubectl(mk, "get", "jobs")
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows(out)["pi"][1:3] == ["Complete", "1/1"]
    out, _, _ = kubectl(mk, "get", "jobs", "-o", "wide")
    assert out.splitlines()[0].split()[5:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert rows(out)["pi"][5:7] == ["pi", "perl:5.34.0"]
    assert rows(out)["pi"][7].startswith("batch.kubernetes.io/controller-uid=")
    logs, err, code = kubectl(mk, "logs", "job/pi")
    assert code == 0, err
    assert logs.startswith("3.14159265358979323846")
    job = _job(mk, "pi")
    status = job["status"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    assert status["succeeded"] == 1
    assert status["uncountedTerminatedPods"] == {}
    assert job["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    pods, _, _ = kubectl(mk, "get", "pods", "-l", "job-name=pi", "-o", "json")
    (pod,) = json.loads(pods)["items"]
    assert pod["metadata"]["name"].startswith("pi-")
    assert pod["metadata"]["ownerReferences"][0]["name"] == "pi"
    assert not pod["metadata"].get("finalizers")  # counted: the tracking finalizer is gone
    described, _, _ = kubectl(mk, "describe", "job", "pi")
    assert "Pods Statuses:    0 Active (0 Ready) / 1 Succeeded / 0 Failed" in described
    assert f"Created pod: {pod['metadata']['name']}" in described
    assert "Job completed" in described


def test_a_failing_job_reaches_its_backoff_limit(mk: Minikubelet) -> None:
    out, err, code = kubectl(mk, "apply", "-f", "-", stdin=textwrap.dedent(FAILING))
    assert code == 0, err
    assert out.strip() == "job.batch/fails created"
    out, err, code = kubectl(mk, "wait", "--for=condition=failed", "job/fails", "--timeout=60s")
    assert code == 0, err
    got, _, _ = kubectl(mk, "get", "job", "fails")
    assert rows(got)["fails"][1:3] == ["Failed", "0/1"]
    status = _job(mk, "fails")["status"]
    failed = status["conditions"][-1]
    assert (failed["type"], failed["reason"], failed["message"]) == (
        "Failed",
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert status["failed"] == 1
    described, _, _ = kubectl(mk, "describe", "job", "fails")
    assert "BackoffLimitExceeded" in described
    assert "Job has reached the specified backoff limit" in described


def test_an_invalid_job_is_refused_in_the_api_servers_words(mk: Minikubelet) -> None:
    bad = textwrap.dedent(FAILING).replace("fails", "bad").replace("Never", "Always")
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=bad)
    assert code == 1
    assert err.strip() == (
        'The Job "bad" is invalid: spec.template.spec.restartPolicy: Required '
        'value: valid values: "OnFailure", "Never"'
    )


def test_an_indexed_job_from_the_example(mk: Minikubelet) -> None:
    _, err, code = kubectl(mk, "apply", "-f", str(EXAMPLES / "indexed-job.yaml"))
    assert code == 0, err
    _, err, code = kubectl(mk, "wait", "--for=condition=complete", "job/indexed", "--timeout=60s")
    assert code == 0, err
    assert _job(mk, "indexed")["status"]["completedIndexes"] == "0-2"
    out, _, _ = kubectl(mk, "logs", "-l", "job-name=indexed")
    assert sorted(out.split("\n")[:-1]) == ["item 0 of 3", "item 1 of 3", "item 2 of 3"]
    pods, _, _ = kubectl(mk, "get", "pods", "-l", "job-name=indexed", "-o", "json")
    hostnames = sorted(p["spec"]["hostname"] for p in json.loads(pods)["items"])
    assert hostnames == ["indexed-0", "indexed-1", "indexed-2"]


def test_pod_failure_policy_fails_the_job_at_once(mk: Minikubelet) -> None:
    _, err, code = kubectl(mk, "apply", "-f", str(EXAMPLES / "job-pod-failure-policy.yaml"))
    assert code == 0, err
    _, err, code = kubectl(
        mk, "wait", "--for=condition=failed", "job/job-pod-failure-policy", "--timeout=60s"
    )
    assert code == 0, err
    failed = _job(mk, "job-pod-failure-policy")["status"]["conditions"][-1]
    assert failed["reason"] == "PodFailurePolicy"
    assert failed["message"].startswith("Container main for pod default/job-pod-failure-policy-")
    assert failed["message"].endswith("failed with exit code 42 matching FailJob rule at index 0")


def test_cronjob_columns_and_a_job_created_from_it(mk: Minikubelet) -> None:
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=textwrap.dedent(CRONJOB))
    assert code == 0, err
    out, _, _ = kubectl(mk, "get", "cj")
    assert out.splitlines()[0].split() == [
        "NAME",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "ACTIVE",
        "LAST",
        "SCHEDULE",
        "AGE",
    ]
    assert rows(out)["nightly"][1:8] == ["0", "3", "*", "*", "*", "Europe/Paris", "False"]
    assert rows(out)["nightly"][8:10] == ["0", "<none>"]
    out, err, code = kubectl(mk, "create", "job", "nightly-now", "--from=cronjob/nightly")
    assert code == 0, err
    assert out.strip() == "job.batch/nightly-now created"
    _, err, code = kubectl(
        mk, "wait", "--for=condition=complete", "job/nightly-now", "--timeout=60s"
    )
    assert code == 0, err
    job = _job(mk, "nightly-now")
    assert job["metadata"]["annotations"]["cronjob.kubernetes.io/instantiate"] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["spec"]["backoffLimit"] == 0  # a pointer's zero, kept from the protobuf
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["sh", "-c", "echo nightly run"]
    assert container["env"] == [
        {
            "name": "MODE",
            "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode", "optional": True}},
        }
    ]
    logs, _, _ = kubectl(mk, "logs", "job/nightly-now")
    assert logs == "nightly run\n"


def test_the_job_status_subresource(mk: Minikubelet) -> None:
    _wait(mk, "complete", "pi")
    out, err, code = kubectl(mk, "get", "--raw", "/apis/batch/v1/namespaces/default/jobs/pi/status")
    assert code == 0, err
    assert json.loads(out)["status"]["succeeded"] == 1


EVERY = """
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: ticker}
    spec:
      schedule: "@every 2s"
      concurrencyPolicy: Forbid
      successfulJobsHistoryLimit: 1
      jobTemplate:
        spec:
          template:
            spec:
              restartPolicy: Never
              containers: [{name: tick, image: busybox, command: [sh, -c, "echo tick"]}]
"""


def test_a_scheduled_run_and_its_history(mk: Minikubelet) -> None:
    """A schedule of a few seconds (robfig/cron's @every, which the API server accepts) so
    that the test need not wait for a minute: Jobs `ticker-<minute>` are made on time, the
    status follows them, and only one successful Job is kept."""
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=textwrap.dedent(EVERY))
    assert code == 0, err

    def ran() -> dict:  # type: ignore[type-arg]
        cronjob = json.loads(kubectl(mk, "get", "cj", "ticker", "-o", "json")[0])
        return cronjob["status"] if cronjob["status"].get("lastSuccessfulTime") else {}

    status = mk.wait_for("a scheduled Job to complete", ran, timeout=60)
    assert status["lastScheduleTime"]
    out, _, _ = kubectl(mk, "get", "jobs", "-o", "json")
    ticks = [j for j in json.loads(out)["items"] if j["metadata"]["name"].startswith("ticker-")]
    assert ticks
    job = ticks[0]
    minutes = job["metadata"]["name"].removeprefix("ticker-")
    assert minutes.isdigit()
    assert "batch.kubernetes.io/cronjob-scheduled-timestamp" in job["metadata"]["annotations"]
    described, _, _ = kubectl(mk, "describe", "cronjob", "ticker")
    assert "SuccessfulCreate" in described
    assert "Created job ticker-" in described
    _, err, code = kubectl(mk, "delete", "cronjob", "ticker")
    assert code == 0, err


def test_watching_jobs(mk: Minikubelet) -> None:
    _wait(mk, "complete", "pi")
    out, _err, _ = kubectl(mk, "get", "jobs", "-w", "--request-timeout=2s", timeout=20)
    assert out.splitlines()[0].split() == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows(out)["pi"][1:3] == ["Complete", "1/1"]


SLEEPER = """
    apiVersion: batch/v1
    kind: Job
    metadata: {name: sleeper}
    spec:
      parallelism: 2
      completions: 4
      template:
        spec:
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers: [{name: main, image: busybox, command: [sleep, "600"]}]
"""


def test_apply_again_then_suspend_and_resume(mk: Minikubelet) -> None:
    manifest = textwrap.dedent(SLEEPER)
    _, err, code = kubectl(mk, "apply", "-f", "-", stdin=manifest)
    assert code == 0, err
    out, err, code = kubectl(mk, "apply", "-f", "-", stdin=manifest)
    assert (out.strip(), code) == ("job.batch/sleeper unchanged", 0), err

    def running() -> list[str]:
        out, _, _ = kubectl(mk, "get", "pods", "-l", "job-name=sleeper", "-o", "json")
        return [
            p["metadata"]["name"]
            for p in json.loads(out)["items"]
            if p["status"].get("phase") == "Running"
        ]

    assert len(mk.wait_for("two running pods", lambda: len(running()) == 2 and running())) == 2
    out, err, code = kubectl(mk, "patch", "job", "sleeper", "-p", '{"spec":{"suspend":true}}')
    assert code == 0, err
    _, err, code = kubectl(mk, "wait", "--for=condition=suspended", "job/sleeper", "--timeout=60s")
    assert code == 0, err

    def gone() -> bool:
        out, _, _ = kubectl(mk, "get", "pods", "-l", "job-name=sleeper", "-o", "name")
        return out.strip() == ""

    mk.wait_for("the suspended Job's pods gone", gone, timeout=60)
    got, _, _ = kubectl(mk, "get", "job", "sleeper")
    assert rows(got)["sleeper"][1:3] == ["Suspended", "0/4"]
    assert "failed" not in _job(mk, "sleeper")["status"]  # deleted by suspension: no failure
    _, err, code = kubectl(mk, "patch", "job", "sleeper", "-p", '{"spec":{"suspend":false}}')
    assert code == 0, err
    assert (
        len(mk.wait_for("two running pods again", lambda: len(running()) == 2 and running())) == 2
    )
    described, _, _ = kubectl(mk, "describe", "job", "sleeper")
    assert "Job suspended" in described
    assert "Job resumed" in described
    _, err, code = kubectl(mk, "delete", "job", "sleeper")
    assert code == 0, err
    _, err, code = kubectl(mk, "delete", "pods", "-l", "job-name=sleeper")  # if no GC took them
    assert code == 0, err


def test_kubectl_create_job_and_its_ttl(mk: Minikubelet) -> None:
    """`kubectl create job` sends the Job as protobuf; with ttlSecondsAfterFinished: 0 (set
    by a patch of a second Job) the ttl-after-finished controller deletes a finished Job."""
    out, err, code = kubectl(
        mk, "create", "job", "quick", "--image=busybox", "--", "sh", "-c", "echo quick"
    )
    assert (out.strip(), code) == ("job.batch/quick created", 0), err
    _wait(mk, "complete", "quick")
    logs, _, _ = kubectl(mk, "logs", "job/quick")
    assert logs == "quick\n"
    _, err, code = kubectl(
        mk, "patch", "job", "quick", "-p", '{"spec":{"ttlSecondsAfterFinished":0}}'
    )
    assert code == 0, err

    def deleted() -> bool:
        _, err, code = kubectl(mk, "get", "job", "quick")
        return code == 1 and 'jobs.batch "quick" not found' in err

    mk.wait_for("the finished Job deleted by its TTL", deleted, timeout=60)
    kubectl(mk, "delete", "pods", "-l", "job-name=quick")  # if no GC took them


def test_kubectl_create_cronjob(mk: Minikubelet) -> None:
    """`kubectl create cronjob` sends the CronJob as protobuf, the schedule checked."""
    out, err, code = kubectl(
        mk,
        "create",
        "cronjob",
        "five",
        "--image=busybox",
        "--schedule=*/5 * * * *",
        "--",
        "echo",
        "hi",
    )
    assert (out.strip(), code) == ("cronjob.batch/five created", 0), err
    got, _, _ = kubectl(mk, "get", "cronjob", "five", "-o", "json")
    spec = json.loads(got)["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("*/5 * * * *", "Allow")
    template = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert template["containers"][0]["command"] == ["echo", "hi"]
    assert template["restartPolicy"] == "OnFailure"
    _, err, code = kubectl(mk, "create", "cronjob", "bad", "--image=busybox", "--schedule=* * *")
    assert code == 1
    assert 'spec.schedule: Invalid value: "* * *": expected exactly 5 fields, found 3' in err
    kubectl(mk, "delete", "cronjob", "five")
