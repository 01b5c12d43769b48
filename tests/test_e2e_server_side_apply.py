"""`kubectl apply --server-side` against a live daemon: create, update, prune, conflicts with
kubectl's advice, --force-conflicts, managedFields as `--show-managed-fields` shows them, dry
run, `kubectl diff --server-side`, and an image change that restarts the container."""

from __future__ import annotations

import json
import textwrap
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet, serving
from daemon_harness import event_messages as events_of
from test_e2e_kubectl import kubectl

BASE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: base}
    spec:
      containers: [{name: app, image: busybox, command: [sleep, "600"]}]
"""


def manifest(name: str, labels: str, image: str = "busybox") -> str:
    return textwrap.dedent(f"""
        apiVersion: v1
        kind: Pod
        metadata: {{name: {name}, labels: {{{labels}}}}}
        spec:
          containers: [{{name: app, image: {image}, command: [sleep, "600"]}}]
    """)  # fmt: skip


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    yield from serving(tmp_path_factory, "ssa", BASE)


def apply(mk: Minikubelet, text: str, *flags: str) -> tuple[str, str, int]:
    return kubectl(mk, "apply", "--server-side", *flags, "-f", "-", stdin=text)


def managers(mk: Minikubelet, name: str) -> dict[str, dict[str, Any]]:
    out, _, _ = kubectl(mk, "get", "pod", name, "-o", "json", "--show-managed-fields")
    entries = json.loads(out)["metadata"]["managedFields"]
    return {f"{e['manager']}/{e['operation']}": e for e in entries}


def test_apply_creates_updates_and_prunes_a_label(mk: Minikubelet) -> None:
    assert apply(mk, manifest("ssa-one", "app: web, tier: a")) == (
        "pod/ssa-one serverside-applied\n", "", 0
    )  # fmt: skip
    entry = managers(mk, "ssa-one")["kubectl/Apply"]
    assert (entry["apiVersion"], entry["fieldsType"]) == ("v1", "FieldsV1")
    assert entry["fieldsV1"] == {
        "f:metadata": {"f:labels": {"f:app": {}, "f:tier": {}}},
        "f:spec": {
            "f:containers": {
                'k:{"name":"app"}': {".": {}, "f:command": {}, "f:image": {}, "f:name": {}}
            }
        },
    }
    # by default kubectl hides them
    assert "managedFields" not in kubectl(mk, "get", "pod", "ssa-one", "-o", "yaml")[0]
    assert apply(mk, manifest("ssa-one", "app: web, tier: b"))[2] == 0
    assert mk.pod("ssa-one")["metadata"]["labels"] == {"app": "web", "tier": "b"}
    assert apply(mk, manifest("ssa-one", "app: web"))[2] == 0
    assert mk.pod("ssa-one")["metadata"]["labels"] == {"app": "web"}


def test_conflict_with_kubectl_label_then_force(mk: Minikubelet) -> None:
    assert apply(mk, manifest("ssa-two", "app: web"))[2] == 0
    assert kubectl(mk, "label", "pod", "ssa-two", "app=other", "--overwrite")[2] == 0
    both = managers(mk, "ssa-two")
    assert set(both) == {"kubectl/Apply", "kubectl-label/Update"}
    assert both["kubectl-label/Update"]["fieldsV1"] == {"f:metadata": {"f:labels": {"f:app": {}}}}
    out, err, code = apply(mk, manifest("ssa-two", "app: web"))
    assert (out, code) == ("", 1)
    assert err.startswith(
        'error: Apply failed with 1 conflict: conflict with "kubectl-label" using v1: '
        ".metadata.labels.app\nPlease review the fields above--they currently have other "
        "managers."
    )
    assert "--force-conflicts" in err
    assert mk.pod("ssa-two")["metadata"]["labels"] == {"app": "other"}
    assert apply(mk, manifest("ssa-two", "app: web"), "--force-conflicts")[2] == 0
    assert mk.pod("ssa-two")["metadata"]["labels"] == {"app": "web"}
    assert set(managers(mk, "ssa-two")) == {"kubectl/Apply"}


def test_client_side_apply_then_server_side_shows_both_managers(mk: Minikubelet) -> None:
    created = kubectl(mk, "apply", "-f", "-", stdin=manifest("ssa-three", "app: web"))
    assert created == ("pod/ssa-three created\n", "", 0)
    csa = managers(mk, "ssa-three")["kubectl-client-side-apply/Update"]["fieldsV1"]
    assert csa["f:metadata"]["f:labels"] == {".": {}, "f:app": {}}
    assert "f:dnsPolicy" in csa["f:spec"]  # a create owns the defaulted fields too
    _, err, code = apply(mk, manifest("ssa-three", "app: web2"))
    assert code == 1
    assert 'conflict with "kubectl-client-side-apply" using v1: .metadata.labels.app' in err
    # the same value is no conflict: the two share the field
    assert apply(mk, manifest("ssa-three", "app: web"))[2] == 0
    by = managers(mk, "ssa-three")
    assert {"kubectl/Apply", "kubectl-client-side-apply/Update"} <= set(by)
    assert by["kubectl/Apply"]["fieldsV1"]["f:metadata"] == {"f:labels": {"f:app": {}}}


def test_dry_run_and_diff_change_nothing(mk: Minikubelet) -> None:
    out, _, code = apply(mk, manifest("ssa-dry", "app: web"), "--dry-run=server", "-o", "json")
    assert code == 0
    assert json.loads(out)["metadata"]["labels"] == {"app": "web"}
    assert kubectl(mk, "get", "pod", "ssa-dry")[2] == 1
    assert apply(mk, manifest("ssa-dry", "app: web"))[2] == 0
    before = managers(mk, "ssa-dry")
    out, _, code = apply(mk, manifest("ssa-dry", "app: new"), "--dry-run=server", "-o", "json")
    assert (code, json.loads(out)["metadata"]["labels"]) == (0, {"app": "new"})
    out, _, code = kubectl(
        mk, "diff", "--server-side", "-f", "-", stdin=manifest("ssa-dry", "app: new")
    )
    assert code == 1  # kubectl diff: 1 means there are differences
    assert "-    app: web\n+    app: new\n" in out
    assert managers(mk, "ssa-dry") == before  # (the version moves with the status)
    assert mk.pod("ssa-dry")["metadata"]["labels"] == {"app": "web"}


def _patch(
    mk: Minikubelet,
    path: str,
    body: str,
    *,
    method: str = "PATCH",
    content_type: str = "application/apply-patch+yaml",
) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        mk.url + path,
        data=body.encode(),
        method=method,
        headers={"Content-Type": content_type, "User-Agent": "my-tool/1.2 (linux)"},
    )
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_apply_patch_needs_a_field_manager_and_matching_version_and_name(
    mk: Minikubelet,
) -> None:
    path = "/api/v1/namespaces/default/pods/ssa-raw"
    code, status = _patch(mk, path, manifest("ssa-raw", "app: web"))
    assert (code, status["reason"]) == (422, "Invalid")
    assert status["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        "for apply patch"
    )
    code, status = _patch(mk, path + "?fieldManager=me", manifest("other", "app: web"))
    assert (code, status["message"]) == (
        400, "the name of the object (other) does not match the name on the URL (ssa-raw)"
    )  # fmt: skip
    wrong = manifest("ssa-raw", "app: web").replace("apiVersion: v1", "apiVersion: v2")
    code, status = _patch(mk, path + "?fieldManager=me", wrong)
    assert (code, status["message"]) == (
        400,
        "Incorrect version specified in apply patch. Specified patch version: v2, expected: v1",
    )
    code, created = _patch(mk, path + "?fieldManager=me", manifest("ssa-raw", "app: web"))
    assert code == 201
    assert [e["manager"] for e in created["metadata"]["managedFields"]] == ["me"]
    code, status = _patch(mk, path + "?fieldManager=you", manifest("ssa-raw", "app: x"))
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Apply failed with 1 conflict: conflict with "me": .metadata.labels.app'
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "me"',
            "field": ".metadata.labels.app",
        }
    ]


def test_an_apply_that_changes_other_spec_fields_is_refused_as_an_update(
    mk: Minikubelet,
) -> None:
    assert apply(mk, manifest("ssa-spec", "app: web"))[2] == 0
    changed = manifest("ssa-spec", "app: web").replace("image: busybox", "image: busybox, workingDir: /tmp")  # fmt: skip
    _, err, code = apply(mk, changed)
    assert code == 1
    assert "spec: Forbidden: pod updates may not change fields other than" in err


def test_image_change_restarts_the_container(tmp_path: Path) -> None:
    path = tmp_path / "base.yaml"
    path.write_text(textwrap.dedent(BASE))
    with Minikubelet(path, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        assert apply(mk, manifest("ssa-img", "app: web"))[2] == 0
        mk.wait_for("running", lambda: mk.container("ssa-img", "app").get("ready") is True)
        assert apply(mk, manifest("ssa-img", "app: web", image="busybox:2"))[2] == 0
        mk.wait_for(
            "restarted with the new image",
            lambda: (
                mk.container("ssa-img", "app")["image"] == "busybox:2"
                and mk.container("ssa-img", "app")["restartCount"] == 1
                and mk.container("ssa-img", "app")["ready"] is True
            ),
        )
        assert "Container app definition changed, will be restarted" in events_of(mk, "Killing")


def test_a_write_without_field_manager_is_named_by_its_user_agent(mk: Minikubelet) -> None:
    body = json.dumps({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "ssa-agent"},
        "spec": {"containers": [{"name": "app", "image": "busybox", "command": ["true"]}]},
    })  # fmt: skip
    path = "/api/v1/namespaces/default/pods"
    code, created = _patch(mk, path, body, method="POST", content_type="application/json")
    assert code == 201
    [entry] = created["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"]) == ("my-tool", "Update")
    code, status = _patch(
        mk, path + "/ssa-agent?force=true", '{"metadata":{"labels":{"a":"b"}}}',
        content_type="application/merge-patch+json",
    )  # fmt: skip
    assert (code, status["message"]) == (
        422,
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
        "non-apply patch",
    )


def deployment(name: str, replicas: int, extra: str = "") -> str:
    return textwrap.dedent(f"""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {{name: {name}{extra}}}
        spec:
          replicas: {replicas}
          selector: {{matchLabels: {{app: {name}}}}}
          template:
            metadata: {{labels: {{app: {name}}}}}
            spec:
              containers: [{{name: app, image: busybox, command: [sleep, "600"]}}]
    """)  # fmt: skip


def object_managers(mk: Minikubelet, what: str) -> dict[str, dict[str, Any]]:
    out, err, code = kubectl(mk, "get", what, "-o", "json", "--show-managed-fields")
    assert code == 0, err
    entries = json.loads(out)["metadata"].get("managedFields") or []
    return {f"{e['manager']}/{e['operation']}": e for e in entries}


def test_apply_of_a_deployment_owns_its_fields_and_conflicts_with_kubectl_label(
    mk: Minikubelet,
) -> None:
    """Every kind keeps managedFields as pods do: `apply --server-side` of a Deployment records
    the Apply manager over what it applied (apps/v1), `kubectl label` an Update manager, and a
    second apply that would change the label is a conflict until forced; an annotation the
    manager no longer applies is pruned."""
    text = deployment("ssa-deploy", 1, ", labels: {tier: a}, annotations: {note: one}")
    assert apply(mk, text) == ("deployment.apps/ssa-deploy serverside-applied\n", "", 0)
    entry = object_managers(mk, "deployment/ssa-deploy")["kubectl/Apply"]
    assert entry["apiVersion"] == "apps/v1"
    fields = entry["fieldsV1"]
    assert fields["f:metadata"] == {"f:annotations": {"f:note": {}}, "f:labels": {"f:tier": {}}}
    assert fields["f:spec"]["f:replicas"] == {}
    assert "f:status" not in fields
    assert kubectl(mk, "label", "deployment", "ssa-deploy", "tier=x", "--overwrite")[2] == 0
    assert set(object_managers(mk, "deployment/ssa-deploy")) == {
        "kubectl/Apply", "kubectl-label/Update"}  # fmt: skip
    labelled = deployment("ssa-deploy", 1, ", labels: {tier: z}")
    out, err, code = apply(mk, labelled)
    assert (out, code) == ("", 1)
    assert 'conflict with "kubectl-label" using apps/v1: .metadata.labels.tier' in err
    assert apply(mk, labelled, "--force-conflicts")[2] == 0
    got = json.loads(kubectl(mk, "get", "deployment", "ssa-deploy", "-o", "json")[0])
    assert got["metadata"]["labels"] == {"tier": "z"}
    assert "annotations" not in got["metadata"] or "note" not in got["metadata"]["annotations"]
    assert set(object_managers(mk, "deployment/ssa-deploy")) == {"kubectl/Apply"}


def test_create_and_update_of_a_configmap_record_their_managers(mk: Minikubelet) -> None:
    assert kubectl(mk, "create", "configmap", "ssa-cm", "--from-literal=a=1")[2] == 0
    assert set(object_managers(mk, "configmap/ssa-cm")) == {"kubectl-create/Update"}
    _, err, code = kubectl(mk, "patch", "configmap", "ssa-cm", "-p", '{"data":{"b":"2"}}')
    assert code == 0, err
    by = object_managers(mk, "configmap/ssa-cm")
    assert by["kubectl-patch/Update"]["fieldsV1"] == {"f:data": {"f:b": {}}}
    assert by["kubectl-create/Update"]["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}
