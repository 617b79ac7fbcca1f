"""Device experiment (16 cores, at 8df9e95): bigger row chunks (R) and bigger gradient tasks (G) at 8 and 16 threads.

Run as: NUMBA_NUM_THREADS=16 PYTHONPATH=. python docs/scaling-16core/chunk_sizes.py mnist-b256-sgd,mnist-b64-sgd,wide-b256-sgd,mnist-b256-adam 8,16
Output: chunk-sizes.log beside this file.  Not part of the package: it monkeypatches fastbp.parallel.
"""
import os, sys, time, statistics, json
import numpy as np
import fastbp
from fastbp import parallel
from benchmarks.compare import CASES, case_data, OPTIMIZERS, ADAM_BETAS, ADAM_EPS

orig_plan, orig_tasks = parallel.row_plan, parallel.gradient_tasks


def tasks_min_rows(layers, capacity, G):
    tasks = []
    T = parallel.max_threads()
    for l, (n_in, n_out) in enumerate(layers[:, :2]):
        work = (2 * capacity + 8) * n_in * n_out
        pieces = int(min(T, max(1, n_out // G), max(1, work // parallel.MIN_CHUNK_FLOPS)))
        bounds = np.linspace(0, n_out, pieces + 1).round().astype(np.int64)
        tasks.extend((l, j0, j1) for j0, j1 in zip(bounds[:-1], bounds[1:]) if j1 > j0)
    tasks.sort(key=lambda t: -(t[2] - t[1]) * layers[t[0], 0])
    load = [0] * T
    rows = []
    for l, j0, j1 in tasks:
        lane = load.index(min(load))
        load[lane] += (j1 - j0) * int(layers[l, 0])
        rows.append((l, j0, j1, lane))
    rows.sort(key=lambda t: t[3])
    return np.array(rows, dtype=np.int64).reshape(-1, 4)


def install(R, G):
    def plan(layers, capacity):
        p = orig_plan(layers, capacity)
        if R:
            p[1] = max(p[1], R)
            p[4] = max(p[4], R)
        return p

    def tasks(layers, capacity):
        return orig_tasks(layers, capacity) if not G else tasks_min_rows(layers, capacity, G)
    parallel.row_plan, parallel.gradient_tasks = plan, tasks


def make(case, R, G):
    install(R, G)
    net = fastbp.Network(case["sizes"], activation="relu", output="softmax", loss="cross_entropy",
                         dtype=np.float32, seed=0)
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    opt = fastbp.SGD(lr=lr, momentum=mu) if kind == "sgd" else fastbp.Adam(lr=lr, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], eps=ADAM_EPS)
    X, y, Y = case_data(case)
    net.fit(X[:1024], Y[:1024], epochs=1, batch_size=case["batch"], optimizer=opt)  # builds the workspace
    return net, opt, X, Y


variants = [(0, 0), (32, 0), (64, 0), (0, 32), (32, 32), (64, 64), (32, 64)]
threads = [int(t) for t in sys.argv[2].split(",")]
out = {}
for name in sys.argv[1].split(","):
    case = CASES[name]
    nets = {v: make(case, *v) for v in variants}
    res = {(v, t): [] for v in variants for t in threads}
    for r in range(3):
        for v in variants:
            for t in threads:
                net, opt, X, Y = nets[v]
                st = []
                net.fit(X, Y, epochs=4, batch_size=case["batch"], optimizer=opt, n_threads=t,
                        callbacks=[lambda *_: st.append(time.perf_counter())])
                res[(v, t)] += [X.shape[0] / d for d in np.diff(st)]
    print(f"\n{name}  (samples/s, median of 9 epochs; R = min rows per forward chunk, G = min W rows per gradient task)")
    for t in threads:
        base = statistics.median(res[((0, 0), t)])
        print(f"  {t:2d} thr: " + "  ".join(f"R{v[0]}/G{v[1]} {statistics.median(res[(v, t)])/1e3:7.1f}k ({statistics.median(res[(v, t)])/base:.2f})" for v in variants), flush=True)
    out[name] = {f"R{v[0]}G{v[1]}t{t}": res[(v, t)] for v in variants for t in threads}
json.dump(out, open(os.path.join(os.environ.get("OUT", "/tmp"), "exp.json"), "w"))
