"""The registered kinds: what the store keeps beside pods and events, and how the API serves
them, one entry per kind (as the API server's `pkg/registry/*/storage` registers a REST store:
resource, kind, group/version, scope, the strategy's defaults and validation, the table
convertor's columns).

Adding a kind is adding a `Kind` here: the HTTP API serves every registered kind from one
set of handlers (api/generic.py), discovery and OpenAPI list it, and manifest loading stores
it. `effect` says what the daemon does with one: `local` (ConfigMaps and Secrets feed
containers' environments; Namespaces and ServiceAccounts exist) or `none` (stored and
served, with one warning that it has no effect here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from minikubelet.core import claims
from minikubelet.core.workloads import selector_string
from minikubelet.manifest import (
    apps,
    autoscalers,
    batch,
    cronjobs,
    daemonsets,
    deployments,
    statefulsets,
)
from minikubelet.manifest import configmaps as admission
from minikubelet.manifest import limitranges as lra
from minikubelet.manifest import priorityclasses as pca
from minikubelet.manifest import replicasets as rsa
from minikubelet.manifest import resourcequotas as rqa
from minikubelet.manifest.podtemplate import default_template, template_errors
from minikubelet.manifest.services import admit_service
from minikubelet.store import batchtables
from minikubelet.store.objects import ObjectStore

JSON = dict[str, Any]
Admit = Callable[[JSON, JSON | None], JSON]
# (name, type, priority, description); the cells come from `cells(obj)`, Name first and Age
# (or Created At) last being added by the API
Column = tuple[str, str, int, str]


@dataclass(frozen=True, slots=True)
class Kind:
    resource: str  # "configmaps"
    singular: str
    kind: str
    group: str  # "" for the core group
    version: str
    namespaced: bool
    admit: Admit
    short: tuple[str, ...] = ()
    columns: tuple[Column, ...] = ()
    cells: Callable[[JSON], list[Any]] = field(default=lambda obj: [])
    effect: Literal["local", "none"] = "local"
    fields: frozenset[str] = frozenset({"metadata.name", "metadata.namespace"})
    created_at: bool = False  # the default table convertor: Name, Created At
    warning: str = ""  # one `Warning` header on every write of one
    # the status subresource (`/status`): the main resource's writes keep the stored status,
    # a status write keeps the rest, and a change of spec moves `metadata.generation` on
    status_subresource: bool = False
    # the scale subresource (`/scale`, autoscaling/v1 Scale) over spec.replicas,
    # status.replicas and spec.selector, as `kubectl scale` uses it
    scalable: bool = False
    categories: tuple[str, ...] = ()  # `kubectl get all` lists the kinds in category `all`
    # warnings about one object (beside `warning`), on each write and when loaded from a file
    object_warnings: Callable[[JSON], list[str]] = field(default=lambda obj: [])
    # cells that need the time (a Job's DURATION): `timed_cells(obj, now)` instead of `cells`
    timed_cells: Callable[[JSON, float], list[Any]] | None = None
    # how many of the last non-wide columns come after Age (printers.go puts ResourceQuota's
    # Request and Limit, and PriorityClass's PreemptionPolicy, after it)
    after_age: int = 0

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def no_effect_warning(self) -> str:
        return (
            f"{self.api_version} {self.kind} is stored and served but has no effect in "
            "minikubelet: it runs pods only"
        )


def _count(obj: JSON, *fields: str) -> int:
    return sum(len(obj.get(f) or {}) for f in fields)


def _more(items: list[str]) -> str:
    """printers.go formatEndpoints: three shown, then `+ N more...`; `<none>` for none."""
    if not items:
        return "<none>"
    shown = ",".join(items[:3])
    return shown + (f" + {len(items) - 3} more..." if len(items) > 3 else "")


def _endpoints_cell(obj: JSON) -> str:
    """printEndpoints: the ready addresses with each port."""
    items = []
    for subset in obj.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for address in subset.get("addresses") or []:
            for port in ports:
                items.append(f"{address['ip']}:{port['port']}" if port else address["ip"])
    return _more(items)


def _slice_ports_cell(obj: JSON) -> str:
    ports = [str(p.get("port", "")) for p in obj.get("ports") or []]
    return ",".join(ports) if ports else "<unset>"


def _slice_endpoints_cell(obj: JSON) -> str:
    """printEndpointSlice: the addresses of the ready endpoints."""
    items = [
        a for e in obj.get("endpoints") or []
        if (e.get("conditions") or {}).get("ready") is not False
        for a in e.get("addresses") or []
    ]  # fmt: skip
    return _more(items) if items else "<unset>"


_DATA = ("Data", "integer", 0, "Number of data entries.")
_NO_EFFECT: tuple[tuple[str, str, str, str, bool, tuple[str, ...]], ...] = (
    ("ingresses", "ingress", "Ingress", "networking.k8s.io", True, ("ing",)),
    ("networkpolicies", "networkpolicy", "NetworkPolicy", "networking.k8s.io", True,
     ("netpol",)),
    ("poddisruptionbudgets", "poddisruptionbudget", "PodDisruptionBudget", "policy", True,
     ("pdb",)),
    ("roles", "role", "Role", "rbac.authorization.k8s.io", True, ()),
    ("rolebindings", "rolebinding", "RoleBinding", "rbac.authorization.k8s.io", True, ()),
    ("clusterroles", "clusterrole", "ClusterRole", "rbac.authorization.k8s.io", False, ()),
    ("clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding",
     "rbac.authorization.k8s.io", False, ()),
)  # fmt: skip

# printers.go replicaSetColumnDefinitions / replicationControllerColumnDefinitions
_REPLICA_COLUMNS: tuple[Column, ...] = (
    ("Desired", "integer", 0, "Number of desired pods. More info: "
     "https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
    ("Current", "integer", 0, "Number of actual replicas."),
    ("Ready", "integer", 0, "The number of ready replicas."),
)  # fmt: skip


def _wide(owner: str) -> tuple[Column, ...]:
    return (
        ("Containers", "string", 1, "Names of each container in the template."),
        ("Images", "string", 1, "Images referenced by each container in the template."),
        ("Selector", "string", 1, f"Label query against pods that should be managed by the "
         f"{owner}."),
    )  # fmt: skip


def _template_check(template: JSON, path: str, namespace: str) -> list[str]:
    return template_errors(template, path)


# StatefulSet, DaemonSet, ControllerRevision (printers.go printStatefulSet, printDaemonSet,
# printControllerRevision)
_CONTAINERS = ("Containers", "string", 1, "Names of each container in the template.")
_IMAGES = ("Images", "string", 1, "Images referenced by each container in the template.")
_DS_DOC = " More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"
_DS_COLUMNS: tuple[Column, ...] = (
    (
        "Desired",
        "integer",
        0,
        "The total number of nodes that should be running the daemon pod "
        "(including nodes correctly running the daemon pod)." + _DS_DOC,
    ),
    (
        "Current",
        "integer",
        0,
        "The number of nodes that are running at least 1 daemon pod and "
        "are supposed to run the daemon pod." + _DS_DOC,
    ),
    (
        "Ready",
        "integer",
        0,
        "numberReady is the number of nodes that should be running the "
        "daemon pod and have one or more of the daemon pod running with a Ready Condition.",
    ),
    ("Up-to-date", "integer", 0, "The total number of nodes that are running updated daemon pod"),
    (
        "Available",
        "integer",
        0,
        "The number of nodes that should be running the daemon pod and "
        "have one or more of the daemon pod running and available (ready for at least "
        "spec.minReadySeconds)",
    ),
    (
        "Node Selector",
        "string",
        0,
        "NodeSelector is a selector which must be true for the pod to "
        "fit on a node. Selector which must match a node's labels for the pod to be scheduled on "
        "that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
    ),
    _CONTAINERS,
    _IMAGES,
    (
        "Selector",
        "string",
        1,
        "A label query over pods that are managed by the daemon set. Must "
        "match in order to be controlled. It must match the pod template's labels. More info: "
        "https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
    ),
)


def _sts_cells(obj: JSON) -> list[Any]:
    return [*statefulsets.statefulset_cells(obj), *apps.template_containers(obj)]


def _ds_cells(obj: JSON) -> list[Any]:
    selector = selector_string((obj.get("spec") or {}).get("selector")) or "<none>"
    return [*daemonsets.daemonset_cells(obj), *apps.template_containers(obj), selector]


_APPS_KINDS = (
    Kind(
        "statefulsets",
        "statefulset",
        "StatefulSet",
        "apps",
        "v1",
        True,
        statefulsets.admit_statefulset,
        ("sts",),
        (("Ready", "string", 0, "Number of the pod with ready state"), _CONTAINERS, _IMAGES),
        _sts_cells,
        status_subresource=True,
        scalable=True,
        categories=("all",),
    ),
    Kind(
        "daemonsets",
        "daemonset",
        "DaemonSet",
        "apps",
        "v1",
        True,
        daemonsets.admit_daemonset,
        ("ds",),
        _DS_COLUMNS,
        _ds_cells,
        status_subresource=True,
        categories=("all",),
    ),
    Kind(
        "controllerrevisions",
        "controllerrevision",
        "ControllerRevision",
        "apps",
        "v1",
        True,
        apps.admit_controllerrevision,
        (),
        (
            ("Controller", "string", 0, "Controller of the object"),
            (
                "Revision",
                "string",
                0,
                "Revision indicates the revision of the state represented by Data.",
            ),
        ),
        apps.controllerrevision_cells,
    ),
)

# ResourceQuota, LimitRange, PriorityClass: their admission plugins are store/admission.py,
# the quota's status controllers/resourcequota.py
_POLICY_KINDS = (
    Kind(
        "resourcequotas",
        "resourcequota",
        "ResourceQuota",
        "",
        "v1",
        True,
        rqa.admit_resource_quota,
        ("quota",),
        (
            (
                "Request",
                "string",
                0,
                "Request represents a minimum amount of cpu/memory that a container can consume.",
            ),
            (
                "Limit",
                "string",
                0,
                "Limits control the maximum amount of cpu/memory that a "
                "container can use independent of contention on the node.",
            ),
        ),
        rqa.cells,
        status_subresource=True,
        after_age=2,
    ),
    Kind(
        "limitranges",
        "limitrange",
        "LimitRange",
        "",
        "v1",
        True,
        lra.admit_limit_range,
        ("limits",),
        created_at=True,
    ),
    Kind(
        "priorityclasses",
        "priorityclass",
        "PriorityClass",
        "scheduling.k8s.io",
        "v1",
        False,
        pca.admit_priority_class,
        ("pc",),
        (
            (
                "Value",
                "integer",
                0,
                "value represents the integer value of this priority "
                "class. This is the actual priority that pods receive when they have the name "
                "of this class in their pod spec.",
            ),
            (
                "Global-Default",
                "boolean",
                0,
                "globalDefault specifies whether this "
                "PriorityClass should be considered as the default priority for pods that do "
                "not have any priority class. Only one PriorityClass can be marked as "
                "`globalDefault`. However, if more than one PriorityClasses exists with their "
                "`globalDefault` field set to true, the smallest value of such global default "
                "PriorityClasses will be used as the default priority.",
            ),
            (
                "PreemptionPolicy",
                "string",
                0,
                "preemptionPolicy is the Policy for preempting "
                "pods with lower priority. One of Never, PreemptLowerPriority. Defaults to "
                "PreemptLowerPriority if unset.",
            ),
        ),
        pca.cells,
        after_age=1,
    ),
)

KINDS: tuple[Kind, ...] = (
    Kind("configmaps", "configmap", "ConfigMap", "", "v1", True, admission.admit_configmap,
         ("cm",), (_DATA,), lambda o: [_count(o, "data", "binaryData")]),
    Kind("secrets", "secret", "Secret", "", "v1", True, admission.admit_secret, (),
         (("Type", "string", 0, "The type of the secret"), _DATA),
         lambda o: [o.get("type", ""), _count(o, "data")],
         fields=frozenset({"metadata.name", "metadata.namespace", "type"})),
    Kind("namespaces", "namespace", "Namespace", "", "v1", False, admission.admit_namespace,
         ("ns",), (("Status", "string", 0, "The status of the namespace"),),
         lambda o: [(o.get("status") or {}).get("phase", "")],
         fields=frozenset({"metadata.name", "status.phase"})),
    Kind("serviceaccounts", "serviceaccount", "ServiceAccount", "", "v1", True,
         admission.admit_service_account, ("sa",),
         (("Secrets", "string", 0, "Secrets is a list of the secrets in the same namespace "
           "that pods running using this ServiceAccount are allowed to use."),),
         lambda o: [len(o.get("secrets") or [])]),
    Kind("persistentvolumeclaims", "persistentvolumeclaim", "PersistentVolumeClaim", "", "v1",
         True, admission.admit_stored("PersistentVolumeClaim", True), ("pvc",),
         (("Status", "string", 0, "phase represents the current phase of "
           "PersistentVolumeClaim."),
          ("Volume", "string", 0, "volumeName is the binding reference to the "
           "PersistentVolume backing this claim."),
          ("Capacity", "string", 0, "capacity represents the actual resources of the "
           "underlying volume."),
          ("Access Modes", "string", 0, "accessModes contains the actual access modes the "
           "volume backing the PVC has."),
          ("StorageClass", "string", 0, "StorageClass of the pvc"),
          ("VolumeAttributesClass", "string", 0, "VolumeAttributesClass of the pvc")),
         claims.table_cells),
    Kind("services", "service", "Service", "", "v1", True, admit_service, ("svc",),
         warning="v1 Service has no traffic proxy in minikubelet: connect to the pods' ports"),
    Kind("endpoints", "endpoints", "Endpoints", "", "v1", True,
         admission.admit_stored("Endpoints", True), ("ep",),
         (("Endpoints", "string", 0, "Endpoints is the list of endpoints in the service."),),
         lambda o: [_endpoints_cell(o)]),
    Kind("endpointslices", "endpointslice", "EndpointSlice", "discovery.k8s.io", "v1", True,
         admission.admit_stored("EndpointSlice", True), (),
         (("AddressType", "string", 0, "The IP protocol for this slice"),
          ("Ports", "string", 0, "The ports in this slice"),
          ("Endpoints", "string", 0, "The endpoints in this slice")),
         lambda o: [o.get("addressType", ""), _slice_ports_cell(o), _slice_endpoints_cell(o)],
         fields=frozenset({"metadata.name", "metadata.namespace", "addressType"})),
    # Deployment (controllers/deployment.py)
    Kind("deployments", "deployment", "Deployment", "apps", "v1", True,
         deployments.admit_deployment, ("deploy",), deployments.COLUMNS, deployments.cells,
         status_subresource=True, scalable=True, categories=("all",)),
    *(
        Kind(resource, singular, kind, group, "v1", namespaced,
             admission.admit_stored(kind, namespaced), short, effect="none", created_at=True)
        for resource, singular, kind, group, namespaced, short in _NO_EFFECT
    ),
    # ReplicaSet and ReplicationController (controllers/replicaset.py)
    Kind("replicasets", "replicaset", "ReplicaSet", "apps", "v1", True,
         rsa.make_admit_replicaset(_template_check, default_template), ("rs",),
         _REPLICA_COLUMNS + _wide("replica set"),
         lambda o: rsa.replica_cells(o) + rsa.replicaset_wide_cells(o),
         status_subresource=True, scalable=True, categories=("all",)),
    Kind("replicationcontrollers", "replicationcontroller", "ReplicationController", "", "v1",
         True, rsa.make_admit_replication_controller(_template_check, default_template),
         ("rc",), _REPLICA_COLUMNS + _wide("replication controller"),
         lambda o: rsa.replica_cells(o) + rsa.rc_wide_cells(o),
         fields=frozenset({"metadata.name", "metadata.namespace", "status.replicas"}),
         status_subresource=True, scalable=True, categories=("all",)),
    *_APPS_KINDS,  # StatefulSet, DaemonSet, ControllerRevision
    # HorizontalPodAutoscaler (controllers/hpa.py)
    Kind("horizontalpodautoscalers", "horizontalpodautoscaler", "HorizontalPodAutoscaler",
         "autoscaling", "v2", True, autoscalers.admit_hpa, ("hpa",), autoscalers.COLUMNS,
         autoscalers.cells, status_subresource=True, categories=("all",),
         object_warnings=autoscalers.warnings),
    # Job and CronJob (controllers/job.py, controllers/cronjob.py)
    Kind("jobs", "job", "Job", "batch", "v1", True, batch.admit_job, (),
         (*batchtables.JOB_COLUMNS, *batchtables.WIDE), status_subresource=True,
         categories=("all",), timed_cells=batchtables.job_cells,
         ),
    Kind("cronjobs", "cronjob", "CronJob", "batch", "v1", True, cronjobs.admit_cronjob, ("cj",),
         (*batchtables.CRONJOB_COLUMNS, *batchtables.WIDE), status_subresource=True,
         categories=("all",), timed_cells=batchtables.cronjob_cells),
    *_POLICY_KINDS,  # ResourceQuota, LimitRange, PriorityClass
)  # fmt: skip

BY_RESOURCE: dict[tuple[str, str], Kind] = {(k.group, k.resource): k for k in KINDS}
BY_KIND: dict[tuple[str, str], Kind] = {(k.api_version, k.kind): k for k in KINDS}


def by_kind(api_version: str, kind: str) -> Kind | None:
    return BY_KIND.get((api_version, kind))


def known_group_kind(api_version: str, kind: str) -> Kind | None:
    """A registered kind of the same group at another version (`autoscaling/v1` HPA)."""
    group = api_version.rpartition("/")[0] if "/" in api_version else ""
    return next((k for k in KINDS if k.group == group and k.kind == kind), None)


SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")


def put_object(store: ObjectStore, kind: Kind, obj: JSON) -> JSON:
    """An admitted object into the store: created, or written over one of the same name (a
    seeded namespace a file declares again) keeping its uid and creation time."""
    meta = obj["metadata"]
    old = store.get(kind.resource, meta.get("namespace", ""), meta["name"])
    if old is None:
        stored = store.create(kind.resource, obj)
        if kind.resource == "namespaces":
            default_service_account(store, meta["name"])
        return stored
    kept = {k: old["metadata"][k] for k in ("uid", "creationTimestamp") if k in old["metadata"]}
    return store.put(kind.resource, {**obj, "metadata": {**meta, **kept}})


def default_service_account(store: ObjectStore, namespace: str) -> None:
    """The service account controller's `default` account of a namespace."""
    if store.get("serviceaccounts", namespace, "default") is None:
        store.create("serviceaccounts", {
            "apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": namespace},
        })  # fmt: skip


def seed(store: ObjectStore) -> None:
    """What a new cluster has: its system namespaces, each with its `default` account."""
    namespaces = BY_RESOURCE[("", "namespaces")]
    for name in SYSTEM_NAMESPACES:
        document = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        put_object(store, namespaces, namespaces.admit(document, None))
    classes = BY_RESOURCE[("scheduling.k8s.io", "priorityclasses")]
    for document in pca.system_classes():
        put_object(store, classes, classes.admit(document, None))
