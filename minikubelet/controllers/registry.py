"""The workload controllers the daemon runs (controllers/loop.py), in the order a pass runs
them. Adding a controller is one line here."""

from __future__ import annotations

from minikubelet.controllers import cronjob, job, ttlafterfinished
from minikubelet.controllers.base import Controller

CONTROLLERS: tuple[Controller, ...] = (
    # Job and CronJob: the CronJob controller makes Jobs, the Job controller their pods, the
    # ttl-after-finished controller deletes finished Jobs past their TTL
    cronjob.CRONJOB_CONTROLLER,
    job.JOB_CONTROLLER,
    ttlafterfinished.TTL_CONTROLLER,
)
