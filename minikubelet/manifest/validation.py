"""Validation of a decoded, defaulted v1 Pod, as `ValidatePodCreate` does it, plus local rules.

Owns the API server's rules for the fields minikubelet acts on (`pkg/apis/core/validation/
validation.go`: metadata, volumes and their mounts, containers, ports, env, probes, handlers,
lifecycle, resources, restart policies) and the few rules a pod needs to run as local
processes (the gRPC extra for gRPC probes). Input is the camelCase dict that
`schema.decode_pod` cleaned and `defaults.apply` filled in, so types are already right. Output
is a list of field errors; the order follows upstream's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minikubelet.core.quantity import canonical, parse_with_format
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest import ownership

JSON = Mapping[str, Any]
GRPC_EXTRA = "pip install 'minikubelet[grpc]'"
_ANNOTATIONS_LIMIT = 256 * 1024


def _words(text: str) -> list[str]:
    return text.split()


_INIT_ONLY_ALWAYS = "may not be set for init containers without restartPolicy=Always"
_ENV_FIELD_PATHS = _words(
    "metadata.name metadata.namespace metadata.uid spec.nodeName spec.serviceAccountName "
    "status.hostIP status.hostIPs status.podIP status.podIPs"
)
_DOWNWARD_LABELS = _words(
    "metadata.annotations metadata.labels metadata.name metadata.namespace metadata.uid "
    "spec.nodeName spec.restartPolicy spec.serviceAccountName spec.schedulerName status.phase "
    "status.hostIP status.hostIPs status.podIP status.podIPs"
)
_RESOURCE_FIELDS = _words(
    "limits.cpu limits.ephemeral-storage limits.memory requests.cpu "
    "requests.ephemeral-storage requests.memory"
)
_BYTE_DIVISORS = _words("1 1k 1M 1G 1T 1P 1E 1Ki 1Mi 1Gi 1Ti 1Pi 1Ei")
_DIVISORS = {
    "cpu": (["1m", "1"], "only divisor's values 1m and 1 are supported with the cpu resource"),
    "memory": (_BYTE_DIVISORS, "memory resource"),
    "ephemeral-storage": (_BYTE_DIVISORS, "local ephemeral storage resource"),
}
_STANDARD_RESOURCES = ("cpu", "memory", "ephemeral-storage")
SIGNALS = sorted(
    _words(
        "SIGABRT SIGALRM SIGBUS SIGCHLD SIGCLD SIGCONT SIGFPE SIGHUP SIGILL SIGINT SIGIO SIGIOT "
        "SIGKILL SIGPIPE SIGPOLL SIGPROF SIGPWR SIGQUIT SIGSEGV SIGSTKFLT SIGSTOP SIGSYS SIGTERM "
        "SIGTRAP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGUSR1 SIGUSR2 SIGVTALRM SIGWINCH SIGXCPU "
        "SIGXFSZ SIGRTMIN SIGRTMAX"
    )
    + [f"SIGRTMIN+{n}" for n in range(1, 16)]
    + [f"SIGRTMAX-{n}" for n in range(1, 15)]
)


@dataclass(frozen=True, slots=True)
class _Ctx:
    """What a container's validation needs from the rest of the pod."""

    grace: int
    volumes: frozenset[str]
    containers: frozenset[str]
    grpc_available: Callable[[], bool]


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
    ctx = _Ctx(grace, frozenset(volumes), names, grpc_available)
    errors += validate_containers(containers, ctx)
    errors += validate_init_containers(inits, containers, ctx)
    errors += _restart_policy(spec.get("restartPolicy", ""))
    errors += _dns_policy(spec.get("dnsPolicy", ""))
    errors += validate_labels(spec.get("nodeSelector", {}), "spec.nodeSelector")
    errors += _readiness_gates(spec.get("readinessGates", []))
    return errors + _pod_numbers(spec)


def validate_volumes(volumes: list[JSON], containers: frozenset[str]) -> tuple[list[str], set[str]]:
    """apis/core/validation ValidateVolumes: (errors, the names of the valid volumes, which
    are the ones a mount may name)."""
    errors, seen, valid = [], set(), set()
    for i, volume in enumerate(volumes):
        at, name = f"spec.volumes[{i}]", volume.get("name", "")
        path = f"{at}.name"
        found = validate_volume_source(volume, at, containers)
        if not name:
            found.append(fe.required(path))
        found += fe.invalid_each(path, name, fe.dns1123_label(name) if name else [])
        if name in seen:
            found.append(fe.duplicate(path, name))
        if not found:
            valid.add(name)
            seen.add(name)
        errors += found
    return errors, valid


