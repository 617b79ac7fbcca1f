"""The kernels' matrix product (fastbp.blas.gemm) and the choice of BLAS library."""
import ctypes.util
import os
import subprocess
import sys

import numba
import numpy as np
import pytest

import fastbp
from fastbp import blas
from fastbp.blas import gemm

TOL = {np.float64: dict(rtol=1e-12, atol=1e-12), np.float32: dict(rtol=1e-5, atol=1e-5)}


def _mkl_available():
    try:
        blas._load_mkl()
    except ImportError:
        return False
    return True


HAS_MKL = _mkl_available()
LIBRARIES = ["openblas"] + (["mkl"] if HAS_MKL else [])
needs_mkl = pytest.mark.skipif(not HAS_MKL, reason="the optional mkl package is not installed")
# Under NUMBA_DISABLE_JIT products are NumPy's whatever the choice.
needs_compiled_mkl = pytest.mark.skipif(not HAS_MKL or numba.config.DISABLE_JIT,
                                        reason="needs the optional mkl package and compiled kernels")


@pytest.fixture
def library(request):
    """Run the test with ``request.param`` chosen, and OpenBLAS again afterwards."""
    blas.use(request.param)
    yield request.param
    blas.use("openblas")


@numba.njit
def _gemm(A, transpose_a, B, transpose_b, C):
    gemm(A, transpose_a, B, transpose_b, C)


def _operands(rng, dtype, m, n, k, transpose_a, transpose_b):
    A = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
    B = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
    return A, B


def _reference(A, transpose_a, B, transpose_b):
    a = (A.T if transpose_a else A).astype(np.float64)
    b = (B.T if transpose_b else B).astype(np.float64)
    return a @ b


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("m,n,k", [(1, 1, 1), (3, 5, 7), (1, 9, 4), (6, 1, 3), (128, 128, 128)])
def test_products_match_numpy(library, dtype, transpose_a, transpose_b, m, n, k):
    # (128, 128, 128) is above OTHER_MIN_MACS: with MKL chosen it goes to MKL.
    rng = np.random.default_rng(m * 10000 + n * 100 + k)
    A, B = _operands(rng, dtype, m, n, k, transpose_a, transpose_b)
    C = np.full((m, n), np.nan, dtype)  # overwritten, not accumulated into
    _gemm(A, transpose_a, B, transpose_b, C)
    np.testing.assert_allclose(C, _reference(A, transpose_a, B, transpose_b), **TOL[dtype])


@pytest.mark.parametrize("library", LIBRARIES, indirect=True)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_of_columns_and_rows_are_passed_without_copies(library, dtype):
    # The weight gradient's product: columns j0:j1 of δ, transposed, times
    # the activations, into rows j0:j1 of the gradient.  Nothing else moves.
    rng = np.random.default_rng(1)
    D = rng.standard_normal((130, 300)).astype(dtype)
    A = rng.standard_normal((130, 40)).astype(dtype)
    G = np.full((300, 40), 7.0, dtype)
    _gemm(D[:, 100:250], True, A, False, G[100:250])
    np.testing.assert_allclose(G[100:250], _reference(D[:, 100:250], True, A, False), **TOL[dtype])
    assert (G[:100] == 7.0).all() and (G[250:] == 7.0).all()
    # A block of columns as the output: row stride larger than its width.
    Z = np.full((130, 300), 7.0, dtype)
    W = rng.standard_normal((50, 40)).astype(dtype)
    _gemm(A, False, W, True, Z[:, 10:60])
    np.testing.assert_allclose(Z[:, 10:60], _reference(A, False, W, True), **TOL[dtype])
    assert (Z[:, :10] == 7.0).all() and (Z[:, 60:] == 7.0).all()


def test_an_empty_inner_dimension_gives_zeros():
    C = np.full((3, 4), np.nan)
    _gemm(np.zeros((3, 0)), False, np.zeros((0, 4)), False, C)
    assert (C == 0).all()
    _gemm(np.zeros((0, 2)), False, np.zeros((2, 4)), False, C[:0])  # no rows: nothing to do


@pytest.mark.parametrize("call", [_gemm, gemm], ids=["jitted", "python"])
def test_shapes_that_do_not_fit_are_refused(call):
    A, B = np.ones((3, 4)), np.ones((4, 5))
    with pytest.raises(ValueError, match="shapes do not fit"):
        call(A, False, B, False, np.zeros((3, 4)))
    with pytest.raises(ValueError, match="shapes do not fit"):
        call(A, True, B, False, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="shapes do not fit"):
        call(A, False, B, True, np.zeros((3, 5)))


@pytest.mark.parametrize("call", [_gemm, gemm], ids=["jitted", "python"])
def test_rows_with_gaps_are_refused(call):
    A = np.ones((3, 8))
    with pytest.raises(ValueError, match="not contiguous"):
        call(A[:, ::2], False, np.ones((4, 5)), False, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="not contiguous"):
        call(np.ones((3, 4)), False, np.ones((4, 5)), False, np.zeros((3, 10))[:, ::2])


