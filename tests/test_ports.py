"""Ports on one shared network: the NodePorts fit and the unscheduled status (pure)."""

from __future__ import annotations

from minikubelet.core import ports
from minikubelet.core.model import Phase
from minikubelet.core.serialize import pod_status_json
from minikubelet.core.spec import Container, ContainerPort, Pod, PodSpec
from minikubelet.core.status import unscheduled_pod_status


def pod(name: str, *specs: tuple[int, str], init: tuple[tuple[int, str], ...] = ()) -> Pod:
    def container(n: str, p: tuple[tuple[int, str], ...], **kw: str) -> Container:
        cports = tuple(ContainerPort(container_port=port, protocol=proto) for port, proto in p)
        return Container(name=n, image="busybox", command=("true",), ports=cports, **kw)

    return Pod(
        name=name,
        spec=PodSpec(
            containers=(container("app", specs),),
            init_containers=(container("side", init, restart_policy="Always"),) if init else (),
        ),
    )


def test_ports_of_all_containers_sidecars_included() -> None:
    p = pod("a", (80, "TCP"), init=((9000, "UDP"),))
    assert ports.pod_ports(p) == {(80, "TCP"), (9000, "UDP")}


def test_fit_is_port_and_protocol() -> None:
    assert not ports.fits(pod("b", (80, "TCP")), {(80, "TCP")})
    assert ports.fits(pod("b", (80, "UDP")), {(80, "TCP")})
    assert ports.fits(pod("b", (81, "TCP")), {(80, "TCP")})
    assert ports.fits(pod("b"), {(80, "TCP")})
    assert not ports.fits(pod("b", init=((80, "TCP"),)), {(80, "TCP")})


def test_of_two_waiting_pods_wanting_one_port_the_first_gets_it() -> None:
    first, second, other = pod("a", (80, "TCP")), pod("b", (80, "TCP")), pod("c", (81, "TCP"))
    assert ports.schedule([first, second, other], set()) == [first, other]
    assert ports.schedule([first, second, other], {(81, "TCP")}) == [first]


def test_the_schedulers_message() -> None:
    assert ports.NO_FREE_PORTS == (
        "0/1 nodes are available: 1 node(s) didn't have free ports for the requested pod "
        "ports. preemption: 0/1 nodes are available: 1 No preemption victims found for "
        "incoming pod."
    )


def test_unscheduled_status_is_pending_with_only_pod_scheduled_false() -> None:
    p = pod("a", (80, "TCP"))
    status = unscheduled_pod_status(
        p, reason="Unschedulable", message=ports.NO_FREE_PORTS, previous=None, now=100.0
    )
    assert status.phase == Phase.PENDING
    assert status.container_statuses == ()
    data = pod_status_json(status)
    assert data == {
        "phase": "Pending",
        "conditions": [
            {
                "type": "PodScheduled",
                "status": "False",
                "lastProbeTime": None,
                "lastTransitionTime": "1970-01-01T00:01:40Z",
                "reason": "Unschedulable",
                "message": ports.NO_FREE_PORTS,
            }
        ],
        "qosClass": "BestEffort",
    }
    again = unscheduled_pod_status(
        p, reason="Unschedulable", message=ports.NO_FREE_PORTS, previous=status, now=200.0
    )
    assert again.conditions[0].last_transition_time == 100.0
