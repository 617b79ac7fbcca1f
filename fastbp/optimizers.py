"""Optimizers: their hyperparameters, their state, and the in-place update kernel.

An optimizer object holds its hyperparameters and, once bound to a network, its
state: flat arrays as long as the parameter vector, allocated once and updated
in place by :func:`update_rows` inside the compiled training step.  The
formulas are PyTorch's (``torch.optim``), so trajectories can be compared:

* SGD:      ``g = ∇ + wd·θ``; with momentum ``μ``: ``v = μ v + g`` and
  ``g = v`` (or ``g + μ v`` with Nesterov); ``θ -= lr · g``.
* RMSProp:  ``g = ∇ + wd·θ``; ``s = ρ s + (1-ρ) g²``; (centered:
  ``ḡ = ρ ḡ + (1-ρ) g``, ``s̃ = s - ḡ²``); ``d = √s̃ + ε``; with momentum
  ``v = μ v + g/d``, ``θ -= lr·v``, else ``θ -= lr·g/d``.
* Adam:     ``g = ∇ + wd·θ``; ``m = β₁m + (1-β₁)g``; ``v = β₂v + (1-β₂)g²``;
  ``θ -= (lr/(1-β₁ᵗ)) · m / (√v/√(1-β₂ᵗ) + ε)``.
* AdamW:    Adam with ``wd = 0`` after the decoupled decay ``θ *= 1 - lr·wd``.
"""
import math
import weakref

import numpy as np

from ._jit import cast_like, kernel, matrix_view
from ._validation import check_real
from .schedules import as_schedule

SGD_CODE, RMSPROP_CODE, ADAM_CODE, ADAMW_CODE = range(4)

# Layout of the float64 ``hyper`` array each optimizer hands the kernels.
LR, H1, H2, H3, H4, H5 = range(6)
# Layout of the per-step float64 ``step_scalars`` array.
STEP_LR, BIAS_CORRECTION1, BIAS_CORRECTION2 = range(3)


