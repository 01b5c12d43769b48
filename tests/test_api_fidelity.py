"""Deletion, deletecollection, create bodies, dry runs and the status subresource against the
real daemon over HTTP, and the real kubectl where kubectl is the client.

Each test creates its own pods (distinct names) in one daemon shared by the module, and waits
for states with deadlines; times are compared only with the wall clock read around a request.
"""

from __future__ import annotations

import calendar
import json
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet, condition, serving
from test_e2e_kubectl import kubectl

PODS = "/api/v1/namespaces/default/pods"
JSON = dict[str, Any]

BASE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: base}
    spec:
      containers: [{name: app, image: busybox, command: [sleep, "600"]}]
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    yield from serving(tmp_path_factory, "fidelity", BASE)


def api(
    mk: Minikubelet,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
) -> tuple[int, JSON]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        mk.url + path, data=data, method=method, headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def pod_doc(name: str, command: str = "exec sleep 600", **spec: Any) -> JSON:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": spec.pop("labels", {"test": name})},
        "spec": {
            "containers": [{"name": "app", "image": "busybox", "command": ["sh", "-c", command]}],
            **spec,
        },
    }


def create(mk: Minikubelet, doc: JSON) -> JSON:
    code, body = api(mk, "POST", PODS, doc)
    assert code == 201, body
    return body


def phase(mk: Minikubelet, name: str) -> str:
    code, body = api(mk, "GET", f"{PODS}/{name}")
    return str(body["status"]["phase"]) if code == 200 else ""


def gone(mk: Minikubelet, name: str) -> bool:
    return api(mk, "GET", f"{PODS}/{name}")[0] == 404


def sandbox_gone(pod: JSON) -> bool:
    found = condition(pod, "PodReadyToStartContainers")
    return found is not None and found["status"] == "False"


def parse_time(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))


def watch_events(
    mk: Minikubelet, since: str, name: str, until: Callable[[JSON], bool]
) -> list[JSON]:
    """The watch events on pod `name` from resourceVersion `since` up to the first one
    `until` accepts (the watch replays what happened after `since`)."""
    url = f"{mk.url}{PODS}?watch=1&resourceVersion={since}&fieldSelector=metadata.name={name}"
    events: list[JSON] = []
    with urllib.request.urlopen(url, timeout=30) as resp:
        for line in resp:
            event = json.loads(line)
            events.append(event)
            if until(event):
                break
    return events


def marked(event: JSON) -> bool:
    return "deletionTimestamp" in event["object"]["metadata"]


# --- 1. graceful deletion is visible at once ---------------------------------------------


