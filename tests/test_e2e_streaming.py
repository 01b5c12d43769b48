"""The streaming verbs with the real kubectl and the official Python client against a live
daemon: exec (environment, working directory, streams, exit codes, stdin, a terminal with
resize), cp both ways, attach (output, stdin, stdinOnce), port-forward (a served port, a port
nobody listens on), logs over websockets, the API server's errors, and the end of every
session: with its client, with its container, with the daemon, leaving no process behind."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import textwrap
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import websocket  # websocket-client, the Python client's transport
from daemon_harness import Minikubelet
from kubernetes import client as k8s
from kubernetes.stream import portforward, stream

KUBECTL = str(Path(sys.executable).parent / "kubectl")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = free_port()
CLOSED_PORT = free_port()

PODS = f"""
    apiVersion: v1
    kind: Pod
    metadata: {{name: web}}
    spec:
      containers:
      - name: app
        image: busybox
        workingDir: WORKDIR
        env: [{{name: GREETING, value: hello}}, {{name: WHO, value: "$(GREETING) world"}}]
        command: [python3, -u, -c, "import http.server as h; print('serving', flush=True); h.ThreadingHTTPServer(('127.0.0.1', {PORT}), h.SimpleHTTPRequestHandler).serve_forever()"]
      - name: echo
        image: busybox
        stdin: true
        command: [sh, -c, "echo ready; while read line; do echo got $line; done"]
      - name: once
        image: busybox
        stdin: true
        stdinOnce: true
        command: [sh, -c, "while read line; do echo once $line; done; echo stdin closed; exec sleep 600"]
      - name: ticker
        image: busybox
        command: [sh, -c, "i=0; while true; do i=$((i+1)); echo tick $i; echo tock $i >&2; sleep 0.2; done"]
      - name: short
        image: busybox
        command: [sh, -c, "exit 0"]
