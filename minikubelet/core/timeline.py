"""The pod timeline, pure: transitions derived from two successive pod objects, and the text a
recorded timeline reads as (the console's story lines and `minikubelet timeline FILE`).

A record is a JSON-ready dict: `seq` (one counter for the daemon), `t` (epoch seconds), `pod`
(`namespace/name`), `kind`, and the kind's fields. Kinds:

- derived from the store's change feed by `diff_pod` / `event_fields`: `created` (with each
  container's probe timings), `deleted`, `phase`, `condition`, `state` (a container's
  waiting / running / terminated with reason, exit code, restart count), `started`, `ready`,
  `event`;
- recorded where they happen (node/probing.py, instance.py, lifecyclehooks.py, prestart.py):
  `probe` (type, result, seconds, output, the consecutive count and the threshold, `fired`
  when the threshold is reached), `kill` (message, grace, signal), `killed` (the signal that
  ended it: SIGKILL past the grace), `hook` (postStart / preStop span: began, seconds,
  error), `backoff` (the wait's length).

Nothing here reads a clock or does I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]
Transition = tuple[str, JSON]

_PROBES = (
    ("startupProbe", "startup"),
    ("readinessProbe", "readiness"),
    ("livenessProbe", "liveness"),
)
_FIELD_PATH = re.compile(r"spec\.(?:initContainers|containers|ephemeralContainers)\{(.+)\}")


# --- diffing successive pod objects ---------------------------------------------------------


def diff_pod(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> list[Transition]:
    """What changed from `old` to `new` (None: the pod did not exist / is gone), in the order
    a reader expects: the pod, then its containers (init containers first), then phase and
    conditions."""
    if new is None:
        return [("deleted", {})] if old is not None else []
    out: list[Transition] = []
    if old is None:
        out.append(("created", _created(new)))
        old = {}
    old_status, new_status = old.get("status") or {}, new.get("status") or {}
    for key, init in (("initContainerStatuses", True), ("containerStatuses", False)):
        before = {c.get("name"): c for c in old_status.get(key) or ()}
        for c in new_status.get(key) or ():
            out += _container_diff(before.get(c.get("name")), c, init=init)
    if old_status.get("phase") != new_status.get("phase") and new_status.get("phase"):
        out.append(("phase", {"phase": new_status["phase"], "from": old_status.get("phase")}))
    before = {c.get("type"): c for c in old_status.get("conditions") or ()}
    for cond in new_status.get("conditions") or ():
        prev = before.get(cond.get("type"))
        if prev is None or _cond_key(prev) != _cond_key(cond):
            fields = {"type": cond.get("type"), "status": cond.get("status")}
            fields.update({k: cond[k] for k in ("reason", "message") if cond.get(k)})
            out.append(("condition", fields))
    return out


def _cond_key(cond: Mapping[str, Any]) -> tuple[Any, ...]:
    return (cond.get("status"), cond.get("reason"), cond.get("message"))


def _created(pod: Mapping[str, Any]) -> JSON:
    spec = pod.get("spec") or {}
    containers = []
    for key, init in (("initContainers", True), ("containers", False)):
        for c in spec.get(key) or ():
            probes = {}
            for field, name in _PROBES:
                p = c.get(field)
                if p:
                    probes[name] = {
                        "initialDelaySeconds": p.get("initialDelaySeconds", 0),
                        "periodSeconds": p.get("periodSeconds", 10),
                        "failureThreshold": p.get("failureThreshold", 3),
                        "successThreshold": p.get("successThreshold", 1),
                    }
            entry: JSON = {"name": c.get("name"), "init": init, "probes": probes}
            if init and c.get("restartPolicy") == "Always":
                entry["sidecar"] = True
            containers.append(entry)
    return {"uid": (pod.get("metadata") or {}).get("uid", ""), "containers": containers}


def _state_fields(status: Mapping[str, Any]) -> JSON:
    state = status.get("state") or {}
    for name in ("waiting", "running", "terminated"):
        if name in state:
            detail = state[name] or {}
            fields: JSON = {"state": name}
            for key in ("reason", "message", "exitCode", "signal"):
                if detail.get(key) not in (None, ""):
                    fields[key] = detail[key]
            return fields
    return {"state": "unknown"}


def _container_diff(
    old: Mapping[str, Any] | None, new: Mapping[str, Any], *, init: bool
) -> list[Transition]:
    name = new.get("name")
    out: list[Transition] = []
    state = _state_fields(new)
    restarts = new.get("restartCount", 0)
    if old is None or _state_fields(old) != state or old.get("restartCount", 0) != restarts:
        out.append(("state", {"container": name, "init": init, **state, "restartCount": restarts}))
    for flag in ("started", "ready"):
        value = bool(new.get(flag, False))
        if (old is None and value) or (old is not None and bool(old.get(flag, False)) != value):
            out.append((flag, {"container": name, "value": value}))
    return out


def event_fields(event: Mapping[str, Any]) -> tuple[str, JSON] | None:
    """A stored Event as (pod key, fields of an `event` record); None if not about a pod."""
    obj = event.get("involvedObject") or {}
    if obj.get("kind") != "Pod":
        return None
    fields: JSON = {
        "reason": event.get("reason", ""),
        "type": event.get("type", ""),
        "message": event.get("message", ""),
        "count": event.get("count", 1),
    }
    found = _FIELD_PATH.fullmatch(obj.get("fieldPath") or "")
    if found:
        fields["container"] = found.group(1)
    return f"{obj.get('namespace', '')}/{obj.get('name', '')}", fields


# --- words -----------------------------------------------------------------------------------


def describe(rec: Mapping[str, Any], *, prefix: bool = True) -> str | None:
    """A record in plain words (`web: Ready`, `app: liveness probe failed (3/3): ...`), or None
    for what a reader does not need line by line (successful probes, unchanged results)."""
    kind = rec.get("kind")
    who = rec.get("container")
    text = _WORDS.get(str(kind), _nothing)(rec)
    return None if text is None else (f"{who}: " if who and prefix else "") + text


def _nothing(rec: Mapping[str, Any]) -> str | None:
    return None


def _state_words(rec: Mapping[str, Any]) -> str:
    state, reason = rec.get("state"), rec.get("reason")
    if state == "running":
        text = "Running"
    elif state == "terminated":
        text = f"Terminated: {reason or 'Error'} (exit code {rec.get('exitCode')})"
    else:
        text = f"Waiting: {reason or ''}".rstrip(": ")
    if rec.get("restartCount"):
        text += f", restarts {rec['restartCount']}"
    return text


def _probe_words(rec: Mapping[str, Any]) -> str | None:
    result = rec.get("result")
    if result == "success" and not (rec.get("fired") and rec.get("probe") == "startup"):
        return None
    name = rec.get("probe", "")
    if result == "failure" and rec.get("run", 0) > rec.get("threshold", 0):
        return None  # said up to the threshold; the result stands until it changes
    if result == "error":
        return f"{name} probe errored: {_one_line(str(rec.get('output', '')))}"
    count = f" ({rec.get('run')}/{rec.get('threshold')})" if rec.get("threshold") else ""
    verb = "succeeded" if result == "success" else "failed"
    text = f"{name} probe {verb}{count}"
    output = _one_line(str(rec.get("output") or ""))
    return text + (f": {output}" if output and result != "success" else "")


def _condition_words(rec: Mapping[str, Any]) -> str | None:
    """The Ready condition only: the others follow from the containers' lines."""
    if rec.get("type") != "Ready":
        return None
    text = "pod Ready" if rec.get("status") == "True" else "pod not Ready"
    return text + (f" ({rec['reason']})" if rec.get("reason") else "")


