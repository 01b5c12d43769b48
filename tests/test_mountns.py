"""Mount namespaces (runtime/mountns.py) with real processes: volumes at their mountPath, the
host untouched, exec probes, hooks and `kubectl exec` inside the container's view, mount
failures as start errors, detection and the --volumes flag. As root here; one test runs the
same steps as an unprivileged user it creates."""

from __future__ import annotations

import asyncio
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from api_fakes import FakeRegistry, kubectl, serve

from minikubelet import cliparser
from minikubelet.api.registry import ContainerTarget
from minikubelet.core.spec import Container, ExecAction, Pod, PodSpec
from minikubelet.probe import execprobe, handlers, hooks
from minikubelet.runtime import mountns
from minikubelet.runtime.process import ContainerProcess
from minikubelet.runtime.spawn import MountStartError, spawn

REPO = Path(__file__).resolve().parent.parent
TARGET = "/etc/minikubelet-test-config"

HERE = mountns.available(deny="")
needs_ns = pytest.mark.skipif(
    not HERE.ok, reason=f"this host does not allow mount namespaces: {HERE.reason}"
)


class Capture:
    def __init__(self) -> None:
        self.data = bytearray()
        self.closed = False

    def feed(self, stream: str, data: bytes) -> None:
        self.data += data

    def close(self) -> None:
        self.closed = True

    @property
    def text(self) -> str:
        return self.data.decode()


def mount_points() -> list[str]:
    with open("/proc/self/mountinfo", encoding="utf-8") as f:
        return sorted(line.split(" ")[4] for line in f if line.strip())


@pytest.fixture
def volume(tmp_path: Path) -> Path:
    src = tmp_path / "volume"
    src.mkdir()
    (src / "x").write_text("from the volume\n")
    return src


@pytest.fixture
def scratch(tmp_path: Path) -> str:
    return str(tmp_path / "mountns")


async def run(
    script: str,
    mounts: Sequence[mountns.Mount],
    scratch: str,
    *,
    cwd: str | None = None,
    argv: Sequence[str] | None = None,
) -> tuple[int, str]:
    out = Capture()
    process = await spawn(
        list(argv) if argv is not None else ["sh", "-c", script],
        env=dict(os.environ), cwd=cwd, writer=out, mounts=mounts, mount_dir=scratch,
    )  # fmt: skip
    try:
        async with asyncio.timeout(30):
            info = await process.wait()
    finally:
        process.kill()
        await process.wait()
    return info.exit_code, out.text


@pytest.fixture
async def container(volume: Path, scratch: str, tmp_path: Path) -> AsyncIterator[ContainerProcess]:
    """A running container with the volume at TARGET (read-only) and at a deep path."""
    mounts = [
        mountns.Mount(str(volume), TARGET, read_only=True),
        mountns.Mount(str(volume), "/usr/share/minikubelet-test/deep"),
    ]
    process = await spawn(["sleep", "60"], env=dict(os.environ), cwd=None, writer=Capture(),
                          mounts=mounts, mount_dir=scratch)  # fmt: skip
    try:
        yield process
    finally:
        process.kill()
        await process.wait()


# --- the container's view --------------------------------------------------------------


@needs_ns
async def test_a_host_dir_is_at_its_mount_path_and_not_on_the_host(
    volume: Path, scratch: str
) -> None:
    assert not os.path.exists(TARGET)
    before = mount_points()
    code, out = await run(f"cat {TARGET}/x && echo more > {TARGET}/y", [
        mountns.Mount(str(volume), TARGET)
    ], scratch)  # fmt: skip
    assert (code, out) == (0, "from the volume\n")
    assert (volume / "y").read_text() == "more\n"  # a volume writes through to its dir
    assert not os.path.exists(TARGET)
    assert mount_points() == before
    assert not os.listdir(scratch)  # the namespace's scratch dir went with its process


@needs_ns
async def test_read_only_refuses_writes_with_erofs(volume: Path, scratch: str) -> None:
    script = textwrap.dedent(f"""
        import errno, os
        try:
            open("{TARGET}/new", "w")
        except OSError as e:
            print(errno.errorcode[e.errno])
        print(open("{TARGET}/x").read(), end="")
    """)
    mounts = [mountns.Mount(str(volume), TARGET, read_only=True)]
    code, out = await run("", mounts, scratch, argv=[sys.executable, "-c", script])
    assert (code, out) == (0, "EROFS\nfrom the volume\n")
    assert not (volume / "new").exists()


