"""A validated, defaulted camelCase Pod dict -> the frozen dataclasses of `spec`.

Owns the translation from API spelling to Python spelling and nothing else: every rule has
already been applied by `defaults` and `validation`, so this module trusts its input.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.core import spec
from minikubelet.core.quantity import parse_quantity

JSON = Mapping[str, Any]


def build_pod(pod: JSON, *, source: str) -> spec.Pod:
    meta, body = pod["metadata"], pod["spec"]
    return spec.Pod(
        name=meta.get("name", ""),
        namespace=meta.get("namespace", "default"),
        uid=meta.get("uid", ""),
        labels=dict(meta.get("labels", {})),
        annotations=dict(meta.get("annotations", {})),
        spec=build_pod_spec(body),
        manifest=pod,
        source=source,
    )


def build_pod_spec(body: JSON) -> spec.PodSpec:
    return spec.PodSpec(
        containers=tuple(build_container(c) for c in body.get("containers", [])),
        init_containers=tuple(build_container(c) for c in body.get("initContainers", [])),
        restart_policy=spec.RestartPolicy(body["restartPolicy"]),
        termination_grace_period_seconds=body["terminationGracePeriodSeconds"],
        active_deadline_seconds=body.get("activeDeadlineSeconds"),
        node_name=body.get("nodeName", ""),
        readiness_gates=tuple(g["conditionType"] for g in body.get("readinessGates", [])),
        volumes=tuple(build_volume(v) for v in body.get("volumes", [])),
        ephemeral_containers=tuple(build_container(c) for c in body.get("ephemeralContainers", [])),
    )


def build_container(c: JSON) -> spec.Container:
    return spec.Container(
        name=c["name"],
        image=c.get("image", ""),
        command=tuple(c.get("command", ())),
        args=tuple(c.get("args", ())),
        working_dir=c.get("workingDir", ""),
        env=tuple(build_env(var) for var in c.get("env", [])),
        env_from=tuple(build_env_from(source) for source in c.get("envFrom", [])),
        ports=tuple(build_port(port) for port in c.get("ports", [])),
        resources=build_resources(c.get("resources", {})),
        liveness_probe=build_probe(c.get("livenessProbe")),
        readiness_probe=build_probe(c.get("readinessProbe")),
        startup_probe=build_probe(c.get("startupProbe")),
        lifecycle=build_lifecycle(c.get("lifecycle")),
        restart_policy=c.get("restartPolicy"),
        termination_message_path=c["terminationMessagePath"],
        termination_message_policy=c["terminationMessagePolicy"],
        image_pull_policy=c["imagePullPolicy"],
        stdin=bool(c.get("stdin", False)),
        stdin_once=bool(c.get("stdinOnce", False)),
        tty=bool(c.get("tty", False)),
        volume_mounts=tuple(build_volume_mount(m) for m in c.get("volumeMounts", [])),
        target_container_name=c.get("targetContainerName", ""),
    )


def build_port(port: JSON) -> spec.ContainerPort:
    return spec.ContainerPort(
        container_port=port["containerPort"],
        name=port.get("name", ""),
        protocol=port["protocol"],
        host_port=port.get("hostPort", 0),
        host_ip=port.get("hostIP", ""),
    )


def build_env(var: JSON) -> spec.EnvVar:
    source = var.get("valueFrom", {})
    field_ref = source.get("fieldRef")
    resource_ref = source.get("resourceFieldRef")
    return spec.EnvVar(
        name=var["name"],
        value=var.get("value", ""),
        field_ref=None if field_ref is None else build_field_ref(field_ref),
        resource_field_ref=None if resource_ref is None else build_resource_ref(resource_ref),
        config_map_key_ref=_key_selector(source.get("configMapKeyRef")),
        secret_key_ref=_key_selector(source.get("secretKeyRef")),
    )


def _key_selector(ref: JSON | None) -> spec.KeySelector | None:
    if ref is None:
        return None
    return spec.KeySelector(
        name=ref.get("name", ""), key=ref.get("key", ""), optional=bool(ref.get("optional"))
    )


def build_env_from(source: JSON) -> spec.EnvFromSource:
    kind, ref = (
        ("Secret", source["secretRef"]) if "secretRef" in source
        else ("ConfigMap", source.get("configMapRef") or {})
    )  # fmt: skip
    return spec.EnvFromSource(
        kind=kind,
        name=ref.get("name", ""),
        prefix=source.get("prefix", ""),
        optional=bool(ref.get("optional")),
    )


def build_field_ref(ref: JSON) -> spec.ObjectFieldSelector:
    return spec.ObjectFieldSelector(field_path=ref["fieldPath"], api_version=ref["apiVersion"])


def build_resource_ref(ref: JSON) -> spec.ResourceFieldSelector:
    divisor = parse_quantity(ref.get("divisor", "0"))
    if divisor.value == 0:  # kubelet: a zero divisor means 1
        divisor = parse_quantity("1")
    return spec.ResourceFieldSelector(
        resource=ref["resource"], container_name=ref.get("containerName", ""), divisor=divisor
    )


def build_resources(resources: JSON) -> spec.Resources:
    return spec.Resources(
        requests={k: parse_quantity(v) for k, v in resources.get("requests", {}).items()},
        limits={k: parse_quantity(v) for k, v in resources.get("limits", {}).items()},
    )


def build_probe(probe: JSON | None) -> spec.Probe | None:
    if probe is None:
        return None
    return spec.Probe(
        handler=build_handler(probe),
        initial_delay_seconds=probe.get("initialDelaySeconds", 0),
        timeout_seconds=probe["timeoutSeconds"],
        period_seconds=probe["periodSeconds"],
        success_threshold=probe["successThreshold"],
        failure_threshold=probe["failureThreshold"],
        termination_grace_period_seconds=probe.get("terminationGracePeriodSeconds"),
    )


def build_lifecycle(lifecycle: JSON | None) -> spec.Lifecycle | None:
    if lifecycle is None:
        return None
    post_start, pre_stop = lifecycle.get("postStart"), lifecycle.get("preStop")
    return spec.Lifecycle(
        post_start=None if post_start is None else build_handler(post_start),
        pre_stop=None if pre_stop is None else build_handler(pre_stop),
        stop_signal=lifecycle.get("stopSignal"),
    )


def build_handler(handler: JSON) -> spec.Handler:
    """The first handler present, in validation's order (validation allowed exactly one)."""
    if "exec" in handler:
        return spec.ExecAction(command=tuple(handler["exec"]["command"]))
    if "httpGet" in handler:
        return build_http_get(handler["httpGet"])
    if "tcpSocket" in handler:
        action = handler["tcpSocket"]
        return spec.TCPSocketAction(port=action["port"], host=action.get("host", ""))
    if "grpc" in handler:
        action = handler["grpc"]
        return spec.GRPCAction(port=action["port"], service=action.get("service") or None)
    return spec.SleepAction(seconds=handler["sleep"].get("seconds", 0))  # Go zero value


