"""Typed application keys: what every handler can reach through `request.app`."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from minikubelet.api.registry import Registry
from minikubelet.api.watch import WatchCache
from minikubelet.store.objects import ObjectStore


@dataclass(frozen=True, slots=True)
class Settings:
    token: str | None
    node_name: str
    started_at: float  # epoch seconds the daemon started (namespace and node ages)


REGISTRY = web.AppKey[Registry]("registry")
SETTINGS = web.AppKey("settings", Settings)
WATCH_CACHE = web.AppKey("watch_cache", WatchCache)
STORE = web.AppKey("store", ObjectStore)  # the registered kinds' objects (api/generic.py)


def registry(request: web.Request) -> Registry:
    return request.app[REGISTRY]


def settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]
