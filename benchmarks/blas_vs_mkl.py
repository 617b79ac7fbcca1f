"""The kernels' three matrix products through OpenBLAS and through MKL.

Run as ``python -m benchmarks.blas_vs_mkl`` (needs ``pip install "fastbp[mkl]"``);
prints µs per product for each library, one thread (BLAS pinned to one),
float32, on the shapes a training step hands to BLAS: the forward product
``A·Wᵀ``, the δ recursion ``D·W`` and the weight gradient ``Dᵀ·A``, for
batch chunks of 4 to 128 rows.  These figures set
``fastbp.blas.OTHER_MIN_MACS``.  Each figure is the median of 5 runs of a
compiled loop of calls, the two libraries interleaved.
"""
import time

import numba
import numpy as np

from fastbp import blas
from fastbp.blas import gemm

# (rows of the batch chunk, n_out, n_in)
SHAPES = [(4, 128, 784), (8, 64, 784), (8, 128, 784), (16, 64, 784), (16, 128, 784), (32, 128, 784),
          (64, 128, 784), (128, 128, 784), (128, 1024, 1024), (8, 10, 128), (32, 10, 128), (16, 32, 64)]
PRODUCTS = ("forward A·Wᵀ", "δ recursion D·W", "gradient Dᵀ·A")


@numba.njit
def _products(A, transpose_a, B, transpose_b, C, n_iter):
    for _ in range(n_iter):
        gemm(A, transpose_a, B, transpose_b, C)


def operands(product, m, n, k, rng):
    """``(A, transpose_a, B, transpose_b, C)`` of one product, batch ``m``, layer ``k → n``."""
    def rand(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    if product == PRODUCTS[0]:
        return rand(m, k), False, rand(n, k), True, np.empty((m, n), np.float32)
    if product == PRODUCTS[1]:
        return rand(m, n), False, rand(n, k), False, np.empty((m, k), np.float32)
    return rand(m, n), True, rand(m, k), False, np.empty((n, k), np.float32)


def time_product(library, args, n_iter):
    """Seconds per product with ``library`` (every size), median of 5 runs."""
    blas.use(library, min_macs=0)
    try:
        _products(*args, 1)
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            _products(*args, n_iter)
            runs.append((time.perf_counter() - start) / n_iter)
        return float(np.median(runs))
    finally:
        blas.use("openblas")


def main():
    from threadpoolctl import threadpool_limits
    import scipy.linalg.cython_blas  # noqa: F401  (load numba's BLAS so that it can be pinned)

    blas.use("mkl")  # fails early, with the install command, if MKL is missing
    blas.use("openblas")
    rng = np.random.default_rng(0)
    print(f"float32, one thread; µs per product; MKL serves products of >= {blas.OTHER_MIN_MACS} multiply-adds")
    print(f"{'product':18s} {'batch':>5s} {'n_out':>5s} {'n_in':>5s} {'OpenBLAS':>10s} {'MKL':>10s} "
          f"{'MKL faster':>10s}")
    with threadpool_limits(1, user_api="blas"):
        for product in PRODUCTS:
            for m, n, k in SHAPES:
                args = operands(product, m, n, k, rng)
                n_iter = max(5, int(2e7 // (2 * m * n * k)))
                openblas = time_product("openblas", args, n_iter)
                mkl = time_product("mkl", args, n_iter)
                print(f"{product:18s} {m:5d} {n:5d} {k:5d} {openblas * 1e6:10.2f} {mkl * 1e6:10.2f} "
                      f"{openblas / mkl:9.2f}x")


if __name__ == "__main__":
    main()
