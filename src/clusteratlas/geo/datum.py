"""Datum conversion between WGS-84 and GCJ-02 (the obfuscated datum of Chinese web maps).

Points taken from Amap (高德), Tencent or other Chinese map services are in GCJ-02 ("Mars
coordinates"), shifted by up to several hundred metres from WGS-84. The shift is a published,
deterministic function of the WGS-84 position on the Krasovsky 1940 ellipsoid; it has no closed
inverse, so :func:`gcj02_to_wgs84` inverts it by fixed-point iteration.

References
----------
The forward formula is the one reverse-engineered from the Chinese map SDKs and published in many
open implementations, e.g. googollee/eviltransform (``wgs2gcj``) and wandergis/coordTransform
(``wgs84togcj02``). Outside mainland China (the usual rough bounding box) no shift is applied,
as those implementations do.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

# Krasovsky 1940 semi-major axis and first eccentricity squared, as used by the GCJ-02 formula.
_A = 6378245.0
_EE = 0.00669342162296594323


def _d_lat(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    return ret


def _d_lon(x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.float64]:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
    ret += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    ret += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    ret += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    return ret


def _outside_china(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.bool_]:
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _offset(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    dlat = _d_lat(lon - 105.0, lat - 35.0)
    dlon = _d_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    outside = _outside_china(lon, lat)
    return np.where(outside, 0.0, dlon), np.where(outside, 0.0, dlat)


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Shift WGS-84 longitude/latitude (degrees) to GCJ-02. Vectorised over arrays."""
    lon_a = np.asarray(lon, dtype=np.float64)
    lat_a = np.asarray(lat, dtype=np.float64)
    dlon, dlat = _offset(lon_a, lat_a)
    return lon_a + dlon, lat_a + dlat


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike, tol: float = 1e-9,
                   max_iter: int = 30) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Convert GCJ-02 longitude/latitude (degrees) to WGS-84 by inverting the forward shift.

    Fixed-point iteration ``w <- w - (f(w) - g)`` from ``w = g``; the shift varies slowly, so it
    converges to below ``tol`` degrees (about 0.1 mm at 1e-9) in a handful of steps.
    """
    g_lon = np.asarray(lon, dtype=np.float64)
    g_lat = np.asarray(lat, dtype=np.float64)
    w_lon, w_lat = g_lon.copy(), g_lat.copy()
    for _ in range(max_iter):
        f_lon, f_lat = wgs84_to_gcj02(w_lon, w_lat)
        e_lon, e_lat = f_lon - g_lon, f_lat - g_lat
        w_lon = w_lon - e_lon
        w_lat = w_lat - e_lat
        if np.nanmax(np.abs(np.concatenate([np.atleast_1d(e_lon), np.atleast_1d(e_lat)])),
                     initial=0.0) < tol:
            break
    return w_lon, w_lat
