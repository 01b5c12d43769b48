"""Owners and dependents end to end, with the real kubectl and a real daemon: `kubectl delete
--cascade=background|foreground|orphan` over hand-made owner -> dependent chains (ConfigMaps
owning ConfigMaps and pods through `ownerReferences`), finalizers that hold an object, and
the /ui page grouping pods under their owners in headless chromium."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from daemon_harness import Minikubelet
from test_e2e_kubectl import kubectl
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
    tmp = tmp_path_factory.mktemp("ownership")
    path = tmp / "base.yaml"
    path.write_text(textwrap.dedent(BASE))
    daemon = Minikubelet(path, state_dir=tmp / "state")
    try:
        daemon.wait_serving()
        yield daemon
    finally:
        daemon.close()


def ok(mk: Minikubelet, *args: str, stdin: str = "") -> str:
    out, err, code = kubectl(mk, *args, stdin=stdin)
    assert code == 0, err
    return out


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
