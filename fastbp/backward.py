"""The backward kernels: the δ recursion and the weight gradients.

Tutorial 002: with ``δ^l = ∂L/∂z^l`` (``L`` the batch-mean loss),

* ``δ^{l-1} = (δ^l W^l) ⊙ f'(z^{l-1})``      (:func:`backprop_rows`)
* ``∂L/∂W^l = δ^lᵀ a^{l-1}``, ``∂L/∂b^l = Σ_rows δ^l``  (:func:`weight_gradient_rows`)

The recursion is row-independent, so it runs on the same row chunks as the
forward pass (through big leading layers on many threads, in the same 2-D
tiles: :func:`backprop_tile`).  The weight gradient sums over rows, so it is split over output
rows ``j`` of ``W`` instead: every gradient element is then a fixed-order sum,
whatever the number of threads.
"""
import numpy as np

from ._fpenv import flush_subnormals, restore_fp_state
from ._jit import kernel, matrix_view
from .activations import multiply_by_derivative
from .blas import gemm
from .layout import ACT, B_OFF, N_IN, N_OUT, NO_BIAS, ROW_IN, ROW_OUT, W_OFF, region, weight_view
from .matvec import times, use_matvec


@kernel
def backprop_rows(P, layers, slope, capacity, b, r0, r1, acts, deltas):
    """δ recursion for rows ``r0:r1``, from the output layer down to layer 1.

    Parameters
    ----------
    P, layers, slope, capacity, b, r0, r1
        As in :func:`fastbp.forward.forward_rows`.
    acts : ndarray, shape (workspace,)
        Activations from the forward pass.
    deltas : ndarray, shape (workspace,)
        δ workspace, same layout as ``acts``; the output layer's δ must be in
        place.  On exit holds δ of every layer for rows ``r0:r1``.
    """
    backprop_rows_to(P, layers, slope, capacity, b, r0, r1, np.int64(1), acts, deltas)


@kernel
def backprop_rows_to(P, layers, slope, capacity, b, r0, r1, lowest, acts, deltas):
    """δ recursion for rows ``r0:r1``, from the output layer down to layer ``lowest``.

    Uses ``W^l`` for ``l = L-1 … lowest`` and so computes δ of layers
    ``L-2 … lowest-1``; :func:`backprop_tile` continues below a tiled step's
    small layers (:func:`fastbp.parallel.tiled_layers`).

    Parameters
    ----------
    P, layers, slope, capacity, b, r0, r1, acts, deltas
        As in :func:`backprop_rows`.
    lowest : int
        Last layer whose ``W`` is used, ``>= 1``.
    """
    for l in range(layers.shape[0] - 1, lowest - 1, -1):
        W = weight_view(P, layers, l)
        D = region(deltas, capacity, layers[l, ROW_OUT], b, layers[l, N_OUT])
        E = region(deltas, capacity, layers[l, ROW_IN], b, layers[l, N_IN])
        if use_matvec(b, layers[l, N_IN], layers[l, N_OUT]):
            times(D[0], W, E[0])
        else:
            gemm(D[r0:r1], False, W, False, E[r0:r1])
        A = region(acts, capacity, layers[l, ROW_IN], b, layers[l, N_IN])
        multiply_by_derivative(E, A, r0, r1, layers[l - 1, ACT], slope)


@kernel
def backprop_tile(P, layers, slope, capacity, b, l, r0, r1, j0, j1, acts, deltas):
    """One tile of the δ recursion through ``W^l``: ``δ^{l-1}[r0:r1, j0:j1]``.

    ``(δ^l[r0:r1] W^l[:, j0:j1]) ⊙ f'(z^{l-1}[r0:r1, j0:j1])``, one BLAS call
    that packs only columns ``j0:j1`` of ``W^l`` (see
    :func:`fastbp.parallel.tiled_layers`).  Runs with subnormals flushed to
    zero on the calling thread (:mod:`fastbp._fpenv`).

    Parameters
    ----------
    P, layers, slope, capacity, b
        As in :func:`fastbp.forward.forward_rows`.
    l : int
        Layer whose δ is complete, ``>= 1``.
    r0, r1, j0, j1 : int
        Rows of the batch and units of layer ``l - 1`` of the tile (either
        range may be empty).
    acts : ndarray, shape (workspace,)
        Activations from the forward pass.
    deltas : ndarray, shape (workspace,)
        δ workspace; on exit holds the tile of δ^{l-1}.
    """
    fp_state = flush_subnormals()
    zero = np.int64(0)  # typed, not a literal 0 (which compiles each callee once more)
    W = weight_view(P, layers, l)
    D = region(deltas, capacity, layers[l, ROW_OUT], b, layers[l, N_OUT])
    E = region(deltas, capacity, layers[l, ROW_IN], b, layers[l, N_IN])
    A = region(acts, capacity, layers[l, ROW_IN], b, layers[l, N_IN])
    E_tile = E[r0:r1, j0:j1]  # BLAS writes it with δ^{l-1}'s row stride
    gemm(D[r0:r1], False, W[:, j0:j1], False, E_tile)
    multiply_by_derivative(E_tile, A[r0:r1, j0:j1], zero, r1 - r0, layers[l - 1, ACT], slope)
    restore_fp_state(fp_state)


@kernel
def weight_gradient_rows(layers, l, capacity, b, j0, j1, acts, deltas, G):
    """Gradients of rows ``j0:j1`` of ``W^l`` (and of ``b^l``) into ``G``.

    Parameters
    ----------
    layers : ndarray, shape (L, 7), int64
    l : int
        Layer index.
    capacity, b : int
        Workspace capacity and rows in this batch.
    j0, j1 : int
        Output rows of ``W^l`` to compute.
    acts, deltas : ndarray, shape (workspace,)
        Activations and δ of the batch.
    G : ndarray, shape (n_params,)
        Output: flat gradient vector.
    """
    n_in = layers[l, N_IN]
    n_out = layers[l, N_OUT]
    D = region(deltas, capacity, layers[l, ROW_OUT], b, n_out)
    A_in = region(acts, capacity, layers[l, ROW_IN], b, n_in)
    GW = matrix_view(G, layers[l, W_OFF], n_out, n_in)
    # δ's columns j0:j1, transposed by BLAS itself (their row stride is
    # the leading dimension): no transposed copy of δ.
    gemm(D[:, j0:j1], True, A_in, False, GW[j0:j1])
    bias_start = layers[l, B_OFF]
    if bias_start != NO_BIAS:
        # Row by row, so that the loop over j vectorises; each sum still
        # adds its rows in order 0, 1, ..., b-1.
        for j in range(j0, j1):
            G[bias_start + j] = 0
        for i in range(b):
            for j in range(j0, j1):
                G[bias_start + j] += D[i, j]