# validateVolumeSource's order of sources, with the name each error's path gives it
# (upstream's own spellings: `cephFS`, and `downwarAPI`, a typo it has kept)
_SOURCE_ORDER = (
    ("hostPath", "hostPath"), ("gitRepo", "gitRepo"), ("gcePersistentDisk", "gcePersistentDisk"),
    ("awsElasticBlockStore", "awsElasticBlockStore"), ("secret", "secret"), ("nfs", "nfs"),
    ("iscsi", "iscsi"), ("glusterfs", "glusterfs"), ("flocker", "flocker"),
    ("persistentVolumeClaim", "persistentVolumeClaim"), ("rbd", "rbd"), ("cinder", "cinder"),
    ("cephfs", "cephFS"), ("quobyte", "quobyte"), ("downwardAPI", "downwarAPI"), ("fc", "fc"),
    ("flexVolume", "flexVolume"), ("configMap", "configMap"), ("azureFile", "azureFile"),
    ("vsphereVolume", "vsphereVolume"), ("photonPersistentDisk", "photonPersistentDisk"),
    ("portworxVolume", "portworxVolume"), ("azureDisk", "azureDisk"), ("storageos", "storageos"),
    ("projected", "projected"), ("scaleIO", "scaleIO"), ("csi", "csi"),
    ("ephemeral", "ephemeral"), ("image", "image"),
)  # fmt: skip
_FILE_MODE = "must be a number between 0 and 0777 (octal), both inclusive"
_HOST_PATH_TYPES = sorted(
    ["", "DirectoryOrCreate", "Directory", "FileOrCreate", "File", "Socket", "CharDevice",
     "BlockDevice"]
)  # fmt: skip
_VOLUME_FIELD_PATHS = _words(
    "metadata.annotations metadata.labels metadata.name metadata.namespace metadata.uid"
)


def validate_volume_source(volume: JSON, at: str, containers: frozenset[str]) -> list[str]:
    """validateVolumeSource: exactly one source (emptyDir first, then upstream's order; a
    second is `may not specify more than 1 volume type`), each validated."""
    errors, count = [], 0
    if "emptyDir" in volume:
        count += 1
        limit = (volume["emptyDir"] or {}).get("sizeLimit")
        if limit is not None and parse_with_format(str(limit))[0] < 0:
            detail = "SizeLimit field must be a valid resource quantity"
            errors.append(fe.forbidden(f"{at}.emptyDir.sizeLimit", detail))
    for key, name in _SOURCE_ORDER:
        if key not in volume:
            continue
        if count > 0:
            errors.append(fe.forbidden(f"{at}.{name}", "may not specify more than 1 volume type"))
            continue
        count += 1
        errors += _one_source(key, volume[key] or {}, f"{at}.{key}", containers)
    if count == 0:
        errors.append(fe.required(at, "must specify a volume type"))
    return errors


def _one_source(key: str, source: JSON, at: str, containers: frozenset[str]) -> list[str]:
    if key == "hostPath":
        return _host_path(source, at)
    if key in ("secret", "configMap"):
        name_key = "secretName" if key == "secret" else "name"
        errors = [] if source.get(name_key) else [fe.required(f"{at}.{name_key}")]
        errors += _mode(source.get("defaultMode"), f"{at}.defaultMode")
        for i, item in enumerate(source.get("items") or []):
            errors += _key_to_path(item, f"{at}.items[{i}]")
        return errors
    if key == "downwardAPI":
        errors = _mode(source.get("defaultMode"), f"{at}.defaultMode")
        for item in source.get("items") or []:
            errors += _downward_file(item, at, containers)
        return errors
    if key == "projected":
        errors = _mode(source.get("defaultMode"), f"{at}.defaultMode")
        return errors + _projection_sources(source.get("sources") or [], at, containers)
    if key == "persistentVolumeClaim" and not source.get("claimName"):
        return [fe.required(f"{at}.claimName")]
    return []


def _host_path(source: JSON, at: str) -> list[str]:
    """validateHostPathVolumeSource."""
    path = source.get("path", "")
    if not path:
        return [fe.required(f"{at}.path")]
    errors = _no_backsteps(path, f"{at}.path")
    kind = source.get("type")
    if kind is not None and kind not in _HOST_PATH_TYPES:
        errors.append(fe.not_supported(f"{at}.type", kind, _HOST_PATH_TYPES))
    return errors


