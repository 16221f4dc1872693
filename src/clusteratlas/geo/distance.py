"""Distances: the one place in Cluster Atlas where distances between locations are computed.

* :func:`haversine_km` — great-circle distance on the sphere, vectorised with broadcasting;
* :func:`pairwise_km` — condensed pairwise great-circle distances (order of :func:`scipy.spatial.distance.pdist`);
* :func:`pairwise_planar` — condensed pairwise Euclidean distances of projected/planar x/y;
* :func:`project` — lon/lat to planar kilometres: a spherical Albers equal-area conic fitted to
  China (``"china-albers"``) or an azimuthal equidistant projection about any centre (``"aeqd"``);
* Numba kernels (:func:`gc_km_nb`, :func:`unit_xyz`, :func:`chord_gc_km_nb`, :func:`planar_nb`)
  that other compiled code (K-density, DBSCAN neighbours …) reuses so that every module measures
  distance the same way.

The Earth is a sphere of radius :data:`EARTH_RADIUS_KM` (the IUGG mean radius, 6371.0088 km).
Against the WGS-84 ellipsoid the spherical great-circle distance errs by at most about 0.5 %,
which is far below the precision of establishment geocodes. pyproj is not a dependency: these
projections only serve distance and display work, and their formulas (Snyder 1987) are short.

References
----------
Snyder, J. P. (1987). *Map Projections — A Working Manual*. USGS Professional Paper 1395.
Albers (sphere): eqs. 14-1, 14-2, 14-3, 14-4, 14-5 (p. 100); azimuthal equidistant (sphere):
eqs. 25-2, 22-4, 22-5, 5-3 (pp. 195-196).
"""

from __future__ import annotations

import math
from typing import Literal

import numba
import numpy as np
from numpy.typing import ArrayLike, NDArray

EARTH_RADIUS_KM: float = 6371.0088
"""Mean Earth radius (IUGG), kilometres."""

#: Standard parallels, central meridian and latitude of origin of the China Albers projection
#: (degrees). 25°N and 47°N are the parallels of the Albers conic long used for national maps of
#: China; they divide China's latitude range (18°N–53°N) so that scale error stays within ±2 %.
CHINA_ALBERS = {"lat_1": 25.0, "lat_2": 47.0, "lon_0": 105.0, "lat_0": 0.0}

Crs = Literal["china-albers", "aeqd"]


def _as_float(a: ArrayLike, name: str) -> NDArray[np.float64]:
    arr = np.asarray(a, dtype=np.float64)
    if arr.size and not np.all(np.isfinite(arr)):
        bad = np.flatnonzero(~np.isfinite(arr.ravel()))[:5].tolist()
        raise ValueError(f"{name}: non-finite coordinates at positions {bad}; expected numbers")
    return arr


def _check_lonlat(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> None:
    if lat.size and (np.nanmax(np.abs(lat)) > 90.0):
        raise ValueError(
            f"lat: values outside [-90, 90] (max |lat| = {np.nanmax(np.abs(lat))}); "
            "are longitude and latitude swapped?"
        )
    if lon.size and (np.nanmax(np.abs(lon)) > 360.0):
        raise ValueError(f"lon: values outside [-360, 360] (max |lon| = {np.nanmax(np.abs(lon))})")


def haversine_km(lon1: ArrayLike, lat1: ArrayLike, lon2: ArrayLike, lat2: ArrayLike,
                 radius: float = EARTH_RADIUS_KM) -> NDArray[np.float64]:
    """Great-circle distance in km between (lon1, lat1) and (lon2, lat2), broadcasting.

    Uses the haversine formula ``d = 2 R asin(sqrt(sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)))``,
    which is well conditioned for small distances (unlike the spherical law of cosines).

    Parameters
    ----------
    lon1, lat1, lon2, lat2 : array_like
        Degrees (WGS-84). Shapes broadcast against each other.
    radius : float
        Sphere radius in km.

    Returns
    -------
    numpy.ndarray
        Distances in km, with the broadcast shape.

    Examples
    --------
    >>> round(float(haversine_km(116.4074, 39.9042, 121.4737, 31.2304)), 1)  # Beijing–Shanghai
    1067.3
    """
    lon1a, lat1a = _as_float(lon1, "lon1"), _as_float(lat1, "lat1")
    lon2a, lat2a = _as_float(lon2, "lon2"), _as_float(lat2, "lat2")
    _check_lonlat(lon1a, lat1a)
    _check_lonlat(lon2a, lat2a)
    p1, p2 = np.radians(lat1a), np.radians(lat2a)
    dphi = p2 - p1
    dlmb = np.radians(lon2a - lon1a)
    a = np.sin(dphi / 2.0) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dlmb / 2.0) ** 2
    return 2.0 * radius * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


