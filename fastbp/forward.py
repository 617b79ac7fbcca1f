"""The dense forward kernel: ``a^{l} = f^{l}(a^{l-1} Wᵀ + b)`` for every layer.

Rows of a batch are independent in the forward pass, so the driver splits a
batch into fixed row chunks and calls :func:`forward_rows` once per chunk,
possibly in parallel; the matmul of each chunk is one single-threaded BLAS call
(:func:`fastbp.blas.gemm`, SciPy's OpenBLAS), or for one-row batches through
small layers a loop (:mod:`fastbp.matvec`).  With many threads a training
step computes big leading layers one at a time in 2-D tiles instead
(:func:`forward_tile`, see :func:`fastbp.parallel.tiled_layers`).
"""
import numpy as np

from ._fpenv import flush_subnormals, restore_fp_state
from ._jit import kernel, matrix_view
from .activations import activate_rows
from .blas import gemm
from .layout import ACT, B_OFF, N_IN, N_OUT, NO_BIAS, ROW_IN, ROW_OUT, W_OFF, region, weight_view
from .matvec import times_transposed, use_matvec


@kernel
def add_bias(P, layers, l, j0, Z, r0, r1):
    """``Z[r0:r1] += b^l[j0:j0 + Z.shape[1]]`` (nothing for a layer without biases).

    Parameters
    ----------
    P, layers
        As in :func:`forward_rows`.
    l, j0 : int
        Layer, and the output unit of ``Z``'s first column.
    Z : ndarray, shape (rows, n), C-contiguous
        Pre-activations (in/out).
    r0, r1 : int
        Rows of ``Z`` to add the biases to.
    """
    bias_start = layers[l, B_OFF]
    if bias_start == NO_BIAS:
        return
    # A view indexed from 0: P[bias_start + j] would keep numba's
    # negative-index check in the loop and block vectorisation.
    bias = P[bias_start + j0:bias_start + j0 + Z.shape[1]]
    for i in range(r0, r1):
        for j in range(Z.shape[1]):
            Z[i, j] += bias[j]


@kernel
def forward_rows(P, layers, slope, capacity, b, r0, r1, first_layer, inputs, acts, logits):
    """Forward pass of rows ``r0:r1`` of a batch through layers ``first_layer`` and up.

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
    first_layer : int
        First layer to compute; the earlier layers' outputs must already be
        in ``acts`` (0: all layers; 1: after :func:`first_layer_rows`).
    inputs : ndarray, shape (b, n_in), dtype of P, rows contiguous
        The batch's input rows: region 0 of ``acts`` when a training step
        gathered them there, or a block of ``X`` itself when predicting in
        order (no copy).
    acts : ndarray, shape (workspace,), dtype of P
        Activation workspace.  On exit holds the activations of layers 1 and
        up for rows ``r0:r1``.
    logits : ndarray, shape (capacity * n_out_last,), dtype of P
        On exit the output layer's pre-activations for rows ``r0:r1`` (the
        stable losses need them).
    """
    n_layers = layers.shape[0]
    zero = np.int64(0)  # typed, not a literal 0 (which compiles each callee once more)
    for l in range(first_layer, n_layers):
        n_in = layers[l, N_IN]
        n_out = layers[l, N_OUT]
        W = weight_view(P, layers, l)
        A_in = inputs if l == 0 else region(acts, capacity, layers[l, ROW_IN], b, n_in)
        A_out = region(acts, capacity, layers[l, ROW_OUT], b, n_out)
        last = l == n_layers - 1
        Z = region(logits, capacity, zero, b, n_out) if last else A_out
        if use_matvec(b, n_in, n_out):
            times_transposed(A_in[0], W, Z[0])
        else:
            gemm(A_in[r0:r1], False, W, True, Z[r0:r1])
        add_bias(P, layers, l, zero, Z, r0, r1)
        if last:
            for i in range(r0, r1):
                for j in range(n_out):
                    A_out[i, j] = Z[i, j]
        activate_rows(A_out, r0, r1, layers[l, ACT], slope)


