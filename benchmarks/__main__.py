"""`python -m benchmarks [--smoke] [--rounds N] [--output PATH] [--only S ...] [--once S ...]`

Runs every measurement in order, `--rounds` times (3 by default, 1 with `--smoke`; each
round runs our daemon and the peer in turn, so a drift of the machine's speed touches
both), prints the table with each figure's median and spread, and writes the figures as JSON (PATH,
default `benchmarks/results/latest.json`) and as markdown beside it (`.md`). `--smoke` runs
the smallest sizes for a second or two each, to prove the benchmarks work (CI). The exit
status is 1 only if a benchmark could not run; a figure that misses its target is reported,
not failed.

The machine is shared with whatever else runs on it, so each section records how much CPU
other processes used while it ran, and a full run first waits (bounded) for a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from benchmarks import (
    apiscale,
    bigpod,
    execrt,
    exits,
    floors,
    footprint,
    load,
    log_flood,
    peer,
    podman_peer,
    probe_cost,
    probe_timing,
    report,
    startup,
    status_api,
    volumes,
    workloads,
)
from benchmarks.harness import become_subreaper, kill_descendants
from benchmarks.report import Figure

DEFAULT_OUTPUT = Path(__file__).resolve().parent / "results" / "latest.json"
QUIET_BUSY = 0.25  # of the whole machine
QUIET_WAIT = 180.0


@dataclass(frozen=True, slots=True)
class Scale:
    exit_containers: int = 10
    exits: int = 400
    exit_timeout: float = 90.0
    exit_probe_containers: int = 1000
    probe_sizes: tuple[int, ...] = (200, 500, 1000)
    probe_seconds: float = 15.0
    cost_containers: int = 100
    cost_seconds: float = 10.0
    api_containers: int = 100
    api_requests: int = 30_000
    api_seconds: float = 10.0
    startup_runs: int = 7
    footprint_many: int = 500
    idle_seconds: float = 60.0
    settle: float = 3.0
    flood_bytes: int = 30_000_000
    flood_timeout: float = 120.0
    memory_containers: int = 100
    stats_containers: int = 300
    load_seconds: float = 20.0
    bigpod_containers: int = 1000
    bigpod_seconds: float = 20.0
    scale_sizes: tuple[int, ...] = (10, 100, 1000)  # apiscale, deployment, volumes, exec
    scale_repeats: int = 50
    fanout_watchers: tuple[int, ...] = (10, 100)
    spawn_count: int = 200
    podman: bool = True  # the second peer; never in the smoke run (CI has no podman)
    podman_idle_pods: int = 100  # podman starts about one pod a second here
    podman_probe_seconds: float = 20.0


SMOKE = Scale(
    exit_containers=3, exits=10, exit_timeout=20.0, exit_probe_containers=10,
    probe_sizes=(5,), probe_seconds=2.0, spawn_count=10,
    cost_containers=2, cost_seconds=1.0, api_containers=5, api_requests=300, api_seconds=2.0,
    startup_runs=1, footprint_many=5, idle_seconds=0.5, settle=0.3, flood_bytes=1_000_000,
    memory_containers=5,
    stats_containers=5, load_seconds=1.0, bigpod_containers=20, bigpod_seconds=2.0,
    scale_sizes=(3,), scale_repeats=5, fanout_watchers=(3,),
    podman=False,
)  # fmt: skip

NOTES = [
    "Every figure is taken from the real `python -m minikubelet run` started as a child "
    "process in its own session, talking to 127.0.0.1 only, with `--quiet-logs --log-format "
    "json` and its log written to a file. Containers are single-container pods.",
    "Exit detection: containers sleep 0.2-0.5 s, append the wall clock to a file "
    "(`$EPOCHREALTIME`, no fork) and exit 1; a `?watch=1` stream on the pods stamps each "
    "event on arrival. Detection = arrival of the event showing that instance terminated "
    "- the time it wrote. Exit to next start = the next instance's own start stamp - the "
    "exit stamp (`--backoff-initial 0`): the measure used for the peer and the floor too. "
    "Exit to running = arrival of the event showing the next instance running - the exit "
    "stamp. On this VM a process's exit itself takes about 1-2 ms after its last write, "
    "which every figure includes. The `probes beside` variant runs the same exiters beside "
    "one pod of N `sleep` containers with an httpGet liveness probe each every 1 s (one "
    "shared server process): the daemon starts with that pod, and once all of it runs the "
    "exiting pods are created through the API.",
    "Probe timing: each container runs its own small server process (two ports) probed by "
    "an httpGet liveness and a tcpSocket readiness probe every 1 s; the servers record the "
    "arrival of every connection; the figure is |gap between consecutive arrivals - 1 s| "
    "over the window, after a settling time. The daemon is not polled during the window.",
    "Probe cost: the CPU time (psutil user+system) of the daemon and of its helpers (the "
    "two guards above it, its watchdog) over a window divided by the probes it counted "
    "(`prober_probe_total`), less the same processes' CPU with the same containers without "
    "probes. CPU seconds per 1000 probes equals ms per probe. The exec probe's commands "
    "(the daemon's reaped children) are a figure of their own.",
    "Status API: a separate load process keeps 8 keep-alive connections on loopback busy "
    "with `GET /pods`, bounded by a request count and a time limit, after a warm-up; the "
    "client and the daemon share the machine's cores.",
    "Start-up: from the exec of `minikubelet run` to the container's first instruction "
    "(it writes the wall clock), and to `/healthz` answering ok (tried every 5 ms). The "
    "daemon runs from compiled bytecode, as an installed package does; one unmeasured "
    "warm-up start comes first.",
    "Footprint: the daemon process's RSS, and the CPU seconds of the daemon and its helpers "
    "over a 60 s idle window with sleeping containers (a CPU-time tick is 10 ms: seconds "
    "over a long window, not a rounded %); open descriptors (fewest of 5 reads) before and "
    "after the probe timing window at N=200.",
    "Event loop lag and GC, in every section that runs the daemon: the daemon's "
    "`minikubelet_event_loop_lag_seconds` histogram (a timer due every 0.1 s observes how "
    'late it ran) and `minikubelet_gc_pause_seconds{generation="2"}`, read from /metrics '
    "at the window's edges; p50/p99 are interpolated in the histogram's buckets, and a "
    "maximum is its bucket's upper bound (`<=`).",
    "Peer: supervisord from PyPI, from a generated config (unix socket only), running the "
    "same programs, in each round right after our own runs of them; an event listener "
    "subscribed to PROCESS_STATE stamps events on arrival. Its detection (EXITED or BACKOFF "
    "arrival through its event-listener channel, one event in flight) is shown but has no "
    "ratio: it is not the same measure as our watch. The ratios compare one measure for "
    "both: restart = exit stamp to the next instance's start stamp, and the processes' own "
    "RSS and CPU seconds over the same idle window.",
    "Second peer, podman kube play (full run only, as root where podman, runc and conmon "
    "are installed; skipped otherwise, and in the smoke run): podman's configuration, vfs "
    "storage, state and events file in a temp directory of its own (runc, cgroupfs, the file "
    "events logger), removed after; the image is imported from a tarball made on the spot and "
    "every pod mounts the host's /usr read-only (hostPath) with hostNetwork, so the same "
    "programs run. Detection = arrival of the `died` event on a `podman events` stream (the "
    "event's own time beside it); restart = the same stamps as ours. podman's health checks "
    "run from systemd timers and this machine has no systemd, so probes cannot run by "
    "themselves here: the exec probe is triggered by hand, `podman healthcheck run` one after "
    "another, and its CPU is that command's with every process it left (wait4), plus the "
    "running conmons'. podman has no daemon: memory and idle CPU are those of each "
    "container's conmon and each pod's infra (conmon and catatonit), read on fewer pods than "
    "ours and scaled to our count (nothing is shared between pods); PSS beside RSS, as the "
    "summed RSS of many small processes counts their shared libraries again and again.",
    "Log flood: one container writes 30 MB (300,000 lines of 100 bytes) as fast as it can, "
    "its log rotating under a 1 MiB cap, once with `--quiet-logs` and once echoed on the "
    "daemon's stdout (read by the benchmark); `/healthz` is asked on a fresh connection "
    "every 20 ms until the container has exited.",
    "Load: the daemon's CPU over a quiet window with memory-limited sleeping containers "
    "(the memory watch checks each tree every 50 ms), and `GET /healthz` every 50 ms (its "
    "round trip stands in for the event loop's lag) while another client polls "
    "`/stats/summary` back to back.",
    "One big pod: one pod of N `sleep` containers, each with an httpGet liveness probe "
    "every 1 s on its own path of one shared server process, which records each probe's "
    "arrival by path; `/healthz` is tried every 10 ms from the exec of `minikubelet run`, "
    "then the pod is read every 250 ms until every container runs; the probe figure is "
    "|gap between consecutive probes of a container - 1 s| over the window after a settling "
    "time, and the loop's lag is a `/healthz` round trip every 50 ms in the window.",
    "kubectl get pods and watch fan-out: N `sleep` pods from one manifest, all running; "
    "the Table GET (`as=Table;v=v1;g=meta.k8s.io`, as `kubectl get` asks) back to back on "
    "one keep-alive connection, the whole body read; the real kubectl's `get pods` from its "
    "exec to its exit, discovery cached. Fan-out: W `?watch=1&resourceVersion=` streams in "
    "the benchmark's process; from just before a merge PATCH of one pod's label to the "
    "arrival of its event at the last watcher, each change after the last has reached all.",
    "Deployment: the daemon starts with no pods; from just before the POST of an `apps/v1` "
    "Deployment of N `sleep` replicas (no probe: Ready once running) to the arrival, on a "
    "pod watch opened first, of the event making the N-th pod Ready (the same watch gives "
    "the N-th pod's first event and the first Ready: the controllers' part and the node's). "
    "The floor: N `sleep` "
    "processes started one after another with `subprocess.Popen` from the benchmark (each "
    "returns once its child has exec'd), before the daemon runs.",
    "Volumes: `--volumes=namespace`; N pods POSTed one at a time, each once the one before "
    "has started, with an emptyDir and a configMap volume at their mountPath, then the same "
    "without volumes; per pod, the wall clock its first instruction writes minus the one "
    "just before its POST; the extra per start is the difference of the medians.",
    "Exec: with N `sleep` pods running, `kubectl exec POD -- true` from its exec to its exit "
    "(discovery cached); in-session, one `v5.channel.k8s.io` websocket running `cat`, a line "
    "written on stdin timed until it is back whole on stdout, one line at a time.",
    "Floors: tiny programs of the benchmark's own doing the same work in the same round "
    "(benchmarks/floors.py): `python -c pass` and `python -c 'import asyncio'`; "
    "`posix_spawn` of `sleep` per process; the same exiters watched by a pidfd in a bare "
    "asyncio loop, restarted at once; a bare asyncio prober (benchmarks/floor_prober.py) "
    "doing the same N x 2 probes against N servers, and its own CPU per probe per handler "
    "against M targets. Each of ours is shown beside its floor as a ratio; CPU per probe "
    "is held to within 1.5x of the floor.",
    "uvloop was measured and rejected (issue 18): with it the probe CPU was 0.65-0.76x of "
    "the standard loop's, but exit detection was 2.7x slower; the daemon runs on the "
    "standard asyncio loop.",
    "Background: the CPU used by other processes on the machine during each section, in "
    "cores, is in the JSON (`background`) and below; a busy machine widens the tails.",
]


def our_cpu() -> float:
    """CPU of this process and every descendant it has reaped (all of them, once a section
    has stopped what it started)."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def machine_busy() -> float:
    t = psutil.cpu_times()
    return float(sum(t) - t.idle - getattr(t, "iowait", 0.0))