@needs_ns
async def test_a_file_is_mounted_at_a_file_path(tmp_path: Path, scratch: str) -> None:
    config = tmp_path / "app.yaml"
    config.write_text("key: value\n")
    target = "/opt/minikubelet-test/conf/app.yaml"
    mounts = [mountns.Mount(str(config), target)]
    code, out = await run(f"cat {target}; test -f {target} && echo file", mounts, scratch)
    assert (code, out) == (0, "key: value\nfile\n")
    assert not os.path.exists("/opt/minikubelet-test")


@needs_ns
async def test_a_deep_mount_path_under_an_existing_dir_leaves_the_host_as_it_was(
    volume: Path, scratch: str
) -> None:
    share = sorted(os.listdir("/usr/share"))
    existing = share[0]
    target = "/usr/share/minikubelet-test/a/b"
    before = mount_points()
    script = f"cat {target}/x; ls /usr/share | grep -cx {existing}; touch /usr/share/mk-written"
    code, out = await run(script, [mountns.Mount(str(volume), target)], scratch)
    # the overlay keeps what is there and takes new files without writing to the host
    assert (code, out) == (0, "from the volume\n1\n")
    assert sorted(os.listdir("/usr/share")) == share
    assert mount_points() == before


@needs_ns
async def test_absolute_symlinks_in_a_mount_path_resolve_in_the_new_root(
    volume: Path, scratch: str
) -> None:
    if not os.path.islink("/var/run") or not os.readlink("/var/run").startswith("/"):
        pytest.skip("/var/run is not an absolute symlink on this host")
    (volume / "link").symlink_to("/etc/hostname")
    target = "/var/run/secrets/minikubelet-test"
    script = f"cat {target}/x /run/secrets/minikubelet-test/x; cat {target}/link"
    code, out = await run(script, [mountns.Mount(str(volume), target)], scratch)
    hostname = Path("/etc/hostname").read_text()
    assert (code, out) == (0, "from the volume\nfrom the volume\n" + hostname)
    assert not os.path.exists("/run/secrets/minikubelet-test")


@needs_ns
async def test_the_process_keeps_its_uid_networking_and_hosts(volume: Path, scratch: str) -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.setblocking(False)
    port = server.getsockname()[1]
    script = textwrap.dedent(f"""
        import os, socket
        s = socket.create_connection(("127.0.0.1", {port}))
        s.sendall(f"{{os.getuid()}} {{os.getgid()}}".encode())
        s.close()
        print(open("/etc/hosts").read(), end="")
    """)
    loop = asyncio.get_running_loop()
    mounts = [mountns.Mount(str(volume), TARGET)]
    task = asyncio.create_task(run("", mounts, scratch, argv=[sys.executable, "-c", script]))
    try:
        async with asyncio.timeout(30):
            conn, _ = await loop.sock_accept(server)
            with conn:
                said = (await loop.sock_recv(conn, 100)).decode()
        code, out = await task
    finally:
        server.close()
        await asyncio.gather(task, return_exceptions=True)
    assert said == f"{os.getuid()} {os.getgid()}"
    assert (code, out) == (0, Path("/etc/hosts").read_text())


@needs_ns
async def test_the_working_directory_is_the_containers_view(volume: Path, scratch: str) -> None:
    code, out = await run("pwd; cat x", [mountns.Mount(str(volume), TARGET)], scratch, cwd=TARGET)
    assert (code, out) == (0, f"{TARGET}\nfrom the volume\n")


# --- entering the container's namespace -------------------------------------------------


@needs_ns
async def test_an_entering_exec_sees_the_same_files(container: ContainerProcess) -> None:
    assert container.mount_namespace
    out = Capture()
    process = await spawn(["sh", "-c", f"cat {TARGET}/x; pwd; cat deep/x"], env=dict(os.environ),
                          cwd="/usr/share/minikubelet-test", writer=out,
                          enter=container.pid)  # fmt: skip
    async with asyncio.timeout(30):
        info = await process.wait()
    assert not process.mount_namespace  # it joined one, it made none
    assert (info.exit_code, out.text) == (
        0,
        "from the volume\n/usr/share/minikubelet-test\nfrom the volume\n",
    )


