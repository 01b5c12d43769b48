"""The local provisioner: every PersistentVolumeClaim is bound at once to a directory of its
own in the state dir (node/volumes.py claim_dir), as a cluster's dynamic provisioner and the
PV controller bind a claim (pkg/controller/volume/persistentvolume pv_controller.go bindClaim
-> bindClaimToVolume / updateClaimStatus): `spec.volumeName` set, the bind annotations, and
`status` Bound with the claim's access modes and its requested storage as the capacity.
Pure: the claim in, the bound claim (or None, already bound) out.
"""

from __future__ import annotations

import copy
from typing import Any

JSON = dict[str, Any]
PROVISIONER = "minikubelet.local/claims"


def bound(claim: JSON) -> JSON | None:
    """The claim bound, or None if it is bound as it would be already."""
    wanted = copy.deepcopy(claim)
    meta = wanted.setdefault("metadata", {})
    spec = wanted.setdefault("spec", {})
    annotations = meta.setdefault("annotations", {})
    annotations.setdefault("pv.kubernetes.io/bind-completed", "yes")
    annotations.setdefault("pv.kubernetes.io/bound-by-controller", "yes")
    annotations.setdefault("volume.beta.kubernetes.io/storage-provisioner", PROVISIONER)
    annotations.setdefault("volume.kubernetes.io/storage-provisioner", PROVISIONER)
    if not spec.get("volumeName"):
        spec["volumeName"] = f"pvc-{meta.get('uid', '')}"
    status: JSON = {"phase": "Bound", "accessModes": list(spec.get("accessModes") or [])}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    if storage is not None:
        status["capacity"] = {"storage": storage}
    wanted["status"] = status
    return None if wanted == claim else wanted


_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
          ("ReadWriteOncePod", "RWOP"))  # fmt: skip


def access_modes(modes: list[str]) -> str:
    """helper.GetAccessModesAsString: the short names, in this order, each once."""
    return ",".join(short for mode, short in _MODES if mode in modes)


def table_cells(claim: JSON) -> list[Any]:
    """printers.go printPersistentVolumeClaim: Status, Volume, Capacity, Access Modes,
    StorageClass, VolumeAttributesClass (Name and Age are the API's)."""
    meta, spec, status = claim.get("metadata", {}), claim.get("spec", {}), claim.get("status", {})
    phase = "Terminating" if meta.get("deletionTimestamp") else status.get("phase", "")
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes(status.get("accessModes") or [])
        capacity = (status.get("capacity") or {}).get("storage", "")
    storage_class = (meta.get("annotations") or {}).get(
        "volume.beta.kubernetes.io/storage-class", spec.get("storageClassName") or ""
    )
    attributes = spec.get("volumeAttributesClassName") or "<unset>"
    return [phase, spec.get("volumeName", ""), capacity, modes, storage_class, attributes]
