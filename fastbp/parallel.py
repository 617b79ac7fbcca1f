"""Thread control and the work split of the kernels.

Two thread pools meet in a training step: numba's (``prange``) and OpenBLAS's
(``np.dot`` inside kernels).  Letting both spin measured ~50x slower on this
hardware, so fastbp pins BLAS to one thread while its kernels run and
parallelises with ``prange`` over fixed chunks, each chunk one BLAS call.

The chunks depend on the shapes and on the machine's maximum thread count
(``numba.config.NUMBA_NUM_THREADS``), never on how many threads are active, so
results are bit-identical whatever ``n_threads`` is.
"""
import contextlib
import math
import os
import threading

import numba
import numpy as np

from .matvec import MATVEC_MAX

# numba picks its threading layer at the first parallel launch, trying
# THREADING_LAYER_PRIORITY in order: TBB first by default.  fastbp's regions
# are short and frequent, and the omp layer ran them faster: 784-128-10 SGD at
# batch 1 / 16 / 64, 53-57k / 185-215k / 200-222k samples/s against 36-38k /
# 143-146k / 185-194k with TBB (2 threads; TBB arrives, for one, with
# ``pip install mkl``).  So omp goes first, unless the user chose a layer or
# an order; the environment variable keeps the order when numba reloads its
# configuration.
PREFERRED_THREADING_LAYERS = "omp tbb workqueue"
if "NUMBA_THREADING_LAYER" not in os.environ and "NUMBA_THREADING_LAYER_PRIORITY" not in os.environ:
    os.environ["NUMBA_THREADING_LAYER_PRIORITY"] = PREFERRED_THREADING_LAYERS
    numba.config.THREADING_LAYER_PRIORITY = PREFERRED_THREADING_LAYERS.split()

# A parallel region costs ~1 µs to enter with the omp layer; a chunk must carry
# well over that much work (in floating-point operations) to pay for itself.
MIN_CHUNK_FLOPS = 1 << 16
# Weights of a first layer from which a one-sample step splits it over the
# threads (see first_layer_dominates).
FIRST_LAYER_SPLIT_MIN = 1 << 15
# Layer by layer in 2-D tiles (see tiled_layers): from this many threads, for
# layers of at least this many weights, in batches of at least this many rows.
# The weights bound is not tuned: tiles were measured on 784-1024-1024-10 and
# 1024-2048-10 only, so 784-128-10 (100k weights) keeps its row chunks.
TILE_MIN_THREADS = 4
TILE_MIN_WEIGHTS = 1 << 18
TILE_MIN_ROWS = 16

_controller = None
# The BLAS thread limit is process-wide while numba's settings are per thread:
# the first thread to enter ``threads()`` pins BLAS, the last one out restores it.
_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None


def max_threads():
    """Most threads fastbp kernels can use on this machine."""
    return int(numba.config.NUMBA_NUM_THREADS)


def check_n_threads(n_threads):
    """Validate ``n_threads`` (None means all) and return it as an int."""
    limit = max_threads()
    if n_threads is None:
        return limit
    if isinstance(n_threads, (bool, np.bool_)) or not isinstance(n_threads, (int, np.integer)):
        raise TypeError(f"n_threads must be an int or None, got {type(n_threads).__name__}")
    if not 1 <= n_threads <= limit:
        raise ValueError(f"n_threads must be between 1 and {limit} (NUMBA_NUM_THREADS), got {n_threads}")
    return int(n_threads)


def _blas_controller():
    global _controller
    if _controller is None:
        import scipy
        import scipy.linalg.cython_blas  # noqa: F401  (numba's BLAS: load it so it can be pinned)
        from threadpoolctl import ThreadpoolController

        from . import blas

        _controller = ThreadpoolController()
        # SciPy's own OpenBLAS (in scipy.libs/ beside the package, or inside
        # it) is the one numba calls: its core type tells gemm whether
        # OpenBLAS's small-matrix kernels are there (blas.set_openblas_small_limit).
        scipy_dir = os.path.dirname(os.path.abspath(scipy.__file__))
        core = None
        for library in _controller.lib_controllers:
            if library.internal_api == "openblas" and os.path.abspath(library.filepath).startswith(scipy_dir):
                core = library.architecture
                break
        blas.set_openblas_small_limit(core)
    return _controller