# ---------------------------------------------------------------------------------------------
# Numba kernels, shared by every compiled module that needs distances.
# ---------------------------------------------------------------------------------------------

def unit_xyz(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
    """Unit vectors (n, 3) of points on the sphere, for fast great-circle work in compiled code.

    The great-circle distance between two points is ``2 R asin(c / 2)`` where ``c`` is the chord
    (Euclidean distance) between their unit vectors: algebraically the haversine formula, since
    ``c² / 4 = sin²(Δφ/2) + cos φ1 cos φ2 sin²(Δλ/2)``.
    """
    lona, lata = _as_float(lon, "lon"), _as_float(lat, "lat")
    _check_lonlat(lona, lata)
    lam, phi = np.radians(lona), np.radians(lata)
    cphi = np.cos(phi)
    return np.ascontiguousarray(np.column_stack([cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)]))


@numba.njit(cache=True, inline="always")
def chord_gc_km_nb(ax: float, ay: float, az: float, bx: float, by: float, bz: float,
                   radius: float) -> float:
    """Great-circle km between two unit vectors (see :func:`unit_xyz`)."""
    dx = ax - bx
    dy = ay - by
    dz = az - bz
    half = 0.5 * math.sqrt(dx * dx + dy * dy + dz * dz)
    if half > 1.0:
        half = 1.0
    return 2.0 * radius * math.asin(half)


