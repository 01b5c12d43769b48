"""Probes and hooks: one handler per action (exec, httpGet, tcpSocket, grpc) with Go-compatible
messages, the kubelet's probe worker (doProbe), lifecycle hooks and the Go HTTP client."""
