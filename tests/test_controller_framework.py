"""The workload controllers' foundation: the loop runs a controller when what it watches
changes and at the time it asked for, applies its actions (pods through a pod client, other
objects through their kind's admission, updates only at the read resourceVersion), keeps a
failing controller's fault to itself, and counts repeated events."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest

from minikubelet.api.subresources import bump_generation, keep_status, scale_of
from minikubelet.controllers import loop
from minikubelet.controllers.base import (
    Create,
    Delete,
    Event,
    FunctionController,
    Reader,
    Result,
    Update,
    UpdateStatus,
    earliest,
)
from minikubelet.core import workloads as wl
from minikubelet.manifest.podtemplate import default_template, template_errors
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
DEADLINE = 30.0


class Pods:
    """A pod client that stores what it is asked to create, as the registry would."""

    def __init__(self, store: ObjectStore, refuse: str = "") -> None:
        self.store = store
        self.refuse = refuse
        self.deleted: list[tuple[str, str, int | None]] = []

    async def create_pod(self, document: Mapping[str, Any]) -> JSON:
        if self.refuse:
            raise ValueError(self.refuse)
        doc = dict(document)
        doc["metadata"] = {"namespace": "default", **doc["metadata"]}
        return self.store.create("pods", doc)

    async def delete_pod(
        self, namespace: str, name: str, *, grace_period_seconds: int | None = None
    ) -> JSON | None:
        self.deleted.append((namespace, name, grace_period_seconds))
        return self.store.remove("pods", namespace, name)


async def wait_for(check: Callable[[], Any], what: str) -> Any:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.asynccontextmanager
async def running(store: ObjectStore, pods: Pods, *controllers: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(loop.run(store, pods, controllers=controllers))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert task.cancelled()


def _owner(name: str = "owner") -> JSON:
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"}, "data": {"replicas": "2"}}  # fmt: skip


def _replicas(store: Reader, now: float) -> Result:
    """A tiny controller: each ConfigMap with `replicas` wants that many pods it owns."""
    actions: list[Any] = []
    for owner in store.list("configmaps"):
        want = int((owner.get("data") or {}).get("replicas", 0))
        have = [p for p in store.list("pods") if wl.is_controlled_by(p, owner)]
        for _ in range(want - len(have)):
            pod = {"apiVersion": "v1", "kind": "Pod",
                   "metadata": {"generateName": owner["metadata"]["name"] + "-",
                                "namespace": "default",
                                "ownerReferences": [wl.owner_reference(owner)]},
                   "spec": {"containers": [{"name": "c", "image": "x"}]}}  # fmt: skip
            actions.append(Create("pods", pod, owner=owner))
        for pod in have[want:] if want < len(have) else []:
            actions.append(Delete("pods", "default", pod["metadata"]["name"]))
    return Result(actions)


async def test_a_controller_is_run_on_the_changes_it_watches() -> None:
    store = ObjectStore()
    pods = Pods(store)
    owner = store.create("configmaps", _owner())
    controller = FunctionController("replicas", frozenset({"configmaps", "pods"}), _replicas)
    async with running(store, pods, controller):
        made = await wait_for(lambda: len(store.list("pods")) == 2 and store.list("pods"), "pods")
        for pod in made:
            assert pod["metadata"]["name"].startswith("owner-")
            assert len(pod["metadata"]["name"]) == len("owner-") + 5
            assert wl.controller_of(pod)["uid"] == owner["metadata"]["uid"]  # type: ignore[index]
        store.remove("pods", "default", made[0]["metadata"]["name"])  # replaced
        await wait_for(lambda: len(store.list("pods")) == 2
                       and made[0] not in store.list("pods"), "a replacement")  # fmt: skip
        store.put("configmaps", {**store.get("configmaps", "default", "owner"),  # type: ignore[dict-item]
                                 "data": {"replicas": "0"}})  # fmt: skip
        await wait_for(lambda: not store.list("pods"), "the pods deleted")
        assert len(pods.deleted) == 2


async def test_a_refused_pod_is_a_failed_create_event_on_its_owner_counted() -> None:
    store = ObjectStore()
    pods = Pods(store, refuse='Pod "owner-x" is invalid: spec.containers[0].image: Required value')
    store.create("configmaps", _owner())
    calls = 0

    def once(reader: Reader, now: float) -> Result:
        nonlocal calls
        calls += 1
        return _replicas(reader, now) if calls <= 2 else Result()

    controller = FunctionController("replicas", frozenset({"configmaps"}), once)
    async with running(store, pods, controller):
        await wait_for(lambda: store.list("events") and store.list("events")[0]["count"] == 2,
                       "the first pass's two refusals")  # fmt: skip
        current = store.get("configmaps", "default", "owner")
        assert current is not None
        meta = {**current["metadata"], "labels": {"again": "1"}}
        store.put("configmaps", {**current, "metadata": meta})

        def counted() -> JSON | None:
            events = store.list("events")
            return events[0] if events and events[0]["count"] == 4 else None

        event = await wait_for(counted, "one event counted four times")
    assert event["reason"] == "FailedCreate"
    assert event["type"] == "Warning"
    assert event["message"].startswith('Error creating: Pod "owner-x" is invalid')
    assert event["involvedObject"]["kind"] == "ConfigMap"
    assert event["involvedObject"]["name"] == "owner"
    assert event["source"] == {"component": "replicas"}
    assert len(store.list("events")) == 1


async def test_requeue_at_runs_it_again_without_a_change() -> None:
    store = ObjectStore()
    seen: list[float] = []

    def later(reader: Reader, now: float) -> Result:
        seen.append(now)
        return Result(requeue_at=now + 0.05 if len(seen) < 3 else None)

    async with running(store, Pods(store), FunctionController("later", frozenset(), later)):
        await wait_for(lambda: len(seen) >= 3, "three runs")
    assert seen == sorted(seen)
    assert all(b - a >= 0.05 for a, b in itertools.pairwise(seen))


async def test_a_failing_controller_is_retried_and_the_others_go_on() -> None:
    store = ObjectStore()
    fails = 0

    def broken(reader: Reader, now: float) -> Result:
        nonlocal fails
        fails += 1
        raise RuntimeError("a bug")

    ok = FunctionController("replicas", frozenset({"configmaps", "pods"}), _replicas)
    async with running(store, Pods(store), FunctionController("broken", frozenset(), broken), ok):
        store.create("configmaps", _owner())
        await wait_for(lambda: len(store.list("pods")) == 2, "the good controller's pods")
        await wait_for(lambda: fails >= 2, "the broken one retried")


async def test_updates_apply_only_at_the_read_version_and_move_generation() -> None:
    store = ObjectStore()
    obj = store.create("configmaps", {"apiVersion": "v1", "kind": "ConfigMap",
                                      "metadata": {"name": "o", "namespace": "default"},
                                      "spec": {"x": 1}, "status": {"seen": 0}})  # fmt: skip
    stale = {**obj, "spec": {"x": 3}}
    store.put("configmaps", {**obj, "spec": {"x": 2}})
    current = store.get("configmaps", "default", "o")
    assert current is not None
    steps = [
        [Update("configmaps", stale)],  # dropped: another write came between
        [Update("configmaps", {**current, "spec": {"x": 5}, "status": {"seen": 9}})],
    ]

    def updater(reader: Reader, now: float) -> Result:
        return Result(steps.pop(0) if steps else [], requeue_at=now if steps else None)

    async with running(store, Pods(store), FunctionController("u", frozenset(), updater)):
        await wait_for(lambda: (store.get("configmaps", "default", "o") or {}).get("spec")
                       == {"x": 5}, "the update")  # fmt: skip
    got = store.get("configmaps", "default", "o")
    assert got is not None
    assert got["status"] == {"seen": 0}  # an Update keeps the status
    assert got["metadata"]["generation"] == 2  # the spec changed once through the loop
    assert got["metadata"]["uid"] == obj["metadata"]["uid"]

    status_steps = [[UpdateStatus("configmaps", {**got, "status": {"seen": 1}})]]

    def status_writer(reader: Reader, now: float) -> Result:
        return Result(status_steps.pop(0) if status_steps else [])

    writer = FunctionController("s", frozenset(), status_writer)
    async with running(store, Pods(store), writer):
        await wait_for(lambda: (store.get("configmaps", "default", "o") or {}).get("status")
                       == {"seen": 1}, "the status")  # fmt: skip
    assert store.get("configmaps", "default", "o")["metadata"]["generation"] == 2  # type: ignore[index]


async def test_an_idle_controller_is_not_run_again_by_its_own_quiet_passes() -> None:
    store = ObjectStore()
    runs = 0

    def quiet(reader: Reader, now: float) -> Result:
        nonlocal runs
        runs += 1
        return Result()

    controller = FunctionController("quiet", frozenset({"configmaps"}), quiet)
    async with running(store, Pods(store), controller):
        await wait_for(lambda: runs == 1, "the first pass")
        store.create("configmaps", _owner())
        await wait_for(lambda: runs == 2, "the pass the change woke")
        store.create("secrets", {"apiVersion": "v1", "kind": "Secret",
                                 "metadata": {"name": "s", "namespace": "default"}})  # fmt: skip
        store.create("configmaps", _owner("other"))
        await wait_for(lambda: runs == 3, "the next change")
    assert runs == 3


async def test_delete_with_propagation_leaves_it_to_the_collector() -> None:
    store = ObjectStore()
    store.create("configmaps", _owner())
    actions = [[Delete("configmaps", "default", "owner", propagation="Foreground")]]

    def deleter(reader: Reader, now: float) -> Result:
        return Result(actions.pop(0) if actions else [])

    async with running(store, Pods(store), FunctionController("d", frozenset(), deleter)):
        marked = await wait_for(
            lambda: (store.get("configmaps", "default", "owner") or {})
            .get("metadata", {}).get("deletionTimestamp") and store.get(
                "configmaps", "default", "owner"), "the mark")  # fmt: skip
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]


def test_earliest() -> None:
    assert earliest(None, 3.0, 2.0) == 2.0
    assert earliest(None, None) is None


def test_status_and_generation_rules() -> None:
    old = {"metadata": {"name": "d", "generation": 4}, "spec": {"replicas": 1},
           "status": {"replicas": 1}}  # fmt: skip
    new: JSON = {"metadata": {"name": "d"}, "spec": {"replicas": 2}, "status": {"replicas": 9}}
    keep_status(new, old)
    bump_generation(new, old)
    assert new["status"] == {"replicas": 1}
    assert new["metadata"]["generation"] == 5
    same: JSON = {"metadata": {"name": "d"}, "spec": {"replicas": 1}}
    bump_generation(same, old)
    assert same["metadata"]["generation"] == 4


@pytest.mark.parametrize(
    ("selector", "text"),
    [({"matchLabels": {"app": "web", "tier": "a"}}, "app=web,tier=a"),
     ({"app": "web"}, "app=web"),  # a ReplicationController's map selector
     ({"matchLabels": {"app": "web"}, "matchExpressions": [
         {"key": "env", "operator": "In", "values": ["b", "a"]},
         {"key": "x", "operator": "Exists"}]}, "app=web,env in (a,b),x")],
)  # fmt: skip
def test_scale_of(selector: JSON, text: str) -> None:
    obj = {"metadata": {"name": "web", "namespace": "default", "uid": "u", "resourceVersion": "7",
                        "labels": {"x": "y"}},
           "spec": {"replicas": 3, "selector": selector}, "status": {"replicas": 2}}  # fmt: skip
    scale = scale_of(obj)
    assert scale == {"kind": "Scale", "apiVersion": "autoscaling/v1",
                     "metadata": {"name": "web", "namespace": "default", "uid": "u",
                                  "resourceVersion": "7"},
                     "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": text}}  # fmt: skip


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [({}, {"a": "b"}, True), (None, {"a": "b"}, False),
     ({"matchLabels": {"a": "b"}}, {"a": "b", "c": "d"}, True),
     ({"matchLabels": {"a": "b"}}, {"a": "c"}, False),
     ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]}, {}, True),
     ({"matchExpressions": [{"key": "a", "operator": "NotIn", "values": ["b"]}]},
      {"a": "b"}, False),
     ({"matchExpressions": [{"key": "a", "operator": "DoesNotExist"}]}, {"a": "b"}, False)],
)  # fmt: skip
def test_selector_matches(selector: JSON | None, labels: dict[str, str], matches: bool) -> None:
    assert wl.selector_matches(selector, labels) is matches


def test_pod_availability_on_now() -> None:
    pod = {"status": {"phase": "Running", "conditions": [
        {"type": "Ready", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}  # fmt: skip
    ready_at = wl.pod_ready_since(pod)
    assert ready_at is not None
    assert wl.pod_available(pod, 0, ready_at)
    assert not wl.pod_available(pod, 10, ready_at + 9)
    assert wl.pod_available(pod, 10, ready_at + 10)
    assert wl.available_at(pod, 10) == ready_at + 10
    assert wl.pod_active(pod)
    assert not wl.pod_active({**pod, "metadata": {"deletionTimestamp": "x"}})


def test_template_errors_are_under_the_template() -> None:
    template = {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web"}], "restartPolicy": "Sometimes"}}  # fmt: skip
    errors = template_errors(template)
    assert "spec.template.spec.containers[0].image: Required value" in errors
    assert any(e.startswith("spec.template.spec.restartPolicy: Unsupported value") for e in errors)
    assert (
        template_errors(
            {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            }
        )
        == []
    )
    defaulted = default_template({"spec": {"containers": [{"name": "c", "image": "x"}]}})
    assert defaulted["spec"]["terminationGracePeriodSeconds"] == 30
    assert defaulted["spec"]["containers"][0]["imagePullPolicy"] == "Always"


def test_a_controller_event_action_shape() -> None:
    event = Event({"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "r"}},
                  "Normal", "SuccessfulCreate", "Created pod: r-abcde", "replicaset-controller")  # fmt: skip
    assert event.component == "replicaset-controller"