@contextlib.contextmanager
def threads(n_threads=None):
    """Context manager: run fastbp kernels on ``n_threads`` threads.

    Inside it numba uses ``n_threads`` threads (None: all) with a static
    schedule (chunk ``i`` of a parallel loop runs on the same thread every time,
    so its rows of ``W``, of the optimizer state and of the activations stay in
    that core's cache; static measured up to 1.7x faster than handing chunks out
    one at a time, with momentum at batch 16), and BLAS is pinned to one
    thread.  Everything is restored on exit, also on error.

    Examples
    --------
    >>> with fastbp.threads(2):
    ...     net.fit(X, Y)                                    # doctest: +SKIP
    """
    n = check_n_threads(n_threads)
    previous = numba.get_num_threads()
    numba.set_num_threads(n)
    previous_chunksize = numba.set_parallel_chunksize(0)  # 0: static
    _pin_blas()
    try:
        yield n
    finally:
        _release_blas()
        numba.set_parallel_chunksize(previous_chunksize)
        numba.set_num_threads(previous)


def _pin_blas():
    global _blas_users, _blas_limiter
    with _blas_lock:
        if _blas_users == 0:
            _blas_limiter = _blas_controller().limit(limits=1, user_api="blas")
        _blas_users += 1


def _release_blas():
    global _blas_users, _blas_limiter
    with _blas_lock:
        _blas_users -= 1
        if _blas_users == 0:
            _blas_limiter.restore_original_limits()
            _blas_limiter = None


def row_plan(layers, capacity):
    """How a batch's work is split: ``[max_chunks, min_rows, split_gradients, split_first_layer,
    min_rows_after_first, tiled_layers, min_rows_after_tiled]``.

    Parameters
    ----------
    layers : ndarray, shape (L, 7), int64
        Layer table.
    capacity : int
        Rows of the largest batch.

    Returns
    -------
    ndarray, shape (5,), int64
        * The most row chunks, and the fewest rows per chunk.
        * Whether the weight-gradient round is split across threads: not
          when it carries too little work for a parallel region (a region
          per step for a few thousand multiply-adds measured slower than
          running its tasks serially).  One-sample batches split it only
          when the first layer dominates (:func:`first_layer_dominates`).
        * Whether the first layer's forward product is split by rows of
          ``W^1`` over the same tasks as its update
          (:func:`fastbp.forward.first_layer_rows`): when the first layer
          dominates and the gradient round is split.  Each thread then
          reads only the rows of ``W^1`` it updates.  Split by batch rows
          instead, each thread packed all of ``W^1`` for a few rows and
          pulled the rows the other core had just updated; at batch 16 on
          784-128-10, two threads ran slower than one (SGD 155k against
          175k samples/s, momentum 98k against 112k), and splitting the
          update of a one-sample batch with the forward pass on one thread
          measured 0.58x (SGD) and 0.33x (momentum).
        * The fewest rows per chunk for the rest of the forward pass and the
          δ recursion when the first layer is split (their work only).
        * How many leading layers a training step computes layer by layer in
          2-D tiles (:func:`tiled_layers`), and the fewest rows per chunk
          for the layers after them.
    """
    macs = int(np.sum(layers[:, 0] * layers[:, 1]))
    flops_per_row = 4 * macs  # forward and the δ recursion
    min_rows = max(1, math.ceil(MIN_CHUNK_FLOPS / max(flops_per_row, 1)))
    dominant = first_layer_dominates(layers)
    if capacity == 1:
        split_gradients = int(dominant)
    else:
        split_gradients = int(2 * capacity * macs >= 2 * MIN_CHUNK_FLOPS)
    split_first_layer = int(split_gradients == 1 and dominant)
    flops_after_first = 4 * int(np.sum(layers[1:, 0] * layers[1:, 1]))
    min_rows_after_first = max(1, math.ceil(MIN_CHUNK_FLOPS / max(flops_after_first, 1)))
    n_tiled = tiled_layers(layers, capacity)
    flops_after_tiled = 4 * int(np.sum(layers[n_tiled:, 0] * layers[n_tiled:, 1]))
    min_rows_after_tiled = max(1, math.ceil(MIN_CHUNK_FLOPS / max(flops_after_tiled, 1)))
    return np.array([max_threads(), min_rows, split_gradients, split_first_layer, min_rows_after_first,
                     n_tiled, min_rows_after_tiled], dtype=np.int64)


