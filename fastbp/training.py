"""The training driver: epochs, validation, early stopping, callbacks.

The work of an epoch happens in :func:`fastbp.epoch.train_batches`; this module
only loops over epochs, slices each epoch into a few kernel calls (so that
Ctrl-C is answered within a fraction of a second, always between two whole
steps) and keeps the promises of ``fit``: nothing is lost on Ctrl-C, on a
diverging step or on an exception in a callback.
"""
import math
import sys
import time

import numpy as np

from . import parallel
from ._validation import check_choice, check_int, check_sample_weight
from .epoch import EPOCH, LOSS_SUM, NON_FINITE_LOSS, OK, SAMPLES, STATUS, STEP, train_batches
from .optimizers import SGD, Optimizer
from .sampling import NOTHING_MISCLASSIFIED, misclassified_steps

# Work (multiply-adds) per kernel call: ~0.01-0.1 s, short enough for Ctrl-C.
MACS_PER_CALL = 2e8


class History:
    """What ``fit`` reports, epoch by epoch.

    Attributes
    ----------
    history : dict of str -> list of float
        ``loss`` (mean training loss of each epoch, measured before each
        step's update), and ``val_loss`` / ``val_accuracy`` with validation
        data.
    epochs : int
        Epochs completed.
    interrupted : bool
        Training was stopped by Ctrl-C (the network holds the state of the
        last finished step).
    stopped_early : bool
        Early stopping, a callback, or ``converged`` ended training.
    converged : bool
        With ``sampling="misclassified"``: no sample is misclassified any
        more (tutorial 000's stopping rule).
    """

    def __init__(self):
        self.history = {"loss": []}
        self.interrupted = False
        self.stopped_early = False
        self.converged = False

    @property
    def epochs(self):
        return len(self.history["loss"])

    @property
    def loss(self):
        """Training loss per epoch."""
        return self.history["loss"]

    def __getitem__(self, key):
        return self.history[key]

    def append(self, logs):
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def plot(self, ax=None):
        """Draw the loss curves with matplotlib (an optional extra).

        Returns the matplotlib ``Axes``.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError:
            raise ImportError("History.plot needs matplotlib: pip install 'fastbp[plot]'") from None
        if ax is None:
            _, ax = plt.subplots()
        for key, values in self.history.items():
            if key.endswith("loss"):
                ax.plot(range(1, len(values) + 1), values, label=key)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend()
        return ax

    def __repr__(self):
        last = {k: round(float(v[-1]), 6) for k, v in self.history.items() if v}
        flags = " interrupted" if self.interrupted else ""
        flags += " stopped early" if self.stopped_early else ""
        return f"History(epochs={self.epochs}, last={last}{flags})"


class _Progress:
    """One line on stderr, rewritten per epoch (only on a terminal)."""

    def __init__(self, epochs, verbose):
        self.epochs = epochs
        self.lines = verbose >= 2
        self.on_tty = verbose == 1 and sys.stderr.isatty()
        self.start = time.perf_counter()

    def update(self, epoch, logs, samples_per_s):
        text = " ".join(f"{k}={v:.4g}" for k, v in logs.items())
        if self.lines:
            print(f"epoch {epoch}/{self.epochs} {text} ({samples_per_s:,.0f} samples/s)", file=sys.stderr)
        elif self.on_tty:
            width = 24
            done = int(width * epoch / max(self.epochs, 1))
            bar = "#" * done + "." * (width - done)
            print(f"\r[{bar}] {epoch}/{self.epochs} {text}", end="", file=sys.stderr, flush=True)

    def close(self):
        if self.on_tty and not self.lines:
            print(file=sys.stderr)


def fit(net, X, Y, epochs=1, batch_size=32, optimizer=None, shuffle=True, n_threads=None,
        validation_data=None, validation_split=0.0, early_stopping=None, callbacks=(), verbose=0,
        sampling="uniform", sample_weight=None):
    """Train ``net`` by backpropagation.

    Parameters
    ----------
    net : Network
    X : array-like, shape (n_samples, n_in)
    Y : array-like
        Targets: class labels (n_samples,) or one-hot rows for cross-entropy;
        (n_samples, n_out) or (n_samples,) when ``n_out == 1`` otherwise.
    epochs : int >= 0
    batch_size : int >= 1 or None
        Samples per step: 1 is per-sample SGD, ``None`` is full-batch
        gradient descent.  The last, smaller batch of an epoch is used.
    optimizer : Optimizer, optional
        Default: the optimizer of the previous ``fit`` (training continues
        with its state), else ``SGD(lr=0.01)``.
    shuffle : bool
        Reshuffle the samples every epoch (reproducibly, from ``seed``).
    n_threads : int, optional
        Threads for the kernels (default: all).  Results do not depend on it.
    validation_data : (X_val, Y_val), optional
        Evaluated after every epoch (``val_loss``, and ``val_accuracy`` for
        classification).
    validation_split : float in [0, 1)
        Hold out this fraction of the samples (the last ones, before any
        shuffling) as validation data.
    early_stopping : int, optional
        Patience: stop when the monitored loss (``val_loss`` if there is
        validation data, else ``loss``) has not improved for this many
        epochs, and restore the parameters of the best epoch.
    callbacks : sequence of callables
        Each is called as ``callback(net, epoch, logs)`` after every epoch;
        returning ``True`` stops training.
    verbose : int
        0 silent; 1 a progress bar on stderr when it is a terminal (nothing
        otherwise); 2 a line per epoch on stderr.
    sampling : {"uniform", "misclassified"}
        ``"misclassified"`` (tutorial 000, needs ``batch_size=1`` and a
        classification loss): each step trains on a sample drawn at random
        among those the network currently gets wrong; stops when none is.
    sample_weight : array-like, shape (n_samples,), optional
        Non-negative per-sample weights: each batch's loss is
        ``Σ w·loss / Σ w`` (batches of zero total weight are skipped).

    Returns
    -------
    History

    Raises
    ------
    FloatingPointError
        If a step makes the loss or the parameters non-finite; the network
        is restored to its state before the failing epoch.
    """
    X2, Y2 = net._check_data(X, Y)
    epochs = check_int(epochs, "epochs", 0)
    check_choice(sampling, "sampling", ("uniform", "misclassified"))
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be a bool, got {shuffle!r}")
    verbose = check_int(verbose, "verbose", 0)
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise TypeError(f"callbacks must be a sequence of callables callback(net, epoch, logs), "
                        f"got {type(callbacks).__name__}") from None
    for cb in callbacks:
        if not callable(cb):
            raise TypeError(f"callbacks must be callables callback(net, epoch, logs), got {cb!r}")
    patience = check_int(early_stopping, "early_stopping", 1, allow_none=True)

    W2 = check_sample_weight(sample_weight, X2.shape[0], net.dtype)
    X2, Y2, W2, validation = _split_validation(net, X2, Y2, W2, validation_data, validation_split)
    n_samples = X2.shape[0]
    batch_size = check_int(batch_size, "batch_size", 1, allow_none=True)
    batch_size = n_samples if batch_size is None else min(batch_size, n_samples)

    if sampling == "misclassified":
        if net.loss_name == "mse":
            raise ValueError('sampling="misclassified" needs a classification loss '
                             "(cross_entropy or binary_cross_entropy)")
        if batch_size != 1:
            raise ValueError(f'sampling="misclassified" draws one sample per step: batch_size must be 1, '
                             f"got {batch_size}")
        if W2.size:
            raise ValueError('sample_weight cannot be combined with sampling="misclassified"')

    if optimizer is None:
        optimizer = net.optimizer if net.optimizer is not None else SGD(lr=0.01)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a fastbp optimizer (SGD, RMSProp, Adam, AdamW), got {optimizer!r}")
    optimizer.bind(net.n_parameters, net.dtype, net)
    net.optimizer = optimizer
    history = History()
    ws = net._workspace(batch_size)
    macs = int(np.sum(net._layers[:, 0] * net._layers[:, 1]))
    per_call = max(1, int(MACS_PER_CALL // (3 * batch_size * macs)))
    hyper = optimizer.hyperparameters()
    schedule = optimizer.schedule.parameters()
    if sampling == "misclassified":
        n_units = n_samples  # steps per epoch
        single = np.zeros(1, dtype=np.int64)
        wrong = np.zeros(n_samples, dtype=np.int64)

        def run(first, count):
            misclassified_steps(X2, Y2, count, net._layers, net.leaky_slope, net._out_code, net._loss_code,
                                optimizer.code, hyper, schedule, ws["tasks"], net._rng_state, net._P,
                                optimizer.state, net._counters, ws["totals"], ws["acts"], ws["logits"],
                                ws["deltas"], ws["targets"], ws["row_weights"], ws["G"],
                                ws["step_scalars"], ws["unit"], single, wrong)
    else:
        n_units = math.ceil(n_samples / batch_size)  # batches per epoch
        order = np.arange(n_samples, dtype=np.int64)

        def run(first, count):
            train_batches(X2, Y2, W2, batch_size, first, count, shuffle, True, net._layers, net.leaky_slope,
                          net._out_code, net._loss_code, optimizer.code, hyper, schedule, ws["plan"],
                          ws["tasks"], used > 1, ws["tiled_plan"], order, net._rng_state, net._P, optimizer.state,
                          net._counters, ws["totals"], ws["acts"], ws["logits"], ws["deltas"],
                          ws["targets"], ws["row_weights"], ws["G"], ws["loss_parts"], ws["step_scalars"],
                          ws["unit"])

    monitor = _EarlyStopping(patience)
    progress = _Progress(epochs, verbose)
    snapshot = _Snapshot(net, optimizer)
    net._counters[STATUS] = OK
    try:
        with parallel.threads(n_threads) as used:
            for _ in range(epochs):
                snapshot.take()
                totals = ws["totals"]
                totals[:] = 0
                started = time.perf_counter()
                done = 0
                try:
                    while done < n_units:
                        count = min(per_call, n_units - done)
                        run(done, count)
                        optimizer.steps = int(net._counters[STEP])
                        if net._counters[STATUS] != OK:
                            break
                        done += count
                except KeyboardInterrupt:
                    optimizer.steps = int(net._counters[STEP])
                    history.interrupted = True
                    break
                epoch = int(net._counters[EPOCH]) + 1
                if net._counters[STATUS] == NON_FINITE_LOSS or not np.isfinite(net._P).all():
                    snapshot.restore()
                    raise FloatingPointError(
                        f"training diverged in epoch {epoch}: the loss or the parameters became NaN or "
                        f"infinite (try a smaller learning rate than {optimizer.lr}); the network was "
                        "restored to its state before this epoch"
                    )
                net._counters[EPOCH] += 1
                elapsed = time.perf_counter() - started
                if totals[SAMPLES] == 0:  # every sample was already classified correctly
                    history.converged = True
                    history.stopped_early = True
                    break
                logs = {"loss": totals[LOSS_SUM] / totals[SAMPLES]}
                if validation is not None:
                    logs.update(_validation_logs(net, *validation))
                history.append(logs)
                progress.update(history.epochs, logs, n_samples / max(elapsed, 1e-12))
                if net._counters[STATUS] == NOTHING_MISCLASSIFIED:
                    history.converged = True
                    history.stopped_early = True
                    break
                if monitor.stop(net, logs):
                    history.stopped_early = True
                    break
                if any(bool(cb(net, epoch, logs)) for cb in callbacks):
                    history.stopped_early = True
                    break
    finally:
        progress.close()
    return history


class _Snapshot:
    """Parameters, optimizer state and counters at the start of an epoch."""

    def __init__(self, net, optimizer):
        self.net = net
        self.optimizer = optimizer
        self.P = np.empty_like(net._P)
        self.state = np.empty_like(optimizer.state)
        self.counters = net._counters.copy()
        self.rng_state = net._rng_state.copy()

    def take(self):
        self.P[...] = self.net._P
        self.state[...] = self.optimizer.state
        self.counters[...] = self.net._counters
        self.rng_state[...] = self.net._rng_state

    def restore(self):
        self.net._P[...] = self.P
        self.optimizer.state[...] = self.state
        self.net._counters[...] = self.counters
        self.net._rng_state[...] = self.rng_state
        self.optimizer.steps = int(self.counters[STEP])


class _EarlyStopping:
    """Patience on the monitored loss, keeping the best parameters."""

    def __init__(self, patience):
        self.patience = patience
        self.best = np.inf
        self.best_P = None
        self.waited = 0

    def stop(self, net, logs):
        if self.patience is None:
            return False
        value = logs.get("val_loss", logs["loss"])
        if value < self.best:
            self.best = value
            self.best_P = net._P.copy()
            self.waited = 0
            return False
        self.waited += 1
        if self.waited >= self.patience:
            net._P[...] = self.best_P
            return True
        return False


def _split_validation(net, X, Y, W, validation_data, validation_split):
    if validation_data is not None and validation_split:
        raise ValueError("pass validation_data or validation_split, not both")
    if validation_data is not None:
        try:
            X_val, Y_val = validation_data
        except (TypeError, ValueError):
            raise TypeError("validation_data must be a pair (X_val, Y_val)") from None
        return X, Y, W, net._check_data(X_val, Y_val, names=("validation_data[0]", "validation_data[1]"))
    if isinstance(validation_split, (bool, np.bool_)) or not isinstance(validation_split, (int, float, np.floating)):
        raise TypeError(f"validation_split must be a float in [0, 1), got {validation_split!r}")
    if not 0.0 <= validation_split < 1.0:
        raise ValueError(f"validation_split must be in [0, 1), got {validation_split}")
    if validation_split == 0:
        return X, Y, W, None
    n_val = int(round(X.shape[0] * validation_split))
    if n_val < 1 or n_val >= X.shape[0]:
        raise ValueError(f"validation_split={validation_split} leaves no validation or no training samples "
                         f"out of {X.shape[0]}")
    W_train = W[:-n_val] if W.size else W
    return X[:-n_val], Y[:-n_val], W_train, (X[-n_val:], Y[-n_val:])


def _validation_logs(net, X_val, Y_val):
    out, loss = net._forward_pass(X_val, Y_val)
    logs = {"val_loss": loss}
    if net.loss_name == "cross_entropy":
        logs["val_accuracy"] = float(np.mean(out.argmax(axis=1) == Y_val.argmax(axis=1)))
    elif net.loss_name == "binary_cross_entropy":
        logs["val_accuracy"] = float(np.mean((out > 0.5) == (Y_val > 0.5)))
    return logs
