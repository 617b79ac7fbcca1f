"""The kernels against the plain NumPy reference (tests/naive.py)."""
import numpy as np
import pytest

import fastbp
from tests import naive

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
PAIRS = [("identity", "mse"), ("sigmoid", "mse"), ("softmax", "mse"),
         ("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")]
TOL = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-4, atol=2e-5)}


def make_targets(rng, loss, n, n_out):
    if loss == "cross_entropy":
        return np.eye(n_out)[rng.integers(0, n_out, size=n)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    return rng.normal(size=(n, n_out))


def cases():
    # depth 1..4, odd widths, batch 1 and odd batches, every activation somewhere
    yield [5, 3], 1
    yield [7, 5, 3], 9
    yield [3, 11, 4, 2], 13
    yield [6, 9, 7, 5, 3], 1
    yield [4, 17, 3], 33


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("bias", [True, False])
def test_forward_loss_gradients_match_reference(dtype, output, loss, bias):
    rng = np.random.default_rng(hash((output, loss, bias)) % 2**32)
    for k, (sizes, n) in enumerate(cases()):
        acts = [HIDDEN[(k + i) % len(HIDDEN)] for i in range(len(sizes) - 2)]
        net = fastbp.Network(sizes, activation=acts, output=output, loss=loss, dtype=dtype, seed=k, bias=bias)
        X = rng.normal(size=(n, sizes[0]))
        Y = make_targets(rng, loss, n, sizes[-1])
        W = [w.astype(np.float64) for w in net.weights]
        b = [v.astype(np.float64) for v in net.biases] if bias else None
        zs, As = naive.forward(W, b, acts, output, X.astype(dtype).astype(np.float64))
        np.testing.assert_allclose(net.forward(X), As[-1], **TOL[dtype])
        L, dWs, dbs, deltas = naive.backward(W, b, acts, output, loss, X.astype(dtype).astype(np.float64), Y)
        assert net.loss(X, Y) == pytest.approx(L, rel=TOL[dtype]["rtol"], abs=TOL[dtype]["atol"])
        grads, got_deltas = net.gradients(X, Y, return_deltas=True)
        for l in range(len(sizes) - 1):
            assert grads[l].dW.dtype == dtype
            np.testing.assert_allclose(grads[l].dW, dWs[l], **TOL[dtype])
            np.testing.assert_allclose(got_deltas[l], deltas[l], **TOL[dtype])
            if bias:
                np.testing.assert_allclose(grads[l].db, dbs[l], **TOL[dtype])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [1, 4, None])
@pytest.mark.parametrize("n_in", [5, 256])
def test_sgd_epoch_matches_reference(dtype, batch_size, n_in):
    """Per-sample, mini-batch (with a last partial batch) and full-batch SGD.

    With 256 inputs the first layer is large enough for a training step to
    split it over the threads (fastbp.parallel.first_layer_dominates); its
    step is smaller, so that float32 rounding is not amplified over the ten
    steps beyond the float32 tolerance (lr=0.5 did, by 2e-3 relative, on one
    unit near tanh saturation).
    """
    rng = np.random.default_rng(11)
    sizes, acts = [n_in, 128 if n_in > 5 else 7, 3], ["tanh"]
    lr = 0.5 if n_in == 5 else 0.05
    X = rng.normal(size=(10, n_in))
    Y = np.eye(3)[rng.integers(0, 3, size=10)]
    net = fastbp.Network(sizes, activation=acts, output="softmax", loss="cross_entropy", dtype=dtype, seed=1)
    W = [w.astype(np.float64) for w in net.weights]
    b = [v.astype(np.float64) for v in net.biases]
    bs = 10 if batch_size is None else batch_size
    losses = []
    for start in range(0, 10, bs):  # shuffle=False: batches in order, the last one partial
        xb, yb = X[start:start + bs].astype(dtype).astype(np.float64), Y[start:start + bs]
        L, dWs, dbs, _ = naive.backward(W, b, acts, "softmax", "cross_entropy", xb, yb)
        losses.append(L * len(xb))
        W = naive.sgd_step(W, dWs, lr)
        b = naive.sgd_step(b, dbs, lr)
    history = net.fit(X, Y, epochs=1, batch_size=batch_size, optimizer=fastbp.SGD(lr=lr), shuffle=False)
    tol = TOL[dtype]
    for l in range(2):
        np.testing.assert_allclose(net.weights[l], W[l], **tol)
        np.testing.assert_allclose(net.biases[l], b[l], **tol)
    assert history.loss[0] == pytest.approx(sum(losses) / 10, rel=tol["rtol"] * 10)