def _mode(mode: int | None, path: str) -> list[str]:
    return (
        [fe.invalid(path, mode, _FILE_MODE)] if mode is not None and not 0 <= mode <= 0o777 else []
    )


def _key_to_path(item: JSON, at: str) -> list[str]:
    """validateKeyToPath."""
    errors = [] if item.get("key") else [fe.required(f"{at}.key")]
    if not item.get("path"):
        errors.append(fe.required(f"{at}.path"))
    errors += local_non_reserved_path(item.get("path", ""), f"{at}.path")
    return errors + _mode(item.get("mode"), f"{at}.mode")


def _downward_file(item: JSON, at: str, containers: frozenset[str]) -> list[str]:
    """validateDownwardAPIVolumeFile (its errors' paths are the source's, not the item's)."""
    path = item.get("path", "")
    errors = [] if path else [fe.required(f"{at}.path")]
    errors += local_non_reserved_path(path, f"{at}.path")
    if "fieldRef" in item:
        errors += _field_ref(item["fieldRef"], f"{at}.fieldRef", _VOLUME_FIELD_PATHS)
        if "resourceFieldRef" in item:
            errors.append(fe.invalid(at, "resource", "fieldRef and resourceFieldRef can not be "
                                     "specified simultaneously"))  # fmt: skip
    elif "resourceFieldRef" in item:
        ref, ref_at = item["resourceFieldRef"], f"{at}.resourceFieldRef"
        if not ref.get("containerName"):
            errors.append(fe.required(f"{ref_at}.containerName"))
        errors += _resource_field_ref(ref, ref_at, _Ctx(0, frozenset(), containers, lambda: True))
    else:
        errors.append(fe.required(at, "one of fieldRef and resourceFieldRef is required"))
    return errors + _mode(item.get("mode"), f"{at}.mode")


def _projection_sources(sources: list[JSON], at: str, containers: frozenset[str]) -> list[str]:
    """validateProjectionSources."""
    errors: list[str] = []
    paths: set[str] = set()

    def claim(path: str, shown: str) -> None:
        if path in paths:
            errors.append(fe.invalid(at, shown, "conflicting duplicate paths"))
        paths.add(path)

    for i, source in enumerate(sources):
        count, src = 0, f"{at}.sources[{i}]"
        for key in ("secret", "configMap"):
            if key not in source:
                continue
            count += 1
            inner = source[key] or {}
            if not inner.get("name"):
                errors.append(fe.required(f"{src}.{key}.name"))
            for j, item in enumerate(inner.get("items") or []):
                errors += _key_to_path(item, f"{src}.{key}.items[{j}]")
                if item.get("path"):
                    claim(item["path"], inner.get("name", ""))
        if "downwardAPI" in source:
            count += 1
            for item in (source["downwardAPI"] or {}).get("items") or []:
                errors += _downward_file(item, f"{src}.downwardAPI", containers)
                if item.get("path"):
                    claim(item["path"], item["path"])
        if "serviceAccountToken" in source:
            count += 1
            errors += _token_projection(source["serviceAccountToken"] or {}, at, src)
        count += sum(key in source for key in ("clusterTrustBundle", "podCertificate"))
        if count > 1:
            errors.append(fe.forbidden(src, "may not specify more than 1 volume type"))
    return errors


def _token_projection(token: JSON, at: str, src: str) -> list[str]:
    errors, seconds = [], token.get("expirationSeconds", 3600)
    if seconds < 600:
        errors.append(fe.invalid(f"{src}.serviceAccountToken.expirationSeconds", seconds,
                                 "may not specify a duration less than 10 minutes"))  # fmt: skip
    if seconds > 1 << 32:
        detail = "may not specify a duration larger than 2^32 seconds"
        errors.append(fe.invalid(f"{src}.serviceAccountToken.expirationSeconds", seconds, detail))
    if not token.get("path"):
        errors.append(fe.required(f"{at}.path"))
    else:
        errors += local_non_reserved_path(token["path"], f"{at}.path")
    return errors


def local_descending_path(target: str, path: str) -> list[str]:
    """validateLocalDescendingPath: relative, and no `..` element."""
    errors = [fe.invalid(path, target, "must be a relative path")] if target.startswith("/") else []
    return errors + _no_backsteps(target, path)


