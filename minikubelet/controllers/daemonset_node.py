"""Whether a DaemonSet's pod belongs on the node, and the pod it makes there, as
pkg/controller/daemon (daemon_controller.go NodeShouldRunDaemonPod and predicates,
util/daemonset_util.go) decides them. Pure.

- NodeShouldRunDaemonPod: `shouldRun` when the pod fits the node: its nodeName (if any) is
  the node's, its nodeSelector and required node affinity match the node's labels (and
  `metadata.name` match fields), and it tolerates the node's NoSchedule and NoExecute taints;
  `shouldContinueRunning` when it fits apart from NoSchedule taints.
- The pod: util.CreatePodTemplate (the template with the `pod-template-generation` and
  `controller-revision-hash` labels), ReplaceDaemonSetPodNodeNameNodeAffinity (a required
  affinity to the node by name), AddOrUpdateDaemonPodTolerations (the node condition taints
  tolerated), `generateName: <ds>-` and the DaemonSet as controller owner.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from minikubelet.controllers.history import REVISION_HASH_LABEL
from minikubelet.core.workloads import owner_reference

JSON = dict[str, Any]
TEMPLATE_GENERATION_LABEL = "pod-template-generation"  # extensions.DaemonSetTemplateGenerationKey
TEMPLATE_GENERATION_ANNOTATION = "deprecated.daemonset.template.generation"
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
_NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


def _requirement_matches(req: Mapping[str, Any], values: Mapping[str, str]) -> bool:
    """A NodeSelectorRequirement (In, NotIn, Exists, DoesNotExist, Gt, Lt)."""
    key, op, wanted = req.get("key", ""), req.get("operator", ""), req.get("values") or []
    have = values.get(key)
    if op == "In":
        return have is not None and have in wanted
    if op == "NotIn":
        return have is None or have not in wanted
    if op == "Exists":
        return have is not None
    if op == "DoesNotExist":
        return have is None
    if op in ("Gt", "Lt") and have is not None and len(wanted) == 1:
        try:
            mine, theirs = int(have), int(wanted[0])
        except ValueError:
            return False
        return mine > theirs if op == "Gt" else mine < theirs
    return False


def _term_matches(term: Mapping[str, Any], node: JSON) -> bool:
    """A NodeSelectorTerm: all its expressions and fields hold; an empty term matches none."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    labels = node["metadata"].get("labels") or {}
    node_fields = {"metadata.name": node["metadata"]["name"]}
    return all(_requirement_matches(r, labels) for r in expressions) and all(
        _requirement_matches(r, node_fields) for r in fields
    )


def fits_node_affinity(spec: Mapping[str, Any], node: JSON) -> bool:
    """The nodeSelector and the required node affinity (any of its terms)."""
    labels = node["metadata"].get("labels") or {}
    if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
        return False
    affinity = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    )
    if affinity is None:
        return True
    return any(_term_matches(t, node) for t in affinity.get("nodeSelectorTerms") or [])


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """v1helper ToleratesTaint."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    key = toleration.get("key") or ""
    if operator == "Exists":
        return not key or key == taint.get("key")
    return key == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or "")


def _untolerated(spec: Mapping[str, Any], node: JSON, effects: tuple[str, ...]) -> bool:
    tolerations = spec.get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return True
    return False


def should_run(ds: JSON, node: JSON) -> tuple[bool, bool]:
    """NodeShouldRunDaemonPod: (shouldRun, shouldContinueRunning), for NewPod (the template's
    spec with the daemon tolerations)."""
    spec = with_daemon_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    name = spec.get("nodeName")
    fits = (not name or name == node["metadata"]["name"]) and fits_node_affinity(spec, node)
    if not fits:
        return False, False
    return (
        not _untolerated(spec, node, ("NoSchedule", "NoExecute")),
        not _untolerated(spec, node, ("NoExecute",)),
    )


def template_generation(ds: JSON) -> str | None:
    """util.GetTemplateGeneration (kept by the API server in this annotation in apps/v1)."""
    return (ds["metadata"].get("annotations") or {}).get(TEMPLATE_GENERATION_ANNOTATION)


def with_daemon_tolerations(spec: JSON) -> JSON:
    """AddOrUpdateDaemonPodTolerations (on a copy)."""
    spec = copy.deepcopy(spec)
    tolerations = spec.setdefault("tolerations", [])
    wanted = list(_DAEMON_TOLERATIONS) + ([_NETWORK_UNAVAILABLE] if spec.get("hostNetwork") else [])
    for key, effect in wanted:
        toleration = {"key": key, "operator": "Exists", "effect": effect}
        if toleration not in tolerations:
            tolerations.append(toleration)
    return spec


def daemon_pod_spec(ds: JSON, node: JSON) -> JSON:
    """The template's pod spec with the node affinity and the daemon tolerations."""
    spec = with_daemon_tolerations(((ds.get("spec") or {}).get("template") or {}).get("spec") or {})
    term = {"matchFields": [{"key": "metadata.name", "operator": "In",
                             "values": [node["metadata"]["name"]]}]}  # fmt: skip
    affinity = spec.setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    required["nodeSelectorTerms"] = [term]
    return spec


def daemon_pod(ds: JSON, node: JSON, hash_: str) -> JSON:
    """The pod the DaemonSet makes on the node."""
    template_meta = ((ds.get("spec") or {}).get("template") or {}).get("metadata") or {}
    labels = dict(template_meta.get("labels") or {})
    generation = template_generation(ds)
    if generation is not None:
        labels[TEMPLATE_GENERATION_LABEL] = generation
    labels[REVISION_HASH_LABEL] = hash_
    meta: JSON = {
        "generateName": f"{ds['metadata']['name']}-",
        "namespace": ds["metadata"].get("namespace", "default"),
        "labels": labels,
        "ownerReferences": [owner_reference(ds)],
    }
    if template_meta.get("annotations"):
        meta["annotations"] = dict(template_meta["annotations"])
    if template_meta.get("finalizers"):
        meta["finalizers"] = list(template_meta["finalizers"])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": daemon_pod_spec(ds, node)}


def pod_updated(pod: JSON, hash_: str, generation: str | None) -> bool:
    """util.IsPodUpdated: the pod's revision hash, or its template generation, is the set's."""
    labels = pod["metadata"].get("labels") or {}
    by_generation = generation is not None and labels.get(TEMPLATE_GENERATION_LABEL) == generation
    return (bool(hash_) and labels.get(REVISION_HASH_LABEL) == hash_) or by_generation


def scaled(value: Any, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent."""
    if value is None:
        return 0
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return int(-(-exact // 1)) if round_up else int(exact // 1)
    return int(value)
