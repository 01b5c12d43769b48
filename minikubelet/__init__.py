"""minikubelet: a kubelet for one machine."""

__version__ = "0.1.0"
# The Kubernetes release whose kubelet semantics we follow (probe User-Agent, /version).
KUBERNETES_VERSION = (1, 34, 0)
