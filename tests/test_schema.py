import pandas as pd
import pytest

from clusteratlas import schema


@pytest.mark.parametrize("name", sorted(schema.TABLES))
def test_every_table_has_its_key_among_required_columns(name: str) -> None:
    spec = schema.table(name)
    assert set(spec.key) <= set(spec.required)
    assert len(set(spec.names)) == len(spec.names), "duplicate column names"


def test_empty_frame_has_declared_dtypes() -> None:
    frame = schema.ESTABLISHMENTS.empty_frame()
    assert list(frame.columns) == schema.ESTABLISHMENTS.names
    assert frame["employment"].dtype == pd.Float64Dtype()
    assert frame["year"].dtype == pd.Int64Dtype()


def test_unknown_table_is_a_clear_error() -> None:
    with pytest.raises(KeyError, match="known tables"):
        schema.table("firms")
