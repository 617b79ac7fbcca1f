"""Tutorial 000's SGD: each step trains on a random *misclassified* sample.

"随机选取样本中的一个错误分类点" — pick, at random, one of the samples the
network currently gets wrong, compute its gradients and update, until none is
left.  :func:`misclassified_steps` draws uniformly among the currently
misclassified samples by rejection (draw any sample, keep it if the current
network gets it wrong); after ``n_samples`` rejections in a row it scans all
samples, which either lists the misclassified ones (one is drawn from the list)
or proves there are none, and training stops.
"""
import numpy as np

from ._jit import call_compiled, entry_kernel, kernel
from ._rng import random_below
from .epoch import EPOCH, LOSS_SUM, NON_FINITE_LOSS, SAMPLES, STATUS, STEP, batch_chunk
from .gradient_update import gradient_update_task
from .layout import N_OUT, ROW_OUT, region
from .losses import CROSS_ENTROPY
from .optimizers import prepare_step
from .schedules import learning_rate

# counters[STATUS] once every sample is classified correctly.
NOTHING_MISCLASSIFIED = 2


@kernel
def _misclassified(X, Y, i, P, layers, slope, out_code, loss_code, acts, logits, deltas, targets,
                   row_weights, single, no_weight, no_out):
    """Whether the current network gets sample ``i`` wrong (one forward pass).

    ``no_weight`` and ``no_out`` are the caller's empty arrays (nothing is
    allocated per draw).
    """
    single[0] = i
    # Typed values, not literals, so batch_chunk is not compiled once more.
    zero, one, no = np.int64(0), np.int64(1), np.bool_(False)
    call_compiled(batch_chunk, X, Y, no_weight, single, zero, P, layers, slope, out_code, loss_code, one, one, zero,
                  one, 1.0, no, no, zero, acts, logits, deltas, targets, row_weights, no_out)
    last = layers.shape[0] - 1
    n_out = layers[last, N_OUT]
    A = region(acts, 1, layers[last, ROW_OUT], 1, n_out)
    if loss_code == CROSS_ENTROPY:
        return np.argmax(A[0]) != np.argmax(Y[i])
    for j in range(n_out):  # binary cross-entropy: threshold 0.5 on every output
        if (A[0, j] > 0.5) != (Y[i, j] > 0.5):
            return True
    return False


@entry_kernel
def misclassified_steps(X, Y, n_steps, layers, slope, out_code, loss_code, opt_code, hyper, schedule, tasks,
                        rng_state, P, state, counters, totals,
                        acts, logits, deltas, targets, row_weights, G, step_scalars, unit, single, wrong):
    """Run ``n_steps`` per-sample steps on randomly drawn misclassified samples.

    Parameters
    ----------
    X, Y : ndarray
        Samples and (one-hot or 0/1) targets, C-contiguous, dtype of ``P``.
    n_steps : int
        Steps to run; stops early, with ``counters[STATUS] =
        NOTHING_MISCLASSIFIED``, when every sample is classified correctly.
    layers, slope, out_code, loss_code, opt_code, hyper, schedule, tasks
        As in :func:`fastbp.epoch.train_batches` (workspaces of capacity 1).
    rng_state, P, state, counters, totals
        In/out, as in :func:`fastbp.epoch.train_batches`.
    acts, logits, deltas, targets, row_weights, G, step_scalars, unit
        Workspaces of capacity 1 (``unit`` as in :func:`fastbp.epoch.train_batches`).
    single : ndarray, shape (1,), int64
        Scratch: the one-sample order.
    wrong : ndarray, shape (n_samples,), int64
        Scratch: indices of misclassified samples found by a full scan.
    """
    n_samples = X.shape[0]
    lr = learning_rate(hyper[0], schedule, counters[EPOCH])
    no_weight = row_weights[:0]  # empty arrays without an allocation
    no_out = X[:0]
    no_next = X[0][:0]  # no next-step input to fuse (see gradient_update_task)
    zero, one, yes = np.int64(0), np.int64(1), np.bool_(True)
    for _ in range(n_steps):
        pick = -1
        for _attempt in range(n_samples):
            i = random_below(rng_state, n_samples)
            if _misclassified(X, Y, i, P, layers, slope, out_code, loss_code, acts, logits, deltas, targets,
                              row_weights, single, no_weight, no_out):
                pick = i
                break
        if pick < 0:
            count = 0
            for i in range(n_samples):
                if _misclassified(X, Y, i, P, layers, slope, out_code, loss_code, acts, logits, deltas,
                                  targets, row_weights, single, no_weight, no_out):
                    wrong[count] = i
                    count += 1
            if count == 0:
                counters[STATUS] = NOTHING_MISCLASSIFIED
                return
            pick = wrong[random_below(rng_state, count)]
        single[0] = pick
        loss = call_compiled(batch_chunk, X, Y, no_weight, single, zero, P, layers, slope, out_code, loss_code, one,
                             one, zero, one, 1.0, yes, yes, zero, acts, logits, deltas, targets, row_weights, no_out)
        if not np.isfinite(loss):
            counters[STATUS] = NON_FINITE_LOSS
            return
        totals[LOSS_SUM] += loss
        totals[SAMPLES] += 1.0
        prepare_step(opt_code, hyper, lr, counters[STEP] + 1, step_scalars)
        for t in range(tasks.shape[0]):
            call_compiled(gradient_update_task, np.int64(t), tasks, layers, one, one, yes, opt_code, hyper,
                          step_scalars, acts, deltas, G, P, state, unit, slope, no_next)
        counters[STEP] += 1