def build_http_get(action: JSON) -> spec.HTTPGetAction:
    headers = tuple(
        spec.HTTPHeader(name=h["name"], value=h.get("value", ""))
        for h in action.get("httpHeaders", [])
    )
    return spec.HTTPGetAction(
        port=action["port"],
        path=action["path"],
        host=action.get("host", ""),
        scheme=action["scheme"],
        http_headers=headers,
    )


# --- volumes -------------------------------------------------------------------------------

# the sources that are not built below: they have no local meaning and are an empty dir
LOCAL_SOURCES = frozenset(
    {"emptyDir", "ephemeral", "hostPath", "configMap", "secret", "downwardAPI", "projected",
     "persistentVolumeClaim"}
)  # fmt: skip


def build_volume_mount(m: JSON) -> spec.VolumeMount:
    return spec.VolumeMount(
        name=m["name"],
        mount_path=m["mountPath"],
        read_only=bool(m.get("readOnly", False)),
        sub_path=m.get("subPath", ""),
        sub_path_expr=m.get("subPathExpr", ""),
        mount_propagation=m.get("mountPropagation"),
    )


def build_volume(volume: JSON) -> spec.Volume:
    """The one source validation allowed (an unset one was defaulted to emptyDir)."""
    key = next((k for k in volume if k != "name"), "emptyDir")
    return spec.Volume(name=volume["name"], source=build_volume_source(key, volume[key] or {}))


def build_volume_source(key: str, source: JSON) -> spec.VolumeSource:
    if key == "emptyDir":
        limit = source.get("sizeLimit")
        return spec.EmptyDirSource(
            medium=source.get("medium", ""),
            size_limit=None if limit is None else parse_quantity(limit),
        )
    if key == "ephemeral":  # a claim made for the pod and gone with it: a pod-long dir
        return spec.EmptyDirSource()
    if key == "hostPath":
        return spec.HostPathSource(path=source["path"], type=source.get("type") or "")
    if key in ("configMap", "secret"):
        return build_object_source(key, source, source.get("defaultMode", 0o644))
    if key == "downwardAPI":
        return build_downward_api(source, source.get("defaultMode", 0o644))
    if key == "projected":
        return spec.ProjectedSource(
            sources=tuple(
                p for p in (build_projection(s) for s in source.get("sources") or []) if p
            ),
            default_mode=source.get("defaultMode", 0o644),
        )
    if key == "persistentVolumeClaim":
        return spec.ClaimSource(
            claim_name=source["claimName"], read_only=bool(source.get("readOnly", False))
        )
    return spec.NonLocalSource(field=key)


def build_object_source(key: str, source: JSON, default_mode: int | None) -> spec.ObjectSource:
    items = tuple(
        spec.KeyToPath(key=i["key"], path=i["path"], mode=i.get("mode"))
        for i in source.get("items") or []
    )
    return spec.ObjectSource(
        kind="Secret" if key == "secret" else "ConfigMap",
        name=source.get("secretName" if key == "secret" else "name", ""),
        items=items,
        default_mode=default_mode,
        optional=bool(source.get("optional", False)),
    )


def build_downward_api(source: JSON, default_mode: int | None) -> spec.DownwardAPISource:
    items = []
    for item in source.get("items") or []:
        field_ref, resource_ref = item.get("fieldRef"), item.get("resourceFieldRef")
        items.append(
            spec.DownwardAPIFile(
                path=item["path"],
                field_ref=None if field_ref is None else build_field_ref(field_ref),
                resource_field_ref=None
                if resource_ref is None
                else build_resource_ref(resource_ref),
                mode=item.get("mode"),
            )
        )
    return spec.DownwardAPISource(items=tuple(items), default_mode=default_mode)


def build_projection(source: JSON) -> spec.ProjectionSource | None:
    """One of a projected volume's sources; clusterTrustBundle and podCertificate, which
    have no local meaning (load warns), project nothing."""
    if "configMap" in source or "secret" in source:
        key = "secret" if "secret" in source else "configMap"
        inner = dict(source[key] or {})
        if key == "secret":
            inner["secretName"] = inner.get("name", "")
        return build_object_source(key, inner, None)
    if "downwardAPI" in source:
        return build_downward_api(source["downwardAPI"] or {}, None)
    if "serviceAccountToken" in source:
        token = source["serviceAccountToken"]
        return spec.ServiceAccountTokenSource(
            path=token.get("path", ""),
            audience=token.get("audience", ""),
            expiration_seconds=token.get("expirationSeconds", 3600),
        )
    return None