def _no_backsteps(target: str, path: str) -> list[str]:
    """validatePathNoBacksteps: one error however many `..` elements."""
    if ".." in target.replace("\\", "/").split("/"):
        return [fe.invalid(path, target, "must not contain '..'")]
    return []


def local_non_reserved_path(target: str, path: str) -> list[str]:
    """ValidateLocalNonReservedPath: also no name starting `..` (the atomic writer's)."""
    errors = local_descending_path(target, path)
    if target.startswith("..") and not target.startswith("../"):
        errors.append(fe.invalid(path, target, "must not start with '..'"))
    return errors


def validate_containers(containers: list[JSON], ctx: _Ctx) -> list[str]:
    if not containers:
        return [fe.required("spec.containers")]
    errors, seen = [], set()
    for i, container in enumerate(containers):
        path = f"spec.containers[{i}]"
        errors += validate_container_common(container, path, ctx)
        if container.get("name", "") in seen:
            errors.append(fe.duplicate(f"{path}.name", container.get("name", "")))
        seen.add(container.get("name", ""))
        errors += _lifecycle_and_probes(container, path, ctx)
        if "restartPolicy" in container:
            errors.append(
                fe.forbidden(f"{path}.restartPolicy", "may not be set for non-init containers")
            )
    return errors + _host_port_conflicts(containers, "spec.containers")


def validate_init_containers(inits: list[JSON], regular: list[JSON], ctx: _Ctx) -> list[str]:
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
        errors += _host_port_conflicts([container], "spec.initContainers")
        if policy == "Always":
            errors += _lifecycle_and_probes(container, path, ctx)
        else:
            errors += [
                fe.forbidden(f"{path}.{key}", _INIT_ONLY_ALWAYS)
                for key in ("lifecycle", "livenessProbe", "readinessProbe", "startupProbe")
                if key in container
            ]
    return errors


def validate_container_common(container: JSON, path: str, ctx: _Ctx) -> list[str]:
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
    errors += _volume_mounts(container, f"{path}.volumeMounts", ctx)
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


def exec_string(value: str, path: str) -> list[str]:
    """What `execve` cannot take: a NUL byte ends a C string, and text that is not UTF-8 (a
    lone surrogate, from a JSON `\\ud800` or a YAML `"\\ud800"`) has no bytes to pass. The
    API server stores both (Go's decoder turns bad UTF-8 into U+FFFD), and the node fails
    later: the runtime's `invalid argument`, or CRI's `string field contains invalid UTF-8`
    as CreateContainerError (kubernetes issue 139132). Refusing them here names the field."""
    if "\0" in value:
        return [fe.invalid(path, value, "must not contain a NUL byte")]
    try:
        value.encode()
    except UnicodeEncodeError:
        return [fe.invalid(path, value, "must be valid UTF-8 text")]
    return []


def exec_strings(values: list[str], path: str) -> list[str]:
    errors = []
    for i, value in enumerate(values):
        errors += exec_string(value, f"{path}[{i}]")
    return errors


def validate_ports(ports: list[JSON], path: str) -> list[str]:
    errors, names = [], set()
    for i, port in enumerate(ports):
        at, name = f"{path}[{i}]", port.get("name", "")
        if name:
            messages = fe.port_name(name)
            errors += fe.invalid_each(f"{at}.name", name, messages)
            if not messages and name in names:
                errors.append(fe.duplicate(f"{at}.name", name))
            names.add(name)
        number = port.get("containerPort", 0)
        if number == 0:
            errors.append(fe.required(f"{at}.containerPort"))
        errors += fe.invalid_each(
            f"{at}.containerPort", number, fe.port_number(number) if number else []
        )
        host = port.get("hostPort", 0)
        errors += fe.invalid_each(f"{at}.hostPort", host, fe.port_number(host) if host else [])
        errors += _protocol(port.get("protocol", ""), f"{at}.protocol")
    return errors


def _protocol(protocol: str, path: str) -> list[str]:
    if not protocol:
        return [fe.required(path)]
    if protocol not in ("SCTP", "TCP", "UDP"):
        return [fe.not_supported(path, protocol, ["SCTP", "TCP", "UDP"])]
    return []


def _host_port_conflicts(containers: list[JSON], path: str) -> list[str]:
    errors, seen = [], set()
    for ci, container in enumerate(containers):
        for pi, port in enumerate(container.get("ports", [])):
            if not port.get("hostPort"):
                continue
            key = f"{port.get('protocol', '')}/{port.get('hostIP', '')}/{port['hostPort']}"
            if key in seen:
                errors.append(fe.duplicate(f"{path}[{ci}].ports[{pi}].hostPort", key))
            seen.add(key)
    return errors


