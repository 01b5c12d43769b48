"""HTTP API: the kubelet's endpoints and the Kubernetes API subset kubectl needs."""
