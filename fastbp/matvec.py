"""One-sample products of the forward pass and the δ recursion, without BLAS.

With a batch of one row, each layer's product is a matrix-vector product, and
on small layers a BLAS call through numba's ``np.dot`` (~0.1–0.3 µs of fixed
cost: argument checks, the call into SciPy's OpenBLAS, its dispatch) costs more
than the arithmetic.  Plain loops are used there instead; they keep four
rows of ``W`` in flight, so each load of ``a`` (or of ``e``) serves four of
them.  ``python -m benchmarks.matvec_vs_blas`` (one thread, float32, µs per
product, loops / ``np.dot``) measured:

====================  ===============  ===============
``n_in × n_out``      ``W a``          ``δ W``
====================  ===============  ===============
16 × 32               0.05 / 0.16      0.10 / 0.11
32 × 10               0.03 / 0.13      0.03 / 0.09
64 × 32               0.09 / 0.20      0.10 / 0.13
128 × 128             0.73 / 1.11      0.80 / 0.75
256 × 128             2.00 / 2.26      2.35 / 2.13
784 × 128             4.21 / 4.82      4.56 / 3.99
====================  ===============  ===============

so the loops serve layers up to :data:`MATVEC_MAX` weights; larger layers,
and every batch of more than one row, go to BLAS.  The choice depends on the
shapes only, never on the number of threads.
"""
from ._jit import cast_like, kernel, reassociating_kernel

# Most weights (n_in * n_out) of a layer whose one-row products use the loops.
MATVEC_MAX = 1 << 14


@kernel
def use_matvec(b, n_in, n_out):
    """Whether a batch of ``b`` rows through an ``n_in × n_out`` layer uses these loops."""
    return b == 1 and n_in * n_out <= MATVEC_MAX


@reassociating_kernel
def times_transposed(a, W, z):
    """``z = W a``: the forward product of one row.

    Four rows of ``W`` at a time, so that each load of ``a`` serves four
    dot products.

    Parameters
    ----------
    a : ndarray, shape (n_in,)
    W : ndarray, shape (n_out, n_in), C-contiguous
    z : ndarray, shape (n_out,)
        Output.
    """
    n_out, n_in = W.shape
    j = 0
    while j + 4 <= n_out:
        t0 = t1 = t2 = t3 = cast_like(z, 0.0)
        for i in range(n_in):
            x = a[i]
            t0 += W[j, i] * x
            t1 += W[j + 1, i] * x
            t2 += W[j + 2, i] * x
            t3 += W[j + 3, i] * x
        z[j], z[j + 1], z[j + 2], z[j + 3] = t0, t1, t2, t3
        j += 4
    for j in range(j, n_out):
        total = cast_like(z, 0.0)
        for i in range(n_in):
            total += W[j, i] * a[i]
        z[j] = total


@reassociating_kernel
def times(d, W, e):
    """``e = d W``: the δ recursion's product for one row.

    Four rows of ``W`` at a time, so that ``e`` is loaded and stored once
    per four rows.

    Parameters
    ----------
    d : ndarray, shape (n_out,)
    W : ndarray, shape (n_out, n_in), C-contiguous
    e : ndarray, shape (n_in,)
        Output.
    """
    n_out, n_in = W.shape
    for i in range(n_in):
        e[i] = 0
    j = 0
    while j + 4 <= n_out:
        d0, d1, d2, d3 = d[j], d[j + 1], d[j + 2], d[j + 3]
        for i in range(n_in):
            e[i] += d0 * W[j, i] + d1 * W[j + 1, i] + d2 * W[j + 2, i] + d3 * W[j + 3, i]
        j += 4
    for j in range(j, n_out):
        dj = d[j]
        for i in range(n_in):
            e[i] += dj * W[j, i]