@needs_ns
async def test_exec_probes_and_hooks_run_in_the_containers_namespace(
    container: ContainerProcess,
) -> None:
    env = dict(os.environ)
    argv = ["cat", f"{TARGET}/x"]
    outcome = await execprobe.exec_probe(argv, env=env, cwd=None, timeout_s=10, enter=container.pid)
    assert outcome.result == handlers.ProbeResultKind.SUCCESS
    assert outcome.output == "from the volume\n"
    outside = await execprobe.exec_probe(argv, env=env, cwd=None, timeout_s=10)
    assert outside.result == handlers.ProbeResultKind.FAILURE  # the host has no such file
    pod = Pod(name="web", uid="uid-1", spec=PodSpec(containers=(Container(name="app"),)))
    failing = ExecAction(command=("sh", "-c", f"test ! -e {TARGET}/x"))
    error = await hooks.run_hook(failing, pod=pod, container=pod.spec.containers[0], env=env,
                                 cwd=None, enter=container.pid)  # fmt: skip
    assert error is not None
    assert "exited with 1" in error
    passing = ExecAction(command=("sh", "-c", f"test -e {TARGET}/x"))
    assert await hooks.run_hook(passing, pod=pod, container=pod.spec.containers[0], env=env,
                                cwd=None, enter=container.pid) is None  # fmt: skip


@needs_ns
async def test_kubectl_exec_enters_the_containers_namespace(
    container: ContainerProcess, tmp_path: Path
) -> None:
    registry = FakeRegistry()
    registry.targets[("default", "web", "app")] = ContainerTarget(
        container_id="minikubelet://0c3d", env=dict(os.environ), cwd="/usr/share",
        process=container,
    )  # fmt: skip
    async with serve(registry, tmp_path) as server:
        res = await kubectl(server, "exec", "web", "-c", "app", "--", "sh", "-c",
                            f"pwd; cat {TARGET}/x")  # fmt: skip
    assert (res.code, res.out) == (0, "/usr/share\nfrom the volume\n"), res.err


@needs_ns
async def test_entering_a_container_that_is_gone_is_a_start_error(
    container: ContainerProcess,
) -> None:
    pid = container.pid
    container.kill()
    await container.wait()
    with pytest.raises(handlers.ProbeError, match="enter the container's mount namespace"):
        await execprobe.run_command(["true"], env={}, cwd=None, timeout_s=5, enter=pid)


# --- mounts that cannot be made ----------------------------------------------------------


@needs_ns
async def test_a_missing_source_is_a_mount_start_error(tmp_path: Path, scratch: str) -> None:
    out = Capture()
    missing = str(tmp_path / "nope")
    with pytest.raises(MountStartError) as e:
        await spawn(["true"], env={}, cwd=None, writer=out,
                    mounts=[mountns.Mount(missing, TARGET)], mount_dir=scratch)  # fmt: skip
    assert str(e.value) == (
        f'error mounting "{missing}" to rootfs at "{TARGET}": stat {missing}: '
        "no such file or directory"
    )
    assert out.closed


@needs_ns
async def test_a_mount_point_that_cannot_be_made_is_a_mount_start_error(
    tmp_path: Path, volume: Path, scratch: str
) -> None:
    config = tmp_path / "file"
    config.write_text("x")
    with pytest.raises(MountStartError) as e:  # a file onto a directory
        await spawn(["true"], env={}, cwd=None, writer=Capture(),
                    mounts=[mountns.Mount(str(config), "/etc")], mount_dir=scratch)  # fmt: skip
    assert str(e.value).startswith(f'error mounting "{config}" to rootfs at "/etc": ')
    assert "not a file" in str(e.value)
    with pytest.raises(MountStartError) as e:  # under a read-only volume
        await spawn(["true"], env={}, cwd=None, writer=Capture(), mount_dir=scratch, mounts=[
            mountns.Mount(str(volume), TARGET, read_only=True),
            mountns.Mount(str(volume), f"{TARGET}/sub/dir"),
        ])  # fmt: skip
    assert "read-only file system" in str(e.value)
    assert not (volume / "sub").exists()
    assert not os.listdir(scratch)


# --- an unprivileged user ----------------------------------------------------------------

