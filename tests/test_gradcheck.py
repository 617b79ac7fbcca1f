"""float64 central differences for every activation × output × loss combination."""
import numpy as np
import pytest

import fastbp

HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "identity"]
PAIRS = [("identity", "mse"), ("sigmoid", "mse"), ("softmax", "mse"),
         ("sigmoid", "binary_cross_entropy"), ("softmax", "cross_entropy")]


def targets(rng, loss, n, n_out):
    if loss == "cross_entropy":
        return rng.integers(0, n_out, size=n)
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, size=(n, n_out)).astype(float)
    return rng.normal(size=(n, n_out))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("output,loss", PAIRS)
@pytest.mark.parametrize("activation", HIDDEN)
def test_gradients_match_central_differences(activation, output, loss, bias):
    rng = np.random.default_rng(len(activation) * 7 + len(loss))
    net = fastbp.Network([3, 5, 4, 3], activation=activation, output=output, loss=loss, dtype=np.float64,
                         seed=1, bias=bias)
    X = rng.normal(size=(4, 3))
    result = fastbp.gradcheck(net, X, targets(rng, loss, 4, 3))
    # Central differences at ε = 1e-6 carry ~1e-10 absolute round-off, up to a
    # few 1e-6 relative on small gradients; a wrong gradient is off by ~1e-1.
    assert result.max_error < 1e-5, result


def test_gradcheck_of_float32_network_uses_float64_copy():
    net = fastbp.Network([4, 6, 2], activation="tanh", output="softmax", loss="cross_entropy",
                         dtype=np.float32, seed=0)
    before = net.parameters.copy()
    X = np.random.default_rng(0).normal(size=(3, 4))
    result = fastbp.gradcheck(net, X, [0, 1, 1])
    assert result.max_error < 1e-5
    assert len(result.layers) == 2 and result.layers[0]["checked"] == 4 * 6 + 6
    np.testing.assert_array_equal(net.parameters, before)
    assert "max relative error" in repr(result)


def test_gradcheck_detects_a_wrong_gradient(monkeypatch):
    net = fastbp.Network([2, 3, 1], activation="tanh", dtype=np.float64, seed=0)
    X = np.array([[0.5, -0.3]])
    true = fastbp.Network.gradients

    def broken(self, *args, **kwargs):
        grads = true(self, *args, **kwargs)
        grads[0].dW[0, 0] += 0.1
        return grads

    monkeypatch.setattr(fastbp.Network, "gradients", broken)
    assert fastbp.gradcheck(net, X, [0.2]).layers[0]["weights"] > 1e-2


def test_gradcheck_can_sample_entries():
    net = fastbp.Network([20, 30, 2], activation="sigmoid", dtype=np.float64, seed=0)
    X = np.random.default_rng(1).normal(size=(2, 20))
    result = fastbp.gradcheck(net, X, np.zeros((2, 2)), max_checks=10)
    assert result.layers[0]["checked"] == 10 + 30
    assert result.max_error < 1e-5
