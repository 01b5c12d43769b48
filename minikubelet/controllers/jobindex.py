"""An Indexed Job's bookkeeping (pure): the completion index of a pod, the compressed index
lists of `status.completedIndexes` / `failedIndexes` (`1,3-5,7`), the first indexes still
pending, and the pods to remove when an index is repeated.

Upstream: pkg/controller/job/indexed_job_utils.go (getCompletionIndex, orderedIntervals with
parseIndexesFromString, withOrderedIndexes, merge, String, has, total; firstPendingIndexes;
appendDuplicatedIndexPodsForRemoval; podGenerateNameWithIndex; addCompletionIndexEnvVariable).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

JSON = dict[str, Any]
INDEX_KEY = "batch.kubernetes.io/job-completion-index"
FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-failure-count"
IGNORED_FAILURE_COUNT_KEY = "batch.kubernetes.io/job-index-ignored-failure-count"
INDEX_ENV = "JOB_COMPLETION_INDEX"
UNKNOWN = -1
MAX_GENERATED_NAME_LENGTH = 58  # names.MaxGeneratedNameLength: 63 less the 5 random letters

Intervals = tuple[tuple[int, int], ...]  # (first, last), ordered, disjoint, not adjacent


def completion_index(pod: JSON) -> int:
    """getCompletionIndex: the annotation as a non-negative integer, or UNKNOWN."""
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_KEY)
    if value is None:
        return UNKNOWN
    try:
        index = int(str(value))
    except ValueError:
        return UNKNOWN
    return index if index >= 0 and str(value).lstrip("+-").isdigit() else UNKNOWN


def _annotation_int(pod: JSON, key: str) -> int:
    value = ((pod.get("metadata") or {}).get("annotations") or {}).get(key)
    try:
        number = int(str(value)) if value is not None else 0
    except ValueError:
        return 0
    return number if 0 <= number <= 2**31 - 1 else 0


def failure_count(pod: JSON) -> int:
    """getIndexFailureCount: the job-index-failure-count annotation (0 if absent or bad)."""
    return _annotation_int(pod, FAILURE_COUNT_KEY)


def absolute_failure_count(pod: JSON) -> int:
    """getIndexAbsoluteFailureCount: counted and ignored failures of the index so far."""
    return failure_count(pod) + _annotation_int(pod, IGNORED_FAILURE_COUNT_KEY)


def parse(text: str | None, completions: int) -> Intervals:
    """parseIndexesFromString: `1,3-5` into intervals below `completions`; a corrupt piece is
    skipped, an interval that reaches past the end is cut."""
    if not text:
        return ()
    out: list[tuple[int, int]] = []
    for piece in text.split(","):
        limits = piece.split("-")
        try:
            first = int(limits[0])
        except ValueError:
            continue
        if first >= completions:
            break
        if len(limits) > 1:
            try:
                last = min(int(limits[1]), completions - 1)
            except ValueError:
                continue
        else:
            last = first
        if out and out[-1][1] == first - 1:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return tuple(out)


def merge(a: Intervals, b: Intervals) -> Intervals:
    """orderedIntervals.merge: the union, adjacent intervals joined."""
    out: list[tuple[int, int]] = []
    for first, last in sorted((*a, *b)):
        if out and first <= out[-1][1] + 1:
            if last > out[-1][1]:
                out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return tuple(out)


def with_indexes(intervals: Intervals, indexes: Iterable[int]) -> Intervals:
    return merge(intervals, tuple((i, i) for i in sorted(set(indexes))))


def total(intervals: Intervals) -> int:
    return sum(last - first + 1 for first, last in intervals)


def has(intervals: Intervals, index: int) -> bool:
    return any(first <= index <= last for first, last in intervals)


def to_string(intervals: Intervals) -> str:
    """orderedIntervals.String: `0,2-4,6,7` (two in a row are written with a comma)."""
    parts = []
    for first, last in intervals:
        if last == first:
            parts.append(str(first))
        elif last == first + 1:
            parts.append(f"{first},{last}")
        else:
            parts.append(f"{first}-{last}")
    return ",".join(parts)


def first_pending(count: int, completions: int, non_pending: Intervals) -> list[int]:
    """firstPendingIndexes: the `count` lowest indexes below `completions` not covered by
    `non_pending` (succeeded, active, failed, and terminating where only failed pods are
    replaced)."""
    out: list[int] = []
    candidate = 0
    for first, last in non_pending:
        while candidate < completions and len(out) < count and candidate < first:
            out.append(candidate)
            candidate += 1
        candidate = max(candidate, last + 1)
    while candidate < completions and len(out) < count:
        out.append(candidate)
        candidate += 1
    return out


def duplicated_for_removal(
    pods: Sequence[JSON], completions: int, rank: Any
) -> tuple[list[JSON], list[JSON]]:
    """appendDuplicatedIndexPodsForRemoval: of active pods, those without an index or with
    one out of range, and all but the best (last by `rank`, controller.ActivePods order) of
    each repeated index, to remove; the others left."""
    remove: list[JSON] = []
    left: list[JSON] = []
    by_index: dict[int, list[JSON]] = {}
    for pod in pods:
        index = completion_index(pod)
        if index == UNKNOWN or index >= completions:
            remove.append(pod)
        else:
            by_index.setdefault(index, []).append(pod)
    for index in sorted(by_index):
        group = sorted(by_index[index], key=rank)
        remove.extend(group[:-1])
        left.append(group[-1])
    return remove, left


def generate_name(job_name: str, index: int) -> str:
    """podGenerateNameWithIndex: `<job>-<index>-`, the job's name cut to fit."""
    suffix = f"-{index}-"
    prefix = job_name + suffix
    if len(prefix) > MAX_GENERATED_NAME_LENGTH:
        prefix = prefix[: MAX_GENERATED_NAME_LENGTH - len(suffix)] + suffix
    return prefix


def with_index_env(containers: list[JSON]) -> list[JSON]:
    """addCompletionIndexEnvVariable: JOB_COMPLETION_INDEX from the index label (PodIndexLabel
    is on) in every container that does not set it."""
    out = []
    for container in containers:
        env = list(container.get("env") or [])
        if not any(e.get("name") == INDEX_ENV for e in env):
            env.append(
                {
                    "name": INDEX_ENV,
                    "valueFrom": {"fieldRef": {"fieldPath": f"metadata.labels['{INDEX_KEY}']"}},
                }
            )
        out.append({**container, "env": env})
    return out
