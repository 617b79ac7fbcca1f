"""The ``Network`` class: validation, buffers and dispatch to the kernels."""
import threading
from collections import namedtuple

import numpy as np

from . import _rng, parallel
from ._validation import (as_real_array, check_choice, check_finite, check_inputs, check_int, check_real,
                          check_sample_weight, check_targets)
from .activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from .epoch import LOSS_SUM, SAMPLES, STATUS, forward_batches, train_batches
from .layout import B_OFF, N_IN, N_OUT, NO_BIAS, ROW_OUT, W_OFF, build_layer_table, workspace_size
from .losses import LOSSES, check_pair

LayerGradient = namedtuple("LayerGradient", ["dW", "db"])
LayerGradient.__doc__ = """Gradient of the batch-mean loss for one layer.

dW : ndarray, shape (n_out, n_in)
db : ndarray, shape (n_out,), or None for a layer without bias
"""

# Rows forward() pushes through the kernels at a time: bounds the workspace.
PREDICT_BLOCK = 4096
_DTYPES = {np.dtype(np.float32): np.float32, np.dtype(np.float64): np.float64}


class Network:
    """A fully-connected network trained by backpropagation.

    Layer ``l`` computes ``a^l = f^l(W^l a^{l-1} + b^l)`` with ``W^l`` of shape
    ``(n_out, n_in)`` as in the tutorials.  Parameters live in one flat vector
    (``weights`` and ``biases`` are views of it).

    Parameters
    ----------
    sizes : sequence of int
        Layer widths, input first: ``[784, 128, 10]`` is one hidden layer.
    activation : str or sequence of str
        Hidden-layer activation, one for all or one per hidden layer:
        ``sigmoid``, ``tanh``, ``relu``, ``leaky_relu``, ``identity``.
    output : str
        Output activation: ``identity``, ``sigmoid`` or ``softmax``.
    loss : str
        ``mse`` (per sample ½‖a − y‖²), ``binary_cross_entropy`` (needs
        ``output='sigmoid'``) or ``cross_entropy`` (needs ``output='softmax'``).
    dtype : {np.float32, np.float64}
        Floating type of parameters and computation; inputs are converted to
        it.
    seed : int or None
        Seeds the initial weights and the shuffling.
    bias : bool
        Whether layers have biases.
    weights : sequence of array-like, optional
        Initial ``W^l`` of shape ``(n_out, n_in)``, one per layer (converted to
        ``dtype``).
    biases : sequence of array-like, optional
        Initial ``b^l`` of shape ``(n_out,)`` (zeros when ``weights`` are given
        without them).
    leaky_slope : float
        Negative-side slope of ``leaky_relu``.

    Examples
    --------
    >>> net = Network([2, 2, 1], activation="relu", output="identity", loss="mse",
    ...               bias=False, weights=[[[0.5, 0.2], [0.3, 0.7]], [[0.6, 0.8]]],
    ...               dtype=np.float64)
    >>> float(net.forward([1.0, 2.0])[0])
    1.9
    """

    def __init__(self, sizes, activation="relu", output="identity", loss="mse", dtype=np.float32,
                 seed=None, bias=True, weights=None, biases=None, leaky_slope=0.01):
        self._sizes = tuple(_check_sizes(sizes))
        n_layers = len(self._sizes) - 1
        self._activations = tuple(_check_activations(activation, n_layers - 1))
        self.output = check_choice(output, "output", OUTPUT_ACTIVATIONS)
        self.loss_name = check_choice(loss, "loss", LOSSES)
        check_pair(self.output, self.loss_name, self._sizes[-1])
        try:
            self.dtype = _DTYPES[np.dtype(dtype)]
        except TypeError:
            raise TypeError(f"dtype must be np.float32 or np.float64, got {dtype!r}") from None
        except KeyError:
            raise ValueError(f"dtype must be np.float32 or np.float64, got {np.dtype(dtype)}") from None
        if not isinstance(bias, (bool, np.bool_)):
            raise TypeError(f"bias must be a bool, got {bias!r}")
        self.bias = bool(bias)
        self.leaky_slope = check_real(leaky_slope, "leaky_slope", low=0.0)
        self.seed = check_int(seed, "seed", 0, allow_none=True)
        codes = [HIDDEN_ACTIVATIONS[a] for a in self.activations] + [OUTPUT_ACTIVATIONS[self.output]]
        self._layers, n_params = build_layer_table(self.sizes, codes, self.bias)
        try:
            self._P = np.zeros(n_params, dtype=self.dtype)
        except MemoryError:
            size = n_params * np.dtype(self.dtype).itemsize / 2**30
            raise ValueError(f"sizes={self.sizes} needs {n_params:,} parameters ({size:,.1f} GiB): "
                             "too large for this machine's memory") from None
        self._out_code = OUTPUT_ACTIVATIONS[self.output]
        self._loss_code = LOSSES[self.loss_name]
        rng = np.random.default_rng(seed)
        self._rng_state = _rng.new_state(rng.integers(2**63))
        # [step, epoch, status]: the kernels' counters, kept across fit calls.
        self._counters = np.zeros(3, dtype=np.int64)
        self._local = threading.local()  # per-thread workspaces: threads may share a network
        self.optimizer = None
        if weights is None:
            if biases is not None:
                raise ValueError("biases were given without weights; pass both or neither")
            self._initialize(rng)
        else:
            self.set_parameters(weights, biases)

    # ------------------------------------------------------------------ state
    def _initialize(self, rng):
        """Glorot-uniform weights (scikit-learn's scheme), zero biases."""
        for l, W in enumerate(self.weights):
            n_out, n_in = W.shape
            act = self.activations[l] if l < len(self.activations) else self.output
            factor = 2.0 if act == "sigmoid" else 6.0
            bound = np.sqrt(factor / (n_in + n_out))
            W[...] = rng.uniform(-bound, bound, size=W.shape)

    def set_parameters(self, weights, biases=None):
        """Replace all weights (and biases) by copies of the given arrays.

        Parameters
        ----------
        weights : sequence of array-like
            One ``(n_out, n_in)`` array per layer.
        biases : sequence of array-like, optional
            One ``(n_out,)`` array per layer; zeros if omitted.
        """
        n_layers = len(self.sizes) - 1
        weights = _as_list(weights, "weights")
        if len(weights) != n_layers:
            raise ValueError(f"weights must hold {n_layers} arrays (one per layer), got {len(weights)}")
        new_W = []
        for l, W in enumerate(weights):
            W = as_real_array(W, f"weights[{l}]", self.dtype)
            expected = (self.sizes[l + 1], self.sizes[l])
            if W.shape != expected:
                raise ValueError(f"weights[{l}] must have shape {expected} (n_out, n_in), got {W.shape}")
            check_finite(W, f"weights[{l}]")
            new_W.append(W)
        new_b = [None] * n_layers
        if biases is not None:
            if not self.bias:
                raise ValueError("biases were given but the network has bias=False")
            biases = _as_list(biases, "biases")
            if len(biases) != n_layers:
                raise ValueError(f"biases must hold {n_layers} arrays (one per layer), got {len(biases)}")
            for l, b in enumerate(biases):
                b = as_real_array(b, f"biases[{l}]", self.dtype)
                if b.shape != (self.sizes[l + 1],):
                    raise ValueError(f"biases[{l}] must have shape ({self.sizes[l + 1]},), got {b.shape}")
                check_finite(b, f"biases[{l}]")
                new_b[l] = b
        for l in range(n_layers):
            self.weights[l][...] = new_W[l]
            if self.bias:
                self.biases[l][...] = 0 if new_b[l] is None else new_b[l]

    @property
    def sizes(self):
        """Layer widths, input first (a copy: the architecture is fixed)."""
        return list(self._sizes)

    @property
    def activations(self):
        """Hidden-layer activation names, one per hidden layer (a copy)."""
        return list(self._activations)

    @property
    def weights(self):
        """Per-layer ``W^l`` of shape ``(n_out, n_in)``: writable views of the parameters."""
        return [self._P[w:w + n_in * n_out].reshape(n_out, n_in)
                for n_in, n_out, w in self._layers[:, [N_IN, N_OUT, W_OFF]]]

    @property
    def biases(self):
        """Per-layer ``b^l`` of shape ``(n_out,)`` (views), or ``None`` entries without bias."""
        return [None if b == NO_BIAS else self._P[b:b + n_out]
                for n_out, b in self._layers[:, [N_OUT, B_OFF]]]

    @property
    def parameters(self):
        """The flat parameter vector (a view; writes change the network)."""
        return self._P

    @property
    def n_parameters(self):
        """Number of trainable parameters."""
        return int(self._P.size)

    @property
    def n_inputs(self):
        return self.sizes[0]

    @property
    def n_outputs(self):
        return self.sizes[-1]

    def __repr__(self):
        from .summary import network_repr

        return network_repr(self)

    def summary(self):
        """A table of the layers (shape, activation, parameters), totals, dtype and loss."""
        from .summary import summary

        return summary(self)

    def graph(self, style="vertical"):
        """The computation graph as text, in the form of tutorial 003, with shapes.

        Parameters
        ----------
        style : {"vertical", "line"}
            One node per line (as the tutorial draws it), or one line.
        """
        from .summary import graph

        return graph(self, style=style)

    def save(self, path):
        """Save architecture, parameters and optimizer state to ``path`` (``.npz``).

        See :func:`fastbp.io.save`; reload with :func:`fastbp.load`.
        """
        from .io import save

        save(self, path)

    # ------------------------------------------------------------- workspaces
    def __getstate__(self):
        state = dict(vars(self))
        del state["_local"]  # workspaces are scratch, rebuilt on demand
        return state

    def __setstate__(self, state):
        vars(self).update(state)
        self._local = threading.local()

    def _workspace(self, capacity):
        """Activation/δ buffers for batches of up to ``capacity`` rows.

        Cached per calling thread (so that threads sharing a network never
        share scratch memory), at most four capacities per thread.
        """
        cache = getattr(self._local, "workspaces", None)
        if cache is None:
            cache = self._local.workspaces = {}
        ws = cache.get(capacity)
        if ws is None:
            if len(cache) >= 4:  # keep memory bounded
                cache.pop(next(iter(cache)))
            size = workspace_size(self._layers, capacity)
            n_out = self.n_outputs
            plan = parallel.row_plan(self._layers, capacity)
            ws = dict(
                acts=np.zeros(size, self.dtype),
                logits=np.zeros(capacity * n_out, self.dtype),
                deltas=np.zeros(size, self.dtype),
                targets=np.zeros(capacity * n_out, self.dtype),
                row_weights=np.zeros(capacity, self.dtype),
                loss_parts=np.zeros(int(plan[0]), np.float64),
                totals=np.zeros(2, np.float64),
                step_scalars=np.zeros(3, np.float64),
                unit=np.ones(1, self.dtype),
                G=np.zeros(self._P.size, self.dtype),
                plan=plan,
                # train_batches compiles its tiled step only for a plan that tiles
                tiled_plan=plan if plan[5] > 0 else None,
                tasks=parallel.gradient_tasks(self._layers, capacity),
            )
            cache[capacity] = ws
        return ws

    def _forward_pass(self, X, Y=None, sample_weight=None, n_threads=None):
        """Run :func:`forward_batches`; return (outputs, mean loss or nan)."""
        n = X.shape[0]
        capacity = min(n, PREDICT_BLOCK)
        ws = self._workspace(capacity)
        out = np.empty((n, self.n_outputs), dtype=self.dtype)
        with_loss = Y is not None
        if Y is None:
            Y = np.empty((0, self.n_outputs), dtype=self.dtype)
        if sample_weight is None:
            sample_weight = np.empty(0, dtype=self.dtype)
        ws["totals"][:] = 0
        with parallel.threads(n_threads) as used:
            forward_batches(X, Y, sample_weight, self._P, self._layers, self.leaky_slope, self._out_code,
                            self._loss_code, capacity, ws["plan"], used > 1, with_loss, ws["acts"],
                            ws["logits"], ws["deltas"], ws["targets"], ws["row_weights"], ws["loss_parts"],
                            ws["totals"], out)
        totals = ws["totals"]
        return out, float(totals[LOSS_SUM] / totals[SAMPLES]) if with_loss else float("nan")

    # ---------------------------------------------------------------- public
    def forward(self, X, n_threads=None):
        """Output activations for inputs ``X``.

        Parameters
        ----------
        X : array-like, shape (n_samples, n_in) or (n_in,)
            Converted to the network's dtype.
        n_threads : int, optional
            Threads to use (default: all).

        Returns
        -------
        ndarray, shape (n_samples, n_out), or (n_out,) for a single sample
        """
        X2, single = check_inputs(X, self.n_inputs, self.dtype)
        out, _ = self._forward_pass(X2, n_threads=n_threads)
        return out[0] if single else out

    def predict(self, X, n_threads=None):
        """Predictions: class indices for cross-entropy, 0/1 for binary
        cross-entropy (threshold 0.5), the outputs for ``mse``.

        Returns
        -------
        ndarray, shape (n_samples,) of int64 for classification, else as
        :meth:`forward`.
        """
        out = self.forward(X, n_threads=n_threads)
        if self.loss_name == "cross_entropy":
            return np.argmax(out, axis=-1)
        if self.loss_name == "binary_cross_entropy":
            labels = (out > 0.5).astype(np.int64)
            return labels[..., 0] if self.n_outputs == 1 else labels
        return out

    def loss(self, X, Y, sample_weight=None, n_threads=None):
        """Mean over the samples of the per-sample loss (a Python float).

        Parameters
        ----------
        X : array-like, shape (n_samples, n_in) or (n_in,)
        Y : array-like
            Targets (see :meth:`fit` for the accepted forms).
        sample_weight : array-like, shape (n_samples,), optional
            Non-negative weights: the loss is then ``Σ w·loss / Σ w``.
        """
        X2, Y2 = self._check_data(X, Y)
        w = check_sample_weight(sample_weight, X2.shape[0], self.dtype)
        return self._forward_pass(X2, Y2, w, n_threads=n_threads)[1]

    def accuracy(self, X, y, n_threads=None):
        """Fraction of samples whose predicted class equals ``y`` (classification)."""
        if self.loss_name == "mse":
            raise ValueError("accuracy needs a classification loss (cross_entropy or binary_cross_entropy)")
        X2, Y2 = self._check_data(X, y)
        pred = self.predict(X2, n_threads=n_threads)
        if self.loss_name == "cross_entropy":
            truth = np.argmax(Y2, axis=1)
        else:
            truth = (Y2 > 0.5).astype(np.int64)
            truth = truth[:, 0] if self.n_outputs == 1 else truth
        return float(np.mean(pred == truth))

    def gradients(self, X, Y, return_deltas=False, sample_weight=None, n_threads=None):
        """Gradients of the batch-mean loss over ``(X, Y)`` for every layer.

        Parameters
        ----------
        X, Y : array-like
            One batch (all rows are used at once).
        return_deltas : bool
            Also return ``δ^l = ∂L/∂z^l`` of every layer (tutorial 002).
        sample_weight : array-like, shape (n_samples,), optional
            Weights of the samples in the loss ``Σ w·loss / Σ w``.
        n_threads : int, optional
            Threads to use (default: all).

        Returns
        -------
        grads : list of LayerGradient
            ``grads[l].dW`` of shape ``(n_out, n_in)``, ``grads[l].db`` of shape
            ``(n_out,)`` (None without bias).
        deltas : list of ndarray, shape (n_samples, n_out) each
            Only with ``return_deltas``.  ``L`` is the batch mean, so for one
            sample these are the per-sample ``∂loss/∂z``; for ``n`` samples
            they carry the factor ``1/n``.
        """
        if not isinstance(return_deltas, (bool, np.bool_)):
            raise TypeError(f"return_deltas must be a bool, got {return_deltas!r}")
        X2, Y2 = self._check_data(X, Y)
        n = X2.shape[0]
        w = check_sample_weight(sample_weight, n, self.dtype)
        ws = self._workspace(n)
        counters = np.zeros(3, np.int64)
        no_state = np.zeros((1, self._P.size), self.dtype)
        with parallel.threads(n_threads) as used:
            train_batches(X2, Y2, w, n, 0, 1, False, False, self._layers, self.leaky_slope, self._out_code,
                          self._loss_code, 0, np.zeros(6), np.zeros(3), ws["plan"], ws["tasks"], used > 1,
                          ws["tiled_plan"], np.empty(0, np.int64), self._rng_state.copy(), self._P, no_state, counters,
                          ws["totals"], ws["acts"], ws["logits"], ws["deltas"],
                          ws["targets"], ws["row_weights"], ws["G"], ws["loss_parts"], ws["step_scalars"],
                          ws["unit"])
        if counters[STATUS]:
            raise FloatingPointError("the loss is not finite for these inputs and parameters")
        G = ws["G"]
        grads = []
        for n_in, n_out, w, b in self._layers[:, [N_IN, N_OUT, W_OFF, B_OFF]]:
            dW = G[w:w + n_in * n_out].reshape(n_out, n_in).copy()
            db = None if b == NO_BIAS else G[b:b + n_out].copy()
            grads.append(LayerGradient(dW, db))
        if not return_deltas:
            return grads
        deltas = []
        for n_out, row in self._layers[:, [N_OUT, ROW_OUT]]:
            start = n * row
            deltas.append(ws["deltas"][start:start + n * n_out].reshape(n, n_out).copy())
        return grads, deltas

    def fit(self, X, Y, epochs=1, batch_size=32, optimizer=None, shuffle=True, **options):
        """Train by backpropagation; see :func:`fastbp.training.fit` for all options.

        Returns
        -------
        History
            Loss per epoch (and validation metrics when asked).
        """
        from .training import fit

        return fit(self, X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                   shuffle=shuffle, **options)

    def partial_fit(self, X, Y, optimizer=None, batch_size=None, sample_weight=None, n_threads=None):
        """One pass over ``(X, Y)``, in order, for streaming data.

        ``batch_size=None`` makes it one step on the whole batch.  Training
        continues with the optimizer (and its state) of earlier calls.

        Returns
        -------
        History
        """
        return self.fit(X, Y, epochs=1, batch_size=batch_size, optimizer=optimizer, shuffle=False,
                        sample_weight=sample_weight, n_threads=n_threads)

    # ---------------------------------------------------------------- helpers
    def _check_data(self, X, Y, names=("X", "Y")):
        X2, single = check_inputs(X, self.n_inputs, self.dtype, name=names[0])
        if single:  # one sample: a scalar target (label or value) or one target row
            try:
                Y = np.asarray(Y)
            except Exception as exc:  # ragged nested lists and the like
                raise TypeError(f"{names[1]} must be array-like: {exc}") from None
            Y = Y.reshape(1) if Y.ndim == 0 else Y.reshape(1, -1)
        Y2 = check_targets(Y, X2.shape[0], self.n_outputs, self.loss_name, self.dtype, name=names[1])
        return X2, Y2


