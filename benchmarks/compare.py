"""fastbp head to head with PyTorch, JAX, scikit-learn and plain NumPy.

Run from the repository root::

    python -m benchmarks.compare                  # all cases, all threads
    python -m benchmarks.compare --quick --markdown
    python -m benchmarks.compare --threads 1 --cases 'mnist-b16-*' --peers fastbp jax-scan

Every peer trains the same network on the same seeded synthetic data with the
same optimizer, hyperparameters and batch size, shuffling every epoch, **each
in its own process** (``python -m benchmarks.compare --worker PEER --case
CASE``, printing one JSON line) with the same thread count: the parent sets
``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
``NUMBA_NUM_THREADS`` and ``XLA_FLAGS`` (``--xla_cpu_multi_thread_eigen``,
``intra_op_parallelism_threads``); the worker calls ``torch.set_num_threads``
/ ``threadpoolctl`` / ``fastbp.threads`` and, when fewer threads than cores
are asked for, restricts its CPU affinity to that many cores.

Timing, per peer and case: a warm-up (compilation), a calibration run that
picks how many samples a timed run covers (about ``--target-s`` seconds,
never more than one epoch, a whole number of batches), a second warm-up at
that size (``jax.lax.scan`` compiles per length), then ``--reps`` timed runs;
the figure is samples/s of the median run.  Slow peers (PyTorch eager or
scikit-learn at batch 1) are thus timed on a fraction of an epoch and their
samples/s extrapolated; the table marks those with ``*``.  fastbp's epochs
are timed between ``fit`` callbacks, so one ``fit`` call covers all timed
epochs (its input validation is paid once, as in real use).

Peers: ``fastbp``; ``torch`` (eager); ``torch-compile`` (``torch.compile`` of
the model, eager optimizer; only on some cases, it compiles for each shape);
``jax-jit`` (one jitted step per batch, called from Python); ``jax-scan``
(a whole epoch in one jitted ``jax.lax.scan``); ``sklearn``
(``MLPClassifier.partial_fit`` per epoch); ``numpy`` (hand-written
backprop).  Missing peers are skipped with the reason.  None is imported at
module level.

Also measured in the same run: the BLAS sgemm/dgemm peak (NumPy matmul of
square matrices, GFLOP/s, same thread count), each fastbp training figure as a
fraction of the sgemm peak (training ≈ 6 · Σ n_in·n_out FLOPs per sample,
predict 2 ·), the CPU time other processes used while each case ran
("bg load", in cores: the machine is shared), and the start-up case: from
spawning the process to the end of the first epoch, fastbp with an empty
numba cache (``NUMBA_CACHE_DIR`` = a new temporary directory: cold, everything
compiled) and with a filled one (warm).
"""
import argparse
import fnmatch
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

PEERS = ["fastbp", "torch", "torch-compile", "jax-jit", "jax-scan", "sklearn", "numpy"]
PEER_TITLES = {"fastbp": "fastbp", "torch": "torch", "torch-compile": "torch.compile", "jax-jit": "jax jit",
               "jax-scan": "jax scan", "sklearn": "sklearn", "numpy": "numpy"}
STARTUP_PEERS = ["fastbp-cold", "fastbp-warm", "torch", "jax-scan", "sklearn", "numpy"]
COMPILE_CASES = {"mnist-b16-sgd", "mnist-b64-sgd", "mnist-b256-sgd", "wide-b256-sgd"}

OPTIMIZERS = {  # name -> (kind, lr, momentum)
    "sgd": ("sgd", 0.01, 0.0),
    "sgd0.1": ("sgd", 0.1, 0.0),
    "momentum": ("sgd", 0.01, 0.9),
    "adam": ("adam", 1e-3, 0.0),
}
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def _case(name, sizes, batch, optimizer="sgd", activation="relu", n_samples=10240, kind="train",
          quick=False, peers=None):
    peers = list(peers or [p for p in PEERS if p != "torch-compile" or name in COMPILE_CASES])
    return dict(name=name, sizes=sizes, batch=batch, optimizer=optimizer, activation=activation,
                n_samples=n_samples, kind=kind, quick=quick, peers=peers)


def _cases():
    cases = [
        _case("tiny-b1-sgd", [16, 32, 1], 1, "sgd0.1", "sigmoid"),
        _case("small-b1-sgd", [64, 32, 10], 1, "sgd0.1", "sigmoid", quick=True),
    ]
    for opt in ("sgd", "momentum", "adam"):
        for b in (1, 16, 64, 256):
            quick = (opt, b) in {("sgd", 1), ("sgd", 16), ("sgd", 64), ("sgd", 256), ("adam", 16)}
            cases.append(_case(f"mnist-b{b}-{opt}", [784, 128, 10], b, opt, quick=quick))
    cases += [
        _case("wide-b256-sgd", [784, 1024, 1024, 10], 256, n_samples=8192, quick=True),
        _case("wide2-b512-sgd", [1024, 2048, 10], 512, n_samples=8192),
        _case("predict-mnist", [784, 128, 10], 4096, n_samples=20480, kind="predict", quick=True,
              peers=["fastbp", "torch", "jax-jit", "sklearn", "numpy"]),
        _case("predict-wide", [784, 1024, 1024, 10], 4096, n_samples=8192, kind="predict",
              peers=["fastbp", "torch", "jax-jit", "sklearn", "numpy"]),
        _case("startup", [784, 128, 10], 32, "sgd", n_samples=10000, kind="startup", quick=True,
              peers=STARTUP_PEERS),
    ]
    return {c["name"]: c for c in cases}


