"""The CI-mode report: what a developer reads in a CI log after `--until`.

A snapshot is taken when the verdict is reached (before the pods are stopped, so it shows the
state that decided it); `render()` turns it into plain text: the verdict, then per pod its
phase and conditions, and per container its state, restarts, readiness, its last probe
failures with their messages, and the last lines of its log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from minikubelet.core import timeline
from minikubelet.core.model import ContainerStatus, Running, Terminated
from minikubelet.core.rollout import Standing
from minikubelet.core.serialize import rfc3339
from minikubelet.node.termination import tail_log_text
from minikubelet.runtime.crilog import log_files

if TYPE_CHECKING:
    from minikubelet.node.pod import PodRunner
    from minikubelet.node.supervisor import ContainerSupervisor

LOG_LINES = 10
PROBE_FAILURES = 5


@dataclass(frozen=True, slots=True)
class ContainerReport:
    name: str
    kind: str  # "container" | "init container" | "sidecar"
    state: str
    restarts: int
    ready: bool
    probe_failures: tuple[str, ...]
    log_tail: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PodReport:
    name: str
    phase: str
    conditions: tuple[str, ...]
    containers: tuple[ContainerReport, ...]


@dataclass(frozen=True, slots=True)
class WorkloadReport:
    """A workload `--until` judged: kubectl's words for where it is, its conditions, and
    the pods (namespace/name) that hold it back."""

    title: str  # "deployment default/web"
    message: str
    conditions: tuple[str, ...]
    held: tuple[str, ...]
    done: bool = False  # rolled out, or the Job Complete


@dataclass(frozen=True, slots=True)
class Snapshot:
    verdict: str
    elapsed: float
    pods: tuple[PodReport, ...]
    workloads: tuple[WorkloadReport, ...] = ()


def describe_state(status: ContainerStatus) -> str:
    state = status.state
    if isinstance(state, Running):
        return f"Running since {rfc3339(state.started_at)}"
    if isinstance(state, Terminated):
        text = f"Terminated: {state.reason or 'Error'} (exit code {state.exit_code})"
        return text + (f": {state.message.strip()}" if state.message else "")
    return f"Waiting: {state.reason}" + (f": {state.message}" if state.message else "")


def _container(runner: PodRunner, sup: ContainerSupervisor, has_init: bool) -> ContainerReport:
    status = sup.status(pod_has_init=has_init)
    failures = [
        f"{rfc3339(e.last_timestamp)} {e.message.strip()}"
        + (f" (x{e.count})" if e.count > 1 else "")
        for e in runner.events.for_pod(runner.pod)
        if e.field_path == sup.field_path and e.reason in ("Unhealthy", "ProbeWarning")
    ]
    cur = sup.current
    tail: list[str] = []
    if cur is not None:
        files = log_files(cur.log_path, runner.settings.log_max_files)
        tail = tail_log_text(files, lines=LOG_LINES, max_bytes=4096).splitlines()
    kind = "container"
    if sup.init:
        kind = "sidecar" if sup.container.is_sidecar else "init container"
    return ContainerReport(
        name=sup.container.name,
        kind=kind,
        state=describe_state(status),
        restarts=status.restart_count,
        ready=status.ready,
        probe_failures=tuple(failures[-PROBE_FAILURES:]),
        log_tail=tuple(tail),
    )


def workload_reports(
    judged: Iterable[tuple[Standing, tuple[str, ...]]],
) -> tuple[WorkloadReport, ...]:
    """From core/verdict.py held_back."""
    return tuple(
        WorkloadReport(w.title, w.message, w.conditions, held, w.done) for w, held in judged
    )


def take(
    runners: Iterable[PodRunner],
    verdict: str,
    started: float,
    workloads: tuple[WorkloadReport, ...] = (),
) -> Snapshot:
    """The report's content, read from the pod runners now (before they are stopped)."""
    pods = []
    for runner in runners:
        has_init = bool(runner.init_supervisors)
        conditions = tuple(
            f"{c.type}={c.status}" + (f" ({c.reason})" if c.reason else "")
            for c in runner.status.conditions
        )
        containers = tuple(
            _container(runner, s, has_init) for s in runner.init_supervisors + runner.supervisors
        )
        pod = runner.pod
        name = f"{pod.namespace}/{pod.name}"
        pods.append(PodReport(name, str(runner.status.phase), conditions, containers))
    return Snapshot(verdict, time.time() - started, tuple(pods), workloads)


def render(snap: Snapshot) -> str:
    out = [f"minikubelet: {snap.verdict} after {snap.elapsed:.1f}s"]
    pods = {p.name: p for p in snap.pods}
    for workload in snap.workloads:
        out += _render_workload(workload, pods)
    for pod in snap.pods:
        out += _render_pod(pod)
    return "\n".join(out)


