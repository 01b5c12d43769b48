"""The local file (`minikubelet.local.yaml`, `--overlay FILE`) and `--image GLOB=CMD` flags.

They say what an image would run, so a deployable manifest with only `image:` runs here
untouched. Untrusted text -> a validated `ImageOverlay`, or `OverlayError` naming the file and
the key. Shape:

    images:
      "ghcr.io/acme/api*": {command: [python3, -m, api], args: [--port, "8080"], workingDir: ./api}

`workingDir` is relative to the file's directory. Pure but for reading the file.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from minikubelet.core.images import LOCAL_FILE, ImageConfig, ImageOverlay, ImageRule
from minikubelet.manifest.documents import DocumentError, parse_text

_TOP_KEYS = ("images",)
_IMAGE_KEYS = ("command", "args", "workingDir")
MAX_LENGTH = 1 << 20


class OverlayError(Exception):
    """Bad local file or `--image` flag; the message names the file (or flag) and the key."""


def load_overlay(
    *,
    overlay_file: str | None,
    manifests: Sequence[str],
    image_flags: Sequence[str] = (),
) -> ImageOverlay:
    """`--image` flags first, then `--overlay FILE`, else the first `minikubelet.local.yaml`
    beside (or in, for a directory) a manifest; the built-in images come last (in
    `ImageOverlay.lookup`)."""
    rules = [parse_image_flag(flag) for flag in image_flags]
    path = Path(overlay_file) if overlay_file else _local_file(manifests)
    if path is not None:
        rules += parse_overlay_file(path)
    return ImageOverlay(rules=tuple(rules), file=str(path) if path else LOCAL_FILE)


def _local_file(manifests: Sequence[str]) -> Path | None:
    for manifest in manifests:
        if manifest == "-":
            continue
        base = Path(manifest)
        candidate = (base if base.is_dir() else base.parent) / LOCAL_FILE
        if candidate.is_file():
            return candidate
    return None


def parse_image_flag(flag: str) -> ImageRule:
    """`GLOB=CMD`: the command line split as a shell would; it becomes the ENTRYPOINT."""
    pattern, sep, command = flag.partition("=")
    if not sep or not pattern.strip():
        raise OverlayError(
            f"--image {flag!r}: expected IMAGE=COMMAND (e.g. 'nginx:*=python3 -m http.server 80')"
        )
    try:
        argv = shlex.split(command)
    except ValueError as e:
        raise OverlayError(f"--image {flag!r}: {e}") from None
    if not argv:
        raise OverlayError(f"--image {flag!r}: the command is empty")
    return ImageRule(pattern.strip(), ImageConfig(entrypoint=tuple(argv)), "--image")


def parse_overlay_file(path: Path) -> list[ImageRule]:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_LENGTH + 1)
    except OSError as e:
        raise OverlayError(f"{path}: cannot read: {e.strerror or e}") from None
    if len(data) > MAX_LENGTH:
        raise OverlayError(f"{path}: larger than {MAX_LENGTH} bytes")
    try:
        documents = parse_text(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise OverlayError(f"{path}: not UTF-8 text (byte {e.start}): {e.reason}") from None
    except DocumentError as e:
        raise OverlayError(f"{path}: {e}") from None
    documents = [d for d in documents if d is not None]
    if len(documents) > 1:
        raise OverlayError(f"{path}: expected one YAML document, found {len(documents)}")
    return overlay_rules(documents[0] if documents else {}, path)


def overlay_rules(document: Any, path: Path) -> list[ImageRule]:
    """Validates the parsed document; `workingDir` is made absolute against `path`'s dir."""
    if not isinstance(document, dict):
        raise OverlayError(f"{path}: expected a mapping with the key images")
    for key in document:
        if key not in _TOP_KEYS:
            raise OverlayError(f'{path}: unknown field "{key}" (known: {", ".join(_TOP_KEYS)})')
    images = document.get("images") or {}
    if not isinstance(images, dict):
        raise OverlayError(f"{path}: images: expected a mapping of image globs")
    return [_rule(pattern, entry, path) for pattern, entry in images.items()]


def _rule(pattern: str, entry: Any, path: Path) -> ImageRule:
    where = f"{path}: images[{pattern!r}]"
    if not pattern.strip():
        raise OverlayError(f"{where}: the image glob is empty")
    if not isinstance(entry, dict):
        raise OverlayError(f"{where}: expected a mapping with command, args or workingDir")
    for key in entry:
        if key not in _IMAGE_KEYS:
            raise OverlayError(f'{where}: unknown field "{key}" (known: {", ".join(_IMAGE_KEYS)})')
    command = _strings(entry.get("command"), f"{where}.command")
    args = _strings(entry.get("args"), f"{where}.args")
    if not command and not args:
        raise OverlayError(f"{where}: set command or args")
    working_dir = entry.get("workingDir", "")
    if not isinstance(working_dir, str):
        raise OverlayError(f"{where}.workingDir: expected a string")
    if working_dir:
        working_dir = str((path.parent / working_dir).resolve())
    config = ImageConfig(entrypoint=command, cmd=args, working_dir=working_dir)
    return ImageRule(pattern, config, str(path))


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise OverlayError(f"{where}: expected a list of strings")
    return tuple(value)