"""


@pytest.fixture(scope="module")
def mk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Minikubelet]:
    tmp = tmp_path_factory.mktemp("streaming")
    workdir = tmp / "wd"
    path = tmp / "pods.yaml"
    path.write_text(textwrap.dedent(PODS).replace("WORKDIR", str(workdir)))
    daemon = Minikubelet(path, "--quiet-logs", "--backoff-initial", "300", state_dir=tmp / "state")
    daemon.wait_serving()
    daemon.workdir = workdir  # type: ignore[attr-defined]
    daemon.wait_for(
        "containers running",
        lambda: (
            all(
                "running" in daemon.container("web", c)["state"]
                for c in ("app", "echo", "once", "ticker")
            )
            and daemon.container("web", "short")["restartCount"] >= 1
            and "running" not in daemon.container("web", "short")["state"]
        ),
    )
    daemon.wait_for(
        "server up",
        lambda: (
            "serving"
            in daemon.get("/api/v1/namespaces/default/pods/web/log?container=app")[1].decode()
        ),
    )
    yield daemon
    daemon.close()
    assert daemon.survivors() == []


def kubectl(
    mk: Minikubelet, *args: str, stdin: str | bytes = "", timeout: float = 30
) -> tuple[str, str, int]:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run(
        [KUBECTL, "--server", mk.url, *args],
        input=data,
        capture_output=True,
        timeout=timeout,
        env=env,
    )
    return result.stdout.decode(), result.stderr.decode(), result.returncode


def start_kubectl(mk: Minikubelet, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    return subprocess.Popen(
        [KUBECTL, "--server", mk.url, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )


def read_until(proc: subprocess.Popen[bytes], token: bytes, timeout: float = 20) -> bytes:
    """Reads the process's stdout until `token` shows up (a deadline, no sleeping)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    out = b""
    deadline = time.monotonic() + timeout
    while token not in out:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {token!r} in {out!r}"
        ready, _, _ = select.select([fd], [], [], remaining)
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"EOF before {token!r}: {out!r}"
            out += chunk
    return out


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(10)
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def api_status(mk: Minikubelet, path: str) -> tuple[int, dict[str, object]]:
    """A websocket upgrade request that the API server refuses before upgrading."""
    headers = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": base64.b64encode(os.urandom(16)).decode(),
        "Sec-WebSocket-Protocol": "v5.channel.k8s.io",
    }
    req = urllib.request.Request(mk.url + path, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {}
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# --- exec ---------------------------------------------------------------------------------


def test_exec_environment_workdir_streams_and_exit_code(mk: Minikubelet) -> None:
    out, err, code = kubectl(
        mk, "exec", "web", "-c", "app", "--",
        "sh", "-c", 'echo "$WHO"; pwd; echo oops >&2; exit 3',
    )  # fmt: skip
    assert out == f"hello world\n{mk.workdir}\n"  # type: ignore[attr-defined]
    assert err == "oops\ncommand terminated with exit code 3\n"
    assert code == 3


def test_exec_success_and_stdin(mk: Minikubelet) -> None:
    data = "".join(f"line {i}\n" for i in range(20000))  # more than a pipe holds
    out, err, code = kubectl(mk, "exec", "-i", "web", "-c", "app", "--", "wc", "-l", stdin=data)
    assert (out.strip(), err, code) == ("20000", "", 0)
    out, err, code = kubectl(mk, "exec", "-i", "web", "-c", "app", "--", "cat", stdin=data)
    assert (out == data, err, code) == (True, "", 0)


def test_exec_with_a_terminal_and_resize(mk: Minikubelet) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a terminal, as a user runs it
        os.environ["KUBECONFIG"] = "/dev/null"
        os.execv(
            KUBECTL, [KUBECTL, "--server", mk.url, "exec", "-it", "web", "-c", "app", "--", "sh"]
        )
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
        out = b""

        def until(token: bytes) -> None:
            nonlocal out
            deadline = time.monotonic() + 20
            while token not in out:
                assert time.monotonic() < deadline, f"no {token!r} in {out!r}"
                if select.select([fd], [], [], 0.5)[0]:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        raise AssertionError(f"terminal closed before {token!r}: {out!r}") from None

        os.write(fd, b"echo X$((6*7))Y; stty size; tty\n")
        until(b"X42Y")
        until(b"30 100")
        until(b"/dev/pts/")
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.kill(pid, signal.SIGWINCH)
        os.write(
            fd,
            b"while [ \"$(stty size)\" != '40 120' ]; do sleep 0.05; done; echo RE$((1+1))SIZED; exit 5\n",
        )
        until(b"RE2SIZED")
        until(b"command terminated with exit code 5")
        _, status = os.waitpid(pid, 0)
        pid = 0
        assert os.waitstatus_to_exitcode(status) == 5
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        os.close(fd)


def test_exec_errors_in_the_api_servers_words(mk: Minikubelet) -> None:
    _out, err, code = kubectl(mk, "exec", "web", "-c", "short", "--", "true")
    assert (
        err
        == 'error: Internal error occurred: unable to upgrade connection: container not found ("short")\n'
    )
    assert code == 1
    _out, err, code = kubectl(mk, "exec", "web", "-c", "app", "--", "no-such-command")
    assert err.startswith("error: Internal error occurred: error executing command in container: ")
    assert err.endswith('exec: "no-such-command": executable file not found in $PATH: unknown\n')
    _out, err, code = kubectl(mk, "exec", "nope", "--", "true")
    assert (err, code) == ('Error from server (NotFound): pods "nope" not found\n', 1)
    base = "/api/v1/namespaces/default/pods/web/exec?stdout=true"
    code, status = api_status(mk, base + "&container=nope&command=true")
    assert (code, status["reason"], status["message"]) == (
        400,
        "BadRequest",
        "container nope is not valid for pod web",
    )
    code, status = api_status(mk, base + "&command=true")
    assert code == 400
    assert (
        status["message"]
        == "a container name must be specified for pod web, choose one of: [app echo once ticker short]"
    )
    code, status = api_status(mk, base + "&container=app")
    assert (code, status["message"]) == (
        400,
        "you must specify at least one command for the container",
    )
    code, status = api_status(mk, base + "&container=app&command=" + urllib.parse.quote("a\0b"))
    assert (code, status["reason"]) == (422, "Invalid")
    assert "must not contain a NUL byte" in str(status["message"])
    code, status = api_status(
        mk, "/api/v1/namespaces/default/pods/web/exec?container=app&command=true"
    )
    assert (code, status["message"]) == (
        400,
        "you must specify at least 1 of stdin, stdout, stderr",
    )


def test_exec_process_dies_with_its_client(mk: Minikubelet) -> None:
    proc = start_kubectl(
        mk, "exec", "web", "-c", "app", "--", "sh", "-c", "echo $$; exec sleep 300"
    )
    try:
        pid = int(read_until(proc, b"\n").split()[0])
        assert alive(pid)
        # `sh` echoes its pid just before it execs `sleep`; while the kernel swaps the
        # image, /proc/PID/environ reads empty, so wait for the new image's environment
        environ = mk.wait_for(
            "the exec'd process's environment", lambda: psutil.Process(pid).environ()
        )
        assert environ.get("GREETING") == "hello"
        assert environ.get("MINIKUBELET_SANDBOX")  # the watchdog's marker: it dies with us
    finally:
        stop(proc)  # SIGKILL: the websocket just drops
    mk.wait_for("exec'd process killed", lambda: not alive(pid))


# --- cp -------------------------------------------------------------------------------------


def test_cp_both_ways(mk: Minikubelet, tmp_path: Path) -> None:
    local = tmp_path / "in.txt"
    local.write_bytes(os.urandom(300_000))
    _out, err, code = kubectl(mk, "cp", str(local), "web:copied.bin", "-c", "app")
    assert (err, code) == ("", 0)
    assert (mk.workdir / "copied.bin").read_bytes() == local.read_bytes()  # type: ignore[attr-defined]
    back = tmp_path / "back.bin"
    _out, err, code = kubectl(mk, "cp", "web:copied.bin", str(back), "-c", "app")
    assert code == 0, err
    assert back.read_bytes() == local.read_bytes()


# --- attach ---------------------------------------------------------------------------------


def test_attach_to_output(mk: Minikubelet) -> None:
    log = "/api/v1/namespaces/default/pods/web/log?container=ticker"
    mk.wait_for("ticking", lambda: b"tick 2\n" in mk.get(log)[1])
    proc = start_kubectl(mk, "attach", "web", "-c", "ticker")
    try:
        out = read_until(proc, b"tick")
        out += read_until(proc, b"\n")
        first = int(out.split(b"tick ")[1].split()[0])
        assert first > 2  # from now on: earlier output is the log's, not attach's
        read_until(proc, f"tick {first + 2}\n".encode())
    finally:
        stop(proc)


def test_attach_writes_to_a_stdin_container(mk: Minikubelet) -> None:
    proc = start_kubectl(mk, "attach", "-i", "web", "-c", "echo")
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"hello\n")
        proc.stdin.flush()
        read_until(proc, b"got hello\n")
        proc.stdin.close()  # the container's stdin stays open without stdinOnce
    finally:
        stop(proc)
    proc = start_kubectl(mk, "attach", "-i", "web", "-c", "echo")
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"again\n")
        proc.stdin.flush()
        read_until(proc, b"got again\n")
    finally:
        stop(proc)


