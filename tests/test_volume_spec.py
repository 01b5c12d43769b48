"""Volumes and volume mounts in a manifest: the typed spec, the API server's validation
messages (apis/core/validation ValidateVolumes, validateVolumeSource, ValidateVolumeMounts,
validateLocalDescendingPath, validateProjectionSources) and one warning per source with no
local meaning."""

from __future__ import annotations

from typing import Any

import pytest

from minikubelet.core import spec
from minikubelet.manifest.load import InvalidPod, pod_from_document


def _doc(volumes: list[dict[str, Any]], mounts: list[dict[str, Any]] | None = None,
         **container: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "volumes": volumes,
            "containers": [
                {"name": "app", "image": "busybox", "volumeMounts": mounts or [], **container}
            ],
        },
    }


def _errors(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(InvalidPod) as err:
        pod_from_document(doc, source="-", node_name="n")
    return err.value.errors


def test_typed_volumes_and_mounts() -> None:
    doc = _doc(
        [
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "10Mi"}},
            {"name": "config", "configMap": {"name": "app", "items": [{"key": "a", "path": "x/a",
                                                                       "mode": 0o600}]}},
            {"name": "creds", "secret": {"secretName": "db", "optional": True}},
            {"name": "host", "hostPath": {"path": "/tmp", "type": "Directory"}},
            {"name": "claim", "persistentVolumeClaim": {"claimName": "data"}},
            {"name": "nfs", "nfs": {"server": "h", "path": "/e"}},
            {"name": "token", "projected": {"sources": [
                {"serviceAccountToken": {"path": "token"}},
                {"downwardAPI": {"items": [{"path": "ns", "fieldRef": {
                    "fieldPath": "metadata.namespace"}}]}},
            ]}},
        ],
        [{"name": "config", "mountPath": "/etc/config", "readOnly": True},
         {"name": "scratch", "mountPath": "/cache", "subPathExpr": "$(POD)"}],
    )  # fmt: skip
    pod, warnings = pod_from_document(doc, source="-", node_name="n")
    vols = {v.name: v.source for v in pod.spec.volumes}
    scratch = vols["scratch"]
    assert isinstance(scratch, spec.EmptyDirSource)
    assert scratch.medium == "Memory"
    assert scratch.size_limit is not None
    assert scratch.size_limit.value == 10 * 1024 * 1024
    assert vols["config"] == spec.ObjectSource(
        kind="ConfigMap", name="app", items=(spec.KeyToPath(key="a", path="x/a", mode=0o600),),
        default_mode=0o644,
    )  # fmt: skip
    assert vols["creds"] == spec.ObjectSource(kind="Secret", name="db", optional=True)
    assert vols["host"] == spec.HostPathSource(path="/tmp", type="Directory")
    assert vols["claim"] == spec.ClaimSource(claim_name="data")
    assert vols["nfs"] == spec.NonLocalSource(field="nfs")
    token = vols["token"]
    assert isinstance(token, spec.ProjectedSource)
    assert token.sources[0] == spec.ServiceAccountTokenSource(path="token")
    assert pod.spec.containers[0].volume_mounts == (
        spec.VolumeMount(name="config", mount_path="/etc/config", read_only=True),
        spec.VolumeMount(name="scratch", mount_path="/cache", sub_path_expr="$(POD)"),
    )
    assert warnings == [
        "spec.volumes[5].nfs: has no local meaning in minikubelet: the volume is an empty directory"
    ]


def test_mount_errors_in_the_api_servers_words() -> None:
    doc = _doc(
        [{"name": "data", "emptyDir": {}}],
        [
            {"name": "x", "mountPath": "/a"},
            {"name": "data", "mountPath": "/a"},
            {"name": "data", "mountPath": "/b", "subPath": "../up"},
            {"name": "data", "mountPath": "/c", "subPath": "/abs"},
            {"name": "data", "mountPath": "/d", "subPath": "s", "subPathExpr": "e"},
            {"name": "data", "mountPath": "/e", "mountPropagation": "Bidirectional"},
        ],
    )
    assert _errors(doc) == [
        'spec.containers[0].volumeMounts[0].name: Not found: "x"',
        'spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/a": must be unique',
        # upstream names the list, not the entry, for subPath and subPathExpr
        "spec.containers[0].volumeMounts.subPath: Invalid value: \"../up\": must not contain '..'",
        'spec.containers[0].volumeMounts.subPath: Invalid value: "/abs": must be a relative path',
        'spec.containers[0].volumeMounts[4].subPathExpr: Invalid value: "e": subPathExpr and '
        "subPath are mutually exclusive",
        "spec.containers[0].volumeMounts.mountPropagation: Forbidden: Bidirectional mount "
        "propagation is available only to privileged containers",
    ]


