"""The garbage collector (pure): what owns what, from every object's `ownerReferences`, and the
deletes and updates that follow, as pkg/controller/garbagecollector does it.

- An object none of whose owners is still there (no object of that uid; `dangling`) is
  deleted, with the policy its own finalizers ask (Background by default):
  garbagecollector.go attemptToDeleteItem, classifyReferences.
- An object with an owner still there ("solid") keeps living; its references to owners that
  are gone, or that wait for their dependents (foreground), are removed.
- An owner being deleted in the foreground (`deletionTimestamp` and the `foregroundDeletion`
  finalizer) has its dependents deleted; a dependent that itself has dependents is deleted in
  the foreground too. The owner's finalizer is taken off once no dependent with
  `blockOwnerDeletion` is left: processDeletingDependentsItem.
- An owner with the `orphan` finalizer has every dependent's references to it removed, then
  its finalizer taken off: orphanDependents.
- An object with `deletionTimestamp` and no finalizers left is removed (the API removes it on
  the update that takes the last one off; this catches a write that did not).

Owners whose kind is not served here cannot be looked up; like the collector, which retries an
item whose owner it cannot resolve, the reference then counts as solid. Pods are the node's to
remove once they have stopped; a pod is only ever deleted (gracefully), never removed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from minikubelet.controllers.base import (
    JSON,
    Action,
    Delete,
    FunctionController,
    Reader,
    Result,
    Update,
)
from minikubelet.core import propagation as prop
from minikubelet.core.workloads import deleting
from minikubelet.store.kinds import KINDS, known_group_kind

NAME = "garbage-collector-controller"
# what may own and be owned: pods and every registered kind (events own nothing; a namespace
# goes only by its own deletion, which empties it)
OWNER_RESOURCES = ("pods", *(k.resource for k in KINDS))
DEPENDENT_RESOURCES = ("pods", *(k.resource for k in KINDS if k.resource != "namespaces"))


@dataclass(slots=True)
class _Node:
    resource: str
    obj: JSON
    dependents: list[tuple[_Node, JSON]] = field(default_factory=list)  # (node, its ref)

    @property
    def meta(self) -> JSON:
        meta: JSON = self.obj["metadata"]
        return meta

    @property
    def uid(self) -> str:
        return str(self.meta.get("uid") or "")

    @property
    def deleting_dependents(self) -> bool:
        return deleting(self.obj) and prop.FOREGROUND in prop.finalizers_of(self.obj)


@dataclass(slots=True)
class _Graph:
    """The objects by uid and each owner's dependents (graph_builder.go's uidToNode)."""

    nodes: dict[str, _Node]

    def owner(self, dependent: _Node, ref: JSON) -> _Node | bool | None:
        """The live owner a reference names; None if it is gone (dangling); True if it cannot
        be looked up (a kind not served here)."""
        if ref.get("kind") == "Pod" and ref.get("apiVersion") == "v1":
            namespaced = True
        else:
            kind = known_group_kind(str(ref.get("apiVersion") or ""), str(ref.get("kind") or ""))
            if kind is None:
                return True
            namespaced = kind.namespaced
        node = self.nodes.get(str(ref.get("uid") or ""))
        if node is None or node.obj.get("kind") != ref.get("kind"):
            return None
        if namespaced and node.meta.get("namespace") != dependent.meta.get("namespace"):
            return None  # a namespaced owner lives in its dependent's namespace
        return node


def _graph(store: Reader) -> _Graph:
    nodes: dict[str, _Node] = {}
    for resource in OWNER_RESOURCES:
        for obj in store.list(resource):
            node = _Node(resource, obj)
            if node.uid:
                nodes[node.uid] = node
    graph = _Graph(nodes)
    for node in nodes.values():
        for ref in node.meta.get("ownerReferences") or []:
            owner = graph.owner(node, ref)
            if isinstance(owner, _Node):
                owner.dependents.append((node, ref))
    return graph


def _delete(node: _Node, policy: prop.Policy) -> Delete:
    meta = node.meta
    return Delete(
        node.resource, meta.get("namespace", ""), meta["name"], uid=node.uid, propagation=policy
    )


def _with_meta(node: _Node, **changes: object) -> Update:
    meta = {**node.meta}
    for key, value in changes.items():
        if value:
            meta[key] = value
        else:
            meta.pop(key, None)
    return Update(node.resource, {**node.obj, "metadata": meta})


def _own_policy(node: _Node) -> prop.Policy:
    """The policy an orphaned object is deleted with: the one its finalizers already ask."""
    finalizers = prop.finalizers_of(node.obj)
    if prop.ORPHAN in finalizers:
        return "Orphan"
    if prop.FOREGROUND in finalizers:
        return "Foreground"
    return "Background"


def attempt_to_delete(graph: _Graph, node: _Node) -> Iterator[Action]:
    """garbagecollector.go attemptToDeleteItem for an object that is not being deleted."""
    refs = node.meta.get("ownerReferences") or []
    solid, dropped, waiting = [], [], []
    for ref in refs:
        owner = graph.owner(node, ref)
        if owner is None:
            dropped.append(ref)
        elif isinstance(owner, _Node) and owner.deleting_dependents:
            waiting.append(ref)
        else:
            solid.append(ref)
    if solid:
        gone = {str(r.get("uid")) for r in dropped + waiting}
        if gone:
            kept = [r for r in refs if str(r.get("uid")) not in gone]
            yield _with_meta(node, ownerReferences=kept)
    elif waiting and node.dependents:
        yield _delete(node, "Foreground")
    else:
        yield _delete(node, _own_policy(node))


def finalize(node: _Node) -> Iterator[Action]:
    """An object being deleted: orphan its dependents, or wait for them, then take the
    collector's finalizer off (processDeletingDependentsItem, orphanDependents)."""
    finalizers = prop.finalizers_of(node.obj)
    if prop.ORPHAN in finalizers:
        holding = False
        for dependent, _ in node.dependents:
            holding = True
            refs = dependent.meta.get("ownerReferences") or []
            kept = [r for r in refs if r.get("uid") != node.uid]
            yield _with_meta(dependent, ownerReferences=kept)
        if not holding:
            yield _with_meta(node, finalizers=[f for f in finalizers if f != prop.ORPHAN])
    elif prop.FOREGROUND in finalizers:
        if not any(ref.get("blockOwnerDeletion") for _, ref in node.dependents):
            yield _with_meta(node, finalizers=[f for f in finalizers if f != prop.FOREGROUND])
    elif not finalizers and node.resource != "pods":
        yield _delete(node, "Background")


def reconcile(store: Reader, now: float) -> Result:
    graph = _graph(store)
    actions: list[Action] = []
    dependent_resources = set(DEPENDENT_RESOURCES)
    for node in graph.nodes.values():
        if deleting(node.obj):
            actions += finalize(node)
        elif node.resource in dependent_resources and node.meta.get("ownerReferences"):
            actions += attempt_to_delete(graph, node)
    return Result(actions)


# woken by a change to anything that may own or be owned
CONTROLLER = FunctionController(NAME, frozenset(OWNER_RESOURCES), reconcile)