def _as_list(value, name):
    """``value`` (one array per layer) as a list; a lone array is one layer."""
    if isinstance(value, np.ndarray):
        return [value]
    try:
        return list(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of arrays (one per layer), got {type(value).__name__}") from None


# Widths beyond this cannot be addressed by the int64 layer table anyway.
MAX_WIDTH = 2**31


def _check_sizes(sizes):
    try:
        values = list(sizes)
    except TypeError:
        raise TypeError(f"sizes must be a sequence of ints like [784, 128, 10], got {sizes!r}") from None
    if len(values) < 2:
        raise ValueError(f"sizes needs at least an input and an output width, got {values}")
    for v in values:
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"sizes must hold ints, got {v!r} in {values}")
        if v < 1:
            raise ValueError(f"every layer width must be >= 1, got {values}")
        if v > MAX_WIDTH:
            raise ValueError(f"layer widths must be at most {MAX_WIDTH:,}, got {v:,} in sizes")
    return [int(v) for v in values]


def _check_activations(activation, n_hidden):
    if isinstance(activation, str):
        names = [activation] * n_hidden
        if n_hidden == 0:
            check_choice(activation, "activation", HIDDEN_ACTIVATIONS)
    else:
        try:
            names = list(activation)
        except TypeError:
            raise TypeError(f"activation must be a name or a list of names, got {activation!r}") from None
        if len(names) != n_hidden:
            raise ValueError(f"activation lists one name per hidden layer ({n_hidden}), got {len(names)}")
    for name in names:
        check_choice(name, "activation", HIDDEN_ACTIVATIONS)
    return names


__all__ = ["Network", "LayerGradient"]
