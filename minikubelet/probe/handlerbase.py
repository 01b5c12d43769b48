"""What every probe handler shares: the outcome types (the kubelet's probe.Result), the error
a probe that cannot run raises, the output limit, the user agent, and the port resolution
(named ports, Go's strconv.Atoi errors). `handlers.py` re-exports the outcome types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from minikubelet import KUBERNETES_VERSION
from minikubelet.core.gotext import quote as go_quote
from minikubelet.core.spec import Container

MAX_OUTPUT = 10 * 1024  # kubelet: exec.go maxReadLength, http.go maxRespBodyLength


class ProbeResultKind(StrEnum):
    """kubelet: pkg/probe/probe.go Result."""

    SUCCESS = "success"
    WARNING = "warning"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class ProbeOutcome:
    result: ProbeResultKind
    output: str = ""


class ProbeError(Exception):
    """The probe could not be run. `result` is the kind the kubelet reports with the error
    (`... errored and resulted in unknown state: ...`)."""

    def __init__(self, message: str, result: ProbeResultKind = ProbeResultKind.UNKNOWN) -> None:
        super().__init__(message)
        self.message = message
        self.result = result

    def __str__(self) -> str:
        return self.message


def user_agent(kind: str) -> str:
    """`kube-probe/1.34`, `kube-lifecycle/1.34` (kubelet: probe/http/request.go userAgent)."""
    major, minor = KUBERNETES_VERSION[0], KUBERNETES_VERSION[1]
    return f"kube-{kind}/{major}.{minor}"


def decode_output(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


_ATOI = re.compile(r"[+-]?[0-9]+")


def resolve_port(port: int | str, container: Container) -> int:
    """kubelet: pkg/probe/util.go ResolveContainerPort."""
    if isinstance(port, int):
        value = port
    else:
        named = [p.container_port for p in container.ports if p.name == port]
        value = named[0] if named else _atoi(port)
    if 0 < value < 65536:
        return value
    raise ProbeError(f"invalid port number: {value}")


def _atoi(text: str) -> int:
    """Go's strconv.Atoi, with its error texts."""
    if not _ATOI.fullmatch(text):
        raise ProbeError(f"strconv.Atoi: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    if not -(1 << 63) <= value < (1 << 63):
        raise ProbeError(f"strconv.Atoi: parsing {go_quote(text)}: value out of range")
    return value
