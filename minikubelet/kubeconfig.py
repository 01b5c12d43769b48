"""A kubeconfig for the running daemon, so `KUBECONFIG=... kubectl` reaches it and nothing else.

The daemon records one at start in `<state-dir>/kubeconfig` (mode 0600: it may hold the
token) and removes it when it stops; `minikubelet kubeconfig` prints that one, or builds one
for `--server URL`. Its context names the `default` namespace, so a command cannot inherit
the namespace of the user's own current context, and it is the only context, so a command
cannot go to another cluster. It never overwrites the user's own kubeconfig: `--output`
refuses `~/.kube/config`, the files of `$KUBECONFIG` and any existing file unless `--force`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

NAME = "minikubelet"
STATE_FILE = "kubeconfig"


def render(
    server: str,
    *,
    token: str | None = None,
    certificate_authority: Path | None = None,
    insecure: bool = False,
) -> str:
    """The kubeconfig text: one cluster, one user, one context (namespace `default`)."""
    cluster: dict[str, Any] = {"server": server}
    if certificate_authority is not None:
        cluster["certificate-authority"] = str(certificate_authority.resolve())
    elif insecure and server.startswith("https:"):
        cluster["insecure-skip-tls-verify"] = True
    user: dict[str, Any] = {"token": token} if token else {}
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": NAME, "cluster": cluster}],
        "users": [{"name": NAME, "user": user}],
        "contexts": [
            {"name": NAME, "context": {"cluster": NAME, "user": NAME, "namespace": "default"}}
        ],
        "current-context": NAME,
        "preferences": {},
    }
    import yaml  # here: `minikubelet run` starts its containers without PyYAML

    return yaml.safe_dump(config, sort_keys=False)


def write_private(path: Path, text: str) -> None:
    """Writes `text` to `path` atomically, readable by the owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def record(state_dir: Path, server: str, *, token: str | None, tls: bool) -> Path:
    """The daemon's own record at start: `<state-dir>/kubeconfig`. With TLS the certificate
    is not known to be one kubectl can verify for this address, so verification is skipped
    (`minikubelet kubeconfig --certificate-authority` writes one that verifies)."""
    path = (state_dir / STATE_FILE).absolute()
    write_private(path, render(server, token=token, insecure=tls))
    return path


def forget(path: Path, server: str) -> None:
    """Removes the record at exit, unless another daemon on the same state dir has since
    replaced it with its own."""
    import yaml

    with contextlib.suppress(OSError, yaml.YAMLError, KeyError, IndexError, TypeError):
        if yaml.safe_load(path.read_text())["clusters"][0]["cluster"]["server"] == server:
            path.unlink()


def _protected(path: Path) -> bool:
    """The user's own kubeconfig files: ~/.kube/config and those $KUBECONFIG names."""
    own = [Path("~/.kube/config").expanduser()]
    own += [Path(p) for p in os.environ.get("KUBECONFIG", "").split(os.pathsep) if p]
    resolved = path.expanduser().resolve()
    return any(resolved == p.expanduser().resolve() for p in own)


def _answers(server: str, token: str | None) -> bool:
    """Whether a daemon answers `/healthz` at `server`."""
    # imported here: the HTTP client costs tens of ms, and `run` starts without it
    import ssl
    import urllib.error
    import urllib.request

    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(server.rstrip("/") + "/healthz")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=3, context=context) as response:
            return bool(response.status == 200)
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _recorded(state_dir: Path) -> tuple[str, str | None]:
    """(server, token) from the daemon's record; raises LookupError with the reason."""
    import yaml

    path = state_dir / STATE_FILE
    try:
        config = yaml.safe_load(path.read_text())
        server = str(config["clusters"][0]["cluster"]["server"])
        token = config["users"][0]["user"].get("token")
    except FileNotFoundError:
        raise LookupError(
            f"no running daemon recorded in {path}: start one with `minikubelet run`, "
            "or give --server URL"
        ) from None
    except (OSError, yaml.YAMLError, KeyError, IndexError, TypeError, AttributeError) as e:
        raise LookupError(f"cannot read {path}: {e}") from None
    return server, token


def add_parser(sub: Any, default_state_dir: Path) -> None:
    cmd = sub.add_parser(
        "kubeconfig",
        help="print a kubeconfig for the running daemon (KUBECONFIG=... kubectl)",
        description="Print a kubeconfig whose only context is the running daemon, in "
        "namespace default.",
    )
    cmd.add_argument("--server", help="the daemon's URL [the one recorded in --state-dir]")
    cmd.add_argument("--token-file", type=Path, help="with --server: the daemon's token")
    cmd.add_argument(
        "--certificate-authority",
        type=Path,
        help="verify the daemon's certificate with this CA (PEM) instead of skipping",
    )
    cmd.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"the daemon's --state-dir [{default_state_dir}]",
    )
    cmd.add_argument("--output", "-o", type=Path, help="write it to this file, not stdout")
    cmd.add_argument("--force", action="store_true", help="with --output: overwrite the file")


def run(args: argparse.Namespace, default_state_dir: Path) -> int:
    """`minikubelet kubeconfig`; exit 0, or 2 with an error naming the flag."""
    if args.token_file is not None and args.server is None:
        return _error("--token-file goes with --server (the recorded kubeconfig has the token)")
    if args.server is not None:
        server, token = args.server, None
        if args.token_file is not None:
            try:
                token = args.token_file.read_text().strip()
            except OSError as e:
                return _error(f"--token-file: {e.strerror}: {args.token_file}")
    else:
        try:
            server, token = _recorded(args.state_dir or default_state_dir)
        except LookupError as e:
            return _error(str(e))
        if not _answers(server, token):
            return _error(f"the daemon recorded in {args.state_dir or default_state_dir} "
                          f"does not answer at {server}: has it stopped?")  # fmt: skip
    if args.certificate_authority is not None and not args.certificate_authority.is_file():
        return _error(f"--certificate-authority: no such file: {args.certificate_authority}")
    text = render(server, token=token, certificate_authority=args.certificate_authority,
                  insecure=True)  # fmt: skip
    if args.output is None:
        sys.stdout.write(text)
        return 0
    return _write_output(args.output, text, force=args.force)


def _write_output(path: Path, text: str, *, force: bool) -> int:
    if not force and _protected(path):
        return _error(f"--output {path}: refusing to overwrite your own kubeconfig "
                      "(use another file, or --force)")  # fmt: skip
    if not force and path.exists():
        return _error(f"--output {path}: the file exists (use --force to overwrite it)")
    try:
        write_private(path, text)
    except OSError as e:
        return _error(f"--output {path}: {e.strerror or e}")
    print(f"export KUBECONFIG={path.absolute()}")
    return 0


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2
