"""One-row products: fastbp.matvec's loops against numba's ``np.dot`` (BLAS).

Run as ``python -m benchmarks.matvec_vs_blas``; prints µs per product, one
thread (BLAS pinned to one), float32, for the layer shapes that decide
``fastbp.matvec.MATVEC_MAX``.  Each figure is the best of 5 runs of a compiled
loop of calls, so no Python dispatch is counted.
"""
import time

import numba
import numpy as np

from fastbp.matvec import times, times_transposed

SHAPES = [(16, 32), (32, 10), (64, 32), (128, 128), (256, 128), (784, 128)]


@numba.njit
def _loops_forward(a, W, z, n_iter):
    for _ in range(n_iter):
        times_transposed(a, W, z)


@numba.njit
def _loops_backward(d, W, e, n_iter):
    for _ in range(n_iter):
        times(d, W, e)


@numba.njit
def _blas_forward(a, W, z, n_iter):
    for _ in range(n_iter):
        np.dot(a, W.T, z)


@numba.njit
def _blas_backward(d, W, e, n_iter):
    for _ in range(n_iter):
        np.dot(d, W, e)


def _best_us(kernel, args, n_iter):
    kernel(*args, 1)  # compile
    best = np.inf
    for _ in range(5):
        start = time.perf_counter()
        kernel(*args, n_iter)
        best = min(best, time.perf_counter() - start)
    return best / n_iter * 1e6


def main():
    import fastbp

    rng = np.random.default_rng(0)
    print("n_in x n_out    W a: loops / np.dot (µs)    δ W: loops / np.dot (µs)")
    with fastbp.threads(1):
        for n_in, n_out in SHAPES:
            W = rng.standard_normal((n_out, n_in)).astype(np.float32)
            a, z = rng.standard_normal((1, n_in)).astype(np.float32), np.zeros((1, n_out), np.float32)
            d, e = rng.standard_normal((1, n_out)).astype(np.float32), np.zeros((1, n_in), np.float32)
            n_iter = max(10, 2_000_000 // (n_in * n_out))
            f_loops = _best_us(_loops_forward, (a[0], W, z[0]), n_iter)
            f_blas = _best_us(_blas_forward, (a, W, z), n_iter)
            b_loops = _best_us(_loops_backward, (d[0], W, e[0]), n_iter)
            b_blas = _best_us(_blas_backward, (d, W, e), n_iter)
            print(f"{n_in:4d} x {n_out:4d}    {f_loops:8.3f} / {f_blas:8.3f}          {b_loops:8.3f} / {b_blas:8.3f}")


if __name__ == "__main__":
    main()
