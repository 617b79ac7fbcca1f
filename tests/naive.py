"""Plain NumPy reference implementations: the oracle for every kernel.

Written for clarity, not speed, straight from the tutorials' formulas, in the
(n_out, n_in) weight convention and with samples as rows.
"""
import numpy as np


def activation(name, z, slope=0.01):
    if name == "identity":
        return z
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-z))
    if name == "tanh":
        return np.tanh(z)
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "softmax":
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    raise ValueError(name)


def activation_derivative(name, z, slope=0.01):
    """f'(z) computed from z (independently of the kernels' a-based form)."""
    if name == "identity":
        return np.ones_like(z)
    if name == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-z))
        return s * (1 - s)
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(z.dtype)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, slope).astype(z.dtype)
    raise ValueError(name)


def forward(weights, biases, activations, output, X, slope=0.01):
    """Return the lists zs (pre-activations) and As (activations, A[0] = X)."""
    As, zs = [X], []
    n_layers = len(weights)
    for l, W in enumerate(weights):
        z = As[-1] @ W.T
        if biases is not None and biases[l] is not None:
            z = z + biases[l]
        zs.append(z)
        name = activations[l] if l < n_layers - 1 else output
        As.append(activation(name, z, slope))
    return zs, As


def per_sample_loss(loss, output, z, a, Y):
    if loss == "mse":
        return 0.5 * np.sum((a - Y) ** 2, axis=1)
    if loss == "binary_cross_entropy":
        return np.sum(-(Y * np.log(a) + (1 - Y) * np.log(1 - a)), axis=1)
    if loss == "cross_entropy":
        return -np.sum(Y * np.log(a), axis=1)
    raise ValueError(loss)


def output_delta(loss, output, z, a, Y):
    """∂(per-sample loss)/∂z of the output layer."""
    if loss in ("binary_cross_entropy", "cross_entropy"):
        return a - Y  # the fused forms of tutorial 000
    g = a - Y
    if output == "identity":
        return g
    if output == "sigmoid":
        return g * a * (1 - a)
    if output == "softmax":  # Jacobian-transpose product
        return a * (g - np.sum(a * g, axis=1, keepdims=True))
    raise ValueError(output)


def backward(weights, biases, activations, output, loss, X, Y, slope=0.01, sample_weight=None):
    """Gradients of the batch-mean loss, by the δ recursion of tutorial 002.

    Returns (loss, dWs, dbs, deltas) where deltas[l] = ∂L/∂z^l.
    """
    zs, As = forward(weights, biases, activations, output, X, slope)
    n = X.shape[0]
    w = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    losses = per_sample_loss(loss, output, zs[-1], As[-1], Y)
    L = np.sum(w * losses) / np.sum(w)
    delta = output_delta(loss, output, zs[-1], As[-1], Y) * (w / np.sum(w))[:, None]
    n_layers = len(weights)
    deltas = [None] * n_layers
    dWs = [None] * n_layers
    dbs = [None] * n_layers
    for l in range(n_layers - 1, -1, -1):
        deltas[l] = delta
        dWs[l] = delta.T @ As[l]
        dbs[l] = delta.sum(axis=0) if biases is not None and biases[l] is not None else None
        if l > 0:
            delta = (delta @ weights[l]) * activation_derivative(activations[l - 1], zs[l - 1], slope)
    return L, dWs, dbs, deltas


def sgd_step(params, grads, lr):
    """Tutorial 000: θ := θ − α dθ."""
    return [p - lr * g for p, g in zip(params, grads)]


class SGDRef:
    """Textbook SGD with (Nesterov) momentum and L2 weight decay, float64."""

    def __init__(self, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        self.lr, self.mu, self.nesterov, self.wd = lr, momentum, nesterov, weight_decay
        self.v = None

    def step(self, p, g):
        g = g + self.wd * p
        if self.mu:
            self.v = g.copy() if self.v is None else self.mu * self.v + g
            g = g + self.mu * self.v if self.nesterov else self.v
        return p - self.lr * g


class RMSPropRef:
    def __init__(self, lr, rho=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        self.lr, self.rho, self.eps, self.wd, self.mu, self.centered = lr, rho, eps, weight_decay, momentum, centered
        self.s = self.m = self.v = None

    def step(self, p, g):
        g = g + self.wd * p
        self.s = (1 - self.rho) * g * g if self.s is None else self.rho * self.s + (1 - self.rho) * g * g
        s = self.s
        if self.centered:
            self.m = (1 - self.rho) * g if self.m is None else self.rho * self.m + (1 - self.rho) * g
            s = s - self.m ** 2
        d = np.sqrt(s) + self.eps
        if self.mu:
            self.v = g / d if self.v is None else self.mu * self.v + g / d
            return p - self.lr * self.v
        return p - self.lr * g / d


class AdamRef:
    def __init__(self, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
        self.lr, self.b1, self.b2, self.eps, self.wd, self.decoupled = lr, beta1, beta2, eps, weight_decay, decoupled
        self.m = self.v = None
        self.t = 0

    def step(self, p, g):
        self.t += 1
        if self.decoupled:
            p = p * (1 - self.lr * self.wd)
        else:
            g = g + self.wd * p
        self.m = (1 - self.b1) * g if self.m is None else self.b1 * self.m + (1 - self.b1) * g
        self.v = (1 - self.b2) * g * g if self.v is None else self.b2 * self.v + (1 - self.b2) * g * g
        m_hat = self.m / (1 - self.b1 ** self.t)
        v_hat = self.v / (1 - self.b2 ** self.t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
