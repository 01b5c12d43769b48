"""What an image-only container runs: the combination rule, the local file, `--image`."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikubelet.core.images import (
    LOCAL_FILE,
    Command,
    ImageConfig,
    ImageOverlay,
    ImageRule,
    NoMapping,
    resolve,
)
from minikubelet.core.spec import Container
from minikubelet.manifest.overlay import (
    OverlayError,
    load_overlay,
    parse_image_flag,
    parse_overlay_file,
)

IMAGE = ImageConfig(entrypoint=("/entry", "e1"), cmd=("c1", "c2"), working_dir="/img")
OVERLAY = ImageOverlay(rules=(ImageRule("app:*", IMAGE),))


# The docs' "Define a Command and Arguments for a Container" notes table, row by row.
@pytest.mark.parametrize(
    ("command", "args", "argv"),
    [
        ((), (), ("/entry", "e1", "c1", "c2")),  # neither: ENTRYPOINT + CMD
        (("/cmd",), (), ("/cmd",)),  # command: replaces ENTRYPOINT, drops CMD
        ((), ("a1",), ("/entry", "e1", "a1")),  # args: ENTRYPOINT + args
        (("/cmd",), ("a1",), ("/cmd", "a1")),  # both: command + args
    ],
    ids=["neither", "command-only", "args-only", "both"],
)
def test_kubernetes_command_and_args_rule(
    command: tuple[str, ...], args: tuple[str, ...], argv: tuple[str, ...]
) -> None:
    c = Container(name="c", image="app:1", command=command, args=args)
    assert resolve(c, OVERLAY) == Command(argv, "/img")


def test_the_containers_working_dir_wins_over_the_images() -> None:
    c = Container(name="c", image="app:1", working_dir="/mine")
    assert resolve(c, OVERLAY) == Command(("/entry", "e1", "c1", "c2"), "/mine")


def test_a_command_needs_no_mapping() -> None:
    c = Container(name="c", image="unknown:1", command=("sleep",), args=("1",))
    assert resolve(c, ImageOverlay()) == Command(("sleep", "1"), "")


@pytest.mark.parametrize(
    "image", ["busybox", "busybox:1.36", "registry.k8s.io/busybox", "alpine", "python:3.11"]
)
def test_base_images_run_args_as_the_command_line(image: str) -> None:
    c = Container(name="c", image=image, args=("sh", "-c", "echo hi"))
    assert resolve(c, ImageOverlay()) == Command(("sh", "-c", "echo hi"), "")


def test_a_base_image_with_neither_runs_its_cmd() -> None:
    assert resolve(Container(name="c", image="busybox"), ImageOverlay()) == Command(("sh",), "")


def test_the_file_overrides_a_base_image_and_the_first_match_wins() -> None:
    overlay = ImageOverlay(
        rules=(
            ImageRule("busybox:*", ImageConfig(entrypoint=("first",))),
            ImageRule("busybox*", ImageConfig(entrypoint=("second",))),
        )
    )
    assert resolve(Container(name="c", image="busybox:1"), overlay) == Command(("first",), "")


def test_an_unmapped_image_names_the_file_and_the_line_to_add() -> None:
    c = Container(name="c", image="nginx:1.25")
    result = resolve(c, ImageOverlay(file="/x/minikubelet.local.yaml"))
    assert result == NoMapping(
        'no local command for image "nginx:1.25": add it under images: in '
        '/x/minikubelet.local.yaml (e.g. "nginx:*": {command: [...]}) '
        "or pass --image 'nginx:1.25=CMD'"
    )


def test_args_only_with_an_unmapped_image_has_no_mapping() -> None:
    c = Container(name="c", image="ghcr.io/acme/api:2", args=("--port", "80"))
    assert isinstance(resolve(c, ImageOverlay()), NoMapping)


# --- the local file and the flag -------------------------------------------------------------


def test_image_flag_is_split_as_a_shell_would() -> None:
    rule = parse_image_flag("ghcr.io/acme/api*=python3 -m api --name 'a b'")
    assert rule.pattern == "ghcr.io/acme/api*"
    assert rule.config.entrypoint == ("python3", "-m", "api", "--name", "a b")


@pytest.mark.parametrize("flag", ["nginx", "=x", "nginx=", "nginx='open"])
def test_bad_image_flags(flag: str) -> None:
    with pytest.raises(OverlayError, match="--image"):
        parse_image_flag(flag)


def test_file_parses_and_working_dir_is_relative_to_it(tmp_path: Path) -> None:
    path = tmp_path / LOCAL_FILE
    path.write_text(
        "images:\n"
        '  "ghcr.io/acme/api*": {command: [python3, -m, api], args: [--port, "8080"], '
        "workingDir: ./api}\n"
        '  "nginx:*": {command: [python3, -m, http.server, "80"]}\n'
    )
    rules = parse_overlay_file(path)
    assert [r.pattern for r in rules] == ["ghcr.io/acme/api*", "nginx:*"]
    assert rules[0].config == ImageConfig(
        entrypoint=("python3", "-m", "api"),
        cmd=("--port", "8080"),
        working_dir=str((tmp_path / "api").resolve()),
    )


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("imagez: {}\n", 'unknown field "imagez"'),
        ("images: [a]\n", "images: expected a mapping"),
        ('images: {"a*": {cmd: [x]}}\n', "images['a*']: unknown field \"cmd\""),
        ('images: {"a*": {command: x}}\n', "images['a*'].command: expected a list of strings"),
        ('images: {"a*": {args: [1]}}\n', "images['a*'].args: expected a list of strings"),
        ('images: {"a*": {command: [x], workingDir: 3}}\n', "workingDir: expected a string"),
        ('images: {"a*": {}}\n', "set command or args"),
        ('images: {"a*": [x]}\n', "expected a mapping with command"),
        ("images: {a: [\n", "line 2"),
        ("- 1\n", "expected a mapping"),
    ],
)
def test_bad_files_name_the_file_and_the_key(tmp_path: Path, text: str, needle: str) -> None:
    path = tmp_path / "local.yaml"
    path.write_text(text)
    with pytest.raises(OverlayError) as err:
        parse_overlay_file(path)
    assert str(err.value).startswith(f"{path}: ")
    assert needle in str(err.value)


def test_the_local_file_beside_a_manifest_is_read_and_flags_come_first(tmp_path: Path) -> None:
    (tmp_path / LOCAL_FILE).write_text('images: {"app*": {command: [from-file]}}\n')
    manifest = tmp_path / "pod.yaml"
    manifest.write_text("")
    overlay = load_overlay(overlay_file=None, manifests=[str(manifest)], image_flags=["app*=flag"])
    assert overlay.file == str(tmp_path / LOCAL_FILE)
    assert overlay.lookup("app:1") == ImageConfig(entrypoint=("flag",))
    alone = load_overlay(overlay_file=None, manifests=[str(tmp_path)])
    assert alone.lookup("app:1") == ImageConfig(entrypoint=("from-file",))


def test_no_local_file_gives_only_the_built_ins(tmp_path: Path) -> None:
    overlay = load_overlay(overlay_file=None, manifests=[str(tmp_path / "pod.yaml"), "-"])
    assert overlay.rules == ()
    assert overlay.file == LOCAL_FILE


def test_a_missing_overlay_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OverlayError, match="cannot read"):
        load_overlay(overlay_file=str(tmp_path / "nope.yaml"), manifests=[])
