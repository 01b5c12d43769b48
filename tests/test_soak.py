"""The soak script's verdict: trends are judged on the floors of its windows, not on whichever
samples happen to come last (those fell on restart bursts and judged a flat run growing)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

SCRIPT = Path(__file__).parent.parent / "scripts" / "soak.py"


def soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def samples(rss: list[float], **fixed: float) -> list[dict[str, Any]]:
    base = {"fds": 40, "tasks": 300, "threads": 4, "zombies": 0} | fixed
    return [{"rss_mb": value, **base} for value in rss]


def test_a_flat_run_whose_last_samples_fall_on_bursts_is_flat() -> None:
    s = soak()
    run = samples([60, 61, 60, 62, 60, 61, 60, 61, 60, 61, 75, 80])
    run[-1]["fds"] = run[-2]["fds"] = 120  # restarts in progress at the last two samples
    grew = s.growth(run, 1)
    assert all(grew[key] <= limit for key, limit in s.LIMITS.items()), grew


def test_a_rising_floor_is_growing() -> None:
    s = soak()
    grew = s.growth(samples([60 + 3 * i for i in range(12)]), 1)
    assert grew["rss_mb"] > s.LIMITS["rss_mb"]
