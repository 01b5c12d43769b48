"""The probe, lifecycle and handler rules of a container (`pkg/apis/core/validation/
validation.go`: validateProbe, validateLifecycle, validateHandler and its exec, httpGet,
tcpSocket, grpc and sleep actions), plus the local rule that a gRPC probe needs the grpc
extra installed.
"""

from __future__ import annotations

from collections.abc import Callable

from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.validationbase import JSON, Ctx, exec_strings, words

GRPC_EXTRA = "pip install 'minikubelet[grpc]'"


SIGNALS = sorted(
    words(
        "SIGABRT SIGALRM SIGBUS SIGCHLD SIGCLD SIGCONT SIGFPE SIGHUP SIGILL SIGINT SIGIO SIGIOT "
        "SIGKILL SIGPIPE SIGPOLL SIGPROF SIGPWR SIGQUIT SIGSEGV SIGSTKFLT SIGSTOP SIGSYS SIGTERM "
        "SIGTRAP SIGTSTP SIGTTIN SIGTTOU SIGURG SIGUSR1 SIGUSR2 SIGVTALRM SIGWINCH SIGXCPU "
        "SIGXFSZ SIGRTMIN SIGRTMAX"
    )
    + [f"SIGRTMIN+{n}" for n in range(1, 16)]
    + [f"SIGRTMAX-{n}" for n in range(1, 15)]
)


def lifecycle_and_probes(container: JSON, path: str, ctx: Ctx) -> list[str]:
    errors = []
    if "lifecycle" in container:
        errors += validate_lifecycle(container["lifecycle"], f"{path}.lifecycle", ctx)
    for key in ("livenessProbe", "readinessProbe", "startupProbe"):
        if key in container:
            errors += validate_probe(container[key], key, f"{path}.{key}", ctx)
    return errors


def validate_probe(probe: JSON, kind: str, path: str, ctx: Ctx) -> list[str]:
    errors = validate_handler(probe, ("exec", "httpGet", "tcpSocket", "grpc"), path, ctx)
    for key in (
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ):
        if probe.get(key, 0) < 0:
            errors.append(
                fe.invalid(f"{path}.{key}", probe[key], "must be greater than or equal to 0")
            )
    grace = probe.get("terminationGracePeriodSeconds")
    if grace is not None and grace <= 0:
        errors.append(
            fe.invalid(f"{path}.terminationGracePeriodSeconds", grace, "must be greater than 0")
        )
    if kind != "readinessProbe" and probe.get("successThreshold", 1) != 1:
        errors.append(
            fe.invalid(f"{path}.successThreshold", probe["successThreshold"], "must be 1")
        )
    if kind == "readinessProbe" and grace is not None:
        errors.append(
            fe.invalid(
                f"{path}.terminationGracePeriodSeconds",
                grace,
                "must not be set for readinessProbes",
            )
        )
    return errors


def validate_lifecycle(lifecycle: JSON, path: str, ctx: Ctx) -> list[str]:
    errors = []
    for key in ("postStart", "preStop"):
        if key in lifecycle:
            handlers = ("exec", "httpGet", "tcpSocket", "sleep")
            errors += validate_handler(lifecycle[key], handlers, f"{path}.{key}", ctx)
    signal = lifecycle.get("stopSignal")
    if signal is not None and signal not in SIGNALS:
        errors.append(fe.not_supported(f"{path}.stopSignal", signal, SIGNALS))
    return errors


def validate_handler(handler: JSON, kinds: tuple[str, ...], path: str, ctx: Ctx) -> list[str]:
    errors, found = [], 0
    for kind in kinds:
        if kind not in handler:
            continue
        if found:
            errors.append(
                fe.forbidden(f"{path}.{kind}", "may not specify more than 1 handler type")
            )
            continue
        found += 1
        errors += _HANDLERS[kind](handler[kind], f"{path}.{kind}", ctx)
    if not found:
        errors.append(fe.required(path, "must specify a handler type"))
    return errors


def _exec(action: JSON, path: str, ctx: Ctx) -> list[str]:
    if not action.get("command"):
        return [fe.required(f"{path}.command")]
    return exec_strings(action["command"], f"{path}.command")


def _http_get(action: JSON, path: str, ctx: Ctx) -> list[str]:
    errors = [] if action.get("path") else [fe.required(f"{path}.path")]
    errors += port_num_or_name(action.get("port", 0), f"{path}.port")
    scheme = action.get("scheme", "")
    if scheme not in ("HTTP", "HTTPS"):
        errors.append(fe.not_supported(f"{path}.scheme", scheme, ["HTTP", "HTTPS"]))
    for header in action.get("httpHeaders", []):
        name = header.get("name", "")
        errors += fe.invalid_each(f"{path}.httpHeaders", name, fe.http_header_name(name))
    return errors


def _tcp_socket(action: JSON, path: str, ctx: Ctx) -> list[str]:
    return port_num_or_name(action.get("port", 0), f"{path}.port")


def _grpc(action: JSON, path: str, ctx: Ctx) -> list[str]:
    errors = port_num_or_name(action.get("port", 0), f"{path}.port")
    if not ctx.grpc_available():
        detail = f"gRPC probes need the grpc extra, which is not installed: {GRPC_EXTRA}"
        errors.append(fe.forbidden(path, detail))
    return errors


def _sleep(action: JSON, path: str, ctx: Ctx) -> list[str]:
    seconds = action.get("seconds", 0)
    if 0 <= seconds <= ctx.grace:
        return []
    detail = f"must be non-negative and less than terminationGracePeriodSeconds ({ctx.grace})"
    return [fe.invalid(path, seconds, detail)]


_HANDLERS: dict[str, Callable[[JSON, str, Ctx], list[str]]] = {
    "exec": _exec,
    "httpGet": _http_get,
    "tcpSocket": _tcp_socket,
    "grpc": _grpc,
    "sleep": _sleep,
}


def port_num_or_name(port: int | str, path: str) -> list[str]:
    if isinstance(port, int):
        return fe.invalid_each(path, port, fe.port_number(port))
    return fe.invalid_each(path, port, fe.port_name(port))
