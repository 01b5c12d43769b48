"""What a container mounts of its pod's volumes: (source, mountPath, readOnly) per mount, as
the kubelet's makeMounts computes it (pkg/kubelet/kubelet_pods.go), over the volumes'
directories that node/volumes.py set up; and, where there is no mount namespace (host mode),
the variable that names each volume's directory instead. `container_mounts` is what a
mount namespace binds (`spawn(..., mounts=...)`); it blocks (a subPath directory may be
made), so callers run it in a thread.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from minikubelet.core.expand import expand
from minikubelet.core.spec import Container
from minikubelet.runtime import volumefs
from minikubelet.runtime.mountns import Mount as Mount  # one mount of a container

ENV_PREFIX = "MINIKUBELET_VOLUME_"


def env_name(volume: str) -> str:
    """`app-data` -> MINIKUBELET_VOLUME_APP_DATA."""
    return ENV_PREFIX + re.sub(r"[-.]", "_", volume.upper())


class MountError(Exception):
    """A container's mounts cannot be made: `reason` is its waiting reason
    (CreateContainerConfigError where the kubelet's makeMounts fails, CreateContainerError
    where the runtime's mount would), the message the kubelet's."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def container_mounts(
    container: Container,
    dirs: Mapping[str, Path],
    env: Mapping[str, str],
    read_only_volumes: frozenset[str] = frozenset(),
) -> list[Mount]:
    """The container's mounts over its pod's set-up volume directories (`dirs`), in the
    order of its volumeMounts. Blocking (a subPath directory may be made). Raises MountError.

    kubelet_pods.go makeMounts: subPathExpr is expanded with the container's environment
    (kubecontainer.ExpandContainerVolumeMounts: `missing value for X`); a subPath that does
    not exist is made in the volume; the mount is read-only if the mount says so or the
    volume always is (configMap, secret, downwardAPI, projected, a read-only claim)."""
    mounts = []
    for m in container.volume_mounts:
        root = dirs[m.name]
        sub = m.sub_path
        if m.sub_path_expr:
            sub = _expand_sub_path(m.sub_path_expr, env)
        source = root
        if sub:
            if sub.startswith("/"):
                message = f"error SubPath `{sub}` must not be an absolute path"
                raise MountError("CreateContainerConfigError", message)
            if ".." in sub.split("/"):
                message = f"unable to provision SubPath `{sub}`: must not contain '..'"
                raise MountError("CreateContainerConfigError", message)
            try:
                source = volumefs.prepare_sub_path(root, sub)
            except ValueError as e:
                raise MountError("CreateContainerConfigError", str(e)) from e
        if not source.exists():
            raise MountError(
                "CreateContainerError",
                f'failed to mount "{source}" at "{m.mount_path}": stat {source}: no such file '
                "or directory",
            )
        read_only = m.read_only or m.name in read_only_volumes
        mounts.append(Mount(str(source), m.mount_path, read_only))
    return mounts


def _expand_sub_path(expr: str, env: Mapping[str, str]) -> str:
    """kubecontainer.ExpandContainerVolumeMounts: a variable that is unset or empty is
    missing, and all the missing ones are the error."""
    missing: set[str] = set()

    class _Recording(dict[str, str]):
        def __contains__(self, key: object) -> bool:
            if isinstance(key, str) and not self.get(key):
                missing.add(key)
                return True
            return super().__contains__(key)

        def __getitem__(self, key: str) -> str:
            return self.get(key) or ""

    expanded = expand(expr, _Recording(env))
    if missing:
        raise MountError("CreateContainerConfigError",
                         f"missing value for {', '.join(sorted(missing))}")  # fmt: skip
    return expanded