def validate_env(env: list[JSON], path: str, ctx: _Ctx) -> list[str]:
    errors = []
    for i, var in enumerate(env):
        at, name = f"{path}[{i}]", var.get("name", "")
        if not name:
            errors.append(fe.required(f"{at}.name"))
        errors += fe.invalid_each(f"{at}.name", name, fe.env_var_name(name) if name else [])
        if "valueFrom" in var:
            errors += _value_from(var["valueFrom"], var.get("value", ""), f"{at}.valueFrom", ctx)
        errors += exec_string(var.get("value", ""), f"{at}.value")
    return errors


def _value_from(source: JSON, value: str, path: str, ctx: _Ctx) -> list[str]:
    errors = []
    if "fieldRef" in source:
        errors += _field_ref(source["fieldRef"], f"{path}.fieldRef")
    if "resourceFieldRef" in source:
        errors += _resource_field_ref(source["resourceFieldRef"], f"{path}.resourceFieldRef", ctx)
    for key in ("configMapKeyRef", "secretKeyRef"):
        if key in source:
            errors += _key_selector(source[key], f"{path}.{key}")
    count = sum(
        key in source for key in ("fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef")
    )
    if count == 0:
        detail = (
            "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or "
            "`secretKeyRef`"
        )
        errors.append(fe.invalid(path, "", detail))
    elif value:
        errors.append(fe.invalid(path, "", "may not be specified when `value` is not empty"))
    elif count > 1:
        errors.append(fe.invalid(path, "", "may not have more than one field specified at a time"))
    return errors


def _field_ref(ref: JSON, path: str, allowed: list[str] = _ENV_FIELD_PATHS) -> list[str]:
    version, field_path = ref.get("apiVersion", ""), ref.get("fieldPath", "")
    if not version:
        return [fe.required(f"{path}.apiVersion")]
    if not field_path:
        return [fe.required(f"{path}.fieldPath")]
    problem = _convert_field_label(version, field_path)
    if problem:
        return [
            fe.invalid(f"{path}.fieldPath", field_path, f"error converting fieldPath: {problem}")
        ]
    subscripted = split_subscript(field_path)
    if subscripted is not None:
        base, key = subscripted
        key = key.lower() if base == "metadata.annotations" else key
        return fe.invalid_each(path, key, fe.qualified_name(key))
    if field_path not in allowed:
        return [fe.not_supported(f"{path}.fieldPath", field_path, allowed)]
    return []


def split_subscript(field_path: str) -> tuple[str, str] | None:
    """`fieldpath.SplitMaybeSubscriptedPath`: `metadata.labels['app']` -> (path, key)."""
    if not field_path.endswith("']"):
        return None
    base, sep, key = field_path[:-2].partition("['")
    return (base, key) if sep and base else None


def _convert_field_label(version: str, field_path: str) -> str:
    """`ConvertDownwardAPIFieldLabel`'s error text, or '' when the label converts."""
    if version != "v1":
        return f"unsupported pod version: {version}"
    subscripted = split_subscript(field_path)
    if subscripted is not None:
        if subscripted[0] in ("metadata.annotations", "metadata.labels"):
            return ""
        return f"field label does not support subscript: {field_path}"
    if field_path in _DOWNWARD_LABELS or field_path == "spec.host":
        return ""
    return f"field label not supported: {field_path}"


def _resource_field_ref(ref: JSON, path: str, ctx: _Ctx) -> list[str]:
    resource, errors = ref.get("resource", ""), []
    if not resource:
        errors.append(fe.required(f"{path}.resource"))
    elif resource not in _RESOURCE_FIELDS and not resource.startswith(
        ("requests.hugepages-", "limits.hugepages-")
    ):
        errors.append(fe.not_supported(f"{path}.resource", resource, _RESOURCE_FIELDS))
    errors += _divisor(resource, ref.get("divisor"), path)
    name = ref.get("containerName", "")
    if name and name not in ctx.containers:
        errors.append(fe.not_found(f"{path}.containerName", name))
    return errors