CASES = _cases()


def train_flops_per_sample(sizes):
    """≈ 6 · Σ n_in · n_out: forward, δ recursion and weight gradient."""
    return 6 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def exact_train_flops_per_sample(sizes):
    """Multiply-add FLOPs of one training sample, counted per layer: forward
    and weight gradient 2 · n_in · n_out each, the δ recursion 2 · n_in · n_out
    for every layer but the first (the input needs no δ)."""
    macs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 4 * sum(macs) + 2 * sum(macs[1:])


# =========================================================================== data
def case_data(case):
    """Seeded inputs (float32), integer labels and one-hot targets."""
    from benchmarks.common import make_data

    sizes = case["sizes"]
    X, y = make_data(case["n_samples"], sizes[0], sizes[-1], np.float32, seed=0)
    if sizes[-1] == 1:
        Y = y.astype(np.float32).reshape(-1, 1)
    else:
        Y = np.eye(sizes[-1], dtype=np.float32)[y]
    return X, y, Y


def glorot(sizes, seed=0):
    """Glorot-uniform weights ``(n_out, n_in)`` and zero biases, for the peers
    that do not initialise themselves (JAX, NumPy)."""
    rng = np.random.default_rng(seed)
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = math.sqrt(6.0 / (n_in + n_out))
        params.append((rng.uniform(-bound, bound, (n_out, n_in)).astype(np.float32),
                       np.zeros(n_out, np.float32)))
    return params


# ======================================================================= timing
def _timed(fn, *args):
    t0 = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t0


