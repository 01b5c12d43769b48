"""The HTTP stack's import, which the daemon runs in a thread while its containers start.

`aiohttp.web` imports the whole of aiohttp, its client too, whose connector builds two default
TLS contexts at import: each reads every CA certificate of the system, which is a third or
more of the import. Our server never uses aiohttp's client, so while aiohttp is imported
here, that thread's reads of the default verify paths are put off (`SSLContext.
set_default_verify_paths`: what `ssl.create_default_context` calls on Linux), and
`load_deferred()` does them once the API serves. Any other thread's calls are not touched.
"""

from __future__ import annotations

import contextlib
import ssl
import sys
import threading
from collections.abc import Callable, Iterator

_deferred: list[tuple[ssl.SSLContext, Callable[[ssl.SSLContext], None]]] = []


def import_http_stack() -> None:
    with _verify_paths_deferred():
        import aiohttp.web  # noqa: F401
    import yaml  # noqa: F401  (the kubeconfig recorded once the API serves)

    import minikubelet.api.server  # noqa: F401
    from minikubelet.runtime import metrics

    metrics.create()


def load_deferred() -> int:
    """Reads the verify paths that were put off; returns how many contexts it completed."""
    done = 0
    while _deferred:
        context, load = _deferred.pop()
        load(context)
        done += 1
    return done


@contextlib.contextmanager
def _verify_paths_deferred() -> Iterator[None]:
    if "aiohttp.connector" in sys.modules:  # imported already: nothing to put off
        yield
        return
    cls = ssl.SSLContext
    own = "set_default_verify_paths" in vars(cls)
    original = cls.set_default_verify_paths
    importer = threading.get_ident()

    def deferred(context: ssl.SSLContext) -> None:
        if threading.get_ident() != importer:
            return original(context)
        _deferred.append((context, original))
        return None

    setattr(cls, "set_default_verify_paths", deferred)  # noqa: B010
    try:
        yield
    finally:
        if own:
            setattr(cls, "set_default_verify_paths", original)  # noqa: B010
        else:
            delattr(cls, "set_default_verify_paths")