def _one_line(text: str, limit: int = 200) -> str:
    """A probe's output on one line (an HTTP body or a script's output may have many)."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kill_words(rec: Mapping[str, Any]) -> str:
    why, sig = rec.get("message", ""), rec.get("signal", "SIGTERM")
    return f"killing ({why}): {sig}, grace {rec.get('grace', 0):g}s"


def _killed_words(rec: Mapping[str, Any]) -> str | None:
    return "grace period over: SIGKILL" if rec.get("signal") == "SIGKILL" else None


def _hook_words(rec: Mapping[str, Any]) -> str:
    error = rec.get("error")
    text = f"{rec.get('hook')} hook ran {rec.get('seconds', 0):.1f}s"
    return text + (f", failed: {error}" if error else "")


def _event_words(rec: Mapping[str, Any]) -> str | None:
    if rec.get("type") != "Warning" or rec.get("reason") in ("Unhealthy", "BackOff", "Killing"):
        return None  # said already by the probe, backoff and kill records
    return f"{rec.get('reason')}: {rec.get('message')}"


_WORDS: dict[str, Any] = {
    "created": lambda r: "created",
    "deleted": lambda r: "deleted",
    "phase": lambda r: f"phase {r.get('phase')}",
    "condition": _condition_words,
    "state": _state_words,
    "started": _nothing,  # Running says it (and a startup probe's success, where there is one)
    "ready": lambda r: "Ready" if r.get("value") else "not Ready",
    "probe": _probe_words,
    "kill": _kill_words,
    "killed": _killed_words,
    "hook": _hook_words,
    "backoff": lambda r: f"CrashLoopBackOff: restart in {r.get('delay', 0):g}s",
    "event": _event_words,
}


def clock_text(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%H:%M:%S.%f")[:-3]


def render_text(records: Iterable[Mapping[str, Any]], *, pods: set[str] | None = None) -> str:
    """The text timeline of records, grouped by pod, each line with its time and its offset
    from the pod's first record: `  +12.3s 23:01:02.345 app: Terminated: Error (exit code 1)`.
    Probe runs that change nothing (successes, failures past the threshold) are counted, not
    listed."""
    by_pod: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        pod = str(rec.get("pod", ""))
        if pods is None or pod in pods:
            by_pod.setdefault(pod, []).append(rec)
    out: list[str] = []
    for pod, recs in by_pod.items():
        recs.sort(key=lambda r: r.get("seq", 0))
        first = float(recs[0].get("t", 0))
        quiet = 0
        out.append(f"pod {pod}:")
        for rec in recs:
            text = describe(rec)
            if text is None:
                quiet += rec.get("kind") == "probe"
                continue
            t = float(rec.get("t", 0))
            out.append(f"  {'+' + format(t - first, '.1f') + 's':>9} {clock_text(t)} {text}")
        if quiet:
            out.append(
                f"  ({quiet} more probe runs not shown: successes, failures past the threshold)"
            )
    return "\n".join(out)
