"""The compiled training loop: whole epochs of mini-batch steps in one call.

A step is two parallel regions, with no Python and no allocation between them:

1. over fixed row chunks of the batch: gather the rows (shuffled order), the
   forward pass, the loss and output δ, and the δ recursion down to layer 1;
2. over ``(layer, row range of W)`` tasks: the weight gradients, each task's
   parameters updated by the optimizer as soon as their gradient is written
   (:mod:`fastbp.gradient_update`).

On a machine with many threads, big leading layers are computed layer by
layer in 2-D tiles instead (:func:`fastbp.parallel.tiled_layers`): a region
gathers the batch's rows, one region per tiled layer computes its output
(:func:`fastbp.forward.forward_tile`), round 1 starts after them, and one
region per tiled layer below the first continues the δ recursion
(:func:`fastbp.backward.backprop_tile`) before round 2.

When the first layer dominates the network (:func:`fastbp.parallel.row_plan`),
its forward product runs first, in a region of its own, split by rows of
``W^1`` over the same lanes as round 2 (:func:`fastbp.forward.first_layer_rows`);
round 1 then starts at layer 2.  In per-sample training that product is
computed during the previous step's update instead (``x_next`` of
:func:`fastbp.gradient_update.gradient_update_task`), so there are still two
regions per step.

Small work runs the same chunks serially (``parallel=False``), which gives the
same bits without the cost of entering a parallel region.

The kernels these loops run are called through
:func:`fastbp._jit.call_compiled`: their own machine code, not a copy linked
into each region (a cold first ``fit`` took 27–30 s with the copies and
13.5–15.6 s without; ``docs/benchmarks.md``, "Eighth round").
"""
import numpy as np
from numba import prange

from ._fpenv import flush_subnormals, restore_fp_state
from ._jit import call_compiled, kernel, parallel_kernel
from ._rng import shuffle_in_place
from .backward import backprop_rows_to, backprop_tile
from .forward import first_layer_rows, forward_rows, forward_tile
from .gradient_update import LANE, gradient_update_task
from .layout import N_IN, N_OUT, ROW_OUT, region
from .losses import output_delta_rows
from .optimizers import prepare_step
from .schedules import learning_rate

# Slots of the int64 ``counters`` array.
STEP, EPOCH, STATUS = range(3)
# Values of counters[STATUS].
OK, NON_FINITE_LOSS = 0, 1
# Slots of the float64 ``totals`` array.
LOSS_SUM, SAMPLES = range(2)


