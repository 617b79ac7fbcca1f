"""Compiled drivers that run one fastbp kernel the way the compiled epoch does.

``fastbp.epoch.train_batches`` fuses every kernel of a training step into two
parallel regions, so a single kernel cannot be timed through it.  The drivers
below call one serial kernel (``forward_rows``, ``backprop_rows``,
``weight_gradient_rows``, ``update_range``) over exactly the row chunks,
``(layer, j0, j1)`` tasks or parameter chunks that ``train_batches`` uses, in a ``prange`` region
when ``parallel`` is true (as ``train_batches`` does for ``n_threads > 1``),
``n_iter`` times in a row without returning to Python.

They are compiled lazily and cached on disk (``cache=True``), like fastbp's
own kernels.  The fastbp internals they call may not exist in old commits:
then ``UNAVAILABLE`` says why, and the benchmarks skip (``NotImplementedError``
in ``setup``).
"""
import inspect

import numba
from numba import prange

try:
    from fastbp.backward import backprop_rows, weight_gradient_rows
    from fastbp.epoch import chunk_rows
    from fastbp.forward import forward_rows
    from fastbp.layout import region
    from fastbp.optimizers import prepare_step, update_range
except ImportError as error:  # an old commit: the kernel benchmarks skip
    UNAVAILABLE = f"fastbp kernels not importable: {error}"
else:
    UNAVAILABLE = None

try:  # newer than the kernels above: its own flag, so that only its benchmark skips
    from fastbp.gradient_update import sgd_rows_times
except ImportError as error:
    SGD_PASS_UNAVAILABLE = f"fastbp.gradient_update.sgd_rows_times not importable: {error}"
else:
    SGD_PASS_UNAVAILABLE = None

_FLAGS = dict(parallel=True, cache=True, nogil=True, error_model="numpy")


@numba.njit(**_FLAGS)
def forward_chunks(P, layers, slope, capacity, b, plan, parallel, acts, logits, n_iter):
    """Forward pass of a ``b``-row batch over the epoch's row chunks."""
    rows = chunk_rows(b, plan[0], plan[1])
    n_chunks = (b + rows - 1) // rows
    for _ in range(n_iter):
        if parallel and n_chunks > 1:
            for c in prange(n_chunks):
                _forward_chunk(P, layers, slope, capacity, b, c * rows, min(b, (c + 1) * rows), acts, logits)
        else:
            for c in range(n_chunks):
                _forward_chunk(P, layers, slope, capacity, b, c * rows, min(b, (c + 1) * rows), acts, logits)


@numba.njit(**_FLAGS)
def backprop_chunks(P, layers, slope, capacity, b, plan, parallel, acts, deltas, n_iter):
    """δ recursion (output layer down to layer 1) over the epoch's row chunks."""
    rows = chunk_rows(b, plan[0], plan[1])
    n_chunks = (b + rows - 1) // rows
    for _ in range(n_iter):
        if parallel and n_chunks > 1:
            for c in prange(n_chunks):
                backprop_rows(P, layers, slope, capacity, b, c * rows, min(b, (c + 1) * rows), acts, deltas)
        else:
            for c in range(n_chunks):
                backprop_rows(P, layers, slope, capacity, b, c * rows, min(b, (c + 1) * rows), acts, deltas)


