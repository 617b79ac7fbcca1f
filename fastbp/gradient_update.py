"""The weight gradients fused with the optimizer update, one task at a time.

A training step's last round runs over fixed ``(layer, j0, j1, lane)`` tasks
(:func:`fastbp.parallel.gradient_tasks`), one lane per thread.  Each task computes the gradient of
rows ``j0:j1`` of ``W^l`` (and of ``b^l``) and at once applies the optimizer
to those same parameters, while their gradient is still in cache: one
parallel region per step for both, instead of two.

How the gradient ``∂L/∂W^l = δ^lᵀ a^{l-1}`` is computed depends on the batch:

* one row (per-sample training): row ``j`` of the gradient is ``δ_j · a``, and
  the optimizer computes it inside its own loop
  (:func:`fastbp.optimizers.update_rows`): every parameter is read and written
  once, and no gradient array is written at all.  Measured on 784-128-10
  (1 thread, SGD): 13.5 µs per step for all tasks, against 15 µs for the
  gradient written by BLAS plus 15 µs for the update reading it back.
  When the next sample's first-layer product is computed during the update
  (``x_next`` of :func:`gradient_update_task`), plain SGD (no momentum, no
  weight decay) does both in one pass over each row (:func:`sgd_rows_times`):
  the weights move by the same operations as in
  :func:`fastbp.optimizers.update_rows`, and their product with the next
  input costs no memory traffic of its own.  On 784-128-10 at batch 1 the
  update and the product had been 62 % and 25 % of a step (perf, one
  thread); with the single pass, and the weight-decay term skipped, per-sample
  SGD ran 1.42x faster on one thread and 1.46x on two
  (``python -m benchmarks.ab --base ac2bbb8 --batches 1``).  The product is
  summed in another order than :func:`fastbp.matvec.times_transposed`'s
  (the rounding differs from the separate product's; both orders are fixed
  when compiled, so the result still does not depend on the number of
  threads);
* more rows: one single-threaded BLAS call per task
  (:func:`fastbp.backward.weight_gradient_rows`), then the update of the
  task's rows.

Either way every gradient element is a sum over the batch rows in a fixed
order, so the result does not depend on the number of threads.
"""
import numpy as np

from ._fpenv import flush_subnormals, restore_fp_state
from ._jit import call_compiled, cast_like, kernel, matrix_view, reassociating_kernel
from .activations import activate_rows
from .backward import weight_gradient_rows
from .forward import add_bias
from .layout import ACT, B_OFF, N_IN, N_OUT, NO_BIAS, ROW_IN, ROW_OUT, W_OFF, region
from .matvec import times_transposed
from .optimizers import H1, H3, SGD_CODE, STEP_LR, sgd_moved, update_rows


# Column of a task row (layer, j0, j1, lane) that says which lane runs it.
LANE = 3
# Rows of W^1 updated, then multiplied by the next input, at a time (see
# gradient_update_task's x_next): 8 rows of 784 float32 are 25 KB, within L1.
FUSED_ROWS = 8


