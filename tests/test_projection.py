"""What projection volumes hold (core/projection.py) and how they reach the disk
(runtime/atomicwriter.py): file sets, modes, items, optional sources, downward API values,
projected sources, and the atomic writer's `..data` layout, under a concurrent reader."""

from __future__ import annotations

import base64
import os
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from minikubelet.core import projection as pj
from minikubelet.core import spec
from minikubelet.runtime import atomicwriter

POD = spec.Pod(
    name="web",
    namespace="team",
    uid="1234",
    labels={"app": "web", "tier": 'front"end'},
    annotations={"note": "a\nb"},
    spec=spec.PodSpec(containers=(spec.Container(name="app"),)),
)
STORE: dict[tuple[str, str, str], dict[str, Any]] = {
    ("configmaps", "team", "settings"): {
        "data": {"app.yaml": "mode: demo\n", "level": "debug"},
        "binaryData": {"blob": base64.b64encode(b"\x00\x01").decode()},
    },
    ("secrets", "team", "db"): {"data": {"password": base64.b64encode(b"hunter2").decode()}},
}


def lookup(resource: str, namespace: str, name: str) -> dict[str, Any] | None:
    return STORE.get((resource, namespace, name))


def resource_value(ref: spec.ResourceFieldSelector) -> str:
    return f"{ref.container_name}:{ref.resource}"


def payload(source: spec.VolumeSource, token: str = "") -> dict[str, tuple[bytes, int]]:
    files = pj.payload(source, POD, lookup, resource_value=resource_value, token=token)
    return {path: (f.data, f.mode) for path, f in files.items()}


def test_configmap_every_key_at_the_default_mode() -> None:
    source = spec.ObjectSource(kind="ConfigMap", name="settings", default_mode=0o640)
    assert payload(source) == {
        "app.yaml": (b"mode: demo\n", 0o640),
        "level": (b"debug", 0o640),
        "blob": (b"\x00\x01", 0o640),
    }


def test_items_choose_keys_paths_and_modes() -> None:
    source = spec.ObjectSource(
        kind="ConfigMap",
        name="settings",
        items=(
            spec.KeyToPath(key="app.yaml", path="conf/app.yaml"),
            spec.KeyToPath(key="level", path="level.txt", mode=0o600),
        ),
    )
    assert payload(source) == {
        "conf/app.yaml": (b"mode: demo\n", 0o644),
        "level.txt": (b"debug", 0o600),
    }


def test_secret_data_is_decoded() -> None:
    source = spec.ObjectSource(kind="Secret", name="db", default_mode=0o400)
    assert payload(source) == {"password": (b"hunter2", 0o400)}


def test_missing_objects_and_keys_in_the_kubelets_words() -> None:
    with pytest.raises(pj.ProjectionError, match=r'^configmap "nope" not found$'):
        payload(spec.ObjectSource(kind="ConfigMap", name="nope"))
    with pytest.raises(pj.ProjectionError, match=r'^secret "nope" not found$'):
        payload(spec.ObjectSource(kind="Secret", name="nope"))
    missing_key = spec.ObjectSource(
        kind="ConfigMap", name="settings", items=(spec.KeyToPath(key="x", path="x"),)
    )
    with pytest.raises(
        pj.ProjectionError, match=r"^configmap references non-existent config key: x$"
    ):
        payload(missing_key)
    secret_key = spec.ObjectSource(
        kind="Secret", name="db", items=(spec.KeyToPath(key="x", path="x"),)
    )
    with pytest.raises(pj.ProjectionError, match=r"^references non-existent secret key: x$"):
        payload(secret_key)


def test_optional_sources_project_what_exists() -> None:
    assert payload(spec.ObjectSource(kind="ConfigMap", name="nope", optional=True)) == {}
    source = spec.ObjectSource(
        kind="Secret",
        name="db",
        optional=True,
        items=(spec.KeyToPath(key="x", path="x"), spec.KeyToPath(key="password", path="p")),
    )
    assert payload(source) == {"p": (b"hunter2", 0o644)}


def test_downward_api_values() -> None:
    field = spec.ObjectFieldSelector
    source = spec.DownwardAPISource(
        items=(
            spec.DownwardAPIFile(path="labels", field_ref=field(field_path="metadata.labels")),
            spec.DownwardAPIFile(
                path="notes", field_ref=field(field_path="metadata.annotations"), mode=0o600
            ),
            spec.DownwardAPIFile(path="./name", field_ref=field(field_path="metadata.name")),
            spec.DownwardAPIFile(path="ns", field_ref=field(field_path="metadata.namespace")),
            spec.DownwardAPIFile(path="app", field_ref=field(field_path="metadata.labels['app']")),
            spec.DownwardAPIFile(
                path="mem",
                resource_field_ref=spec.ResourceFieldSelector(
                    resource="limits.memory",
                    container_name="app",
                    divisor=spec.Quantity("1Mi", Decimal(1 << 20)),
                ),
            ),
        )
    )
    assert payload(source) == {
        # fieldpath.FormatMap: sorted `key="value"` lines, Go-quoted
        "labels": (b'app="web"\ntier="front\\"end"', 0o644),
        "notes": (b'note="a\\nb"', 0o600),
        "name": (b"web", 0o644),
        "ns": (b"team", 0o644),
        "app": (b"web", 0o644),
        "mem": (b"app:limits.memory", 0o644),
    }


