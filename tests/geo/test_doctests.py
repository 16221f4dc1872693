"""The docstring examples of the gazetteer modules run and give what they show."""

from __future__ import annotations

import doctest

import pytest
from hypothesis import given
from hypothesis import strategies as st

import clusteratlas.geo as geo
from clusteratlas.geo import citysize, cn


@pytest.mark.parametrize("module", [geo, cn, citysize])
def test_docstring_examples(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)  # type: ignore[arg-type]
    assert result.attempted > 0 and result.failed == 0


@given(st.text(alphabet="江苏大丰盐城镇沅彝族哈尼自治县市区旗州省", min_size=1, max_size=12))
def test_short_forms_are_shorter_prefixes(name: str) -> None:
    for short in cn.short_forms(name):
        assert len(short) >= 2 and short != name
        stem = short[:-1] if short[-1] in "县旗州" and not name.startswith(short) else short
        assert name.startswith(stem)
