"""A write to `pods/{name}/status` as the API server takes it: what the status strategy
keeps from the stored pod, what `ValidatePodStatusUpdate` refuses, and the conditions the
kubelet does not own, decoded for the status computation.

Pure: JSON dicts of the stored and the written pod in; the prepared pod, field errors in the
API server's words, or typed conditions out. `ValueError` for a status that does not decode
(a 400, as the API server's decoder answers it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from minikubelet.core.model import ConditionType, PodCondition
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.validation import validate_annotations, validate_labels

JSON = dict[str, Any]

# pkg/apis/core/validation validatePodConditions: types that need not be qualified names
_SYSTEM_CONDITIONS = frozenset({"PodScheduled", "Ready", "Initialized"})
_KUBELET_CONDITIONS = frozenset(ConditionType)  # kubetypes.PodConditionByKubelet
_IMMUTABLE_META = ("name", "namespace", "uid", "creationTimestamp")


def prepare(stored: Mapping[str, Any], written: Mapping[str, Any]) -> JSON:
    """The written pod as the status strategy passes it on: the spec, deletionTimestamp and
    ownerReferences stay the stored ones, and an empty qosClass is backfilled."""
    # apiserver: pkg/registry/core/pod/strategy.go podStatusStrategy.PrepareForUpdate
    pod = copy.deepcopy(dict(written))
    pod["spec"] = copy.deepcopy(stored.get("spec", {}))
    meta = dict(pod.get("metadata") or {})
    old_meta = stored.get("metadata", {})
    for key in ("deletionTimestamp", "deletionGracePeriodSeconds", "ownerReferences"):
        meta.pop(key, None)
        if key in old_meta:
            meta[key] = copy.deepcopy(old_meta[key])
    pod["metadata"] = meta
    status = pod.get("status")
    if not isinstance(status, dict):
        status = {}
    if not status.get("qosClass"):
        status["qosClass"] = stored.get("status", {}).get("qosClass", "")
    pod["status"] = status
    return pod


def validate(stored: Mapping[str, Any], pod: Mapping[str, Any]) -> list[str]:
    """The field errors `ValidatePodStatusUpdate` gives for a prepared write (pkg/apis/core/
    validation/validation.go): metadata that may not change, labels and annotations,
    condition types (non-system ones must be qualified names; upstream reports them under
    `metadata.conditions`), an immutable qosClass, and containers that may not leave the
    terminated state under the pod's restart policy."""
    meta, old_meta = pod.get("metadata", {}), stored.get("metadata", {})
    errors = [
        fe.invalid(f"metadata.{key}", meta.get(key), "field is immutable")
        for key in _IMMUTABLE_META
        if key in old_meta and meta.get(key, old_meta[key]) != old_meta[key]
    ]
    errors += validate_labels(meta.get("labels") or {}, "metadata.labels")
    errors += validate_annotations(meta.get("annotations") or {})
    status, old_status = pod.get("status", {}), stored.get("status", {})
    for i, item in enumerate(status.get("conditions") or []):
        kind = str(item.get("type", ""))
        if kind not in _SYSTEM_CONDITIONS:
            errors += fe.invalid_each(f"metadata.conditions[{i}].Type", kind,
                                      fe.qualified_name(kind))  # fmt: skip
    qos, old_qos = status.get("qosClass", ""), old_status.get("qosClass", "")
    if qos != old_qos:
        errors.append(fe.invalid("status.qosClass", qos, "field is immutable"))
    policy = stored.get("spec", {}).get("restartPolicy", "Always")
    for key in ("containerStatuses", "initContainerStatuses"):
        errors += _state_transitions(status.get(key), old_status.get(key), key, policy)
    return errors


def _state_transitions(new: Any, old: Any, key: str, policy: str) -> list[str]:
    # validation.go ValidateContainerStateTransition
    if policy == "Always" or not isinstance(new, list) or not isinstance(old, list):
        return []
    errors = []
    for i, before in enumerate(old):
        terminated = (before.get("state") or {}).get("terminated")
        if terminated is None:
            continue
        if terminated.get("exitCode", 0) != 0 and policy == "OnFailure":
            continue
        for after in new:
            if (
                isinstance(after, dict)
                and after.get("name") == before.get("name")
                and (after.get("state") or {}).get("terminated") is None
            ):
                path = f"status.{key}[{i}].state"
                errors.append(fe.forbidden(path, "may not be transitioned to non-terminated state"))
    return errors


def decode_status(status: Any) -> JSON:
    """The written status checked against the v1 PodStatus fields this module reads, as the
    API server's JSON decoder would refuse them; ValueError with its message."""
    if status is None:
        return {}
    if not isinstance(status, dict):
        raise ValueError(_unmarshal(status, "Pod.status", "v1.PodStatus"))
    for key in ("reason", "message", "qosClass", "phase"):
        if key in status and not isinstance(status[key], str | None):
            raise ValueError(_unmarshal(status[key], f"PodStatus.status.{key}", "string"))
    conditions = status.get("conditions")
    if conditions is not None and not isinstance(conditions, list):
        raise ValueError(_unmarshal(conditions, "PodStatus.status.conditions", "[]v1.PodCondition"))
    for item in conditions or []:
        if not isinstance(item, dict):
            raise ValueError(_unmarshal(item, "PodStatus.status.conditions", "v1.PodCondition"))
        for key in ("type", "status", "reason", "message", "lastTransitionTime", "lastProbeTime"):
            if key in item and not isinstance(item[key], str | None):
                raise ValueError(
                    _unmarshal(item[key], f"PodCondition.status.conditions.{key}", "string")
                )
        for key in ("lastTransitionTime", "lastProbeTime"):
            if item.get(key):
                _parse_time(item[key])
    return status


def external_conditions(status: Mapping[str, Any]) -> tuple[PodCondition, ...]:
    """The written conditions the kubelet does not own (kubetypes.PodConditionByKubelet),
    in their order: the kubelet keeps these when it writes the status."""
    result = []
    for item in status.get("conditions") or []:
        kind = str(item.get("type") or "")
        if kind in _KUBELET_CONDITIONS:
            continue
        since = item.get("lastTransitionTime")
        result.append(
            PodCondition(
                type=kind,
                status=str(item.get("status") or ""),
                reason=str(item.get("reason") or ""),
                message=str(item.get("message") or ""),
                last_transition_time=_parse_time(since) if since else None,
            )
        )
    return tuple(result)


def _parse_time(text: str) -> float:
    try:
        parsed = datetime.strptime(text.replace("Z", "+00:00"), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(
                f'parsing time "{text}" as "2006-01-02T15:04:05Z07:00": cannot parse '
                f'"{text}" as "2006"'
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _unmarshal(value: Any, where: str, go_type: str) -> str:
    return (
        f"json: cannot unmarshal {_go_type(value)} into Go struct field {where} of type {go_type}"
    )


def _go_type(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"
