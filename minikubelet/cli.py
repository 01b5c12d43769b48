"""Command line: arguments -> Settings; logging; asyncio.run(); exit codes.

Exit codes: 0 success; 1 a CI-mode verdict of failure or a timeout; 2 bad input (flags or
manifests, or `--until` with no pod to wait for), with nothing started; 130 when stopped
at once by a second signal.

This module dispatches the subcommands (`validate`, `explain`, `timeline`, `top`,
`kubeconfig`, `run`); the parser is `cliparser.py`'s and `run` is `clirun.py`'s.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

# coldstart first (it sorts first too): structlog is imported there without Rich
from minikubelet import coldstart, kubeconfig  # noqa: F401
from minikubelet.cliparser import build_parser
from minikubelet.clirun import run_command
from minikubelet.core import verdict
from minikubelet.core.images import ImageOverlay, NoMapping, resolve
from minikubelet.core.settings import default_node_name, default_state_dir
from minikubelet.core.spec import Pod
from minikubelet.manifest import load as manifest
from minikubelet.manifest.overlay import OverlayError, load_overlay
from minikubelet.store import kinds


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
        from minikubelet import explain  # here: `run` starts without the timing explainers

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
    return run_command(args, loaded.pods, node, images, loaded.objects)


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
