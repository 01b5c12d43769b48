"""The workload controllers the daemon runs (controllers/loop.py), in the order a pass runs
them. Adding a controller is one line here."""

from __future__ import annotations

from minikubelet.controllers.base import Controller

CONTROLLERS: tuple[Controller, ...] = ()
