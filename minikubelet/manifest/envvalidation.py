"""The env, envFrom and ports rules of a container (`pkg/apis/core/validation/validation.go`:
ValidateEnv, validateEnvVarValueFrom, validateObjectFieldSelector,
validateContainerResourceFieldSelector, ValidateEnvFrom, validateContainerPorts,
checkHostPortConflicts).

The downward API volume reuses the field and resource selector rules (`field_ref`,
`resource_field_ref`). Input and output as in `validation.py`.
"""

from __future__ import annotations

from minikubelet.core.quantity import canonical, parse_with_format
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.validationbase import JSON, Ctx, exec_string, words

_ENV_FIELD_PATHS = words(
    "metadata.name metadata.namespace metadata.uid spec.nodeName spec.serviceAccountName "
    "status.hostIP status.hostIPs status.podIP status.podIPs"
)


_DOWNWARD_LABELS = words(
    "metadata.annotations metadata.labels metadata.name metadata.namespace metadata.uid "
    "spec.nodeName spec.restartPolicy spec.serviceAccountName spec.schedulerName status.phase "
    "status.hostIP status.hostIPs status.podIP status.podIPs"
)


_RESOURCE_FIELDS = words(
    "limits.cpu limits.ephemeral-storage limits.memory requests.cpu "
    "requests.ephemeral-storage requests.memory"
)


_BYTE_DIVISORS = words("1 1k 1M 1G 1T 1P 1E 1Ki 1Mi 1Gi 1Ti 1Pi 1Ei")


_DIVISORS = {
    "cpu": (["1m", "1"], "only divisor's values 1m and 1 are supported with the cpu resource"),
    "memory": (_BYTE_DIVISORS, "memory resource"),
    "ephemeral-storage": (_BYTE_DIVISORS, "local ephemeral storage resource"),
}


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


def host_port_conflicts(containers: list[JSON], path: str) -> list[str]:
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


def validate_env(env: list[JSON], path: str, ctx: Ctx) -> list[str]:
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


def _value_from(source: JSON, value: str, path: str, ctx: Ctx) -> list[str]:
    errors = []
    if "fieldRef" in source:
        errors += field_ref(source["fieldRef"], f"{path}.fieldRef")
    if "resourceFieldRef" in source:
        errors += resource_field_ref(source["resourceFieldRef"], f"{path}.resourceFieldRef", ctx)
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


def field_ref(ref: JSON, path: str, allowed: list[str] = _ENV_FIELD_PATHS) -> list[str]:
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


def resource_field_ref(ref: JSON, path: str, ctx: Ctx) -> list[str]:
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
