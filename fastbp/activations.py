"""Activation functions and their derivatives, by integer code.

Layers carry a small integer code (the tables below map names to codes) so
that one compiled kernel serves any mix of activations.  Derivatives are
computed from the layer's *output* ``a = f(z)`` (as scikit-learn does), so the
pre-activations ``z`` of hidden layers need not be kept:

=============  ======================  ==========================
name           f(z)                    f'(z) written with a=f(z)
=============  ======================  ==========================
identity       z                       1
sigmoid        1 / (1 + exp(-z))       a (1 - a)
tanh           tanh(z)                 1 - a²
relu           max(z, 0)               1 if a > 0 else 0
leaky_relu     z if z > 0 else s·z     1 if a > 0 else s
softmax        exp(z) / Σ exp(z)       (output layer only; see losses)
=============  ======================  ==========================
"""
import math

from ._jit import cast_like, kernel

IDENTITY, SIGMOID, TANH, RELU, LEAKY_RELU, SOFTMAX = range(6)

HIDDEN_ACTIVATIONS = {
    "identity": IDENTITY,
    "sigmoid": SIGMOID,
    "tanh": TANH,
    "relu": RELU,
    "leaky_relu": LEAKY_RELU,
}
OUTPUT_ACTIVATIONS = {"identity": IDENTITY, "sigmoid": SIGMOID, "softmax": SOFTMAX}


@kernel
def sigmoid(z):
    """Overflow-free logistic function of one scalar (float32 or float64)."""
    one = cast_like(z, 1.0)
    if z >= 0:
        return one / (one + math.exp(-z))
    e = math.exp(z)
    return e / (one + e)


@kernel
def activate_rows(Z, r0, r1, code, slope):
    """Apply activation ``code`` in place to rows ``r0:r1`` of ``Z``.

    Parameters
    ----------
    Z : ndarray, shape (batch, n), float32 or float64
        Pre-activations on entry, activations on exit (rows ``r0:r1`` only).
    r0, r1 : int
        Row range to transform.
    code : int
        An activation code from this module.
    slope : float
        Negative-side slope of ``leaky_relu``.
    """
    n = Z.shape[1]
    zero = cast_like(Z, 0.0)
    if code == IDENTITY:
        return
    if code == RELU:
        for i in range(r0, r1):
            for j in range(n):
                Z[i, j] = max(Z[i, j], zero)
    elif code == LEAKY_RELU:
        s = cast_like(Z, slope)
        for i in range(r0, r1):
            for j in range(n):
                v = Z[i, j]
                Z[i, j] = v if v > zero else s * v
    elif code == SIGMOID:
        for i in range(r0, r1):
            for j in range(n):
                Z[i, j] = sigmoid(Z[i, j])
    elif code == TANH:
        for i in range(r0, r1):
            for j in range(n):
                Z[i, j] = math.tanh(Z[i, j])
    elif code == SOFTMAX:
        for i in range(r0, r1):
            m = Z[i, 0]
            for j in range(1, n):
                m = max(m, Z[i, j])
            total = zero
            for j in range(n):
                e = math.exp(Z[i, j] - m)
                Z[i, j] = e
                total += e
            inv = cast_like(Z, 1.0) / total
            for j in range(n):
                Z[i, j] *= inv


@kernel
def multiply_by_derivative(E, A, r0, r1, code, slope):
    """``E[r0:r1] *= f'(z)`` where ``f'`` is written in terms of ``A = f(z)``.

    This is the element-wise half of the δ recursion (tutorial 002):
    ``δ^l = (δ^{l+1} W^{l+1}) ⊙ f'(z^l)``.

    Parameters
    ----------
    E : ndarray, shape (batch, n)
        On entry ``∂L/∂a`` (the back-propagated error), on exit ``∂L/∂z``.
    A : ndarray, shape (batch, n)
        The layer's activations ``a = f(z)``.
    r0, r1 : int
        Row range.
    code : int
        Hidden activation code (softmax is not a hidden activation).
    slope : float
        Negative-side slope of ``leaky_relu``.
    """
    n = E.shape[1]
    zero = cast_like(E, 0.0)
    one = cast_like(E, 1.0)
    if code == IDENTITY:
        return
    if code == RELU:
        for i in range(r0, r1):
            for j in range(n):
                if A[i, j] <= zero:
                    E[i, j] = zero
    elif code == LEAKY_RELU:
        s = cast_like(E, slope)
        for i in range(r0, r1):
            for j in range(n):
                if A[i, j] <= zero:
                    E[i, j] *= s
    elif code == SIGMOID:
        for i in range(r0, r1):
            for j in range(n):
                a = A[i, j]
                E[i, j] *= a * (one - a)
    elif code == TANH:
        for i in range(r0, r1):
            for j in range(n):
                a = A[i, j]
                E[i, j] *= one - a * a