def _divisor(resource: str, divisor: str | None, path: str) -> list[str]:
    if divisor is None or parse_with_format(divisor)[0] == 0:
        return []
    kind = resource.partition(".")[2]
    allowed, message = _DIVISORS.get(kind, (_BYTE_DIVISORS, "hugepages resource"))
    if kind not in _DIVISORS and not kind.startswith("hugepages-"):
        return []
    if kind != "cpu":
        message = (
            f"only divisor's values {', '.join(_BYTE_DIVISORS)} are supported with the {message}"
        )
    if canonical(divisor) in allowed:
        return []
    return [fe.invalid(f"{path}.divisor", resource, message)]


def _key_selector(selector: JSON, path: str) -> list[str]:
    name, key = selector.get("name", ""), selector.get("key", "")
    errors = fe.invalid_each(f"{path}.name", name, fe.dns1123_subdomain(name))
    if not key:
        errors.append(fe.required(f"{path}.key"))
    errors += fe.invalid_each(f"{path}.key", key, fe.config_map_key(key) if key else [])
    return errors


def validate_env_from(sources: list[JSON], path: str) -> list[str]:
    errors = []
    for i, source in enumerate(sources):
        at, prefix = f"{path}[{i}]", source.get("prefix", "")
        errors += fe.invalid_each(f"{at}.prefix", prefix, fe.env_var_name(prefix) if prefix else [])
        refs = [key for key in ("configMapRef", "secretRef") if key in source]
        if not refs:
            errors.append(
                fe.invalid(path, "", "must specify one of: `configMapRef` or `secretRef`")
            )
        elif len(refs) > 1:
            errors.append(
                fe.invalid(path, "", "may not have more than one field specified at a time")
            )
        for key in refs:
            name = source[key].get("name", "")
            if not name:
                errors.append(fe.required(f"{at}.{key}.name"))
            errors += fe.invalid_each(
                f"{at}.{key}.name", name, fe.dns1123_subdomain(name) if name else []
            )
    return errors


def _volume_mounts(container: JSON, path: str, ctx: _Ctx) -> list[str]:
    """ValidateVolumeMounts. Upstream gives the subPath, subPathExpr and mountPropagation
    errors the list's path (`volumeMounts.subPath`), not the entry's; so do we."""
    errors, paths = [], set()
    for i, mount in enumerate(container.get("volumeMounts", [])):
        at, name, target = f"{path}[{i}]", mount.get("name", ""), mount.get("mountPath", "")
        if not name:
            errors.append(fe.required(f"{at}.name"))
        if name not in ctx.volumes:
            errors.append(fe.not_found(f"{at}.name", name))
        if not target:
            errors.append(fe.required(f"{at}.mountPath"))
        if target in paths:
            errors.append(fe.invalid(f"{at}.mountPath", target, "must be unique"))
        paths.add(target)
        sub, expr = mount.get("subPath", ""), mount.get("subPathExpr", "")
        if sub:
            errors += local_descending_path(sub, f"{path}.subPath")
        if expr:
            if sub:
                detail = "subPathExpr and subPath are mutually exclusive"
                errors.append(fe.invalid(f"{at}.subPathExpr", expr, detail))
            errors += local_descending_path(expr, f"{path}.subPathExpr")
        if "mountPropagation" in mount:
            errors += _mount_propagation(mount["mountPropagation"], container, path)
    return errors


_PROPAGATIONS = ["Bidirectional", "HostToContainer", "None"]


def _mount_propagation(mode: str, container: JSON, path: str) -> list[str]:
    """validateMountPropagation."""
    at = f"{path}.mountPropagation"
    errors = [] if mode in _PROPAGATIONS else [fe.not_supported(at, mode, _PROPAGATIONS)]
    privileged = (container.get("securityContext") or {}).get("privileged") is True
    if mode == "Bidirectional" and not privileged:
        errors.append(fe.forbidden(at, "Bidirectional mount propagation is available only to "
                                   "privileged containers"))  # fmt: skip
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


def _lifecycle_and_probes(container: JSON, path: str, ctx: _Ctx) -> list[str]:
    errors = []
    if "lifecycle" in container:
        errors += validate_lifecycle(container["lifecycle"], f"{path}.lifecycle", ctx)
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if key in container:
            errors += validate_probe(container[key], key, f"{path}.{key}", ctx)
    return errors


