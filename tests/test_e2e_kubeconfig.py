"""`KUBECONFIG=... kubectl` against a live daemon: the kubeconfig the daemon records at start
(and removes at exit), `minikubelet kubeconfig` (stdout, `--output`, what it refuses), and what
kubectl prints for a manifest the daemon warns about or refuses."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from daemon_harness import Minikubelet, run_manifest, write_manifest

KUBECTL = str(Path(sys.executable).parent / "kubectl")
EXPORT = "minikubelet: kubectl: export KUBECONFIG="
POD = """
    apiVersion: v1
    kind: Pod
    metadata: {name: web}
    spec:
      containers:
      - {name: app, image: busybox, command: [sleep, "600"]}
"""


def run(argv: list[str], home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {"PATH": "/usr/bin:/bin", "HOME": str(home), **env}
    return subprocess.run(argv, capture_output=True, text=True, env=environment, timeout=60)


def minikubelet(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run([sys.executable, "-m", "minikubelet", *args], home)


def recorded_path(mk: Minikubelet) -> Path:
    line = mk.wait_for("the KUBECONFIG line", lambda: next(
        (x for x in mk.stdout_lines if x.startswith(EXPORT)), None))  # fmt: skip
    return Path(line.removeprefix(EXPORT))


def test_the_daemon_records_a_kubeconfig_kubectl_uses(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    with run_manifest(tmp_path, POD) as mk:
        path = recorded_path(mk)
        assert path == (tmp_path / "state" / "kubeconfig").absolute()
        assert path.stat().st_mode & 0o077 == 0
        mk.wait_for("web running", lambda: mk.container("web", "app")["state"].get("running"))
        got = run([KUBECTL, "get", "pods", "-o", "name"], home, KUBECONFIG=str(path))
        assert (got.stdout, got.stderr, got.returncode) == ("pod/web\n", "", 0)
        view = run([KUBECTL, "config", "view", "--minify", "-o",
                    "jsonpath={.contexts[0].context.namespace} {.clusters[0].cluster.server}"],
                   home, KUBECONFIG=str(path))  # fmt: skip
        assert view.stdout == f"default {mk.url}"
        top = run([KUBECTL, "top", "pod", "web", "--no-headers"], home, KUBECONFIG=str(path))
        assert (top.stdout.split()[0], top.stderr) == ("web", "")
        node = run([KUBECTL, "describe", "node"], home, KUBECONFIG=str(path))
        assert "Non-terminated Pods:          (1 in total)" in node.stdout, node.stderr
        # a manifest with a field that has no local meaning: kubectl prints the warning
        picky = write_manifest(tmp_path, """
            apiVersion: v1
            kind: Pod
            metadata: {name: picky}
            spec:
              nodeSelector: {disk: ssd}
              containers:
              - {name: app, image: busybox, command: [sleep, "600"]}
        """, "picky.yaml")  # fmt: skip
        applied = run([KUBECTL, "apply", "-f", str(picky)], home, KUBECONFIG=str(path))
        assert applied.stdout == "pod/picky created\n"
        assert applied.stderr == ("Warning: spec.nodeSelector: has no local meaning in "
                                  "minikubelet and is ignored (there is one node)\n")  # fmt: skip
        # strict validation is the server's: an unknown field is refused as kubectl reports it
        bogus = write_manifest(tmp_path, """
            apiVersion: v1
            kind: Pod
            metadata: {name: bogus}
            spec:
              containers:
              - {name: app, image: busybox, command: [sleep, "600"], bogus: 1}
        """, "bogus.yaml")  # fmt: skip
        refused = run([KUBECTL, "apply", "--validate=strict", "-f", str(bogus)], home,
                      KUBECONFIG=str(path))  # fmt: skip
        assert refused.returncode == 1
        assert refused.stderr == (
            f'Error from server (BadRequest): error when creating "{bogus}": Pod in version '
            '"v1" cannot be handled as a Pod: strict decoding error: unknown field '
            '"spec.containers[0].bogus"\n'
        )
    assert not path.exists()


def test_kubeconfig_command(tmp_path: Path) -> None:
    home, state = tmp_path / "home", tmp_path / "state"
    (home / ".kube").mkdir(parents=True)
    own = home / ".kube" / "config"
    own.write_text("users' own\n")
    with run_manifest(tmp_path, POD) as mk:
        recorded_path(mk)
        printed = minikubelet(home, "kubeconfig", "--state-dir", str(state))
        assert printed.returncode == 0, printed.stderr
        config = yaml.safe_load(printed.stdout)
        assert config["clusters"][0]["cluster"] == {"server": mk.url}
        assert config["contexts"][0]["context"]["namespace"] == "default"
        assert config["current-context"] == config["contexts"][0]["name"]
        out = tmp_path / "kc.yaml"
        wrote = minikubelet(home, "kubeconfig", "--state-dir", str(state), "--output", str(out))
        assert (wrote.stdout, wrote.returncode) == (f"export KUBECONFIG={out}\n", 0)
        assert yaml.safe_load(out.read_text()) == config
        again = minikubelet(home, "kubeconfig", "--state-dir", str(state), "-o", str(out))
        assert again.returncode == 2
        assert again.stderr == (f"error: --output {out}: the file exists (use --force to "
                                "overwrite it)\n")  # fmt: skip
        forced = minikubelet(home, "kubeconfig", "--state-dir", str(state), "-o", str(out),
                             "--force")  # fmt: skip
        assert forced.returncode == 0
        mine = minikubelet(home, "kubeconfig", "--state-dir", str(state), "-o", str(own))
        assert mine.returncode == 2
        assert "refusing to overwrite your own kubeconfig" in mine.stderr
        assert own.read_text() == "users' own\n"
    gone = minikubelet(home, "kubeconfig", "--state-dir", str(state))
    assert gone.returncode == 2
    assert gone.stderr.startswith(f"error: no running daemon recorded in {state / 'kubeconfig'}")
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    explicit = minikubelet(home, "kubeconfig", "--server", "https://127.0.0.1:1", "--token-file",
                           str(token))  # fmt: skip
    config = yaml.safe_load(explicit.stdout)
    assert config["users"][0]["user"] == {"token": "s3cret"}
    assert config["clusters"][0]["cluster"]["insecure-skip-tls-verify"] is True


def test_token_and_tls_are_in_the_recorded_kubeconfig(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-nodes", "-days", "1", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-subj", "/CN=127.0.0.1", "-keyout", str(key),
         "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    token = tmp_path / "token"
    token.write_text("s3cret\n")
    home = tmp_path / "home"
    home.mkdir()
    args = ["--token-file", str(token), "--tls-cert-file", str(cert)]
    with run_manifest(tmp_path, POD, *args, "--tls-private-key-file", str(key)) as mk:
        path = recorded_path(mk)
        config = yaml.safe_load(path.read_text())
        assert config["users"][0]["user"] == {"token": "s3cret"}
        assert config["clusters"][0]["cluster"] == {"server": mk.url,
                                                    "insecure-skip-tls-verify": True}  # fmt: skip
        got = run([KUBECTL, "auth", "can-i", "create", "pods"], home, KUBECONFIG=str(path))
        assert (got.stdout, got.stderr) == ("yes\n", "")


def test_a_daemon_removes_only_its_own_record(tmp_path: Path) -> None:
    from minikubelet import kubeconfig

    path = kubeconfig.record(tmp_path, "http://127.0.0.1:1", token=None, tls=False)
    kubeconfig.record(tmp_path, "http://127.0.0.1:2", token=None, tls=False)  # a second daemon
    kubeconfig.forget(path, "http://127.0.0.1:1")
    assert path.exists()
    kubeconfig.forget(path, "http://127.0.0.1:2")
    assert not path.exists()