def measure_training(train, case, reps, target_s, epoch_timer=None):
    """Samples/s of ``train(n)`` (train on the first ``n`` samples, one pass).

    ``epoch_timer(n, k)``, when given, runs ``k`` passes over ``n`` samples in
    one call and returns the ``k`` durations (fastbp: between fit callbacks).
    """
    b, n_total = case["batch"], case["n_samples"]
    whole = lambda n: max(b, min(n_total, (int(n) // b) * b))  # noqa: E731
    # Calibrate: grow the run until it takes a quarter of the target; each size
    # is run twice and the second run timed (jax.lax.scan compiles per length).
    n = whole(max(64, b))
    t_first = None
    while True:
        t_warm = _timed(train, n)
        t_first = t_warm if t_first is None else t_first
        t = _timed(train, n)
        if t >= target_s / 4 or n >= n_total:
            break
        n = whole(n * min(16.0, max(2.0, target_s / 4 / max(t, 1e-9))))
    n_cal, n = n, whole(n / max(t, 1e-9) * target_s)
    if n != n_cal:
        train(n)  # warm-up at the timed size
    if epoch_timer is not None:
        times = epoch_timer(n, reps)
    else:
        times = [_timed(train, n) for _ in range(reps)]
    rates = [n / t for t in times]
    return dict(samples_per_s=n / statistics.median(times), rates=rates, n_timed=n, n_total=n_total,
                extrapolated=n < n_total, first_call_s=t_first)


def measure_predict(predict, case, reps):
    n = case["n_samples"]
    t_first = _timed(predict)
    predict()
    times = [_timed(predict) for _ in range(reps)]
    return dict(samples_per_s=n / statistics.median(times), rates=[n / t for t in times], n_timed=n,
                n_total=n, extrapolated=False, first_call_s=t_first)


# ====================================================================== workers
class Skip(Exception):
    """A peer that cannot run here (not installed, compile failure...)."""


def _limit_threads(threads):
    """Pin the process to ``threads`` cores (when fewer than it may use)."""
    try:
        allowed = sorted(os.sched_getaffinity(0))
        if threads < len(allowed):
            os.sched_setaffinity(0, allowed[:threads])
    except (AttributeError, OSError):
        pass


# --------------------------------------------------------------------- fastbp
def fastbp_runner(case, threads, data):
    import fastbp

    sizes = case["sizes"]
    act = case["activation"]
    if sizes[-1] == 1:
        net = fastbp.Network(sizes, activation=act, output="sigmoid", loss="binary_cross_entropy",
                             dtype=np.float32, seed=0)
    else:
        net = fastbp.Network(sizes, activation=act, output="softmax", loss="cross_entropy",
                             dtype=np.float32, seed=0)
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    if kind == "sgd":
        opt = fastbp.SGD(lr=lr, momentum=mu)
    else:
        opt = fastbp.Adam(lr=lr, beta1=ADAM_BETAS[0], beta2=ADAM_BETAS[1], eps=ADAM_EPS)
    X, y, Y = data
    b = case["batch"]

    def train(n):
        net.fit(X[:n], Y[:n], epochs=1, batch_size=b, optimizer=opt, n_threads=threads)

    def epoch_timer(n, k):
        stamps = []
        net.fit(X[:n], Y[:n], epochs=k + 1, batch_size=b, optimizer=opt, n_threads=threads,
                callbacks=[lambda *_: stamps.append(time.perf_counter())])
        return list(np.diff(stamps))

    def predict():
        net.predict(X, n_threads=threads)

    return dict(train=train, epoch_timer=epoch_timer, predict=predict)


# ---------------------------------------------------------------------- torch
def torch_runner(case, threads, data, compiled=False):
    try:
        import torch
    except ImportError as error:
        raise Skip(f"PyTorch not installed ({error}); pip install torch==2.13.0") from None
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    sizes = case["sizes"]
    act = torch.nn.ReLU if case["activation"] == "relu" else torch.nn.Sigmoid
    layers = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(act())
    model = torch.nn.Sequential(*layers)
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=mu)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS)
    X, y, Y = data
    Xt = torch.from_numpy(X)
    if sizes[-1] == 1:
        yt = torch.from_numpy(Y)
        loss_fn = torch.nn.BCEWithLogitsLoss()
    else:
        yt = torch.from_numpy(y)
        loss_fn = torch.nn.CrossEntropyLoss()
    run = model
    if compiled:
        try:
            run = torch.compile(model)
            with torch.no_grad():
                run(Xt[:case["batch"]])
        except Exception as error:  # noqa: BLE001 - any compile failure means skip
            raise Skip(f"torch.compile failed: {type(error).__name__}: {str(error).splitlines()[0][:200]}") from None
    b = case["batch"]
    gen = torch.Generator().manual_seed(0)

    def train(n):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, b):
            idx = perm[i:i + b]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(run(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    def predict():
        with torch.inference_mode():
            run(Xt).argmax(dim=1)

    return dict(train=train, predict=predict)


# ------------------------------------------------------------------------ JAX
def jax_runner(case, threads, data, scan):
    try:
        import jax
    except ImportError as error:
        raise Skip(f"JAX not installed ({error}); pip install jax jaxlib") from None
    import jax.numpy as jnp
    from jax import lax

    jax.config.update("jax_platforms", "cpu")
    sizes = case["sizes"]
    act = jax.nn.relu if case["activation"] == "relu" else jax.nn.sigmoid
    binary = sizes[-1] == 1
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    b1, b2 = ADAM_BETAS
    params = [(jnp.asarray(W.T.copy()), jnp.asarray(c)) for W, c in glorot(sizes)]  # (n_in, n_out)

    def forward(params, x):
        h = x
        for W, c in params[:-1]:
            h = act(h @ W + c)
        W, c = params[-1]
        return h @ W + c

    def loss_fn(params, x, t):
        z = forward(params, x)
        if binary:
            per = jnp.maximum(z, 0) - z * t + jnp.log1p(jnp.exp(-jnp.abs(z)))
            return jnp.mean(jnp.sum(per, axis=1))
        return jnp.mean(jax.nn.logsumexp(z, axis=1) - jnp.sum(z * t, axis=1))

    grad = jax.grad(loss_fn)
    tree_map = jax.tree_util.tree_map
    zeros = lambda: tree_map(jnp.zeros_like, params)  # noqa: E731
    if kind == "sgd" and mu == 0:
        state = ()
    elif kind == "sgd":
        state = zeros()
    else:
        state = (zeros(), zeros(), jnp.zeros((), jnp.float32))

    def update(params, state, g):  # PyTorch's formulas
        if kind == "sgd" and mu == 0:
            return tree_map(lambda p, q: p - lr * q, params, g), state
        if kind == "sgd":
            v = tree_map(lambda v, q: mu * v + q, state, g)
            return tree_map(lambda p, v: p - lr * v, params, v), v
        m, v, t = state
        t = t + 1
        m = tree_map(lambda m, q: b1 * m + (1 - b1) * q, m, g)
        v = tree_map(lambda v, q: b2 * v + (1 - b2) * q * q, v, g)
        step = lr / (1 - b1 ** t)
        root = jnp.sqrt(1 - b2 ** t)
        params = tree_map(lambda p, m, v: p - step * m / (jnp.sqrt(v) / root + ADAM_EPS), params, m, v)
        return params, (m, v, t)

    def step(carry, idx, X, T):
        params, state = carry
        g = grad(params, X[idx], T[idx])
        return update(params, state, g)

    @jax.jit
    def step_rows(params, state, X, T, idx):  # one batch, its rows given by idx
        return step((params, state), idx, X, T)

    b = case["batch"]

    @jax.jit
    def jit_step(params, state, X, T, perm, i):
        idx = lax.dynamic_slice_in_dim(perm, i * b, b)
        return step((params, state), idx, X, T)

    @jax.jit
    def epoch(params, state, X, T, perm):
        nb = perm.shape[0] // b
        body = lambda carry, idx: (step(carry, idx, X, T), None)  # noqa: E731
        (params, state), _ = lax.scan(body, (params, state), perm[:nb * b].reshape(nb, b))
        return params, state

    @jax.jit
    def predict_jit(params, X):
        return jnp.argmax(forward(params, X), axis=1)

    X, y, Y = data
    Xj, Tj = jnp.asarray(X), jnp.asarray(Y)
    rng = np.random.default_rng(0)
    holder = {"p": params, "s": state}

    def train(n):
        perm = jnp.asarray(rng.permutation(n).astype(np.int32))
        p, s = holder["p"], holder["s"]
        if scan:
            p, s = epoch(p, s, Xj, Tj, perm)
            tail = n % b
            if tail:
                p, s = step_rows(p, s, Xj, Tj, perm[n - tail:])
        else:
            for i in range(n // b):
                p, s = jit_step(p, s, Xj, Tj, perm, i)
            if n % b:
                p, s = step_rows(p, s, Xj, Tj, perm[n - n % b:])
        jax.block_until_ready(p)
        holder["p"], holder["s"] = p, s

    def predict():
        jax.block_until_ready(predict_jit(holder["p"], Xj))

    return dict(train=train, predict=predict)


# -------------------------------------------------------------- scikit-learn
def sklearn_runner(case, threads, data):
    try:
        from sklearn.neural_network import MLPClassifier
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise Skip(f"scikit-learn not installed ({error})") from None
    import warnings

    warnings.filterwarnings("ignore")
    threadpool_limits(threads)
    sizes = case["sizes"]
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    clf = MLPClassifier(hidden_layer_sizes=tuple(sizes[1:-1]),
                        activation="relu" if case["activation"] == "relu" else "logistic",
                        solver="sgd" if kind == "sgd" else "adam", alpha=0.0, batch_size=case["batch"],
                        learning_rate="constant", learning_rate_init=lr, momentum=mu, nesterovs_momentum=False,
                        beta_1=ADAM_BETAS[0], beta_2=ADAM_BETAS[1], epsilon=ADAM_EPS, shuffle=True,
                        random_state=0)
    X, y, Y = data
    classes = np.arange(max(2, sizes[-1]))

    def train(n):
        clf.partial_fit(X[:n], y[:n], classes=classes)

    def predict():
        clf.predict(X)

    if case["kind"] == "predict":
        clf.partial_fit(X[:256], y[:256], classes=classes)
    return dict(train=train, predict=predict)


# ---------------------------------------------------------------------- NumPy
def numpy_runner(case, threads, data):
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    sizes = case["sizes"]
    sigmoid_hidden = case["activation"] == "sigmoid"
    binary = sizes[-1] == 1
    kind, lr, mu = OPTIMIZERS[case["optimizer"]]
    b1, b2 = ADAM_BETAS
    params = [p for pair in glorot(sizes) for p in pair]  # W0, b0, W1, b1, ...
    state = [[np.zeros_like(p) for p in params] for _ in range(2)]
    t_step = [0]
    L = len(sizes) - 1
    X, y, Y = data
    b = case["batch"]
    rng = np.random.default_rng(0)

    def forward(x):
        acts = [x]
        for l in range(L):
            z = acts[-1] @ params[2 * l].T
            z += params[2 * l + 1]
            if l < L - 1:
                if sigmoid_hidden:
                    z = 1.0 / (1.0 + np.exp(-z))
                else:
                    np.maximum(z, 0, out=z)
            acts.append(z)
        return acts

    def apply(i, g):
        p = params[i]
        if kind == "sgd" and mu == 0:
            p -= lr * g
        elif kind == "sgd":
            v = state[0][i]
            v *= mu
            v += g
            p -= lr * v
        else:
            m, v = state[0][i], state[1][i]
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            t = t_step[0]
            p -= (lr / (1 - b1 ** t)) * m / (np.sqrt(v) / math.sqrt(1 - b2 ** t) + ADAM_EPS)

    def train(n):
        perm = rng.permutation(n)
        for i in range(0, n, b):
            idx = perm[i:i + b]
            acts = forward(X[idx])
            z = acts[-1]
            if binary:
                a = 1.0 / (1.0 + np.exp(-z))
            else:
                z -= z.max(axis=1, keepdims=True)
                a = np.exp(z)
                a /= a.sum(axis=1, keepdims=True)
            delta = (a - Y[idx]) / len(idx)
            t_step[0] += 1
            for l in range(L - 1, -1, -1):
                gW = delta.T @ acts[l]
                gb = delta.sum(axis=0)
                if l > 0:
                    h = acts[l]
                    delta = delta @ params[2 * l]
                    delta *= h * (1 - h) if sigmoid_hidden else (h > 0)
                apply(2 * l, gW)
                apply(2 * l + 1, gb)

    def predict():
        np.argmax(forward(X)[-1], axis=1)

    return dict(train=train, predict=predict)


RUNNERS = {  # each: (case, threads, (X, y, Y)) -> dict(train=..., predict=..., [epoch_timer=...])
    "fastbp": fastbp_runner,
    "torch": lambda case, threads, data: torch_runner(case, threads, data, compiled=False),
    "torch-compile": lambda case, threads, data: torch_runner(case, threads, data, compiled=True),
    "jax-jit": lambda case, threads, data: jax_runner(case, threads, data, scan=False),
    "jax-scan": lambda case, threads, data: jax_runner(case, threads, data, scan=True),
    "sklearn": sklearn_runner,
    "numpy": numpy_runner,
}


def blas_peak(threads, size, reps):
    """GFLOP/s of NumPy sgemm and dgemm on ``size × size`` matrices."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(threads)
    rng = np.random.default_rng(0)
    out = {}
    for dtype in ("float32", "float64"):
        A = rng.standard_normal((size, size)).astype(dtype)
        B = rng.standard_normal((size, size)).astype(dtype)
        C = np.empty_like(A)
        np.matmul(A, B, out=C)
        times = [_timed(np.matmul, A, B, C) for _ in range(reps)]
        flops = 2.0 * size ** 3
        out[dtype] = dict(median=flops / statistics.median(times) / 1e9, best=flops / min(times) / 1e9)
    return out


def worker(args):
    """One peer, one case, in this process; prints one JSON line."""
    _limit_threads(args.threads)
    t_main = time.time()
    if args.worker == "blas":
        print(json.dumps(blas_peak(args.threads, args.blas_size, max(10, args.reps))))
        return
    case = dict(CASES[args.case])
    peer = args.worker
    if case["kind"] == "startup":
        case["n_samples"] = int(np.load(os.path.join(args.data, "X.npy"), mmap_mode="r").shape[0])
    try:
        if case["kind"] == "startup":
            result = _startup_child(peer, case, args, t_main)
        else:
            runner = RUNNERS[peer](case, args.threads, case_data(case))
            if case["kind"] == "predict":
                result = measure_predict(runner["predict"], case, args.reps)
            else:
                result = measure_training(runner["train"], case, args.reps, args.target_s,
                                          runner.get("epoch_timer"))
    except Skip as skip:
        result = {"skipped": str(skip)}
    print(json.dumps(result))


def _startup_child(peer, case, args, t_main):
    """Import, load the data, train one epoch; report wall-clock stamps."""
    name = peer.split("-")[0] if peer.startswith("fastbp") else peer
    t0 = time.perf_counter()
    if name == "fastbp":
        import fastbp  # noqa: F401
    elif name == "torch":
        import torch  # noqa: F401
    elif name.startswith("jax"):
        import jax  # noqa: F401
    elif name == "sklearn":
        import sklearn.neural_network  # noqa: F401
    t_import = time.perf_counter() - t0
    X = np.load(os.path.join(args.data, "X.npy"))
    y = np.load(os.path.join(args.data, "y.npy"))
    Y = np.eye(case["sizes"][-1], dtype=np.float32)[y]
    t1 = time.perf_counter()
    runner = RUNNERS[name](case, args.threads, (X, y, Y))
    runner["train"](case["n_samples"])
    t_epoch = time.perf_counter() - t1
    return {"end": time.time(), "import_s": t_import, "first_epoch_s": t_epoch, "python_start": t_main}


# ======================================================================= parent
def _cpu_busy_seconds():
    """Busy CPU seconds of the whole machine so far (from /proc/stat)."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def child_env(threads, extra=None):
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
                "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        env[var] = str(threads)
    multi = "true" if threads > 1 else "false"
    env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") + f" --xla_cpu_multi_thread_eigen={multi}"
                        f" intra_op_parallelism_threads={threads}").strip()
    env["JAX_PLATFORMS"] = "cpu"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra or {})
    return env


def background_load(seconds=1.0):
    """Cores busy over ``seconds`` (this process sleeps meanwhile)."""
    busy0 = _cpu_busy_seconds()
    time.sleep(seconds)
    busy1 = _cpu_busy_seconds()
    return None if busy0 is None or busy1 is None else (busy1 - busy0) / seconds


def wait_quiet(args, log):
    """With ``--wait-quiet S``: wait up to S seconds for the other processes
    to use less than ``--quiet-below`` cores (the machine is shared)."""
    if not args.wait_quiet:
        return
    deadline = time.time() + args.wait_quiet
    load = background_load()
    while load is not None and load > args.quiet_below and time.time() < deadline:
        load = background_load()
    if load is not None and load > args.quiet_below:
        log(f"  (machine still busy: {load:.2f} cores used by others; going on)")


def run_worker(peer, case_name, args, extra_env=None, extra_args=(), timeout=None):
    """Run one worker process; return (result dict, wall seconds, bg load)."""
    cmd = [sys.executable, "-m", "benchmarks.compare", "--worker", peer, "--case", case_name,
           "--threads", str(args.threads), "--reps", str(args.reps), "--target-s", str(args.target_s),
           *extra_args]
    extra_env = dict(extra_env or {})
    if peer.startswith("fastbp"):
        extra_env["FASTBP_BLAS"] = args.fastbp_blas  # fastbp.blas reads it at import
    busy0 = _cpu_busy_seconds()
    self0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.time()
    try:
        done = subprocess.run(cmd, env=child_env(args.threads, extra_env), capture_output=True, text=True,
                              timeout=timeout or args.timeout)
    except subprocess.TimeoutExpired:
        return {"skipped": f"timed out after {timeout or args.timeout} s"}, time.time() - start, None
    wall = time.time() - start
    self1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1 = _cpu_busy_seconds()
    bg = None
    if busy0 is not None and busy1 is not None:
        ours = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
        bg = max(0.0, (busy1 - busy0) - ours) / max(wall, 1e-9)
    lines = [line for line in done.stdout.strip().splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1][:300]
        return {"skipped": f"worker failed (exit {done.returncode}): {tail}"}, wall, bg
    result = json.loads(lines[-1])
    result["start"] = start
    return result, wall, bg


def run_training_case(case, peers, args, log):
    """Every peer once per round (``--rounds``), interleaved; a peer's figure is
    the median over rounds of its per-round median."""
    rounds = {peer: [] for peer in peers}
    loads = []
    for r in range(args.rounds):
        for peer in peers:
            wait_quiet(args, log)
            result, wall, bg = run_worker(peer, case["name"], args)
            if bg is not None:
                loads.append(bg)
            result["bg_load"] = bg
            rounds[peer].append(result)
            tag = f"{peer:14s}" + (f" r{r + 1}" if args.rounds > 1 else "")
            if "skipped" in result:
                log(f"  {tag} skipped: {result['skipped']}")
                continue
            spread = f"{min(result['rates']):,.0f}-{max(result['rates']):,.0f}"
            extra = f" (timed {result['n_timed']} of {result['n_total']} samples, extrapolated)" \
                if result["extrapolated"] else ""
            load = f", bg load {bg:.2f}" if bg is not None else ""
            log(f"  {tag} {result['samples_per_s']:>12,.0f} samples/s  [runs {spread}]"
                f"  process {wall:.1f} s{load}{extra}")
    results = {}
    for peer, runs in rounds.items():
        ok = [run for run in runs if "skipped" not in run]
        if not ok:
            results[peer] = runs[-1]
            continue
        merged = dict(ok[0])
        merged["samples_per_s"] = statistics.median(run["samples_per_s"] for run in ok)
        merged["rates"] = [rate for run in ok for rate in run["rates"]]
        merged["round_figures"] = [run["samples_per_s"] for run in ok]
        merged["extrapolated"] = any(run["extrapolated"] for run in ok)
        results[peer] = merged
    return results, loads


def run_startup_case(case, peers, args, log):
    """Spawn → end of first epoch, for each peer; fastbp cold and warm."""
    results = {}
    loads = []
    runs = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="fastbp-compare-") as tmp:
        from benchmarks.common import make_data

        X, y = make_data(case["n_samples"], case["sizes"][0], case["sizes"][-1], np.float32, seed=0)
        np.save(os.path.join(tmp, "X.npy"), X)
        np.save(os.path.join(tmp, "y.npy"), y)
        cache = os.path.join(tmp, "numba-cache")
        os.mkdir(cache)
        for peer in peers:
            extra = {"NUMBA_CACHE_DIR": cache}
            if peer == "fastbp-cold":
                n_runs = 1
            else:
                n_runs = runs
            samples = []
            for _ in range(n_runs):
                wait_quiet(args, log)
                if peer == "fastbp-cold":
                    extra = {"NUMBA_CACHE_DIR": tempfile.mkdtemp(dir=tmp)}
                result, wall, bg = run_worker(peer, case["name"], args, extra, ("--data", tmp))
                if bg is not None:
                    loads.append(bg)
                if "skipped" in result:
                    samples = result
                    break
                samples.append(dict(total=result["end"] - result["start"], import_s=result["import_s"],
                                    first_epoch_s=result["first_epoch_s"]))
            if peer == "fastbp-cold" and isinstance(samples, list):
                # Fill the shared cache for fastbp-warm (the cold run used its own).
                run_worker("fastbp-warm", case["name"], args, {"NUMBA_CACHE_DIR": cache}, ("--data", tmp))
            if isinstance(samples, dict):
                results[peer] = samples
                log(f"  {peer:14s} skipped: {samples['skipped']}")
                continue
            med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
            results[peer] = dict(med, runs=len(samples))
            log(f"  {peer:14s} start→end of epoch 1: {med['total']:6.2f} s  (import {med['import_s']:.2f} s, "
                f"first epoch incl. compile {med['first_epoch_s']:.2f} s; median of {len(samples)})")
    return results, loads


