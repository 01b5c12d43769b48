"""Figures, and the three ways they are written out: a console table, JSON and markdown."""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured number. `target` is the issue's wording (`< 20 ms`); `met` is None when
    the figure has no target."""

    section: str
    name: str
    value: float
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)


def below(section: str, name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
    met = None if math.isnan(value) else value < limit
    return Figure(section, name, value, unit, target=f"< {limit:g} {unit}", met=met, **kw)


def above(section: str, name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
    met = None if math.isnan(value) else value > limit
    return Figure(section, name, value, unit, target=f"> {limit:g} {unit}", met=met, **kw)


def machine() -> dict[str, Any]:
    cpu_model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cores": os.cpu_count(),
        "cpu": cpu_model,
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def fmt(value: float) -> str:
    if math.isnan(value):
        return "n/a"
    if value == 0 or abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}" if abs(value) < 1 else f"{value:.2f}"


def verdict(fig: Figure) -> str:
    if fig.met is None:
        return ""
    return "met" if fig.met else "NOT MET"


def table(figures: Sequence[Figure]) -> str:
    rows = [("section", "figure", "value", "target", "")]
    rows += [(f.section, f.name, f"{fmt(f.value)} {f.unit}", f.target, verdict(f)) for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def to_json(figures: Sequence[Figure], info: dict[str, Any]) -> str:
    body = {"machine": info, "figures": [_jsonable(asdict(f)) for f in figures]}
    return json.dumps(body, indent=2) + "\n"


def _jsonable(value: Any) -> Any:
    """NaN is not JSON: a missing figure is written as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def to_markdown(
    figures: Sequence[Figure], info: dict[str, Any], command: str, notes: Sequence[str]
) -> str:
    lines = [
        "# minikubelet benchmark results",
        "",
        f"- Machine: {info['cores']} cores ({info['cpu'] or 'unknown CPU'}), "
        f"{info['memory_gib']} GiB memory, {info['platform']}",
        f"- Python {info['python']}; run on {info['date']}",
        f"- Reproduce: `{command}`",
        "",
        "| Section | Figure | Value | Target | Met |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        name = f.name + (f" ({f.note})" if f.note else "")
        met = {True: "met", False: "**not met**", None: ""}[f.met]
        lines.append(f"| {f.section} | {name} | {fmt(f.value)} {f.unit} | {f.target} | {met} |")
    if notes:
        lines += ["", "## How each figure is measured", ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def command_line() -> str:
    return " ".join([".venv/bin/python -m benchmarks", *sys.argv[1:]])
