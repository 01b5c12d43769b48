"""What a manifest sets that has no local meaning, warned of once per field, never silently:
the pod fields a local process cannot honour (`IGNORED`, with the reason each one gives),
the volume sources that have no local meaning (an empty dir here), and a workload's pod
template's such fields, given once for the workload (`template_warnings`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.specbuild import LOCAL_SOURCES

_NOT_LOCAL = "has no local meaning in minikubelet and is ignored"
_CONTAINER_IGNORED = {
    "volumeDevices": f"{_NOT_LOCAL} (processes see the host's devices)",
    "securityContext": f"{_NOT_LOCAL} (processes run as the minikubelet user)",
    "imagePullPolicy": f"{_NOT_LOCAL} (minikubelet pulls no images)",
    "resizePolicy": _NOT_LOCAL,
    "ports[*].hostPort": f"{_NOT_LOCAL} (processes listen on the host directly)",
    "ports[*].hostIP": f"{_NOT_LOCAL} (processes listen on the host directly)",
}
_SPEC_IGNORED = {
    "nodeSelector": f"{_NOT_LOCAL} (there is one node)",
    "affinity": f"{_NOT_LOCAL} (there is one node)",
    "tolerations": f"{_NOT_LOCAL} (there is one node)",
    "topologySpreadConstraints": f"{_NOT_LOCAL} (there is one node)",
    "schedulerName": f"{_NOT_LOCAL} (nothing schedules pods)",
    "schedulingGates": f"{_NOT_LOCAL} (nothing schedules pods)",
    "nodeName": "is ignored: minikubelet sets it to its own node name",
    "securityContext": f"{_NOT_LOCAL} (processes run as the minikubelet user)",
    "imagePullSecrets": f"{_NOT_LOCAL} (minikubelet pulls no images)",
    "serviceAccountName": f"{_NOT_LOCAL} (there is no API identity to give a process)",
    "serviceAccount": f"{_NOT_LOCAL} (there is no API identity to give a process)",
    "automountServiceAccountToken": f"{_NOT_LOCAL} (there is no API identity to give)",
    "hostNetwork": f"{_NOT_LOCAL} (processes always share the host's network)",
    "hostPID": f"{_NOT_LOCAL} (processes always share the host's PID namespace)",
    "hostIPC": f"{_NOT_LOCAL} (processes always share the host's IPC namespace)",
    "hostUsers": f"{_NOT_LOCAL} (processes always share the host's user namespace)",
    "shareProcessNamespace": f"{_NOT_LOCAL} (processes always share the host's)",
    "dnsPolicy": f"{_NOT_LOCAL} (processes use the host's resolver)",
    "dnsConfig": f"{_NOT_LOCAL} (processes use the host's resolver)",
    "hostAliases": f"{_NOT_LOCAL} (processes use the host's /etc/hosts)",
    "hostname": f"{_NOT_LOCAL} (processes see the host's name)",
    "subdomain": f"{_NOT_LOCAL} (processes see the host's name)",
    "setHostnameAsFQDN": f"{_NOT_LOCAL} (processes see the host's name)",
    "runtimeClassName": f"{_NOT_LOCAL} (there is no container runtime)",
    "overhead": _NOT_LOCAL,
    "os": f"{_NOT_LOCAL} (processes run on this machine's OS)",
    "resourceClaims": _NOT_LOCAL,
    "resources": "is not enforced by minikubelet",
}
IGNORED: dict[str, str] = {f"spec.{key}": note for key, note in _SPEC_IGNORED.items()}
IGNORED |= {
    f"spec.{kind}[*].{key}": note
    for kind in ("initContainers", "containers")
    for key, note in _CONTAINER_IGNORED.items()
}
IGNORED["status"] = "is computed by minikubelet; the value given is ignored"


_NON_LOCAL_VOLUME = "has no local meaning in minikubelet: the volume is an empty directory"
_NON_LOCAL_PROJECTION = "has no local meaning in minikubelet: it projects no file"


def volume_warnings(spec: Mapping[str, Any]) -> list[str]:
    """One warning per volume source, projection or mount option with no local meaning."""
    warnings = []
    for i, volume in enumerate(_dicts(spec.get("volumes"))):
        at = f"spec.volumes[{i}]"
        for key in volume:
            if key != "name" and key not in LOCAL_SOURCES:
                warnings.append(f"{at}.{key}: {_NON_LOCAL_VOLUME}")
        if "ephemeral" in volume:
            warnings.append(f"{at}.ephemeral: is a directory that lives as long as the pod; "
                            "no PersistentVolumeClaim is made for it")  # fmt: skip
        medium = _dict(volume.get("emptyDir")).get("medium", "")
        if isinstance(medium, str) and medium.startswith("HugePages"):
            warnings.append(f"{at}.emptyDir.medium: {medium} has no local meaning in "
                            "minikubelet: the volume is a directory on disk")  # fmt: skip
        for j, source in enumerate(_dicts(_dict(volume.get("projected")).get("sources"))):
            for key in ("clusterTrustBundle", "podCertificate"):
                if key in source:
                    warnings.append(f"{at}.projected.sources[{j}].{key}: {_NON_LOCAL_PROJECTION}")
    for kind in ("initContainers", "containers"):
        for i, container in enumerate(_dicts(spec.get(kind))):
            for j, mount in enumerate(_dicts(container.get("volumeMounts"))):
                mode = mount.get("mountPropagation", "None")
                if mode != "None":
                    warnings.append(
                        f"spec.{kind}[{i}].volumeMounts[{j}].mountPropagation: {mode} has no "
                        "local meaning in minikubelet: mounts are not propagated (None)"
                    )
    return warnings


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _dicts(value: Any) -> list[Mapping[str, Any]]:
    """The mappings of a list (a patch or a replacement may hold anything)."""
    return [v if isinstance(v, Mapping) else {} for v in value] if isinstance(value, list) else []


def ignored_fields(doc: Mapping[str, Any]) -> list[str]:
    """The warnings `pod_from_document` gives for fields with no local meaning, for any pod
    document or part of one (a patch, a replacement); nothing else is checked."""
    present = decode_pod(doc).present
    warnings = [f"{path}: {note}" for path, note in IGNORED.items() if path in present]
    spec = doc.get("spec")
    return warnings + (volume_warnings(spec) if isinstance(spec, Mapping) else [])


# where a workload keeps its pod template
_TEMPLATES = (("spec", "template"), ("spec", "jobTemplate", "spec", "template"))
# fields of a template its own controller acts on (the DaemonSet controller places its pod)
_ACTED_ON = {"DaemonSet": ("spec.nodeSelector:", "spec.affinity:", "spec.tolerations:")}


def template_warnings(obj: Mapping[str, Any]) -> list[str]:
    """The warnings `pod_from_document` would give for the fields a workload's pod template
    sets that have no local meaning, under the template's path
    (`spec.template.spec.hostNetwork: ...`): given once, when the workload is created or
    loaded, as the pods its controller makes from it are not warned of again. Call it on the
    object as written, before defaults."""
    for path in _TEMPLATES:
        node: Any = obj
        for key in path:
            node = node.get(key) if isinstance(node, Mapping) else None
        spec = node.get("spec") if isinstance(node, Mapping) else None
        if isinstance(spec, Mapping):
            skip = _ACTED_ON.get(str(obj.get("kind", "")), ())
            found = ignored_fields({"apiVersion": "v1", "kind": "Pod", "spec": spec})
            return [f"{'.'.join(path)}.{w}" for w in found if not w.startswith(skip)]
    return []