@numba.njit(**_FLAGS)
def gradient_tasks_run(tasks, layers, capacity, b, parallel, acts, deltas, scratch, G, n_iter):
    """Weight (and bias) gradients of every layer over the epoch's tasks
    (``scratch``: the transposed-δ workspace of commits that had one)."""
    n_tasks = tasks.shape[0]
    for _ in range(n_iter):
        if parallel and n_tasks > 1:
            for t in prange(n_tasks):
                _gradient_task(layers, tasks[t], capacity, b, acts, deltas, scratch, G)
        else:
            for t in range(n_tasks):
                _gradient_task(layers, tasks[t], capacity, b, acts, deltas, scratch, G)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _update_chunk_with_unit(chunk, n_chunks, code, hyper, step_scalars, G, P, state, unit):
    n = P.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    p0 = chunk * size
    update_range(code, hyper, step_scalars, G, p0, min(n, p0 + size), P, state, unit)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _update_chunk_without_unit(chunk, n_chunks, code, hyper, step_scalars, G, P, state, unit):
    n = P.shape[0]
    size = (n + n_chunks - 1) // n_chunks
    p0 = chunk * size
    update_range(code, hyper, step_scalars, G, p0, min(n, p0 + size), P, state)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _forward_chunk_with_inputs(P, layers, slope, capacity, b, r0, r1, acts, logits):
    forward_rows(P, layers, slope, capacity, b, r0, r1, 0, region(acts, capacity, 0, b, layers[0, 0]), acts, logits)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _forward_chunk_without_inputs(P, layers, slope, capacity, b, r0, r1, acts, logits):
    forward_rows(P, layers, slope, capacity, b, r0, r1, 0, acts, logits)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gradient_task_without_scratch(layers, task, capacity, b, acts, deltas, scratch, G):
    weight_gradient_rows(layers, task[0], capacity, b, task[1], task[2], acts, deltas, G)


@numba.njit(cache=True, nogil=True, error_model="numpy")
def _gradient_task_with_scratch(layers, task, capacity, b, acts, deltas, scratch, G):
    weight_gradient_rows(layers, task[0], capacity, b, task[1], task[2], acts, deltas, scratch, G)


# asv runs these drivers against older commits too, whose kernels took other
# arguments: pick the variant that fits the installed fastbp (numba compiles
# only the one that is called).
def _takes(kernel, name):
    return UNAVAILABLE is None and name in inspect.signature(kernel.py_func).parameters


# forward_rows takes the input rows as a matrix since predict reads X in place.
_forward_chunk = _forward_chunk_with_inputs if _takes(forward_rows, "inputs") else _forward_chunk_without_inputs
# weight_gradient_rows needed a transposed-δ scratch before blas.gemm.
_gradient_task = _gradient_task_with_scratch if _takes(weight_gradient_rows, "deltas_t") \
    else _gradient_task_without_scratch

# update_range takes a preallocated ``unit = [1.0]`` since the gradient and
# the update were fused (older commits: no such argument).
if _takes(update_range, "unit"):
    _update_chunk = _update_chunk_with_unit
else:
    _update_chunk = _update_chunk_without_unit


@numba.njit(**_FLAGS)
def update_chunks_run(n_chunks, code, hyper, step_scalars, G, P, state, unit, parallel, n_iter):
    """Optimizer update of every parameter, split into ``n_chunks`` equal
    ranges.  (The epoch now updates each gradient task's parameters inside
    that task, ``fastbp.gradient_update``; this times the update kernel alone.)

    ``step_scalars`` is filled for step 1 at ``hyper[0]`` (Adam's bias
    corrections of the first step).
    """
    prepare_step(code, hyper, hyper[0], 1, step_scalars)
    for _ in range(n_iter):
        if parallel and n_chunks > 1:
            for c in prange(n_chunks):
                _update_chunk(c, n_chunks, code, hyper, step_scalars, G, P, state, unit)
        else:
            for c in range(n_chunks):
                _update_chunk(c, n_chunks, code, hyper, step_scalars, G, P, state, unit)


def update_chunk_count(n_params, n_state):
    """Chunks to split the update into: ``fastbp.parallel.update_chunks`` in
    the commits that had a separate update round, else one per thread."""
    from fastbp import parallel

    if hasattr(parallel, "update_chunks"):
        return int(parallel.update_chunks(n_params, n_state))
    return int(parallel.max_threads())


@numba.njit(cache=True, nogil=True, error_model="numpy")
def sgd_pass_run(C, a, lr, W, x, z, n_iter):
    """``sgd_rows_times`` (plain SGD of a one-sample step on the rows of ``W``,
    and their product with the next input) ``n_iter`` times."""
    for _ in range(n_iter):
        sgd_rows_times(C, a, lr, W, x, z)
