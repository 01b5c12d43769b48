"""Command line: arguments -> Settings; logging; asyncio.run(); exit codes.

Exit codes: 0 success; 1 a CI-mode verdict of failure or a timeout; 2 bad input (flags or
manifests, or `--until` with no pod to wait for), with nothing started; 130 when stopped
at once by a second signal.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import json
import os
import resource
import ssl
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from minikubelet import __version__, explain, kubeconfig, logs
from minikubelet.core import verdict
from minikubelet.core.images import LOCAL_FILE, ImageOverlay, NoMapping, resolve
from minikubelet.core.settings import Settings, default_node_name, default_state_dir
from minikubelet.core.spec import Pod
from minikubelet.daemon import Daemon, ServeOptions
from minikubelet.manifest import load as manifest
from minikubelet.manifest.overlay import OverlayError, load_overlay
from minikubelet.node import report
from minikubelet.runtime import gcpolicy, guard, mountns
from minikubelet.store import kinds


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None
    if value < 0 or value != value:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {text!r}")
    return value


_GO_UNITS = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}


def _duration(text: str) -> float:
    """A Go duration (`4h0m0s`, `30s`, `1.5m`) or a number of seconds."""
    import re

    if re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        return float(text)
    parts = re.findall(r"([0-9]+(?:\.[0-9]+)?)(ms|h|m|s)", text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise argparse.ArgumentTypeError(f'time: invalid duration "{text}"')
    return sum(float(n) * _GO_UNITS[u] for n, u in parts)


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def _size(text: str) -> int:
    try:
        return manifest_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def manifest_size(text: str) -> int:
    from minikubelet.core.quantity import parse_quantity

    value = int(parse_quantity(text).value)
    if value < 1024:
        raise ValueError(f"must be at least 1Ki, got {text!r}")
    return value


VOLUME_MODES = ("auto", "namespace", "host")


def volume_mode(flag: str, check: Callable[[], mountns.Availability]) -> tuple[str, str, str]:
    """--volumes: (the mode, a warning, an error); `check` runs only when it matters."""
    if flag == "host":
        return "host", "", ""
    found = check()
    if found.ok:
        return "namespace", "", ""
    why = f"mount namespaces are not available here: {found.reason}"
    if flag == "namespace":
        return "", "", f"--volumes=namespace: {why}. Fix: {found.fix}"
    return (
        "host",
        (
            f"--volumes=auto: {why}; volumes are directories passed in MINIKUBELET_VOLUME_<NAME>, "
            f"not mounted at their mountPath. Fix: {found.fix}"
        ),
        "",
    )


def _wants_volumes(pods: Sequence[Pod]) -> bool:
    for pod in pods:
        spec = pod.manifest.get("spec", {})
        for c in [*spec.get("initContainers", []), *spec.get("containers", [])]:
            if isinstance(c, dict) and c.get("volumeMounts"):
                return True
    return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="minikubelet",
        description="Run Kubernetes Pod manifests as local processes, with the kubelet's "
        "probes, restarts and status API.",
    )
    parser.add_argument("--version", action="version", version=f"minikubelet {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run pods until interrupted (or until --until is met)")
    run.add_argument("manifests", nargs="+", metavar="MANIFEST", help="YAML/JSON file, or -")
    net = run.add_argument_group("API server")
    net.add_argument("--address", default="127.0.0.1", help="address to serve on [127.0.0.1]")
    net.add_argument("--port", type=_port, default=10255, help="port; 0 picks one [10255]")
    net.add_argument("--token-file", type=Path, help="require this bearer token on requests")
    net.add_argument(
        "--tls-cert-file",
        type=Path,
        help="serve HTTPS with this certificate (PEM); kubectl sends a --token only over HTTPS",
    )
    net.add_argument("--tls-private-key-file", type=Path, help="the certificate's key (PEM)")
    net.add_argument(
        "--streaming-connection-idle-timeout",
        type=_duration,
        default=4 * 3600.0,
        metavar="DURATION",
        help="end an exec, attach or port-forward session idle this long [4h0m0s]",
    )
    ci = run.add_argument_group("CI mode")
    ci.add_argument(
        "--until",
        choices=["ready", "complete"],
        help="exit once every pod is Ready (ready) or has finished (complete)",
    )
    ci.add_argument("--timeout", type=_positive_float, help="give up after SECONDS (exit 1)")
    ci.add_argument(
        "--report",
        type=Path,
        metavar="FILE",
        help="with --until: write the verdict as JUnit XML (a test case per pod)",
    )
    life = run.add_argument_group("lifecycle")
    life.add_argument(
        "--backoff-initial",
        type=_positive_float,
        default=10.0,
        help="first CrashLoopBackOff delay in seconds [10]",
    )
    life.add_argument(
        "--backoff-max",
        type=_positive_float,
        default=300.0,
        help="CrashLoopBackOff cap in seconds [300]",
    )
    life.add_argument("--node-name", default=None, help="node name [this host's name]")
    life.add_argument(
        "--volumes",
        choices=VOLUME_MODES,
        default="auto",
        help="where a container's volumes are: namespace (at their mountPath, in a mount "
        "namespace), host (directories named in $MINIKUBELET_VOLUME_<NAME>), auto (namespace "
        "where the host allows it, else host) [auto]",
    )
    life.add_argument(
        "--volume-usage-interval",
        type=_positive_float,
        default=10.0,
        help="seconds between measures of each emptyDir with a sizeLimit [10]",
    )
    out = run.add_argument_group("logs and state")
    out.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"container logs and state [{default_state_dir()}]",
    )
    out.add_argument("--quiet-logs", action="store_true", help="do not echo container output")
    out.add_argument(
        "--echo-probe-logs",
        action="store_true",
        help="echo the lines a container logs for its HTTP probes' requests too "
        "(they are always in its log)",
    )
    out.add_argument("--log-format", choices=["auto", "console", "json"], default="auto")
    out.add_argument(
        "--log-max-size",
        type=_size,
        default=10 * 1024 * 1024,
        help="rotate a container log past this size [10Mi]",
    )
    out.add_argument("--log-max-files", type=int, default=5, help="log files kept [5]")
    out.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write the pods' timeline to FILE as JSON lines (replay: minikubelet timeline FILE)",
    )
    show = sub.add_parser("timeline", help="print a timeline recorded with run --record")
    show.add_argument("file", type=Path, metavar="FILE")
    show.add_argument("--pod", action="append", help="only this pod (namespace/name); repeatable")
    validate = sub.add_parser("validate", help="check manifests and exit (0 valid, 2 invalid)")
    validate.add_argument("manifests", nargs="+", metavar="MANIFEST")
    explain.add_parser(sub, _positive_float)
    for name in ("run", "validate", "explain"):
        _add_image_flags(sub.choices[name])
    kubeconfig.add_parser(sub, default_state_dir())
    top = sub.add_parser("top", help="a live terminal view of the running daemon (q quits)")
    top.add_argument("--server", help="the daemon's URL [the one recorded in --state-dir]")
    top.add_argument("--token-file", type=Path, help="with --server: the daemon's token")
    top.add_argument("--state-dir", type=Path, default=None, help="the daemon's --state-dir")
    return parser


def _add_image_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("images (what an image-only container runs)")
    group.add_argument(
        "--overlay",
        metavar="FILE",
        default=None,
        help=f"the local file of image commands [{LOCAL_FILE} beside the first manifest]",
    )
    group.add_argument(
        "--image",
        action="append",
        default=[],
        metavar="GLOB=CMD",
        help="what images matching GLOB run (their ENTRYPOINT), e.g. 'nginx:*=python3 -m "
        "http.server 80'; wins over the file; repeatable",
    )


def unmapped_warnings(pods: Sequence[Pod], overlay: ImageOverlay) -> list[str]:
    """One line per container whose image has no local command (it would wait in
    ErrImagePull)."""
    lines = []
    for pod in pods:
        for c in pod.spec.all_containers():
            result = resolve(c, overlay)
            if isinstance(result, NoMapping):
                lines.append(f'Pod "{pod.name}": container "{c.name}": {result.message}')
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "run" and args.timeout is not None and args.until is None:
        build_parser().error("--timeout needs --until")
    if args.command == "kubeconfig":
        return kubeconfig.run(args, default_state_dir())
    if args.command == "timeline":
        return show_timeline(args.file, args.pod)
    if args.command == "top":
        return top(args)
    if args.command == "run" and args.report is not None and args.until is None:
        build_parser().error("--report needs --until")
    node = (getattr(args, "node_name", None) or default_node_name()).lower()
    try:
        loaded = manifest.load_manifests(
            args.manifests, stdin=sys.stdin, node_name=node, kinds=kinds.BY_KIND
        )
    except manifest.ManifestError as e:
        for line in e.lines:
            print(f"error: {line}", file=sys.stderr)
        return 2
    for warning in loaded.warnings:
        print(f"Warning: {warning}", file=sys.stderr)
    try:
        images = load_overlay(
            overlay_file=args.overlay, manifests=args.manifests, image_flags=args.image
        )
    except OverlayError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if args.command == "validate":
        for warning in unmapped_warnings(loaded.pods, images):
            print(f"Warning: {warning}", file=sys.stderr)
        counts = Counter(str(obj.get("kind", "")) for _, obj in loaded.objects)
        others = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
        print(f"{len(loaded.pods)} pod(s) valid" + (f"; {others} valid" if others else ""))
        return 0
    if args.command == "explain":
        return explain.main(args, loaded.pods)
    waited = verdict.WAITED_KINDS.get(args.until or "", frozenset())
    workloads = [obj for _, obj in loaded.objects if obj.get("kind") in waited]
    if args.until is not None and not loaded.pods and not workloads:
        # no pod to be Ready or to finish: waiting would only run into the timeout
        what = "pods or Jobs" if args.until == "complete" else "pods or workloads to roll out"
        print(
            f"error: --until {args.until}: there is nothing to wait for: "
            f"{', '.join('stdin' if m == '-' else m for m in args.manifests)} holds no {what}",
            file=sys.stderr,
        )
        return 2
    return _run(args, loaded.pods, node, images, loaded.objects)


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


def _run(
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
    try:
        path.write_text(report.junit(snapshot, until, records), encoding="utf-8")
    except OSError as e:
        print(f"minikubelet: --report {path}: {e.strerror or e}", file=sys.stderr, flush=True)


def top(args: argparse.Namespace) -> int:
    """`minikubelet top`: the live view (minikubelet/tui.py), which needs the `tui` extra."""
    try:
        from minikubelet import tui
    except ImportError as e:
        if not (e.name or "").startswith("rich"):
            raise
        print("error: minikubelet top needs rich: pip install 'minikubelet[tui]'", file=sys.stderr)
        return 2
    if args.token_file is not None and args.server is None:
        print("error: --token-file goes with --server", file=sys.stderr)
        return 2
    server, token = args.server, None
    try:
        if server is None:
            server, token = kubeconfig._recorded(args.state_dir or default_state_dir())
        elif args.token_file is not None:
            token = args.token_file.read_text().strip()
    except LookupError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: --token-file: {e.strerror}: {args.token_file}", file=sys.stderr)
        return 2
    return tui.run(server, token)


def show_timeline(path: Path, pods: list[str] | None) -> int:
    """`minikubelet timeline FILE`: a recorded timeline as text."""
    from minikubelet.core import timeline

    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        print(f"error: {path}: {e.strerror or e}", file=sys.stderr)
        return 2
    records = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as e:
            print(f"error: {path}:{number}: not a timeline record: {e}", file=sys.stderr)
            return 2
        if not isinstance(rec, dict) or "kind" not in rec:
            print(f"error: {path}:{number}: not a timeline record", file=sys.stderr)
            return 2
        records.append(rec)
    wanted = {p if "/" in p else f"default/{p}" for p in pods} if pods else None
    print(timeline.render_text(records, pods=wanted))
    return 0


if __name__ == "__main__":
    sys.exit(main())