def test_sample_weight_matches_reference():
    rng = np.random.default_rng(5)
    net = fastbp.Network([4, 6, 2], activation="tanh", output="identity", loss="mse", dtype=np.float64, seed=2)
    X, Y = rng.normal(size=(8, 4)), rng.normal(size=(8, 2))
    w = rng.uniform(0, 2, size=8)
    L, dWs, dbs, _ = naive.backward(net.weights, net.biases, ["tanh"], "identity", "mse", X, Y, sample_weight=w)
    grads = net.gradients(X, Y, sample_weight=w)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(L, rel=1e-12)
    for l in range(2):
        np.testing.assert_allclose(grads[l].dW, dWs[l], rtol=1e-12)
        np.testing.assert_allclose(grads[l].db, dbs[l], rtol=1e-12)
    # Integer weights equal repeating samples.
    reps = np.array([1, 2, 0, 3, 1, 1, 2, 1])
    assert net.loss(X, Y, sample_weight=reps) == pytest.approx(net.loss(np.repeat(X, reps, 0), np.repeat(Y, reps, 0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("output,loss,n_out", [("sigmoid", "binary_cross_entropy", 1),
                                               ("softmax", "cross_entropy", 3)])
def test_fused_losses_are_stable_for_huge_logits(dtype, output, loss, n_out):
    """Logits of ±1e4: finite loss and gradients (log-sum-exp, a − y)."""
    W = np.zeros((n_out, 2))
    W[0] = -5e3  # sample [1, 1] gets logit -1e4 on unit 0, sample [-1, -1] gets +1e4
    if n_out > 1:
        W[1] = 5e3
    net = fastbp.Network([2, n_out], output=output, loss=loss, bias=False, weights=[W], dtype=dtype)
    X = np.array([[1.0, 1.0], [-1.0, -1.0]])
    # Predicted classes: sigmoid [0, 1]; softmax [1, 0].
    wrong, right = (np.array([1.0, 0.0]), np.array([0.0, 1.0])) if n_out == 1 else (np.array([0, 1]),
                                                                                      np.array([1, 0]))
    L = net.loss(X, wrong)
    assert np.isfinite(L) and L > 1e3  # confidently wrong: large but finite
    for g in net.gradients(X, wrong):
        assert np.all(np.isfinite(g.dW))
    out = net.forward(X)
    assert np.all(np.isfinite(out)) and np.all((out >= 0) & (out <= 1))
    assert net.loss(X, right) == pytest.approx(0.0, abs=1e-6)


def test_dtype_is_preserved_end_to_end():
    for dtype in (np.float32, np.float64):
        net = fastbp.Network([3, 4, 2], dtype=dtype, seed=0)
        X = np.ones((2, 3), dtype=np.float64)
        assert net.forward(X).dtype == dtype
        assert all(W.dtype == dtype for W in net.weights)
        assert all(g.dW.dtype == dtype for g in net.gradients(X, np.zeros((2, 2))))
        net.fit(X, np.zeros((2, 2)), epochs=1)
        assert net.parameters.dtype == dtype


def test_single_sample_and_lists():
    net = fastbp.Network([3, 4, 2], dtype=np.float64, seed=0)
    x = [0.1, 0.2, 0.3]
    assert net.forward(x).shape == (2,)
    np.testing.assert_array_equal(net.forward(x), net.forward(np.array([x]))[0])
    assert net.loss(x, [1.0, 2.0]) == net.loss([x], [[1.0, 2.0]])


def test_fortran_noncontiguous_and_readonly_inputs():
    net = fastbp.Network([4, 5, 3], dtype=np.float64, seed=0)
    X = np.random.default_rng(0).normal(size=(6, 8))
    ref = net.forward(np.ascontiguousarray(X[:, ::2]))
    np.testing.assert_array_equal(net.forward(X[:, ::2]), ref)
    np.testing.assert_array_equal(net.forward(np.asfortranarray(X[:, ::2])), ref)
    ro = np.ascontiguousarray(X[:, ::2])
    ro.setflags(write=False)
    np.testing.assert_array_equal(net.forward(ro), ref)
