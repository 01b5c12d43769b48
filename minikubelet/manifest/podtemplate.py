"""A workload's pod template (`spec.template` of a Deployment, ReplicaSet, StatefulSet,
DaemonSet, Job, ReplicationController), admitted as the API server admits it: the Pod
defaults applied to it (pkg/apis/core/v1/defaults.go runs on a PodTemplateSpec as on a Pod,
so `kubectl get deploy -o yaml` shows them), and the Pod's validation run on it with every
error's path under the template (pkg/apis/core/validation ValidatePodTemplateSpec:
`spec.template.spec.containers[0].image: Required value`). Pure.
"""

from __future__ import annotations

import copy
from typing import Any

from minikubelet.manifest import defaults
from minikubelet.manifest.schema import decode_pod
from minikubelet.manifest.validation import validate_annotations, validate_labels, validate_spec

JSON = dict[str, Any]


def default_template(template: JSON) -> JSON:
    """The template with the Pod defaults filled in (a copy)."""
    out = copy.deepcopy(template) if isinstance(template, dict) else {}
    pod = defaults.apply({"spec": out.get("spec") or {}})
    out["spec"] = pod["spec"]
    out.setdefault("metadata", {})
    return out


def template_errors(
    template: Any, path: str = "spec.template", *, grpc_available: bool = True
) -> list[str]:
    """The field errors of a pod template, paths under `path`: its labels and annotations,
    and its spec as a Pod's (containers, probes, ports, env, restart policy, ...)."""
    if not isinstance(template, dict):
        return [f"{path}: Required value"]
    meta = template.get("metadata") or {}
    errors = validate_labels(meta.get("labels") or {}, f"{path}.metadata.labels")
    errors += [
        e.replace("metadata.annotations", f"{path}.metadata.annotations", 1)
        for e in validate_annotations(meta.get("annotations") or {})
    ]
    decoded = decode_pod({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "template"},
                          "spec": template.get("spec") or {}})  # fmt: skip
    if decoded.error:
        return [*errors, f"{path}.spec: Invalid value: {decoded.error}"]
    pod = defaults.apply(copy.deepcopy(decoded.value))
    spec_errors = validate_spec(pod.get("spec") or {}, lambda: grpc_available)
    return errors + [_under(e, path) for e in spec_errors]


def _under(error: str, path: str) -> str:
    return f"{path}.{error}" if error.startswith("spec") else error
