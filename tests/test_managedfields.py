"""Field ownership and server-side apply (manifest/managedfields.py), table-tested on pod dicts
with scenarios after structured-merge-diff's merge tests (multiple appliers, conflicts, forced
applies, pruning of what an applier stops applying, updaters taking ownership)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikubelet.manifest import fieldsets as fs
from minikubelet.manifest import managedfields as mf

T0, T1 = "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"


def pod(labels: dict[str, str] | None = None, **container: Any) -> dict[str, Any]:
    app = {"name": "app", "image": "busybox", **container}
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "x", "namespace": "default"},
        "spec": {"containers": [app]},
    }
    if labels is not None:
        obj["metadata"]["labels"] = labels
    return obj


def owners(entries: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {f"{e['manager']}/{e['operation']}": e["fieldsV1"] for e in entries}


def applied(
    live: dict[str, Any],
    config: dict[str, Any],
    manager: str = "kubectl",
    *,
    force: bool = False,
) -> dict[str, Any]:
    """The live object after `manager` applies `config`, managedFields included."""
    entries = live["metadata"].get("managedFields")
    merged, fields = mf.apply(live, config, entries, manager, force=force)
    merged["metadata"]["managedFields"] = mf.apply_ownership(
        live, merged, entries, manager, fields, T1, force=force
    )
    return merged


def updated(live: dict[str, Any], new: dict[str, Any], manager: str) -> dict[str, Any]:
    result = copy.deepcopy(new)
    result["metadata"]["managedFields"] = mf.update(
        live, new, live["metadata"].get("managedFields"), manager, T1
    )
    return result


def created(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    return updated({"metadata": {}}, obj, manager)


def test_field_set_of_an_applied_configuration_in_fieldsv1() -> None:
    config = pod({"app": "web"})
    assert fs.to_fields_v1(fs.field_set(fs.owned_view(config))) == {
        "f:metadata": {"f:labels": {"f:app": {}}},
        "f:spec": {"f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}},
    }


@pytest.mark.parametrize(
    ("obj", "paths"),
    [
        ({"spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80}]}]}},
         {'.spec.containers[name="a"]', '.spec.containers[name="a"].name',
          '.spec.containers[name="a"].ports[containerPort=80,protocol="TCP"]',
          '.spec.containers[name="a"].ports[containerPort=80,protocol="TCP"].containerPort'}),
        ({"spec": {"containers": [{"name": "a", "args": ["x", "y"]}]}},  # atomic list: a leaf
         {'.spec.containers[name="a"]', '.spec.containers[name="a"].name',
          '.spec.containers[name="a"].args'}),
        ({"spec": {"securityContext": {}, "tolerations": [{"key": "k"}]}},
         {".spec.securityContext", ".spec.tolerations"}),
    ],
)  # fmt: skip
def test_paths_of_keyed_atomic_and_empty_values(obj: dict[str, Any], paths: set[str]) -> None:
    assert {fs.path_string(p) for p in fs.field_set(obj)} == paths


def test_fieldsv1_round_trip_and_order() -> None:
    fields = fs.field_set(fs.owned_view(pod({"b": "1", "a": "2"}, env=[{"name": "E"}])))
    tree = fs.to_fields_v1(fields)
    assert fs.from_fields_v1(tree) == fields
    item = tree["f:spec"]["f:containers"]['k:{"name":"app"}']
    assert list(item) == [".", "f:env", "f:image", "f:name"]
    assert list(tree["f:metadata"]["f:labels"]) == ["f:a", "f:b"]


def test_create_owns_every_field_with_the_dot_of_added_maps_and_items() -> None:
    entries = created(pod({"app": "web"}), "kubectl-create")["metadata"]["managedFields"]
    assert entries == [
        {
            "manager": "kubectl-create",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T1,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {'k:{"name":"app"}': {".": {}, "f:image": {}, "f:name": {}}}
                },
            },
        }
    ]


def test_server_set_metadata_status_and_node_name_are_nobodys() -> None:
    obj = pod()
    obj["metadata"] |= {"uid": "u", "resourceVersion": "3", "creationTimestamp": T0}
    obj["metadata"]["annotations"] = {"kubernetes.io/config.seen": T0, "note": "n"}
    obj["spec"]["nodeName"] = "vm"
    obj["status"] = {"phase": "Running"}
    fields = fs.to_fields_v1(fs.field_set(fs.owned_view(obj)))
    assert fields["f:metadata"] == {"f:annotations": {"f:note": {}}}
    assert set(fields) == {"f:metadata", "f:spec"}
    assert "f:nodeName" not in fields["f:spec"]


def test_reapplying_changes_a_value_and_prunes_what_is_no_longer_applied() -> None:
    live = applied(created(pod(), "creator"), pod({"app": "web", "tier": "a"}))
    again = applied(live, pod({"app": "web2"}))
    assert again["metadata"]["labels"] == {"app": "web2"}
    assert owners(again["metadata"]["managedFields"])["kubectl/Apply"]["f:metadata"] == {
        "f:labels": {"f:app": {}}
    }


def test_a_field_another_manager_owns_too_is_not_pruned() -> None:
    live = applied(created(pod(), "creator"), pod({"app": "web"}))
    live = applied(live, pod({"app": "web"}), "other-applier")
    again = applied(live, pod())
    assert again["metadata"]["labels"] == {"app": "web"}
    assert "f:metadata" not in owners(again["metadata"]["managedFields"])["kubectl/Apply"]


def test_an_env_item_no_longer_applied_goes_and_one_another_manager_added_stays() -> None:
    live = applied(created(pod(), "creator"), pod(env=[{"name": "A", "value": "1"}]))
    other = copy.deepcopy(live)
    other["spec"]["containers"][0]["env"].append({"name": "B", "value": "2"})
    live = updated(live, other, "kubectl-edit")
    again = applied(live, pod(env=[]))
    assert again["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]


def test_same_value_as_another_manager_is_shared_not_a_conflict() -> None:
    live = created(pod({"app": "web"}), "kubectl-client-side-apply")
    again = applied(live, pod({"app": "web"}))
    by = owners(again["metadata"]["managedFields"])
    assert by["kubectl/Apply"]["f:metadata"] == {"f:labels": {"f:app": {}}}
    assert "f:app" in by["kubectl-client-side-apply/Update"]["f:metadata"]["f:labels"]


def test_a_changed_value_another_manager_owns_is_a_conflict() -> None:
    live = created(pod({"app": "web"}), "kubectl-client-side-apply")
    with pytest.raises(mf.ApplyConflict) as caught:
        applied(live, pod({"app": "other"}))
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
        ".metadata.labels.app"
    )
    assert mf.conflict_causes(caught.value.conflicts) == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "kubectl-client-side-apply" using v1',
            "field": ".metadata.labels.app",
        }
    ]


def test_conflicts_with_two_managers_are_listed_by_manager() -> None:
    live = applied(created(pod({"a": "1"}), "creator"), pod({"b": "1"}), "ci")
    live = applied(live, pod({"b": "1"}, image="i1"), "ci", force=True)
    with pytest.raises(mf.ApplyConflict) as caught:
        applied(live, pod({"a": "2", "b": "2"}, image="i2"))
    assert str(caught.value) == (
        "Apply failed with 3 conflicts: "
        'conflicts with "ci":\n- .metadata.labels.b\n- .spec.containers[name="app"].image\n'
        'conflicts with "creator" using v1:\n- .metadata.labels.a'
    )


def test_force_takes_ownership_and_a_manager_left_with_nothing_goes() -> None:
    live = updated(pod({"app": "web"}), pod({"app": "other"}), "kubectl-label")
    live["metadata"]["managedFields"] = [
        e for e in live["metadata"]["managedFields"] if e["manager"] == "kubectl-label"
    ]
    forced = applied(live, pod({"app": "web"}), force=True)
    assert forced["metadata"]["labels"] == {"app": "web"}
    assert list(owners(forced["metadata"]["managedFields"])) == ["kubectl/Apply"]


def test_an_update_takes_a_field_from_the_applier() -> None:
    live = applied(created(pod(), "creator"), pod({"app": "web"}))
    labelled = copy.deepcopy(live)
    labelled["metadata"]["labels"]["app"] = "other"
    after = updated(live, labelled, "kubectl-label")
    by = owners(after["metadata"]["managedFields"])
    assert "f:metadata" not in by["kubectl/Apply"]
    assert by["kubectl-label/Update"] == {"f:metadata": {"f:labels": {"f:app": {}}}}


def test_an_unchanged_set_keeps_its_time_and_entries_sort_apply_first() -> None:
    live = created(pod({"app": "web"}), "z-creator")
    live["metadata"]["managedFields"][0]["time"] = T0
    same = updated(live, live, "z-creator")["metadata"]["managedFields"]
    assert [e["time"] for e in same] == [T0]
    both = applied(live, pod(image="other"), "a", force=True)["metadata"]["managedFields"]
    assert [(e["manager"], e["operation"]) for e in both] == [
        ("a", "Apply"),
        ("z-creator", "Update"),
    ]


def test_merge_keeps_live_items_and_fields_and_replaces_atomic_lists() -> None:
    live = pod(args=["a"], ports=[{"containerPort": 80, "protocol": "TCP", "name": "http"}])
    config = pod(args=["b"], ports=[{"containerPort": 80, "hostPort": 8080}, {"containerPort": 81}])
    merged = mf.merge(live, config)
    app = merged["spec"]["containers"][0]
    assert app["args"] == ["b"]
    assert app["ports"] == [
        {"containerPort": 80, "protocol": "TCP", "name": "http", "hostPort": 8080},
        {"containerPort": 81},
    ]


def test_malformed_managed_fields_are_dropped() -> None:
    assert mf.decode("nope") == []
    assert mf.decode([1, {"manager": 3}]) == []
    [one] = mf.decode([{"manager": "m", "operation": "Update", "fieldsV1": {"f:a": {}}}])
    assert one.fields == frozenset([("f:a",)])