UNPRIVILEGED = r"""
import json, os, subprocess, sys
from minikubelet.runtime import mountns
base = sys.argv[1]
found = mountns.available()
if not found.ok:
    print(json.dumps({"skip": found.reason + " / " + found.fix}))
    sys.exit(0)
os.makedirs(base + "/src")
with open(base + "/src/x", "w") as f:
    f.write("from the volume\n")
target = "/etc/minikubelet-test-config"
mounts = [mountns.Mount(base + "/src", target, read_only=True),
          mountns.Mount(base + "/src", "/usr/share/minikubelet-test/deep")]
ns = mountns.prepare(mounts, cwd=None, scratch_base=base + "/scratch")
script = ("cat %s/x /usr/share/minikubelet-test/deep/x; id -u; "
          "touch %s/y 2>/dev/null || echo refused; echo; read line" % (target, target))
main = subprocess.Popen(["sh", "-c", script], preexec_fn=ns.preexec, stdout=subprocess.PIPE,
                        stdin=subprocess.PIPE, text=True)
ns.close()
seen = ""
while not seen.endswith("\n\n"):
    seen += main.stdout.read(1)
joined = mountns.enter_preexec(main.pid, cwd=target)
entered = subprocess.run(["sh", "-c", "pwd; cat x; id -u"], preexec_fn=joined.preexec,
                         capture_output=True, text=True)
joined.close()
main.communicate("go\n")
mountns.remove_scratch(ns.scratch)
print(json.dumps({"seen": seen, "entered": entered.stdout, "err": entered.stderr,
                  "code": main.returncode, "host": os.path.exists(target),
                  "scratch": os.listdir(base + "/scratch")}))
"""


