"""minikubelet: a kubelet for one machine."""

import sys

__version__ = "0.1.0"
# The Kubernetes release whose kubelet semantics we follow (probe User-Agent, /version).
KUBERNETES_VERSION = (1, 34, 0)
# The API server's binary version in `/version`, emulating KUBERNETES_VERSION (see
# api/discovery.py version_info: it keeps kubectl 1.35 to 1.37 within their version skew).
API_SERVER_VERSION = (1, 36, 0)


def _import_structlog_without_rich() -> None:
    """structlog imports Rich (and Pygments) at its own import when Rich is installed (the
    `tui` extra), for the console's tracebacks: about a sixth of `minikubelet run`'s start.
    It is imported here, before any module of ours imports it, with Rich hidden; the console
    renderer (logs.py) imports Rich only when it renders an exception. Rich itself stays
    importable (`minikubelet top`)."""
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
