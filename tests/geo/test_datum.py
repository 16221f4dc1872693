"""GCJ-02 <-> WGS-84 against an independent implementation (googollee/eviltransform)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clusteratlas.geo.datum import gcj02_to_wgs84, wgs84_to_gcj02

evil = pytest.importorskip("eviltransform")

POINTS = [(116.404, 39.915), (121.4737, 31.2304), (87.6168, 43.8256), (91.1322, 29.6604),
          (126.6424, 45.7567), (109.5120, 18.2528)]


def test_forward_matches_eviltransform() -> None:
    lon, lat = np.array(POINTS).T
    glon, glat = wgs84_to_gcj02(lon, lat)
    for i, (x, y) in enumerate(POINTS):
        ref_lat, ref_lon = evil.wgs2gcj(y, x)
        assert abs(glon[i] - ref_lon) < 1e-6 and abs(glat[i] - ref_lat) < 1e-6


def test_inverse_matches_eviltransform_exact() -> None:
    lon, lat = np.array(POINTS).T
    wlon, wlat = gcj02_to_wgs84(lon, lat)
    for i, (x, y) in enumerate(POINTS):
        ref_lat, ref_lon = evil.gcj2wgs_exact(y, x)
        assert abs(wlon[i] - ref_lon) < 1e-6 and abs(wlat[i] - ref_lat) < 1e-6


def test_outside_china_unchanged() -> None:
    lon, lat = gcj02_to_wgs84([2.35, 139.9], [48.85, 35.7])
    np.testing.assert_allclose(lon, [2.35, 139.9])
    np.testing.assert_allclose(lat, [48.85, 35.7])


@settings(max_examples=50, deadline=None)
@given(st.floats(75, 134), st.floats(18, 53))
def test_round_trip(lon: float, lat: float) -> None:
    glon, glat = wgs84_to_gcj02(lon, lat)
    wlon, wlat = gcj02_to_wgs84(glon, glat)
    assert abs(float(wlon) - lon) < 1e-8 and abs(float(wlat) - lat) < 1e-8
