"""Bad input never hurts: thousands of mutated Pods (fields dropped, renamed, given the wrong
type, random strings, numbers, lists and nulls in every position) are either valid or refused
with the API server's kind of message naming the field, never another exception; text that is
not YAML at all, huge files, deep nesting and alias bombs are refused within bounded time and
memory. A handful go through the real CLI: exit code 2, no traceback.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikubelet.manifest import load as manifest
from minikubelet.manifest.load import InvalidPod, ManifestError

NOW = datetime(2026, 1, 1, tzinfo=UTC)
VALID: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "demo", "labels": {"app": "web"}},
    "spec": {
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 5,
        "initContainers": [{"name": "init", "image": "busybox", "command": ["true"]}],
        "containers": [
            {
                "name": "app",
                "image": "busybox",
                "command": ["sh", "-c"],
                "args": ["exec sleep 1000"],
                "workingDir": "/tmp",
                "env": [
                    {"name": "A", "value": "1"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "ports": [{"name": "http", "containerPort": 8080}],
                "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}},
                "livenessProbe": {
                    "httpGet": {"path": "/healthz", "port": "http"},
                    "periodSeconds": 3,
                    "failureThreshold": 2,
                },
                "readinessProbe": {"tcpSocket": {"port": 8080}, "initialDelaySeconds": 1},
                "startupProbe": {"exec": {"command": ["true"]}, "timeoutSeconds": 2},
                "lifecycle": {
                    "postStart": {"exec": {"command": ["true"]}},
                    "preStop": {"sleep": {"seconds": 1}},
                },
            }
        ],
    },
}
# every message names where the problem is: a field path, a document position or the kind
FIELD_PATH = re.compile(r"(^|[\s\[(:])(metadata|spec|apiVersion|kind|status)\b|Object '")


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


ALL_PATHS = _paths(VALID)[1:]
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["", "-1", "0", "http", "TCP", "Always", "64Mi", "1e400", "$(A)", "a" * 300]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=6,
)


# three regions of the Pod, fuzzed by separate tests so that xdist spreads them
REGIONS = {
    "top": [p for p in ALL_PATHS if p[:2] != ("spec", "containers")],
    "container": [p for p in ALL_PATHS if p[:3] == ("spec", "containers", 0) and len(p) <= 5],
    "container-deep": [p for p in ALL_PATHS if p[:3] == ("spec", "containers", 0) and len(p) > 4],
}


@st.composite
def mutation(draw: st.DrawFn, region: str) -> tuple[str, tuple[Any, ...], Any]:
    kind = draw(st.sampled_from(["drop", "rename", "replace", "add"]))
    path = draw(st.sampled_from(REGIONS[region]))
    return kind, path, draw(values) if kind in ("replace", "add") else draw(st.text(max_size=12))


def apply(doc: dict[str, Any], kind: str, path: tuple[Any, ...], value: Any) -> None:
    parent: Any = doc
    for step in path[:-1]:
        try:
            parent = parent[step]
        except (KeyError, IndexError, TypeError):
            return  # an earlier mutation removed or replaced the way there
    last = path[-1]
    if isinstance(parent, dict) and last in parent:
        if kind == "drop":
            del parent[last]
        elif kind == "rename":
            parent[value or "x"] = parent.pop(last)
        elif kind == "replace":
            parent[last] = value
        else:
            parent[f"extra{len(parent)}"] = value
    elif isinstance(parent, list) and isinstance(last, int) and last < len(parent):
        if kind == "drop":
            del parent[last]
        elif kind in ("replace", "rename"):
            parent[last] = value
        else:
            parent.append(value)


def refusal(doc: dict[str, Any]) -> list[str] | None:
    """None for a valid pod, else the error lines; any other exception fails the test."""
    try:
        manifest.pod_from_document(
            doc, source="fuzz.yaml", node_name="node", grpc_available=False, now=NOW
        )
    except InvalidPod as err:
        return err.errors
    except ManifestError as err:
        return err.lines
    return None


def check_refusal(doc: dict[str, Any]) -> None:
    lines = refusal(doc)
    if lines is None:
        return
    assert lines
    for line in lines:
        assert FIELD_PATH.search(line) or "cannot be handled as a Pod" in line, line


@pytest.mark.parametrize("region", list(REGIONS))
@settings(
    max_examples=800,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(data=st.data())
def test_mutated_pods_are_valid_or_refused_with_a_field(region: str, data: st.DataObject) -> None:
    mutations = data.draw(st.lists(mutation(region), min_size=1, max_size=4))
    doc = copy.deepcopy(VALID)
    for kind, path, value in mutations:
        apply(doc, kind, path, value)
    check_refusal(doc)


@settings(max_examples=500, deadline=None, database=None)
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused(text: str) -> None:
    try:
        documents = manifest.parse_documents(text, source="fuzz.yaml")
    except ManifestError as err:
        lines = err.lines
    else:
        lines = []
    assert all(line.startswith("fuzz.yaml") for line in lines), lines
    for doc in [] if lines else documents:
        check_refusal(doc)


# --- hostile files ------------------------------------------------------------------------------

BILLION_LAUGHS = "\n".join(
    ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    + [f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]" for i in range(8)]
)


def self_reference() -> str:
    return "a: &a [*a]\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BILLION_LAUGHS, "too many values"),
        ("[" * 100_000 + "]" * 100_000, "nested more than"),
        ('{"a": ' * 50_000 + "1" + "}" * 50_000, "nested more than"),
        ("a:\n" + "".join(" " * i + "- \n" for i in range(1, 300)), "nested more than"),
        ("\x00\x01\x02 binary", "unacceptable character"),
        ("key: [unclosed", "line"),
        ("!!python/object/apply:os.system ['true']", "could not determine a constructor"),
        ("{\"a\": NaN}", "NaN is not a JSON value"),
        (self_reference(), ""),
    ],
    ids=["alias-bomb", "deep-flow-list", "deep-json", "deep-block", "binary", "unclosed",
         "python-tag", "nan", "self-reference"],
)  # fmt: skip
def test_hostile_text_is_refused_in_bounded_time_and_memory(text: str, message: str) -> None:
    began = time.monotonic()
    with pytest.raises(ManifestError) as caught:
        manifest.parse_documents(text, source="bad.yaml")
    assert time.monotonic() - began < 30  # an expanded bomb would take far longer
    if len(text) < 1000:  # the small ones that could expand: memory too (tracemalloc is slow)
        tracemalloc.start()
        try:
            with pytest.raises(ManifestError):
                manifest.parse_documents(text, source="bad.yaml")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 16 * 1024 * 1024
    assert all(line.startswith("bad.yaml: ") for line in caught.value.lines)
    assert message in str(caught.value)


def test_huge_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as f:
        f.write(b"# " + b"x" * (manifest.MAX_CONFIG_LENGTH + 10))
    with pytest.raises(ManifestError) as caught:
        manifest.load_manifests([str(path)], node_name="node")
    assert "larger than" in str(caught.value)


def test_many_documents_are_all_reported(tmp_path: Path) -> None:
    """Two thousand small invalid documents in one file: every error reported, in seconds."""
    one = json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "A"}})
    text = "# many\n" + "\n---\n".join([one] * 2_000)
    path = tmp_path / "many.yaml"
    path.write_text(text)
    began = time.monotonic()
    with pytest.raises(ManifestError) as caught:
        manifest.load_manifests([str(path)], node_name="node")
    assert time.monotonic() - began < 60
    assert len(caught.value.lines) >= 2_000


# --- through the CLI ----------------------------------------------------------------------------

CLI_CASES = {
    "wrong-type": {**VALID, "spec": {**VALID["spec"], "containers": "app"}},
    "null-spec": {**VALID, "spec": None},
    "no-containers": {**VALID, "spec": {"containers": []}},
    "number-name": {**VALID, "metadata": {"name": 12}},
    "bad-probe": {
        **VALID,
        "spec": {"containers": [{"name": "a", "image": "b", "livenessProbe": {"exec": 5}}]},
    },
}


@pytest.mark.parametrize(
    "text",
    [json.dumps(doc) for doc in CLI_CASES.values()]
    + [BILLION_LAUGHS, "[" * 10_000, "\x00", "just words"],
    ids=[*CLI_CASES, "alias-bomb", "deep", "binary", "words"],
)
def test_cli_refuses_with_exit_code_2(tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    result = subprocess.run(
        [sys.executable, "-m", "minikubelet", "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: "), result.stderr
