"""Resource quantities: the grammar, exact values, canonical text and the API's error messages."""

from __future__ import annotations

from decimal import Decimal

import pytest

from minikubelet.core.quantity import ERR_FORMAT, ERR_SUFFIX, canonical, parse_quantity

FORMAT = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)


@pytest.mark.parametrize(
    ("text", "value", "shown"),
    [
        ("128Mi", 134217728, "128Mi"),
        ("1Gi", 2**30, "1Gi"),
        ("1.5Gi", 1610612736, "1536Mi"),
        ("1G", 10**9, "1G"),
        ("1k", 1000, "1k"),
        ("2000", 2000, "2k"),
        ("1500", 1500, "1500"),
        ("500m", Decimal("0.5"), "500m"),
        ("0.5", Decimal("0.5"), "500m"),
        (0.5, Decimal("0.5"), "500m"),
        (".5", Decimal("0.5"), "500m"),
        ("1000m", 1, "1"),
        ("1", 1, "1"),
        (2, 2, "2"),
        ("0", 0, "0"),
        ("1e3", 1000, "1e3"),
        ("1E", 10**18, "1E"),
        ("100u", Decimal("0.0001"), "100u"),
        ("1n", Decimal("1e-9"), "1n"),
        ("0.1n", Decimal("1e-9"), "1n"),
        ("1024", 1024, "1024"),
        ("-1", -1, "-1"),
        ("+1", 1, "1"),
        ("8Ei", 2**63 - 1, "9223372036854775807"),
    ],
    ids=lambda v: repr(v),
)
def test_parses(text: str | int | float, value: int | Decimal, shown: str) -> None:
    quantity = parse_quantity(text)
    assert quantity.value == value
    assert canonical(text) == shown


def test_keeps_the_text_as_written() -> None:
    assert parse_quantity("1.5Gi").text == "1.5Gi"
    assert parse_quantity(0.5).text == "0.5"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", FORMAT),
        ("1GB", FORMAT),
        ("1.2.3", FORMAT),
        ("abc", FORMAT),
        ("1 Gi", FORMAT),
        ("true", FORMAT),
        ("1mi", ERR_SUFFIX),
        ("1e", ERR_SUFFIX),
        ("1k3", ERR_SUFFIX),
        ("1e1000", ERR_SUFFIX),
        ("1" * 600, FORMAT),
    ],
    ids=lambda v: repr(v)[:20],
)
def test_rejects(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=r"^(quantities|unable)") as err:
        parse_quantity(text)
    assert str(err.value) == message


def test_messages_are_the_api_servers() -> None:
    assert ERR_FORMAT == FORMAT
    assert ERR_SUFFIX == "unable to parse quantity's suffix"