@kernel
def chunk_rows(b, max_chunks, min_rows):
    """Rows per chunk for a batch of ``b`` rows (see fastbp.parallel.row_plan)."""
    n_chunks = max(1, min(max_chunks, b // min_rows))
    return (b + n_chunks - 1) // n_chunks


@kernel
def tile_rows(rows, columns, n_tiles):
    """Rows of a grid of ``n_tiles`` tiles over a ``(rows, columns)`` product.

    The grid ``tr × tc = n_tiles`` whose tile reads the fewest operand rows,
    ``rows / tr + columns / tc`` (its rows of the left operand and its rows
    or columns of ``W``, each as long as the inner dimension); ties go to the
    fewer tile rows.  Depends on the shapes and ``n_tiles`` only (see
    fastbp.parallel.tiled_layers).
    """
    best, best_cost = 1, np.inf
    for tr in range(1, n_tiles + 1):
        tc = n_tiles // tr
        if tr * tc == n_tiles and tr <= max(1, rows) and tc <= max(1, columns):
            cost = rows / tr + columns / tc
            if cost < best_cost:
                best, best_cost = tr, cost
    return best


@kernel
def tile_bounds(t, tr, tiles, b, n):
    """Batch rows ``r0:r1`` and units ``j0:j1`` of tile ``t`` of ``tiles``, ``tr`` tile rows
    over a batch of ``b`` rows and ``n`` units."""
    tc = tiles // tr
    r, c = np.int64(t) // tc, np.int64(t) % tc
    return r * b // tr, (r + 1) * b // tr, c * n // tc, (c + 1) * n // tc


@kernel
def gather_rows(X, order, start, r0, r1, X_batch):
    """``X_batch[r0:r1] = X[order[start + r0 : start + r1]]`` (``X[start + r0 : start + r1]``
    when ``order`` is empty)."""
    for i in range(r0, r1):
        src = start + i if order.shape[0] == 0 else order[start + i]
        for j in range(X.shape[1]):
            X_batch[i, j] = X[src, j]


@kernel
def batch_chunk(X, Y, sample_weight, order, start, P, layers, slope, out_code, loss_code, capacity, b, r0, r1,
                scale, with_loss, with_backward, first_layer, acts, logits, deltas, targets, row_weights, out):
    """Rows ``r0:r1`` of the batch starting at ``start``: forward, loss, δ.

    Runs with subnormals flushed to zero on the calling thread
    (:mod:`fastbp._fpenv`), restored on return.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_in)
    Y : ndarray, shape (n_samples, n_out) or (0, n_out) when ``with_loss`` is False
    sample_weight : ndarray, shape (n_samples,) or (0,)
        Per-sample weights; empty means unweighted.
    order : ndarray, shape (n_samples,) or (0,), int64
        Sample order; empty means ``start, start + 1, ...``.
    start : int
        Position in ``order`` of the batch's first row.
    P, layers, slope, out_code, loss_code
        Parameters, layer table, leaky slope, output and loss codes.
    capacity, b, r0, r1 : int
        Workspace capacity, batch rows, and this chunk's rows.
    scale : float
        ``1 / (batch weight)``: δ is the gradient of the batch's mean loss.
    with_loss, with_backward : bool
        Compute the loss and output δ; also the δ recursion.
    first_layer : int
        First layer of the forward pass (1: the input rows and the first
        layer's output are already in ``acts``, see
        :func:`fastbp.forward.first_layer_rows`).
    acts, logits, deltas, targets, row_weights : ndarray
        Workspaces (outputs).
    out : ndarray, shape (n_samples, n_out) or (0, 0)
        If not empty, receives the output activations of these rows.

    Returns
    -------
    float
        Sum of the per-sample losses of the chunk (0.0 without ``with_loss``).
    """
    fp_state = flush_subnormals()  # this thread, until we return (see fastbp._fpenv)
    n_in = layers[0, N_IN]
    last = layers.shape[0] - 1
    n_out = layers[last, N_OUT]
    # Rows in order and no δ recursion (predict, loss): the first layer reads
    # X's own rows.  Copying them into acts measured ~25 % of a 784-128-10
    # predict.  Training gathers them (shuffled rows; the weight gradient of
    # layer 0 reads them from acts).
    in_place = order.shape[0] == 0 and not with_backward and first_layer == 0
    X_batch = X[start:start + b] if in_place else region(acts, capacity, 0, b, n_in)
    T = region(targets, capacity, 0, b, n_out)
    weighted = sample_weight.shape[0] > 0
    for i in range(r0, r1):
        src = start + i if order.shape[0] == 0 else order[start + i]
        if first_layer == 0 and not in_place:  # else the rows are in place already
            for j in range(n_in):
                X_batch[i, j] = X[src, j]
        if with_loss:
            for j in range(n_out):
                T[i, j] = Y[src, j]
            if weighted:
                row_weights[i] = sample_weight[src]
    call_compiled(forward_rows, P, layers, slope, capacity, b, r0, r1, first_layer, X_batch, acts, logits)
    A_out = region(acts, capacity, layers[last, ROW_OUT], b, n_out)
    if out.shape[0] > 0:
        for i in range(r0, r1):
            for j in range(n_out):
                out[start + i, j] = A_out[i, j]
    if not with_loss:
        restore_fp_state(fp_state)
        return 0.0
    Z = region(logits, capacity, 0, b, n_out)
    D = region(deltas, capacity, layers[last, ROW_OUT], b, n_out)
    weights = row_weights if weighted else row_weights[:0]
    loss = call_compiled(output_delta_rows, Z, A_out, T, weights, r0, r1, out_code, loss_code, scale, D)
    if with_backward:
        call_compiled(backprop_rows_to, P, layers, slope, capacity, b, r0, r1, max(1, first_layer), acts, deltas)
    restore_fp_state(fp_state)
    return loss


@parallel_kernel
def train_batches(X, Y, sample_weight, batch_size, first_batch, n_batches, shuffle, apply_update,
                  layers, slope, out_code, loss_code, opt_code, hyper, schedule,
                  plan, tasks, parallel, tiled_plan,
                  order, rng_state, P, state, counters, totals,
                  acts, logits, deltas, targets, row_weights, G, loss_parts, step_scalars, unit):
    """Run batches ``first_batch ... first_batch + n_batches - 1`` of an epoch.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_in), C-contiguous
    Y : ndarray, shape (n_samples, n_out), C-contiguous, dtype of X
    sample_weight : ndarray, shape (n_samples,) or (0,), dtype of X
        Per-sample weights (empty: unweighted).  A batch's loss is
        ``Σ w·loss / Σ w``; a batch whose weights are all zero is skipped.
    batch_size : int
        Rows per batch; the last batch of the epoch may be smaller (it is
        used, not dropped).
    first_batch, n_batches : int
        Which batches of the epoch to run (Python calls an epoch in slices
        so that Ctrl-C is answered between steps).
    shuffle : bool
        Shuffle ``order`` in place first when ``first_batch == 0``.
    apply_update : bool
        Update the parameters (False: only compute ``G`` and δ).
    layers, slope, out_code, loss_code
        Layer table, leaky slope, output and loss codes.
    opt_code, hyper, schedule
        Optimizer code, its float64 hyperparameters, the schedule array.
    plan, tasks, parallel
        Row plan (:func:`fastbp.parallel.row_plan`; ``max_chunks`` is also
        the number of task lanes), gradient-and-update tasks
        (``fastbp.parallel``) and whether to run chunks in parallel regions.
    tiled_plan : ndarray or None
        ``plan`` when it computes leading layers in tiles (``plan[5] > 0``,
        :func:`fastbp.parallel.tiled_layers`), else None: numba then drops the
        tiled step's branches before compiling (the ``is None`` tests on an
        argument typed None), so a machine that never tiles never compiles
        them (3.4 s more of a cold first fit, measured).
    order : ndarray, shape (n_samples,) or (0,), int64
        Sample order (in/out: shuffled in place).
    rng_state : ndarray, shape (1,), uint64
        Shuffling generator state (in/out).
    P, state : ndarray
        Parameters and optimizer state (in/out).
    counters : ndarray, shape (3,), int64
        ``[step, epoch, status]`` (in/out); status is set to
        ``NON_FINITE_LOSS`` and the kernel returns *before* updating if a
        batch's loss is NaN or infinite.
    totals : ndarray, shape (2,), float64
        ``[loss sum, samples]`` accumulated over the batches run.
    acts, logits, deltas, targets, row_weights, G, loss_parts, step_scalars
        Preallocated workspaces.
    unit : ndarray, shape (1,), dtype of P
        ``[1.0]``: a plain gradient's row scale in
        :func:`fastbp.optimizers.update_rows`.
    """
    n_samples = X.shape[0]
    n_in = X.shape[1]
    if first_batch == 0 and shuffle:
        # Restart from the identity so that an epoch's order depends only on
        # the generator state (a saved and reloaded model resumes exactly).
        for i in range(order.shape[0]):
            order[i] = i
        shuffle_in_place(order, rng_state)
    lr = learning_rate(hyper[0], schedule, counters[EPOCH])
    no_out = X[:0]  # "no output rows wanted", without an allocation
    # Flags as typed values, not literals: a literal ``True`` would make numba
    # compile batch_chunk once more for this call site.
    yes = np.bool_(True)
    n_tasks = tasks.shape[0]
    next_ready = False  # this step's a^1 was computed by the previous step's update
    for k in range(first_batch, first_batch + n_batches):
        start = k * batch_size
        b = min(batch_size, n_samples - start)
        weight = float(b)
        if sample_weight.shape[0] > 0:
            weight = 0.0
            for i in range(start, start + b):
                weight += sample_weight[i if order.shape[0] == 0 else order[i]]
            if weight == 0.0:
                continue
        scale = 1.0 / weight
        # When the first layer dominates, its forward product is split by rows
        # of W^1 over the update's tasks and lanes (forward.first_layer_rows),
        # not by batch rows.  Taken or not whatever the number of threads, so
        # the bits do not depend on it either.
        first_layer = np.int64(0)
        min_rows = plan[1]
        if plan[3] != 0 and b <= layers[0, N_OUT]:
            first_layer = np.int64(1)
            min_rows = plan[4]  # the rest of the step is small: fewer, larger row chunks
            gather_rows(X, order, start, np.int64(0), b, region(acts, batch_size, 0, b, n_in))
            if next_ready:  # computed by the previous step's update: a^1 is in δ^1's block
                A_1 = region(acts, batch_size, layers[0, ROW_OUT], 1, layers[0, N_OUT])
                D_1 = region(deltas, batch_size, layers[0, ROW_OUT], 1, layers[0, N_OUT])
                for j in range(layers[0, N_OUT]):
                    A_1[0, j] = D_1[0, j]
            elif parallel and n_tasks > 1:
                for lane in prange(plan[0]):
                    for t in range(n_tasks):
                        if tasks[t, LANE] == lane and tasks[t, 0] == 0:
                            call_compiled(first_layer_rows, np.int64(t), tasks, P, layers, slope, batch_size, b,
                                          acts, deltas)
            else:
                for t in range(n_tasks):
                    if tasks[t, 0] == 0:
                        call_compiled(first_layer_rows, np.int64(t), tasks, P, layers, slope, batch_size, b,
                                      acts, deltas)
        elif tiled_plan is not None:
            # Big leading layers on many threads: each one in 2-D tiles
            # (fastbp.parallel.tiled_layers), the rest of the step in row chunks.
            first_layer = tiled_plan[5]
            min_rows = tiled_plan[6]
            tiles = tiled_plan[0]
            X_batch = region(acts, batch_size, 0, b, n_in)
            if parallel:
                for t in prange(tiles):
                    gather_rows(X, order, start, np.int64(t) * b // tiles, (np.int64(t) + 1) * b // tiles, X_batch)
            else:
                gather_rows(X, order, start, np.int64(0), b, X_batch)
            for l in range(first_layer):
                n_out = layers[l, N_OUT]
                tr = tile_rows(batch_size, n_out, tiles)
                if parallel:
                    for t in prange(tiles):
                        r0, r1, j0, j1 = tile_bounds(t, tr, tiles, b, n_out)
                        call_compiled(forward_tile, P, layers, slope, batch_size, b, l, r0, r1, j0, j1, acts)
                else:
                    for t in range(tiles):
                        r0, r1, j0, j1 = tile_bounds(t, tr, tiles, b, n_out)
                        call_compiled(forward_tile, P, layers, slope, batch_size, b, l, r0, r1, j0, j1, acts)
        rows = chunk_rows(b, plan[0], min_rows)
        n_chunks = (b + rows - 1) // rows
        if parallel and n_chunks > 1:
            for c in prange(n_chunks):
                r0 = np.int64(c) * rows
                loss_parts[c] = call_compiled(batch_chunk, X, Y, sample_weight, order, start, P, layers, slope,
                                              out_code, loss_code, batch_size, b, r0, min(b, r0 + rows), scale,
                                              yes, yes, first_layer, acts, logits, deltas, targets, row_weights,
                                              no_out)
        else:
            for c in range(n_chunks):
                r0 = np.int64(c) * rows
                loss_parts[c] = call_compiled(batch_chunk, X, Y, sample_weight, order, start, P, layers, slope,
                                              out_code, loss_code, batch_size, b, r0, min(b, r0 + rows), scale,
                                              yes, yes, first_layer, acts, logits, deltas, targets, row_weights,
                                              no_out)
        loss = 0.0
        for c in range(n_chunks):
            loss += loss_parts[c]
        if not np.isfinite(loss):
            counters[STATUS] = NON_FINITE_LOSS
            return
        totals[LOSS_SUM] += loss
        totals[SAMPLES] += weight
        if tiled_plan is not None:  # the δ recursion through the tiled layers (row chunks stopped at W^k)
            tiles = tiled_plan[0]
            for l in range(first_layer - 1, 0, -1):
                n_units = layers[l, N_IN]
                tr = tile_rows(batch_size, n_units, tiles)
                if parallel:
                    for t in prange(tiles):
                        r0, r1, j0, j1 = tile_bounds(t, tr, tiles, b, n_units)
                        call_compiled(backprop_tile, P, layers, slope, batch_size, b, l, r0, r1, j0, j1, acts, deltas)
                else:
                    for t in range(tiles):
                        r0, r1, j0, j1 = tile_bounds(t, tr, tiles, b, n_units)
                        call_compiled(backprop_tile, P, layers, slope, batch_size, b, l, r0, r1, j0, j1, acts, deltas)
        prepare_step(opt_code, hyper, lr, counters[STEP] + 1, step_scalars)
        # Per-sample steps with a split first layer: the update of W^1 also
        # computes the next step's a^1 (gradient_update_task's x_next), while
        # each block of rows is in cache: the same bits as computing it in the
        # next step, except with plain SGD, whose single pass sums it in
        # another (fixed) order.  Not with sample weights (a zero-weight
        # sample is skipped).
        x_next = X[0][:0]
        if (apply_update and batch_size == 1 and plan[3] != 0 and sample_weight.shape[0] == 0
                and k + 1 < first_batch + n_batches):
            x_next = X[start + 1] if order.shape[0] == 0 else X[order[start + 1]]
        if parallel and plan[2] != 0 and n_tasks > 1:
            # One lane per thread: the same thread updates the same rows of W
            # and of the optimizer state every step (fastbp.parallel).
            for lane in prange(plan[0]):
                for t in range(n_tasks):
                    if tasks[t, LANE] == lane:
                        call_compiled(gradient_update_task, np.int64(t), tasks, layers, batch_size, b,
                                      apply_update, opt_code, hyper, step_scalars, acts, deltas, G, P, state,
                                      unit, slope, x_next)
        else:
            for t in range(n_tasks):
                call_compiled(gradient_update_task, np.int64(t), tasks, layers, batch_size, b, apply_update,
                              opt_code, hyper, step_scalars, acts, deltas, G, P, state, unit, slope, x_next)
        next_ready = x_next.shape[0] > 0
        if apply_update:
            counters[STEP] += 1


@parallel_kernel
def forward_batches(X, Y, sample_weight, P, layers, slope, out_code, loss_code, capacity, plan, parallel, with_loss,
                    acts, logits, deltas, targets, row_weights, loss_parts, totals, out):
    """Forward pass (and optionally the loss) over all of ``X``, in blocks.

    Parameters
    ----------
    X : ndarray, shape (n_samples, n_in)
    Y : ndarray, shape (n_samples, n_out), or (0, n_out) without loss
    sample_weight : ndarray, shape (n_samples,) or (0,)
        Per-sample weights of the loss (empty: unweighted).
    P, layers, slope, out_code, loss_code
        As in :func:`train_batches`.
    capacity : int
        Rows per block (the workspaces' capacity).
    plan, parallel
        Row plan and whether to run chunks in parallel.
    with_loss : bool
        Accumulate the (weighted) loss sum into ``totals``.
    acts, logits, deltas, targets, row_weights, loss_parts : ndarray
        Workspaces.
    totals : ndarray, shape (2,), float64
        ``[loss sum, total weight]`` (output, accumulated).
    out : ndarray, shape (n_samples, n_out) or (0, 0)
        Output activations (filled if not empty).
    """
    n_samples = X.shape[0]
    order = plan[:0]  # "natural order", without an allocation
    no, zero = np.bool_(False), np.int64(0)  # typed values, not literals (see train_batches)
    for start in range(0, n_samples, capacity):
        b = min(capacity, n_samples - start)
        rows = chunk_rows(b, plan[0], plan[1])
        n_chunks = (b + rows - 1) // rows
        if parallel and n_chunks > 1:
            for c in prange(n_chunks):
                r0 = np.int64(c) * rows
                loss_parts[c] = call_compiled(batch_chunk, X, Y, sample_weight, order, start, P, layers, slope,
                                              out_code, loss_code, capacity, b, r0, min(b, r0 + rows), 1.0,
                                              with_loss, no, zero, acts, logits, deltas, targets, row_weights, out)
        else:
            for c in range(n_chunks):
                r0 = np.int64(c) * rows
                loss_parts[c] = call_compiled(batch_chunk, X, Y, sample_weight, order, start, P, layers, slope,
                                              out_code, loss_code, capacity, b, r0, min(b, r0 + rows), 1.0,
                                              with_loss, no, zero, acts, logits, deltas, targets, row_weights, out)
        for c in range(n_chunks):
            totals[LOSS_SUM] += loss_parts[c]
        if sample_weight.shape[0] > 0:
            for i in range(start, start + b):
                totals[SAMPLES] += sample_weight[i]
        else:
            totals[SAMPLES] += b
