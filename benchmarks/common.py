"""Shared helpers of the benchmarks: seeded data, networks, optimizers.

Only numpy is imported at module level; fastbp is imported inside functions,
so that asv can discover the suite even where fastbp fails to import.
"""
import numpy as np


def make_data(n_samples, n_in, n_out, dtype=np.float32, seed=0):
    """Seeded synthetic classification data.

    Inputs are normal with variance ``1 / n_in`` (rows of unit norm on
    average, like normalised features); labels come from a random linear
    "teacher" (``argmax(X @ T)``), so they are learnable.  Both keep training
    stable over many epochs at every benchmarked learning rate (standard-normal
    inputs with random labels made per-sample SGD with momentum diverge).
    For ``n_out == 1`` the labels are 0/1 (binary classification).
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_in), dtype=np.float64) / np.sqrt(n_in)
    teacher = rng.standard_normal((n_in, max(2, n_out)))
    y = np.argmax(X @ teacher, axis=1)
    return X.astype(dtype), y


def make_optimizer(name, lr=None):
    """A fastbp optimizer by benchmark name: ``sgd``, ``momentum``, ``nesterov``,
    ``rmsprop``, ``adam``, ``adamw``."""
    import fastbp

    if name == "sgd":
        return fastbp.SGD(lr=lr or 0.01)
    if name == "momentum":
        return fastbp.SGD(lr=lr or 0.01, momentum=0.9)
    if name == "nesterov":
        return fastbp.SGD(lr=lr or 0.01, momentum=0.9, nesterov=True)
    if name == "rmsprop":
        return fastbp.RMSProp(lr=lr or 1e-3)
    if name == "adam":
        return fastbp.Adam(lr=lr or 1e-3)
    if name == "adamw":
        return fastbp.AdamW(lr=lr or 1e-3)
    raise ValueError(f"unknown optimizer {name!r}")


def make_network(sizes, dtype=np.float32, activation="relu"):
    """A classification network (softmax + cross-entropy; sigmoid + BCE for one output)."""
    import fastbp

    if sizes[-1] == 1:
        return fastbp.Network(sizes, activation=activation, output="sigmoid", loss="binary_cross_entropy",
                              dtype=dtype, seed=0)
    return fastbp.Network(sizes, activation=activation, output="softmax", loss="cross_entropy",
                          dtype=dtype, seed=0)


def thread_counts():
    """Thread counts to benchmark: 1 and every power of two up to
    ``numba.config.NUMBA_NUM_THREADS`` (and that maximum itself)."""
    import numba

    limit = int(numba.config.NUMBA_NUM_THREADS)
    counts = {1, limit}
    t = 2
    while t < limit:
        counts.add(t)
        t *= 2
    return sorted(counts)
