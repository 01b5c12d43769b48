"""Requests that used to do harm or answer 500: cross-site writes, malformed credentials,
malformed bodies and options. Each answers a 4xx `Status` naming the problem."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from api_fakes import FakeRegistry, Server, kubectl, serve

from minikubelet import clirun

JSON = dict[str, Any]
PODS = "/api/v1/namespaces/default/pods"
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "new"},
    "spec": {"containers": [{"name": "a", "image": "x", "command": ["sleep", "60"]}]},
}
MERGE = {"Content-Type": "application/merge-patch+json"}
STRATEGIC = {"Content-Type": "application/strategic-merge-patch+json"}
JSON_PATCH = {"Content-Type": "application/json-patch+json"}
JSON_TYPE = {"Content-Type": "application/json"}
RUN = [sys.executable, "-m", "minikubelet", "run", "--port", "0"]


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


async def call(server: Server, method: str, path: str, **kwargs: Any) -> tuple[int, JSON]:
    async with (
        aiohttp.ClientSession(skip_auto_headers={"Content-Type"}) as session,
        session.request(method, server.url + path, **kwargs) as response,
    ):
        return response.status, json.loads(await response.text())


async def raw_request(server: Server, head: bytes) -> tuple[int, JSON]:
    """Sends header bytes as given (aiohttp's client would not send non-ASCII ones)."""
    host, port = server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(head + b"Connection: close\r\n\r\n")
        data = await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


# --- 7. cross-site requests --------------------------------------------------------------


BROWSER_BODIES = [
    {},  # fetch(url, {method: "POST", body: new Blob([...])}) sends no Content-Type
    {"Content-Type": "text/plain"},
    {"Content-Type": "application/x-www-form-urlencoded"},
    {"Content-Type": "multipart/form-data; boundary=x"},
]


@pytest.mark.parametrize(
    ("headers", "own_origin"),
    # no Origin and no Content-Type is a client library's request: JSON (below)
    [(h, True) for h in BROWSER_BODIES] + [(h, False) for h in BROWSER_BODIES if h],
)
async def test_a_write_without_a_json_or_yaml_media_type_is_415(
    server: Server, headers: dict[str, str], own_origin: bool
) -> None:
    """What a browser can send without a preflight, even from the daemon's own origin."""
    sent = headers | ({"Origin": server.url} if own_origin else {})
    code, body = await call(server, "POST", PODS, data=json.dumps(POD), headers=sent)
    assert (code, body["kind"], body["reason"]) == (415, "Status", "UnsupportedMediaType")
    assert ("default", "new") not in server.registry.pods


async def test_a_body_without_media_type_or_origin_is_json(server: Server) -> None:
    """The API server decodes it as its first type, JSON; the official Python client sends its
    bodies so. No browser can: it names its Origin on every cross-site write."""
    code, _ = await call(server, "POST", PODS, data=json.dumps(POD))
    assert code == 201
    code, body = await call(server, "DELETE", PODS + "/new", data='{"gracePeriodSeconds": "x"}')
    assert (code, body["reason"]) == (400, "BadRequest")


async def test_a_foreign_origin_is_refused(server: Server) -> None:
    evil = {"Origin": "http://evil.example", **JSON_TYPE}
    code, body = await call(server, "POST", PODS, data=json.dumps(POD), headers=evil)
    assert (code, body["reason"]) == (403, "Forbidden")
    assert "http://evil.example" in body["message"]
    assert ("default", "new") not in server.registry.pods
    code, _ = await call(server, "GET", PODS, headers={"Origin": "null"})
    assert code == 403


async def test_the_daemons_own_origin_and_no_origin_are_served(server: Server) -> None:
    own = {"Origin": server.url, **JSON_TYPE}
    code, _ = await call(server, "POST", PODS, data=json.dumps(POD), headers=own)
    assert code == 201
    code, _ = await call(server, "DELETE", PODS + "/new")  # no body, no media type needed
    assert code == 200


async def test_kubectl_still_writes(server: Server, tmp_path: Path) -> None:
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    created = await kubectl(server, "create", "-f", str(manifest))
    assert created.code == 0, created.err
    labelled = await kubectl(server, "label", "pod", "new", "tier=db")
    assert labelled.code == 0, labelled.err
    deleted = await kubectl(server, "delete", "pod", "new", "--wait=false")
    assert deleted.code == 0, deleted.err


# --- 8. credentials ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer \xe9t\xe9".encode("latin-1"),  # not ASCII
        "Bearer caf\xe9".encode(),  # UTF-8
        b"Bearer",
        b"Bearer ",
        b"Basic czNjcmV0",
        b"s3cret",
    ],
)
async def test_a_malformed_credential_is_401(tmp_path: Path, authorization: bytes) -> None:
    async with serve(FakeRegistry(), tmp_path, token="s3cret") as server:
        head = b"GET /api/v1/pods HTTP/1.1\r\nHost: x\r\nAuthorization: " + authorization + b"\r\n"
        code, body = await raw_request(server, head)
    assert (code, body["reason"]) == (401, "Unauthorized")


