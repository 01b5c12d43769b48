"""A container's environment from ConfigMaps and Secrets, as the kubelet reads them at each
start (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables): `envFrom` sources first, each
key (prefixed) one variable, keys that are not valid variable names skipped and reported;
then `env[].valueFrom.configMapKeyRef` / `secretKeyRef`. A missing object or key that is not
`optional` is the kubelet's error (`configmap "x" not found`, `couldn't find key y in
ConfigMap default/x`), and the container is not started (CreateContainerConfigError). The
object names in `not found` are the kubelet's managers' (configmap_manager.go,
secret_manager.go: `corev1.Resource("configmap")`), hence singular. Pure.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from minikubelet.core.spec import Container

# (resource, namespace, name) -> the stored object or None
Lookup = Callable[[str, str, str], Mapping[str, Any] | None]
# validation.IsEnvVarName (the C identifier-like rule the kubelet checks envFrom keys by)
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")


class EnvConfigError(Exception):
    """The container cannot be configured: its message is the kubelet's."""


@dataclass(frozen=True, slots=True)
class ResolvedEnv:
    sources: dict[str, str] = field(default_factory=dict)  # from envFrom, in order
    refs: dict[int, str] = field(default_factory=dict)  # env index -> value of a key ref
    # the kubelet's InvalidEnvironmentVariableNames warnings
    invalid: list[str] = field(default_factory=list)


def _data(kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    data = obj.get("data") or {}
    if kind == "ConfigMap":
        return dict(data)
    return {k: base64.b64decode(v).decode("utf-8", "replace") for k, v in data.items()}


def resolve(container: Container, namespace: str, lookup: Lookup) -> ResolvedEnv:
    """Raises EnvConfigError."""
    cache: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    def get(kind: str, name: str, optional: bool) -> Mapping[str, Any] | None:
        if (kind, name) not in cache:
            resource = "configmaps" if kind == "ConfigMap" else "secrets"
            cache[(kind, name)] = lookup(resource, namespace, name)
        found = cache[(kind, name)]
        if found is None and not optional:
            raise EnvConfigError(f'{kind.lower()} "{name}" not found')
        return found

    result = ResolvedEnv()
    for source in container.env_from:
        obj = get(source.kind, source.name, source.optional)
        if obj is None:
            continue
        invalid = []
        for key, value in _data(source.kind, obj).items():
            name = source.prefix + key
            if not _ENV_NAME.fullmatch(name):
                invalid.append(name)
                continue
            result.sources[name] = value
        if invalid:
            what = "configMap" if source.kind == "ConfigMap" else "secret"
            result.invalid.append(
                f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} "
                f"{namespace}/{source.name} were skipped since they are considered invalid "
                "environment variable names."
            )
    for index, var in enumerate(container.env):
        ref, kind = var.config_map_key_ref, "ConfigMap"
        if ref is None:
            ref, kind = var.secret_key_ref, "Secret"
        if ref is None:
            continue
        obj = get(kind, ref.name, ref.optional)
        if obj is None:
            continue
        data = _data(kind, obj)
        if ref.key not in data:
            if ref.optional:
                continue
            raise EnvConfigError(f"couldn't find key {ref.key} in {kind} {namespace}/{ref.name}")
        result.refs[index] = data[ref.key]
    return result