@needs_ns
def test_an_unprivileged_user_gets_the_same_view(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("creating a user needs root")
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    setpriv = shutil.which("setpriv")
    if python is None or setpriv is None or shutil.which("useradd") is None:
        pytest.skip("needs a system python3, setpriv and useradd")
    name = f"mkns{os.getpid()}"
    made = subprocess.run(["useradd", "-M", "-N", "-s", "/bin/sh", name], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot create a user: {made.stderr.decode().strip()}")
    base = tempfile.mkdtemp(prefix="mkns-")
    try:
        entry = pwd.getpwnam(name)
        os.chown(base, entry.pw_uid, entry.pw_gid)
        done = subprocess.run(
            [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--clear-groups",
             python, "-c", UNPRIVILEGED, base],
            capture_output=True, text=True, timeout=60, cwd=base,
            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": base},
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        result = json.loads(done.stdout)
        if "skip" in result:
            pytest.skip(f"this host denies an unprivileged user: {result['skip']}")
        uid = str(entry.pw_uid)
        assert result["seen"] == f"from the volume\nfrom the volume\n{uid}\nrefused\n\n"
        assert result["entered"] == f"{TARGET}\nfrom the volume\n{uid}\n", result["err"]
        assert result["code"] == 0
        assert result["host"] is False
        assert result["scratch"] == []
    finally:
        subprocess.run(["userdel", name], capture_output=True, check=False)
        shutil.rmtree(base, ignore_errors=True)


# --- detection and the flag ---------------------------------------------------------------


def test_detection_finds_namespaces_here() -> None:
    assert mountns.available(deny="") == mountns.Availability(True)


@pytest.mark.parametrize(
    ("host", "reason", "fix"),
    [
        ("apparmor", "AppArmor denies it",
         "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0"),
        ("docker", "seccomp profile denies it", "--security-opt seccomp=unconfined"),
        ("macos", "macOS has no namespaces", "MINIKUBELET_VOLUME_<NAME>"),
    ],
)  # fmt: skip
def test_a_denial_names_the_fix_for_the_host(
    host: str, reason: str, fix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(mountns.DENY_ENV, host)
    found = mountns.available()
    assert not found.ok
    assert reason in found.reason
    assert fix in found.fix


def test_the_apparmor_fix_gives_the_profile_for_this_interpreter() -> None:
    fix = mountns.available(deny="apparmor").fix
    assert f"profile minikubelet {os.path.realpath(sys.executable)} flags=(unconfined)" in fix
    assert "userns," in fix
    assert "apparmor_parser -r /etc/apparmor.d/minikubelet" in fix


def test_volume_mode_choice() -> None:
    ok, denied = mountns.Availability(True), mountns.Availability(False, "nope", "do this")

    def never() -> mountns.Availability:
        raise AssertionError("host mode does not look")

    assert cliparser.volume_mode("host", never) == ("host", "", "")
    assert cliparser.volume_mode("auto", lambda: ok) == ("namespace", "", "")
    assert cliparser.volume_mode("namespace", lambda: ok) == ("namespace", "", "")
    mode, warning, error = cliparser.volume_mode("auto", lambda: denied)
    assert (mode, error) == ("host", "")
    assert warning.startswith("--volumes=auto: mount namespaces are not available here: nope")
    assert warning.endswith("Fix: do this")
    assert cliparser.volume_mode("namespace", lambda: denied) == (
        "",
        "",
        "--volumes=namespace: mount namespaces are not available here: nope. Fix: do this",
    )


def _cli(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        textwrap.dedent("""
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          containers:
          - name: app
            image: busybox
            command: [sh, -c, "sleep 1"]
    """)
    )
    return subprocess.run(
        [sys.executable, "-m", "minikubelet", "run", "--state-dir", str(tmp_path / "state"),
         "--port", "0", *args, str(manifest)],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_a_bad_volumes_flag_is_named(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--volumes=bogus")
    assert done.returncode == 2
    assert "argument --volumes: invalid choice: 'bogus'" in done.stderr


def test_volumes_namespace_fails_at_start_with_the_fix_when_denied(tmp_path: Path) -> None:
    done = _cli(tmp_path, "--volumes=namespace", env={mountns.DENY_ENV: "apparmor"})
    assert done.returncode == 2
    assert done.stderr.startswith(
        "error: --volumes=namespace: mount namespaces are not available here: AppArmor denies it"
    )
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in done.stderr


# --- the supervisor ----------------------------------------------------------------------


@needs_ns
async def test_a_mount_failure_is_the_containers_create_container_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_supervisor_faults import FlakyPod

    from minikubelet.node import instance, supervisor

    missing = str(tmp_path / "gone")
    real = instance.spawn

    async def with_a_volume(*args: Any, **kwargs: Any) -> ContainerProcess:
        return await real(*args, **{**kwargs, "mounts": [mountns.Mount(missing, TARGET)]})

    monkeypatch.setattr(instance, "spawn", with_a_volume)
    pod = FlakyPod(tmp_path, failures=0)
    sup = supervisor.ContainerSupervisor(pod, pod.pod.spec.containers[0])
    task = asyncio.create_task(sup.run())
    try:
        async with asyncio.timeout(60):
            while sup.waiting is None or sup.waiting.reason != "CreateContainerError":
                assert not task.done(), task
                await asyncio.sleep(0.02)
        assert sup.waiting.message == (
            f'error mounting "{missing}" to rootfs at "{TARGET}": stat {missing}: '
            "no such file or directory"
        )
        assert not sup.running
        assert sup.instances == []  # no container was created: no restart is counted
        failed = [e.message for e in pod.events.events() if e.reason == "Failed"]
        assert failed[0] == f"Error: {sup.waiting.message}"
    finally:
        sup.terminate("stop", 1)
        async with asyncio.timeout(30):
            await task


SHARED = r"""
import asyncio, os, subprocess, sys
from minikubelet.runtime import mountns
from minikubelet.runtime.spawn import spawn
base, volume = sys.argv[1], sys.argv[2]
def points():
    with open("/proc/self/mountinfo") as f:
        return sorted(line.split(" ")[4] for line in f)
class Sink:
    def feed(self, stream, data): sys.stdout.write(data.decode())
    def close(self): pass
async def main():
    before = points()
    mounts = [mountns.Mount(volume, "/etc/minikubelet-test-config"),
              mountns.Mount(volume, "/usr/share/minikubelet-test/deep")]
    p = await spawn(["cat", "/usr/share/minikubelet-test/deep/x"], env=dict(os.environ),
                    cwd=None, writer=Sink(), mounts=mounts, mount_dir=base + "/scratch")
    await p.wait()
    print("same" if points() == before else f"changed: {set(points()) ^ set(before)}")
asyncio.run(main())
"""


@needs_ns
def test_nothing_propagates_to_a_host_whose_mounts_are_shared(tmp_path: Path, volume: Path) -> None:
    """A host with shared mounts (systemd makes / shared) would receive every mount made in
    a namespace that is not made private first. Tried in a namespace of the test's own with
    shared propagation, so the real host is not touched."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs util-linux unshare and root")
    done = subprocess.run(
        [unshare, "--mount", "--propagation", "shared", sys.executable, "-c", SHARED,
         str(tmp_path), str(volume)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from the volume\nsame\n"


SUBMOUNTS = r"""
import asyncio, os, subprocess, sys
from minikubelet.runtime.spawn import spawn
from minikubelet.runtime import mountns
base, volume = sys.argv[1], sys.argv[2]
# as in Docker: /etc/hostname is a file bound over the image's
with open(base + "/hostname", "w") as f:
    f.write("bound-over\n")
subprocess.run(["mount", "--bind", base + "/hostname", "/etc/hostname"], check=True)
class Sink:
    def feed(self, stream, data): sys.stdout.write(data.decode())
    def close(self): pass
async def main():
    mounts = [mountns.Mount(volume, "/etc/minikubelet-test-config/deeper")]
    p = await spawn(["sh", "-c", "cat /etc/hostname /etc/minikubelet-test-config/deeper/x"],
                    env=dict(os.environ), cwd=None, writer=Sink(), mounts=mounts,
                    mount_dir=base + "/scratch")
    await p.wait()
asyncio.run(main())
"""


@needs_ns
def test_an_overlaid_dir_keeps_the_mounts_below_it(tmp_path: Path, volume: Path) -> None:
    """Overlaying /etc to make a mount point in it would hide what is mounted below it
    (Docker binds /etc/hosts, /etc/hostname, /etc/resolv.conf); they are bound again. Tried in
    a namespace of the test's own, so the host's /etc/hostname is not touched."""
    done = _own_namespace(SUBMOUNTS, tmp_path, volume)
    assert done.stdout == "bound-over\nfrom the volume\n"


ON_OVERLAY = r"""
import asyncio, os, subprocess, sys
from minikubelet.runtime.spawn import spawn
from minikubelet.runtime import mountns
base, volume = sys.argv[1], sys.argv[2]
for d in ("lower", "upper", "work", "state"):
    os.mkdir(f"{base}/{d}")
subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                f"lowerdir={base}/lower,upperdir={base}/upper,workdir={base}/work",
                f"{base}/state"], check=True)
class Sink:
    def feed(self, stream, data): sys.stdout.write(data.decode())
    def close(self): pass
async def main():
    mounts = [mountns.Mount(volume, "/usr/share/minikubelet-test/deep")]
    p = await spawn(["cat", "/usr/share/minikubelet-test/deep/x"], env=dict(os.environ),
                    cwd=None, writer=Sink(), mounts=mounts, mount_dir=base + "/state/mountns")
    await p.wait()
asyncio.run(main())
"""


@needs_ns
def test_a_state_dir_on_an_overlayfs_gets_its_layers_on_a_tmpfs(
    tmp_path: Path, volume: Path
) -> None:
    """overlayfs cannot be an upper layer (a state dir in a container's root file system):
    the overlay's layer goes on a tmpfs and the mount point still works."""
    done = _own_namespace(ON_OVERLAY, tmp_path, volume)
    assert done.stdout == "from the volume\n"
    assert not os.path.exists("/usr/share/minikubelet-test")


def _own_namespace(program: str, *args: Path) -> subprocess.CompletedProcess[str]:
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs util-linux unshare and root")
    done = subprocess.run(
        [unshare, "--mount", sys.executable, "-c", program, *map(str, args)],
        capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done


WITH_VOLUME = """
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  volumes:
  - name: config
    emptyDir: {}
  containers:
  - name: app
    image: busybox
    command: [sh, -c, "exec sleep 600"]
    volumeMounts:
    - {name: config, mountPath: /etc/config}
"""


@pytest.mark.parametrize(("flag", "warned"), [("auto", True), ("host", False)])
def test_auto_falls_back_with_one_warning_naming_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flag: str, warned: bool
) -> None:
    from daemon_harness import Minikubelet

    manifest = tmp_path / "pod.yaml"
    manifest.write_text(WITH_VOLUME)
    monkeypatch.setenv(mountns.DENY_ENV, "apparmor")
    with Minikubelet(manifest, f"--volumes={flag}", state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("the pod running", lambda: mk.container("web", "app")["state"].get("running"))
        lines = [line for line in mk.stderr_lines if "--volumes" in line]
    if not warned:
        assert lines == []
        return
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        "Warning: --volumes=auto: mount namespaces are not available here: AppArmor denies it"
    )
    assert "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0" in lines[0]


@needs_ns
async def test_a_missing_working_directory_is_made_in_the_containers_view(
    volume: Path, scratch: str
) -> None:
    cwd = "/usr/share/minikubelet-test-workdir/app"
    code, out = await run("pwd", [mountns.Mount(str(volume), TARGET)], scratch, cwd=cwd)
    assert (code, out) == (0, f"{cwd}\n")
    assert not os.path.exists("/usr/share/minikubelet-test-workdir")
