"""Resource lists (`{"cpu": "500m", "memory": "1Gi"}`) as the quota and limit code handles
them: exact values, sums that keep the first operand's format, and Go's `Quantity.String()`
(apimachinery pkg/api/resource, pkg/quota/v1/resources.go Add, Mask, LessThanOrEqual). Pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from minikubelet.core.quantity import Format, format_value, parse_with_format

Parsed = tuple[Decimal, Format]


def parse(value: Any) -> Parsed | None:
    """A quantity's exact value and format, None for one that does not parse."""
    try:
        return parse_with_format(value)
    except (ValueError, TypeError):
        return None


def parse_list(items: Any) -> dict[str, Parsed]:
    """The quantities of a resource list that parse (validation refuses the others)."""
    if not isinstance(items, Mapping):
        return {}
    parsed = {str(k): parse(v) for k, v in items.items()}
    return {k: v for k, v in parsed.items() if v is not None}


def text(quantity: Parsed) -> str:
    return format_value(*quantity)


def add(a: Parsed | None, b: Parsed) -> Parsed:
    """`Quantity.Add`: the sum, in the first operand's format."""
    return b if a is None else (a[0] + b[0], a[1])


def milli(quantity: Parsed) -> int:
    """`Quantity.MilliValue()`: rounded up."""
    return math.ceil(quantity[0] * 1000)


def pretty(items: Mapping[str, Parsed]) -> str:
    """resource_access prettyPrint: `a=1,b=2`, sorted by name."""
    return ",".join(f"{k}={text(items[k])}" for k in sorted(items))