@numba.njit(cache=True, inline="always")
def gc_km_nb(lon1: float, lat1: float, lon2: float, lat2: float, radius: float) -> float:
    """Great-circle km between two lon/lat points in degrees (haversine), for compiled loops."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    s1 = math.sin(0.5 * (p2 - p1))
    s2 = math.sin(0.5 * math.radians(lon2 - lon1))
    a = s1 * s1 + math.cos(p1) * math.cos(p2) * s2 * s2
    if a > 1.0:
        a = 1.0
    return 2.0 * radius * math.asin(math.sqrt(a))


@numba.njit(cache=True, inline="always")
def planar_nb(x1: float, y1: float, x2: float, y2: float) -> float:
    """Euclidean distance between two planar points, for compiled loops."""
    dx = x1 - x2
    dy = y1 - y2
    return math.sqrt(dx * dx + dy * dy)


@numba.njit(cache=True)
def _pairwise_gc(xyz: np.ndarray, radius: float) -> np.ndarray:
    n = xyz.shape[0]
    out = np.empty(n * (n - 1) // 2)
    k = 0
    for i in range(n - 1):
        for j in range(i + 1, n):
            out[k] = chord_gc_km_nb(xyz[i, 0], xyz[i, 1], xyz[i, 2],
                                    xyz[j, 0], xyz[j, 1], xyz[j, 2], radius)
            k += 1
    return out


def pairwise_km(lon: ArrayLike, lat: ArrayLike, radius: float = EARTH_RADIUS_KM) -> NDArray[np.float64]:
    """Condensed great-circle distances (km) between all pairs of points, i < j.

    The order is that of :func:`scipy.spatial.distance.pdist` (use ``squareform`` for a matrix).
    Memory is ``n (n - 1) / 2`` floats: fine for tens of thousands of points, not for millions.
    """
    xyz = unit_xyz(lon, lat)
    return _pairwise_gc(xyz, float(radius))


def pairwise_planar(x: ArrayLike, y: ArrayLike) -> NDArray[np.float64]:
    """Condensed Euclidean distances between all pairs of planar points, i < j (pdist order)."""
    from scipy.spatial.distance import pdist

    xa, ya = _as_float(x, "x"), _as_float(y, "y")
    if xa.shape != ya.shape:
        raise ValueError(f"x and y: lengths differ ({xa.shape} vs {ya.shape})")
    return pdist(np.column_stack([xa.ravel(), ya.ravel()]))


def planar_km(x1: ArrayLike, y1: ArrayLike, x2: ArrayLike, y2: ArrayLike) -> NDArray[np.float64]:
    """Euclidean distance between planar points, broadcasting."""
    return np.hypot(_as_float(x1, "x1") - _as_float(x2, "x2"), _as_float(y1, "y1") - _as_float(y2, "y2"))


# ---------------------------------------------------------------------------------------------
# Projections
# ---------------------------------------------------------------------------------------------

def project(lon: ArrayLike, lat: ArrayLike, crs: Crs = "china-albers", *,
            lon_0: float | None = None, lat_0: float | None = None,
            radius: float = EARTH_RADIUS_KM) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project lon/lat (degrees) to planar x/y in kilometres.

    Parameters
    ----------
    lon, lat : array_like
        Degrees (WGS-84, treated as spherical).
    crs : {"china-albers", "aeqd"}
        ``"china-albers"``: Albers equal-area conic on the sphere, standard parallels 25°N and
        47°N, central meridian 105°E, origin latitude 0° (:data:`CHINA_ALBERS`); areas are true,
        distances within about 2 % across China. ``"aeqd"``: azimuthal equidistant about
        (``lon_0``, ``lat_0``) (default: the mean of the points); distances *from the centre*
        are exact great-circle distances.
    lon_0, lat_0 : float, optional
        Centre of the projection (for ``"china-albers"`` they override the central meridian and
        origin latitude).
    radius : float
        Sphere radius in km.

    Returns
    -------
    x_km, y_km : numpy.ndarray
        Easting and northing in km.

    Notes
    -----
    Snyder (1987), Albers for the sphere: ``n = (sin φ1 + sin φ2)/2``, ``C = cos² φ1 + 2n sin φ1``,
    ``ρ = R √(C − 2n sin φ) / n``, ``θ = n (λ − λ0)``, ``x = ρ sin θ``, ``y = ρ0 − ρ cos θ``
    (eqs. 14-1 to 14-5). Azimuthal equidistant for the sphere: ``cos c = sin φ1 sin φ +
    cos φ1 cos φ cos(λ − λ0)``, ``k′ = c / sin c``, ``x = R k′ cos φ sin(λ − λ0)``,
    ``y = R k′ (cos φ1 sin φ − sin φ1 cos φ cos(λ − λ0))`` (eqs. 5-3, 25-2, 22-4, 22-5).
    """
    lona, lata = _as_float(lon, "lon"), _as_float(lat, "lat")
    if lona.shape != lata.shape:
        raise ValueError(f"lon and lat: shapes differ ({lona.shape} vs {lata.shape})")
    _check_lonlat(lona, lata)
    lam, phi = np.radians(lona), np.radians(lata)
    if crs == "china-albers":
        p1, p2 = np.radians(CHINA_ALBERS["lat_1"]), np.radians(CHINA_ALBERS["lat_2"])
        lam0 = np.radians(CHINA_ALBERS["lon_0"] if lon_0 is None else lon_0)
        phi0 = np.radians(CHINA_ALBERS["lat_0"] if lat_0 is None else lat_0)
        n = 0.5 * (np.sin(p1) + np.sin(p2))
        c = np.cos(p1) ** 2 + 2.0 * n * np.sin(p1)
        rho0 = radius * np.sqrt(c - 2.0 * n * np.sin(phi0)) / n
        rho = radius * np.sqrt(c - 2.0 * n * np.sin(phi)) / n
        theta = n * _wrap(lam - lam0)
        return rho * np.sin(theta), rho0 - rho * np.cos(theta)
    if crs == "aeqd":
        lam0 = np.radians(float(np.mean(lona)) if lon_0 is None else lon_0)
        phi1 = np.radians(float(np.mean(lata)) if lat_0 is None else lat_0)
        dl = _wrap(lam - lam0)
        cosc = np.sin(phi1) * np.sin(phi) + np.cos(phi1) * np.cos(phi) * np.cos(dl)
        c = np.arccos(np.clip(cosc, -1.0, 1.0))
        with np.errstate(invalid="ignore", divide="ignore"):
            k = np.where(c > 1e-12, c / np.sin(c), 1.0)
        x = radius * k * np.cos(phi) * np.sin(dl)
        y = radius * k * (np.cos(phi1) * np.sin(phi) - np.sin(phi1) * np.cos(phi) * np.cos(dl))
        return x, y
    raise ValueError(f"crs: expected 'china-albers' or 'aeqd', got {crs!r}")


def _wrap(dlam: NDArray[np.float64]) -> NDArray[np.float64]:
    """Longitude differences wrapped to [-π, π)."""
    return (dlam + np.pi) % (2.0 * np.pi) - np.pi
