"""The flat memory layout shared by every kernel.

A network's parameters live in one flat vector ``P``; an int64 *layer table*
(one row per weight layer, columns below) says where each layer's ``W`` (shape
``(n_out, n_in)``, the tutorials' convention) and ``b`` start.  Gradients and
optimizer state are flat vectors of the same length, so one update loop serves
every architecture and one compiled kernel serves every depth.

Activation and δ workspaces are flat too: for a batch capacity ``cap``, layer
input ``a^{l}`` occupies ``buf[cap*ROW_IN : cap*ROW_IN + b*n_in]`` viewed as a
C-contiguous ``(b, n_in)`` array, where ``b <= cap`` is the current batch.
"""
import numpy as np

from ._jit import view_function

# Columns of the layer table.
N_IN, N_OUT, W_OFF, B_OFF, ACT, ROW_IN, ROW_OUT = range(7)
NO_BIAS = -1


def build_layer_table(sizes, activation_codes, bias):
    """Build the layer table and the parameter count.

    Parameters
    ----------
    sizes : sequence of int, length L + 1
        Layer widths, input first.
    activation_codes : sequence of int, length L
        Activation code of each weight layer (the last one is the output's).
    bias : bool
        Whether layers have biases.

    Returns
    -------
    layers : ndarray, shape (L, 7), int64
    n_params : int
    """
    n_layers = len(sizes) - 1
    layers = np.zeros((n_layers, 7), dtype=np.int64)
    offset = 0
    row = 0
    for l in range(n_layers):
        n_in, n_out = int(sizes[l]), int(sizes[l + 1])
        layers[l, N_IN], layers[l, N_OUT] = n_in, n_out
        layers[l, W_OFF] = offset
        offset += n_in * n_out
        if bias:
            layers[l, B_OFF] = offset
            offset += n_out
        else:
            layers[l, B_OFF] = NO_BIAS
        layers[l, ACT] = activation_codes[l]
        layers[l, ROW_IN] = row
        row += n_in
        layers[l, ROW_OUT] = row
    return layers, offset


def workspace_size(layers, capacity):
    """Length of an activation (or δ) workspace for ``capacity`` rows."""
    return int(capacity * layers[-1, ROW_OUT] + capacity * layers[-1, N_OUT])


@view_function
def region(buffer, capacity, row_offset, b, n):
    """View of one layer's ``(b, n)`` block inside a flat workspace."""
    return capacity * row_offset, b, n


@view_function
def weight_view(P, layers, l):
    """``W`` of layer ``l`` as a ``(n_out, n_in)`` view of the flat vector."""
    return layers[l, W_OFF], layers[l, N_OUT], layers[l, N_IN]
