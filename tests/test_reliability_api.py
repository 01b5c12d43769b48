"""Bad requests to the real daemon's API: unknown paths, bad query parameters, huge headers,
malformed bodies on mutating endpoints. Each gets a 4xx with a Kubernetes `Status` body, never
a 500, and the daemon keeps serving: /healthz answers after every one of them.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from daemon_harness import Minikubelet
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

POD = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: app
    image: busybox
    command: ["sleep", "1000"]
"""
PODS = "/api/v1/namespaces/default/pods"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    where = tmp_path_factory.mktemp("api")
    path = where / "pod.yaml"
    path.write_text(POD)
    mk = Minikubelet(path, "--quiet-logs", state_dir=where / "state")
    try:
        mk.wait_serving()
        mk.wait_for("running", lambda: mk.pod("web")["status"]["phase"] == "Running")
        yield mk
    finally:
        mk.close()
        assert mk.survivors() == []


def request(
    mk: Minikubelet,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    url = urlsplit(mk.url)
    conn = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def assert_status(code: int, body: bytes, *, allowed: range = range(400, 500)) -> dict[str, Any]:
    assert code in allowed, (code, body[:300])
    status: dict[str, Any] = json.loads(body)
    assert status["kind"] == "Status", status
    assert status["apiVersion"] == "v1", status
    assert status["status"] == "Failure", status
    assert status["code"] == code, status
    assert status["reason"], status
    return status


def assert_healthy(mk: Minikubelet) -> None:
    code, body = request(mk, "GET", "/healthz")  # within the connection's 10 s timeout
    assert (code, body) == (200, b"ok")


BAD_REQUESTS: list[tuple[str, str, bytes | None, dict[str, str]]] = [
    ("GET", "/nope", None, {}),
    ("GET", "/api/v2/pods", None, {}),
    ("GET", "/api/v1/namespaces/default/widgets", None, {}),
    ("GET", f"{PODS}/missing", None, {}),
    ("GET", f"{PODS}/web/log?container=nope", None, {}),
    ("GET", f"{PODS}/web/log?tailLines=-5", None, {}),
    ("GET", f"{PODS}/web/log?tailLines=abc", None, {}),
    ("GET", f"{PODS}/web/log?sinceSeconds=x", None, {}),
    ("GET", f"{PODS}/web/log?limitBytes=0", None, {}),
    ("GET", f"{PODS}/web/log?sinceTime=yesterday", None, {}),
    ("GET", f"{PODS}?labelSelector=a%3D%3D%3Db", None, {}),
    ("GET", f"{PODS}?labelSelector=!!", None, {}),
    ("GET", f"{PODS}?fieldSelector=spec.bogus%3Dx", None, {}),
    ("GET", f"{PODS}?limit=-1", None, {}),
    ("GET", f"{PODS}?limit=many", None, {}),
    ("GET", f"{PODS}?watch=true&resourceVersion=abc", None, {}),
    ("GET", f"{PODS}?timeoutSeconds=-3&watch=1", None, {}),
    ("GET", "/api/v1/namespaces/default/pods/web", None, {"Accept": "application/vnd.kubernetes.protobuf"}),
    ("POST", PODS, b"{not json", {"Content-Type": "application/json"}),
    ("POST", PODS, b"", {"Content-Type": "application/json"}),
    ("POST", PODS, b"[1, 2, 3]", {"Content-Type": "application/json"}),
    ("POST", PODS, b'"a string"', {"Content-Type": "application/json"}),
    ("POST", PODS, b"null", {"Content-Type": "application/json"}),
    ("POST", PODS, b"\xff\xfe\x00garbage", {"Content-Type": "application/json"}),
    ("POST", PODS, b'{"kind": "Pod"}', {"Content-Type": "application/json"}),
    ("POST", PODS, b'{"apiVersion": "v1", "kind": "Pod", "spec": 5}', {"Content-Type": "application/json"}),
    ("POST", PODS, b"a: [", {"Content-Type": "application/yaml"}),
    ("POST", PODS, b"{}", {"Content-Type": "text/csv"}),
    ("POST", PODS, b"x" * (4 * 1024 * 1024), {"Content-Type": "application/json"}),
    ("PATCH", f"{PODS}/web", b"{broken", {"Content-Type": "application/merge-patch+json"}),
    ("PATCH", f"{PODS}/web", b"[{\"op\": \"explode\"}]", {"Content-Type": "application/json-patch+json"}),
    ("PATCH", f"{PODS}/web", b"[1]", {"Content-Type": "application/strategic-merge-patch+json"}),
    ("PATCH", f"{PODS}/web", b'{"metadata": {"labels": 5}}', {"Content-Type": "application/merge-patch+json"}),
    ("PATCH", f"{PODS}/web", b"{}", {"Content-Type": "application/unknown"}),
    ("PATCH", f"{PODS}/missing", b"{}", {"Content-Type": "application/merge-patch+json"}),
    ("PUT", f"{PODS}/web", b"{broken", {"Content-Type": "application/json"}),
    ("PUT", f"{PODS}/web", b'{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "other"}}', {"Content-Type": "application/json"}),
    ("DELETE", f"{PODS}/missing", None, {}),
    ("DELETE", f"{PODS}/web", b"{broken", {"Content-Type": "application/json"}),
    ("DELETE", f"{PODS}/web?gracePeriodSeconds=abc", None, {}),
    ("DELETE", "/healthz", None, {}),
    ("POST", "/pods", b"{}", {"Content-Type": "application/json"}),
    ("GET", "/" + quote("é\x00\x01") , None, {}),
    ("GET", "/api/v1/namespaces/default/pods/web", None, {"X-Big": "y" * (1100 * 1024)}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "headers"),
    BAD_REQUESTS,
    ids=[f"{i}-{m}" for i, (m, *_rest) in enumerate(BAD_REQUESTS)],
)
def test_bad_request_gets_a_status_and_the_daemon_serves_on(
    daemon: Minikubelet, method: str, path: str, body: bytes | None, headers: dict[str, str]
) -> None:
    code, answer = request(daemon, method, path, body, headers)
    assert_status(code, answer)
    assert_healthy(daemon)
    assert daemon.pod("web")["status"]["phase"] == "Running"


@pytest.mark.parametrize(
    "path",
    ["/containerLogs/default/web", "/containerLogs/default/missing/app",
     "/containerLogs/default/web/nope", "/containerLogs/default/web/app?tailLines=x",
     "/containerLogs/default/web/app?limitBytes=-1"],
)  # fmt: skip
def test_kubelet_endpoints_answer_in_the_kubelets_plain_words(
    daemon: Minikubelet, path: str
) -> None:
    """The kubelet's own endpoints answer plain text errors, as the kubelet does."""
    code, _answer = request(daemon, "GET", path)
    assert 400 <= code < 500
    assert_healthy(daemon)


# (watch and follow are left out: they are streams that are meant to stay open)
queries = st.dictionaries(
    st.sampled_from(
        ["labelSelector", "fieldSelector", "limit", "continue", "resourceVersion",
         "timeoutSeconds", "tailLines", "sinceSeconds", "sinceTime", "limitBytes", "container",
         "previous", "timestamps", "gracePeriodSeconds", "dryRun", "pretty", "x"]
    ),
    st.text(max_size=20),
    max_size=4,
)  # fmt: skip
targets = st.sampled_from(
    [PODS, f"{PODS}/web", f"{PODS}/web/log", f"{PODS}/missing", "/api/v1/pods",
     "/api/v1/namespaces/default/events", "/pods", "/stats/summary", "/metrics"]
)  # fmt: skip


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(target=targets, query=queries)
def test_random_query_parameters_never_give_a_500(
    daemon: Minikubelet, target: str, query: dict[str, str]
) -> None:
    path = target + (
        "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query.items()) if query else ""
    )
    code, answer = request(daemon, "GET", path)
    assert code < 500, (path, code, answer[:300])
    if code >= 400:
        assert_status(code, answer)


def test_header_flood_is_refused_and_the_daemon_serves_on(daemon: Minikubelet) -> None:
    """Past the parser's own limit: the connection is refused without a 500, and nothing
    else is disturbed."""
    url = urlsplit(daemon.url)
    with socket.create_connection((url.hostname or "", url.port or 0), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        try:
            for _ in range(5000):
                sock.sendall(b"X-Flood: " + b"z" * 1000 + b"\r\n")
            sock.sendall(b"\r\n")
            answer = sock.recv(4096)
        except (BrokenPipeError, ConnectionResetError):
            answer = b""
    assert not answer.startswith(b"HTTP/1.1 5"), answer[:200]
    assert_healthy(daemon)


def test_slow_and_abandoned_connections_do_not_block_others(daemon: Minikubelet) -> None:
    url = urlsplit(daemon.url)
    idle = [socket.create_connection((url.hostname or "", url.port or 0)) for _ in range(50)]
    try:
        for sock in idle[:25]:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # half a request, then silence
        assert_healthy(daemon)
    finally:
        for sock in idle:
            sock.close()
    assert_healthy(daemon)


def test_daemon_still_has_its_pod(daemon: Minikubelet, tmp_path: Path) -> None:
    assert daemon.pod("web")["status"]["containerStatuses"][0]["restartCount"] == 0
