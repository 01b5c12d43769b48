"""minikubelet: a kubelet for one machine."""

__version__ = "0.1.0"
# The Kubernetes release whose kubelet semantics we follow (probe User-Agent, /version).
KUBERNETES_VERSION = (1, 34, 0)
# The API server's binary version in `/version`, emulating KUBERNETES_VERSION (see
# api/discovery.py version_info: it keeps kubectl 1.35 to 1.37 within their version skew).
API_SERVER_VERSION = (1, 36, 0)
