"""The kubelet's atomic writer (pkg/volume/util/atomic_writer.go): a projection volume's files
are written into a new hidden `..<timestamp>` directory, the `..data` symlink is pointed at
it by a rename (atomic), and each user-visible name is a symlink into `..data`. A reader that
opens `config/app.yaml` gets the whole old set or the whole new one, never a file being
written. Blocking file IO: callers run it in a thread.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from minikubelet.core.projection import FileProjection, check_payload

DATA_DIR = "..data"
DATA_TMP = "..data_tmp"


class WriteError(Exception):
    """The payload could not be written; the message is the writer's."""


def write(target: Path, payload: Mapping[str, FileProjection]) -> bool:
    """AtomicWriter.Write: the volume at `target` holds exactly `payload` afterwards.
    Returns False if it already did (nothing is written: upstream's shouldWritePayload)."""
    problem = check_payload(payload)
    if problem is not None:
        raise WriteError(problem)
    files = {posixpath.normpath(path): f for path, f in payload.items()}
    target.mkdir(parents=True, exist_ok=True)
    old = _current_dir(target)
    old_names = _visible_names(target)
    new_names = {path.split("/", 1)[0] for path in files}
    if old is not None and _holds(target / old, files) and old_names == new_names:
        return False
    stamp = time.strftime("..%Y_%m_%d_%H_%M_%S.", time.gmtime())
    new = Path(tempfile.mkdtemp(prefix=stamp, dir=target))
    os.chmod(new, 0o755)
    _write_files(new, files)
    tmp = target / DATA_TMP
    if os.path.lexists(tmp):
        os.unlink(tmp)
    os.symlink(new.name, tmp)
    os.rename(tmp, target / DATA_DIR)
    for name in sorted(new_names - old_names):  # createUserVisibleFiles
        link = target / name
        if not os.path.lexists(link):
            os.symlink(posixpath.join(DATA_DIR, name), link)
    for name in sorted(old_names - new_names):  # removeUserVisiblePaths
        os.unlink(target / name)
    if old is not None and old != new.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _current_dir(target: Path) -> str | None:
    try:
        return os.readlink(target / DATA_DIR)
    except OSError:
        return None


def _visible_names(target: Path) -> set[str]:
    """The user-visible symlinks into `..data` (upstream removes only those)."""
    names = set()
    for entry in os.scandir(target):
        if entry.name.startswith(".."):
            continue
        if entry.is_symlink() and os.readlink(entry.path).startswith(DATA_DIR + "/"):
            names.add(entry.name)
    return names


def _holds(directory: Path, files: Mapping[str, FileProjection]) -> bool:
    """True if `directory` holds exactly `files`, with the same bytes and modes."""
    found = {}
    for root, _dirs, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            found[os.path.relpath(path, directory)] = path
    if set(found) != set(files):
        return False
    for rel, path in found.items():
        want = files[rel]
        try:
            if os.stat(path).st_mode & 0o7777 != want.mode:
                return False
            with open(path, "rb") as handle:
                if handle.read() != want.data:
                    return False
        except OSError:
            return False
    return True


def _write_files(directory: Path, files: Mapping[str, FileProjection]) -> None:
    """writePayloadToDir: parents 0755, each file written then given its mode."""
    for rel, projection in sorted(files.items()):
        path = directory / rel
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        with open(path, "wb") as handle:
            handle.write(projection.data)
        os.chmod(path, projection.mode)
