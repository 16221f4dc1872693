"""locate(): establishments get a current code and coordinates, or are quarantined with a reason."""

from __future__ import annotations

import pandas as pd
import pytest

from clusteratlas.errors import InputError
from clusteratlas.geo import locate, regions


def _frame() -> pd.DataFrame:
    return pd.DataFrame({
        "est_id": ["a", "b", "c", "d", "e", "f", "g"],
        "region_code": ["320904", "320982", None, None, None, "999999", None],
        "address": [None, None, "江苏省盐城市大丰区人民路1号", "朝阳区建国路", "佛学院", None, ""],
        "lon": [120.5, None, None, None, None, None, None],
        "lat": [33.2, None, None, None, None, None, None],
    })


def test_counts_add_up_and_nothing_is_lost() -> None:
    frame = _frame()
    before = frame.copy()
    res = locate(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert len(res.table) + len(res.quarantine) == len(frame)
    assert res.params["accepted"] == 1 and res.params["corrected"] == 2
    assert res.params["quarantined"] == 4
    assert sorted(res.table["est_id"]) == ["a", "b", "c"]
    assert (res.table["region_code"] == "320904").all()


def test_statuses_notes_and_coordinates() -> None:
    t = locate(_frame()).table.set_index("est_id")
    assert t.at["a", "locate_status"] == "accepted" and not t.at["a", "location_approx"]
    assert t.at["a", "lon"] == 120.5  # own coordinates kept
    assert t.at["b", "locate_status"] == "corrected" and "320982" in t.at["b", "locate_note"]
    seat = regions().set_index("region_code").loc["320904"]
    assert t.at["c", "lon"] == seat["lon"] and t.at["c", "location_approx"]


def test_quarantine_reasons() -> None:
    q = locate(_frame()).quarantine.set_index("est_id")["reason"]
    assert q["d"].startswith("address ambiguous") and "110105" in q["d"]
    assert "no known place name" in q["e"]
    assert "not a current or former code" in q["f"]
    assert q["g"] == "address empty"


def test_hint_column_settles_ambiguity() -> None:
    frame = pd.DataFrame({"address": ["朝阳区建国路"], "province": ["北京"]})
    res = locate(frame, hint="province")
    assert res.table["region_code"].tolist() == ["110105"]


def test_bad_input() -> None:
    with pytest.raises(InputError, match="need a 'region_code' or an 'address'"):
        locate(pd.DataFrame({"x": [1]}))
    with pytest.raises(InputError, match="hint column"):
        locate(pd.DataFrame({"address": ["镇沅"]}), hint="prov")
