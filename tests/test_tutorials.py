"""The four tutorials' worked examples, through the public API, to the digit."""
import numpy as np
import pytest

import fastbp
from tests import naive

X003 = np.array([1.0, 2.0])
W1_003 = np.array([[0.5, 0.2], [0.3, 0.7]])
W2_003 = np.array([[0.6, 0.8]])


def tutorial_003_network():
    return fastbp.Network([2, 2, 1], activation="relu", output="identity", loss="mse", bias=False,
                          weights=[W1_003, W2_003], dtype=np.float64)


def test_tutorial_003_forward_and_loss():
    net = tutorial_003_network()
    y = net.forward(X003)
    assert y.shape == (1,)
    assert round(float(y[0]), 12) == 1.9
    assert round(net.loss(X003, [1.5]), 12) == 0.08


def test_tutorial_003_gradients():
    net = tutorial_003_network()
    (g1, g2), deltas = net.gradients(X003, [1.5], return_deltas=True)
    np.testing.assert_array_equal(np.round(g1.dW, 12), [[0.24, 0.48], [0.32, 0.64]])
    np.testing.assert_array_equal(np.round(g2.dW, 12), [[0.36, 0.68]])
    assert g1.db is None and g2.db is None
    # δ of the output is y − ŷ = 0.4; of the hidden layer W2ᵀ δ ⊙ ReLU'(h).
    np.testing.assert_allclose(deltas[1], [[0.4]], rtol=1e-12)
    np.testing.assert_allclose(deltas[0], [[0.24, 0.32]], rtol=1e-12)


def test_tutorial_003_hidden_values():
    # h = W1 x = [0.9, 1.7]: the first layer alone, with identity output.
    hidden = fastbp.Network([2, 2], output="identity", loss="mse", bias=False, weights=[W1_003],
                            dtype=np.float64)
    np.testing.assert_allclose(hidden.forward(X003), [0.9, 1.7], rtol=1e-15)


