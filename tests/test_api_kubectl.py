"""The real kubectl against the API, with the in-memory registry: what it prints, stdout and
stderr, for the commands users run."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from api_fakes import KUBECTL, FakeRegistry, Server, cri, kubectl, serve

from minikubelet.api.registry import LogSource

POD_YAML = """\
apiVersion: v1
kind: Pod
metadata:
  name: {name}
spec:
  containers:
  - name: app
    image: {image}
    command: ["{command}", "100"]
"""


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[Server]:
    async with serve(FakeRegistry(), tmp_path) as s:
        yield s


def write_manifest(
    tmp_path: Path, name: str, image: str = "busybox", command: str = "sleep"
) -> str:
    path = tmp_path / f"{name}-{len(list(tmp_path.glob('*.yaml')))}.yaml"
    path.write_text(POD_YAML.format(name=name, image=image, command=command))
    return str(path)


def columns(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.strip().splitlines()]


async def test_get_pods_prints_kubectl_statuses(server: Server) -> None:
    result = await kubectl(server, "get", "pods")
    assert result.err == ""
    rows = {r[0]: r[1:] for r in columns(result.out)}
    assert rows["NAME"] == ["READY", "STATUS", "RESTARTS", "AGE"]
    assert rows["web"][:3] == ["1/1", "Running", "0"]
    assert re.fullmatch(r"5m(\ds)?", rows["web"][3])
    assert rows["crash"][:2] == ["0/1", "CrashLoopBackOff"]
    assert re.fullmatch(r"3 \(2\ds ago\)", rows["crash"][2])
    assert rows["init"][1] == "Init:0/2"
    assert [rows[n][1] for n in ("done", "failed", "oom")] == ["Completed", "Error", "OOMKilled"]
    assert "tool" not in rows


async def test_get_pods_wide_and_all_namespaces(server: Server) -> None:
    result = await kubectl(server, "get", "pods", "-A", "-o", "wide")
    assert result.err == ""
    header, *rows = columns(result.out)
    assert header == ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE", "IP", "NODE",
                      "NOMINATED NODE", "READINESS GATES"]  # fmt: skip
    tool = next(r for r in rows if r[1] == "tool")
    assert tool[:5] + tool[6:] == ["tools", "tool", "1/1", "Running", "0", "127.0.0.1",
                                   "testnode", "<none>", "<none>"]  # fmt: skip


async def test_namespace_flag(server: Server) -> None:
    result = await kubectl(server, "get", "pods", "-n", "tools", "-o", "name")
    assert (result.out, result.err) == ("pod/tool\n", "")


async def test_output_json_yaml_jsonpath(server: Server) -> None:
    as_json = await kubectl(server, "get", "pod", "web", "-o", "json")
    assert json.loads(as_json.out)["status"]["containerStatuses"][0]["name"] == "app"
    as_yaml = await kubectl(server, "get", "pods", "-o", "yaml")
    assert "kind: List" in as_yaml.out
    assert "name: crash" in as_yaml.out
    path = await kubectl(server, "get", "pod", "crash", "-o",
                         "jsonpath={.status.containerStatuses[0].restartCount}")  # fmt: skip
    assert (path.out, path.err) == ("3", "")


async def test_selectors(server: Server) -> None:
    by_label = await kubectl(server, "get", "pods", "-l", "app in (web,oom)", "-o", "name")
    assert by_label.out.split() == ["pod/oom", "pod/web"]
    by_field = await kubectl(server, "get", "pods", "--field-selector", "status.phase=Failed",
                             "-o", "name")  # fmt: skip
    assert by_field.out.split() == ["pod/failed", "pod/oom"]


async def test_missing_pod(server: Server) -> None:
    result = await kubectl(server, "get", "pod", "missing")
    assert result.code == 1
    assert result.err == 'Error from server (NotFound): pods "missing" not found\n'


async def test_describe_shows_states_and_events(server: Server) -> None:
    result = await kubectl(server, "describe", "pod", "crash")
    assert result.err == ""
    assert re.search(r"State:\s+Waiting\n\s+Reason:\s+CrashLoopBackOff", result.out)
    assert re.search(r"Last State:\s+Terminated\n\s+Reason:\s+Error\n\s+Exit Code:\s+1", result.out)
    assert re.search(r"Restart Count:\s+3", result.out)
    assert re.search(r"Warning\s+BackOff\s+1\ds \(x5 over 6\ds\)\s+kubelet", result.out)


async def test_get_events(server: Server) -> None:
    result = await kubectl(server, "get", "events")
    assert result.err == ""
    header, *rows = columns(result.out)
    assert header == ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    assert rows[1][1:4] == ["Warning", "BackOff", "pod/crash"]
    only = await kubectl(server, "get", "events", "-A", "--field-selector",
                         "involvedObject.name=web", "-o", "name")  # fmt: skip
    assert only.out.split() == ["event/web.started"]


def add_log(server: Server, tmp_path: Path, *, running: bool = False) -> Path:
    now = time.time()
    log = tmp_path / "0.log"
    lines = [cri(now - 30, "hello"), cri(now - 20, "wor", tag="P"), cri(now - 20, "ld"),
             cri(now - 5, "oops", "stderr")]  # fmt: skip
    log.write_text("\n".join(lines) + "\n")
    server.registry.logs[("default", "web", "app", False)] = LogSource((log,), running)
    return log


async def test_logs(server: Server, tmp_path: Path) -> None:
    add_log(server, tmp_path)
    assert (await kubectl(server, "logs", "web")).out == "hello\nworld\noops\n"
    tail = await kubectl(server, "logs", "web", "--tail", "1", "--timestamps")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z oops\n", tail.out)
    assert (await kubectl(server, "logs", "web", "--since", "10s")).out == "oops\n"
    assert (await kubectl(server, "logs", "web", "--limit-bytes", "8")).out == "hello\nwo"


async def test_logs_errors(server: Server) -> None:
    previous = await kubectl(server, "logs", "crash", "--previous")
    assert previous.err == (
        "Error from server (BadRequest): previous terminated container "
        '"app" in pod "crash" not found\n'
    )
    multi = await kubectl(server, "logs", "multi")
    assert multi.err.startswith('Defaulted container "a" out of: a, b\n')


async def test_logs_follow_ends_when_the_container_stops(server: Server, tmp_path: Path) -> None:
    log = add_log(server, tmp_path, running=True)
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), "--server", server.url, "--cache-dir", str(tmp_path / "c"), "logs", "-f",
        "web", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    for expected in (b"hello\n", b"world\n", b"oops\n"):
        assert await asyncio.wait_for(proc.stdout.readline(), 10) == expected
    with log.open("a") as f:
        f.write(cri(time.time(), "late") + "\n")
    assert await asyncio.wait_for(proc.stdout.readline(), 10) == b"late\n"
    server.registry.logs[("default", "web", "app", False)] = LogSource((log,), False)
    assert await asyncio.wait_for(proc.wait(), 10) == 0


async def test_create_twice_and_invalid(server: Server, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, "new")
    assert (await kubectl(server, "create", "-f", manifest)).out == "pod/new created\n"
    again = await kubectl(server, "create", "-f", manifest)
    assert again.err == (
        f'Error from server (AlreadyExists): error when creating "{manifest}": '
        'pods "new" already exists\n'
    )
    bad = await kubectl(server, "create", "-f", write_manifest(tmp_path, "bad", image='""'))
    assert bad.err == ('The Pod "bad" is invalid: spec.containers[0].image: Required value\n')


async def test_apply_create_unchanged_configured_forbidden(server: Server, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, "ap")
    assert (await kubectl(server, "apply", "-f", manifest)).out == "pod/ap created\n"
    assert (await kubectl(server, "apply", "-f", manifest)).out == "pod/ap unchanged\n"
    labelled = Path(manifest).read_text().replace("  name: ap\n", "  name: ap\n  labels: {t: x}\n")
    Path(manifest).write_text(labelled)
    configured = await kubectl(server, "apply", "-f", manifest)
    assert (configured.out, configured.err) == ("pod/ap configured\n", "")
    assert server.registry.pods[("default", "ap")]["metadata"]["labels"] == {"t": "x"}
    changed = await kubectl(server, "apply", "-f", write_manifest(tmp_path, "ap", command="true"))
    assert changed.code == 1
    assert changed.err.startswith(
        'The Pod "ap" is invalid: spec: Forbidden: pod updates may not change fields other than'
    )


async def test_delete_waits_until_gone(server: Server) -> None:
    result = await kubectl(server, "delete", "pod", "web")
    assert (result.out, result.err) == ('pod "web" deleted from default namespace\n', "")
    assert ("default", "web") not in server.registry.pods
    missing = await kubectl(server, "delete", "pod", "web")
    assert missing.err == 'Error from server (NotFound): pods "web" not found\n'


async def test_get_watch_prints_changes(server: Server, tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(KUBECTL), "--server", server.url, "--cache-dir", str(tmp_path / "c"), "get", "pods",
        "-w", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines = [await asyncio.wait_for(proc.stdout.readline(), 10) for _ in range(8)]
        assert lines[0].split()[0] == b"NAME"
        web = server.registry.pods[("default", "web")]
        web["status"]["containerStatuses"][0]["state"] = {"waiting": {"reason": "ErrImagePull"}}
        server.registry.publish("MODIFIED", web)
        changed = await asyncio.wait_for(proc.stdout.readline(), 10)
        assert changed.split()[:3] == [b"web", b"0/1", b"ErrImagePull"]
    finally:
        proc.kill()
        await proc.wait()


async def test_token_is_required(tmp_path: Path) -> None:
    """kubectl sends no credentials over plain HTTP (clientcmd applies auth info only to TLS
    transports), so with a token set kubectl is refused like any other caller."""
    async with serve(FakeRegistry(), tmp_path, token="s3cret") as server:
        denied = await kubectl(server, "--token", "s3cret", "get", "pods")
        assert denied.code == 1
        assert denied.err.endswith(
            "error: You must be logged in to the server (the server has asked for the client "
            "to provide credentials)\n"
        )


async def test_version(server: Server) -> None:
    """The API server is v1.36 emulating 1.34: the kubectl in use (1.37) prints no skew
    warning, and the emulated version says whose behaviour the daemon follows."""
    result = await kubectl(server, "version", "-o", "json")
    server_version = json.loads(result.out)["serverVersion"]
    assert server_version["gitVersion"] == "v1.36.0"
    assert (server_version["emulationMajor"], server_version["emulationMinor"]) == ("1", "34")
    plain = await kubectl(server, "version")
    assert "Server Version: v1.36.0" in plain.out
    assert (plain.code, plain.err) == (0, "")
