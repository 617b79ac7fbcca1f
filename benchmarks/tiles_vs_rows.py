"""Row chunks against 2-D tiles for big layers (fastbp.parallel.tiled_layers).

Two measurements, both side by side in one process::

    python -m benchmarks.tiles_vs_rows products --threads 1 2 4 8 16 --batch 256
    python -m benchmarks.tiles_vs_rows train --cases wide-b256-sgd wide2-b512-sgd --threads 2 4 8 16

``products`` times the three big products of a 784-1024-1024-10 step (the
two forward products and the δ product through ``W²``), each thread calling
single-threaded BLAS (fastbp's :func:`fastbp.blas.gemm`): split by batch rows
(every chunk multiplies by all of ``W``, as a training step did before tiles)
and in ``tr × tc`` tiles; NumPy's own multi-threaded sgemm is the yardstick.

``train`` times training epochs (benchmarks.compare's cases and data) of the
same network twice, interleaved: once planned with row chunks only
(``TILE_MIN_THREADS`` set out of reach) and once with fastbp's tiles.  Tiles
are planned for ``NUMBA_NUM_THREADS`` (the machine's cores by default), so
run it where that is at least ``fastbp.parallel.TILE_MIN_THREADS``.
"""
import argparse
import statistics
import sys
import time

import numpy as np