def test_nan_and_inf_propagate():
    C = np.zeros((2, 2))
    _gemm(np.array([[np.nan, 1.0], [1.0, 1.0]]), False, np.ones((2, 2)), False, C)
    assert np.isnan(C[0]).all() and np.isfinite(C[1]).all()


def test_library_choice_is_validated_and_reported():
    assert blas.current() == "openblas" and blas.min_macs() == blas.OTHER_MIN_MACS
    with pytest.raises(ValueError, match="BLAS must be one of"):
        blas.use("atlas")
    for bad in (-1, 2**63, 1.5, True, "1"):
        with pytest.raises(ValueError, match="min_macs must be a non-negative int"):
            blas.use("openblas", min_macs=bad)
    assert blas.current() == "openblas"


def test_missing_mkl_is_reported_with_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setitem(blas._chosen, "library", None)  # as if MKL had never been loaded
    monkeypatch.setattr(blas.sys, "prefix", str(tmp_path))
    monkeypatch.setattr(blas.site, "getuserbase", lambda: str(tmp_path))
    monkeypatch.setattr(ctypes.util, "find_library", lambda name: None)
    with pytest.raises(ImportError, match=r'pip install "fastbp\[mkl\]"'):
        blas.use("mkl")
    assert blas.current() == "openblas"


@needs_compiled_mkl
def test_small_products_stay_with_openblas_when_mkl_is_chosen():
    # Below OTHER_MIN_MACS MKL was slower, so those products keep OpenBLAS's
    # bits; above it MKL's (another summation order) are used.
    assert 8 * 64 * 784 < blas.OTHER_MIN_MACS <= 64 * 128 * 784
    for m, n, mkl_used in [(8, 64, False), (64, 128, True)]:
        A, B = _operands(np.random.default_rng(m), np.float32, m, n, 784, False, True)
        results = {}
        for library in ("openblas", "mkl"):
            blas.use(library)
            try:
                results[library] = np.empty((m, n), np.float32)
                _gemm(A, False, B, True, results[library])
            finally:
                blas.use("openblas")
        assert np.array_equal(results["openblas"], results["mkl"]) != mkl_used
        np.testing.assert_allclose(results["mkl"], results["openblas"], rtol=1e-4, atol=1e-4)
    # min_macs=0: every product goes to MKL.
    A, B = _operands(np.random.default_rng(8), np.float32, 8, 64, 784, False, True)
    C_openblas, C_mkl = np.empty((8, 64), np.float32), np.empty((8, 64), np.float32)
    _gemm(A, False, B, True, C_openblas)
    blas.use("mkl", min_macs=0)
    try:
        assert blas.min_macs() == 0
        _gemm(A, False, B, True, C_mkl)
    finally:
        blas.use("openblas")
    assert blas.min_macs() == blas.OTHER_MIN_MACS
    assert not np.array_equal(C_openblas, C_mkl)


@needs_compiled_mkl
def test_training_with_mkl_matches_openblas_and_ignores_the_thread_count():
    # 784-128-10 at batch 64: every large product goes to MKL.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((256, 784)).astype(np.float32)
    y = rng.integers(0, 10, 256)

    def fit(library, n_threads):
        blas.use(library)
        try:
            net = fastbp.Network([784, 128, 10], activation="relu", output="softmax", loss="cross_entropy",
                                 dtype=np.float32, seed=0)
            net.fit(X, y, epochs=2, batch_size=64, optimizer=fastbp.SGD(lr=0.05), n_threads=n_threads)
            return net.parameters.copy()
        finally:
            blas.use("openblas")

    mkl_one, mkl_all, openblas = fit("mkl", 1), fit("mkl", None), fit("openblas", None)
    assert np.array_equal(mkl_one, mkl_all)
    assert not np.array_equal(mkl_all, openblas)  # MKL did run
    np.testing.assert_allclose(mkl_all, openblas, rtol=1e-3, atol=1e-4)