def test_volume_errors_in_the_api_servers_words() -> None:
    doc = _doc([
        {"name": "two", "emptyDir": {}, "hostPath": {"path": "/tmp"}},
        {"name": "dup", "emptyDir": {}},
        {"name": "dup", "emptyDir": {}},
        {"name": "cm", "configMap": {"name": "", "defaultMode": 0o1777,
                                     "items": [{"key": "k", "path": "..x"}]}},
        {"name": "hp", "hostPath": {"path": "/a/../b", "type": "Dir"}},
        {"name": "Bad_Name", "emptyDir": {}},
    ])  # fmt: skip
    errors = _errors(doc)
    assert errors[:3] == [
        "spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type",
        'spec.volumes[2].name: Duplicate value: "dup"',
        "spec.volumes[3].configMap.name: Required value",
    ]
    assert errors[3] == (
        "spec.volumes[3].configMap.defaultMode: Invalid value: 1023: must be a number between 0 "
        "and 0777 (octal), both inclusive"
    )
    assert errors[4] == (
        "spec.volumes[3].configMap.items[0].path: Invalid value: \"..x\": must not start with '..'"
    )
    assert (
        errors[5]
        == "spec.volumes[4].hostPath.path: Invalid value: \"/a/../b\": must not contain '..'"
    )
    assert errors[6].startswith('spec.volumes[4].hostPath.type: Unsupported value: "Dir": '
                                'supported values: "", "BlockDevice"')  # fmt: skip
    assert errors[7].startswith('spec.volumes[5].name: Invalid value: "Bad_Name": a lowercase')


def test_projection_errors() -> None:
    doc = _doc([{"name": "p", "projected": {"sources": [
        {"configMap": {"name": "a", "items": [{"key": "k", "path": "same"}]}},
        {"secret": {"name": "b", "items": [{"key": "k", "path": "same"}]}},
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 60}},
        {"downwardAPI": {"items": [{"path": "x", "fieldRef": {"apiVersion": "v1",
                                                               "fieldPath": "spec.nodeName"}}]}},
    ]}}])  # fmt: skip
    assert _errors(doc) == [
        'spec.volumes[0].projected: Invalid value: "b": conflicting duplicate paths',
        "spec.volumes[0].projected.sources[2].serviceAccountToken.expirationSeconds: Invalid "
        "value: 60: may not specify a duration less than 10 minutes",
        "spec.volumes[0].projected.sources[3].downwardAPI.fieldRef.fieldPath: Unsupported value: "
        '"spec.nodeName": supported values: "metadata.annotations", "metadata.labels", '
        '"metadata.name", "metadata.namespace", "metadata.uid"',
    ]


def test_a_mount_of_an_invalid_volume_is_not_found() -> None:
    """ValidateVolumes keeps only the volumes without errors for the mounts to name."""
    doc = _doc([{"name": "h", "hostPath": {"path": ""}}], [{"name": "h", "mountPath": "/h"}])
    assert _errors(doc) == [
        "spec.volumes[0].hostPath.path: Required value",
        'spec.containers[0].volumeMounts[0].name: Not found: "h"',
    ]


def test_warnings_for_what_has_no_local_meaning() -> None:
    doc = _doc(
        [{"name": "c", "csi": {"driver": "x"}}, {"name": "e", "emptyDir": {"medium": "HugePages"}}],
        [{"name": "c", "mountPath": "/c", "mountPropagation": "HostToContainer"}],
    )
    _, warnings = pod_from_document(doc, source="-", node_name="n")
    assert warnings == [
        "spec.volumes[0].csi: has no local meaning in minikubelet: the volume is an empty "
        "directory",
        "spec.volumes[1].emptyDir.medium: HugePages has no local meaning in minikubelet: the "
        "volume is a directory on disk",
        "spec.containers[0].volumeMounts[0].mountPropagation: HostToContainer has no local "
        "meaning in minikubelet: mounts are not propagated (None)",
    ]