class Optimizer:
    """Base class of fastbp optimizers.

    Subclasses define ``code``, ``n_state`` (state vectors needed) and
    :meth:`hyperparameters`.  The state is allocated on first use with a
    network and kept across ``fit`` calls, so training continues where it
    stopped (warm start).
    """

    code = -1
    n_state = 1

    def __init__(self, lr, schedule=None):
        self.lr = check_real(lr, "lr", low=0.0, low_open=True)
        self.schedule = as_schedule(schedule)
        self.state = None  # ndarray (n_state, n_params) once bound
        self.steps = 0  # updates applied so far (Adam's t)
        self._owner = None

    def hyperparameters(self):
        """Float64 array ``[lr, h1, ..., h5]`` read by :func:`update_rows`."""
        raise NotImplementedError

    def bind(self, n_params, dtype, owner):
        """Allocate the state for a parameter vector (once per network).

        Raises ``ValueError`` if the optimizer already holds the state of
        another live network: sharing state would corrupt both.
        """
        current = self._owner() if self._owner is not None else None
        if current is not None and current is not owner:
            raise ValueError(
                "this optimizer already holds the state of another network; "
                "create one optimizer per network"
            )
        if self.state is None or self.state.shape != (self.n_state, n_params) or self.state.dtype != dtype:
            self.state = np.zeros((self.n_state, n_params), dtype=dtype)
            self.steps = 0
        self._owner = weakref.ref(owner)

    def __getstate__(self):
        state = dict(vars(self))
        state["_owner"] = None  # a weak reference cannot be pickled
        return state

    def __repr__(self):
        fields = {k: v for k, v in vars(self).items() if not k.startswith("_") and k not in ("state", "steps")}
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in fields.items())})"


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    Parameters
    ----------
    lr : float > 0
        Learning rate ``α`` (tutorial 000: ``W := W − α dW``).
    momentum : float in [0, 1)
    nesterov : bool
        Nesterov momentum (needs ``momentum > 0``).
    weight_decay : float >= 0
        L2 penalty added to the gradient (``∇ + wd·θ``).
    schedule : Schedule, optional
        Learning-rate schedule (see :mod:`fastbp.schedules`).
    """

    code = SGD_CODE

    def __init__(self, lr=0.01, momentum=0.0, nesterov=False, weight_decay=0.0, schedule=None):
        super().__init__(lr, schedule)
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(nesterov, (bool, np.bool_)):
            raise TypeError(f"nesterov must be a bool, got {nesterov!r}")
        if nesterov and self.momentum == 0.0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.nesterov = bool(nesterov)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)

    def hyperparameters(self):
        return np.array([self.lr, self.momentum, float(self.nesterov), self.weight_decay, 0.0, 0.0])


class RMSProp(Optimizer):
    """RMSProp (PyTorch's ``RMSprop``; ``rho`` is its ``alpha``).

    Parameters
    ----------
    lr : float > 0
    rho : float in [0, 1)
        Decay of the running mean of squared gradients.
    eps : float > 0
        Added to the root mean square (outside the square root).
    weight_decay : float >= 0
    momentum : float in [0, 1)
    centered : bool
        Normalise by the centred (variance) estimate.
    schedule : Schedule, optional
    """

    code = RMSPROP_CODE
    n_state = 3

    def __init__(self, lr=0.001, rho=0.9, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, schedule=None):
        super().__init__(lr, schedule)
        self.rho = check_real(rho, "rho", low=0.0, high=1.0, high_open=True)
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)
        self.momentum = check_real(momentum, "momentum", low=0.0, high=1.0, high_open=True)
        if not isinstance(centered, (bool, np.bool_)):
            raise TypeError(f"centered must be a bool, got {centered!r}")
        self.centered = bool(centered)

    def hyperparameters(self):
        return np.array([self.lr, self.rho, self.eps, self.weight_decay, self.momentum, float(self.centered)])


class Adam(Optimizer):
    """Adam, with L2 weight decay added to the gradient.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
        Decay rates of the first and second moment estimates.
    eps : float > 0
    weight_decay : float >= 0
        L2 penalty added to the gradient (use :class:`AdamW` for decoupled
        decay).
    schedule : Schedule, optional
    """

    code = ADAM_CODE
    n_state = 2

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, schedule=None):
        super().__init__(lr, schedule)
        self.beta1 = check_real(beta1, "beta1", low=0.0, high=1.0, high_open=True)
        self.beta2 = check_real(beta2, "beta2", low=0.0, high=1.0, high_open=True)
        self.eps = check_real(eps, "eps", low=0.0, low_open=True)
        self.weight_decay = check_real(weight_decay, "weight_decay", low=0.0)

    def hyperparameters(self):
        return np.array([self.lr, self.beta1, self.beta2, self.eps, self.weight_decay, 0.0])


class AdamW(Adam):
    """Adam with decoupled weight decay: ``θ *= 1 − lr·wd`` before the step.

    Same parameters as :class:`Adam`; ``weight_decay`` defaults to 0.01 as in
    PyTorch.
    """

    code = ADAMW_CODE

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, schedule=None):
        super().__init__(lr, beta1, beta2, eps, weight_decay, schedule)


@kernel
def prepare_step(code, hyper, lr, step, step_scalars):
    """Fill ``step_scalars`` for update number ``step`` (1-based) at rate ``lr``."""
    step_scalars[STEP_LR] = lr
    if code == ADAM_CODE or code == ADAMW_CODE:
        step_scalars[BIAS_CORRECTION1] = 1.0 - hyper[H1] ** step
        step_scalars[BIAS_CORRECTION2] = 1.0 - hyper[H2] ** step
    else:
        step_scalars[BIAS_CORRECTION1] = 1.0
        step_scalars[BIAS_CORRECTION2] = 1.0


@kernel
def update_range(code, hyper, step_scalars, G, p0, p1, P, state, unit):
    """Apply one optimizer step to parameters ``P[p0:p1]`` in place.

    Parameters
    ----------
    code : int
        Optimizer code (``SGD_CODE`` ...).
    hyper : ndarray, shape (6,), float64
        ``Optimizer.hyperparameters()``.
    step_scalars : ndarray, shape (3,), float64
        This step's learning rate and Adam's bias corrections
        (:func:`prepare_step`).
    G : ndarray, shape (n_params,)
        Gradient of the batch-mean loss.
    p0, p1 : int
        Parameter range.
    P : ndarray, shape (n_params,)
        Parameters, updated in place.
    state : ndarray, shape (n_state, n_params)
        Optimizer state, updated in place.
    unit : ndarray, shape (1,), dtype of P
        ``[1.0]`` (the gradient's scale; preallocated by the caller).
    """
    update_rows(code, hyper, step_scalars, unit, matrix_view(G, p0, 1, p1 - p0), p0, P, state)


@kernel
def update_rows(code, hyper, step_scalars, C, X, p0, P, state):
    """One optimizer step on ``m`` rows of ``n`` parameters whose gradient is
    ``C[j] · X[j]`` for row ``j`` (or ``C[j] · X[0]`` when ``X`` has one row).

    With ``C = [1]`` and one row this is a plain update along ``X``
    (:func:`update_range`; ``1·x == x`` exactly in IEEE arithmetic).  With
    ``C = δ`` and ``X = a`` it is the update of a one-sample batch, whose
    weight gradient is the outer product ``δᵀ a``: computed inside the update
    loop, each parameter is read and written once and no gradient array is
    written (:mod:`fastbp.gradient_update`).

    Parameters
    ----------
    code, hyper, step_scalars, P, state
        As in :func:`update_range`.
    C : ndarray, shape (m,), dtype of P
        Scale of each row's gradient.
    X : ndarray, shape (m, n) or (1, n), dtype of P
        Gradient rows (or one row shared by all rows).
    p0 : int
        First parameter: the rows are ``P[p0:p0 + m·n]``.

    Notes
    -----
    Each optimizer (and variant) has its own branch-free loop below, over
    views indexed from 0: a branch inside the element loop, or an index
    starting at a run-time ``p0`` (numba keeps its negative-index wrap-around
    check in the loop), stopped LLVM from vectorising it (Adam measured 5.5 ns
    per parameter either way, 0.7 ns vectorised).
    """
    m = C.shape[0]
    n = X.shape[1]
    lr = cast_like(P, step_scalars[STEP_LR])
    P = matrix_view(P, p0, m, n)
    if code == SGD_CODE:
        momentum = cast_like(P, hyper[H1])
        wd = cast_like(P, hyper[H3])
        if momentum == 0:
            _sgd(C, X, lr, wd, P)
        else:
            _sgd_momentum(C, X, lr, wd, momentum, hyper[H2] != 0.0, P, matrix_view(state[0], p0, m, n))
    elif code == RMSPROP_CODE:
        _rmsprop(C, X, lr, cast_like(P, hyper[H1]), cast_like(P, hyper[H2]), cast_like(P, hyper[H3]),
                 cast_like(P, hyper[H4]), hyper[H5] != 0.0, P, matrix_view(state[0], p0, m, n),
                 matrix_view(state[1], p0, m, n), matrix_view(state[2], p0, m, n))
    else:
        wd = cast_like(P, hyper[H4])
        if code == ADAMW_CODE:
            decay = cast_like(P, 1.0) - lr * wd
            for j in range(m):
                for i in range(n):
                    P[j, i] *= decay
            wd = cast_like(P, 0.0)
        step_size = cast_like(P, step_scalars[STEP_LR] / step_scalars[BIAS_CORRECTION1])
        root_bc2 = cast_like(P, math.sqrt(step_scalars[BIAS_CORRECTION2]))
        _adam(C, X, step_size, root_bc2, cast_like(P, hyper[H1]), cast_like(P, hyper[H2]),
              cast_like(P, hyper[H3]), wd, P, matrix_view(state[0], p0, m, n), matrix_view(state[1], p0, m, n))


# The loops of update_rows: row j of P (and of each state array) moves along
# C[j] · X[j], or C[j] · X[0] when X has one row.  They index the 2-D arrays
# directly: a view per row (P[j]) cost a reference-count increment and
# decrement while kernels ran with numba's runtime, more than the arithmetic
# on the short rows of small layers, and without it still costs building the
# view.

@kernel
def sgd_moved(p, c, x, lr):
    """``p - lr·(c·x)``: one parameter moved by plain SGD along the gradient ``c·x``.

    A function of its own so that the fused loop of
    :func:`fastbp.gradient_update.sgd_rows_times`, compiled with reassociation
    for its dot product, moves each parameter with exactly the operations of
    :func:`_sgd` (LLVM inlines it; its instructions keep their own, strict,
    floating-point flags, which :func:`fastbp._jit.kernel` states so that
    numba does not compile it with its first caller's).
    """
    return p - lr * (c * x)


@kernel
def _sgd(C, X, lr, wd, P):
    for j in range(P.shape[0]):
        c, x = C[j], min(j, X.shape[0] - 1)
        if wd == 0:
            # Without weight decay ∇ + 0·θ is ∇, bit for bit (θ finite), and
            # skipping its two operations per parameter measured 1.24x on the
            # update of a 128×784 block (13.1 against 10.5 µs, one thread).
            for i in range(P.shape[1]):
                P[j, i] = sgd_moved(P[j, i], c, X[x, i], lr)
        else:
            for i in range(P.shape[1]):
                P[j, i] -= lr * (c * X[x, i] + wd * P[j, i])


@kernel
def _sgd_momentum(C, X, lr, wd, momentum, nesterov, P, V):
    for j in range(P.shape[0]):
        c, x = C[j], min(j, X.shape[0] - 1)
        if nesterov:
            for i in range(P.shape[1]):
                g = c * X[x, i] + wd * P[j, i]
                v = momentum * V[j, i] + g
                V[j, i] = v
                P[j, i] -= lr * (g + momentum * v)
        else:
            for i in range(P.shape[1]):
                v = momentum * V[j, i] + c * X[x, i] + wd * P[j, i]
                V[j, i] = v
                P[j, i] -= lr * v


@kernel
def _rmsprop(C, X, lr, rho, eps, wd, momentum, centered, P, SQ, V, GA):
    # Four loops, not one with branches inside (see update_rows).
    one = cast_like(P, 1.0)
    for j in range(P.shape[0]):
        c, x = C[j], min(j, X.shape[0] - 1)
        if centered and momentum != 0:
            for i in range(P.shape[1]):
                g = c * X[x, i] + wd * P[j, i]
                m = rho * GA[j, i] + (one - rho) * g
                GA[j, i] = m
                s = rho * SQ[j, i] + (one - rho) * g * g
                SQ[j, i] = s
                v = momentum * V[j, i] + g / (np.sqrt(s - m * m) + eps)
                V[j, i] = v
                P[j, i] -= lr * v
        elif centered:
            for i in range(P.shape[1]):
                g = c * X[x, i] + wd * P[j, i]
                m = rho * GA[j, i] + (one - rho) * g
                GA[j, i] = m
                s = rho * SQ[j, i] + (one - rho) * g * g
                SQ[j, i] = s
                P[j, i] -= lr * (g / (np.sqrt(s - m * m) + eps))
        elif momentum != 0:
            for i in range(P.shape[1]):
                g = c * X[x, i] + wd * P[j, i]
                s = rho * SQ[j, i] + (one - rho) * g * g
                SQ[j, i] = s
                v = momentum * V[j, i] + g / (np.sqrt(s) + eps)
                V[j, i] = v
                P[j, i] -= lr * v
        else:
            for i in range(P.shape[1]):
                g = c * X[x, i] + wd * P[j, i]
                s = rho * SQ[j, i] + (one - rho) * g * g
                SQ[j, i] = s
                P[j, i] -= lr * (g / (np.sqrt(s) + eps))


@kernel
def _adam(C, X, step_size, root_bc2, beta1, beta2, eps, wd, P, M1, M2):
    one = cast_like(P, 1.0)
    for j in range(P.shape[0]):
        c, x = C[j], min(j, X.shape[0] - 1)
        for i in range(P.shape[1]):
            g = c * X[x, i] + wd * P[j, i]
            m = beta1 * M1[j, i] + (one - beta1) * g
            v = beta2 * M2[j, i] + (one - beta2) * g * g
            M1[j, i] = m
            M2[j, i] = v
            P[j, i] -= step_size * m / (np.sqrt(v) / root_bc2 + eps)
