"""Imported first by the CLI (cli.py), for its start: structlog without Rich.

structlog imports Rich (and Pygments) at its own import when Rich is installed (the `tui`
extra), for the console's tracebacks: about a sixth of `minikubelet run`'s start. So it is
imported here, before any module of ours imports it, with Rich hidden; the console renderer
(logs.py) imports Rich only when it renders an exception. Rich itself stays importable
(`minikubelet top`). Not in the package's `__init__`: the sweeper process
(`python -m minikubelet.runtime.watchdog`) imports neither.
"""

import sys


def _import_structlog_without_rich() -> None:
    if "structlog" in sys.modules or "rich" in sys.modules:
        return
    sys.modules["rich"] = None  # type: ignore[assignment]  # `import rich` raises ImportError
    try:
        import structlog  # noqa: F401
    finally:
        del sys.modules["rich"]


_import_structlog_without_rich()
