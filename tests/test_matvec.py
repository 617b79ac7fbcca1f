"""The one-row products (fastbp.matvec) and the view helper they rely on (fastbp._jit.matrix_view)."""
import numba
import numpy as np
import pytest

import fastbp
from fastbp._jit import matrix_view
from fastbp.matvec import MATVEC_MAX, times, times_transposed, use_matvec

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


@numba.njit
def _forward_product(a, W, z):
    times_transposed(a, W, z)


@numba.njit
def _backward_product(d, W, e):
    times(d, W, e)


@numba.njit
def _matrix_view(vector, start, m, n):
    return matrix_view(vector, start, m, n)


@numba.njit
def _use_matvec(b, n_in, n_out):
    return use_matvec(b, n_in, n_out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n_in,n_out", [(1, 1), (3, 5), (16, 32), (33, 7), (64, 10), (130, 3)])
def test_one_row_products_match_numpy(dtype, n_in, n_out):
    rng = np.random.default_rng(n_in * 1000 + n_out)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    a = rng.standard_normal(n_in).astype(dtype)
    d = rng.standard_normal(n_out).astype(dtype)
    z = np.full(n_out, np.nan, dtype)
    e = np.full(n_in, np.nan, dtype)  # outputs are overwritten, not accumulated into
    _forward_product(a, W, z)
    _backward_product(d, W, e)
    W64 = W.astype(np.float64)
    np.testing.assert_allclose(z, W64 @ a.astype(np.float64), **TOL[dtype])
    np.testing.assert_allclose(e, d.astype(np.float64) @ W64, **TOL[dtype])


def test_products_propagate_nan_and_inf():
    W = np.ones((2, 3))
    z = np.zeros(2)
    _forward_product(np.array([1.0, np.nan, 1.0]), W, z)
    assert np.isnan(z).all()
    e = np.zeros(3)
    _backward_product(np.array([np.inf, 1.0]), W, e)
    assert np.isposinf(e).all()


def test_loops_serve_one_row_batches_of_small_layers_only():
    assert _use_matvec(1, 16, 32)
    assert _use_matvec(1, 128, 128)  # exactly MATVEC_MAX weights
    assert MATVEC_MAX == 128 * 128
    assert not _use_matvec(1, 129, 128)
    assert not _use_matvec(2, 16, 32)


def test_one_row_predictions_agree_with_batched_ones():
    """Rows go through the loops alone and through BLAS in a batch: same values to rounding."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        net = fastbp.Network([20, 30, 4], activation="tanh", output="softmax", loss="cross_entropy",
                             dtype=dtype, seed=1)
        X = rng.standard_normal((5, 20))
        batched = net.forward(X)
        one_by_one = np.vstack([net.forward(X[i:i + 1]) for i in range(5)])
        np.testing.assert_allclose(one_by_one, batched, **TOL[dtype])


def test_matrix_view_is_a_reshaped_slice_sharing_memory():
    vector = np.arange(20.0)
    view = _matrix_view(vector, 3, 4, 2)
    np.testing.assert_array_equal(view, vector[3:11].reshape(4, 2))
    assert view.flags.c_contiguous
    view[0, 0] = -1.0
    assert vector[3] == -1.0
    assert _matrix_view(vector, 20, 0, 5).shape == (0, 5)


@pytest.mark.parametrize("start,m,n", [(15, 3, 2), (-1, 1, 1), (0, 21, 1), (0, -1, 2)])
def test_matrix_view_refuses_blocks_outside_the_vector(start, m, n):
    with pytest.raises(IndexError):
        _matrix_view(np.arange(20.0), start, m, n)
