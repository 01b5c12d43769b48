"""What a container start's environment is made of, read at each start (a later edit reaches
the next start): the values of its ConfigMap and Secret references (`core/envsources.py`),
the daemon's `kubernetes` variables and the stored Services' (`core/envvars.py`), merged by
`runtime.containerenv.container_env` (kubelet: kubelet_pods.go makeEnvironmentVariables).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from minikubelet.core import envsources, envvars
from minikubelet.core.envsources import ResolvedEnv
from minikubelet.core.spec import Container
from minikubelet.runtime.containerenv import container_env

if TYPE_CHECKING:
    from minikubelet.node.supervisor import PodHandle


class ContainerEnv:
    """The environment one container's current start read; exec probes, hooks and
    `kubectl exec` get the same."""

    def __init__(self, pod: PodHandle) -> None:
        self.pod = pod
        self._resolved: ResolvedEnv | None = None  # what the current start read
        self._service_env: dict[str, str] = {}  # the Services' variables at the current start
        self.volume_env: dict[str, str] = {}  # MINIKUBELET_VOLUME_* (host mode)

    def read(self, container: Container) -> tuple[str, ...]:
        """Reads the Services' variables and the container's ConfigMap and Secret values
        now; returns the invalid-name warnings. Raises `envsources.EnvConfigError` for a
        missing object or key (the previous start's values then stay)."""
        self._service_env = self._services_env()
        lookup = self.pod.config_lookup
        if lookup is None or not (container.env_from or any(
            v.config_map_key_ref or v.secret_key_ref for v in container.env
        )):  # fmt: skip
            self._resolved = None
            return ()
        self._resolved = envsources.resolve(container, self.pod.pod.namespace, lookup)
        return tuple(self._resolved.invalid)

    def _services_env(self) -> dict[str, str]:
        """The daemon's `kubernetes` variables and the stored Services' (core/envvars.py)."""
        services = self.pod.service_lookup() if self.pod.service_lookup is not None else []
        pod = self.pod.pod
        links = pod.manifest.get("spec", {}).get("enableServiceLinks") is not False
        return {**self.pod.settings.service_env, **envvars.for_pod(pod.namespace, links, services)}

    @property
    def resolved(self) -> ResolvedEnv | None:
        return self._resolved

    @property
    def service_env(self) -> Mapping[str, str]:
        return self._service_env or self.pod.settings.service_env

    def env(self, container: Container) -> tuple[dict[str, str], dict[str, str]]:
        s = self.pod.settings
        return container_env(
            self.pod.pod,
            container,
            base=s.base_env,
            service_env=self.service_env,
            resolved=self._resolved,
            volume_env=self.volume_env,
        )
