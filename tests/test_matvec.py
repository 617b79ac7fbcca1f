"""The one-row products (fastbp.matvec) and the view helpers they rely on (fastbp._jit.view_function)."""
import numba
import numpy as np
import pytest

import fastbp
from fastbp._jit import matrix_view
from fastbp.layout import region, weight_view
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


@numba.njit(_nrt=False)  # as fastbp's kernels are compiled (fastbp._jit)
def _views_without_runtime(buffer, capacity, row_offset, b, n, layers, l):
    block = region(buffer, capacity, row_offset, b, n)
    W = weight_view(buffer, layers, l)
    return block[b - 1, n - 1] + W[0, 0]


def test_view_functions_agree_in_python_and_in_runtime_free_kernels():
    buffer = np.arange(40.0)
    layers = np.zeros((1, 7), dtype=np.int64)
    layers[0, :3] = (3, 2, 30)  # n_in, n_out, W offset
    np.testing.assert_array_equal(region(buffer, 4, 2, 3, 5), buffer[8:23].reshape(3, 5))
    np.testing.assert_array_equal(weight_view(buffer, layers, 0), buffer[30:36].reshape(2, 3))
    assert _views_without_runtime(buffer, 4, 2, 3, 5, layers, 0) == 22.0 + 30.0


@pytest.mark.parametrize("row_offset,b,n", [(9, 1, 5), (0, 41, 1), (-1, 1, 1)])
def test_view_functions_refuse_blocks_outside_the_buffer(row_offset, b, n):
    buffer = np.arange(40.0)
    layers = np.zeros((1, 7), dtype=np.int64)
    layers[0, :3] = (3, 2, 0)
    with pytest.raises(IndexError):
        region(buffer, 4, row_offset, b, n)
    with pytest.raises(IndexError):
        _views_without_runtime(buffer, 4, row_offset, b, n, layers, 0)
