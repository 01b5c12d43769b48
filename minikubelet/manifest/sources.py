"""Where manifests come from, read as the kubelet's file source reads them: a file (10 MiB
at most, as the kubelet), standard input, or a directory's files (`dir/[^.]*`, sorted, no
recursion; the local file and kustomize's own are not manifests); a problem is one line in
the caller's list, never an exception.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

from minikubelet.core.images import LOCAL_FILE

MAX_CONFIG_LENGTH = 10 * 1 << 20  # kubelet: pkg/kubelet/config maxConfigLength


def display(source: str) -> str:
    return "<stdin>" if source == "-" else source


def read_sources(path: str, stdin: TextIO | None, lines: list[str]) -> list[tuple[str, str]]:
    """(source, text) for a file, stdin, or each manifest of a directory."""
    try:
        if path == "-":
            return [("-", _read_stdin(stdin))]
        if os.path.isdir(path):
            return [(str(file), _read_file(file)) for file in _directory_files(Path(path))]
        return [(path, _read_file(Path(path)))]
    except OSError as err:
        lines.append(f"{display(path)}: cannot read: {err.strerror or err}")
    except _TooLarge:
        lines.append(f"{display(path)}: {_TooLarge.message}")
    except UnicodeDecodeError as err:
        lines.append(f"{display(path)}: not UTF-8 text (byte {err.start}): {err.reason}")
    return []


class _TooLarge(Exception):
    message = f"larger than {MAX_CONFIG_LENGTH} bytes, the most the kubelet reads from a manifest"


def _read_file(path: Path) -> str:
    with path.open("rb") as handle:
        data = handle.read(MAX_CONFIG_LENGTH + 1)
    if len(data) > MAX_CONFIG_LENGTH:
        raise _TooLarge
    return data.decode("utf-8")


def _read_stdin(stdin: TextIO | None) -> str:
    if stdin is None:
        raise OSError(0, "no standard input to read")
    text = stdin.read(MAX_CONFIG_LENGTH + 1)
    if len(text) > MAX_CONFIG_LENGTH:
        raise _TooLarge
    return text


# not manifests: the local file, and kustomize's own file (render with `kubectl kustomize`)
NOT_MANIFESTS = frozenset({LOCAL_FILE, "kustomization.yaml", "kustomization.yml", "Kustomization"})


def _directory_files(directory: Path) -> list[Path]:
    """kubelet: file.go lists `dir/[^.]*`, sorted, regular files only, no recursion; the
    local file (`minikubelet.local.yaml`) and a `kustomization.yaml` are not manifests."""
    names = sorted(
        p for p in directory.iterdir() if not p.name.startswith(".") and p.name not in NOT_MANIFESTS
    )
    return [p for p in names if p.is_file()]
