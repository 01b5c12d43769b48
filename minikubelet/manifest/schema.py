"""The v1 Pod schema, and a decoder that checks a document against it as the API server does.

Owns strict decoding: every field name anywhere in a Pod is known here, with its Go type, so an
unknown field (`unknown field "spec.containers[0].livenessprobe"`), a duplicate field or a value of
the wrong type (`json: cannot unmarshal string into Go struct field
ContainerPort.spec.containers.ports.containerPort of type int32`) is reported with the wording of
the API server's decoder. It also cleans the document (nulls dropped, as Go decodes them to zero
values) and records which field paths the user wrote. It knows nothing of defaults or validation.

Type notation: `s` string (`s:RestartPolicy` a named string type), `i32`, `i64`, `b`, `q` a
resource quantity, `ios` an int-or-string, `t` a timestamp, `map` map[string]string, `rl` a
ResourceList, `any` anything, `obj:Name` a mapping not modelled further, `[]T` a list, and a
capitalised name one of the structs below.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from minikubelet.core.quantity import parse_with_format

_CONTAINER = (
    "name:s image:s command:[]s args:[]s workingDir:s ports:[]ContainerPort "
    "envFrom:[]EnvFromSource env:[]EnvVar resources:ResourceRequirements "
    "resizePolicy:[]ContainerResizePolicy restartPolicy:s:ContainerRestartPolicy "
    "volumeMounts:[]VolumeMount volumeDevices:[]VolumeDevice livenessProbe:Probe "
    "readinessProbe:Probe startupProbe:Probe lifecycle:Lifecycle terminationMessagePath:s "
    "terminationMessagePolicy:s:TerminationMessagePolicy imagePullPolicy:s:PullPolicy "
    "securityContext:SecurityContext stdin:b stdinOnce:b tty:b"
)
_HANDLER = "exec:ExecAction httpGet:HTTPGetAction tcpSocket:TCPSocketAction"
_SECURITY_COMMON = (
    "seLinuxOptions:SELinuxOptions windowsOptions:WindowsSecurityContextOptions runAsUser:i64 "
    "runAsGroup:i64 runAsNonRoot:b seccompProfile:SeccompProfile appArmorProfile:AppArmorProfile"
)
_UNMODELLED_VOLUMES = (
    "gcePersistentDisk awsElasticBlockStore gitRepo iscsi glusterfs rbd flexVolume cinder "
    "cephfs flocker fc azureFile vsphereVolume quobyte azureDisk photonPersistentDisk "
    "portworxVolume scaleIO storageos"
)
_TERM = "matchExpressions:[]NodeSelectorRequirement matchFields:[]NodeSelectorRequirement"

STRUCTS: dict[str, str] = {
    "Pod": "apiVersion:s kind:s metadata:ObjectMeta spec:PodSpec status:obj:PodStatus",
    "ObjectMeta": (
        "name:s generateName:s namespace:s selfLink:s uid:s:types.UID resourceVersion:s "
        "generation:i64 creationTimestamp:t deletionTimestamp:t deletionGracePeriodSeconds:i64 "
        "labels:map annotations:map ownerReferences:[]OwnerReference finalizers:[]s "
        "managedFields:[]ManagedFieldsEntry"
    ),
    "OwnerReference": "apiVersion:s kind:s name:s uid:s:types.UID controller:b "
    "blockOwnerDeletion:b",
    "ManagedFieldsEntry": "manager:s operation:s apiVersion:s time:t fieldsType:s "
    "fieldsV1:any subresource:s",
    "PodSpec": (
        "volumes:[]Volume initContainers:[]Container containers:[]Container "
        "ephemeralContainers:[]EphemeralContainer restartPolicy:s:RestartPolicy "
        "terminationGracePeriodSeconds:i64 activeDeadlineSeconds:i64 dnsPolicy:s:DNSPolicy "
        "nodeSelector:map serviceAccountName:s serviceAccount:s automountServiceAccountToken:b "
        "nodeName:s hostNetwork:b hostPID:b hostIPC:b shareProcessNamespace:b "
        "securityContext:PodSecurityContext imagePullSecrets:[]LocalObjectReference hostname:s "
        "subdomain:s affinity:Affinity schedulerName:s tolerations:[]Toleration "
        "hostAliases:[]HostAlias priorityClassName:s priority:i32 dnsConfig:PodDNSConfig "
        "readinessGates:[]PodReadinessGate runtimeClassName:s enableServiceLinks:b "
        "preemptionPolicy:s:PreemptionPolicy overhead:rl "
        "topologySpreadConstraints:[]TopologySpreadConstraint setHostnameAsFQDN:b os:PodOS "
        "hostUsers:b schedulingGates:[]PodSchedulingGate resourceClaims:[]PodResourceClaim "
        "resources:ResourceRequirements"
    ),
    "Container": _CONTAINER,
    "EphemeralContainer": _CONTAINER + " targetContainerName:s",
    "ContainerPort": "name:s hostPort:i32 containerPort:i32 protocol:s:Protocol hostIP:s",
    "EnvFromSource": "prefix:s configMapRef:ConfigMapEnvSource secretRef:SecretEnvSource",
    "ConfigMapEnvSource": "name:s optional:b",
    "SecretEnvSource": "name:s optional:b",
    "EnvVar": "name:s value:s valueFrom:EnvVarSource",
    "EnvVarSource": "fieldRef:ObjectFieldSelector resourceFieldRef:ResourceFieldSelector "
    "configMapKeyRef:ConfigMapKeySelector secretKeyRef:SecretKeySelector",
    "ObjectFieldSelector": "apiVersion:s fieldPath:s",
    "ResourceFieldSelector": "containerName:s resource:s divisor:q",
    "ConfigMapKeySelector": "name:s key:s optional:b",
    "SecretKeySelector": "name:s key:s optional:b",
    "ResourceRequirements": "limits:rl requests:rl claims:[]ResourceClaim",
    "ResourceClaim": "name:s request:s",
    "ContainerResizePolicy": "resourceName:s:ResourceName "
    "restartPolicy:s:ResourceResizeRestartPolicy",
    "VolumeMount": "name:s readOnly:b recursiveReadOnly:s mountPath:s subPath:s "
    "mountPropagation:s subPathExpr:s",
    "VolumeDevice": "name:s devicePath:s",
    "Probe": _HANDLER + " grpc:GRPCAction initialDelaySeconds:i32 timeoutSeconds:i32 "
    "periodSeconds:i32 successThreshold:i32 failureThreshold:i32 "
    "terminationGracePeriodSeconds:i64",
    "ExecAction": "command:[]s",
    "HTTPGetAction": "path:s port:ios host:s scheme:s:URIScheme httpHeaders:[]HTTPHeader",
    "HTTPHeader": "name:s value:s",
    "TCPSocketAction": "port:ios host:s",
    "GRPCAction": "port:i32 service:s",
    "SleepAction": "seconds:i64",
    "Lifecycle": "postStart:LifecycleHandler preStop:LifecycleHandler stopSignal:s:Signal",
    "LifecycleHandler": _HANDLER + " sleep:SleepAction",
    "SecurityContext": _SECURITY_COMMON + " capabilities:Capabilities privileged:b "
    "readOnlyRootFilesystem:b allowPrivilegeEscalation:b procMount:s",
    "PodSecurityContext": _SECURITY_COMMON + " supplementalGroups:[]i64 "
    "supplementalGroupsPolicy:s fsGroup:i64 sysctls:[]Sysctl fsGroupChangePolicy:s "
    "seLinuxChangePolicy:s",
    "Capabilities": "add:[]s drop:[]s",
    "SELinuxOptions": "user:s role:s type:s level:s",
    "WindowsSecurityContextOptions": "gmsaCredentialSpecName:s gmsaCredentialSpec:s "
    "runAsUserName:s hostProcess:b",
    "SeccompProfile": "type:s localhostProfile:s",
    "AppArmorProfile": "type:s localhostProfile:s",
    "Sysctl": "name:s value:s",
    "LocalObjectReference": "name:s",
    "Affinity": "nodeAffinity:NodeAffinity podAffinity:PodAffinity podAntiAffinity:PodAntiAffinity",
    "NodeAffinity": "requiredDuringSchedulingIgnoredDuringExecution:NodeSelector "
    "preferredDuringSchedulingIgnoredDuringExecution:[]PreferredSchedulingTerm",
    "NodeSelector": "nodeSelectorTerms:[]NodeSelectorTerm",
    "NodeSelectorTerm": _TERM,
    "NodeSelectorRequirement": "key:s operator:s values:[]s",
    "PreferredSchedulingTerm": "weight:i32 preference:NodeSelectorTerm",
    "PodAffinity": "requiredDuringSchedulingIgnoredDuringExecution:[]PodAffinityTerm "
    "preferredDuringSchedulingIgnoredDuringExecution:[]WeightedPodAffinityTerm",
    "PodAntiAffinity": "requiredDuringSchedulingIgnoredDuringExecution:[]PodAffinityTerm "
    "preferredDuringSchedulingIgnoredDuringExecution:[]WeightedPodAffinityTerm",
    "WeightedPodAffinityTerm": "weight:i32 podAffinityTerm:PodAffinityTerm",
    "PodAffinityTerm": "labelSelector:LabelSelector namespaces:[]s topologyKey:s "
    "namespaceSelector:LabelSelector matchLabelKeys:[]s mismatchLabelKeys:[]s",
    "LabelSelector": "matchLabels:map matchExpressions:[]LabelSelectorRequirement",
    "LabelSelectorRequirement": "key:s operator:s values:[]s",
    "Toleration": "key:s operator:s value:s effect:s tolerationSeconds:i64",
    "HostAlias": "ip:s hostnames:[]s",
    "PodDNSConfig": "nameservers:[]s searches:[]s options:[]PodDNSConfigOption",
    "PodDNSConfigOption": "name:s value:s",
    "PodReadinessGate": "conditionType:s:PodConditionType",
    "TopologySpreadConstraint": "maxSkew:i32 topologyKey:s whenUnsatisfiable:s "
    "labelSelector:LabelSelector minDomains:i32 nodeAffinityPolicy:s nodeTaintsPolicy:s "
    "matchLabelKeys:[]s",
    "PodOS": "name:s",
    "PodSchedulingGate": "name:s",
    "PodResourceClaim": "name:s resourceClaimName:s resourceClaimTemplateName:s",
    "Volume": (
        "name:s hostPath:HostPathVolumeSource emptyDir:EmptyDirVolumeSource "
        "secret:SecretVolumeSource nfs:NFSVolumeSource "
        "persistentVolumeClaim:PersistentVolumeClaimVolumeSource "
        "downwardAPI:DownwardAPIVolumeSource configMap:ConfigMapVolumeSource "
        "projected:ProjectedVolumeSource csi:CSIVolumeSource "
        "ephemeral:EphemeralVolumeSource image:ImageVolumeSource "
    )
    + " ".join(
        f"{name}:obj:{name[0].upper()}{name[1:]}VolumeSource"
        for name in _UNMODELLED_VOLUMES.split()
    ),
    "HostPathVolumeSource": "path:s type:s",
    "EmptyDirVolumeSource": "medium:s sizeLimit:q",
    "SecretVolumeSource": "secretName:s items:[]KeyToPath defaultMode:i32 optional:b",
    "NFSVolumeSource": "server:s path:s readOnly:b",
    "PersistentVolumeClaimVolumeSource": "claimName:s readOnly:b",
    "DownwardAPIVolumeSource": "items:[]DownwardAPIVolumeFile defaultMode:i32",
    "DownwardAPIVolumeFile": "path:s fieldRef:ObjectFieldSelector "
    "resourceFieldRef:ResourceFieldSelector mode:i32",
    "ConfigMapVolumeSource": "name:s items:[]KeyToPath defaultMode:i32 optional:b",
    "KeyToPath": "key:s path:s mode:i32",
    "ProjectedVolumeSource": "sources:[]VolumeProjection defaultMode:i32",
    "VolumeProjection": "secret:SecretProjection downwardAPI:DownwardAPIProjection "
    "configMap:ConfigMapProjection serviceAccountToken:ServiceAccountTokenProjection "
    "clusterTrustBundle:obj:ClusterTrustBundleProjection "
    "podCertificate:obj:PodCertificateProjection",
    "SecretProjection": "name:s items:[]KeyToPath optional:b",
    "ConfigMapProjection": "name:s items:[]KeyToPath optional:b",
    "DownwardAPIProjection": "items:[]DownwardAPIVolumeFile",
    "ServiceAccountTokenProjection": "audience:s expirationSeconds:i64 path:s",
    "CSIVolumeSource": "driver:s readOnly:b fsType:s volumeAttributes:map "
    "nodePublishSecretRef:LocalObjectReference",
    "EphemeralVolumeSource": "volumeClaimTemplate:obj:PersistentVolumeClaimTemplate",
    "ImageVolumeSource": "reference:s pullPolicy:s:PullPolicy",
}


def _parse_fields(text: str) -> dict[str, str]:
    fields = {}
    for item in text.split():
        name, _, kind = item.partition(":")
        fields[name] = kind
    return fields


FIELDS: dict[str, dict[str, str]] = {name: _parse_fields(text) for name, text in STRUCTS.items()}


class DuplicateKeys(dict[str, Any]):
    """A mapping from the loader that remembers the keys it saw more than once."""

    duplicates: list[str]

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.duplicates = []
        for key, value in pairs:
            if key in self and key not in self.duplicates:
                self.duplicates.append(key)
            self[key] = value


@dataclass(frozen=True, slots=True)
class _At:
    """Where the decoder is: JSON field names (Go's error path), the printed path with
    indices, the pattern with `[*]`, and the Go struct that holds the current field."""

    fields: tuple[str, ...] = ()
    display: str = ""
    pattern: str = ""
    struct: str = "Pod"

    def child(self, name: str, struct: str) -> _At:
        dot = "." if self.display else ""
        return _At(
            (*self.fields, name),
            f"{self.display}{dot}{name}",
            f"{self.pattern}{dot}{name}",
            struct,
        )

    def index(self, i: int) -> _At:
        return _At(self.fields, f"{self.display}[{i}]", f"{self.pattern}[*]", self.struct)


@dataclass
class Decoded:
    """The cleaned document, the decode error (first type error, as Go reports it) or the
    strict-mode complaints, and every field path pattern present in the document."""

    value: dict[str, Any]
    error: str | None = None
    strict: list[str] = field(default_factory=list)
    present: dict[str, None] = field(default_factory=dict)


def decode_pod(doc: Mapping[str, Any]) -> Decoded:
    decoder = _Decoder()
    value = decoder.struct(doc, "Pod", _At())
    return Decoded(value, decoder.fatal or decoder.type_error, decoder.strict, decoder.present)


def go_type(kind: str) -> str:
    if kind.startswith("[]"):
        return "[]" + go_type(kind[2:])
    if kind.startswith(("s:", "obj:")):
        name = kind.partition(":")[2]
        return name if "." in name else f"v1.{name}"
    simple = {"s": "string", "i32": "int32", "i64": "int64", "b": "bool", "ios": "int32"}
    simple |= {"map": "map[string]string", "rl": "v1.ResourceList", "t": "v1.Time"}
    return simple.get(kind, f"v1.{kind}")


def json_kind(value: Any, numeric_target: bool) -> str:
    """How Go's decoder names a JSON value in `cannot unmarshal <kind>`."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return f"number {value}" if numeric_target else "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


_INT_RANGES = {"i32": (-(2**31), 2**31 - 1), "i64": (-(2**63), 2**63 - 1)}
_INT_RANGES["ios"] = _INT_RANGES["i32"]
_ZERO: dict[str, Any] = {"s": "", "i32": 0, "i64": 0, "b": False, "ios": 0, "t": ""}


class _Decoder:
    def __init__(self) -> None:
        self.type_error: str | None = None
        self.fatal: str | None = None
        self.strict: list[str] = []
        self.present: dict[str, None] = {}

    def value(self, value: Any, kind: str, at: _At) -> Any:
        if kind.startswith("[]"):
            return self.list(value, kind[2:], at, kind)
        if kind in FIELDS:
            return self.struct(value, kind, at)
        if kind.startswith("obj:"):
            return value if self.expect(value, dict, kind, at) else {}
        return self.scalar(value, kind.partition(":")[0], kind, at)

    def mismatch(self, value: Any, kind: str, at: _At, numeric: bool = False) -> None:
        if self.type_error is None:
            path = ".".join(at.fields)
            self.type_error = (
                f"json: cannot unmarshal {json_kind(value, numeric)} into Go struct field "
                f"{at.struct}.{path} of type {go_type(kind)}"
            )

    def expect(self, value: Any, types: type | tuple[type, ...], kind: str, at: _At) -> bool:
        if isinstance(value, types) and not (isinstance(value, bool) and types is not bool):
            return True
        self.mismatch(value, kind, at)
        return False

    def struct(self, value: Any, name: str, at: _At) -> dict[str, Any]:
        if not self.expect(value, dict, name, at):
            return {}
        fields, out = FIELDS[name], {}
        for key in getattr(value, "duplicates", ()):
            self.strict.append(f'duplicate field "{at.child(key, name).display}"')
        for key, item in value.items():
            child = at.child(key, name)
            if key not in fields:
                self.strict.append(f'unknown field "{child.display}"')
            elif item is not None:
                self.present[child.pattern] = None
                out[key] = self.value(item, fields[key], child)
        return out

    def list(self, value: Any, kind: str, at: _At, list_kind: str) -> list[Any]:
        if not self.expect(value, list, list_kind, at):
            return []
        zero = _ZERO.get(kind.partition(":")[0], {})
        items = []
        for i, item in enumerate(value):
            here = at.index(i)
            items.append(zero if item is None else self.value(item, kind, here))
        return items

    def scalar(self, value: Any, base: str, kind: str, at: _At) -> Any:
        if base in ("s", "t"):
            return value if self.expect(value, str, kind, at) else ""
        if base == "b":
            return value if self.expect(value, bool, kind, at) else False
        if base in _INT_RANGES:
            return self.integer(value, base, kind, at)
        if base == "q":
            return self.quantity(value)
        if base in ("map", "rl"):
            return self.mapping(value, base, kind, at)
        return value  # "any"

    def integer(self, value: Any, base: str, kind: str, at: _At) -> int | str:
        if base == "ios" and isinstance(value, str):
            return value
        low, high = _INT_RANGES[base]
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        numeric = isinstance(value, int | float) and not isinstance(value, bool)
        if base == "ios":
            self.fatal = self.fatal or _ios_error(value, at, numeric)
        else:
            self.mismatch(value, kind, at, numeric=numeric)
        return 0

    def quantity(self, value: Any) -> str:
        text = value if isinstance(value, str) else _raw_json(value)
        try:
            parse_with_format(text)
        except ValueError as err:
            self.fatal = self.fatal or str(err)
            return "0"
        return text

    def mapping(self, value: Any, base: str, kind: str, at: _At) -> dict[str, Any]:
        if not self.expect(value, dict, kind, at):
            return {}
        if base == "rl":
            return {key: self.quantity(item) for key, item in value.items() if item is not None}
        out = {}
        for key, item in value.items():
            if item is not None and self.expect(item, str, "s", at):
                out[key] = item
            elif item is None:
                out[key] = ""
        return out


def _ios_error(value: Any, at: _At, numeric: bool) -> str:
    path = ".".join(at.fields)
    return (
        f"json: cannot unmarshal {json_kind(value, numeric)} into Go struct field "
        f"{at.struct}.{path} of type int32"
    )


def _raw_json(value: Any) -> str:
    """The JSON text Go's Quantity.UnmarshalJSON would see for a non-string value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return "{}" if isinstance(value, dict) else "[]"