def validate_probe(probe: JSON, kind: str, path: str, ctx: _Ctx) -> list[str]:
    errors = validate_handler(probe, ("exec", "httpGet", "tcpSocket", "grpc"), path, ctx)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        if probe.get(key, 0) < 0:
            errors.append(
                fe.invalid(f"{path}.{key}", probe[key], "must be greater than or equal to 0")
            )
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errors.append(
            fe.invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    if kind != "readinessProbe" and probe.get("successThreshold", 1) != 1:
        errors.append(
            fe.invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1")
        )
    if kind == "readinessProbe" and grace is not None:
        errors.append(
            fe.invalid(
                f"{path}.terminationGracePeriodSeconds",
                grace,
                "must not be set for readinessProbes",
            )
        )
    return errors


def validate_lifecycle(lifecycle: JSON, path: str, ctx: _Ctx) -> list[str]:
    errors = []
    for key in ("postStart", "preStop"):
        if key in lifecycle:
            handlers = ("exec", "httpGet", "tcpSocket", "sleep")
            errors += validate_handler(lifecycle[key], handlers, f"{path}.{key}", ctx)
    signal = lifecycle.get("stopSignal")
    if signal is not None and signal not in SIGNALS:
        errors.append(fe.not_supported(f"{path}.stopSignal", signal, SIGNALS))
    return errors


def validate_handler(handler: JSON, kinds: tuple[str, ...], path: str, ctx: _Ctx) -> list[str]:
    errors, found = [], 0
    for kind in kinds:
        if kind not in handler:
            continue
        if found:
            errors.append(
                fe.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type")
            )
            continue
        found += 1
        errors += _HANDLERS[kind](handler[kind], f"{path}.{kind}", ctx)
    if not found:
        errors.append(fe.required(path, "must specify a handler type"))
    return errors


def _exec(action: JSON, path: str, ctx: _Ctx) -> list[str]:
    if not action.get("command"):
        return [fe.required(f"{path}.command")]
    return exec_strings(action["command"], f"{path}.command")


def _http_get(action: JSON, path: str, ctx: _Ctx) -> list[str]:
    errors = [] if action.get("path") else [fe.required(f"{path}.path")]
    errors += port_num_or_name(action.get("port", 0), f"{path}.port")
    scheme = action.get("scheme", "")
    if scheme not in ("HTTP", "HTTPS"):
        errors.append(fe.not_supported(f"{path}.scheme", scheme, ["HTTP", "HTTPS"]))
    for header in action.get("httpHeaders", []):
        name = header.get("name", "")
        errors += fe.invalid_each(f"{path}.httpHeaders", name, fe.http_header_name(name))
    return errors


def _tcp_socket(action: JSON, path: str, ctx: _Ctx) -> list[str]:
    return port_num_or_name(action.get("port", 0), f"{path}.port")


def _grpc(action: JSON, path: str, ctx: _Ctx) -> list[str]:
    errors = port_num_or_name(action.get("port", 0), f"{path}.port")
    if not ctx.grpc_available():
        detail = f"gRPC probes need the grpc extra, which is not installed: {GRPC_EXTRA}"
        errors.append(fe.forbidden(path, detail))
    return errors


def _sleep(action: JSON, path: str, ctx: _Ctx) -> list[str]:
    seconds = action.get("seconds", 0)
    if 0 <= seconds <= ctx.grace:
        return []
    detail = f"must be non-negative and less than terminationGracePeriodSeconds ({ctx.grace})"
    return [fe.invalid(path, seconds, detail)]


_HANDLERS: dict[str, Callable[[JSON, str, _Ctx], list[str]]] = {
    "exec": _exec,
    "httpGet": _http_get,
    "tcpSocket": _tcp_socket,
    "grpc": _grpc,
    "sleep": _sleep,
}


def port_num_or_name(port: int | str, path: str) -> list[str]:
    if isinstance(port, int):
        return fe.invalid_each(path, port, fe.port_number(port))
    return fe.invalid_each(path, port, fe.port_name(port))


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


# --- updates: ValidatePodUpdate -----------------------------------------------------------------

UPDATABLE_POD_SPEC_FIELDS = (
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
)
_MAX_INT32 = 2**31 - 1
_MISSING = object()


def validate_pod_update(old: JSON, new: JSON) -> list[str]:
    """The spec rules of `ValidatePodUpdate` (pkg/apis/core/validation/validation.go), on the
    defaulted v1 specs of the pod as it is and as the update would make it (the new pod's
    own validation, `validatePodMetadataAndSpec`, is `validate_pod`'s). Only container and
    init container images, `activeDeadlineSeconds` (set, or lowered), added tolerations and a
    negative grace period set to 1 may change. Scheduling gates, which minikubelet does not
    take, are not among the fields an update may change here."""
    errors: list[str] = []
    for key in ("containers", "initContainers"):
        found, stop = _container_updates(new.get(key) or [], old.get(key) or [], f"spec.{key}")
        errors += found
        if stop:
            return errors
    deadline = _deadline_update(new.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds"))
    if deadline is not None:
        errors.append(deadline)
        if new.get("activeDeadlineSeconds") is not None:
            return errors  # upstream returns at once for these two
    errors += _only_added_tolerations(new.get("tolerations") or [], old.get("tolerations") or [])
    if new == old:
        return errors
    munged = _munged(new, old)
    if munged != old:
        detail = "pod updates may not change fields other than " + ",".join(
            UPDATABLE_POD_SPEC_FIELDS
        )
        errors.append(fe.forbidden("spec", detail + "\n" + spec_diff(old, munged)))
    return errors


def _container_updates(new: list[JSON], old: list[JSON], path: str) -> tuple[list[str], bool]:
    """validation.go ValidateContainerUpdates; True when the caller must stop."""
    if len(new) != len(old):
        return [fe.forbidden(path, "pod updates may not add or remove containers")], True
    errors = []
    for i, container in enumerate(new):
        image = container.get("image", "")
        if not image:
            errors.append(fe.required(f"{path}[{i}].image"))
        if image.strip() != image:
            errors.append(
                fe.invalid(
                    f"{path}[{i}].image", image, "must not have leading or trailing whitespace"
                )
            )
    return errors, False


def _deadline_update(new: int | None, old: int | None) -> str | None:
    """validation.go ValidatePodUpdate: set from nil, or lowered; never raised or unset."""
    path = "spec.activeDeadlineSeconds"
    if new is not None:
        if not 0 <= new <= _MAX_INT32:
            return fe.invalid(path, new, fe.range_error(0, _MAX_INT32))
        if old is not None and old < new:
            return fe.invalid(path, new, "must be less than or equal to previous value")
    elif old is not None:
        return fe.invalid(path, None, "must not update from a positive integer to nil value")
    return None


def _only_added_tolerations(new: list[JSON], old: list[JSON]) -> list[str]:
    """validation.go validateOnlyAddedTolerations: each existing toleration is still there,
    its tolerationSeconds aside."""

    def bare(toleration: JSON) -> JSON:
        return {k: v for k, v in toleration.items() if k != "tolerationSeconds"}

    kept = [bare(t) for t in new]
    for toleration in old:
        if bare(toleration) not in kept:
            detail = "existing toleration can not be modified except its tolerationSeconds"
            return [fe.forbidden("spec.tolerations", detail)]
    return []


def _munged(new: JSON, old: JSON) -> dict[str, Any]:
    """The new spec with what an update may change put back as it was (mungedPodSpec)."""
    munged = {**new}
    for key in ("containers", "initContainers"):
        if key in new:
            olds = old.get(key) or []
            munged[key] = [
                {**c, "image": olds[i].get("image")} if "image" in olds[i] else _without(c, "image")
                for i, c in enumerate(new[key])
            ]
    for key in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(key, None)
        if key in old:
            munged[key] = old[key]
    grace_old, grace_new = (
        old.get("terminationGracePeriodSeconds"),
        new.get("terminationGracePeriodSeconds"),
    )
    if grace_old is not None and grace_old < 0 and grace_new == 1:
        munged["terminationGracePeriodSeconds"] = grace_old
    return munged


def _without(obj: JSON, key: str) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k != key}


def spec_diff(old: JSON, new: JSON) -> str:
    """What ValidatePodUpdate appends to its Forbidden error: upstream a go-cmp diff of the
    internal core.PodSpec; here the same layout (`-` before, `+` after) over the v1 fields
    that differ, named by their path in the spec."""
    lines = ["  core.PodSpec{"]
    for path, before, after in _changes(old, new, ""):
        if before is not _MISSING:
            lines.append(f"- \t{path}: {_json(before)},")
        if after is not _MISSING:
            lines.append(f"+ \t{path}: {_json(after)},")
    lines.append("  }")
    return "\n".join(lines)


def _changes(old: Any, new: Any, path: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        found = []
        for key in list(old) + [k for k in new if k not in old]:
            child = f"{path}.{key}" if path else str(key)
            found += _changes(old.get(key, _MISSING), new.get(key, _MISSING), child)
        return found
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        found = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            found += _changes(a, b, f"{path}[{i}]")
        return found
    return [] if old == new else [(path, old, new)]


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
