"""Owners and dependents end to end, with the real kubectl and a real daemon: `kubectl delete
--cascade=background|foreground|orphan` over hand-made owner -> dependent chains (ConfigMaps
owning ConfigMaps and pods through `ownerReferences`), finalizers that hold an object, and
the /ui page grouping pods under their owners in headless chromium."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet, serving
from test_e2e_kubectl import kubectl
from test_e2e_kubectl import kubectl_ok as ok
from test_e2e_timeline import chromium, dump_dom

JSON = dict[str, Any]
BASE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: bare}
    spec:
      containers: [{name: app, image: busybox, command: [sleep, "600"]}]
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    yield from serving(tmp_path_factory, "ownership", BASE)


def owner_ref(obj: JSON, *, block: bool = True) -> JSON:
    meta = obj["metadata"]
    return {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "name": meta["name"],
            "uid": meta["uid"], "controller": True, "blockOwnerDeletion": block}  # fmt: skip


def configmap(mk: Minikubelet, name: str, *owners: JSON, finalizers: list[str] | None = None
              ) -> JSON:  # fmt: skip
    meta: JSON = {"name": name, "ownerReferences": list(owners)} if owners else {"name": name}
    if finalizers:
        meta["finalizers"] = finalizers
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}
    return dict(json.loads(ok(mk, "create", "-o", "json", "-f", "-", stdin=json.dumps(doc))))


def pod(mk: Minikubelet, name: str, *owners: JSON, grace: int = 30) -> JSON:
    doc = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "ownerReferences": list(owners)},
           "spec": {"terminationGracePeriodSeconds": grace, "containers": [
               {"name": "app", "image": "busybox", "command": ["sleep", "600"]}]}}  # fmt: skip
    return dict(json.loads(ok(mk, "create", "-o", "json", "-f", "-", stdin=json.dumps(doc))))


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.text: list[tuple[str, str]] = []
        self._open: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, {k: v or "" for k, v in attrs}))
        self._open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._open:
            self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.text.append((self._open[-1], data.strip()))


@pytest.mark.skipif(chromium() is None, reason="no chromium: apt-get install -y chromium")
def test_ui_groups_pods_under_their_owner_chain(mk: Minikubelet, tmp_path: Path) -> None:
    browser = chromium()
    assert browser is not None
    top = configmap(mk, "ui-top")
    middle = configmap(mk, "ui-middle", owner_ref(top))
    for name in ("ui-a", "ui-b"):
        pod(mk, name, owner_ref(middle))
    try:
        mk.wait_for("the pods' timelines", lambda: {"default/ui-a", "default/ui-b"} <= set(
            mk.get_json("/debug/timeline")["pods"]))  # fmt: skip
        groups = mk.get_json("/debug/timeline")["groups"]
        chained = next(g for g in groups if g["pods"] == ["default/ui-a", "default/ui-b"])
        assert [(o["kind"], o["name"]) for o in chained["chain"]] == [
            ("ConfigMap", "ui-top"), ("ConfigMap", "ui-middle")]  # fmt: skip
        assert groups[-1]["chain"] == []  # the bare pods last
        assert "default/bare" in groups[-1]["pods"]
        dom = dump_dom(browser, mk.url + "/ui?once=1", tmp_path / "profile")
    finally:
        kubectl(mk, "delete", "pod", "ui-a", "ui-b", "--grace-period=0", "--force")
        kubectl(mk, "delete", "configmap", "ui-top", "ui-middle")
    parser = _Elements()
    parser.feed(dom)
    order: list[tuple[str, str]] = []  # (group key, pod), in page order
    group = None
    for tag, attrs in parser.found:
        if tag == "div" and "group" in attrs.get("class", "").split():
            group = attrs["data-group"]
        if tag == "section" and "data-pod" in attrs:
            assert group is not None
            order.append((group, attrs["data-pod"]))
    key = "ConfigMap/default/ui-top>ConfigMap/default/ui-middle"
    assert (key, "default/ui-a") in order
    assert (key, "default/ui-b") in order
    assert order[-1][0] == ""  # the bare pods' group comes last
    assert ("", "default/bare") in order
    titles = [text for tag, text in parser.text if tag == "h2"]
    assert "ConfigMap ui-top → ConfigMap ui-middle" in titles
    assert "Pods" in titles


STUBBORN = ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]


def stubborn_pod(mk: Minikubelet, name: str, *owners: JSON, grace: int = 2,
                 finalizers: list[str] | None = None) -> JSON:  # fmt: skip
    """A pod whose container ignores SIGTERM: it takes its whole grace period to go."""
    meta: JSON = {"name": name, "ownerReferences": list(owners)}
    if finalizers:
        meta["finalizers"] = finalizers
    doc = {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
           "spec": {"terminationGracePeriodSeconds": grace, "containers": [
               {"name": "app", "image": "busybox", "command": STUBBORN}]}}  # fmt: skip
    return dict(json.loads(ok(mk, "create", "-o", "json", "-f", "-", stdin=json.dumps(doc))))


def found(mk: Minikubelet, resource: str, name: str) -> JSON | None:
    code, body = mk.get(f"/api/v1/namespaces/default/{resource}/{name}")
    if code == 404:
        return None
    assert code == 200, body
    return dict(json.loads(body))


def gone(mk: Minikubelet, resource: str, *names: str) -> None:
    mk.wait_for(f"{resource} {names} gone", lambda: all(
        found(mk, resource, n) is None for n in names), timeout=60)  # fmt: skip


def test_cascade_background_deletes_the_whole_chain(mk: Minikubelet) -> None:
    top = configmap(mk, "bg-top")
    middle = configmap(mk, "bg-middle", owner_ref(top))
    pod(mk, "bg-pod", owner_ref(middle), grace=0)
    pod(mk, "bg-direct", owner_ref(top), grace=0)
    assert ok(mk, "delete", "configmap", "bg-top", "--cascade=background") == (
        'configmap "bg-top" deleted from default namespace\n')  # fmt: skip
    assert found(mk, "configmaps", "bg-top") is None  # at once
    gone(mk, "configmaps", "bg-middle")
    gone(mk, "pods", "bg-pod", "bg-direct")


def test_cascade_foreground_holds_the_owner_until_its_dependents_are_gone(
    mk: Minikubelet,
) -> None:
    top = configmap(mk, "fg-top")
    middle = configmap(mk, "fg-middle", owner_ref(top))
    stubborn_pod(mk, "fg-pod", owner_ref(middle), grace=3)
    mk.wait_for("the pod running", lambda: mk.pod("fg-pod")["status"]["phase"] == "Running")
    out = ok(mk, "delete", "configmap", "fg-top", "--cascade=foreground", "--wait=false")
    assert out == 'configmap "fg-top" deleted from default namespace\n'
    held = found(mk, "configmaps", "fg-top")
    assert held is not None
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert held["metadata"]["deletionTimestamp"]
    # the middle owner has a dependent of its own: it is deleted in the foreground too
    mk.wait_for("the middle owner waiting", lambda: (found(mk, "configmaps", "fg-middle") or {})
                .get("metadata", {}).get("finalizers") == ["foregroundDeletion"])  # fmt: skip
    mk.wait_for("the pod terminating", lambda: mk.pod("fg-pod")["metadata"].get(
        "deletionTimestamp"))  # fmt: skip
    assert found(mk, "configmaps", "fg-top") is not None  # still held by the terminating pod
    gone(mk, "pods", "fg-pod")
    gone(mk, "configmaps", "fg-middle", "fg-top")


def test_kubectl_delete_cascade_foreground_waits_for_the_owner_to_go(mk: Minikubelet) -> None:
    top = configmap(mk, "fgw-top")
    pod(mk, "fgw-pod", owner_ref(top), grace=0)
    out, err, code = kubectl(mk, "delete", "configmap", "fgw-top", "--cascade=foreground")
    assert (out, err, code) == ('configmap "fgw-top" deleted from default namespace\n', "", 0)
    assert found(mk, "configmaps", "fgw-top") is None
    assert found(mk, "pods", "fgw-pod") is None


def test_cascade_orphan_keeps_the_dependents_without_the_reference(mk: Minikubelet) -> None:
    top = configmap(mk, "or-top")
    other = configmap(mk, "or-other")
    child = configmap(mk, "or-child", owner_ref(top), {**owner_ref(other), "controller": False})
    pod(mk, "or-pod", owner_ref(top), grace=0)
    assert ok(mk, "delete", "configmap", "or-top", "--cascade=orphan") == (
        'configmap "or-top" deleted from default namespace\n')  # fmt: skip
    gone(mk, "configmaps", "or-top")
    kept = found(mk, "configmaps", "or-child")
    assert kept is not None
    assert kept["metadata"]["ownerReferences"] == [{**owner_ref(other), "controller": False}]
    assert kept["metadata"]["uid"] == child["metadata"]["uid"]
    orphan = mk.pod("or-pod")
    assert "ownerReferences" not in orphan["metadata"]
    assert "deletionTimestamp" not in orphan["metadata"]
    ok(mk, "delete", "configmap", "or-child", "or-other")
    ok(mk, "delete", "pod", "or-pod")


def test_a_finalizer_holds_an_object_until_it_is_taken_off(mk: Minikubelet) -> None:
    configmap(mk, "fin", finalizers=["example.com/hold"])
    out = ok(mk, "delete", "configmap", "fin", "--wait=false")
    assert out == 'configmap "fin" deleted from default namespace\n'
    held = found(mk, "configmaps", "fin")
    assert held is not None
    assert held["metadata"]["deletionTimestamp"]
    out, err, code = kubectl(mk, "patch", "configmap", "fin", "--type=merge", "-p",
                             '{"metadata":{"finalizers":["example.com/hold","x.io/y"]}}')  # fmt: skip
    assert code == 1
    assert "no new finalizers can be added if the object is being deleted" in err
    ok(mk, "patch", "configmap", "fin", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    assert found(mk, "configmaps", "fin") is None


def test_a_pods_finalizer_holds_it_after_it_stops(mk: Minikubelet) -> None:
    stubborn_pod(mk, "pfin", grace=1, finalizers=["example.com/hold"])
    mk.wait_for("running", lambda: mk.pod("pfin")["status"]["phase"] == "Running")
    ok(mk, "delete", "pod", "pfin", "--wait=false")
    mk.wait_for("stopped", lambda: mk.pod("pfin")["status"]["phase"] in ("Failed", "Succeeded"),
                timeout=60)  # fmt: skip
    held = mk.pod("pfin")
    assert held["metadata"]["deletionTimestamp"]
    assert held["metadata"]["finalizers"] == ["example.com/hold"]
    ok(mk, "patch", "pod", "pfin", "--type=merge", "-p", '{"metadata":{"finalizers":null}}')
    gone(mk, "pods", "pfin")


def test_a_dependent_whose_owner_never_existed_is_collected(mk: Minikubelet) -> None:
    ghost = {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost", "uid": "no-such-uid"}
    configmap(mk, "haunted", ghost)
    gone(mk, "configmaps", "haunted")


def test_delete_options_are_validated_as_the_api_server_does(mk: Minikubelet) -> None:
    configmap(mk, "opts")
    try:
        code, body = _delete(mk, "/api/v1/namespaces/default/configmaps/opts",
                             {"propagationPolicy": "Sideways"})  # fmt: skip
        assert code == 422
        assert json.loads(body)["message"] == (
            'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported value: '
            '"Sideways": supported values: "Foreground", "Background", "Orphan", "nil"')  # fmt: skip
        code, body = _delete(mk, "/api/v1/namespaces/default/configmaps/opts",
                             {"propagationPolicy": "Orphan", "orphanDependents": True})  # fmt: skip
        assert code == 422
        assert "orphanDependents and deletionPropagation cannot be both set" in body.decode()
        code, body = _delete(mk, "/api/v1/namespaces/default/configmaps/opts",
                             {"orphanDependents": False})  # fmt: skip
        assert code == 200  # nothing holds it: gone at once, a Status
        assert json.loads(body)["status"] == "Success"
    finally:
        kubectl(mk, "delete", "configmap", "opts", "--ignore-not-found")


def _delete(mk: Minikubelet, path: str, options: JSON) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(mk.url + path, method="DELETE", data=json.dumps(options).encode(),
                                 headers={"Content-Type": "application/json"})  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


@pytest.mark.parametrize("cascade", ["foreground", "orphan"])
def test_a_pod_deleted_with_a_cascade_goes_once_stopped(mk: Minikubelet, cascade: str) -> None:
    # a pod owns nothing: the collector takes its finalizer off at once
    name = f"cascade-{cascade}"
    stubborn_pod(mk, name, grace=1)
    mk.wait_for("running", lambda: mk.pod(name)["status"]["phase"] == "Running")
    out, err, code = kubectl(mk, "delete", "pod", name, f"--cascade={cascade}", timeout=60)
    assert (out, err, code) == (f'pod "{name}" deleted from default namespace\n', "", 0)
    assert found(mk, "pods", name) is None


def test_a_service_deleted_in_the_foreground_waits_for_its_endpoint_slices(
    mk: Minikubelet,
) -> None:
    ok(mk, "create", "service", "clusterip", "fg-svc", "--tcp=80:8080")
    mk.wait_for("its slice", lambda: mk.get_json(
        "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
        "?labelSelector=kubernetes.io/service-name=fg-svc")["items"])  # fmt: skip
    out, err, code = kubectl(mk, "delete", "service", "fg-svc", "--cascade=foreground", timeout=60)
    assert (out, err, code) == ('service "fg-svc" deleted from default namespace\n', "", 0)
    assert not mk.get_json("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
                           "?labelSelector=kubernetes.io/service-name=fg-svc")["items"]  # fmt: skip


def test_bad_owner_references_and_finalizers_are_refused(mk: Minikubelet) -> None:
    doc = {"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": "badref", "ownerReferences": [
               {"apiVersion": "v1", "kind": "ConfigMap", "name": "x"}]}}  # fmt: skip
    _, err, code = kubectl(mk, "create", "-f", "-", stdin=json.dumps(doc))
    assert code == 1
    assert err == (
        'The ConfigMap "badref" is invalid: metadata.ownerReferences.uid: Invalid value: "": '
        "uid must not be empty\n")  # fmt: skip
    _, err, code = kubectl(mk, "patch", "pod", "bare", "--type=merge", "-p",
                           '{"metadata":{"finalizers":["orphan","foregroundDeletion"]}}')  # fmt: skip
    assert code == 1
    assert "finalizer orphan and foregroundDeletion cannot be both set" in err
