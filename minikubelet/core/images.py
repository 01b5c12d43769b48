"""What an image would run: the local stand-in for its ENTRYPOINT, CMD and WORKDIR.

minikubelet pulls no images. What an image runs comes from the local file
(`minikubelet.local.yaml` or `--overlay`), from `--image GLOB=CMD` flags, and from built-in
knowledge of a few common base images; `resolve` combines that with the container's own
`command` and `args` by Kubernetes' rule. Pure: no files, no clock.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass

from minikubelet.core.spec import Container

LOCAL_FILE = "minikubelet.local.yaml"


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageConfig:
    """An image's config as a runtime reads it (`Entrypoint`, `Cmd`, `WorkingDir`)."""

    entrypoint: tuple[str, ...] = ()
    cmd: tuple[str, ...] = ()
    working_dir: str = ""  # absolute, or "" (the daemon's directory)


@dataclass(frozen=True, slots=True)
class ImageRule:
    pattern: str  # an fnmatch glob over the whole image reference
    config: ImageConfig
    source: str = ""  # where it was written ("--image", the file's path, "built-in")


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageOverlay:
    """The rules in the order they are tried: `--image` flags, the local file, built-ins."""

    rules: tuple[ImageRule, ...] = ()
    file: str = LOCAL_FILE  # named in the hint of an unmapped image

    def lookup(self, image: str) -> ImageConfig | None:
        for rule in (*self.rules, *BUILTIN_RULES):
            if fnmatch.fnmatchcase(image, rule.pattern):
                return rule.config
        return None


@dataclass(frozen=True, slots=True)
class Command:
    argv: tuple[str, ...]
    working_dir: str  # "" for the daemon's directory


@dataclass(frozen=True, slots=True)
class NoMapping:
    """The image has no local command: the container waits as for an image it cannot pull."""

    message: str


def resolve(container: Container, overlay: ImageOverlay) -> Command | NoMapping:
    """The container's command line and working directory.

    kubelet: kuberuntime_container.go generateContainerConfig passes `command` as the CRI
    `Command` and `args` as `Args`; the runtime (containerd's WithImageConfigArgs, as in the
    docs' "Define a Command and Arguments for a Container" notes table) then uses: command
    and args as given; command alone, without the image's CMD; args alone, after the image's
    ENTRYPOINT; neither, the image's ENTRYPOINT and CMD. The container's `workingDir` wins
    over the image's."""
    config = overlay.lookup(container.image)
    if container.command:
        working_dir = container.working_dir or (config.working_dir if config else "")
        return Command(container.command + container.args, working_dir)
    if config is None:
        return NoMapping(no_mapping_message(container.image, overlay.file))
    args = container.args or config.cmd
    argv = config.entrypoint + args
    if not argv:
        return NoMapping(no_mapping_message(container.image, overlay.file))
    return Command(argv, container.working_dir or config.working_dir)


def no_mapping_message(image: str, file: str) -> str:
    glob = _suggested_glob(image)
    return (
        f'no local command for image "{image}": add it under images: in {file} '
        f"(e.g. \"{glob}\": {{command: [...]}}) or pass --image '{image}=CMD'"
    )


def _suggested_glob(image: str) -> str:
    """`nginx:1.25` -> `nginx:*`; a reference without a tag -> itself followed by `*`."""
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return f"{name}:*"
    return f"{image}*"


# --- built-in base images ------------------------------------------------------------------

# Their ENTRYPOINT is empty and their CMD a shell or an interpreter (as the official images
# have it), so an `args`-only container runs its args as the command line.
_BUILTIN_CMD: dict[str, tuple[str, ...]] = {
    "busybox": ("sh",),
    "alpine": ("/bin/sh",),
    "ubuntu": ("/bin/bash",),
    "debian": ("bash",),
    "python": ("python3",),
}


def _builtin_rules() -> tuple[ImageRule, ...]:
    rules: list[ImageRule] = []
    for name, cmd in _BUILTIN_CMD.items():
        config = ImageConfig(cmd=cmd)
        for prefix in ("", "*/"):  # any registry or path: registry.k8s.io/busybox
            for suffix in ("", ":*", "@*"):
                rules.append(ImageRule(f"{prefix}{name}{suffix}", config, "built-in"))
    return tuple(rules)


BUILTIN_RULES = _builtin_rules()
