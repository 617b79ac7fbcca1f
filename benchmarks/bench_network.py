"""Whole-network benchmarks through the public API: one training epoch,
predict, and the peak memory of ``fit``.

Networks are ``784 → width × depth → 10`` (ReLU hidden layers, softmax and
cross-entropy), float32, on seeded synthetic data; SGD with momentum 0.9.
"""
import numpy as np

from .common import make_data, make_network, make_optimizer, thread_counts

DEPTHS = [1, 3]
WIDTHS = [128, 1024]
BATCHES = [1, 32, 256]
THREADS = thread_counts()


def _sizes(depth, width):
    return [784] + [width] * depth + [10]


def _epoch_samples(batch):
    """Samples per timed epoch: fewer at small batches, where an epoch has one
    step per ``batch`` samples."""
    return {1: 128, 32: 2048}.get(batch, 4096)


def _check_threads(threads):
    if threads not in thread_counts():
        raise NotImplementedError(f"{threads} threads > NUMBA_NUM_THREADS")


class TrainEpoch:
    """``Network.fit(..., epochs=1)``: one epoch (128 samples at batch 1, 2,048
    at batch 32, 4,096 at batch 256), shuffled, SGD with momentum."""

    params = [DEPTHS, WIDTHS, BATCHES, THREADS]
    param_names = ["depth", "width", "batch", "threads"]
    timeout = 180

    def setup(self, depth, width, batch, threads):
        _check_threads(threads)
        self.X, self.y = make_data(_epoch_samples(batch), 784, 10)
        self.net = make_network(_sizes(depth, width))
        self.opt = make_optimizer("momentum")
        self.net.fit(self.X[:256], self.y[:256], epochs=1, batch_size=batch, optimizer=self.opt,
                     n_threads=threads)  # compile / load the cached kernels

    def time_epoch(self, depth, width, batch, threads):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch, optimizer=self.opt, n_threads=threads)


class TrainEpochBLAS:
    """One training epoch (4,096 samples) with each BLAS library of
    :func:`fastbp.blas.use`; skipped for MKL when it is not installed."""

    params = [WIDTHS, [64, 256], ["openblas", "mkl"]]
    param_names = ["width", "batch", "blas"]
    timeout = 180

    def setup(self, width, batch, library):
        from fastbp import blas

        try:
            blas.use(library)
        except ImportError as error:
            raise NotImplementedError(str(error)) from error
        self.X, self.y = make_data(4096, 784, 10)
        self.net = make_network(_sizes(1, width))
        self.opt = make_optimizer("momentum")
        self.net.fit(self.X[:256], self.y[:256], epochs=1, batch_size=batch, optimizer=self.opt)

    def teardown(self, width, batch, library):
        from fastbp import blas

        blas.use("openblas")

    def time_epoch(self, width, batch, library):
        self.net.fit(self.X, self.y, epochs=1, batch_size=batch, optimizer=self.opt)


class Predict:
    """``Network.predict`` of 8,192 rows."""

    params = [DEPTHS, WIDTHS, THREADS]
    param_names = ["depth", "width", "threads"]

    def setup(self, depth, width, threads):
        _check_threads(threads)
        self.X, _ = make_data(8192, 784, 10)
        self.net = make_network(_sizes(depth, width))
        self.net.predict(self.X[:64], n_threads=threads)

    def time_predict(self, depth, width, threads):
        self.net.predict(self.X, n_threads=threads)


class FitMemory:
    """Peak resident memory of a process that fits one epoch (4,096 samples;
    includes the interpreter, numba and the data: 12.8 MB of inputs)."""

    params = [DEPTHS, WIDTHS, [32, 256]]
    param_names = ["depth", "width", "batch"]

    def setup(self, depth, width, batch):
        self.X, self.y = make_data(4096, 784, 10)
        # Compile (or load) the kernels on a throw-away network, so the
        # measured peak is that of fitting, not of LLVM.
        make_network(_sizes(depth, width)).fit(self.X[:64], self.y[:64], epochs=1, batch_size=batch,
                                               optimizer=make_optimizer("momentum"))

    def peakmem_fit(self, depth, width, batch):
        net = make_network(_sizes(depth, width))
        net.fit(self.X, self.y, epochs=1, batch_size=batch, optimizer=make_optimizer("momentum"))
