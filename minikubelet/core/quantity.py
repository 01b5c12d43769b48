"""Kubernetes resource quantities (`128Mi`, `500m`, `1e3`): parsing and canonical printing.

Owns the `resource.Quantity` grammar of `k8s.io/apimachinery/pkg/api/resource`: what parses,
the exact value (rounded up to nano precision, as the API server does), and the canonical text
the API server serves back (`0.5` -> `500m`, `1536Mi` stays, `2000` -> `2k`). Pure: stdlib only.
"""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, Context, Decimal, localcontext
from enum import Enum

from minikubelet.core.spec import Quantity

_SPLIT_RE = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
ERR_FORMAT = f"quantities must match the regular expression '{_SPLIT_RE}'"
ERR_SUFFIX = "unable to parse quantity's suffix"
_NUMBER_RE = re.compile(r"[0-9]*(\.[0-9]*)?")
_SUFFIX_SHAPE = re.compile(r"[eEinumkKMGTP]*[-+]?[0-9]*")
_NANO = Decimal("1e-9")
_MAX_BINARY = Decimal(2**63 - 1)
# Exact arithmetic for any sane quantity; absurd exponents are refused, not rounded.
_CONTEXT = Context(prec=2000, Emax=10**6, Emin=-(10**6))
_MAX_TEXT = 512


class Format(Enum):
    DECIMAL_SI = "DecimalSI"
    BINARY_SI = "BinarySI"
    DECIMAL_EXPONENT = "DecimalExponent"


_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12}
_DECIMAL_SUFFIXES |= {"P": 15, "E": 18}
_BINARY_SUFFIXES = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL_BY_EXPONENT = {exp: suffix for suffix, exp in _DECIMAL_SUFFIXES.items()}
_BINARY_BY_EXPONENT = {exp: suffix for suffix, exp in _BINARY_SUFFIXES.items()}


def parse_quantity(text: str | int | float) -> Quantity:
    """`resource.ParseQuantity`; ValueError carries the API server's message."""
    value, _ = parse_with_format(text)
    return Quantity(_as_text(text), value)


def canonical(text: str | int | float) -> str:
    """The text the API server serves back for a quantity written as `text`."""
    value, fmt = parse_with_format(text)
    return format_value(value, fmt)


def parse_with_format(text: str | int | float) -> tuple[Decimal, Format]:
    raw = _as_text(text).strip()
    if len(raw) > _MAX_TEXT or not re.fullmatch(_SPLIT_RE, raw):
        raise ValueError(ERR_FORMAT)
    number, suffix = _split(raw)
    base, exponent, fmt = _interpret(suffix)
    with localcontext(_CONTEXT):
        try:
            value = Decimal(number or "0") * Decimal(base) ** exponent
        except ArithmeticError:
            raise ValueError(ERR_FORMAT) from None
        return _round(value, fmt)


def _as_text(text: str | int | float) -> str:
    if isinstance(text, bool):
        return str(text).lower()
    if isinstance(text, float) and text.is_integer() and abs(text) < 1e16:
        return str(int(text))
    return str(text)


def _split(raw: str) -> tuple[str, str]:
    sign = raw[0] if raw[0] in "+-" else ""
    rest = raw[len(sign) :]
    match = _NUMBER_RE.match(rest)
    written = match.group(0) if match else ""
    number = "0" + written if written.startswith(".") else written
    return sign + number, rest[len(written) :]


def _interpret(suffix: str) -> tuple[int, int, Format]:
    if not _SUFFIX_SHAPE.fullmatch(suffix):
        raise ValueError(ERR_FORMAT)
    if suffix in _DECIMAL_SUFFIXES:
        return 10, _DECIMAL_SUFFIXES[suffix], Format.DECIMAL_SI
    if suffix in _BINARY_SUFFIXES:
        return 2, _BINARY_SUFFIXES[suffix], Format.BINARY_SI
    if len(suffix) > 1 and suffix[0] in "eE" and re.fullmatch(r"[-+]?[0-9]{1,3}", suffix[1:]):
        return 10, int(suffix[1:]), Format.DECIMAL_EXPONENT
    raise ValueError(ERR_SUFFIX)


def _round(value: Decimal, fmt: Format) -> tuple[Decimal, Format]:
    """Round away from zero to nano precision; cap BinarySI at int64 (`ParseQuantity`)."""
    magnitude = abs(value)
    if magnitude:
        magnitude = magnitude.quantize(_NANO, rounding=ROUND_CEILING).normalize(_CONTEXT)
    if fmt is Format.BINARY_SI:
        magnitude = min(magnitude, _MAX_BINARY)
        if 0 < magnitude < 1:
            fmt = Format.DECIMAL_SI
    if magnitude == magnitude.to_integral_value():
        magnitude = magnitude.quantize(Decimal(1))
    return (-magnitude if value < 0 else magnitude), fmt


def format_value(value: Decimal, fmt: Format) -> str:
    """`Quantity.String()`: the canonical text of `value` in format `fmt`."""
    if value == 0:
        return "0"
    if fmt is Format.BINARY_SI and (abs(value) < 1024 or value != value.to_integral_value()):
        fmt = Format.DECIMAL_SI
    if fmt is Format.BINARY_SI:
        return _format_binary(int(value))
    mantissa, exponent = _canonical_base10(value)
    if fmt is Format.DECIMAL_SI and exponent in _DECIMAL_BY_EXPONENT:
        return f"{mantissa}{_DECIMAL_BY_EXPONENT[exponent]}"
    if fmt is Format.DECIMAL_SI and exponent > 18:
        return f"{mantissa * 10 ** (exponent - 18)}E"
    return f"{mantissa}e{exponent}" if exponent else str(mantissa)


def _canonical_base10(value: Decimal) -> tuple[int, int]:
    """An integral mantissa and a base-10 exponent that is a multiple of 3 (`AsCanonicalBytes`)."""
    sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits)))
    shift = exponent % 3
    mantissa, exponent = mantissa * 10**shift, exponent - shift
    return (-mantissa if sign else mantissa), exponent


def _format_binary(value: int) -> str:
    mantissa, exponent = abs(value), 0
    while mantissa % 1024 == 0 and exponent < 60:
        mantissa, exponent = mantissa // 1024, exponent + 10
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}{_BINARY_BY_EXPONENT.get(exponent, '')}"
