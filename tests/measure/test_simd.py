"""The vector bin update against the scalar one it replaces."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from numba.core.errors import TypingError

from clusteratlas.measure import _kdensity_kernels as kern
from clusteratlas.measure._simd import add_row4


@numba.njit
def _scatter(mom, rows, w, u, vector):
    for j in range(rows.shape[0]):
        if vector:
            kern.add_moments4(mom, rows[j], w[j], u[j])
        else:
            kern.add_moments(mom, rows[j], w[j], u[j])


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_add_moments4_equals_scalar_update(dtype: type) -> None:
    rng = np.random.default_rng(7)
    nb = 50
    # repeated rows back to back: a vector store must be seen by the next row's load
    rows = np.concatenate([rng.integers(0, nb + 8, 5000), np.full(100, 3)]).astype(dtype)
    w = rng.random(rows.size) * 3.0
    u = rng.random(rows.size) - 0.5
    vec = kern.moment_histogram(nb)
    ref = np.zeros((nb + 8, 3))
    _scatter(vec, rows, w, u, True)
    _scatter(ref, rows, w, u, False)
    assert vec.shape == (nb + 8, 4)
    np.testing.assert_allclose(vec[:, :3], ref, rtol=1e-13, atol=1e-12)
    assert np.all(vec[:, 3] == 0.0)
    # hand-worked: one bin, two pairs
    one = np.zeros((2, 4))
    _scatter(one, np.array([1, 1]), np.array([2.0, 1.0]), np.array([0.5, -1.0]), True)
    assert one[1].tolist() == [3.0, 2.0 * 0.5 - 1.0, 2.0 * 0.25 + 1.0, 0.0]
    assert one[0].tolist() == [0.0, 0.0, 0.0, 0.0]


def test_add_row4_refuses_a_strided_array() -> None:
    @numba.njit
    def bad(m):
        add_row4(m, 0, 1.0, 1.0, 1.0)

    with pytest.raises(TypingError):
        bad(np.zeros((4, 8))[:, ::2])