def tutorial_000_network(seed, dtype=np.float64, n_in=3, n_hidden=4):
    rng = np.random.default_rng(seed)
    W1, b1 = rng.normal(size=(n_hidden, n_in)), rng.normal(size=n_hidden)
    W2, b2 = rng.normal(size=(1, n_hidden)), rng.normal(size=1)
    net = fastbp.Network([n_in, n_hidden, 1], activation="sigmoid", output="sigmoid",
                         loss="binary_cross_entropy", weights=[W1, W2], biases=[b1, b2], dtype=dtype)
    return net, (W1, b1, W2, b2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tutorial_000_closed_forms(seed):
    """dz2 = a2 − y, dW2 = dz2 a1ᵀ, db2 = dz2, dz1 = W2ᵀ dz2 ∗ σ'(z1), dW1 = dz1 xᵀ, db1 = dz1."""
    net, (W1, b1, W2, b2) = tutorial_000_network(seed)
    rng = np.random.default_rng(100 + seed)
    x = rng.normal(size=3)
    y = float(rng.integers(0, 2))
    sigma = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    z1 = W1 @ x + b1
    a1 = sigma(z1)
    a2 = sigma(W2 @ a1 + b2)
    dz2 = a2 - y
    dW2 = np.outer(dz2, a1)
    dz1 = (W2.T @ dz2) * a1 * (1 - a1)
    dW1 = np.outer(dz1, x)
    g1, g2 = net.gradients(x, y)
    np.testing.assert_allclose(g2.dW, dW2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g2.db, dz2, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g1.dW, dW1, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g1.db, dz1, rtol=1e-12, atol=1e-15)
    L = -(y * np.log(a2) + (1 - y) * np.log(1 - a2))
    assert net.loss(x, y) == pytest.approx(float(L[0]), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tutorial_000_one_sgd_step_is_exact(dtype):
    """W := W − α dW, exactly (same gradient kernel, one full-batch step)."""
    net, _ = tutorial_000_network(3, dtype=dtype)
    rng = np.random.default_rng(7)
    X = rng.normal(size=(5, 3))
    y = rng.integers(0, 2, size=5)
    grads = net.gradients(X, y)
    before_W = [W.copy() for W in net.weights]
    before_b = [b.copy() for b in net.biases]
    alpha = 0.25
    net.fit(X, y, epochs=1, batch_size=None, optimizer=fastbp.SGD(lr=alpha), shuffle=False)
    for l in range(2):
        expected_W = before_W[l] - dtype(alpha) * grads[l].dW
        expected_b = before_b[l] - dtype(alpha) * grads[l].db
        np.testing.assert_array_equal(net.weights[l], expected_W)
        np.testing.assert_array_equal(net.biases[l], expected_b)


def test_tutorial_001_bias_is_an_extra_input_fixed_at_one():
    """A bias equals a weight on an extra input neuron that is always 1."""
    rng = np.random.default_rng(0)
    sizes = [3, 5, 4, 2]
    Ws = [rng.normal(size=(sizes[l + 1], sizes[l])) for l in range(3)]
    bs = [rng.normal(size=sizes[l + 1]) for l in range(3)]
    with_bias = fastbp.Network(sizes, activation=["tanh", "sigmoid"], output="identity", loss="mse",
                               weights=Ws, biases=bs, dtype=np.float64)
    # Folded: every layer gets a constant-1 unit; its outgoing weights are the biases.
    folded_sizes = [4, 6, 5, 2]
    folded_W = []
    for l in range(3):
        n_out = sizes[l + 1] + (1 if l < 2 else 0)
        W = np.zeros((n_out, sizes[l] + 1))
        W[:sizes[l + 1], :sizes[l]] = Ws[l]
        W[:sizes[l + 1], sizes[l]] = bs[l]
        if l < 2:
            W[sizes[l + 1], sizes[l]] = 1e3  # keeps the constant unit saturated at 1 (tanh/sigmoid)
        folded_W.append(W)
    folded = fastbp.Network(folded_sizes, activation=["tanh", "sigmoid"], output="identity", loss="mse",
                            bias=False, weights=folded_W, dtype=np.float64)
    X = rng.normal(size=(6, 3))
    X1 = np.hstack([X, np.ones((6, 1))])
    np.testing.assert_allclose(folded.forward(X1), with_bias.forward(X), rtol=1e-12)
    Y = rng.normal(size=(6, 2))
    g_bias = with_bias.gradients(X, Y)
    g_fold = folded.gradients(X1, Y)
    for l in range(3):
        np.testing.assert_allclose(g_fold[l].dW[:sizes[l + 1], :sizes[l]], g_bias[l].dW, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(g_fold[l].dW[:sizes[l + 1], sizes[l]], g_bias[l].db, rtol=1e-10, atol=1e-14)


def test_tutorial_001_gradient_descent_on_any_depth():
    """θ := θ − η ∂g/∂θ for a 4-layer network, against the NumPy reference."""
    rng = np.random.default_rng(1)
    sizes = [4, 6, 5, 3, 2]
    net = fastbp.Network(sizes, activation=["tanh", "relu", "sigmoid"], output="identity", loss="mse",
                         dtype=np.float64, seed=3)
    X, Y = rng.normal(size=(7, 4)), rng.normal(size=(7, 2))
    W0 = [W.copy() for W in net.weights]
    b0 = [b.copy() for b in net.biases]
    _, dWs, dbs, _ = naive.backward(W0, b0, net.activations, "identity", "mse", X, Y)
    net.fit(X, Y, epochs=1, batch_size=None, optimizer=fastbp.SGD(lr=0.1), shuffle=False)
    for l in range(4):
        np.testing.assert_allclose(net.weights[l], W0[l] - 0.1 * dWs[l], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(net.biases[l], b0[l] - 0.1 * dbs[l], rtol=1e-12, atol=1e-14)


def test_tutorial_002_deltas_follow_the_recursion():
    """δ^L first, then δ^l = (δ^{l+1} W^{l+1}) ⊙ f'(z^l), then the weight gradients."""
    rng = np.random.default_rng(2)
    net = fastbp.Network([3, 4, 4, 2], activation="sigmoid", output="sigmoid", loss="mse",
                         dtype=np.float64, seed=5)
    X, Y = rng.normal(size=(5, 3)), rng.uniform(size=(5, 2))
    grads, deltas = net.gradients(X, Y, return_deltas=True)
    _, dWs, dbs, ref_deltas = naive.backward(net.weights, net.biases, net.activations, "sigmoid", "mse", X, Y)
    for l in range(3):
        np.testing.assert_allclose(deltas[l], ref_deltas[l], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(grads[l].dW, dWs[l], rtol=1e-12, atol=1e-15)
