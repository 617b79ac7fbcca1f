"""Input checks shared by the public entry points.

Every check raises ``TypeError`` (wrong kind of thing) or ``ValueError`` (right
kind, wrong value) with a message that names the argument and what was
expected, so that nothing invalid ever reaches a kernel.
"""
import numbers

import numba
import numpy as np

from ._jit import cast_like, reassociating_entry_kernel


def as_real_array(value, name, dtype):
    """``value`` as a C-contiguous array of ``dtype``, rejecting non-real data.

    Integer and floating inputs (lists too) are converted to ``dtype``; bool,
    complex, object and string data are refused.
    """
    try:
        array = np.asarray(value)
    except Exception as exc:  # ragged lists and the like
        raise TypeError(f"{name} must be array-like of real numbers: {exc}") from None
    kind = array.dtype.kind
    if kind not in "iuf":
        what = {"b": "bool", "c": "complex", "O": "object", "U": "str", "S": "bytes"}.get(kind, str(array.dtype))
        raise TypeError(f"{name} must hold real numbers (int or float), got dtype {what}")
    if array.ndim == 0:  # np.ascontiguousarray would turn a scalar into shape (1,)
        return array.astype(dtype)
    return _contiguous_writable(array, dtype)


def _contiguous_writable(array, dtype):
    """``array`` as a C-contiguous, writable array of ``dtype`` (copied only if needed).

    numba types read-only arrays separately: passing one would compile every
    kernel again (8-14 s each).  A copy costs far less.
    """
    converted = np.ascontiguousarray(array, dtype=dtype)
    if not converted.flags.writeable:
        converted = converted.copy()
    return converted


def check_finite(array, name):
    """Raise ``ValueError`` if ``array`` holds NaN or infinity."""
    if not _all_finite(array):
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name} contains NaN or infinity (first at index {tuple(int(i) for i in bad)})")


# Elements from which a compiled pass checks finiteness (below, NumPy's
# np.isfinite(...).all() takes well under 0.1 ms).
COMPILED_CHECK_MIN = 1 << 16


def _all_finite(array):
    """Whether every element of ``array`` is finite.

    ``fit`` and ``predict`` check their whole input on every call: for a
    10240 × 784 float32 ``X`` NumPy's ``np.isfinite(X).all()`` (a boolean
    temporary, then a reduction) took 4–5 ms, ~10 % of a batch-64 epoch of a
    784-128-10 net; the compiled pass below reads ``X`` once, vectorised,
    in ~2 ms.  Large writable C-contiguous float arrays take it; others
    (and everything under ``NUMBA_DISABLE_JIT``) go through NumPy.
    """
    if (array.size >= COMPILED_CHECK_MIN and array.dtype in (np.float32, np.float64)
            and array.flags.c_contiguous and array.flags.writeable and not numba.config.DISABLE_JIT):
        return not np.isnan(_nonfinite_probe(array.reshape(-1)))
    return bool(np.isfinite(array).all())


@reassociating_entry_kernel
def _nonfinite_probe(values):
    """NaN if ``values`` holds a NaN or an infinity, else 0.

    ``x · 0`` is 0 for a finite ``x`` and NaN for NaN and ±inf, and a sum
    holding a NaN is NaN in any order, so the sum may be reassociated (and
    vectorised); without ``nnan``/``ninf`` LLVM may not fold ``x · 0`` to 0.
    """
    zero = cast_like(values, 0.0)
    total = cast_like(values, 0.0)
    for i in range(values.shape[0]):
        total += values[i] * zero
    return total


def check_inputs(X, n_in, dtype, name="X"):
    """Validate inputs; return ``(X2d, single)`` with ``X2d`` of shape (n, n_in).

    A 1-D ``X`` of length ``n_in`` is one sample (``single`` is True).
    """
    X = as_real_array(X, name, dtype)
    single = X.ndim == 1
    if single:
        X = X.reshape(1, -1)
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, {n_in}) or 1-D ({n_in},), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} is empty (0 samples); at least one sample is needed")
    if X.shape[1] != n_in:
        raise ValueError(f"{name} has {X.shape[1]} features per sample, the network expects {n_in}")
    check_finite(X, name)
    return X, single


