"""The filesystem side of volumes without a daemon: hostPath type checks in upstream's words
(host_path.go checkType), container_mounts (subPath made in its volume, subPathExpr from the
container's environment, read-only volumes, the errors of makeMounts), the host-mode
variable names, emptyDir usage as `du` counts it, and the local claim provisioner."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from minikubelet.core import claims, spec
from minikubelet.node.mounts import Mount, MountError, container_mounts, env_name
from minikubelet.runtime import volumefs


def test_host_path_types(tmp_path: Path) -> None:
    file, folder = tmp_path / "f", tmp_path / "d"
    file.write_text("x")
    folder.mkdir()
    check = volumefs.check_host_path
    assert check(str(file), "") is None
    assert check(str(tmp_path / "new"), "") is None  # made, as the runtime makes it
    assert (tmp_path / "new").is_dir()
    assert check(str(folder), "Directory") is None
    assert check(str(file), "File") is None
    assert check(str(file), "Directory") == f"hostPath type check failed: {file} is not a directory"
    assert check(str(folder), "File") == f"hostPath type check failed: {folder} is not a file"
    assert check(str(tmp_path / "none"), "Socket") == (
        f"hostPath type check failed: {tmp_path / 'none'} is not a socket file"
    )
    assert check(str(file), "CharDevice") == (
        f"hostPath type check failed: {file} is not a character device"
    )
    assert check("/dev/null", "CharDevice") is None
    assert check(str(file), "BlockDevice") == (
        f"hostPath type check failed: {file} is not a block device"
    )


def test_host_path_socket(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(str(path))
        assert volumefs.check_host_path(str(path), "Socket") is None
    finally:
        sock.close()


def test_host_path_or_create(tmp_path: Path) -> None:
    made = tmp_path / "a" / "b"
    assert volumefs.check_host_path(str(made), "DirectoryOrCreate") is None
    assert made.is_dir()
    assert volumefs.check_host_path(str(made / "f"), "FileOrCreate") is None
    assert (made / "f").is_file()
    # FileOrCreate makes no parent directory (os.OpenFile with O_CREATE)
    missing = tmp_path / "no" / "f"
    assert volumefs.check_host_path(str(missing), "FileOrCreate") == (
        f"open {missing}: no such file or directory"
    )
    # an existing file is not a directory, even for DirectoryOrCreate
    assert volumefs.check_host_path(str(made / "f"), "DirectoryOrCreate") == (
        f"hostPath type check failed: {made / 'f'} is not a directory"
    )


def test_env_names() -> None:
    assert env_name("app-data") == "MINIKUBELET_VOLUME_APP_DATA"
    assert env_name("cfg.v1") == "MINIKUBELET_VOLUME_CFG_V1"


def _container(*mounts: spec.VolumeMount) -> spec.Container:
    return spec.Container(name="app", volume_mounts=mounts)


def test_container_mounts(tmp_path: Path) -> None:
    data, cfg = tmp_path / "data", tmp_path / "cfg"
    data.mkdir()
    cfg.mkdir()
    (cfg / "app.yaml").write_text("x")
    container = _container(
        spec.VolumeMount(name="data", mount_path="/data"),
        spec.VolumeMount(name="data", mount_path="/logs", sub_path_expr="logs/$(POD_NAME)"),
        spec.VolumeMount(name="cfg", mount_path="/etc/app.yaml", sub_path="app.yaml"),
        spec.VolumeMount(name="data", mount_path="/ro", read_only=True),
    )
    mounts = container_mounts(
        container, {"data": data, "cfg": cfg}, {"POD_NAME": "web"}, frozenset({"cfg"})
    )
    assert mounts == [
        Mount(str(data), "/data"),
        Mount(str(data / "logs" / "web"), "/logs"),
        Mount(str(cfg / "app.yaml"), "/etc/app.yaml", read_only=True),
        Mount(str(data), "/ro", read_only=True),
    ]
    assert (data / "logs" / "web").is_dir()  # the subPath is made in the volume


def test_mount_errors(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    expr = _container(spec.VolumeMount(name="data", mount_path="/x", sub_path_expr="$(A)/$(B)"))
    with pytest.raises(MountError) as err:
        container_mounts(expr, {"data": data}, {"A": ""})
    assert (err.value.reason, str(err.value)) == (
        "CreateContainerConfigError",
        "missing value for A, B",
    )
    (data / "out").symlink_to("/etc")
    escape = _container(spec.VolumeMount(name="data", mount_path="/x", sub_path="out"))
    with pytest.raises(MountError) as err:
        container_mounts(escape, {"data": data}, {})
    assert err.value.reason == "CreateContainerConfigError"
    assert "not within volume path" in str(err.value)
    gone = tmp_path / "gone"
    plain = _container(spec.VolumeMount(name="data", mount_path="/x"))
    with pytest.raises(MountError) as err:
        container_mounts(plain, {"data": gone}, {})
    assert err.value.reason == "CreateContainerError"
    assert str(err.value) == (
        f'failed to mount "{gone}" at "/x": stat {gone}: no such file or directory'
    )


def test_disk_usage_counts_blocks_once(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    big = tmp_path / "sub" / "big"
    big.write_bytes(b"x" * (1 << 20))
    os.link(big, tmp_path / "again")  # a hard link is counted once, as du counts it
    used = volumefs.disk_usage(tmp_path)
    assert 1 << 20 <= used < (1 << 20) + 64 * 1024


def test_fresh_dir_is_empty_and_open_to_all(tmp_path: Path) -> None:
    path = tmp_path / "v"
    path.mkdir()
    (path / "old").write_text("x")
    volumefs.fresh_dir(path)
    assert list(path.iterdir()) == []
    assert path.stat().st_mode & 0o777 == 0o777


def test_a_claim_is_bound_once() -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": "default", "uid": "u1"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    bound = claims.bound(claim)
    assert bound is not None
    assert bound["status"] == {
        "phase": "Bound",
        "accessModes": ["ReadWriteOnce"],
        "capacity": {"storage": "1Gi"},
    }
    assert bound["spec"]["volumeName"] == "pvc-u1"
    assert bound["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert claims.bound(bound) is None
    assert claims.table_cells(bound) == ["Bound", "pvc-u1", "1Gi", "RWO", "", "<unset>"]
    assert claims.access_modes(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]) == "RWO,RWX"