@pytest.mark.parametrize("text", ["", "\n", "  \n\t"])
def test_an_empty_token_file_is_an_error(tmp_path: Path, text: str) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(text)
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    done = subprocess.run(
        [
            *RUN,
            str(manifest),
            "--state-dir",
            str(tmp_path / "state"),
            "--token-file",
            str(token_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"error: --token-file: the file is empty: {token_file}" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_token_that_cannot_travel_in_a_header_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"caf\xc3\xa9\n")
    with pytest.raises(ValueError, match="not ASCII"):
        clirun.read_token(path)
    path.write_text("two words\n")
    with pytest.raises(ValueError, match="spaces"):
        clirun.read_token(path)
    path.write_text("s3cret\n")
    assert clirun.read_token(path) == "s3cret"


def test_a_network_address_without_a_token_warns_what_it_exposes() -> None:
    for address in ("0.0.0.0", "::", "192.168.1.5", "example.com"):
        warning = clirun.exposure_warning(address, None)
        assert warning is not None
        assert f"--address {address}" in warning
        for exposed in ("spec", "environment variables", "container logs"):
            assert exposed in warning
    for address in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert clirun.exposure_warning(address, None) is None
    assert clirun.exposure_warning("0.0.0.0", "s3cret") is None


def test_the_warning_is_printed_before_serving(tmp_path: Path) -> None:
    """192.0.2.1 (TEST-NET-1) is not an address of this machine: binding fails (exit 2), so
    nothing is ever served beyond loopback, but the warning comes first."""
    manifest = tmp_path / "pod.json"
    manifest.write_text(json.dumps(POD))
    done = subprocess.run(
        [*RUN, str(manifest), "--state-dir", str(tmp_path / "state"), "--address", "192.0.2.1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Warning: --address 192.0.2.1 without --token-file serves" in done.stderr


# --- 10. malformed bodies --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "kind"),
    [
        ('{"gracePeriodSeconds": "abc"}', "DeleteOptions.gracePeriodSeconds", "string"),
        ('{"gracePeriodSeconds": [1]}', "DeleteOptions.gracePeriodSeconds", "array"),
        ('{"gracePeriodSeconds": 1.5}', "DeleteOptions.gracePeriodSeconds", "number 1.5"),
        ('{"gracePeriodSeconds": 1e400}', "1e400", "out of range"),
        ('{"preconditions": [1]}', "DeleteOptions.preconditions", "array"),
        ('{"preconditions": "x"}', "DeleteOptions.preconditions", "string"),
        ('{"preconditions": {"uid": 5}}', "DeleteOptions.preconditions.uid", "number"),
        ('{"dryRun": "All"}', "DeleteOptions.dryRun", "string"),
        ("[1]", "v1.DeleteOptions", "array"),
    ],
)
async def test_malformed_delete_options_are_400(
    server: Server, options: str, field: str, kind: str
) -> None:
    code, body = await call(server, "DELETE", PODS + "/web", data=options, headers=JSON_TYPE)
    assert (code, body["kind"], body["reason"]) == (400, "Status", "BadRequest"), body
    assert field in body["message"], body["message"]
    assert kind in body["message"], body["message"]
    assert ("default", "web") in server.registry.pods


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": 1, "value": "x"},
        {"op": "move", "from": 1, "path": "/metadata/labels/x"},
        {"op": "copy", "path": "/metadata/labels/x"},
        7,
    ],
)
async def test_a_malformed_json_patch_is_422(server: Server, operation: Any) -> None:
    code, body = await call(
        server, "PATCH", PODS + "/web", data=json.dumps([operation]), headers=JSON_PATCH
    )
    assert (code, body["kind"], body["reason"]) == (422, "Status", "Invalid"), body


@pytest.mark.parametrize(
    ("headers", "patch", "words"),
    [
        (MERGE, {"metadata": "x"}, "ObjectMeta"),
        (STRATEGIC, {"spec": {"containers": "x"}}, "containers"),
        (MERGE, {"spec": {"containers": [{"name": "a", "ports": "x"}]}}, "ports"),
    ],
)
async def test_a_patch_that_leaves_no_pod_is_400(
    server: Server, headers: dict[str, str], patch: JSON, words: str
) -> None:
    code, body = await call(server, "PATCH", PODS + "/web", json=patch, headers=headers)
    assert (code, body["reason"]) == (400, "BadRequest"), body
    assert words in body["message"]
    assert "cannot unmarshal" in body["message"]


async def test_a_bad_label_key_is_refused_in_the_api_servers_words(server: Server) -> None:
    patch = {"metadata": {"labels": {"bad key/!!": "v"}}}
    code, body = await call(server, "PATCH", PODS + "/web", json=patch, headers=MERGE)
    assert (code, body["reason"]) == (422, "Invalid"), body
    assert body["message"].startswith('Pod "web" is invalid: [metadata.labels: Invalid value: ')
    assert "prefix part a lowercase RFC 1123 subdomain must consist of" in body["message"]
    assert "bad key/!!" not in json.dumps(server.registry.pods[("default", "web")])


@pytest.mark.parametrize(
    ("content_type", "text", "words"),
    [
        ("application/json", "[" * 100_000 + "]" * 100_000, "nested more than 100 levels"),
        ("application/json", '{"a":' * 100_000 + "1" + "}" * 100_000, "nested more than 100"),
        ("application/yaml", "[" * 100_000 + "]" * 100_000, "nested more than 100 levels"),
        ("application/yaml", "a: " + "1" * 5000, "an integer of 5000 digits is out of range"),
        ("application/json", '{"a": ' + "1" * 5000 + "}", "an integer of 5000 digits"),
        ("application/yaml", "a: 1\n---\nb: 2\n", "more than one document"),
    ],
)
async def test_bodies_that_cannot_be_decoded_are_400(
    server: Server, content_type: str, text: str, words: str
) -> None:
    code, body = await call(server, "POST", PODS, data=text, headers={"Content-Type": content_type})
    assert (code, body["reason"]) == (400, "BadRequest"), body
    assert words in body["message"]


def test_a_manifest_with_a_huge_integer_is_exit_2(tmp_path: Path) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n"
        f"  - name: a\n    image: x\n    command: [sleep, '1']\n"
        f"  terminationGracePeriodSeconds: {'9' * 5000}\n"
    )
    for command in ("validate", "run"):
        argv = [sys.executable, "-m", "minikubelet", command, str(manifest)]
        if command == "run":
            argv += ["--port", "0", "--state-dir", str(tmp_path / "state")]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "an integer of 5000 digits is out of range" in done.stderr
        assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("method", "path", "refused"),
    [
        ("GET", "/api/v1/namespaces/default/pods/web/exec", True),
        ("GET", "/api/v1/namespaces/default/pods/web/attach", True),
        ("GET", "/api/v1/namespaces/default/pods/web/portforward", True),
        ("POST", "/api/v1/namespaces/default/pods", True),
        ("GET", "/api/v1/namespaces/default/pods/web", False),
        ("GET", "/api/v1/namespaces/default/pods/web/log", False),
    ],
)
async def test_streaming_sessions_are_writes_for_the_loopback_rule(
    method: str, path: str, refused: bool
) -> None:
    """exec, attach and port-forward start processes and connections in a container: from
    another machine they are refused like any write, whatever the method of the upgrade."""
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from minikubelet.api import middleware
    from minikubelet.api.status_errors import StatusError

    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda key, default=None: (
        ("192.0.2.7", 40000) if key == "peername" else default
    )
    request = make_mocked_request(method, path, transport=transport)

    async def handler(_: object) -> str:
        return "served"

    if refused:
        with pytest.raises(StatusError) as raised:
            await middleware.loopback_writes(request, handler)  # type: ignore[arg-type]
        assert raised.value.code == 403
    else:
        assert await middleware.loopback_writes(request, handler) == "served"  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("path", "served"),
    [("/ui", True), ("/ui/timeline.js", True), ("/debug/timeline", False), ("/api/v1/pods", False)],
)
async def test_in_token_mode_only_the_pages_static_files_go_without_the_token(
    path: str, served: bool
) -> None:
    """The page holds no data and a browser cannot add a bearer token to a page it opens; the
    page's own requests carry the token (from its `#token=` fragment)."""
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from minikubelet.api import middleware
    from minikubelet.api.status_errors import StatusError

    request = make_mocked_request("GET", path)
    config = mock.Mock(token="s3cret")
    with mock.patch.object(middleware, "settings", return_value=config):

        async def handler(_: object) -> str:
            return "served"

        if served:
            assert await middleware.authenticate(request, handler) == "served"  # type: ignore[arg-type]
        else:
            with pytest.raises(StatusError) as raised:
                await middleware.authenticate(request, handler)  # type: ignore[arg-type]
            assert raised.value.code == 401
