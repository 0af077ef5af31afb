"""The operator table validation uses (dig/operator_options.py) is the operators that run."""

from __future__ import annotations

import pytest

from dockerflow import operators
from dockerflow.dig.operator_options import OPERATOR_NAMES, OPERATOR_OPTIONS
from dockerflow.operators import OPERATORS


def test_the_table_names_exactly_the_registered_operators() -> None:
    assert set(OPERATOR_OPTIONS) == set(OPERATORS)
    assert OPERATOR_NAMES == frozenset(OPERATORS)


@pytest.mark.parametrize("name", sorted(OPERATORS))
def test_each_operator_reads_exactly_the_table_options(name: str) -> None:
    operator = OPERATORS[name]
    assert operator.name == name
    assert operator.options == OPERATOR_OPTIONS[name]
    assert isinstance(operator.options, frozenset)


def test_the_operators_package_exports_the_table() -> None:
    assert operators.OPERATOR_NAMES is OPERATOR_NAMES
    assert operators.OPERATOR_OPTIONS is OPERATOR_OPTIONS


def test_the_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        OPERATOR_OPTIONS["nope"] = frozenset()  # type: ignore[index]