def test_projected_sources_merge_with_the_projections_mode() -> None:
    """The kube-api-access-* layout: token, ca.crt, namespace."""
    STORE[("configmaps", "team", "kube-root-ca.crt")] = {"data": {"ca.crt": "PEM"}}
    source = spec.ProjectedSource(
        default_mode=0o444,
        sources=(
            spec.ServiceAccountTokenSource(path="token"),
            spec.ObjectSource(kind="ConfigMap", name="kube-root-ca.crt", default_mode=None,
                              items=(spec.KeyToPath(key="ca.crt", path="ca.crt"),)),
            spec.DownwardAPISource(items=(spec.DownwardAPIFile(
                path="namespace",
                field_ref=spec.ObjectFieldSelector(field_path="metadata.namespace")),),
                default_mode=None),
        ),
    )  # fmt: skip
    assert payload(source, token="abc") == {
        "token": (b"abc", 0o444),
        "ca.crt": (b"PEM", 0o444),
        "namespace": (b"team", 0o444),
    }


def test_projected_errors_are_aggregated() -> None:
    source = spec.ProjectedSource(
        sources=(
            spec.ObjectSource(kind="ConfigMap", name="a", default_mode=None),
            spec.ObjectSource(kind="Secret", name="b", default_mode=None),
        )
    )
    with pytest.raises(pj.ProjectionError) as err:
        payload(source)
    assert str(err.value) == '[configmap "a" not found, secret "b" not found]'


@pytest.mark.parametrize(
    ("path", "problem"),
    [
        ("/abs", "invalid path: must be relative path: /abs"),
        ("a/../b", "invalid path: must not contain '..': a/../b"),
        ("..data", "invalid path: must not start with '..': ..data"),
    ],
)
def test_the_writer_refuses_bad_paths(tmp_path: Path, path: str, problem: str) -> None:
    with pytest.raises(atomicwriter.WriteError, match=problem.replace("(", r"\(")):
        atomicwriter.write(tmp_path / "v", {path: pj.FileProjection(b"x", 0o644)})


def _files(**data: str) -> dict[str, pj.FileProjection]:
    return {k.replace("__", "/"): pj.FileProjection(v.encode(), 0o644) for k, v in data.items()}


def test_atomic_writer_layout(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomicwriter.write(target, _files(a="1", conf__b="2"))
    names = sorted(os.listdir(target))
    stamped = [n for n in names if n.startswith("..2")]
    assert len(stamped) == 1
    assert names == sorted([*stamped, "..data", "a", "conf"])
    assert os.readlink(target / "..data") == stamped[0]
    assert os.readlink(target / "a") == "..data/a"
    assert os.readlink(target / "conf") == "..data/conf"
    assert (target / "conf" / "b").read_text() == "2"
    assert not atomicwriter.write(target, _files(a="1", conf__b="2"))  # unchanged: no write
    assert atomicwriter.write(target, _files(a="3", c="4"))
    names = sorted(os.listdir(target))
    assert "conf" not in names  # a name that went is removed
    assert len([n for n in names if n.startswith("..2")]) == 1  # the old set is removed
    assert (target / "a").read_text() == "3"
    assert (target / "c").read_text() == "4"


def test_modes_are_set_whatever_the_umask(tmp_path: Path) -> None:
    files = {"secret": pj.FileProjection(b"s", 0o400), "open": pj.FileProjection(b"o", 0o666)}
    old = os.umask(0o077)
    try:
        atomicwriter.write(tmp_path / "v", files)
    finally:
        os.umask(old)
    assert os.stat(tmp_path / "v" / "secret").st_mode & 0o777 == 0o400
    assert os.stat(tmp_path / "v" / "open").st_mode & 0o777 == 0o666


def test_a_reader_never_sees_a_half_written_set(tmp_path: Path) -> None:
    """Through `..data` a reader gets one version of both files, never a mix or a partial
    file, through `..data` or through the user-visible name."""
    target = tmp_path / "vol"
    big = 64 * 1024
    atomicwriter.write(target, _files(a="0" * big, b="0" * big))
    problems: list[str] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                data_dir = os.path.realpath(target / "..data")
                a = Path(data_dir, "a").read_text()
                b = Path(data_dir, "b").read_text()
            except FileNotFoundError:
                continue  # that version was removed after the swap: read the new one
            if a != b or len(a) != big or len(set(a)) != 1:
                problems.append(f"mixed or partial: {a[:1]}x{len(a)} {b[:1]}x{len(b)}")
            try:
                visible = (target / "a").read_text()
            except FileNotFoundError:  # resolved `..data` just before the old set went
                continue
            if len(visible) != big:
                problems.append(f"partial visible file: {len(visible)} bytes")

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for n in range(1, 60):
            atomicwriter.write(target, _files(a=str(n % 10) * big, b=str(n % 10) * big))
    finally:
        done.set()
        reader.join()
    assert problems == []
