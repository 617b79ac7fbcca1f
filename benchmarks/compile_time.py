"""Where a cold first ``fit`` spends its compile time, kernel by kernel.

Run as ``python -m benchmarks.compile_time`` (784-128-10, batch 32, SGD, 2
threads, 2,048 samples; ``--sizes``, ``--batch``, ``--optimizer`` to change).

numba's compile events (``numba.core.event``) are recorded in this process,
whose numba cache is an empty temporary directory (``NUMBA_CACHE_DIR`` is set
before numba is imported, so nothing is loaded from a cache).  Each kernel's
time is split into numba's own Python work (typing, lowering; exclusive of the
kernels it compiles in turn) and the time spent holding LLVM's lock
(optimising and emitting machine code).  Prints the first ``fit``'s wall time,
the kernels that took longest and the totals.  Single runs move by ±10 % on a
shared machine: compare trees by interleaving runs.
"""
import argparse
import os
import sys
import tempfile
import time


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="784,128,10")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "momentum", "adam"])
    p.add_argument("--top", type=int, default=15, help="kernels to list")
    args = p.parse_args(argv)
    if "numba" in sys.modules:
        raise SystemExit("run this in a fresh process (numba is already imported)")
    cache = tempfile.TemporaryDirectory(prefix="fastbp-compile-time-")  # removed on exit
    os.environ["NUMBA_CACHE_DIR"] = cache.name
    import numpy as np
    from numba.core import event

    stack, per_kernel = [], {}  # qualname -> [compiles, python s, llvm s]

    class Recorder(event.Listener):
        def on_start(self, ev):
            stack.append([ev, time.perf_counter(), 0.0, 0.0])  # event, start, children, llvm

        def on_end(self, ev):
            started, t0, children, llvm = stack.pop()
            elapsed = time.perf_counter() - t0
            if ev.kind == "numba:llvm_lock":
                if stack:
                    stack[-1][2] += elapsed
                    stack[-1][3] += elapsed
                return
            if stack:
                stack[-1][2] += elapsed
            name = started.data["dispatcher"].py_func.__qualname__
            entry = per_kernel.setdefault(name, [0, 0.0, 0.0])
            entry[0] += 1
            entry[1] += elapsed - children
            entry[2] += llvm

    recorder = Recorder()  # one stack: LLVM time is charged to the kernel being compiled
    event.register("numba:compile", recorder)
    event.register("numba:llvm_lock", recorder)

    from benchmarks.common import make_data, make_network, make_optimizer

    sizes = [int(s) for s in args.sizes.split(",")]
    X, y = make_data(2048, sizes[0], sizes[-1], np.float32)
    net = make_network(sizes)
    start = time.perf_counter()
    net.fit(X, y, epochs=1, batch_size=args.batch, optimizer=make_optimizer(args.optimizer), n_threads=2)
    wall = time.perf_counter() - start
    print(f"first fit {wall:.2f} s ({args.sizes}, batch {args.batch}, {args.optimizer}, empty numba cache)")
    print(f"  {'kernel':44s} {'compiles':>8s} {'numba (Python) s':>17s} {'LLVM s':>7s}")
    ranked = sorted(per_kernel.items(), key=lambda item: -(item[1][1] + item[1][2]))
    for name, (count, python_s, llvm_s) in ranked[:args.top]:
        print(f"  {name:44s} {count:8d} {python_s:17.2f} {llvm_s:7.2f}")
    print(f"  {'all ' + str(len(per_kernel)) + ' kernels':44s} {sum(v[0] for v in per_kernel.values()):8d} "
          f"{sum(v[1] for v in per_kernel.values()):17.2f} {sum(v[2] for v in per_kernel.values()):7.2f}")


if __name__ == "__main__":
    main()
