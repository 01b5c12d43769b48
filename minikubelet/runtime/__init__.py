"""Processes: spawning containers in their own session and process group, environment, CRI
logs, cgroups, the daemon's metrics registry and the watchdog that outlives the daemon."""
