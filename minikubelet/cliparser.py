"""The command line's grammar: the subcommands and their flags, and the flag value types
(Go durations, sizes, ports, `--volumes` modes), each refused in argparse's words.
`cli.main` parses with `build_parser()`; nothing here starts anything.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from minikubelet import __version__, kubeconfig
from minikubelet.core.images import LOCAL_FILE
from minikubelet.core.restart import INITIAL_BACKOFF, MAX_BACKOFF
from minikubelet.core.settings import default_state_dir
from minikubelet.runtime import mountns


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
    _add_explain_parser(sub, _positive_float)
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


def _add_explain_parser(sub: Any, nonnegative: Callable[[str], float]) -> None:
    """The `explain` subcommand, on the subparsers action of the top-level parser (here, not
    in explain.py: `run` starts without the timing explainers)."""
    parser = sub.add_parser(
        "explain",
        help="print the probe timing windows of manifests (first probe, startup budget, "
        "time to Ready, to NotReady, to a kill, restart delays)",
    )
    parser.add_argument("manifests", nargs="+", metavar="MANIFEST", help="YAML/JSON file, or -")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument(
        "--backoff-initial",
        type=nonnegative,
        default=INITIAL_BACKOFF,
        help="first CrashLoopBackOff delay in seconds, as given to run [10]",
    )
    parser.add_argument(
        "--backoff-max",
        type=nonnegative,
        default=MAX_BACKOFF,
        help="CrashLoopBackOff cap in seconds, as given to run [300]",
    )
