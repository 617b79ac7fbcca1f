"""The dense forward kernel: ``a^{l} = f^{l}(a^{l-1} Wᵀ + b)`` for every layer.

Rows of a batch are independent in the forward pass, so the driver splits a
batch into fixed row chunks and calls :func:`forward_rows` once per chunk,
possibly in parallel; the matmul of each chunk is one single-threaded BLAS call
(``np.dot`` inside numba calls SciPy's OpenBLAS), or for one-row batches through
small layers a loop (:mod:`fastbp.matvec`).
"""
import numpy as np

from ._jit import kernel
from .activations import activate_rows
from .layout import ACT, B_OFF, N_IN, N_OUT, NO_BIAS, ROW_IN, ROW_OUT, region, weight_view
from .matvec import times_transposed, use_matvec


@kernel
def forward_rows(P, layers, slope, capacity, b, r0, r1, acts, logits):
    """Forward pass of rows ``r0:r1`` of a batch through every layer.

    Parameters
    ----------
    P : ndarray, shape (n_params,), float32 or float64
        Flat parameters.
    layers : ndarray, shape (L, 7), int64
        Layer table (see :mod:`fastbp.layout`).
    slope : float
        Negative slope of ``leaky_relu``.
    capacity : int
        Rows the workspaces were sized for.
    b : int
        Rows in this batch (``b <= capacity``).
    r0, r1 : int
        The chunk of rows to compute.
    acts : ndarray, shape (workspace,), dtype of P
        Activation workspace; the input rows must already be in region 0.
        On exit holds every layer's activations for rows ``r0:r1``.
    logits : ndarray, shape (capacity * n_out_last,), dtype of P
        On exit the output layer's pre-activations for rows ``r0:r1`` (the
        stable losses need them).
    """
    n_layers = layers.shape[0]
    for l in range(n_layers):
        n_in = layers[l, N_IN]
        n_out = layers[l, N_OUT]
        W = weight_view(P, layers, l)
        A_in = region(acts, capacity, layers[l, ROW_IN], b, n_in)
        A_out = region(acts, capacity, layers[l, ROW_OUT], b, n_out)
        last = l == n_layers - 1
        Z = region(logits, capacity, 0, b, n_out) if last else A_out
        if use_matvec(b, n_in, n_out):
            times_transposed(A_in[0], W, Z[0])
        else:
            np.dot(A_in[r0:r1], W.T, Z[r0:r1])
        bias_start = layers[l, B_OFF]
        if bias_start != NO_BIAS:
            # A view indexed from 0: P[bias_start + j] would keep numba's
            # negative-index check in the loop and block vectorisation.
            bias = P[bias_start:bias_start + n_out]
            for i in range(r0, r1):
                for j in range(n_out):
                    Z[i, j] += bias[j]
        if last:
            for i in range(r0, r1):
                for j in range(n_out):
                    A_out[i, j] = Z[i, j]
        activate_rows(A_out, r0, r1, layers[l, ACT], slope)
