"""Deletion propagation, as the API server's generic store decides it (pure): which
finalizers a DELETE leaves on an object, whether it goes at once, and the default policy of
each kind.

apiserver: pkg/registry/generic/registry/store.go Store.Delete, shouldOrphanDependents,
shouldDeleteDependents, deletionFinalizersForGarbageCollection, ShouldDeleteDuringUpdate;
apimachinery: pkg/apis/meta/v1/validation ValidateDeleteOptions. The garbage collector
(controllers/garbagecollector.py) does the rest: it deletes dependents, orphans them, and
takes its finalizers off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

JSON = dict[str, Any]
Policy = Literal["Background", "Foreground", "Orphan"]
POLICIES: tuple[Policy, ...] = ("Foreground", "Background", "Orphan")
FOREGROUND = "foregroundDeletion"  # metav1.FinalizerDeleteDependents
ORPHAN = "orphan"  # metav1.FinalizerOrphanDependents
GC_FINALIZERS = (ORPHAN, FOREGROUND)

# the kinds whose strategy's DefaultGarbageCollectionPolicy is OrphanDependents for the
# version served here (pkg/registry/batch/job/strategy.go: batch/v1 Jobs keep their pods
# "for back compatibility"); every other kind deletes its dependents (in the background)
_ORPHAN_BY_DEFAULT = frozenset({("batch/v1", "Job")})
JOB_DELETE_WARNING = (  # pkg/registry/batch/job/storage/storage.go deleteOptionWarnings
    "child pods are preserved by default when jobs are deleted; set "
    "propagationPolicy=Background to remove them or set propagationPolicy=Orphan to suppress "
    "this warning"
)


@dataclass(frozen=True, slots=True)
class Request:
    """What a DELETE asks of propagation: DeleteOptions' `propagationPolicy` and the older
    `orphanDependents` (None where not given)."""

    policy: str | None = None
    orphan_dependents: bool | None = None


def option_errors(request: Request) -> list[str]:
    """ValidateDeleteOptions' field errors (the `DeleteOptions.meta.k8s.io "" is invalid`
    Status)."""
    errors = []
    if request.orphan_dependents is not None and request.policy is not None:
        errors.append(
            f'propagationPolicy: Invalid value: "{request.policy}": orphanDependents and '
            "deletionPropagation cannot be both set"
        )
    if request.policy is not None and request.policy not in POLICIES:
        errors.append(
            f'propagationPolicy: Unsupported value: "{request.policy}": supported values: '
            '"Foreground", "Background", "Orphan", "nil"'
        )
    return errors


def orphans_by_default(api_version: str, kind: str) -> bool:
    return (api_version, kind) in _ORPHAN_BY_DEFAULT


def default_warning(api_version: str, kind: str, request: Request) -> str | None:
    """The Warning a Job's DELETE that names no policy gets (its pods are kept)."""
    asked = request.policy is not None or request.orphan_dependents is not None
    return None if asked or not orphans_by_default(api_version, kind) else JOB_DELETE_WARNING


def _should_orphan(finalizers: Sequence[str], request: Request, default_orphan: bool) -> bool:
    if request.orphan_dependents is not None:
        return request.orphan_dependents
    if request.policy is not None:
        return request.policy == "Orphan"
    for finalizer in finalizers:
        if finalizer == ORPHAN:
            return True
        if finalizer == FOREGROUND:
            return False
    return default_orphan


def _should_delete_dependents(finalizers: Sequence[str], request: Request) -> bool:
    if request.orphan_dependents is not None:
        return False
    if request.policy is not None:
        return request.policy == "Foreground"
    for finalizer in finalizers:
        if finalizer == FOREGROUND:
            return True
        if finalizer == ORPHAN:
            return False
    return False


def deletion_finalizers(
    finalizers: Sequence[str], request: Request, *, default_orphan: bool = False
) -> list[str]:
    """deletionFinalizersForGarbageCollection: the object's finalizers after a DELETE, the
    collector's own two replaced by what the request (or, failing that, the finalizers already
    there, or the kind's default) asks."""
    kept = [f for f in finalizers if f not in GC_FINALIZERS]
    if _should_orphan(finalizers, request, default_orphan):
        kept.append(ORPHAN)
    if _should_delete_dependents(finalizers, request):
        kept.append(FOREGROUND)
    if set(kept) == set(finalizers):
        return list(finalizers)
    return kept


def finalizers_of(obj: JSON) -> list[str]:
    return [str(f) for f in (obj.get("metadata") or {}).get("finalizers") or []]


def deleted(
    obj: JSON, request: Request, now_stamp: str, *, default_orphan: bool = False
) -> JSON | None:
    """A DELETE of a stored object that has no grace period (every kind but pods): None when it
    goes at once, else the object as it stays, marked with `deletionTimestamp` (the first
    DELETE's, kept by a later one) and `deletionGracePeriodSeconds: 0`, with its finalizers."""
    finalizers = deletion_finalizers(finalizers_of(obj), request, default_orphan=default_orphan)
    if not finalizers:
        return None
    meta = dict(obj.get("metadata") or {})
    meta.setdefault("deletionTimestamp", now_stamp)
    meta.setdefault("deletionGracePeriodSeconds", 0)
    meta["finalizers"] = finalizers
    return {**obj, "metadata": meta}


def gone_after_update(new: JSON, old: JSON) -> bool:
    """ShouldDeleteDuringUpdate: an update that leaves an object being deleted (with no grace
    period left) without finalizers removes it."""
    old_meta = old.get("metadata") or {}
    return (
        not finalizers_of(new)
        and bool(old_meta.get("deletionTimestamp"))
        and old_meta.get("deletionGracePeriodSeconds", 0) == 0
    )


def new_finalizer_errors(new: JSON, old: JSON) -> list[str]:
    """ValidateObjectMetaUpdate: an object being deleted takes no new finalizers."""
    if not (old.get("metadata") or {}).get("deletionTimestamp"):
        return []
    extra = sorted(set(finalizers_of(new)) - set(finalizers_of(old)))
    if not extra:
        return []
    shown = "[]string{" + ", ".join(f'"{f}"' for f in extra) + "}"
    return [
        "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being "
        f"deleted, found new finalizers {shown}"
    ]
