"""Break one fastbp training step down into its kernels.

Run as ``python -m benchmarks.profile_step --sizes 784,128,10 --batch 1``.

Each kernel is timed through :mod:`benchmarks._drivers` (the same row chunks
and tasks as the compiled epoch, ``n_iter`` calls inside one compiled loop, so
no Python dispatch is counted) and compared with the measured time per step of
``Network.fit`` (one epoch, divided by its number of steps).  The difference
("rest") is what the step costs beyond the four kernels: gathering the batch
rows, the loss and output δ, the δᵀ copy is *inside* the gradient kernel, the
Python dispatch of ``train_batches`` slices, entering parallel regions, etc.
Medians of ``--repeats`` runs are printed, in microseconds per step.
"""
import argparse
import statistics
import time

import numpy as np


def _median_time(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def profile(sizes, batch, n_threads, dtype=np.float32, optimizer="sgd", activation="relu",
            n_samples=10240, repeats=7, target_s=0.05):
    import fastbp
    from benchmarks import _drivers as d
    from benchmarks.common import make_data, make_optimizer

    X, y = make_data(n_samples, sizes[0], sizes[-1], dtype)
    net = fastbp.Network(sizes, activation=activation, output="softmax", loss="cross_entropy",
                         dtype=dtype, seed=0)
    opt = make_optimizer(optimizer)
    ws = net._workspace(batch)
    layers = net._layers
    parallel = n_threads > 1
    rng = np.random.default_rng(1)
    ws["acts"][:] = rng.standard_normal(ws["acts"].size)
    ws["deltas"][:] = rng.standard_normal(ws["deltas"].size) * 1e-3
    ws["G"][:] = rng.standard_normal(ws["G"].size) * 1e-3
    P = net.parameters.copy()
    state = np.zeros((opt.n_state, P.size), dtype)
    n_chunks = d.update_chunk_count(P.size, opt.n_state)
    code = {"sgd": 0, "momentum": 0, "adam": 2}[optimizer]
    hyper = opt.hyperparameters()

    kernels = {
        "forward": lambda k: d.forward_chunks(P, layers, net.leaky_slope, batch, batch, ws["plan"], parallel,
                                              ws["acts"], ws["logits"], k),
        "backprop (δ)": lambda k: d.backprop_chunks(P, layers, net.leaky_slope, batch, batch, ws["plan"],
                                                     parallel, ws["acts"], ws["deltas"], k),
        "weight gradients": lambda k: d.gradient_tasks_run(ws["tasks"], layers, batch, batch, parallel,
                                                           ws["acts"], ws["deltas"], ws["deltas"], ws["G"], k),
        f"update ({optimizer})": lambda k: d.update_chunks_run(n_chunks, code, hyper, ws["step_scalars"], ws["G"],
                                                               P, state, np.ones(1, dtype), parallel, k),
    }
    out = {}
    with fastbp.threads(n_threads):
        for name, run in kernels.items():
            run(1)  # compile / load from cache
            t1 = _median_time(lambda: run(1), 3)
            k = max(1, int(target_s / max(t1, 1e-7)))
            out[name] = _median_time(lambda: run(k), repeats) / k
    # The whole step, through the public API.
    net.fit(X[:batch * 4], y[:batch * 4], epochs=1, batch_size=batch, optimizer=opt, n_threads=n_threads)
    n_steps = n_samples // batch
    t_epoch = _median_time(lambda: net.fit(X, y, epochs=1, batch_size=batch, optimizer=opt,
                                           n_threads=n_threads), max(3, repeats // 2))
    out["fit step (measured)"] = t_epoch / n_steps
    out["rest (fit step - kernels)"] = out["fit step (measured)"] - sum(
        v for k, v in out.items() if k not in ("fit step (measured)",))
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="784,128,10")
    p.add_argument("--batch", type=int, nargs="+", default=[1, 16, 64, 256])
    p.add_argument("--threads", type=int, nargs="+", default=None)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"])
    p.add_argument("--activation", default="relu")
    args = p.parse_args(argv)
    import numba

    sizes = [int(s) for s in args.sizes.split(",")]
    threads = args.threads or sorted({1, int(numba.config.NUMBA_NUM_THREADS)})
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    print(f"sizes {sizes} ({macs} MACs/sample), dtype {args.dtype}, optimizer {args.optimizer}; "
          "µs per step (median)")
    for t in threads:
        for b in args.batch:
            r = profile(sizes, b, t, np.dtype(args.dtype).type, args.optimizer, args.activation)
            parts = "  ".join(f"{k} {v * 1e6:9.1f}" for k, v in r.items())
            sps = b / r["fit step (measured)"]
            print(f"threads {t} batch {b:4d}: {parts}   -> {sps:,.0f} samples/s", flush=True)


if __name__ == "__main__":
    main()