def test_attach_stdin_once_closes_the_containers_stdin(mk: Minikubelet) -> None:
    proc = start_kubectl(mk, "attach", "-i", "web", "-c", "once")
    try:
        assert proc.stdin is not None
        proc.stdin.write(b"first\n")
        proc.stdin.close()
        read_until(proc, b"once first\n")
    finally:
        stop(proc)
    mk.wait_for(
        "stdin closed",
        lambda: (
            "stdin closed"
            in mk.get("/api/v1/namespaces/default/pods/web/log?container=once")[1].decode()
        ),
    )


def test_attach_to_a_stopped_container(mk: Minikubelet) -> None:
    _out, err, code = kubectl(mk, "attach", "web", "-c", "short")
    assert code == 1
    assert 'container not found ("short")' in err


# --- port-forward -----------------------------------------------------------------------


def test_port_forward(mk: Minikubelet) -> None:
    proc = start_kubectl(mk, "port-forward", "pod/web", f":{PORT}")
    try:
        line = read_until(proc, b"\n").decode()
        local = int(line.split("127.0.0.1:")[1].split()[0])
        for _ in range(3):
            with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as resp:
                assert resp.status == 200
                assert b"Directory listing" in resp.read()
        assert proc.poll() is None
    finally:
        stop(proc)


def test_port_forward_to_a_closed_port(mk: Minikubelet) -> None:
    proc = start_kubectl(mk, "port-forward", "pod/web", f":{CLOSED_PORT}")
    try:
        line = read_until(proc, b"\n").decode()
        local = int(line.split("127.0.0.1:")[1].split()[0])
        with socket.create_connection(("127.0.0.1", local), timeout=10) as conn:
            conn.settimeout(10)
            assert conn.recv(10) == b""
        _, err = proc.communicate(timeout=20)
    finally:
        stop(proc)
    uid = mk.pod("web")["metadata"]["uid"]
    assert (
        f"error forwarding port {CLOSED_PORT} to pod {uid}, uid : failed to execute portforward "
        f'in network namespace \\"host\\": failed to connect to localhost:{CLOSED_PORT} inside '
        f'namespace \\"{uid}\\", IPv4: dial tcp4 127.0.0.1:{CLOSED_PORT}: connect: connection refused'
    ) in err.decode()
    assert "error: lost connection to pod" in err.decode()


# --- the official Python client ----------------------------------------------------------


