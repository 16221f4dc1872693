"""Distances: known great-circle values, scikit-learn's haversine, projections' defining properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import pdist, squareform
from sklearn.metrics.pairwise import haversine_distances

from clusteratlas.geo.distance import (
    EARTH_RADIUS_KM,
    chord_gc_km_nb,
    gc_km_nb,
    haversine_km,
    pairwise_km,
    pairwise_planar,
    planar_km,
    project,
    unit_xyz,
)

BEIJING = (116.4074, 39.9042)
SHANGHAI = (121.4737, 31.2304)


def test_beijing_shanghai_known_distance() -> None:
    # Great-circle distance Beijing (Tiananmen area) – Shanghai (People's Square) is about 1,067 km
    # (spherical Earth; e.g. the Movable Type "lat/long distance" calculator gives 1067 km).
    d = float(haversine_km(*BEIJING, *SHANGHAI))
    assert d == pytest.approx(1067.3, abs=0.5)
    # symmetric, zero on the diagonal
    assert float(haversine_km(*SHANGHAI, *BEIJING)) == d
    assert float(haversine_km(*BEIJING, *BEIJING)) == 0.0


def test_quarter_meridian_and_antipodes() -> None:
    # Equator to pole along a meridian is a quarter of the circumference; antipodes are half.
    assert float(haversine_km(0, 0, 0, 90)) == pytest.approx(np.pi / 2 * EARTH_RADIUS_KM, rel=1e-12)
    assert float(haversine_km(10, 20, -170, -20)) == pytest.approx(np.pi * EARTH_RADIUS_KM, rel=1e-9)


def test_matches_sklearn_haversine() -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(73, 135, 60)
    lat = rng.uniform(18, 53, 60)
    ref = haversine_distances(np.radians(np.column_stack([lat, lon]))) * EARTH_RADIUS_KM
    ours = haversine_km(lon[:, None], lat[:, None], lon[None, :], lat[None, :])
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(squareform(pairwise_km(lon, lat)), ref, rtol=1e-10, atol=1e-9)


def test_numba_kernels_agree_with_numpy() -> None:
    rng = np.random.default_rng(4)
    lon = rng.uniform(-180, 180, 50)
    lat = rng.uniform(-89, 89, 50)
    xyz = unit_xyz(lon, lat)
    ref = haversine_km(lon[:-1], lat[:-1], lon[1:], lat[1:])
    a = [gc_km_nb(lon[i], lat[i], lon[i + 1], lat[i + 1], EARTH_RADIUS_KM) for i in range(49)]
    b = [chord_gc_km_nb(*xyz[i], *xyz[i + 1], EARTH_RADIUS_KM) for i in range(49)]
    np.testing.assert_allclose(a, ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(b, ref, rtol=1e-10, atol=1e-9)


def test_planar() -> None:
    x = np.array([0.0, 3.0, 0.0])
    y = np.array([0.0, 4.0, 1.0])
    np.testing.assert_allclose(pairwise_planar(x, y), pdist(np.column_stack([x, y])))
    assert pairwise_planar(x, y)[0] == 5.0
    assert float(planar_km(0, 0, 3, 4)) == 5.0


def test_bad_coordinates_are_named() -> None:
    with pytest.raises(ValueError, match="lat"):
        haversine_km(0, 95, 0, 0)
    with pytest.raises(ValueError, match="non-finite"):
        haversine_km(np.nan, 0, 0, 0)
    with pytest.raises(ValueError, match="crs"):
        project([100], [30], crs="mercator")  # type: ignore[arg-type]


def test_aeqd_distances_from_centre_are_exact() -> None:
    rng = np.random.default_rng(5)
    lon = rng.uniform(100, 125, 40)
    lat = rng.uniform(20, 45, 40)
    x, y = project(lon, lat, "aeqd", lon_0=112.0, lat_0=32.0)
    np.testing.assert_allclose(np.hypot(x, y), haversine_km(112.0, 32.0, lon, lat), rtol=1e-10)


def test_china_albers_is_equal_area_and_close_in_distance() -> None:
    # Equal area: the Jacobian determinant of (x, y) w.r.t. (λ, φ) equals R² cos φ.
    lon, lat, eps = np.array([80.0, 105.0, 125.0]), np.array([20.0, 35.0, 50.0]), 1e-5
    x0, y0 = project(lon, lat)
    x1, y1 = project(lon + eps, lat)
    x2, y2 = project(lon, lat + eps)
    e = np.radians(eps)
    jac = ((x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)) / e**2
    np.testing.assert_allclose(np.abs(jac), EARTH_RADIUS_KM**2 * np.cos(np.radians(lat)), rtol=1e-4)
    # Beijing–Shanghai in the projection is within 2 % of the great-circle distance.
    xb, yb = project(*BEIJING)
    xs, ys = project(*SHANGHAI)
    assert float(np.hypot(xb - xs, yb - ys)) == pytest.approx(1067.3, rel=0.02)
    # central meridian maps to x = 0
    assert float(project(105.0, 30.0)[0]) == pytest.approx(0.0, abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.floats(-180, 180), st.floats(-89, 89), st.floats(-180, 180), st.floats(-89, 89),
       st.floats(-180, 180), st.floats(-89, 89))
def test_triangle_inequality(lo1: float, la1: float, lo2: float, la2: float, lo3: float, la3: float) -> None:
    d12 = float(haversine_km(lo1, la1, lo2, la2))
    d23 = float(haversine_km(lo2, la2, lo3, la3))
    d13 = float(haversine_km(lo1, la1, lo3, la3))
    assert d13 <= d12 + d23 + 1e-6
    assert 0.0 <= d13 <= np.pi * EARTH_RADIUS_KM + 1e-6


def test_docstring_examples() -> None:
    import doctest

    import clusteratlas.geo.distance as distance

    result = doctest.testmod(distance)
    assert result.attempted > 0 and result.failed == 0
