"""The object store on its own: one resource version for every kind, the stamps `create` adds,
ordering, and the change feed."""

from __future__ import annotations

import pytest

from minikubelet.store.objects import AlreadyExists, ObjectStore


def _pod(name: str, namespace: str = "default", **extra: object) -> dict[str, object]:
    return {"kind": "Pod", "metadata": {"name": name, "namespace": namespace}, **extra}


def _store() -> ObjectStore:
    uids = iter(f"uid-{i}" for i in range(100))
    return ObjectStore(clock=lambda: 1_764_000_000.5, new_uid=lambda: next(uids))


def test_create_stamps_uid_creation_generation_and_version() -> None:
    store = _store()
    obj = store.create("pods", _pod("a", spec={}))
    assert obj["metadata"] == {
        "name": "a",
        "namespace": "default",
        "uid": "uid-0",
        "creationTimestamp": "2025-11-24T16:00:00Z",
        "generation": 1,
        "resourceVersion": "1",
    }
    assert store.get("pods", "default", "a") == obj
    # what the writer already set is kept; no generation without a spec
    event = store.create("events", {"kind": "Event", "metadata": {"name": "e", "uid": "mine"}})
    assert event["metadata"]["uid"] == "mine"
    assert "generation" not in event["metadata"]


def test_create_refuses_a_name_that_exists_in_its_namespace_only() -> None:
    store = _store()
    store.create("pods", _pod("a"))
    with pytest.raises(AlreadyExists, match='pods "a" already exists'):
        store.create("pods", _pod("a"))
    store.create("pods", _pod("a", namespace="other"))
    store.create("events", {"kind": "Event", "metadata": {"name": "a", "namespace": "default"}})
    assert store.resource_version == 3


def test_one_version_counter_across_kinds_and_lists_in_order() -> None:
    store = _store()
    store.put("pods", _pod("b"))
    store.put("events", {"kind": "Event", "metadata": {"name": "x", "namespace": "default"}})
    store.put("pods", _pod("a", namespace="zz"))
    store.put("pods", _pod("a"))
    assert [o["metadata"]["resourceVersion"] for o in store.list("pods")] == ["4", "1", "3"]
    assert [o["metadata"]["name"] for o in store.list("pods", "default")] == ["a", "b"]
    assert store.list("configmaps") == []
    assert store.resource_version == 4


async def test_changes_are_fed_in_order_with_their_types() -> None:
    store = _store()
    queue = store.subscribe()
    store.put("pods", _pod("a"))
    store.put("pods", {**_pod("a"), "status": {"phase": "Running"}})
    gone = store.remove("pods", "default", "a")
    assert store.remove("pods", "default", "a") is None
    changes = [queue.get_nowait() for _ in range(3)]
    assert [(c.type, c.kind, c.resource_version) for c in changes] == [
        ("ADDED", "Pod", 1),
        ("MODIFIED", "Pod", 2),
        ("DELETED", "Pod", 3),
    ]
    assert gone is not None
    assert gone["metadata"]["resourceVersion"] == "3"
    assert gone["status"] == {"phase": "Running"}
    assert queue.empty()
    store.unsubscribe(queue)
    store.put("pods", _pod("b"))
    assert queue.empty()


def test_event_recorder_names_sort_by_object_then_time_and_evictions_are_reported() -> None:
    from minikubelet.core import events as ev
    from minikubelet.core.spec import Pod, PodSpec

    times = iter([1.0, 1.0, 2.0, 3.0])
    evicted: list[str] = []
    recorder = ev.EventRecorder(
        clock=lambda: next(times), on_evict=lambda e: evicted.append(e.name)
    )
    pod = Pod(name="web", namespace="default", uid="u", spec=PodSpec(containers=()))
    first = recorder.record(pod, reason="A", message="one")
    second = recorder.record(pod, reason="B", message="two")
    assert first.name.startswith("web.")
    assert first.name < second.name  # the same clock reading still gets a later name
    old, ev.MAX_EVENTS = ev.MAX_EVENTS, 2
    try:
        recorder.record(pod, reason="C", message="three")
    finally:
        ev.MAX_EVENTS = old
    assert evicted == [first.name]