@pytest.fixture
def api(mk: Minikubelet) -> k8s.CoreV1Api:
    config = k8s.Configuration()
    config.host = mk.url
    return k8s.CoreV1Api(k8s.ApiClient(config))


def test_python_client_exec(api: k8s.CoreV1Api) -> None:
    resp = stream(
        api.connect_get_namespaced_pod_exec, "web", "default", container="app",
        command=["sh", "-c", "echo out; echo err >&2; exit 4"],
        stdout=True, stderr=True, stdin=False, tty=False, _preload_content=False,
    )  # fmt: skip
    resp.run_forever(timeout=20)
    assert (resp.read_stdout(), resp.read_stderr(), resp.returncode) == ("out\n", "err\n", 4)
    out = stream(api.connect_get_namespaced_pod_exec, "web", "default", container="app",
                 command=["echo", "simple"], stdout=True, stderr=True)  # fmt: skip
    assert out == "simple\n"


def test_python_client_exec_stdin_close(api: k8s.CoreV1Api) -> None:
    resp = stream(
        api.connect_get_namespaced_pod_exec, "web", "default", container="app",
        command=["cat"], stdout=True, stderr=True, stdin=True, tty=False, _preload_content=False,
    )  # fmt: skip
    resp.write_stdin("through v5\n")
    resp.close_channel(0)  # v5 CLOSE: cat sees end of input and exits
    resp.run_forever(timeout=20)
    assert (resp.read_stdout(), resp.returncode) == ("through v5\n", 0)


def test_python_client_port_forward(api: k8s.CoreV1Api) -> None:
    pf = portforward(api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(PORT))
    sock = pf.socket(PORT)
    sock.setblocking(True)
    sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    sock.close()
    assert data.startswith(b"HTTP/1.0 200 OK")
    assert pf.error(PORT) is None
    pf = portforward(
        api.connect_get_namespaced_pod_portforward, "web", "default", ports=str(CLOSED_PORT)
    )
    sock = pf.socket(CLOSED_PORT)
    sock.setblocking(True)
    assert sock.recv(10) == b""
    deadline = time.monotonic() + 10
    while pf.error(CLOSED_PORT) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert f"dial tcp4 127.0.0.1:{CLOSED_PORT}: connect: connection refused" in str(
        pf.error(CLOSED_PORT)
    )


@pytest.mark.parametrize("protocol", ["binary.k8s.io", "base64.binary.k8s.io"])
def test_logs_over_websockets(mk: Minikubelet, protocol: str) -> None:
    url = mk.url.replace("http", "ws", 1) + "/api/v1/namespaces/default/pods/web/log?container=echo"
    ws = websocket.create_connection(url, subprotocols=[protocol], timeout=10)
    try:
        assert ws.subprotocol == protocol
        received = b""
        while True:
            opcode, data = ws.recv_data()
            if opcode == websocket.ABNF.OPCODE_CLOSE:
                break
            received += base64.b64decode(data) if protocol.startswith("base64") else data
            assert opcode == (
                websocket.ABNF.OPCODE_TEXT
                if protocol.startswith("base64")
                else websocket.ABNF.OPCODE_BINARY
            )
    finally:
        ws.close()
    assert received.startswith(b"ready\n")


