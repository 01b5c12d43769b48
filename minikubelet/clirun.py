"""`minikubelet run`: from parsed flags and loaded manifests to a serving daemon.

Checks what must hold before anything starts (the token file, TLS, the state directory,
`--record`, the volume mode), raises the open files limit, builds `Settings` and
`ServeOptions`, runs the daemon under asyncio, and with `--until` prints the verdict and
writes the JUnit report. Exit codes as `cli.py`'s docstring says.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import os
import resource
import ssl
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from minikubelet import kubeconfig, logs
from minikubelet.cliparser import volume_mode
from minikubelet.core.images import ImageOverlay
from minikubelet.core.settings import Settings, default_state_dir
from minikubelet.core.spec import Pod
from minikubelet.daemon import Daemon, ServeOptions
from minikubelet.runtime import gcpolicy, guard, looplag, mountns

if TYPE_CHECKING:
    from minikubelet.node import report


def _wants_volumes(pods: Sequence[Pod]) -> bool:
    for pod in pods:
        spec = pod.manifest.get("spec", {})
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            if isinstance(c, dict) and c.get("volumeMounts"):
                return True
    return False


def read_token(path: Path) -> str:
    """The bearer token in `path`, or ValueError saying why it is unusable. An empty token
    would let an empty `Authorization: Bearer` through; a token with spaces or other than
    printable ASCII cannot travel in a header."""
    try:
        token = path.read_bytes().decode("ascii").strip()
    except OSError as e:
        raise ValueError(f"{e.strerror}: {path}") from None
    except UnicodeDecodeError:
        raise ValueError(f"the token is not ASCII: {path}") from None
    if not token:
        raise ValueError(f"the file is empty: {path}")
    if not all(33 <= ord(c) <= 126 for c in token):
        raise ValueError(f"the token has spaces or control characters: {path}")
    return token


def exposure_warning(address: str, token: str | None) -> str | None:
    """What a non-loopback address without a token serves to the network, or None."""
    if token is not None or _is_loopback_address(address):
        return None
    return (
        f"--address {address} without --token-file serves every pod's spec, environment "
        "variables, status and container logs to anyone on the network (writes are still "
        "accepted from this machine only); set --token-file (and TLS) to require a token"
    )


def _is_loopback_address(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: assume it reaches the network


def run_command(
    args: argparse.Namespace,
    pods: list[Pod],
    node: str,
    images: ImageOverlay,
    objects: Sequence[Any] = (),
) -> int:
    token = None
    if args.token_file is not None:
        try:
            token = read_token(args.token_file)
        except ValueError as e:
            print(f"error: --token-file: {e}", file=sys.stderr)
            return 2
    warning = exposure_warning(args.address, token)
    if warning is not None:
        print(f"Warning: {warning}", file=sys.stderr)
    tls = _tls_context(args)
    if isinstance(tls, str):
        print(f"error: {tls}", file=sys.stderr)
        return 2
    state_dir = args.state_dir or default_state_dir()
    problem = _prepare_state_dir(state_dir)
    if problem is not None:
        print(f"error: --state-dir {state_dir}: {problem}", file=sys.stderr)
        return 2
    record = None
    if args.record is not None:
        try:
            record = open(args.record, "w", encoding="utf-8")  # noqa: SIM115 (the daemon's)
        except OSError as e:
            print(f"error: --record {args.record}: {e.strerror or e}", file=sys.stderr)
            return 2
    mode, warned, error = volume_mode(args.volumes, mountns.available)
    if error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if warned and _wants_volumes(pods):  # said once; later pods get a warning per mount
        print(f"Warning: {warned}", file=sys.stderr)
    if mode == "namespace":  # what a crashed run left behind (overlay upper dirs)
        mountns.remove_scratch(str(state_dir / "mountns"))
    guarded = guard.start() if guard.available() else None  # returns in the daemon only
    console = logs.configure(args.log_format)
    raise_open_files_limit()
    settings = Settings(
        state_dir=state_dir,
        node_name=node,
        backoff_initial=args.backoff_initial,
        backoff_max=args.backoff_max,
        log_max_bytes=args.log_max_size,
        log_max_files=max(args.log_max_files, 1),
        echo_logs=not args.quiet_logs,
        echo_probe_logs=args.echo_probe_logs,
        daemon_started_at=time.time(),
        images=images,
        volume_mode=mode,
        volume_usage_interval=args.volume_usage_interval,
        service_account_token=token or "",
        service_account_ca=_ca_text(args),
    )
    options = ServeOptions(
        address=args.address,
        port=args.port,
        token=token,
        until=args.until,
        tls=tls,
        timeout=args.timeout,
        sweep_descendants=True,
        manage_gc=True,
        guarded=guarded,
        stream_idle_timeout=args.streaming_connection_idle_timeout,
        record=record,
        story=console,
    )
    try:
        return asyncio.run(_serve(settings, options, pods, args.report, objects))
    except OSError as e:
        print(f"error: cannot serve on {args.address}:{args.port}: {e.strerror}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        return 130


def raise_open_files_limit() -> int:
    """The soft RLIMIT_NOFILE up to the hard limit, as Go programs such as the kubelet do at
    start (Go's os package, since 1.19): every container costs descriptors (pipes, a pidfd,
    its log file), and the usual soft limit of 1024 runs out long before memory does.
    Returns the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (OSError, ValueError):  # a kernel cap below the hard limit (nr_open)
            pass
    return soft


