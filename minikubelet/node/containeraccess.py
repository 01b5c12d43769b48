"""What the API reads of the node agent's running containers, as the kubelet's server asks
its pod workers: a container's log files (kubelet_pods.go GetContainerLogs, `--previous`),
the target of `kubectl exec` and `attach` (GetExec, GetAttach: findContainer among the running
ones, with the environment the container got), and the pids of the running containers.
`NodeAgent` is built on it.
"""

from __future__ import annotations

from collections.abc import Mapping

from minikubelet.core.settings import Settings
from minikubelet.node.pod import PodRunner
from minikubelet.runtime.containerenv import container_env
from minikubelet.runtime.crilog import LogSource, log_files
from minikubelet.runtime.process import ContainerTarget


class ContainerAccess:
    """The running containers of the agent's pods, as the API reads them."""

    settings: Settings
    runners: dict[tuple[str, str], PodRunner]

    def log_source(
        self, namespace: str, name: str, container: str, *, previous: bool = False
    ) -> LogSource:
        runner = self.runners.get((namespace, name))
        if runner is None:
            raise LookupError(f'pod "{name}" does not exist')
        sup = runner.supervisor(container)
        if sup is None:
            raise LookupError(f'container "{container}" not found in pod "{name}"')
        instances = sup.instances if not previous else sup.instances[:-1]
        if not instances:
            if previous:
                raise LookupError(
                    f'previous terminated container "{container}" in pod "{name}" not found'
                )
            state = sup.status(pod_has_init=bool(runner.init_supervisors)).state
            reason = getattr(state, "reason", "") or "ContainerCreating"
            raise LookupError(
                f'container "{container}" in pod "{name}" is waiting to start: {reason}'
            )
        inst = instances[-1]
        running = inst.terminated is None and not previous
        return LogSource(log_files(inst.log_path, self.settings.log_max_files), running)

    def container_target(self, namespace: str, name: str, container: str) -> ContainerTarget:
        """kubelet: kubelet_pods.go GetExec / GetAttach (findContainer among running ones)."""
        runner = self.runners.get((namespace, name))
        sup = runner.supervisor(container) if runner is not None else None
        cur = sup.current if sup is not None else None
        if runner is None or sup is None or cur is None or cur.process is None:
            raise LookupError(f'container not found ("{container}")')
        if cur.terminated is not None or cur.process.exited:
            raise LookupError(f'container not found ("{container}")')
        c, s = sup.container, runner.settings
        env, _own = container_env(runner.pod, c, base=s.base_env, service_env=sup.service_env,
                                  resolved=sup.resolved_env,
                                  volume_env=sup.environment.volume_env)  # fmt: skip
        return ContainerTarget(
            container_id=cur.container_id,
            env=env,
            cwd=sup.cwd,
            process=cur.process,
            stdin=c.stdin,
            stdin_once=c.stdin_once,
            tty=c.tty,
        )

    def container_pids(self, namespace: str, name: str) -> Mapping[str, int]:
        runner = self.runners.get((namespace, name))
        if runner is None:
            return {}
        pids: dict[str, int] = {}
        for sup in runner.init_supervisors + runner.supervisors:
            cur = sup.current
            if cur is not None and cur.process is not None and cur.terminated is None:
                pids[sup.container.name] = cur.process.pid
        return pids