def test_the_tunnel_answers_spdy_pings(mk: Minikubelet) -> None:
    url = mk.url.replace("http", "ws", 1) + "/api/v1/namespaces/default/pods/web/portforward"
    ws = websocket.create_connection(url, subprotocols=["SPDY/3.1+portforward.k8s.io"], timeout=10)
    try:
        assert ws.subprotocol.lower() == "spdy/3.1+portforward.k8s.io"  # it lowercases
        ws.send_binary(b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x05")  # PING 5
        assert ws.recv() == b"\x80\x03\x00\x06\x00\x00\x00\x04\x00\x00\x00\x05"
    finally:
        ws.close()


def test_a_broken_tunnel_stays_in_its_session(mk: Minikubelet) -> None:
    url = mk.url.replace("http", "ws", 1) + "/api/v1/namespaces/default/pods/web/portforward"
    ws = websocket.create_connection(url, subprotocols=["SPDY/3.1+portforward.k8s.io"], timeout=10)
    ws.send_binary(b"\x80\x02\x00\x01garbage that is no SPDY/3 frame")
    opcode, _ = ws.recv_data(control_frame=True)
    assert opcode == websocket.ABNF.OPCODE_CLOSE
    ws.close()
    assert mk.get("/healthz") == (200, b"ok")


# --- sessions end with their container and with the daemon --------------------------------


ONE = """
    apiVersion: v1
    kind: Pod
    metadata: {name: one}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - {name: app, image: busybox, command: [sleep, "600"]}
"""


def test_sessions_end_with_the_container_and_the_daemon(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(textwrap.dedent(ONE))
    daemon = Minikubelet(path, "--quiet-logs", state_dir=tmp_path / "state")
    try:
        daemon.wait_serving()
        daemon.wait_for("running", lambda: "running" in daemon.container("one", "app")["state"])
        first = start_kubectl(daemon, "exec", "one", "--", "sh", "-c", "echo $$; exec sleep 300")
        pid = int(read_until(first, b"\n").split()[0])
        tunnel = start_kubectl(daemon, "port-forward", "pod/one", f":{PORT}")
        read_until(tunnel, b"Forwarding from")
        # a pod deleted: its container stops, and the exec'd process with it; its
        # forwarded ports end with its sandbox
        _, err, code = kubectl(daemon, "delete", "pod", "one", "--wait=false")
        assert code == 0, err
        first.communicate(timeout=30)
        assert not alive(pid)
        _, tunnel_err = tunnel.communicate(timeout=30)
        assert b"lost connection to pod" in tunnel_err
        daemon.wait_for(
            "pod gone", lambda: daemon.get("/api/v1/namespaces/default/pods/one")[0] == 404
        )
        # the daemon stopping ends the sessions still open (a port-forward has no container)
        _, err, code = kubectl(daemon, "create", "-f", str(path))
        assert code == 0, err
        daemon.wait_for(
            "running again", lambda: "running" in daemon.container("one", "app")["state"]
        )
        second = start_kubectl(daemon, "exec", "one", "--", "sh", "-c", "echo $$; exec sleep 300")
        pid = int(read_until(second, b"\n").split()[0])
        forward = start_kubectl(daemon, "port-forward", "pod/one", f":{PORT}")
        read_until(forward, b"Forwarding from")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait_exit(60) == 0
        second.communicate(timeout=30)
        forward.communicate(timeout=30)
        assert not alive(pid)
    finally:
        daemon.close()
    assert daemon.survivors() == []


def test_idle_sessions_end_after_the_streaming_idle_timeout(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(textwrap.dedent(ONE))
    daemon = Minikubelet(
        path, "--quiet-logs", "--streaming-connection-idle-timeout", "3s",
        state_dir=tmp_path / "state",
    )  # fmt: skip
    try:
        daemon.wait_serving()
        daemon.wait_for("running", lambda: "running" in daemon.container("one", "app")["state"])
        proc = start_kubectl(daemon, "exec", "one", "--", "sh", "-c", "echo $$; exec sleep 300")
        pid = int(read_until(proc, b"\n").split()[0])
        proc.communicate(timeout=30)  # nothing sent either way: the session ends
        daemon.wait_for("idle process killed", lambda: not alive(pid))
        # a session with traffic stays: a command writing every 0.2 s outlives the timeout
        out, err, code = kubectl(
            daemon, "exec", "one", "--", "sh", "-c",
            "i=0; while [ $i -lt 25 ]; do i=$((i+1)); echo $i; sleep 0.2; done",
        )  # fmt: skip
        assert (out.split(), code) == ([str(i) for i in range(1, 26)], 0), err
    finally:
        daemon.close()
    assert daemon.survivors() == []


def test_exec_output_larger_than_any_buffer(mk: Minikubelet) -> None:
    size = 30 * 1024 * 1024
    env = {**os.environ, "KUBECONFIG": "/dev/null"}
    result = subprocess.run(
        [KUBECTL, "--server", mk.url, "exec", "web", "-c", "app", "--",
         "sh", "-c", f"head -c {size} /dev/zero; echo done >&2"],
        capture_output=True, timeout=120, env=env,
    )  # fmt: skip
    assert (len(result.stdout), result.stderr, result.returncode) == (size, b"done\n", 0)


def test_exec_processes_die_with_a_killed_daemon(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(textwrap.dedent(ONE))
    daemon = Minikubelet(path, "--quiet-logs", state_dir=tmp_path / "state")
    try:
        daemon.wait_serving()
        daemon.wait_for("running", lambda: "running" in daemon.container("one", "app")["state"])
        proc = start_kubectl(daemon, "exec", "one", "--", "sh", "-c", "echo $$; exec sleep 300")
        pid = int(read_until(proc, b"\n").split()[0])
        daemon.signal(signal.SIGKILL)  # no code of the daemon runs: the watchdog acts
        daemon.wait_exit(30)
        daemon.wait_for("exec'd process killed by the watchdog", lambda: not alive(pid))
        proc.communicate(timeout=30)
    finally:
        daemon.close()