async def wait_quiet(limit: float) -> float:
    """Waits (up to `limit` s) until others use under QUIET_BUSY of the machine for 2 s;
    returns the busy fraction last seen."""
    cores = os.cpu_count() or 1
    deadline = time.monotonic() + limit
    busy = 1.0
    while True:
        before = machine_busy()
        await asyncio.sleep(2.0)
        busy = (machine_busy() - before) / 2.0 / cores
        if busy < QUIET_BUSY or time.monotonic() > deadline:
            return busy
        print(f"waiting for a quieter machine ({busy * 100:.0f}% busy)", flush=True)


Section = tuple[str, Callable[[], Awaitable[list[Figure]]]]


async def run_all(
    scale: Scale, workdir: Path, only: set[str], skip: frozenset[str] = frozenset()
) -> tuple[list[Figure], dict[str, float], list[str]]:
    figures: list[Figure] = []
    background: dict[str, float] = {}
    errors: list[str] = []
    ours_exits: list[Figure] = []
    ours_big: list[footprint.Footprint] = []
    ours_probes: list[Figure] = []

    async def do_exits() -> list[Figure]:
        figs = await exits.measure(
            workdir, containers=scale.exit_containers, exits=scale.exits,
            within=scale.exit_timeout,
        )  # fmt: skip
        ours_exits.extend(figs)
        return figs

    async def do_footprint() -> list[Figure]:
        figs, big = await footprint.measure(
            workdir, many=scale.footprint_many, seconds=scale.idle_seconds, settle=scale.settle
        )
        ours_big.append(big)
        return figs

    async def do_peer() -> list[Figure]:
        if not ours_exits or not ours_big:
            raise RuntimeError("the peer is compared with the exits and footprint sections")
        return await peer.measure(
            workdir, containers=scale.exit_containers, exit_count=scale.exits,
            within=scale.exit_timeout, ours_exits=ours_exits, ours_idle=ours_big[0],
            idle_seconds=scale.idle_seconds, settle=scale.settle,
        )  # fmt: skip

    async def do_probe_cost() -> list[Figure]:
        figs = await probe_cost.measure(
            workdir, containers=scale.cost_containers, seconds=scale.cost_seconds,
            settle=scale.settle,
        )  # fmt: skip
        ours_probes.extend(figs)
        return figs

    async def do_podman() -> list[Figure]:
        if not scale.podman:
            return podman_peer.skipped("not in the smoke run: it needs podman, and takes minutes")
        return await podman_peer.measure(
            workdir, containers=scale.exit_containers, exit_count=scale.exits,
            within=scale.exit_timeout, ours_exits=ours_exits,
            ours_idle=ours_big[0] if ours_big else None, ours_probes=ours_probes,
            idle_pods=scale.podman_idle_pods, idle_seconds=scale.idle_seconds,
            probe_seconds=scale.podman_probe_seconds, settle=scale.settle,
        )  # fmt: skip

    sections: list[Section] = [
        # start-up first, on a machine not yet churned by hundreds of processes
        ("startup", lambda: startup.measure(workdir, runs=scale.startup_runs)),
        ("exits", do_exits),
        ("exits-probes", lambda: exits.measure(
            workdir, containers=scale.exit_containers, exits=scale.exits,
            within=scale.exit_timeout, probes=scale.exit_probe_containers)),
        ("probe-timing", lambda: probe_timing.measure(
            workdir, sizes=list(scale.probe_sizes), seconds=scale.probe_seconds,
            settle=scale.settle)),
        ("probe-cost", do_probe_cost),
        ("status-api", lambda: status_api.measure(
            workdir, containers=scale.api_containers, requests=scale.api_requests,
            seconds=scale.api_seconds, settle=min(scale.settle, 1.0))),
        ("log-flood", lambda: log_flood.measure(
            workdir, size=scale.flood_bytes, within=scale.flood_timeout)),
        ("footprint", do_footprint),
        ("peer", do_peer),
        ("podman", do_podman),
        ("load", lambda: load.measure(
            workdir, memory_containers=scale.memory_containers,
            stats_containers=scale.stats_containers, seconds=scale.load_seconds,
            settle=scale.settle)),
        ("bigpod", lambda: bigpod.measure(
            workdir, n=scale.bigpod_containers, seconds=scale.bigpod_seconds,
            settle=scale.settle)),
        ("apiscale", lambda: apiscale.measure(
            workdir, sizes=scale.scale_sizes, repeats=scale.scale_repeats,
            watchers=scale.fanout_watchers)),
        ("deployment", lambda: workloads.measure(workdir, sizes=scale.scale_sizes)),
        ("volumes", lambda: volumes.measure(
            workdir, sizes=tuple(n for n in scale.scale_sizes if n <= 100))),
        ("exec", lambda: execrt.measure(
            workdir, sizes=scale.scale_sizes, repeats=scale.scale_repeats)),
        # last: the floors of this round's figures, by tiny programs of the benchmark's own
        ("floors", lambda: floors.measure(
            workdir, ours=figures, startup_runs=scale.startup_runs,
            spawn_count=scale.spawn_count, exit_containers=scale.exit_containers,
            exit_count=scale.exits, exit_within=scale.exit_timeout,
            probe_n=max(scale.probe_sizes), probe_seconds=scale.probe_seconds,
            cost_containers=scale.cost_containers, cost_seconds=scale.cost_seconds,
            settle=scale.settle, bigpod_n=scale.bigpod_containers)),
    ]  # fmt: skip
    cores = os.cpu_count() or 1
    for name, run in sections:
        if (only and name not in only) or name in skip:
            continue
        print(f"== {name}", flush=True)
        began, busy0, ours0 = time.monotonic(), machine_busy(), our_cpu()
        try:
            figs = await run()
        except Exception:
            errors.append(f"{name}: {traceback.format_exc()}")
            print(errors[-1], file=sys.stderr, flush=True)
            figs = []
        stray = kill_descendants()
        if stray:
            errors.append(f"{name}: processes left running: {stray}")
        wall = time.monotonic() - began
        others = (machine_busy() - busy0 - (our_cpu() - ours0)) / wall
        background[name] = round(max(others, 0.0), 3)
        for fig in figs:
            print(f"   {fig.name}: {report.fmt(fig.value)} {fig.unit} {report.verdict(fig)}")
        print(f"   ({wall:.0f} s; other processes used {others:.2f} of {cores} cores)")
        figures += figs
    return figures, background, errors


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="smallest sizes, in seconds")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON results")
    parser.add_argument("--only", nargs="*", default=[], help="run only these sections")
    parser.add_argument(
        "--once", nargs="*", default=[], help="run these sections in the first round only"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="rounds of every section (default 3, smoke 1)"
    )
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (1 if args.smoke else 3)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    scale = SMOKE if args.smoke else Scale()
    become_subreaper()
    info = report.machine()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="minikubelet-bench-") as tmp:
        if not args.smoke:
            info["background_before"] = round(asyncio.run(wait_quiet(QUIET_WAIT)), 3)
        per_round: list[list[Figure]] = []
        background: dict[str, float] = {}
        errors: list[str] = []
        for n in range(rounds):
            if rounds > 1:
                print(f"=== round {n + 1} of {rounds}", flush=True)
            # each round its own directory: the programs append their stamps to files, and
            # a round must not read the last one's
            workdir = Path(tmp) / f"round-{n + 1}"
            workdir.mkdir()
            skip = frozenset(args.once) if n else frozenset()
            figs, busy, errs = asyncio.run(run_all(scale, workdir, set(args.only), skip))
            per_round.append(figs)
            for section, cores in busy.items():
                background[section] = max(background.get(section, 0.0), cores)
            errors += [f"round {n + 1}: {e}" if rounds > 1 else e for e in errs]
        figures = report.aggregate(per_round)
    kill_descendants()
    info["rounds"] = rounds
    info["background_cores"] = background
    info["mode"] = "smoke" if args.smoke else "full"
    info["duration_s"] = round(time.monotonic() - began, 1)
    info["errors"] = errors
    print()
    print(report.table(figures))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(report.to_json(figures, info))
    others = ", ".join(f"{k} {v:.2f}" for k, v in background.items())
    notes = [
        *NOTES,
        f"Other processes' CPU, in cores, per section (the most of any round): {others}",
    ]
    md = report.to_markdown(figures, info, report.command_line(), notes)
    args.output.with_suffix(".md").write_text(md)
    print(f"\nwrote {args.output} and {args.output.with_suffix('.md')} "
          f"in {info['duration_s']:.0f} s")  # fmt: skip
    for error in errors:
        print(f"error: {error.splitlines()[0]}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