@kernel
def gradient_update_task(task, tasks, layers, capacity, b, apply_update, opt_code, hyper, step_scalars,
                         acts, deltas, G, P, state, unit, slope, x_next):
    """Gradient of task ``task``'s parameters, and their optimizer update.

    Runs with subnormals flushed to zero on the calling thread
    (:mod:`fastbp._fpenv`), restored on return.

    Parameters
    ----------
    task : int
        Row of ``tasks`` to run.
    tasks : ndarray, shape (n_tasks, 4), int64
        ``(layer, j0, j1, lane)`` rows (:func:`fastbp.parallel.gradient_tasks`).
    layers : ndarray, shape (L, 7), int64
        Layer table.
    capacity, b : int
        Workspace capacity and rows in this batch.
    apply_update : bool
        Update the parameters.  False: only write the gradient into ``G``
        (``Network.gradients``).
    opt_code, hyper, step_scalars
        Optimizer code, hyperparameters and this step's scalars (see
        :func:`fastbp.optimizers.update_range`).
    acts, deltas : ndarray, shape (workspace,)
        Activations and δ of the batch.
    G : ndarray, shape (n_params,)
        The task's gradient entries (output; not written when a one-row batch
        is fused into the update).
    P : ndarray, shape (n_params,)
        Parameters, updated in place.
    state : ndarray, shape (n_state, n_params)
        Optimizer state, updated in place.
    unit : ndarray, shape (1,), dtype of P
        ``[1.0]``, preallocated (see :func:`fastbp.optimizers.update_range`).
    slope : float
        Negative slope of ``leaky_relu`` (for ``x_next``).
    x_next : ndarray, shape (n_in,) or (0,)
        The next one-sample step's input row, or empty.  When given (a
        one-sample step whose first layer is split, see
        :func:`fastbp.forward.first_layer_rows`), a first-layer task also
        computes the next step's ``a^1[j]`` for its rows, block by block,
        right after updating them (plain SGD: in the same pass, see
        :func:`sgd_rows_times`): the rows are read once per step while
        still in cache, instead of once more by the next forward pass.  The
        values go to this step's ``δ^1`` block (already used, for these rows
        only); the caller copies them into ``a^1``.
    """
    l = tasks[task, 0]
    j0 = tasks[task, 1]
    j1 = tasks[task, 2]
    n_in = layers[l, N_IN]
    w0 = layers[l, W_OFF]
    bias0 = layers[l, B_OFF]
    outer = apply_update and b == 1
    fp_state = flush_subnormals()  # this thread, until we return (see fastbp._fpenv)
    if not outer:
        call_compiled(weight_gradient_rows, layers, l, capacity, b, j0, j1, acts, deltas, G)
        if not apply_update:
            restore_fp_state(fp_state)
            return
    delta = region(deltas, capacity, layers[l, ROW_OUT], b, layers[l, N_OUT])[0]
    fuse = outer and l == 0 and x_next.shape[0] > 0
    zero, one = np.int64(0), np.int64(1)  # typed, not literals (which compile each callee once more)
    if fuse and opt_code == SGD_CODE and hyper[H1] == 0.0 and hyper[H3] == 0.0:
        # Plain SGD: one pass over the task's rows of W^1 both moves them and
        # multiplies them by the next input (sgd_rows_times).  The biases
        # first, while δ^1 still holds δ (the products overwrite it).  A
        # branch of its own, with a second update_rows call site: folded into
        # the block loop below (biases first there) it ran per-sample SGD at
        # 0.87x (benchmarks.ab, 31 epochs), and the cold compile was the same.
        z = matrix_view(delta, j0, 1, j1 - j0)  # δ of these rows, then their next a^1
        if bias0 != NO_BIAS:
            call_compiled(update_rows, opt_code, hyper, step_scalars, unit, z, bias0 + j0, P, state)
        sgd_rows_times(delta[j0:j1], region(acts, capacity, layers[l, ROW_IN], one, n_in)[0],
                       cast_like(P, step_scalars[STEP_LR]), matrix_view(P, w0 + j0 * n_in, j1 - j0, n_in),
                       x_next, z[0])
        add_bias(P, layers, zero, j0, z, zero, one)
        activate_rows(z, zero, one, layers[0, ACT], slope)
        restore_fp_state(fp_state)
        return
    # Rows in blocks that stay in L1 when the next forward product follows;
    # the update is elementwise, so blocks do not change its bits, and a
    # multiple of 4 keeps times_transposed's row groups those of
    # first_layer_rows (same bits as the unfused step).
    block = FUSED_ROWS if fuse else j1 - j0
    for jb in range(j0, j1, block):
        je = min(jb + block, j1)
        # Two segments, weights then biases, through one update_rows call.
        # update_rows, weight_gradient_rows: their own code, not copies linked
        # in here (fastbp._jit.call_compiled; every optimizer's loops).
        for segment in range(1 if bias0 == NO_BIAS else 2):
            p0 = w0 + jb * n_in if segment == 0 else bias0 + jb
            n = (je - jb) * n_in if segment == 0 else je - jb
            C, X = unit, matrix_view(G, p0, 1, n)  # along the gradient written above
            if outer and segment == 0:  # one sample: row j of W moves along δ_j · a
                C, X = delta[jb:je], region(acts, capacity, layers[l, ROW_IN], one, n_in)
            elif outer:  # and the biases along δ
                X = matrix_view(delta, jb, 1, n)
            call_compiled(update_rows, opt_code, hyper, step_scalars, C, X, p0, P, state)
        if fuse:  # the next step's a^1 for these rows, into their (used) δ^1
            z = matrix_view(delta, jb, 1, je - jb)
            times_transposed(x_next, matrix_view(P, w0 + jb * n_in, je - jb, n_in), z[0])
            add_bias(P, layers, zero, jb, z, zero, one)
            activate_rows(z, zero, one, layers[0, ACT], slope)
    restore_fp_state(fp_state)


@reassociating_kernel
def sgd_rows_times(C, a, lr, W, x, z):
    """Plain SGD of a one-sample step on rows of ``W``, and their product with the next input, in one pass.

    Row ``j`` of ``W`` moves along ``C[j] · a`` (the outer-product gradient,
    with exactly the operations of :func:`fastbp.optimizers.sgd_moved`), and
    ``z[j] = W[j] · x`` with the moved row, four rows at a time: each weight
    is read and written once, and its product with ``x`` costs no memory
    traffic of its own.

    Parameters
    ----------
    C : ndarray, shape (m,)
        Scale of each row's gradient (``δ_j``).
    a : ndarray, shape (n,)
        This step's input row.
    lr : float, dtype of W
        Learning rate.
    W : ndarray, shape (m, n), C-contiguous
        Rows of the weights, updated in place.
    x : ndarray, shape (n,)
        The next step's input row.
    z : ndarray, shape (m,)
        Output, ``W x`` after the update.  May be ``C`` itself: ``C[j]`` is
        read before ``z[j]`` is written.
    """
    m, n = W.shape
    j = 0
    while j + 4 <= m:
        c0, c1, c2, c3 = C[j], C[j + 1], C[j + 2], C[j + 3]
        t0 = t1 = t2 = t3 = cast_like(z, 0.0)
        for i in range(n):
            a_i, x_i = a[i], x[i]
            w0 = sgd_moved(W[j, i], c0, a_i, lr)
            w1 = sgd_moved(W[j + 1, i], c1, a_i, lr)
            w2 = sgd_moved(W[j + 2, i], c2, a_i, lr)
            w3 = sgd_moved(W[j + 3, i], c3, a_i, lr)
            W[j, i], W[j + 1, i], W[j + 2, i], W[j + 3, i] = w0, w1, w2, w3
            t0 += w0 * x_i
            t1 += w1 * x_i
            t2 += w2 * x_i
            t3 += w3 * x_i
        z[j], z[j + 1], z[j + 2], z[j + 3] = t0, t1, t2, t3
        j += 4
    for j in range(j, m):
        c = C[j]
        total = cast_like(z, 0.0)
        for i in range(n):
            w = sgd_moved(W[j, i], c, a[i], lr)
            W[j, i] = w
            total += w * x[i]
        z[j] = total