def products(args):
    import numba
    import scipy.linalg  # noqa: F401  (loads SciPy's BLAS, which fastbp's gemm calls, before threadpoolctl looks)
    from numba import njit, prange
    from threadpoolctl import threadpool_limits

    from fastbp.blas import gemm

    @njit(parallel=True)
    def layer_tiles(A, W, Z, tr, tc):  # Z = A @ W.T in tr x tc tiles
        b, n = Z.shape
        for t in prange(tr * tc):
            r, c = t // tc, t % tc
            r0, r1, c0, c1 = r * b // tr, (r + 1) * b // tr, c * n // tc, (c + 1) * n // tc
            gemm(A[r0:r1], False, W[c0:c1], True, Z[r0:r1, c0:c1])

    @njit(parallel=True)
    def delta_tiles(D, W, E, tr, tc):  # E = D @ W in tr x tc tiles
        b, n = E.shape
        for t in prange(tr * tc):
            r, c = t // tc, t % tc
            r0, r1, c0, c1 = r * b // tr, (r + 1) * b // tr, c * n // tc, (c + 1) * n // tc
            gemm(D[r0:r1], False, W[:, c0:c1], False, E[r0:r1, c0:c1])

    @njit(parallel=True)
    def row_chunks(A0, W1, W2, Z1, Z2, D2, D1, chunks):  # every chunk of rows does every product
        b = A0.shape[0]
        for c in prange(chunks):
            r0, r1 = c * b // chunks, (c + 1) * b // chunks
            gemm(A0[r0:r1], False, W1, True, Z1[r0:r1])
            gemm(Z1[r0:r1], False, W2, True, Z2[r0:r1])
            gemm(D2[r0:r1], False, W2, False, D1[r0:r1])

    def tiles(A0, W1, W2, Z1, Z2, D2, D1, tr, tc):
        layer_tiles(A0, W1, Z1, tr, tc)
        layer_tiles(Z1, W2, Z2, tr, tc)
        delta_tiles(D2, W2, D1, tr, tc)

    def median_ms(fn, *a):
        fn(*a)
        times = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            fn(*a)
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3

    rng = np.random.default_rng(0)
    b = args.batch
    A0 = rng.standard_normal((b, 784), dtype=np.float32)
    W1 = rng.standard_normal((1024, 784), dtype=np.float32) * 0.03
    W2 = rng.standard_normal((1024, 1024), dtype=np.float32) * 0.03
    D2 = rng.standard_normal((b, 1024), dtype=np.float32)
    Z1, Z2, D1 = (np.zeros((b, 1024), np.float32) for _ in range(3))
    want = (A0 @ W1.T, (A0 @ W1.T) @ W2.T, D2 @ W2)
    gflop = 2 * b * (784 * 1024 + 2 * 1024 * 1024) / 1e9
    print(f"784-1024-1024-10 at batch {b}: the forward products through W¹ and W² and the δ product "
          f"through W², float32, ms (GFLOP/s), median of {args.repeats}")
    for n in args.threads:
        numba.set_num_threads(n)
        with threadpool_limits(n):
            t = median_ms(lambda: (np.matmul(A0, W1.T, out=Z1), np.matmul(Z1, W2.T, out=Z2),
                                   np.matmul(D2, W2, out=D1)))
        cells = [f"NumPy sgemm {t:.2f} ({gflop / t * 1e3:.0f})"]
        with threadpool_limits(1):
            t = median_ms(row_chunks, A0, W1, W2, Z1, Z2, D2, D1, n)
            cells.append(f"row chunks ×{n} {t:.2f} ({gflop / t * 1e3:.0f})")
            for tr in sorted({d for d in range(1, n + 1) if n % d == 0 and d < n}, reverse=True):
                t = median_ms(tiles, A0, W1, W2, Z1, Z2, D2, D1, tr, n // tr)
                for got, ref in zip((Z1, Z2, D1), want):
                    assert np.abs(got - ref).max() <= 1e-3 * np.abs(ref).max(), "tiles computed a wrong product"
                cells.append(f"tiles {tr}×{n // tr} {t:.2f} ({gflop / t * 1e3:.0f})")
        print(f"  {n:2d} threads: " + "  ".join(cells), flush=True)


def train(args):
    import fastbp
    from benchmarks.compare import CASES, OPTIMIZERS, case_data
    from fastbp import parallel

    if parallel.max_threads() < parallel.TILE_MIN_THREADS:
        raise SystemExit(f"NUMBA_NUM_THREADS is {parallel.max_threads()}: fastbp tiles from "
                         f"{parallel.TILE_MIN_THREADS} threads on")
    tile_from = parallel.TILE_MIN_THREADS

    def make(case, tiled):
        parallel.TILE_MIN_THREADS = tile_from if tiled else sys.maxsize
        net = fastbp.Network(case["sizes"], activation="relu", output="softmax", loss="cross_entropy",
                             dtype=np.float32, seed=0)
        kind, lr, momentum = OPTIMIZERS[case["optimizer"]]
        opt = fastbp.SGD(lr=lr, momentum=momentum) if kind == "sgd" else fastbp.Adam(lr=lr)
        X, _, Y = case_data(case)
        net.fit(X[:1024], Y[:1024], epochs=1, batch_size=case["batch"], optimizer=opt)  # compile, plan
        return net, opt, X, Y

    try:
        for name in args.cases:
            case = CASES[name]
            nets = {tiled: make(case, tiled) for tiled in (False, True)}
            rates = {(tiled, n): [] for tiled in (False, True) for n in args.threads}
            for _ in range(args.repeats):
                for n in args.threads:
                    for tiled in (False, True):
                        net, opt, X, Y = nets[tiled]
                        stamps = []
                        net.fit(X, Y, epochs=args.epochs + 1, batch_size=case["batch"], optimizer=opt,
                                n_threads=n, callbacks=[lambda *_: stamps.append(time.perf_counter())])
                        rates[(tiled, n)] += [X.shape[0] / d for d in np.diff(stamps)]
            print(f"{name} ({'-'.join(map(str, case['sizes']))}, batch {case['batch']}, {case['optimizer']}): "
                  f"samples/s, median of {args.repeats * args.epochs} epochs, row chunks → tiles")
            for n in args.threads:
                rows, tiles = (statistics.median(rates[(tiled, n)]) for tiled in (False, True))
                print(f"  {n:2d} threads: {rows:10,.0f} → {tiles:10,.0f}  ({tiles / rows:.2f}×)", flush=True)
    finally:
        parallel.TILE_MIN_THREADS = tile_from


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.tiles_vs_rows", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    pp = sub.add_parser("products", help="the wide net's three big products, row chunks against tiles")
    pp.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    pp.add_argument("--batch", type=int, default=256)
    pp.add_argument("--repeats", type=int, default=30)
    pt = sub.add_parser("train", help="training epochs planned with row chunks only, and with tiles")
    pt.add_argument("--cases", nargs="+", default=["wide-b256-sgd", "wide2-b512-sgd"])
    pt.add_argument("--threads", type=int, nargs="+", default=[2, 4])
    pt.add_argument("--repeats", type=int, default=3, help="interleaved rounds")
    pt.add_argument("--epochs", type=int, default=3, help="timed epochs per round")
    args = p.parse_args(argv)
    products(args) if args.what == "products" else train(args)


if __name__ == "__main__":
    main()
