"""The node the daemon is, as its controllers see it: the kubelet's well-known labels
(kubelet_node_status.go initialNode) on a Node with no taints. Pure: the architecture is given
(`platform.machine()` in Kubernetes' spelling)."""

from __future__ import annotations

from typing import Any

GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm"}


def go_arch(machine: str) -> str:
    return GO_ARCH.get(machine, machine)


def node_labels(name: str, arch: str) -> dict[str, str]:
    return {
        "beta.kubernetes.io/arch": arch,
        "beta.kubernetes.io/os": "linux",
        "kubernetes.io/arch": arch,
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
    }


def scheduling_node(name: str, arch: str) -> dict[str, Any]:
    """The Node's name, labels and (empty) spec: what nodeSelector, affinity and taints are
    evaluated against."""
    return {"metadata": {"name": name, "labels": node_labels(name, arch)}, "spec": {}}
