"""Per-kernel benchmarks: forward, δ recursion, weight gradients, optimizer updates,
and per-sample plain SGD's single pass over a first layer.

Each kernel runs through a compiled driver of :mod:`benchmarks._drivers`,
over the same row chunks / ``(layer, j0, j1)`` tasks as the compiled epoch and
in a ``prange`` region when ``threads > 1`` (exactly as
``fastbp.epoch.train_batches`` runs it).  One timed call is one application
of the kernel to the whole batch; the Python-to-numba dispatch (~1-3 µs) is
included, which matters only for the smallest shapes.

The network is ``[width, width, width]`` (two weight layers of
``width × width``), so that the δ recursion has one hidden layer to go through.
"""
import numpy as np

from .common import make_network, make_optimizer, thread_counts

WIDTHS = [64, 512, 2048]
BATCHES = [1, 32, 512]
UPDATE_WIDTHS = [256, 2048]
DTYPES = ["float32", "float64"]
THREADS = thread_counts()
OPTIMIZERS = ["sgd", "momentum", "rmsprop", "adam", "adamw"]
OPTIMIZER_CODES = {"sgd": 0, "momentum": 0, "rmsprop": 1, "adam": 2, "adamw": 3}


class _KernelBase:
    """Builds the network, its workspace filled with seeded random values, and
    enters ``fastbp.threads(threads)`` for the duration of the benchmark."""

    def _prepare(self, width, batch, dtype, threads):
        from . import _drivers

        if _drivers.UNAVAILABLE:
            raise NotImplementedError(_drivers.UNAVAILABLE)
        if threads not in thread_counts():
            raise NotImplementedError(f"{threads} threads > NUMBA_NUM_THREADS")
        import fastbp

        self.d = _drivers
        self.net = make_network([width, width, width], dtype=np.dtype(dtype).type)
        self.ws = ws = self.net._workspace(batch)
        rng = np.random.default_rng(0)
        ws["acts"][:] = rng.standard_normal(ws["acts"].size)
        ws["deltas"][:] = rng.standard_normal(ws["deltas"].size) * 1e-3
        ws["G"][:] = rng.standard_normal(ws["G"].size) * 1e-3
        self.P = self.net.parameters
        self.layers = self.net._layers
        self.slope = self.net.leaky_slope
        self.batch = batch
        self.parallel = threads > 1
        self._threads = fastbp.threads(threads)
        self._threads.__enter__()

    def teardown(self, *params):
        threads = getattr(self, "_threads", None)
        if threads is not None:
            threads.__exit__(None, None, None)
            self._threads = None


class Forward(_KernelBase):
    """``forward_rows`` over the batch's row chunks (both layers, with the
    activations and the output softmax)."""

    params = [WIDTHS, BATCHES, DTYPES, THREADS]
    param_names = ["width", "batch", "dtype", "threads"]

    def setup(self, width, batch, dtype, threads):
        self._prepare(width, batch, dtype, threads)
        self.time_forward()  # compiles (or loads from the on-disk cache)

    def time_forward(self, *params):
        ws = self.ws
        self.d.forward_chunks(self.P, self.layers, self.slope, self.batch, self.batch, ws["plan"], self.parallel,
                              ws["acts"], ws["logits"], 1)


class Backprop(_KernelBase):
    """``backprop_rows``: the δ recursion ``δ^{l-1} = (δ^l W^l) ⊙ f'`` over
    the batch's row chunks."""

    params = [WIDTHS, BATCHES, DTYPES, THREADS]
    param_names = ["width", "batch", "dtype", "threads"]

    def setup(self, width, batch, dtype, threads):
        self._prepare(width, batch, dtype, threads)
        self.time_backprop()

    def time_backprop(self, *params):
        ws = self.ws
        self.d.backprop_chunks(self.P, self.layers, self.slope, self.batch, self.batch, ws["plan"], self.parallel,
                               ws["acts"], ws["deltas"], 1)


class WeightGradient(_KernelBase):
    """``weight_gradient_rows`` over the epoch's tasks: ``∂L/∂W = δᵀ a`` and
    ``∂L/∂b`` of both layers."""

    params = [WIDTHS, BATCHES, DTYPES, THREADS]
    param_names = ["width", "batch", "dtype", "threads"]

    def setup(self, width, batch, dtype, threads):
        self._prepare(width, batch, dtype, threads)
        self.time_weight_gradient()

    def time_weight_gradient(self, *params):
        ws = self.ws
        self.d.gradient_tasks_run(ws["tasks"], self.layers, self.batch, self.batch, self.parallel, ws["acts"],
                                  ws["deltas"], ws.get("deltas_t", ws["deltas"]), ws["G"], 1)


class OptimizerUpdate(_KernelBase):
    """``update_range`` of every parameter (``2·width² + 2·width``), split into
    the epoch's parameter chunks."""

    params = [UPDATE_WIDTHS, OPTIMIZERS, DTYPES, THREADS]
    param_names = ["width", "optimizer", "dtype", "threads"]

    def setup(self, width, optimizer, dtype, threads):
        self._prepare(width, 64, dtype, threads)
        opt = make_optimizer(optimizer)
        self.code = OPTIMIZER_CODES[optimizer]
        self.hyper = opt.hyperparameters()
        self.state = np.zeros((opt.n_state, self.P.size), dtype=self.P.dtype)
        self.n_chunks = self.d.update_chunk_count(self.P.size, opt.n_state)
        self.unit = np.ones(1, self.P.dtype)
        self.time_update()

    def time_update(self, *params):
        self.d.update_chunks_run(self.n_chunks, self.code, self.hyper, self.ws["step_scalars"], self.ws["G"],
                                 self.P, self.state, self.unit, self.parallel, 1)


class PlainSGDPass:
    """``fastbp.gradient_update.sgd_rows_times``: per-sample plain SGD on the 128
    rows of a ``128 × n_in`` first layer, with the next input's product in the
    same pass (one thread: the epoch runs it once per task and lane)."""

    params = [[256, 784, 2048], DTYPES]
    param_names = ["n_in", "dtype"]

    def setup(self, n_in, dtype):
        from . import _drivers

        if _drivers.SGD_PASS_UNAVAILABLE:
            raise NotImplementedError(_drivers.SGD_PASS_UNAVAILABLE)
        self.d = _drivers
        rng = np.random.default_rng(0)
        dtype = np.dtype(dtype).type
        self.W = rng.standard_normal((128, n_in)).astype(dtype)
        self.C = (rng.standard_normal(128) * 1e-3).astype(dtype)
        self.a, self.x = (rng.standard_normal(n_in).astype(dtype) for _ in range(2))
        self.z = np.zeros(128, dtype)
        self.lr = dtype(1e-3)
        self.time_pass()

    def time_pass(self, *params):
        self.d.sgd_pass_run(self.C, self.a, self.lr, self.W, self.x, self.z, 1)
