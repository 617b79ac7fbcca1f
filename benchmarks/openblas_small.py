"""Products just over OpenBLAS's small-matrix limit: whole, and split by fastbp.blas.gemm.

Run as ``python -m benchmarks.openblas_small`` (one thread).  For the
training step's product shapes between ``fastbp.blas.OPENBLAS_SMALL_MACS``
and twice that, prints µs per product with the split off (one OpenBLAS call,
its packed path) and on (pieces of rows under the limit, its small-matrix
kernels), the same compiled code, interleaved, and the largest relative
difference of the results.  gemm splits float32 products only, and only
on OpenBLAS's SkylakeX-class cores (``fastbp.blas.set_openblas_small_limit``);
the float64 rows (and every row elsewhere) time the same thing twice, a
measure of the noise.
"""
import time

import numba
import numpy as np

from fastbp import blas
from fastbp.blas import gemm

# (product, rows of C, columns of C, inner dimension, transpose A, transpose B)
SHAPES = [
    ("forward A·Wᵀ, batch 16 × 128 × 784", 16, 128, 784, False, True),
    ("δ recursion D·W, batch 16 × 784 × 128", 16, 784, 128, False, False),
    ("gradient Dᵀ·A, 128 × 784 × batch 16", 128, 784, 16, True, False),
    ("forward A·Wᵀ, batch 20 × 100 × 784", 20, 100, 784, False, True),
]


@numba.njit
def _products(A, transpose_a, B, transpose_b, C, n_iter):
    for _ in range(n_iter):
        gemm(A, transpose_a, B, transpose_b, C)


def _best_us(A, transpose_a, B, transpose_b, C, n_iter=300, repeats=7):
    _products(A, transpose_a, B, transpose_b, C, 2)
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        _products(A, transpose_a, B, transpose_b, C, n_iter)
        best = min(best, (time.perf_counter() - start) / n_iter)
    return best * 1e6


def main():
    from threadpoolctl import threadpool_limits

    before = blas.openblas_small_limit()
    rng = np.random.default_rng(0)
    print("one thread, µs per product (best of 7 loops of 300), whole → split")
    try:
        with threadpool_limits(1):
            for dtype in (np.float32, np.float64):
                for name, m, n, k, transpose_a, transpose_b in SHAPES:
                    A = rng.standard_normal((k, m) if transpose_a else (m, k)).astype(dtype)
                    B = rng.standard_normal((n, k) if transpose_b else (k, n)).astype(dtype)
                    whole, split = np.empty((m, n), dtype), np.empty((m, n), dtype)
                    blas._table[blas._SMALL_MACS] = 0
                    t_whole = _best_us(A, transpose_a, B, transpose_b, whole)
                    blas.set_openblas_small_limit("SkylakeX")
                    t_split = _best_us(A, transpose_a, B, transpose_b, split)
                    diff = np.abs(split - whole).max() / np.abs(whole).max()
                    print(f"{np.dtype(dtype).name:8s} {name:40s} {t_whole:7.1f} → {t_split:7.1f}  "
                          f"({t_whole / t_split:.2f}×)  max rel. difference {diff:.1e}", flush=True)
    finally:
        blas._table[blas._SMALL_MACS] = before


if __name__ == "__main__":
    main()
