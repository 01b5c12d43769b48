"""The workload controllers the daemon runs (controllers/loop.py), in the order a pass runs
them. Adding a controller is one line here."""

from __future__ import annotations

from minikubelet.controllers import cronjob, job
from minikubelet.controllers.base import Controller

CONTROLLERS: tuple[Controller, ...] = (
    cronjob.CRONJOB_CONTROLLER,
    job.JOB_CONTROLLER,
    job.TTL_CONTROLLER,  # Job, CronJob
)