def _render_workload(workload: WorkloadReport, pods: Mapping[str, PodReport]) -> list[str]:
    out = [f"{workload.title}: {workload.message}"]
    if workload.conditions:
        out.append("  conditions: " + ", ".join(workload.conditions))
    for name in workload.held:
        pod = pods.get(name)
        ready = [c for c in pod.conditions if c.startswith("Ready=")] if pod else []
        why = ", ".join([pod.phase, *ready]) if pod is not None else "gone"
        out.append(f"  held back by pod {name}: {why}")
        failures = [f for c in pod.containers for f in c.probe_failures] if pod else []
        out += [f"    last probe failure: {line}" for line in failures[-1:]]
    return out


def pod_ok(pod: PodReport, until: str) -> bool:
    """Whether the pod met `--until` (core/verdict.py's rule for one pod)."""
    if until == "complete":
        return pod.phase == "Succeeded"
    return any(c.startswith("Ready=True") for c in pod.conditions)


def failed_pods(snap: Snapshot, until: str) -> list[str]:
    """The pods (namespace/name) that did not meet `--until`; none when the verdict is OK."""
    if snap.verdict.startswith("OK"):
        return []
    held = [name for w in snap.workloads for name in w.held]
    return list(dict.fromkeys(held + [p.name for p in snap.pods if not pod_ok(p, until)]))


def render_timeline(records: Iterable[Mapping[str, Any]], pods: Iterable[str]) -> str:
    """The text timeline of the pods that failed, after the report."""
    text = timeline.render_text(records, pods=set(pods))
    return "minikubelet: timeline of the pods that failed:\n" + text if text else ""


def junit(snap: Snapshot, until: str, records: Iterable[Mapping[str, Any]]) -> str:
    """`--report FILE`: JUnit XML, one test case per workload (its standing, conditions and
    the pods holding it back, with their timelines) and one per pod, its report and timeline
    in the failure text (testsuites/testsuite/testcase/failure, as GitHub and GitLab read
    it)."""
    import xml.etree.ElementTree as ET  # only `--report` writes XML

    records = list(records)
    ok = snap.verdict.startswith("OK")
    failed = [p for p in snap.pods if not ok and not pod_ok(p, until)]
    failed_workloads = [w for w in snap.workloads if not ok and not w.done]
    tests = str(len(snap.workloads) + len(snap.pods))
    failures = str(len(failed_workloads) + len(failed))
    suites = ET.Element("testsuites", name="minikubelet", tests=tests,
                        failures=failures, time=f"{snap.elapsed:.3f}")  # fmt: skip
    suite = ET.SubElement(suites, "testsuite", name=f"minikubelet --until {until}",
                          tests=tests, failures=failures, errors="0",
                          skipped="0", time=f"{snap.elapsed:.3f}")  # fmt: skip
    pods = {p.name: p for p in snap.pods}
    for workload in snap.workloads:
        case = ET.SubElement(suite, "testcase", name=workload.title,
                             classname=f"minikubelet.{until}",
                             time=f"{snap.elapsed:.3f}")  # fmt: skip
        text = "\n".join(_render_workload(workload, pods))
        if workload in failed_workloads:
            failure = ET.SubElement(case, "failure", message=workload.message, type=until)
            story = timeline.render_text(records, pods=set(workload.held)) if workload.held else ""
            failure.text = _xml_text(text + ("\n\n" + story if story else ""))
        else:
            ET.SubElement(case, "system-out").text = _xml_text(text)
    for pod in snap.pods:
        case = ET.SubElement(suite, "testcase", name=pod.name, classname=f"minikubelet.{until}",
                             time=f"{snap.elapsed:.3f}")  # fmt: skip
        text = "\n".join(_render_pod(pod))
        if pod in failed:
            failure = ET.SubElement(case, "failure", message=snap.verdict, type=until)
            story = timeline.render_text(records, pods={pod.name})
            failure.text = _xml_text(text + ("\n\n" + story if story else ""))
        else:
            ET.SubElement(case, "system-out").text = _xml_text(text)
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, "unicode") + "\n"


def _xml_text(text: str) -> str:
    """Without the characters XML 1.0 cannot hold (a container's log may have any)."""
    return _NOT_XML.sub("\ufffd", text)


_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _render_pod(pod: PodReport) -> list[str]:
    out: list[str] = []
    out.append(f"pod {pod.name}: {pod.phase}")
    out.append("  conditions: " + ", ".join(pod.conditions))
    for c in pod.containers:
        ready = "ready" if c.ready else "not ready"
        out.append(f"  {c.kind} {c.name}: {c.state}; {ready}; restarts {c.restarts}")
        if c.probe_failures:
            out.append("    last probe failures:")
            out += [f"      {line}" for line in c.probe_failures]
        if c.log_tail:
            out.append(f"    last {len(c.log_tail)} log lines:")
            out += [f"      | {line}" for line in c.log_tail]
    return out
