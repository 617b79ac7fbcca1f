"""Subnormal floats are flushed to zero inside fastbp kernels, and only there.

Optimizer state that decays where gradients are zero reaches the subnormal
range, where x86 arithmetic is up to ~100x slower; fastbp's kernels set FTZ/DAZ
on the threads they run on and restore them afterwards (fastbp._fpenv).
"""
import platform

import numba
import numpy as np
import pytest

import fastbp

x86 = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"), reason="FTZ/DAZ is set on x86-64 only")
TINY = np.finfo(np.float32).tiny  # smallest normal float32


def one_weight_net(weight):
    return fastbp.Network([1, 1], weights=[np.array([[weight]], np.float32)], biases=[np.zeros(1, np.float32)])


@x86
def test_kernels_treat_subnormal_weights_as_zero():
    weight = np.float32(TINY / 8)  # subnormal
    assert weight != 0
    out = one_weight_net(weight).forward(np.ones((1, 1), np.float32))
    assert out[0, 0] == 0.0
    # Normal numbers are untouched.
    assert one_weight_net(np.float32(2 * TINY)).forward(np.ones((1, 1), np.float32))[0, 0] == np.float32(2 * TINY)


@numba.njit(parallel=True)
def _subnormal_products(x, out):
    for i in numba.prange(out.shape[0]):
        out[i] = x[i] * np.float32(0.125)


@pytest.mark.parametrize("n_threads", [1, 2])
def test_ieee_subnormals_restored_after_fastbp(n_threads):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 3)).astype(np.float32)
    y = rng.integers(0, 2, size=64)
    net = fastbp.Network([3, 4, 2], output="softmax", loss="cross_entropy", seed=0)
    net.fit(X, y, epochs=2, batch_size=1, optimizer=fastbp.Adam(0.01), n_threads=min(n_threads, numba.config.NUMBA_NUM_THREADS))
    net.fit(X, y, epochs=1, batch_size=16, n_threads=min(n_threads, numba.config.NUMBA_NUM_THREADS))
    net.predict(X)
    # The calling thread (NumPy) and numba's worker threads (the user's own
    # parallel kernels) compute subnormals again.
    assert np.float32(TINY) * np.float32(0.125) != 0
    x = np.full(4 * numba.get_num_threads(), TINY, np.float32)
    out = np.zeros_like(x)
    _subnormal_products(x, out)
    assert np.all(out == np.float32(TINY) * np.float32(0.125))


@x86
def test_decaying_optimizer_state_does_not_go_subnormal():
    # Input 0 never receives a gradient: Adam's moments of its weights only
    # decay (m ← β1·m) and would cross into the subnormal range.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(32, 2)).astype(np.float32)
    X[:, 0] = 0
    y = (X[:, 1] > 0).astype(int)
    net = fastbp.Network([2, 2], output="softmax", loss="cross_entropy", seed=0)
    optimizer = fastbp.Adam(0.01, beta1=0.9, beta2=0.9)
    net.fit(X[:1] + np.array([[1, 0]], np.float32), y[:1], epochs=1, batch_size=1, optimizer=optimizer)
    # 896 steps of 0.9x decay take the column-0 moments (~1e-2) to ~1e-43:
    # subnormal in IEEE arithmetic, zero with FTZ.
    net.fit(X, y, epochs=28, batch_size=1)
    state = optimizer.state
    assert not np.any((state != 0) & (np.abs(state) < TINY))