def measure_blas(args, log):
    wait_quiet(args, log)
    blas, _, _ = run_worker("blas", "-", args, extra_args=("--blas-size", str(args.blas_size)))
    if "skipped" in blas:
        log(f"BLAS peak: {blas['skipped']}")
        return None
    log(f"BLAS peak: sgemm {blas['float32']['best']:.1f} GFLOP/s (median {blas['float32']['median']:.1f}), "
        f"dgemm {blas['float64']['best']:.1f} GFLOP/s (median {blas['float64']['median']:.1f})")
    return blas


def merge_blas(first, second):
    if not first or not second:
        return first or second
    return {dtype: dict(best=max(first[dtype]["best"], second[dtype]["best"]),
                        median=max(first[dtype]["median"], second[dtype]["median"]))
            for dtype in ("float32", "float64")}


def fmt_rate(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f}M"
    if v >= 1e3:
        return f"{v / 1e3:.1f}k"
    return f"{v:.0f}"


def summarize(all_results, blas, args):
    """Rows of the main table and of the start-up table."""
    rows = []
    peak32 = blas["float32"]["best"] if blas else None
    for name, entry in all_results.items():
        case, res = entry["case"], entry["results"]
        if case["kind"] == "startup":
            continue
        rates = {p: r["samples_per_s"] for p, r in res.items() if "samples_per_s" in r}
        marks = {p: "*" if r.get("extrapolated") else "" for p, r in res.items() if "samples_per_s" in r}
        peers = [p for p in rates if p != "fastbp"]
        fast = rates.get("fastbp")
        best = max(peers, key=lambda p: rates[p]) if peers else None
        predict = case["kind"] == "predict"
        flops = train_flops_per_sample(case["sizes"]) / (3 if predict else 1)
        exact = flops if predict else exact_train_flops_per_sample(case["sizes"])
        row = dict(case=name, kind=case["kind"], batch=case["batch"], optimizer=case["optimizer"],
                   sizes="-".join(map(str, case["sizes"])), rates=rates, marks=marks,
                   skipped={p: r["skipped"] for p, r in res.items() if "skipped" in r},
                   best=best, ratio=(fast / rates[best]) if fast and best else None,
                   ratios={p: fast / rates[p] for p in peers} if fast else {},
                   peak_fraction=(fast * flops / 1e9 / peak32) if fast and peak32 else None,
                   exact_peak_fraction=(fast * exact / 1e9 / peak32) if fast and peak32 else None,
                   bg_load=max(entry["loads"]) if entry["loads"] else None)
        rows.append(row)
    return rows