def _prepare_state_dir(path: Path) -> str | None:
    """Creates the state directory (container logs go under `pods/`) and checks it is
    writable, before anything starts; returns the problem, if any."""
    try:
        (path / "pods").mkdir(parents=True, exist_ok=True)
        probe = path / "pods" / f".write-test-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as e:
        return f"cannot write there: {e.strerror or e}"
    return None


def _ca_text(args: argparse.Namespace) -> str:
    """The serving certificate, as a pod's `ca.crt` (the certificate was read already)."""
    if args.tls_cert_file is None:
        return ""
    try:
        return Path(args.tls_cert_file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | str | None:
    """The server's TLS context, None for plain HTTP, or an error message."""
    cert, key = args.tls_cert_file, args.tls_private_key_file
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        return "--tls-cert-file and --tls-private-key-file go together"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert, key)
    except OSError as e:
        return f"--tls-cert-file/--tls-private-key-file: {e.strerror or e}: {e.filename or cert}"
    except ssl.SSLError as e:
        return f"--tls-cert-file/--tls-private-key-file: not a usable certificate and key: {e}"
    return context


async def _serve(
    settings: Settings,
    options: ServeOptions,
    pods: list[Pod],
    junit: Path | None = None,
    objects: Sequence[Any] = (),
) -> int:
    daemon = Daemon(settings, options)
    daemon.install_signal_handlers()

    def announce(url: str) -> None:
        # Modules, the manifests and the app live as long as the process: keep them out of
        # the collector's full passes, which otherwise stall the loop for tens of ms (and
        # again as the pod set changes: runtime/gcpolicy.py).
        gc.freeze()
        gcpolicy.watch()
        looplag.watch()
        print(f"minikubelet: serving on {url}", flush=True)
        try:
            path = kubeconfig.record(settings.state_dir, url, token=options.token,
                                     tls=options.tls is not None)  # fmt: skip
        except OSError as e:
            print(f"minikubelet: no kubeconfig in {settings.state_dir}: {e.strerror or e}",
                  file=sys.stderr, flush=True)  # fmt: skip
        else:
            recorded.append((path, url))
            print(f"minikubelet: kubectl: export KUBECONFIG={path}", flush=True)
        # with a token, the page is opened with it in the fragment (it never leaves the browser)
        hint = "  (in token mode: append #token=<the token>)" if options.token else ""
        print(f"minikubelet: timeline: {url}/ui{hint}", flush=True)

    recorded: list[tuple[Path, str]] = []
    try:
        code = await daemon.run(pods, on_ready=announce, objects=objects)
    finally:
        for path, url in recorded:
            kubeconfig.forget(path, url)
    if options.until is not None:
        from minikubelet.node import report  # here: `run` starts without the CI report

        snapshot = daemon.verdict_snapshot or report.take(
            daemon.agent.runners.values(), "stopped", daemon.settings.daemon_started_at
        )
        print(report.render(snapshot), flush=True)
        failed = report.failed_pods(snapshot, options.until)
        if failed:
            print(report.render_timeline(daemon.timeline.since(0), failed), flush=True)
        if junit is not None:
            write_junit(junit, snapshot, options.until, daemon.timeline.since(0))
    return code


def write_junit(
    path: Path, snapshot: report.Snapshot, until: str, records: list[dict[str, Any]]
) -> None:
    from minikubelet.node import report

    try:
        path.write_text(report.junit(snapshot, until, records), encoding="utf-8")
    except OSError as e:
        print(f"minikubelet: --report {path}: {e.strerror or e}", file=sys.stderr, flush=True)
