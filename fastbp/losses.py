"""Losses, and the output-layer δ they start the backward pass with.

Per-sample losses (a batch's loss is their mean):

* ``mse``: ``½ ‖a − y‖²`` (the tutorials' form, with the ½).
* ``binary_cross_entropy``: ``Σ_j −(y log a + (1 − y) log(1 − a))`` with a
  sigmoid output, evaluated from the logits ``z`` as
  ``max(z, 0) − z y + log1p(exp(−|z|))`` so that logits of ±1e4 stay finite.
* ``cross_entropy``: ``−Σ_j y_j log a_j`` with a softmax output, evaluated as
  ``logsumexp(z) − Σ_j y_j z_j``.

For the matched pairs (sigmoid + BCE, softmax + CE) the output δ is the fused
``a − y`` of tutorial 000.  Other pairs chain ``∂L/∂a`` through ``f'``.
"""
import math

from ._jit import cast_like, kernel
from .activations import SIGMOID, SOFTMAX

MSE, BINARY_CROSS_ENTROPY, CROSS_ENTROPY = range(3)

LOSSES = {"mse": MSE, "binary_cross_entropy": BINARY_CROSS_ENTROPY, "cross_entropy": CROSS_ENTROPY}

# The output activation each loss requires (None: any).
REQUIRED_OUTPUT = {"mse": None, "binary_cross_entropy": "sigmoid", "cross_entropy": "softmax"}


@kernel
def output_delta_rows(Z, A, T, weights, r0, r1, out_code, loss_code, scale, D):
    """Weighted loss of rows ``r0:r1`` and their output δ = ``scale · w · ∂loss/∂z``.

    Parameters
    ----------
    Z : ndarray, shape (batch, n_out)
        Output logits.
    A : ndarray, shape (batch, n_out)
        Output activations ``f(Z)``.
    T : ndarray, shape (batch, n_out)
        Targets (one-hot rows for cross-entropy).
    weights : ndarray, shape (batch,) or (0,)
        Per-sample weights of the rows; empty means all 1.
    r0, r1 : int
        Row range.
    out_code, loss_code : int
        Output activation and loss codes.
    scale : float
        ``1 / Σ weights`` (``1 / batch`` unweighted): δ is the gradient of the
        (weighted) *mean* loss over the batch.
    D : ndarray, shape (batch, n_out)
        Output: δ of the output layer for rows ``r0:r1``.

    Returns
    -------
    float
        The weighted sum over rows ``r0:r1`` of the per-sample loss,
        accumulated in float64 whatever the dtype.
    """
    n = Z.shape[1]
    s = cast_like(D, scale)
    zero = cast_like(D, 0.0)
    weighted = weights.shape[0] > 0
    total = 0.0
    for i in range(r0, r1):
        w = weights[i] if weighted else cast_like(D, 1.0)
        sample = 0.0
        if loss_code == MSE:
            for j in range(n):
                g = A[i, j] - T[i, j]
                sample += 0.5 * float(g) * float(g)
                D[i, j] = g
            if out_code == SIGMOID:
                for j in range(n):
                    a = A[i, j]
                    D[i, j] *= a * (cast_like(D, 1.0) - a)
            elif out_code == SOFTMAX:
                dot = zero
                for j in range(n):
                    dot += A[i, j] * D[i, j]
                for j in range(n):
                    D[i, j] = A[i, j] * (D[i, j] - dot)
        elif loss_code == BINARY_CROSS_ENTROPY:
            for j in range(n):
                z = float(Z[i, j])
                y = float(T[i, j])
                sample += max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z)))
                D[i, j] = A[i, j] - T[i, j]
        else:  # CROSS_ENTROPY with softmax
            m = float(Z[i, 0])
            for j in range(1, n):
                m = max(m, float(Z[i, j]))
            sum_exp = 0.0
            y_dot_z = 0.0
            for j in range(n):
                z = float(Z[i, j])
                sum_exp += math.exp(z - m)
                y_dot_z += float(T[i, j]) * z
                D[i, j] = A[i, j] - T[i, j]
            sample = m + math.log(sum_exp) - y_dot_z
        total += float(w) * sample
        sw = s * w
        for j in range(n):
            D[i, j] *= sw
    return total


def check_pair(output, loss, n_out=None):
    """Raise ``ValueError`` if ``loss`` cannot be used with ``output`` (and ``n_out`` outputs)."""
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    required = REQUIRED_OUTPUT[loss]
    if required is not None and output != required:
        raise ValueError(
            f"loss={loss!r} needs output={required!r} (its stable fused form "
            f"works on logits), got output={output!r}"
        )
    if output == "softmax" and n_out == 1:
        raise ValueError(
            "a softmax over a single output is always 1 (nothing to learn): for two classes use one "
            "output with output='sigmoid', loss='binary_cross_entropy', or two softmax outputs"
        )