def print_tables(rows, startup, blas, args, markdown, out=print):
    cols = [p for p in PEERS if any(p in r["rates"] or p in r["skipped"] for r in rows)]
    head = ["case", "net", "batch", "opt"] + [PEER_TITLES[p] for p in cols] + \
        ["fastest peer", "fastbp / fastest", "fastbp % sgemm", "(exact FLOPs)", "bg load"]
    table = []
    for r in rows:
        cells = [r["case"], r["sizes"], str(r["batch"]) if r["kind"] == "train" else "predict",
                 r["optimizer"] if r["kind"] == "train" else ""]
        for p in cols:
            if p in r["rates"]:
                cells.append(fmt_rate(r["rates"][p]) + r["marks"][p])
            else:
                cells.append("skip" if p in r["skipped"] else "")
        cells.append(PEER_TITLES.get(r["best"], "—") if r["best"] else "—")
        cells.append(f"{r['ratio']:.2f}×" if r["ratio"] else "—")
        cells.append(f"{100 * r['peak_fraction']:.0f}%" if r["peak_fraction"] else "—")
        exact = r.get("exact_peak_fraction")
        cells.append(f"{100 * exact:.0f}%" if exact else "—")
        cells.append(f"{r['bg_load']:.2f}" if r["bg_load"] is not None else "—")
        table.append(cells)
    _emit(head, table, markdown, out)
    out("")
    out("samples/s (rows/s for predict), median of the timed runs; * = timed on a fraction of an epoch "
        "and extrapolated; fastbp % sgemm = fastbp's FLOP rate (6·Σ n_in·n_out per trained sample, "
        "2·Σ per predicted row) over the measured sgemm peak; (exact FLOPs) counts no δ for the first layer "
        "(4·Σ + 2·Σ over the other layers); bg load = CPU cores used by other "
        "processes while the case ran (max over its peers).")
    out("")
    # Ratio fastbp / each peer.
    head2 = ["case"] + [f"fastbp / {PEER_TITLES[p]}" for p in cols if p != "fastbp"]
    table2 = [[r["case"]] + [f"{r['ratios'][p]:.2f}×" if p in r["ratios"] else "—" for p in cols if p != "fastbp"]
              for r in rows]
    _emit(head2, table2, markdown, out)
    if startup:
        out("")
        head3 = ["start-up (784-128-10, 10,000 samples, batch 32, SGD)", "spawn → end of epoch 1 (s)",
                 "import (s)", "first epoch incl. compile (s)", "runs"]
        table3 = []
        for peer, r in startup.items():
            if "skipped" in r:
                table3.append([peer, "skip", "", "", ""])
            else:
                table3.append([peer, f"{r['total']:.2f}", f"{r['import_s']:.2f}", f"{r['first_epoch_s']:.2f}",
                               str(r["runs"])])
        _emit(head3, table3, markdown, out)
    if blas:
        out("")
        out(f"BLAS peak (NumPy matmul {args.blas_size}², {args.threads} thread(s), best of 10 runs at the start "
            "and 10 at the end): sgemm "
            f"{blas['float32']['best']:.1f} GFLOP/s (median {blas['float32']['median']:.1f}), dgemm "
            f"{blas['float64']['best']:.1f} GFLOP/s (median {blas['float64']['median']:.1f}); the % column uses "
            "the best sgemm run")
    skipped = sorted({f"{PEER_TITLES.get(p, p)}: {why}" for r in rows for p, why in r["skipped"].items()})
    for line in skipped:
        out(f"skipped — {line}")


