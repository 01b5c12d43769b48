"""`$(VAR)` expansion, as Kubernetes' expansion package does it."""

import pytest

from minikubelet.core.expand import expand

ENV = {"VAR_A": "A", "VAR_B": "B", "EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("$(VAR_A)", "A", id="whole"),
        pytest.param("___$(VAR_B)___", "___B___", id="inside"),
        pytest.param("$(VAR_A)-$(VAR_B)", "A-B", id="two"),
        pytest.param("$(UNDEFINED)", "$(UNDEFINED)", id="undefined-kept"),
        pytest.param("$$(VAR_A)", "$(VAR_A)", id="escaped"),
        pytest.param("$$$(VAR_A)", "$A", id="escape-then-var"),
        pytest.param("$$", "$", id="dollar-dollar"),
        pytest.param("$(VAR_A", "$(VAR_A", id="unterminated"),
        pytest.param("$VAR_A", "$VAR_A", id="shell-style-untouched"),
        pytest.param("trailing $", "trailing $", id="trailing-dollar"),
        pytest.param("$()", "$()", id="empty-name"),
        pytest.param("x$(EMPTY)y", "xy", id="empty-value"),
    ],
)
def test_expand(text: str, expected: str) -> None:
    assert expand(text, ENV) == expected