def check_targets(Y, n_samples, n_out, loss, dtype, name="Y"):
    """Validate targets for ``loss``; return them as a (n_samples, n_out) array.

    * ``cross_entropy``: integer class labels in ``[0, n_out)`` of shape
      (n_samples,), or rows of class probabilities (one-hot) of shape
      (n_samples, n_out), each non-negative and summing to 1.
    * ``binary_cross_entropy``: values in [0, 1]; shape (n_samples,) when
      ``n_out == 1``, else (n_samples, n_out).
    * ``mse``: any finite values; shape (n_samples,) when ``n_out == 1``.
    """
    try:
        raw = np.asarray(Y)
    except Exception as exc:
        raise TypeError(f"{name} must be array-like: {exc}") from None
    if raw.dtype.kind not in "iuf":
        if raw.dtype.kind == "b":
            raise TypeError(f"{name} must hold numbers, got dtype bool (use 0/1 integers or floats)")
        raise TypeError(f"{name} must hold real numbers, got dtype {raw.dtype}")
    if raw.ndim == 0 or raw.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {raw.shape}")
    if raw.shape[0] != n_samples:
        raise ValueError(f"{name} has {raw.shape[0]} rows but X has {n_samples} samples")
    if loss == "cross_entropy" and raw.ndim == 1:
        if raw.dtype.kind == "f":
            if not np.all(np.isfinite(raw)) or not np.all(raw == np.round(raw)):
                raise ValueError(f"{name}: 1-D cross-entropy targets must be integer class labels")
        labels = raw.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_out:
            raise ValueError(
                f"{name}: class labels must be in [0, {n_out - 1}] for {n_out} outputs, "
                f"got values from {labels.min()} to {labels.max()}"
            )
        Y2 = np.zeros((n_samples, n_out), dtype=dtype)
        Y2[np.arange(n_samples), labels] = 1
        return Y2
    if raw.ndim == 1:
        if n_out != 1:
            raise ValueError(f"{name} must have shape ({n_samples}, {n_out}), got {raw.shape}")
        raw = raw.reshape(-1, 1)
    if raw.shape[1] != n_out:
        raise ValueError(f"{name} must have {n_out} columns (one per output), got {raw.shape[1]}")
    Y2 = _contiguous_writable(raw, dtype)
    check_finite(Y2, name)
    if loss == "binary_cross_entropy" and (Y2.min() < 0 or Y2.max() > 1):
        raise ValueError(f"{name}: binary cross-entropy targets must lie in [0, 1]")
    if loss == "cross_entropy":
        sums = Y2.sum(axis=1, dtype=np.float64)
        if Y2.min() < 0 or not np.allclose(sums, 1.0, atol=1e-3 if dtype == np.float32 else 1e-6):
            raise ValueError(
                f"{name}: cross-entropy target rows must be one-hot (or probabilities) "
                "summing to 1; pass integer class labels as a 1-D array"
            )
    return Y2


def check_real(value, name, low=None, low_open=False, high=None, high_open=False):
    """Validate a real scalar argument (not a bool, not a string); return it as a float.

    ``low``/``high`` bound it, open (exclusive) when ``low_open``/``high_open``.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ValueError(f"{name} must be {'>' if low_open else '>='} {low}, got {value!r}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ValueError(f"{name} must be {'<' if high_open else '<='} {high}, got {value!r}")
    return value


def check_int(value, name, low, allow_none=False):
    """Validate an integer argument ``>= low``."""
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int{' or None' if allow_none else ''}, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value}")
    return int(value)


def check_choice(value, name, choices):
    """Validate that ``value`` is one of ``choices`` (a dict or sequence)."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {sorted(choices)}, got {value!r}")
    return value


def check_sample_weight(sample_weight, n_samples, dtype):
    """Validate per-sample weights; return a (n_samples,) array, or (0,) for None."""
    if sample_weight is None:
        return np.empty(0, dtype=dtype)
    w = as_real_array(sample_weight, "sample_weight", dtype)
    if w.ndim == 0:
        w = np.full(n_samples, w, dtype=dtype)
    if w.shape != (n_samples,):
        raise ValueError(f"sample_weight must have shape ({n_samples},), one weight per sample, got {w.shape}")
    check_finite(w, "sample_weight")
    if w.min() < 0:
        raise ValueError("sample_weight must be >= 0")
    if not w.any():
        raise ValueError("sample_weight is zero for every sample: nothing to learn from")
    return w
