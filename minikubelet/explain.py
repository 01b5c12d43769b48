"""`minikubelet explain`: the probe timing windows of validated pods, as text or JSON.

The numbers come from `timing.py` (pure); this module only renders them and is the
subcommand's entry point. Text durations are Go's (`10s`, `1m30s`), as the kubelet prints them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from minikubelet.core.gotext import duration as format_duration
from minikubelet.core.restart import BACKOFF_EXPIRY
from minikubelet.core.spec import Pod, ProbeType
from minikubelet.core.timing import (
    ContainerKind,
    ContainerTiming,
    Origin,
    PodTiming,
    ProbeTiming,
    Window,
    explain,
    handler_summary,
)
from minikubelet.core.timingjson import to_json


def main(args: argparse.Namespace, pods: Sequence[Pod]) -> int:
    timings = explain(pods, backoff_initial=args.backoff_initial, backoff_max=args.backoff_max)
    text = _dump(to_json(timings)) if args.format == "json" else render_text(timings)
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `| head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def _dump(data: list[dict[str, Any]]) -> str:
    """Indented JSON with each list of numbers (a window, the delays) on one line."""
    text = json.dumps(data, indent=2)

    def flat(m: re.Match[str]) -> str:
        return "[" + " ".join(m.group(1).split()) + "]"

    return re.sub(r"\[\s+((?:-?[\d.e+]+,\s+)*-?[\d.e+]+)\s+\]", flat, text) + "\n"


# --- JSON ------------------------------------------------------------------------------------


# --- text ------------------------------------------------------------------------------------


def _span(window: Window) -> str:
    low, high = window
    if low == high:
        return format_duration(low)
    return f"{format_duration(low)}-{format_duration(high)}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _first_probe_text(t: ProbeTiming) -> str:
    origin = "the container starts" if t.first_probe_from == Origin.START else "startup succeeds"
    if t.triggered:
        return (
            f"after {origin}: at once (the status sync triggers readiness), but up to a "
            "period later for a pod started with the daemon (first-probe jitter)"
        )
    if t.first_probe_from == Origin.STARTED:
        return f"after {origin}: the next tick of its own ticker (and initialDelaySeconds)"
    return f"after {origin}: the first tick of its ticker at or after initialDelaySeconds"


def _kill_text(grace: float, pre_stop: bool, whose: str) -> str:
    hook = "preStop hook, then " if pre_stop else ""
    return f"{hook}SIGTERM, SIGKILL after {whose} {format_duration(grace)} grace period"


def _probe_rows(t: ProbeTiming, pre_stop: bool) -> list[tuple[str, str, str]]:
    p = t.probe
    f, s = p.failure_threshold, p.success_threshold
    rows = [("first probe", _span(t.first_probe), _first_probe_text(t))]
    apart = f"{format_duration(p.period_seconds)} apart"
    if t.probe_type == ProbeType.STARTUP:
        assert t.startup_budget is not None
        assert t.kill_after_unhealthy is not None
        assert t.ready_after_healthy is not None
        g, b = t.startup_budget
        rows += [
            (
                "startup budget",
                _span(t.startup_budget),
                f"an app up by {format_duration(g)} after its start always survives; "
                f"one up at {format_duration(b)} or later never does",
            ),
            (
                "killed if not up",
                _span(t.kill_after_unhealthy),
                f"after the container starts, if the app never answers ({_plural(f, 'failure')})",
            ),
            (
                "started",
                _span(t.ready_after_healthy),
                "after the app first answers; liveness and readiness probing begin then",
            ),
        ]
    if t.probe_type == ProbeType.READINESS:
        assert t.ready_after_healthy is not None
        assert t.unready_after_unhealthy is not None
        rows += [
            (
                "Ready",
                _span(t.ready_after_healthy),
                f"after the app answers ({_plural(s, 'success')} in a row, {apart})",
            ),
            (
                "NotReady",
                _span(t.unready_after_unhealthy),
                f"after the app stops answering ({_plural(f, 'failure')} in a row, {apart})",
            ),
        ]
    if t.probe_type == ProbeType.LIVENESS:
        assert t.kill_after_unhealthy is not None
        rows.append(
            (
                "killed",
                _span(t.kill_after_unhealthy),
                f"after the app stops answering ({_plural(f, 'failure')} in a row, {apart})",
            )
        )
    if t.tolerance is not None:
        never, always = t.tolerance
        effect = "kills" if t.probe_type == ProbeType.LIVENESS else "takes it out of traffic"
        safe = (
            f"a stall up to {format_duration(never)} never {effect}"
            if never > 0
            else f"a single failed probe {effect}"
        )
        rows.append(
            (
                "tolerance",
                _span(t.tolerance),
                f"{safe}; one of {format_duration(always)} or more always does",
            )
        )
    if t.kill_to_gone is not None and t.grace is not None:
        whose = "the probe's" if p.termination_grace_period_seconds is not None else "the pod's"
        rows.append(
            ("gone after kill", _span(t.kill_to_gone), _kill_text(t.grace, pre_stop, whose))
        )
    return rows


def _restarts_text(c: ContainerTiming, policy: str) -> str:
    if not c.restarted:
        return "never (restartPolicy Never)"
    delays = [format_duration(d) for d in c.restart_delays]
    why = "a sidecar" if c.kind == ContainerKind.SIDECAR else f"restartPolicy {policy}"
    if c.kind == ContainerKind.INIT:
        why += ": after a failure"
    elif policy == "OnFailure" and c.kind != ContainerKind.SIDECAR:
        why += ": after a failure or a kill"
    return (
        f"after {', '.join(delays)}, then {delays[-1]} each ({why}; "
        f"back to 0s after a run of {format_duration(BACKOFF_EXPIRY)})"
    )


def _settings(t: ProbeTiming) -> str:
    p = t.probe
    parts = [handler_summary(p.handler)]
    if p.initial_delay_seconds:
        parts.append(f"delay {format_duration(p.initial_delay_seconds)}")
    parts.append(f"every {format_duration(p.period_seconds)}")
    parts.append(f"timeout {format_duration(p.timeout_seconds)}")
    if p.success_threshold != 1:
        parts.append(f"success {p.success_threshold}")
    parts.append(f"failure {p.failure_threshold}")
    return ", ".join(parts)


def render_text(timings: Sequence[PodTiming]) -> str:
    """A block per container: a row per window (label, span, one-line meaning), aligned."""
    lines: list[str] = []
    for pod in timings:
        if lines:
            lines.append("")
        lines.append(f"pod {pod.namespace}/{pod.name} (restartPolicy {pod.restart_policy})")
        for c in pod.containers:
            kind = {"container": "container", "sidecar": "sidecar", "init": "init container"}
            lines.append(f"  {kind[c.kind.value]} {c.name}")
            blocks: list[tuple[str, list[tuple[str, str, str]]]] = [
                (f"{t.probe_type.value.lower()}: {_settings(t)}", _probe_rows(t, c.has_pre_stop))
                for t in c.probes
            ]
            if c.kind == ContainerKind.INIT:
                blocks.append(("runs to completion before the next container starts", []))
            elif not c.probes:
                blocks.append(("no probes: Ready as soon as it runs", []))
            stop = _kill_text(c.grace, c.has_pre_stop, "the pod's")
            tail = [("stop on delete", _span(c.stop_on_delete), stop)]
            rows = [r for _, block in blocks for r in block]
            label_w = max([len(r[0]) + 2 for r in rows] + [len("stop on delete")])
            span_w = max(len(r[1]) for r in [*rows, *tail])
            for head, block in blocks:
                lines.append(f"    {head}")
                for label, span, text in block:
                    lines.append(f"      {label:<{label_w - 2}}  {span:>{span_w}}  {text}")
            for label, span, text in tail:
                lines.append(f"    {label:<{label_w}}  {span:>{span_w}}  {text}")
            restarts = _restarts_text(c, pod.restart_policy.value)
            lines.append(f"    {'restarts':<{label_w}}  {restarts}")
            warnings = [(t.probe_type.value.lower(), w) for t in c.probes for w in t.warnings]
            for ptype, warning in warnings:
                lines.append(f"    warning: {ptype}: {warning}")
    return "\n".join(lines) + "\n"