def _emit(head, table, markdown, out):
    if markdown:
        out("| " + " | ".join(head) + " |")
        out("|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|")
        for cells in table:
            out("| " + " | ".join(cells) + " |")
        return
    widths = [max(len(h), *(len(c[i]) for c in table)) if table else len(h) for i, h in enumerate(head)]
    out("  ".join(h.ljust(w) for h, w in zip(head, widths)))
    for cells in table:
        out("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))))


def machine_line(threads):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{cpu}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
            f"{threads} thread(s) per peer")


def versions():
    out = {}
    for name in ("fastbp", "numpy", "numba", "torch", "jax", "jaxlib", "sklearn"):
        try:
            from importlib.metadata import version

            out[name] = version("scikit-learn" if name == "sklearn" else name)
        except Exception:  # noqa: BLE001
            out[name] = None
    return out


def select_cases(patterns, quick):
    if not patterns:
        return [c for c in CASES.values() if c["quick"] or not quick]
    chosen = []
    for name, case in CASES.items():
        if any(fnmatch.fnmatch(name, p) for p in patterns):
            chosen.append(case)
    if not chosen:
        raise SystemExit(f"no case matches {patterns}; cases: {', '.join(CASES)}")
    return chosen


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare",
                                description="fastbp against PyTorch, JAX, scikit-learn and NumPy "
                                            "(each peer in its own process).")
    p.add_argument("--quick", action="store_true", help="fewer cases, 3 timed runs of ~0.2 s each")
    p.add_argument("--threads", type=int, default=None, help="threads per peer (default: all cores)")
    p.add_argument("--cases", nargs="+", default=None, help="case names or glob patterns (see --list)")
    p.add_argument("--peers", nargs="+", default=None, choices=PEERS + STARTUP_PEERS, help="peers to run")
    p.add_argument("--markdown", action="store_true", help="print the tables as markdown")
    p.add_argument("--json", default=None, help="also write every raw result to this JSON file")
    p.add_argument("--list", action="store_true", help="list the cases and exit")
    p.add_argument("--reps", type=int, default=None, help="timed runs per peer (default 5, quick 3)")
    p.add_argument("--rounds", type=int, default=1,
                   help="run every peer of a case this many times, interleaved (median of rounds)")
    p.add_argument("--target-s", type=float, default=None,
                   help="seconds per timed run (default 0.3, quick 0.2)")
    p.add_argument("--timeout", type=float, default=300, help="seconds before a worker is killed")
    p.add_argument("--blas-size", type=int, default=2048, help="matrix size of the BLAS peak")
    p.add_argument("--fastbp-blas", default="openblas", choices=["openblas", "mkl"],
                   help="BLAS of fastbp's kernels (mkl: pip install \"fastbp[mkl]\"; see fastbp.blas.use)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="S",
                   help="before each worker, wait up to S seconds for the machine to be quiet")
    p.add_argument("--quiet-below", type=float, default=0.25, metavar="CORES",
                   help="'quiet' means other processes use fewer cores than this (default 0.25)")
    p.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)
    p.add_argument("--data", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    if args.reps is None:
        args.reps = 3 if args.quick else 5
    if args.target_s is None:
        args.target_s = 0.2 if args.quick else 0.3
    if args.worker:
        worker(args)
        return
    if args.list:
        for name, c in CASES.items():
            print(f"{name:18s} {c['kind']:8s} {'-'.join(map(str, c['sizes'])):18s} batch {c['batch']:5d} "
                  f"{c['optimizer']:8s} {c['n_samples']:6d} samples  {'quick ' if c['quick'] else ''}"
                  f"peers: {' '.join(c['peers'])}")
        return

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.time()
    log(f"# {machine_line(args.threads)}")
    log(f"# versions: {json.dumps(versions())}; fastbp BLAS: {args.fastbp_blas}")
    blas = measure_blas(args, log)
    all_results = {}
    startup = None
    for case in select_cases(args.cases, args.quick):
        peers = [p for p in case["peers"] if not args.peers or p in args.peers or
                 (p.startswith("fastbp") and "fastbp" in args.peers)]
        if not peers:
            continue
        log(f"{case['name']}: {'-'.join(map(str, case['sizes']))}, {case['kind']}, batch {case['batch']}, "
            f"{case['optimizer']}, {case['n_samples']} samples")
        if case["kind"] == "startup":
            startup, loads = run_startup_case(case, peers, args, log)
        else:
            results, loads = run_training_case(case, peers, args, log)
            all_results[case["name"]] = dict(case=case, results=results, loads=loads)
    if len(all_results) > 1 or startup:
        blas = merge_blas(blas, measure_blas(args, log))  # again at the end: the best of both is the peak
    rows = summarize(all_results, blas, args)
    print(f"{time.strftime('%Y-%m-%d %H:%M')} — {machine_line(args.threads)}; fastbp BLAS: {args.fastbp_blas}")
    print("")
    print_tables(rows, startup, blas, args, args.markdown)
    log(f"# total {time.time() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(machine=machine_line(args.threads), versions=versions(), threads=args.threads,
                           date=time.strftime("%Y-%m-%d %H:%M"), blas=blas, rows=rows, startup=startup,
                           raw={k: v["results"] for k, v in all_results.items()}, argv=sys.argv[1:]),
                      f, indent=1, default=str)


if __name__ == "__main__":
    main()
