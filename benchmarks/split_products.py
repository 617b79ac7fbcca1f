"""A large batch's two big products, split over threads in different ways.

Run as ``python -m benchmarks.split_products --sizes 784,128 --batch 256``.

A training step at batch ``b`` on a layer ``n_in -> n_out`` multiplies twice
by the big matrices: the forward product ``Z = X · Wᵀ`` and the weight
gradient ``G = δᵀ · X``.  fastbp gives each of ``t`` threads one
single-threaded BLAS call per product: the forward product split by *rows of
the batch* (each thread packs all of ``W``), the gradient by *rows of G*
(each thread packs all of ``X``).  This times those splits, the other way
round (rows of ``W``; columns of ``G``), and one BLAS call on ``t`` threads
(OpenBLAS shares its packed panels between its threads), all on NumPy's
BLAS, with the threads running at once as in a step.  Medians of
``--repeats`` runs, in µs per product and GFLOP/s for the whole product.
"""
import argparse
import statistics
import threading
import time

import numpy as np


def _concurrent(jobs, n_calls):
    """Run ``jobs[i]()`` ``n_calls`` times on thread ``i``, all started together; the slowest's time per call."""
    barrier = threading.Barrier(len(jobs))
    seconds = [0.0] * len(jobs)

    def run(i):
        barrier.wait()
        start = time.perf_counter()
        for _ in range(n_calls):
            jobs[i]()
        seconds[i] = (time.perf_counter() - start) / n_calls

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(seconds)


def _bounds(n, parts):
    edges = np.linspace(0, n, parts + 1).round().astype(int)
    return list(zip(edges[:-1], edges[1:]))


def splits(b, n_in, n_out, n_threads, dtype=np.float32):
    """The ways to compute the two products: name -> a list of callables, one per thread (each
    a single-threaded BLAS call), or one callable (one BLAS call on ``n_threads`` threads)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((b, n_in)).astype(dtype)
    W = rng.standard_normal((n_out, n_in)).astype(dtype)
    D = rng.standard_normal((b, n_out)).astype(dtype)
    Z = np.empty((b, n_out), dtype)
    G = np.empty((n_out, n_in), dtype)
    rows, units, columns = _bounds(b, n_threads), _bounds(n_out, n_threads), _bounds(n_in, n_threads)
    # Each thread writes a C-contiguous block of its own, as BLAS writes it in the step.
    z_units = [np.empty((b, j1 - j0), dtype) for j0, j1 in units]
    g_columns = [np.empty((n_out, c1 - c0), dtype) for c0, c1 in columns]

    def job(f, *args):
        return lambda: f(*args)

    return {
        "forward, rows of the batch (fastbp)": [job(np.matmul, X[r0:r1], W.T, Z[r0:r1]) for r0, r1 in rows],
        "forward, rows of W": [job(np.matmul, X, W[j0:j1].T, out) for (j0, j1), out in zip(units, z_units)],
        "forward, one BLAS call": lambda: np.matmul(X, W.T, out=Z),
        "gradient, rows of G (fastbp)": [job(np.matmul, D[:, j0:j1].T, X, G[j0:j1]) for j0, j1 in units],
        "gradient, columns of G": [job(np.matmul, D.T, X[:, c0:c1], out) for (c0, c1), out in zip(columns, g_columns)],
        "gradient, one BLAS call": lambda: np.matmul(D.T, X, out=G),
    }


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="784,128", help="n_in,n_out of the layer")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--calls", type=int, default=200, help="products per timed run")
    args = p.parse_args(argv)
    from threadpoolctl import threadpool_limits

    n_in, n_out = (int(s) for s in args.sizes.split(","))
    flops = 2 * args.batch * n_in * n_out
    print(f"{args.batch} × {n_in} × {n_out}, float32, {args.threads} threads; µs per product (median of "
          f"{args.repeats}), GFLOP/s of the whole product")
    for name, jobs in splits(args.batch, n_in, n_out, args.threads).items():
        if callable(jobs):  # one call, BLAS's own threads
            with threadpool_limits(args.threads, user_api="blas"):
                runs = [_concurrent([jobs], args.calls) for _ in range(args.repeats)]
        else:  # one single-threaded call per thread, all at once
            with threadpool_limits(1, user_api="blas"):
                runs = [_concurrent(jobs, args.calls) for _ in range(args.repeats)]
        t = statistics.median(runs)
        print(f"  {name:38s} {t * 1e6:8.1f} µs  {flops / t / 1e9:6.1f} GFLOP/s", flush=True)


if __name__ == "__main__":
    main()