@needs_mkl
def test_environment_variable_chooses_mkl_at_import():
    code = "import fastbp.blas as b; print(b.current())"
    out = subprocess.run([sys.executable, "-c", code], env=dict(os.environ, FASTBP_BLAS="mkl"),
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "mkl"


@pytest.fixture
def small_kernels():
    """gemm splits as on a SkylakeX-class OpenBLAS; the detected setting comes back afterwards."""
    before = blas.openblas_small_limit()
    blas.set_openblas_small_limit("SkylakeX")
    yield
    blas._table[blas._SMALL_MACS] = before


@numba.njit
def _split_rows(m, n, k, small_macs, other_library, other_min_macs):
    return blas._small_rows(m, n, k, small_macs, other_library, other_min_macs)


def test_products_just_over_openblas_small_limit_are_split_in_rows_of_eight():
    small = blas.OPENBLAS_SMALL_MACS
    assert _split_rows(16, 128, 784, small, 0, 0) == 8  # 1.6e6: two pieces of 8 rows (8.0e5 each)
    assert _split_rows(16, 784, 128, small, 0, 0) == 8
    assert _split_rows(128, 784, 16, small, 0, 0) == 72  # 79 rows fit, in multiples of 8
    assert _split_rows(8, 128, 784, small, 0, 0) == 8  # small already: whole
    assert _split_rows(64, 128, 784, small, 0, 0) == 64  # 6.4e6: the packed path wins, whole
    assert _split_rows(3, 1024, 400, small, 0, 0) == 3  # pieces would be under 8 rows: whole
    assert _split_rows(16, 128, 784, 0, 0, 0) == 16  # no small kernels known: whole
    # A product the other library (MKL) serves is not split; one under its min_macs is.
    assert _split_rows(16, 128, 784, small, 1, 1 << 20) == 16
    assert _split_rows(16, 128, 784, small, 1, 1 << 30) == 8


def test_openblas_core_type_decides_the_split():
    before = blas.openblas_small_limit()
    try:
        for core, limit in [("SkylakeX", blas.OPENBLAS_SMALL_MACS), ("SapphireRapids", blas.OPENBLAS_SMALL_MACS),
                            ("Haswell", 0), ("Zen", 0), (None, 0)]:
            blas.set_openblas_small_limit(core)
            assert blas.openblas_small_limit() == limit, core
    finally:
        blas._table[blas._SMALL_MACS] = before


def test_the_split_follows_scipys_openblas_once_fastbp_runs():
    from threadpoolctl import threadpool_info

    with fastbp.threads(1):
        pass
    cores = {info.get("architecture") for info in threadpool_info()
             if info["internal_api"] == "openblas" and "scipy" in info["filepath"]}
    if cores & {"SkylakeX", "Cooperlake", "SapphireRapids"}:
        assert blas.openblas_small_limit() == blas.OPENBLAS_SMALL_MACS
    elif cores:
        assert blas.openblas_small_limit() == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("transpose_a", [False, True])
@pytest.mark.parametrize("transpose_b", [False, True])
@pytest.mark.parametrize("m,n,k", [(16, 128, 784), (21, 784, 100), (100, 200, 80)])
def test_split_products_match_numpy(small_kernels, dtype, transpose_a, transpose_b, m, n, k):
    assert blas.OPENBLAS_SMALL_MACS < m * n * k <= 2 * blas.OPENBLAS_SMALL_MACS  # really split
    rng = np.random.default_rng(m + n + k)
    A, B = _operands(rng, dtype, m, n, k, transpose_a, transpose_b)
    C = np.full((m, n), np.nan, dtype)
    _gemm(A, transpose_a, B, transpose_b, C)
    np.testing.assert_allclose(C, _reference(A, transpose_a, B, transpose_b), **_tol(dtype, k))
    # float32 products are split (the small kernels' bits differ from the packed path's, here and
    # there, in the last place); float64 ones stay whole: the same bits as without the split.
    blas._table[blas._SMALL_MACS] = 0
    whole = np.full((m, n), np.nan, dtype)
    _gemm(A, transpose_a, B, transpose_b, whole)
    if dtype == np.float64:
        np.testing.assert_array_equal(C, whole)


def _tol(dtype, k):
    """Sums of k products of standard normals: float32 rounding grows with k."""
    return TOL[dtype] if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6 * k)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_split_products_of_blocks_touch_nothing_else(small_kernels, dtype):
    # Blocks with row strides larger than their widths, transposed or not.
    rng = np.random.default_rng(2)
    D = rng.standard_normal((20, 300)).astype(dtype)
    X = rng.standard_normal((20, 900)).astype(dtype)
    G = np.full((300, 900), 7.0, dtype)
    _gemm(D[:, 100:240], True, X[:, 50:850], False, G[100:240, 50:850])  # 140 × 800 × 20 = 2.24e6: whole
    _gemm(D[:, 100:220], True, X[:, 50:850], False, G[100:220, 50:850])  # 120 × 800 × 20 = 1.92e6: split
    np.testing.assert_allclose(G[100:220, 50:850], _reference(D[:, 100:220], True, X[:, 50:850], False),
                               **_tol(dtype, 20))
    G[100:240, 50:850] = 7.0
    assert (G == 7.0).all()
    Z = np.full((40, 300), 7.0, dtype)
    W = rng.standard_normal((128, 784)).astype(dtype)
    A = rng.standard_normal((16, 784)).astype(dtype)
    _gemm(A, False, W, True, Z[10:26, 100:228])
    np.testing.assert_allclose(Z[10:26, 100:228], _reference(A, False, W, True), **_tol(dtype, 784))
    Z[10:26, 100:228] = 7.0
    assert (Z == 7.0).all()