def tiled_layers(layers, capacity):
    """How many leading layers a training step computes layer by layer, in 2-D tiles.

    A row chunk of the batch multiplies by the whole of every ``W``, and BLAS
    packs all of ``W`` for those few rows: with many threads each chunk has
    few rows, and every thread packs (and pulls through the shared cache) the
    same large matrices.  So the big leading layers are computed one after
    the other, each split into ``max_threads()`` tiles of batch rows × rows
    of ``W`` (:func:`fastbp.epoch.tile_rows` picks the grid), for the forward
    pass and again for the δ recursion; the small layers after them keep the
    row chunks.  Measured on a 16-core Xeon (``python -m
    benchmarks.tiles_vs_rows``): the three big products of a
    784-1024-1024-10 step at batch 256 ran 364 GFLOP/s in row chunks and 738
    in 2 × 8 tiles on 16 threads (307 against 491 in 1 × 8 on 8); its
    training epochs ran 1.42-1.80× faster with 16 tiles on 2-16 threads, and
    those of 1024-2048-10 at batch 512 1.33-1.35×.  With 2 tiles on the 2-core machine they ran 1.02× and
    0.96×: a tiled step enters one region per layer and direction more than
    row chunks, which only many threads repay, so a 2-core machine keeps the
    row chunks (and its results).

    Returns
    -------
    int
        0, or the number ``k`` of layers ``0 … k-1`` (never the output layer)
        with at least ``TILE_MIN_WEIGHTS`` weights each, when the machine has
        at least ``TILE_MIN_THREADS`` threads and a batch ``TILE_MIN_ROWS``
        rows or more.
    """
    if max_threads() < TILE_MIN_THREADS or capacity < TILE_MIN_ROWS:
        return 0
    n_tiled = 0
    for n_in, n_out in layers[:-1, :2]:
        if n_in * n_out < TILE_MIN_WEIGHTS:
            break
        n_tiled += 1
    return n_tiled


def first_layer_dominates(layers):
    """Whether a one-sample step splits its first layer over the threads.

    True for a network with a hidden layer whose first layer has at least
    ``FIRST_LAYER_SPLIT_MIN`` weights while every later layer is small
    enough for the one-row loops (:data:`fastbp.matvec.MATVEC_MAX`): the
    later layers' forward pass and δ recursion stay on one thread, so they
    must be cheap, and each parallel region (two per step) must carry several
    microseconds of work.
    """
    sizes = layers[:, 0] * layers[:, 1]
    return bool(len(sizes) > 1 and max_threads() > 1 and sizes[0] >= FIRST_LAYER_SPLIT_MIN
                and (sizes[1:] <= MATVEC_MAX).all())


def gradient_tasks(layers, capacity):
    """Split the weight-gradient + update work into ``(layer, j0, j1, lane)`` tasks.

    Each layer's rows are split in up to ``max_threads()`` pieces, fewer when a
    piece would carry less than ``MIN_CHUNK_FLOPS``, and each piece is given to
    one of ``max_threads()`` lanes so that the lanes carry equal work.  The
    training step runs one lane per thread (a static schedule), so a thread
    updates the same rows of ``W`` and of the optimizer state every step and
    finds them in its own core's cache.  Which lane runs a task never changes
    its result.

    Returns
    -------
    ndarray, shape (n_tasks, 4), int64
        ``(layer, j0, j1, lane)`` rows, ordered by lane.
    """
    tasks = []
    for l, (n_in, n_out) in enumerate(layers[:, :2]):
        work = (2 * capacity + 8) * n_in * n_out
        pieces = int(min(max_threads(), n_out, max(1, work // MIN_CHUNK_FLOPS)))
        bounds = np.linspace(0, n_out, pieces + 1).round().astype(np.int64)
        tasks.extend((l, j0, j1) for j0, j1 in zip(bounds[:-1], bounds[1:]) if j1 > j0)
    # Largest first onto the least-loaded lane (LPT): balanced lanes, so a
    # static schedule (one lane per thread) needs no work stealing.
    tasks.sort(key=lambda t: -(t[2] - t[1]) * layers[t[0], 0])
    load = [0] * max_threads()
    rows = []
    for l, j0, j1 in tasks:
        lane = load.index(min(load))
        load[lane] += (j1 - j0) * int(layers[l, 0])
        rows.append((l, j0, j1, lane))
    rows.sort(key=lambda t: t[3])
    return np.array(rows, dtype=np.int64).reshape(-1, 4)
