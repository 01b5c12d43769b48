"""Validation of a decoded, defaulted v1 Pod, as `ValidatePodCreate` does it, plus local rules.

Owns the API server's rules for the fields minikubelet acts on (`pkg/apis/core/validation/
validation.go`: metadata, volumes and their mounts, containers, ports, env, probes, handlers,
lifecycle, resources, restart policies) and the few rules a pod needs to run as local
processes (the gRPC extra for gRPC probes). Input is the camelCase dict that
`schema.decode_pod` cleaned and `defaults.apply` filled in, so types are already right. Output
is a list of field errors; the order follows upstream's.

This module holds the pod and container rules and calls the rest, each in its own module:
`volumevalidation` (volumes, mounts, projections, hostPath), `envvalidation` (env, envFrom,
ports), `handlervalidation` (probes, lifecycle, handlers), `podupdatevalidation`
(ValidatePodUpdate) and `validationbase` (what they share).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from minikubelet.core.quantity import canonical, parse_with_format
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import ownership
from minikubelet.manifest.envvalidation import (
    host_port_conflicts,
    validate_env,
    validate_env_from,
    validate_ports,
)
from minikubelet.manifest.handlervalidation import lifecycle_and_probes
from minikubelet.manifest.validationbase import JSON, Ctx, exec_string, exec_strings
from minikubelet.manifest.volumevalidation import validate_volumes, volume_mounts

_ANNOTATIONS_LIMIT = 256 * 1024


_INIT_ONLY_ALWAYS = "may not be set for init containers without restartPolicy=Always"
_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")


def validate_pod(pod: JSON, grpc_available: Callable[[], bool]) -> list[str]:
    meta, spec = pod.get("metadata", {}), pod.get("spec", {})
    errors = validate_metadata(meta)
    errors += validate_spec(spec, grpc_available)
    if spec.get("ephemeralContainers"):
        errors.append(fe.forbidden("spec.ephemeralContainers", "cannot be set on create"))
    return errors


def validate_metadata(meta: JSON) -> list[str]:
    name, errors = meta.get("name", ""), []
    if not name:
        errors.append(fe.required("metadata.name", "name or generateName is required"))
    errors += fe.invalid_each("metadata.name", name, fe.dns1123_subdomain(name) if name else [])
    namespace = meta.get("namespace", "")
    errors += fe.invalid_each("metadata.namespace", namespace, fe.dns1123_label(namespace))
    errors += validate_labels(meta.get("labels", {}), "metadata.labels")
    return (
        errors + validate_annotations(meta.get("annotations", {})) + ownership.metadata_errors(meta)
    )


def validate_labels(labels: Mapping[str, str], path: str) -> list[str]:
    errors = []
    for key, value in labels.items():
        errors += fe.invalid_each(path, key, fe.qualified_name(key))
        errors += fe.invalid_each(path, value, fe.label_value(value))
    return errors


def validate_annotations(annotations: Mapping[str, str]) -> list[str]:
    path, errors, size = "metadata.annotations", [], 0
    for key, value in annotations.items():
        errors += fe.invalid_each(path, key, fe.qualified_name(key.lower()))
        size += len(key.encode()) + len(value.encode())
    if size > _ANNOTATIONS_LIMIT:
        errors.append(fe.too_long(path, _ANNOTATIONS_LIMIT))
    return errors


def validate_spec(spec: JSON, grpc_available: Callable[[], bool]) -> list[str]:
    grace = spec.get("terminationGracePeriodSeconds", 30)
    containers, inits = spec.get("containers", []), spec.get("initContainers", [])
    names = frozenset(c.get("name", "") for c in containers + inits)
    errors, volumes = validate_volumes(spec.get("volumes", []), names)
    ctx = Ctx(grace, frozenset(volumes), names, grpc_available)
    errors += validate_containers(containers, ctx)
    errors += validate_init_containers(inits, containers, ctx)
    errors += _restart_policy(spec.get("restartPolicy", ""))
    errors += _dns_policy(spec.get("dnsPolicy", ""))
    errors += validate_labels(spec.get("nodeSelector", {}), "spec.nodeSelector")
    errors += _readiness_gates(spec.get("readinessGates", []))
    return errors + _pod_numbers(spec)


def validate_containers(containers: list[JSON], ctx: Ctx) -> list[str]:
    if not containers:
        return [fe.required("spec.containers")]
    errors, seen = [], set()
    for i, container in enumerate(containers):
        path = f"spec.containers[{i}]"
        errors += validate_container_common(container, path, ctx)
        if container.get("name", "") in seen:
            errors.append(fe.duplicate(f"{path}.name", container.get("name", "")))
        seen.add(container.get("name", ""))
        errors += lifecycle_and_probes(container, path, ctx)
        if "restartPolicy" in container:
            errors.append(
                fe.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers")
            )
    return errors + host_port_conflicts(containers, "spec.containers")


def validate_init_containers(inits: list[JSON], regular: list[JSON], ctx: Ctx) -> list[str]:
    errors, seen = [], {c.get("name", "") for c in regular}
    for i, container in enumerate(inits):
        path, name = f"spec.initContainers[{i}]", container.get("name", "")
        errors += validate_container_common(container, path, ctx)
        policy = container.get("restartPolicy")
        if policy is not None and policy != "Always":
            errors.append(fe.not_supported(f"{path}.restartPolicy", policy, ["Always"]))
        if name in seen:
            errors.append(fe.duplicate(f"{path}.name", name))
        elif name:
            seen.add(name)
        errors += host_port_conflicts([container], "spec.initContainers")
        if policy == "Always":
            errors += lifecycle_and_probes(container, path, ctx)
        else:
            errors += [
                fe.forbidden(f"{path}.{key}", _INIT_ONLY_ALWAYS)
                for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
                if key in container
            ]
    return errors


def validate_container_common(container: JSON, path: str, ctx: Ctx) -> list[str]:
    name, errors = container.get("name", ""), []
    if not name:
        errors.append(fe.required(f"{path}.name"))
    errors += fe.invalid_each(f"{path}.name", name, fe.dns1123_label(name) if name else [])
    image = container.get("image", "")
    if not image:
        errors.append(fe.required(f"{path}.image"))
    policy = container.get("terminationMessagePolicy", "")
    if policy not in ("File", "FallbackToLogsOnError"):
        choices = ["File", "FallbackToLogsOnError"]
        errors.append(fe.not_supported(f"{path}.terminationMessagePolicy", policy, choices))
    errors += validate_ports(container.get("ports", []), f"{path}.ports")
    errors += validate_env(container.get("env", []), f"{path}.env", ctx)
    errors += validate_env_from(container.get("envFrom", []), f"{path}.envFrom")
    errors += volume_mounts(container, f"{path}.volumeMounts", ctx)
    errors += _pull_policy(container.get("imagePullPolicy", ""), f"{path}.imagePullPolicy")
    errors += validate_resources(container.get("resources", {}), f"{path}.resources")
    if image != image.strip():
        errors.append(
            fe.invalid(f"{path}.image", image, "must not have leading or trailing whitespace")
        )
    for key in ("command", "args"):
        errors += exec_strings(container.get(key, []), f"{path}.{key}")
    errors += exec_string(container.get("workingDir", ""), f"{path}.workingDir")
    return errors


def _pull_policy(policy: str, path: str) -> list[str]:
    if not policy:
        return [fe.required(path)]
    choices = ["Always", "IfNotPresent", "Never"]
    return [] if policy in choices else [fe.not_supported(path, policy, choices)]


def validate_resources(resources: JSON, path: str) -> list[str]:
    limits, requests, errors = resources.get("limits", {}), resources.get("requests", {}), []
    for name, text in limits.items():
        errors += _resource_entry(name, text, f"{path}.limits[{name}]")
    for name, text in requests.items():
        errors += _resource_entry(name, text, f"{path}.requests[{name}]")
        errors += _request_within_limit(name, text, limits, path)
    return errors


def _resource_entry(name: str, text: str, path: str) -> list[str]:
    errors = fe.invalid_each(path, name, fe.qualified_name(name))
    if "/" not in name and name not in _STANDARD_RESOURCES and not name.startswith("hugepages-"):
        errors.append(fe.invalid(path, name, "must be a standard resource for containers"))
    value, _ = parse_with_format(text)
    if value < 0:
        errors.append(fe.invalid(path, canonical(text), "must be greater than or equal to 0"))
    elif _is_extended(name) and value != value.to_integral_value():
        errors.append(fe.invalid(path, canonical(text), "must be an integer"))
    return errors


def _is_extended(name: str) -> bool:
    prefix = name.partition("/")[0]
    return "/" in name and not (prefix == "kubernetes.io" or prefix.endswith(".kubernetes.io"))


def _request_within_limit(name: str, text: str, limits: Mapping[str, str], path: str) -> list[str]:
    request, requests_path = parse_with_format(text)[0], f"{path}.requests"
    if name not in limits:
        if _is_extended(name) or name.startswith("hugepages-"):
            return [
                fe.required(f"{path}.limits", "Limit must be set for non overcommitable resources")
            ]
        return []
    limit = parse_with_format(limits[name])[0]
    if (_is_extended(name) or name.startswith("hugepages-")) and request != limit:
        detail = f"must be equal to {name} limit of {canonical(limits[name])}"
        return [fe.invalid(requests_path, canonical(text), detail)]
    if request > limit:
        detail = f"must be less than or equal to {name} limit of {canonical(limits[name])}"
        return [fe.invalid(requests_path, canonical(text), detail)]
    return []


def _restart_policy(policy: str) -> list[str]:
    if not policy:
        return [fe.required("spec.restartPolicy")]
    choices = ["Always", "OnFailure", "Never"]
    return [] if policy in choices else [fe.not_supported("spec.restartPolicy", policy, choices)]


def _dns_policy(policy: str) -> list[str]:
    if not policy:
        return [fe.required("spec.dnsPolicy")]
    choices = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
    return [] if policy in choices else [fe.not_supported("spec.dnsPolicy", policy, choices)]


def _readiness_gates(gates: list[JSON]) -> list[str]:
    errors = []
    for i, gate in enumerate(gates):
        kind = gate.get("conditionType", "")
        errors += fe.invalid_each(
            f"spec.readinessGates[{i}].conditionType", kind, fe.qualified_name(kind)
        )
    return errors


def _pod_numbers(spec: JSON) -> list[str]:
    errors = []
    grace = spec.get("terminationGracePeriodSeconds", 30)
    if grace < 0:
        path = "spec.terminationGracePeriodSeconds"
        errors.append(fe.invalid(path, grace, "must be greater than or equal to 0"))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= 2**31 - 1:
        path = "spec.activeDeadlineSeconds"
        errors.append(fe.invalid(path, deadline, fe.range_error(1, 2**31 - 1)))
    return errors
