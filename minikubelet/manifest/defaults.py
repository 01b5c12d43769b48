"""The API server's defaults for a v1 Pod (`pkg/apis/core/v1/defaults.go`), on the camelCase dict.

Owns every default minikubelet serves back: pod (restartPolicy, grace period, dnsPolicy,
schedulerName, securityContext, enableServiceLinks, limits copied into missing requests),
containers (terminationMessagePath/Policy, imagePullPolicy, port protocol), probes (timeout 1,
period 10, thresholds 1 and 3, a 0 meaning the default), httpGet path and scheme, fieldRef
apiVersion, volume defaults, and quantities in canonical form. It works on a decoded copy and
never validates: validation runs on its output, as upstream does.
"""

from __future__ import annotations

from typing import Any

from minikubelet.core.quantity import canonical

JSON = dict[str, Any]
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10}
_PROBE_DEFAULTS |= {"successThreshold": 1, "failureThreshold": 3}
_MODE_SOURCES = ("secret", "configMap", "downwardAPI", "projected")


def apply(pod: JSON) -> JSON:
    """Fill in `pod` (already a private copy) in place and return it."""
    spec = pod.setdefault("spec", {})
    _pod_spec(spec)
    for container in spec.get("containers", []) + spec.get("initContainers", []):
        _container(container, spec.get("hostNetwork", False))
    for container in spec.get("ephemeralContainers", []):
        _container(container, False)
    for volume in spec.get("volumes", []):
        _volume(volume)
    return pod


def _pod_spec(spec: JSON) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("securityContext", {})
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("enableServiceLinks", True)


def _container(container: JSON, host_network: bool) -> None:
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    container.setdefault("imagePullPolicy", pull_policy(container.get("image", "")))
    for port in container.get("ports", []):
        port.setdefault("protocol", "TCP")
        if host_network:
            port.setdefault("hostPort", port.get("containerPort", 0))
    _resources(container.setdefault("resources", {}))
    for var in container.get("env", []):
        _env_source(var.get("valueFrom", {}))
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if key in container:
            _probe(container[key])
    for handler in container.get("lifecycle", {}).values():
        if isinstance(handler, dict):
            _handler(handler)


def pull_policy(image: str) -> str:
    """`SetDefaults_Container`: Always for a `latest` or missing tag, else IfNotPresent."""
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def image_tag(image: str) -> str:
    """The tag `parsers.ParseImageName` finds: `latest` when there is neither tag nor digest."""
    name, digest = image.partition("@")[::2]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        return last.rpartition(":")[2]
    return "" if digest or not name else "latest"


def _resources(resources: JSON) -> None:
    """`SetDefaults_Pod`: a limit without a request becomes the request; canonical quantities."""
    for key in ("limits", "requests"):
        if key in resources:
            resources[key] = {name: canonical(text) for name, text in resources[key].items()}
    limits = resources.get("limits", {})
    if limits:
        requests = resources.setdefault("requests", {})
        for name, text in limits.items():
            requests.setdefault(name, text)


def _env_source(source: JSON) -> None:
    if "fieldRef" in source:
        source["fieldRef"].setdefault("apiVersion", "v1")
    if "resourceFieldRef" in source:
        ref = source["resourceFieldRef"]
        ref["divisor"] = canonical(ref.get("divisor", "0"))


def _probe(probe: JSON) -> None:
    for key, default in _PROBE_DEFAULTS.items():
        if not probe.get(key):
            probe[key] = default
    _handler(probe)
    if "grpc" in probe:
        probe["grpc"].setdefault("service", "")


def _handler(handler: JSON) -> None:
    if "httpGet" in handler:
        handler["httpGet"].setdefault("path", "/")
        handler["httpGet"].setdefault("scheme", "HTTP")


def _volume(volume: JSON) -> None:
    sources = [key for key in volume if key != "name"]
    if not sources:
        volume["emptyDir"] = {}
    for key in _MODE_SOURCES:
        if key in volume:
            volume[key].setdefault("defaultMode", 420)
    if "emptyDir" in volume and "sizeLimit" in volume["emptyDir"]:
        volume["emptyDir"]["sizeLimit"] = canonical(volume["emptyDir"]["sizeLimit"])
    if "hostPath" in volume:
        volume["hostPath"].setdefault("type", "")  # v1 SetDefaults_HostPathVolumeSource
    downward = [volume["downwardAPI"]] if "downwardAPI" in volume else []
    for source in (volume.get("projected") or {}).get("sources") or []:
        if "downwardAPI" in source:
            downward.append(source["downwardAPI"])
        if "serviceAccountToken" in source:  # SetDefaults_ServiceAccountTokenProjection
            source["serviceAccountToken"].setdefault("expirationSeconds", 3600)
    for items in downward:
        for item in (items or {}).get("items") or []:
            if "fieldRef" in item:  # SetDefaults_ObjectFieldSelector
                item["fieldRef"].setdefault("apiVersion", "v1")
