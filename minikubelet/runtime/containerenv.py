"""The environment and argv of a container's process (kubelet: kubelet_pods.go
makeEnvironmentVariables, the downward API's field and resource values, and
`kubecontainer.ExpandContainerCommandAndArgs`).

Pure of processes: the pod and the resolved env sources in, strings out. `process.spawn`
starts what these build.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import ROUND_CEILING, Decimal

from minikubelet.core.envsources import ResolvedEnv
from minikubelet.core.expand import expand
from minikubelet.core.spec import Container, Pod, Quantity


def _field_value(pod: Pod, path: str, *, pod_ip: str) -> str:
    if path.startswith("metadata.labels['") and path.endswith("']"):
        return pod.labels.get(path[len("metadata.labels['") : -2], "")
    if path.startswith("metadata.annotations['") and path.endswith("']"):
        return pod.annotations.get(path[len("metadata.annotations['") : -2], "")
    simple = {
        "metadata.name": pod.name,
        "metadata.namespace": pod.namespace,
        "metadata.uid": pod.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": str(pod.manifest.get("spec", {}).get("serviceAccountName", "")),
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": pod_ip,
        "status.hostIPs": pod_ip,
    }
    if path == "metadata.labels":
        return "\n".join(f'{k}="{v}"' for k, v in sorted(pod.labels.items()))
    if path == "metadata.annotations":
        return "\n".join(f'{k}="{v}"' for k, v in sorted(pod.annotations.items()))
    return simple.get(path, "")


def _node_allocatable(resource: str) -> Decimal:
    if resource == "cpu":
        return Decimal(os.cpu_count() or 1)
    import psutil  # here: the containers start without psutil (its import is ~10 ms)

    if resource == "memory":
        return Decimal(psutil.virtual_memory().total)
    return Decimal(psutil.disk_usage("/").total)


def _resource_value(pod: Pod, container: Container, resource: str, divisor: Quantity) -> str:
    """kubelet: `ExtractContainerResourceValue`: the value divided by the divisor, rounded up;
    an unset limit is the node's allocatable amount."""
    target = next((c for c in pod.spec.all_containers() if c.name == container.name), container)
    kind, _, name = resource.partition(".")
    values = target.resources.limits if kind == "limits" else target.resources.requests
    quantity = values.get(name)
    if quantity is not None:
        amount = quantity.value
    elif kind == "limits":
        amount = _node_allocatable(name)
    else:
        amount = Decimal(0)
    div = divisor.value if divisor.value != 0 else Decimal(1)
    return str(int((amount / div).to_integral_value(rounding=ROUND_CEILING)))


def resource_value(pod: Pod, container: Container, resource: str, divisor: Quantity) -> str:
    """A resourceFieldRef's value (a downwardAPI volume's file, an env var's value)."""
    return _resource_value(pod, container, resource, divisor)


def container_env(
    pod: Pod,
    container: Container,
    *,
    base: Mapping[str, str],
    pod_ip: str = "127.0.0.1",
    service_env: Mapping[str, str] | None = None,
    resolved: ResolvedEnv | None = None,
    volume_env: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(the process's environment, the container's own variables).

    The daemon's environment lies underneath so PATH works; the container's variables are
    resolved in order, each value `$(VAR)`-expanded against those defined before it, as the
    kubelet's `makeEnvironmentVariables` does, over the service variables. The second map is
    what `$(VAR)` in command, args and exec probes may refer to. `resolved`: the values read
    from ConfigMaps and Secrets (core/envsources.py): the envFrom variables come first, then
    `env` in order, a key reference's value taken as it is (an optional one that is missing
    defines nothing). `volume_env`: where the container's volumes are when they cannot be
    mounted at their mountPath (`MINIKUBELET_VOLUME_<NAME>`), under all the others."""
    service_env = service_env or {}
    resolved = resolved or ResolvedEnv()
    own: dict[str, str] = {
        **(volume_env or {}),
        "HOSTNAME": pod.name,
        **service_env,
        **resolved.sources,
    }
    for index, var in enumerate(container.env):
        if var.config_map_key_ref is not None or var.secret_key_ref is not None:
            if index in resolved.refs:
                own[var.name] = resolved.refs[index]
            continue
        if var.field_ref is not None:
            value = _field_value(pod, var.field_ref.field_path, pod_ip=pod_ip)
        elif var.resource_field_ref is not None:
            ref = var.resource_field_ref
            target = next(
                (c for c in pod.spec.all_containers() if c.name == ref.container_name),
                container,
            )
            value = _resource_value(pod, target, ref.resource, ref.divisor)
        else:
            value = expand(var.value, own)
        own[var.name] = value
    env = dict(base)
    env.update(own)
    return env, own


def container_argv(container: Container, own_env: Mapping[str, str]) -> list[str]:
    return [expand(part, own_env) for part in container.argv]
