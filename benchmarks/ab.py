"""Side-by-side A/B of two fastbp commits in one process.

Run-to-run noise on a shared machine is larger than most kernel changes, so
this script imports the working tree's ``fastbp`` and a past commit's copy
(extracted with ``git archive`` and imported as ``fastbp_base``; fastbp uses
relative imports only) into the same process, and times their epochs
interleaved: base, current, base, current, ... on the same data.

    python -m benchmarks.ab --base d38d91e --optimizers sgd momentum adam --batches 1 16 64 256

prints, per optimizer and batch size, the median (and best) samples/s of each
and the ratio current / base.  ``--predict`` times ``Network.predict`` of all
the samples instead (rows/s).  The inputs have a third of their columns always
0 (like MNIST's border pixels), so optimizer state that only decays is part of
the picture.

Both copies compile into a private numba cache, a temporary directory (unless
``NUMBA_CACHE_DIR`` is set): in one process the two copies share numba's
compiled subroutines (numba keys them by code object, and two identical
functions from different files compare equal), so kernels of ``fastbp``
cached in the working tree would refer to ``fastbp_base`` and fail to load
in any later process (``ModuleNotFoundError: No module named 'fastbp_base'``).
The temporary directory, with the base copy, is removed when the script exits.
"""
import argparse
import atexit
import importlib
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np


def extract(rev, root):
    """Extract ``fastbp/`` at ``rev`` as the package ``fastbp_base`` under ``root``."""
    archive = subprocess.run(["git", "archive", rev, "fastbp"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", root], input=archive, check=True)
    os.rename(os.path.join(root, "fastbp"), os.path.join(root, "fastbp_base"))


def make(module, sizes, optimizer, activation="relu"):
    net = module.Network(sizes, activation=activation, output="softmax", loss="cross_entropy", seed=0)
    opt = {"sgd": lambda: module.SGD(0.01), "momentum": lambda: module.SGD(0.01, momentum=0.9),
           "adam": lambda: module.Adam(1e-3)}[optimizer]()
    return net, opt


def compare(modules, sizes, optimizer, batch, n_threads, repeats, n_samples, activation="relu"):
    rng = np.random.default_rng(0)
    X = rng.random((n_samples, sizes[0]), dtype=np.float32)
    X[:, : sizes[0] // 3] = 0
    y = rng.integers(0, sizes[-1], n_samples)
    nets = [make(m, sizes, optimizer, activation) for m in modules]
    for net, opt in nets:  # compile (or load) and settle the optimizer state
        net.fit(X[:512], y[:512], epochs=1, batch_size=batch, optimizer=opt, n_threads=n_threads)
    rates = [[] for _ in modules]
    for _ in range(repeats):
        for i, (net, _) in enumerate(nets):
            start = time.perf_counter()
            net.fit(X, y, epochs=1, batch_size=batch, n_threads=n_threads)
            rates[i].append(n_samples / (time.perf_counter() - start))
    return [np.median(r) for r in rates], [max(r) for r in rates]


def compare_predict(modules, sizes, n_threads, repeats, n_samples, activation="relu"):
    rng = np.random.default_rng(0)
    X = rng.random((n_samples, sizes[0]), dtype=np.float32)
    nets = [make(m, sizes, "sgd", activation)[0] for m in modules]
    for net in nets:  # compile (or load)
        net.predict(X[:512], n_threads=n_threads)
    rates = [[] for _ in modules]
    for _ in range(repeats):
        for i, net in enumerate(nets):
            start = time.perf_counter()
            net.predict(X, n_threads=n_threads)
            rates[i].append(n_samples / (time.perf_counter() - start))
    return [np.median(r) for r in rates], [max(r) for r in rates]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="git revision to compare the working tree with")
    parser.add_argument("--sizes", default="784,128,10")
    parser.add_argument("--optimizers", nargs="+", default=["sgd", "momentum", "adam"],
                        choices=["sgd", "momentum", "adam"])
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 16, 64, 256])
    parser.add_argument("--threads", type=int, default=None, help="default: all")
    parser.add_argument("--repeats", type=int, default=9, help="timed epochs per copy")
    parser.add_argument("--samples", type=int, default=10240)
    parser.add_argument("--activation", default="relu", help="hidden layers' activation (output: softmax)")
    parser.add_argument("--predict", action="store_true", help="time predict (rows/s) instead of training")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    root = tempfile.mkdtemp(prefix="fastbp-ab-")
    atexit.register(shutil.rmtree, root, ignore_errors=True)  # the base copy and its numba cache
    os.environ.setdefault("NUMBA_CACHE_DIR", os.path.join(root, "numba-cache"))  # before numba loads (see above)
    extract(args.base, root)
    sys.path.insert(0, root)
    base = importlib.import_module("fastbp_base")
    current = importlib.import_module("fastbp")
    n_threads = args.threads or current.parallel.max_threads()
    print(f"{args.sizes} ({args.activation}), float32, {n_threads} thread(s), {args.samples} samples, medians of "
          f"{args.repeats} interleaved epochs; base = {args.base}")
    if args.predict:
        (m0, m1), (b0, b1) = compare_predict([base, current], sizes, n_threads, args.repeats, args.samples,
                                             args.activation)
        print(f"predict: base {m0:9.0f}  current {m1:9.0f} rows/s  current/base {m1 / m0:5.2f} "
              f"(best runs {b1 / b0:5.2f})", flush=True)
        return
    for optimizer in args.optimizers:
        for batch in args.batches:
            (m0, m1), (b0, b1) = compare([base, current], sizes, optimizer, batch, n_threads, args.repeats,
                                         args.samples, args.activation)
            print(f"{optimizer:9s} batch {batch:4d}: base {m0:9.0f}  current {m1:9.0f} samples/s  "
                  f"current/base {m1 / m0:5.2f} (best runs {b1 / b0:5.2f})", flush=True)


if __name__ == "__main__":
    main()
