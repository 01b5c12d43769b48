"""What the podman peer reads of podman, without podman: its events, conmon's arguments, the
image it builds, and the skip of a run that cannot have it."""

from __future__ import annotations

import asyncio
import io
import json
import math
import tarfile
from pathlib import Path

import pytest

from benchmarks import podman_peer
from benchmarks.podman_peer import Events, conmon_name, event_time, podman_latencies
from benchmarks.report import Figure


def _line(name: str, status: str, when: str, kind: str = "container") -> str:
    return json.dumps({"Name": name, "Status": status, "Time": when, "Type": kind})


def test_event_time_keeps_nanoseconds_in_utc() -> None:
    assert event_time("1970-01-01T00:00:10.5Z") == 10.5
    assert math.isclose(event_time("2026-12-02T05:17:15.423637519Z") % 60, 15.4236375, abs_tol=1e-6)
    assert event_time("1970-01-01T00:01:00Z") == 60.0


def test_the_kth_died_event_is_the_exit_of_the_kth_instance() -> None:
    events = Events()
    events.add(100.30, _line("a-c", "start", "1970-01-01T00:01:40.25Z"))
    events.add(101.20, _line("a-c", "died", "1970-01-01T00:01:41.1Z"))  # instance 0
    events.add(101.25, _line("a-infra", "died", "1970-01-01T00:01:41.2Z"))
    events.add(101.60, _line("a-c", "start", "1970-01-01T00:01:41.5Z"))
    events.add(102.40, _line("a-c", "died", "1970-01-01T00:01:42.2Z"))  # instance 1
    events.add(102.90, _line("a-c", "start", "1970-01-01T00:01:42.8Z"))
    events.add(103.00, _line("pod-a", "died", "1970-01-01T00:01:43Z", kind="pod"))
    events.add(103.10, "not json")
    exits = {"a-c": [101.0, 102.0, 103.0]}  # the third instance's exit was never reported
    arrival, recorded, running = podman_latencies(exits, events)
    assert [round(x, 3) for x in arrival] == [0.4]  # the first instance is left out
    assert [round(x, 3) for x in recorded] == [0.2]
    assert [round(x, 3) for x in running] == [0.9]
    everything = podman_latencies(exits, events, skip_first=0)
    assert [round(x, 3) for x in everything[0]] == [0.2, 0.4]


def test_podmans_run_root_is_short_enough_for_its_cleanup_command() -> None:
    assert len(podman_peer.short_tmp() + "/mkb-podman-xxxxxxxx/run") <= podman_peer.RUNROOT_MAX


def test_conmon_names_the_container_it_supervises() -> None:
    argv = ["/usr/bin/conmon", "--api-version", "1", "-c", "abc", "-n", "mkbench-idle-0001-c"]
    assert conmon_name(argv) == "mkbench-idle-0001-c"
    assert conmon_name(["/usr/bin/conmon", "-n"]) == ""
    assert conmon_name(["sleep", "1"]) == ""


def test_the_image_is_empty_directories_and_the_hosts_merged_usr_links() -> None:
    with tarfile.open(fileobj=io.BytesIO(podman_peer.rootfs_tar())) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["usr"].isdir()
    assert members["tmp"].mode == 0o1777
    for d in podman_peer.HOST_DIRS:
        host = Path("/") / d
        if host.is_symlink():
            assert members[d].issym()
        else:
            assert d not in members
    assert podman_peer.host_mounts()[0] == "/usr"


def test_a_pod_runs_the_command_on_the_host_network_with_the_mounts() -> None:
    pod = podman_peer.pod_doc("p", ["sleep", "1"], ["/usr", "/tmp/x"], livenessProbe={"a": 1})
    spec = pod["spec"]
    assert spec["hostNetwork"] is True
    (c,) = spec["containers"]
    assert c["command"] == ["sleep", "1"]
    assert c["livenessProbe"] == {"a": 1}
    assert [m["mountPath"] for m in c["volumeMounts"]] == ["/usr", "/tmp/x"]
    assert [v["hostPath"]["path"] for v in spec["volumes"]] == ["/usr", "/tmp/x"]


def test_our_exec_probe_cost_counts_the_command_as_podmans_does() -> None:
    fig = Figure(
        "4. probe cost",
        "daemon + helpers CPU per probe, exec",
        1.0,
        "ms",
        details={
            "daemon_cpu_s": 2.5,
            "helpers_cpu_s": 0.5,
            "idle_cpu_s": 1.0,
            "children_cpu_s": 2.0,
            "probes": 1000,
        },
    )
    assert podman_peer.ours_exec_probe_ms([fig]) == 4.0
    assert podman_peer.ours_exec_probe_ms([]) is None


def test_without_podman_the_section_says_why_it_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(podman_peer.shutil, "which", lambda tool: None)
    figs = asyncio.run(
        podman_peer.measure(
            tmp_path, containers=1, exit_count=1, within=1.0, ours_exits=[], ours_idle=None,
            ours_probes=[], idle_pods=1, idle_seconds=0.1, probe_seconds=0.1,
        )
    )  # fmt: skip
    (fig,) = figs
    assert fig.section == podman_peer.SECTION
    assert math.isnan(fig.value)
    assert "not installed" in fig.note