def test_delete_marks_the_pod_at_once_and_kubectl_shows_terminating(
    mk: Minikubelet, tmp_path: Path
) -> None:
    release = tmp_path / "release"
    doc = pod_doc(
        "stopping",
        command="trap 'exit 0' TERM; while true; do sleep 0.1; done",
        terminationGracePeriodSeconds=120,
    )
    hook = f"while [ ! -e {release} ]; do sleep 0.1; done"  # holds the container until told
    doc["spec"]["containers"][0]["lifecycle"] = {
        "preStop": {"exec": {"command": ["sh", "-c", hook]}}
    }
    create(mk, doc)
    mk.wait_for("stopping running", lambda: phase(mk, "stopping") == "Running")
    since = mk.get_json(PODS)["metadata"]["resourceVersion"]

    before = int(time.time())
    code, deleted = api(mk, "DELETE", f"{PODS}/stopping")
    after = time.time()
    assert code == 200, deleted
    meta = deleted["metadata"]
    assert meta["deletionGracePeriodSeconds"] == 120
    assert before + 120 <= parse_time(meta["deletionTimestamp"]) <= after + 120
    # the same mark everywhere, while the preStop hook holds the container
    assert mk.pod("stopping")["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    listed = [p for p in mk.get_json(PODS)["items"] if p["metadata"]["name"] == "stopping"]
    assert listed[0]["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    out, err, code = kubectl(mk, "get", "pod", "stopping")
    assert code == 0, err
    assert out.splitlines()[1].split()[2] == "Terminating", out
    modified = watch_events(mk, since, "stopping", marked)[-1]
    assert modified["type"] == "MODIFIED"
    assert modified["object"]["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]

    # a longer grace period changes nothing; a shorter one moves the deadline back
    code, again = api(mk, "DELETE", f"{PODS}/stopping", {"gracePeriodSeconds": 200})
    assert code == 200
    assert again["metadata"]["deletionTimestamp"] == meta["deletionTimestamp"]
    assert again["metadata"]["deletionGracePeriodSeconds"] == 120
    code, shorter = api(mk, "DELETE", f"{PODS}/stopping?gracePeriodSeconds=100")
    assert code == 200
    assert shorter["metadata"]["deletionGracePeriodSeconds"] == 100
    moved = parse_time(shorter["metadata"]["deletionTimestamp"])
    assert moved == parse_time(meta["deletionTimestamp"]) - 20
    assert mk.pod("stopping")["metadata"]["deletionGracePeriodSeconds"] == 100
    assert phase(mk, "stopping") == "Running"  # still held by its preStop hook

    # a short one cuts the kill under way short: gone long before the first 120s are over
    try:
        code, _ = api(mk, "DELETE", f"{PODS}/stopping", {"gracePeriodSeconds": 1})
        assert code == 200
        mk.wait_for("stopping removed", lambda: gone(mk, "stopping"), timeout=60)
    finally:
        release.touch()


# --- 2. deleting a finished pod removes it ------------------------------------------------


@pytest.mark.parametrize(("name", "command", "final"),
                         [("finished-ok", "true", "Succeeded"), ("finished-bad", "exit 3", "Failed")])  # fmt: skip
def test_deleting_a_finished_pod_removes_it_at_once(
    mk: Minikubelet, name: str, command: str, final: str
) -> None:
    create(mk, pod_doc(name, command=command, restartPolicy="Never"))
    mk.wait_for(f"{name} {final}", lambda: phase(mk, name) == final)
    # the sandbox is gone too once the pod has finished: nothing at all left to stop
    mk.wait_for(f"{name} finished", lambda: sandbox_gone(mk.pod(name)))
    since = mk.get_json(PODS)["metadata"]["resourceVersion"]
    code, deleted = api(mk, "DELETE", f"{PODS}/{name}")
    assert code == 200, deleted
    assert deleted["metadata"]["deletionGracePeriodSeconds"] == 0
    assert gone(mk, name)  # at once: nothing was left to stop
    events = watch_events(mk, since, name, lambda e: e["type"] == "DELETED")
    assert [(e["type"], marked(e)) for e in events] == [("MODIFIED", True), ("DELETED", True)]
    create(mk, pod_doc(name, command=command, restartPolicy="Never"))  # the name is free


def test_kubectl_delete_of_a_completed_pod_returns(mk: Minikubelet) -> None:
    create(mk, pod_doc("completed", command="true", restartPolicy="Never"))
    mk.wait_for("completed", lambda: phase(mk, "completed") == "Succeeded")
    out, err, code = kubectl(mk, "delete", "pod", "completed")
    assert (out, err, code) == ('pod "completed" deleted from default namespace\n', "", 0)
    assert gone(mk, "completed")
    out, err, code = kubectl(mk, "run", "again", "--image=busybox", "--restart=Never", "--rm",
                             "-i", "--command", "--", "sh", "-c", "echo once")  # fmt: skip
    assert code == 0, err
    assert "once" in out
    assert gone(mk, "again")


# --- 6. deletecollection ------------------------------------------------------------------


def test_deletecollection_deletes_what_the_selectors_match(mk: Minikubelet) -> None:
    for name in ("coll-a", "coll-b", "coll-keep"):
        labels = {"group": "coll"} if name != "coll-keep" else {"group": "other"}
        create(mk, pod_doc(name, labels=labels, terminationGracePeriodSeconds=5))
    code, answer = api(mk, "DELETE", f"{PODS}?labelSelector=group%3Dcoll")
    assert code == 200, answer
    assert answer["kind"] == "PodList"
    names = sorted(p["metadata"]["name"] for p in answer["items"])
    assert names == ["coll-a", "coll-b"]
    assert all(p["metadata"]["deletionGracePeriodSeconds"] == 5 for p in answer["items"])
    mk.wait_for("coll-a, coll-b removed", lambda: gone(mk, "coll-a") and gone(mk, "coll-b"))
    assert not gone(mk, "coll-keep")

    code, answer = api(mk, "DELETE", f"{PODS}?fieldSelector=metadata.name%3Dcoll-keep&dryRun=All")
    assert code == 200
    assert [p["metadata"]["name"] for p in answer["items"]] == ["coll-keep"]
    assert "deletionTimestamp" not in mk.pod("coll-keep")["metadata"]
    code, answer = api(mk, "DELETE", f"{PODS}?fieldSelector=metadata.name%3Dcoll-keep")
    assert [p["metadata"]["name"] for p in answer["items"]] == ["coll-keep"]
    mk.wait_for("coll-keep removed", lambda: gone(mk, "coll-keep"))


def test_kubectl_delete_pods_by_label(mk: Minikubelet) -> None:
    for name in ("lab-a", "lab-b"):
        create(mk, pod_doc(name, labels={"app": "lab"}, terminationGracePeriodSeconds=5))
    out, err, code = kubectl(mk, "delete", "pods", "-l", "app=lab")
    assert code == 0, err
    assert 'pod "lab-a" deleted' in out
    assert 'pod "lab-b" deleted' in out
    assert gone(mk, "lab-a")
    assert gone(mk, "lab-b")


# --- 7. create bodies as clients send them -----------------------------------------------


def test_create_without_kind_and_api_version(mk: Minikubelet) -> None:
    doc = pod_doc("bare")
    del doc["kind"], doc["apiVersion"]
    created = create(mk, doc)
    assert (created["kind"], created["apiVersion"]) == ("Pod", "v1")
    mk.wait_for("bare running", lambda: phase(mk, "bare") == "Running")

    for kind, cause in (
        ("Service", "converting (v1.Service) to (core.Pod): unknown conversion"),
        ("Pods", 'no kind "Pods" is registered for version "v1" in scheme '
                 '"pkg/api/legacyscheme/scheme.go:30"'),
    ):  # fmt: skip
        code, status = api(mk, "POST", PODS, {**pod_doc("wrong"), "kind": kind})
        assert code == 400
        assert status["message"] == f'{kind} in version "v1" cannot be handled as a Pod: {cause}'
    assert gone(mk, "wrong")


# --- 11. dry runs ---------------------------------------------------------------------------


def test_dry_runs_answer_the_result_and_change_nothing(mk: Minikubelet) -> None:
    code, created = api(mk, "POST", f"{PODS}?dryRun=All", pod_doc("dry"))
    assert code == 201
    assert created["metadata"]["name"] == "dry"
    assert gone(mk, "dry")
    invalid = pod_doc("dry")
    invalid["spec"]["containers"][0]["name"] = "App"
    code, status = api(mk, "POST", f"{PODS}?dryRun=All", invalid)
    assert code == 422, status  # validation runs in a dry run too

    create(mk, pod_doc("wet", labels={"app": "wet"}))
    patch = {"metadata": {"labels": {"app": "changed"}}}
    code, patched = api(mk, "PATCH", f"{PODS}/wet?dryRun=All", patch,
                        "application/merge-patch+json")  # fmt: skip
    assert code == 200, patched
    assert patched["metadata"]["labels"] == {"app": "changed"}
    assert mk.pod("wet")["metadata"]["labels"] == {"app": "wet"}
    current = mk.pod("wet")
    current["metadata"]["labels"] = {"app": "replaced"}
    del current["metadata"]["resourceVersion"]  # unconditional: the status may move meanwhile
    code, replaced = api(mk, "PUT", f"{PODS}/wet?dryRun=All", current)
    assert code == 200, replaced
    assert replaced["metadata"]["labels"] == {"app": "replaced"}
    assert mk.pod("wet")["metadata"]["labels"] == {"app": "wet"}

    code, deleted = api(mk, "DELETE", f"{PODS}/wet?dryRun=All")
    assert code == 200
    assert "deletionTimestamp" in deleted["metadata"]
    assert "deletionTimestamp" not in mk.pod("wet")["metadata"]
    code, deleted = api(mk, "DELETE", f"{PODS}/wet", {"dryRun": ["All"]})
    assert code == 200
    assert "deletionTimestamp" not in mk.pod("wet")["metadata"]

    code, status = api(
        mk, "PATCH", f"{PODS}/wet?dryRun=Some", patch, "application/merge-patch+json"
    )
    assert code == 422
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: '
        '[]string{"Some"}: supported values: "All"'
    )
    assert mk.pod("wet")["metadata"]["labels"] == {"app": "wet"}


def test_kubectl_diff_and_server_dry_run_apply(mk: Minikubelet, tmp_path: Path) -> None:
    manifest = textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: applied
          labels: {app: before}
        spec:
          containers: [{name: app, image: busybox, command: [sleep, "600"]}]
    """)
    path = tmp_path / "pod.yaml"
    path.write_text(manifest)
    assert kubectl(mk, "apply", "-f", str(path))[2] == 0
    # settled, so that the status does not move between kubectl's GET and its dry run
    mk.wait_for("applied ready", lambda: condition(mk.pod("applied"), "Ready")["status"] == "True")  # type: ignore[index]
    out, err, code = kubectl(mk, "diff", "-f", str(path))
    assert (out, code) == ("", 0), err

    path.write_text(manifest.replace("app: before", "app: after"))
    out, err, code = kubectl(mk, "diff", "-f", str(path))
    assert code == 1, err
    assert "-    app: before" in out
    assert "+    app: after" in out

    out, err, code = kubectl(mk, "apply", "--dry-run=server", "-f", str(path))
    assert (out, code) == ("pod/applied configured (server dry run)\n", 0), err
    assert mk.pod("applied")["metadata"]["labels"] == {"app": "before"}
    path.write_text(manifest.replace("name: applied", "name: never"))
    out, err, code = kubectl(mk, "apply", "--dry-run=server", "-f", str(path))
    assert (out, code) == ("pod/never created (server dry run)\n", 0), err
    assert gone(mk, "never")


# --- 5. the status subresource ---------------------------------------------------------


GATE = "example.com/ready"


def ready_of(pod: JSON) -> tuple[str, str, str]:
    found = condition(pod, "Ready")
    assert found is not None, pod["status"]
    return found["status"], found.get("reason", ""), found.get("message", "")


def test_status_subresource_and_readiness_gates(mk: Minikubelet, tmp_path: Path) -> None:
    ready_file = tmp_path / "ready"
    ready_file.touch()
    doc = pod_doc("gated", readinessGates=[{"conditionType": GATE}])
    doc["spec"]["containers"][0]["readinessProbe"] = {
        "exec": {"command": ["test", "-e", str(ready_file)]},
        "periodSeconds": 1,
    }
    create(mk, doc)
    status_path = f"{PODS}/gated/status"
    missing = ("False", "ReadinessGatesNotReady",
               f'corresponding condition of pod readiness gate "{GATE}" does not exist.')  # fmt: skip
    mk.wait_for(
        "containers ready",
        lambda: condition(mk.pod("gated"), "ContainersReady")["status"] == "True",
    )  # type: ignore[index]
    assert ready_of(mk.pod("gated")) == missing
    assert mk.get_json(status_path)["metadata"]["name"] == "gated"

    # strategic merge: the condition is merged by type into the kubelet's
    patch = {"status": {"conditions": [{"type": GATE, "status": "False"}]}}
    code, pod = api(mk, "PATCH", status_path, patch, "application/strategic-merge-patch+json")
    assert code == 200, pod
    assert ready_of(pod) == (
        "False",
        "ReadinessGatesNotReady",
        f'the status of pod readiness gate "{GATE}" is not "True", but False',
    )
    # merge patch: the whole list is replaced; the kubelet writes its own conditions again
    patch = {"status": {"conditions": [{"type": GATE, "status": "True"}]}}
    code, pod = api(mk, "PATCH", status_path, patch, "application/merge-patch+json")
    assert code == 200, pod
    assert ready_of(pod) == ("True", "", "")
    assert condition(pod, GATE)["status"] == "True"  # type: ignore[index]
    assert condition(mk.pod("gated"), "PodScheduled") is not None

    # the kubelet keeps the condition it does not own when it writes the status
    ready_file.unlink()
    mk.wait_for("unready", lambda: ready_of(mk.pod("gated"))[1] == "ContainersNotReady")
    assert condition(mk.pod("gated"), GATE)["status"] == "True"  # type: ignore[index]
    ready_file.touch()
    mk.wait_for("ready again", lambda: ready_of(mk.pod("gated"))[0] == "True")

    # PUT: the spec in the body is ignored; the conditions are the body's
    current = mk.pod("gated")
    del current["metadata"]["resourceVersion"]  # unconditional: the status may move meanwhile
    current["spec"]["containers"][0]["image"] = "other"
    current["status"]["conditions"] = [
        c for c in current["status"]["conditions"] if c["type"] != GATE
    ]
    code, pod = api(mk, "PUT", status_path, current)
    assert code == 200, pod
    assert pod["spec"]["containers"][0]["image"] == "busybox"
    assert ready_of(pod) == missing

    # JSON patch
    add = [{"op": "add", "path": "/status/conditions/-", "value": {"type": GATE, "status": "True"}}]
    code, pod = api(mk, "PATCH", status_path, add, "application/json-patch+json")
    assert code == 200, pod
    assert ready_of(pod) == ("True", "", "")

    # what the conformance test writes: a message, a reason and an annotation
    patch = {"metadata": {"annotations": {"patchedstatus": "true"}},
             "status": {"message": "Patched by e2e test", "reason": "E2E"}}  # fmt: skip
    code, pod = api(mk, "PATCH", status_path, patch, "application/merge-patch+json")
    assert code == 200, pod
    assert (pod["status"]["message"], pod["status"]["reason"]) == ("Patched by e2e test", "E2E")
    assert pod["metadata"]["annotations"]["patchedstatus"] == "true"
    assert mk.pod("gated")["status"]["message"] == "Patched by e2e test"


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ({"conditions": [{"type": "bad type!", "status": "True"}]},
         'Pod "checked" is invalid: metadata.conditions[0].Type: Invalid value: "bad type!": '
         "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and "
         "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', "
         "regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        ({"qosClass": "Guaranteed"},
         'Pod "checked" is invalid: status.qosClass: Invalid value: "Guaranteed": field is immutable'),
    ],
)  # fmt: skip
def test_status_updates_are_validated(mk: Minikubelet, status: JSON, message: str) -> None:
    if gone(mk, "checked"):
        create(mk, pod_doc("checked"))
    path = f"{PODS}/checked/status"
    code, answer = api(mk, "PATCH", path, {"status": status}, "application/merge-patch+json")
    assert code == 422, answer
    assert answer["message"] == message
    code, answer = api(mk, "PATCH", path, {"status": {"conditions": "x"}},
                       "application/merge-patch+json")  # fmt: skip
    assert code == 400
    assert answer["message"] == (
        "json: cannot unmarshal string into Go struct field PodStatus.status.conditions of "
        "type []v1.PodCondition"
    )
