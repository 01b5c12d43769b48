"""The volume rules of a pod: volume sources (ValidateVolumes, validateVolumeSource, hostPath,
secret, configMap, downward API and projected sources, the service account token projection)
and a container's volume mounts (ValidateVolumeMounts, validateMountPropagation), from
`pkg/apis/core/validation/validation.go`.

Input and output as in `validation.py`: defaulted camelCase dicts in, field errors out, in
upstream's order.
"""

from __future__ import annotations

from minikubelet.core.quantity import parse_with_format
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.envvalidation import field_ref, resource_field_ref
from minikubelet.manifest.validationbase import JSON, Ctx, words


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


_VOLUME_FIELD_PATHS = words(
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
        errors += field_ref(item["fieldRef"], f"{at}.fieldRef", _VOLUME_FIELD_PATHS)
        if "resourceFieldRef" in item:
            errors.append(fe.invalid(at, "resource", "fieldRef and resourceFieldRef can not be "
                                     "specified simultaneously"))  # fmt: skip
    elif "resourceFieldRef" in item:
        ref, ref_at = item["resourceFieldRef"], f"{at}.resourceFieldRef"
        if not ref.get("containerName"):
            errors.append(fe.required(f"{ref_at}.containerName"))
        errors += resource_field_ref(ref, ref_at, Ctx(0, frozenset(), containers, lambda: True))
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


def volume_mounts(container: JSON, path: str, ctx: Ctx) -> list[str]:
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
