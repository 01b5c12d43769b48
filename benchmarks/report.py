"""Figures, and the three ways they are written out: a console table, JSON and markdown."""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
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
    # over several rounds: `value` is the median, `spread` the (min, max) of the rounds
    spread: tuple[float, float] | None = None
    rounds: int = 1


def aggregate(rounds: Sequence[Sequence[Figure]]) -> list[Figure]:
    """One figure per (section, name) from several rounds of the same benchmarks: the
    median as the value, the lowest and highest as the spread, and the target judged on the
    median (a figure without a numeric target is met when most rounds met it). The order is
    the first round's; figures missing from some rounds use the rounds that have them."""
    seen: dict[tuple[str, str], list[Figure]] = {}
    for figures in rounds:
        for fig in figures:
            seen.setdefault((fig.section, fig.name), []).append(fig)
    out = []
    for figs in seen.values():
        values = [f.value for f in figs if not math.isnan(f.value)]
        first = figs[0]
        if not values or len(figs) == 1:
            out.append(first)
            continue
        median = statistics.median(values)
        met = _judge(first.target, median)
        if met is None and first.met is not None:
            met = sum(bool(f.met) for f in figs) * 2 > len(figs)
        details = {**first.details, "rounds": values}
        out.append(
            replace(
                first,
                value=median,
                met=met,
                spread=(min(values), max(values)),
                rounds=len(figs),
                details=details,
            )
        )
    return out


def _judge(target: str, value: float) -> bool | None:
    """`< 20 ms` / `> 2000 req/s` / `<= 35 MiB` / `<= 1.5 x` judged on `value`; None for
    any other target."""
    op, _, rest = target.partition(" ")
    try:
        limit = float(rest.split(" ")[0])
    except ValueError:
        return None
    if math.isnan(value):
        return None
    if op == "<":
        return value < limit
    if op == ">":
        return value > limit
    if op == "<=":
        return value <= limit
    if op == ">=":
        return value >= limit
    return None


def below(section: str, name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
    met = None if math.isnan(value) else value < limit
    return Figure(section, name, value, unit, target=f"< {limit:g} {unit}", met=met, **kw)


def above(section: str, name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
    met = None if math.isnan(value) else value > limit
    return Figure(section, name, value, unit, target=f"> {limit:g} {unit}", met=met, **kw)


def at_most(section: str, name: str, value: float, unit: str, limit: float, **kw: Any) -> Figure:
    target = f"<= {limit:g} {unit}"
    return Figure(section, name, value, unit, target=target, met=_judge(target, value), **kw)


def ratio(
    section: str, name: str, ours: float, floor: float, limit: float | None = None, **kw: Any
) -> Figure:
    """Ours / the floor's, as `x`; held to `<= limit x` when a limit is given."""
    value = ours / floor if floor and not math.isnan(floor) else math.nan
    if limit is None:
        return Figure(section, name, value, "x", **kw)
    target = f"<= {limit:g} x"
    return Figure(section, name, value, "x", target=target, met=_judge(target, value), **kw)


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


def shown(fig: Figure) -> str:
    """The value with its unit, and the spread of the rounds where there were several."""
    text = f"{fmt(fig.value)} {fig.unit}"
    if fig.spread is not None:
        low, high = fig.spread
        text += f" ({fmt(low)}-{fmt(high)}, {fig.rounds} rounds)"
    return text


def verdict(fig: Figure) -> str:
    if fig.met is None:
        return ""
    return "met" if fig.met else "NOT MET"


def table(figures: Sequence[Figure]) -> str:
    rows = [("section", "figure", "value", "target", "")]
    rows += [(f.section, f.name, shown(f), f.target, verdict(f)) for f in figures]
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
        "Values are medians over the rounds, with the lowest and highest in brackets.",
        "",
        "| Section | Figure | Value | Target | Met |",
        "|---|---|---|---|---|",
    ]
    for f in figures:
        name = f.name + (f" ({f.note})" if f.note else "")
        met = {True: "met", False: "**not met**", None: ""}[f.met]
        lines.append(f"| {f.section} | {name} | {shown(f)} | {f.target} | {met} |")
    if notes:
        lines += ["", "## How each figure is measured", ""]
        lines += [f"- {n}" for n in notes]
    return "\n".join(lines) + "\n"


def command_line() -> str:
    return " ".join([".venv/bin/python -m benchmarks", *sys.argv[1:]])