@kernel
def forward_tile(P, layers, slope, capacity, b, l, r0, r1, j0, j1, acts):
    """One tile of a hidden layer's output: ``a^l[r0:r1, j0:j1]``.

    ``f(a^{l-1}[r0:r1] W[j0:j1]ᵀ + b[j0:j1])``, one BLAS call that packs
    only rows ``j0:j1`` of ``W`` (see :func:`fastbp.parallel.tiled_layers`).
    Runs with subnormals flushed to zero on the calling thread
    (:mod:`fastbp._fpenv`).

    Parameters
    ----------
    P, layers, slope, capacity, b
        As in :func:`forward_rows`.
    l : int
        A hidden layer (not the output layer); ``a^{l-1}`` (for ``l = 0`` the
        batch's gathered input rows, region 0 of ``acts``) must be complete.
    r0, r1, j0, j1 : int
        Rows of the batch and output units of the tile (either range may be
        empty).
    acts : ndarray, shape (workspace,)
        Activation workspace; on exit holds the tile of ``a^l``.
    """
    fp_state = flush_subnormals()
    zero = np.int64(0)  # typed, not a literal 0 (which compiles each callee once more)
    W = weight_view(P, layers, l)
    A_in = region(acts, capacity, layers[l, ROW_IN], b, layers[l, N_IN])
    A_out = region(acts, capacity, layers[l, ROW_OUT], b, layers[l, N_OUT])
    Z = A_out[r0:r1, j0:j1]  # rows of a^l: BLAS writes them with a^l's row stride
    gemm(A_in[r0:r1], False, W[j0:j1], True, Z)
    add_bias(P, layers, l, j0, Z, zero, r1 - r0)
    activate_rows(Z, zero, r1 - r0, layers[l, ACT], slope)
    restore_fp_state(fp_state)


@kernel
def first_layer_rows(task, tasks, P, layers, slope, capacity, b, acts, deltas):
    """Columns ``j0:j1`` of the first (hidden) layer's output, for every row of the batch.

    When the first layer dominates a network, a training step splits that
    layer's forward product by rows of ``W^1``, over the same
    ``(0, j0, j1, lane)`` tasks as its update (:func:`fastbp.parallel.row_plan`):
    each thread reads only the rows of ``W^1`` it updates, finds them in its
    own core's cache, and BLAS packs only those rows.  Split by batch rows
    instead, every thread packed all of ``W^1`` for a few rows and pulled the
    rows the other core had just updated.  Runs with subnormals flushed to
    zero on the calling thread (:mod:`fastbp._fpenv`).

    Parameters
    ----------
    task : int
        Row of ``tasks``; its layer must be 0.
    tasks : ndarray, shape (n_tasks, 4), int64
        ``(layer, j0, j1, lane)`` rows (:func:`fastbp.parallel.gradient_tasks`).
    P, layers, slope, capacity, b
        As in :func:`forward_rows`.
    acts : ndarray, shape (workspace,)
        Activation workspace, the batch's input rows in region 0; on exit
        holds ``a^1[:b, j0:j1]``.
    deltas : ndarray, shape (workspace,)
        δ workspace: its (not yet used) block of the first layer's δ is the
        scratch of a batch of more than one row.
    """
    fp_state = flush_subnormals()
    j0 = tasks[task, 1]
    j1 = tasks[task, 2]
    n_in = layers[0, N_IN]
    n_out = layers[0, N_OUT]
    rows = matrix_view(P, layers[0, W_OFF] + j0 * n_in, j1 - j0, n_in)
    zero = np.int64(0)  # typed, not a literal 0 (which compiles each callee once more)
    A_in = region(acts, capacity, zero, b, n_in)
    if b == 1:  # straight into a^1 (one row: columns j0:j1 are contiguous)
        Z = matrix_view(acts, capacity * layers[0, ROW_OUT] + j0, 1, j1 - j0)
        times_transposed(A_in[0], rows, Z[0])
    else:  # a C-contiguous (b, j1 - j0) block for BLAS, copied into a^1 below
        Z = matrix_view(deltas, capacity * layers[0, ROW_OUT] + b * j0, b, j1 - j0)
        gemm(A_in, False, rows, True, Z)
    add_bias(P, layers, zero, j0, Z, zero, b)
    activate_rows(Z, zero, b, layers[0, ACT], slope)
    if b > 1:
        A_out = region(acts, capacity, layers[0, ROW_OUT], b, n_out)
        for i in range(b):
            for j in range(j1 - j0):
                A_out[i, j0 + j] = Z[i, j]
    restore_fp_state(fp_state)
