"""Image-only containers end to end: the real daemon, the local file, `--image`, kubectl."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from daemon_harness import Minikubelet, event_messages, write_manifest
from test_e2e_kubectl import kubectl, rows

POD = """
    apiVersion: v1
    kind: Pod
    metadata: {name: app}
    spec:
      containers:
      - name: api
        image: ghcr.io/acme/api:1.2
      - name: web
        image: nginx:1.25
"""


def _log(mk: Minikubelet, pod: str, container: str) -> str:
    out, _err, _code = kubectl(mk, "logs", pod, "-c", container)
    return out


def test_the_local_file_beside_the_manifest_says_what_images_run(tmp_path: Path) -> None:
    (tmp_path / "api").mkdir()
    (tmp_path / "minikubelet.local.yaml").write_text(
        textwrap.dedent("""
        images:
          "ghcr.io/acme/api*": {command: [sh, -c], args: ["pwd; echo api $0; exec sleep 600"]}
          "nginx:*": {command: [sh, -c, "pwd; echo web; exec sleep 600"], workingDir: ./api}
        """)
    )
    manifest = write_manifest(tmp_path, POD)
    with Minikubelet(manifest, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("api logs", lambda: "api sh" in _log(mk, "app", "api"))
        assert _log(mk, "app", "api").splitlines()[0] == str(Path.cwd())
        mk.wait_for("web logs", lambda: "web" in _log(mk, "app", "web"))
        assert _log(mk, "app", "web").splitlines()[0] == str((tmp_path / "api").resolve())
        mk.wait_for("both running", lambda: rows(kubectl(mk, "get", "pods")[0])["app"][1:3]
                    == ["2/2", "Running"])  # fmt: skip


def test_image_flag_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "minikubelet.local.yaml").write_text(
        'images: {"nginx:*": {command: [sh, -c, "echo from-file; exec sleep 600"]}}\n'
    )
    manifest = write_manifest(tmp_path, POD)
    flag = "nginx:1.25=sh -c 'echo from-flag; exec sleep 600'"
    api = "ghcr.io/acme/*=sleep 600"
    args = ["--image", flag, "--image", api]
    with Minikubelet(manifest, *args, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("flag's command", lambda: "from-flag" in _log(mk, "app", "web"))
        assert "from-file" not in _log(mk, "app", "web")


def test_an_unmapped_image_waits_in_image_pull_backoff_and_its_sibling_runs(
    tmp_path: Path,
) -> None:
    manifest = write_manifest(
        tmp_path,
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: app}
        spec:
          containers:
          - {name: web, image: nginx:1.25}
          - {name: side, image: busybox, args: [sh, -c, "echo side; exec sleep 600"]}
        """,
    )
    args = ["--backoff-initial", "2", "--backoff-max", "4", "--image", "ghcr.io/ok*=sleep 600"]
    with Minikubelet(manifest, *args, state_dir=tmp_path / "state") as mk:
        mk.wait_serving()
        mk.wait_for("sibling runs", lambda: "side" in _log(mk, "app", "side"))
        seen = set()

        def status() -> bool:
            seen.add(rows(kubectl(mk, "get", "pods")[0])["app"][2])
            return {"ErrImagePull", "ImagePullBackOff"} <= seen

        mk.wait_for("ErrImagePull then ImagePullBackOff", status, timeout=90)
        waiting = mk.container("app", "web")["state"]["waiting"]
        assert waiting["reason"] in ("ErrImagePull", "ImagePullBackOff")
        assert 'no local command for image "nginx:1.25"' in waiting["message"]
        assert "minikubelet.local.yaml" in waiting["message"]
        assert "--image 'nginx:1.25=CMD'" in waiting["message"]
        assert mk.container("app", "side")["state"].get("running")
        pulls = event_messages(mk, "Failed")
        assert any(m.startswith('Failed to pull image "nginx:1.25": no local') for m in pulls)
        assert "Error: ErrImagePull" in pulls
        mk.wait_for("BackOff event", lambda: event_messages(mk, "BackOff"), timeout=60)
        assert 'Back-off pulling image "nginx:1.25"' in event_messages(mk, "BackOff")
        describe = kubectl(mk, "describe", "pod", "app")[0]
        assert "Pulling image" in describe
        # a new image with a local command is taken at once (the next sync pulls it)
        _out, err, code = kubectl(mk, "set", "image", "pod/app", "web=ghcr.io/ok:1")
        assert code == 0, err
        mk.wait_for("web runs", lambda: mk.container("app", "web")["state"].get("running"))


def _validate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minikubelet", "validate", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_validate_takes_the_flags_and_refuses_a_bad_local_file(tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, POD)
    result = _validate(str(manifest))
    assert result.returncode == 0, result.stderr
    assert 'no local command for image "nginx:1.25"' in result.stderr
    ok = _validate(str(manifest), "--image", "nginx:*=sleep 1", "--image", "ghcr.io/*=x")
    assert ok.returncode == 0
    assert "no local command" not in ok.stderr
    (tmp_path / "minikubelet.local.yaml").write_text('images: {"a*": {comand: [x]}}\n')
    bad = _validate(str(manifest))
    assert bad.returncode == 2
    assert "minikubelet.local.yaml: images['a*']: unknown field \"comand\"" in bad.stderr
    assert "Traceback" not in bad.stderr
    flag = _validate(str(manifest), "--image", "nginx")
    assert flag.returncode == 2
    assert "--image 'nginx'" in flag.stderr
