"""What every part of a pod's validation shares: the dict type, the context a container's
rules need from the rest of the pod, and the `execve` string rule.

They sit apart from `validation.py` so that the volume, env, handler and update rules can
live in their own modules without importing the pod-level module back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minikubelet.manifest import fielderrors as fe

JSON = Mapping[str, Any]


def words(text: str) -> list[str]:
    return text.split()


@dataclass(frozen=True, slots=True)
class Ctx:
    """What a container's validation needs from the rest of the pod."""

    grace: int
    volumes: frozenset[str]
    containers: frozenset[str]
    grpc_available: Callable[[], bool]


def exec_string(value: str, path: str) -> list[str]:
    """What `execve` cannot take: a NUL byte ends a C string, and text that is not UTF-8 (a
    lone surrogate, from a JSON `\\ud800` or a YAML `"\\ud800"`) has no bytes to pass. The
    API server stores both (Go's decoder turns bad UTF-8 into U+FFFD), and the node fails
    later: the runtime's `invalid argument`, or CRI's `string field contains invalid UTF-8`
    as CreateContainerError (kubernetes issue 139132). Refusing them here names the field."""
    if "\0" in value:
        return [fe.invalid(path, value, "must not contain a NUL byte")]
    try:
        value.encode()
    except UnicodeEncodeError:
        return [fe.invalid(path, value, "must be valid UTF-8 text")]
    return []


def exec_strings(values: list[str], path: str) -> list[str]:
    errors = []
    for i, value in enumerate(values):
        errors += exec_string(value, f"{path}[{i}]")
    return errors
