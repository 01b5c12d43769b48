"""The controllers' contract, as the controller manager's controllers are built: each one a
reconcile from what the store holds to the writes it wants, and nothing else.

A `Controller` reads through a `Reader` (the store's get and list: plain JSON objects in
their API spelling) and returns a `Result`: the `Action`s to apply, in order, and when to
look again if nothing changes before then (`requeue_at`: a `minReadySeconds` that runs out, a
Job's back-off, a CronJob's next schedule, a progress deadline). The loop
(controllers/loop.py) applies the actions (pods through the pods' registry, with the API's
admission, as a controller's client creates them; other objects straight into the store) and
calls `reconcile` again on every change to a resource in `wakes` and at `requeue_at`.

`reconcile` is a pure function of what it reads and `now` (seconds since the epoch): it does
no I/O, reads no clock and draws no random numbers (a pod name is `metadata.generateName`,
filled in by the loop as the API server fills it). It must be idempotent: called again on the
state its own actions produced, it returns no actions. The loop writes an `Update` or
`UpdateStatus` only where the object differs, and drops one whose `resourceVersion` is no
longer the stored one (the controller sees the newer object at its next reconcile), as an
update conflict makes a real controller requeue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

JSON = dict[str, Any]
Propagation = Literal["Background", "Foreground", "Orphan"]


class Reader(Protocol):
    """What a controller may read: the store's objects (`pods`, `replicasets`, ...)."""

    def get(self, resource: str, namespace: str, name: str) -> JSON | None: ...

    def list(self, resource: str, namespace: str | None = None) -> list[JSON]: ...


@dataclass(frozen=True, slots=True)
class Create:
    """A new object. `metadata.generateName` without a name gets a random suffix. A pod is
    admitted as an API create is (defaults, validation); a pod that is refused becomes a
    `FailedCreate` warning event on `owner` (the object whose controller made it)."""

    resource: str
    object: JSON
    owner: JSON | None = None
    # once made, a Normal `SuccessfulCreate` event on `owner` with this message, `{name}` the
    # name it got (controller_utils.go RealPodControl: `Created pod: {name}`)
    created_message: str = ""


@dataclass(frozen=True, slots=True)
class Update:
    """The object's metadata and spec as given (its status is kept), at the
    `metadata.resourceVersion` it carries; `generation` moves on when the spec changes."""

    resource: str
    object: JSON


@dataclass(frozen=True, slots=True)
class UpdateStatus:
    """The object's `status` replaced by this one's (the status subresource)."""

    resource: str
    object: JSON


@dataclass(frozen=True, slots=True)
class Delete:
    """Delete an object. A pod is deleted gracefully as an API delete is
    (`grace_period_seconds`: None for the pod's own). `uid`: only if it is still this object
    (a precondition). `propagation`: what happens to what it owns (the garbage collector)."""

    resource: str
    namespace: str
    name: str
    uid: str | None = None
    grace_period_seconds: int | None = None
    propagation: Propagation | None = None


@dataclass(frozen=True, slots=True)
class Event:
    """An event about `involved` (the whole object, or at least its kind, apiVersion and
    metadata), from `component` ("replicaset-controller", "job-controller", ...). Repeats are
    counted, as the event correlator does."""

    involved: JSON
    type: Literal["Normal", "Warning"]
    reason: str
    message: str
    component: str


Action = Create | Update | UpdateStatus | Delete | Event


@dataclass(frozen=True, slots=True)
class Result:
    actions: Sequence[Action] = ()
    requeue_at: float | None = None  # reconcile again at this time (seconds since the epoch)


def earliest(*times: float | None) -> float | None:
    """The first of several requeue times (None where none is wanted)."""
    wanted = [t for t in times if t is not None]
    return min(wanted) if wanted else None


class Controller(Protocol):
    """One controller: its name (the event source), the resources whose changes wake it, and
    its reconcile."""

    @property
    def name(self) -> str: ...

    @property
    def wakes(self) -> frozenset[str]: ...

    def reconcile(self, store: Reader, now: float) -> Result: ...


@dataclass(frozen=True, slots=True)
class FunctionController:
    """A controller made of a name, what wakes it and a reconcile function: what most
    controllers are (`CONTROLLER = FunctionController("job-controller", ..., reconcile)`)."""

    name: str
    wakes: frozenset[str]
    function: Callable[[Reader, float], Result] = field(repr=False)

    def reconcile(self, store: Reader, now: float) -> Result:
        return self.function(store, now)
