"""QoS class, ported from pkg/apis/core/v1/helper/qos/qos_test.go TestGetPodQOS."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minikubelet.core.qos import BEST_EFFORT, BURSTABLE, GUARANTEED, qos_class
from minikubelet.core.spec import Container, PodSpec, Quantity, Resources

_SUFFIX = {"m": Decimal("0.001"), "Mi": Decimal(2**20), "Gi": Decimal(2**30)}


def q(text: str) -> Quantity:
    for suffix, factor in _SUFFIX.items():
        if text.endswith(suffix):
            return Quantity(text, Decimal(text[: -len(suffix)]) * factor)
    return Quantity(text, Decimal(text))


def rl(cpu: str = "", memory: str = "", **extra: str) -> dict[str, Quantity]:
    named = {"cpu": cpu, "memory": memory, **{k.replace("_", "-"): v for k, v in extra.items()}}
    return {name: q(value) for name, value in named.items() if value}


def c(name: str, requests: dict[str, Quantity], limits: dict[str, Quantity]) -> Container:
    return Container(name=name, resources=Resources(requests=requests, limits=limits))


def guaranteed(name: str = "guaranteed") -> Container:
    return c(name, rl("100m", "100Mi"), rl("100m", "100Mi"))


def best_effort(name: str = "best-effort") -> Container:
    return c(name, rl(), rl())


GPU = {"nvidia-gpu": q("2")}

CASES = [
    pytest.param([guaranteed()], GUARANTEED, id="one-container-requests-equal-limits"),
    pytest.param(
        [c("g", rl("100m", "100Mi"), {**rl("100m", "100Mi"), **GPU})],
        GUARANTEED,
        id="extended-resources-ignored",
    ),
    pytest.param([guaranteed("a"), guaranteed("b")], GUARANTEED, id="two-guaranteed-containers"),
    pytest.param([best_effort()], BEST_EFFORT, id="one-container-no-resources"),
    pytest.param([best_effort("a"), best_effort("b")], BEST_EFFORT, id="two-containers-none"),
    pytest.param([c("gpu", rl(), GPU)], BEST_EFFORT, id="only-extended-resource-limit"),
    pytest.param(
        [best_effort(), c("burstable", rl("1"), rl("2"))],
        BURSTABLE,
        id="besteffort-plus-cpu-request-below-limit",
    ),
    pytest.param(
        [best_effort(), guaranteed()], BURSTABLE, id="besteffort-plus-guaranteed-is-burstable"
    ),
    pytest.param(
        [c("mem", rl(memory="100Mi"), rl(memory="100Mi"))], BURSTABLE, id="memory-only-limit"
    ),
    pytest.param([c("req", rl("100m", "100Mi"), rl())], BURSTABLE, id="requests-only"),
    pytest.param(
        [c("b", rl("1", "100Mi"), rl("2", "100Mi")), guaranteed()],
        BURSTABLE,
        id="cpu-request-below-limit-plus-guaranteed",
    ),
    pytest.param(
        [c("b", rl("100m", "100Mi"), rl("200m", "200Mi")), c("u", rl("100m", "100Mi"), rl())],
        BURSTABLE,
        id="requests-sum-to-limits-but-one-unbounded",
    ),
    pytest.param(
        [c("b", rl("10m", "100Mi"), rl("100m", "200Mi"))], BURSTABLE, id="requests-below-limits"
    ),
    pytest.param(
        [c("b", rl("0", "0"), {**rl("100m", "200Mi"), **GPU})],
        BURSTABLE,
        id="zero-requests-with-limits",
    ),
    pytest.param(
        [c("h", rl("0", "0", hugepages_2Mi="1Gi"), rl("0", "0", hugepages_2Mi="1Gi"))],
        BEST_EFFORT,
        id="hugepages-and-zeros-ignored",
    ),
]


@pytest.mark.parametrize(("containers", "expected"), CASES)
def test_qos_class(containers: list[Container], expected: str) -> None:
    assert qos_class(PodSpec(containers=tuple(containers))) == expected


def test_burstable_init_container_counts() -> None:
    spec = PodSpec(
        containers=(best_effort(),),
        init_containers=(c("init", rl("10m", "100Mi"), rl("100m", "200Mi")),),
    )
    assert qos_class(spec) == BURSTABLE


def test_guaranteed_init_container_keeps_guaranteed_pod() -> None:
    spec = PodSpec(containers=(guaranteed(),), init_containers=(guaranteed("init"),))
    assert qos_class(spec) == GUARANTEED


def test_limits_only_are_copied_into_requests() -> None:
    # SetDefaults_Pod copies limits into missing requests, which makes this pod Guaranteed.
    assert qos_class(PodSpec(containers=(c("lim", rl(), rl("100m", "100Mi")),))) == GUARANTEED


def test_limit_copied_only_where_request_missing() -> None:
    spec = PodSpec(containers=(c("cpu-req", rl(cpu="50m"), rl("100m", "100Mi")),))
    assert qos_class(spec) == BURSTABLE


def test_equal_values_written_differently_are_equal() -> None:
    spec = PodSpec(containers=(c("g", rl("1", "1Gi"), rl("1000m", "1024Mi")),))
    assert qos_class(spec) == GUARANTEED
