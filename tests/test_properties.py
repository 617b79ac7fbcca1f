"""Issue 6: property-based tests (hypothesis).

* forward, loss, gradients and δ of random small networks (depth 1-3, widths
  1-8, batches 1-9, both dtypes, every activation / output / loss, with and
  without bias, sample weights) agree with the NumPy reference in
  ``tests/naive.py`` to the tolerances of ``tests/test_kernels.py``;
* training on small finite data with a small learning rate never produces
  NaN or infinity, whatever the optimizer, batch size or shuffling;
* garbage (arrays of any dtype and shape with any values, arbitrary Python
  objects) given to the entry points either works or raises ValueError /
  TypeError -- never a numba error or anything else.  The one documented
  exception: ``gradients`` / ``fit`` / ``partial_fit`` raise
  FloatingPointError when finite but huge values make the loss overflow.

The ``fastbp`` hypothesis profile keeps the examples few (the suite runs on
two cores) and has no deadline (a first call may compile);
``FASTBP_HYPOTHESIS_EXAMPLES`` raises the count for a longer local run.
"""
import os
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastbp
from tests import naive
from tests.test_kernels import HIDDEN, PAIRS, TOL

settings.register_profile(
    "fastbp",
    max_examples=int(os.environ.get("FASTBP_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    print_blob=True,
    # CI must be repeatable: the same examples every run (local runs keep exploring).
    derandomize=bool(os.environ.get("CI")),
)
PROFILE = settings.get_profile("fastbp")

INTENDED = (ValueError, TypeError)


# ------------------------------------------------------------- strategies
def _floats(low, high, dtype):
    # Values exactly representable in dtype, so the reference sees the same numbers.  Nothing in
    # (0, 2**-20) in magnitude (those become 0): fastbp's kernels flush subnormal results to zero
    # (fastbp/_fpenv.py), so a ReLU input that is a subnormal product (a weight of 1e-33 times an
    # input of 1e-6) is 0 there (derivative 0) while the float64 reference keeps it (derivative 1):
    # the kink at the flush-to-zero scale, not a bug.  With every nonzero factor >= 2**-20, the
    # products of a depth-3 network stay far above the subnormal range.
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False,
                     width=32 if dtype == np.float32 else 64).map(lambda v: 0.0 if abs(v) < 2.0**-20 else v)


@st.composite
def problems(draw, low=-2.0, high=2.0):
    """A random small network (explicit weights) and a batch for it."""
    depth = draw(st.integers(1, 3))  # weight layers
    sizes = draw(st.lists(st.integers(1, 8), min_size=depth + 1, max_size=depth + 1))
    output, loss = draw(st.sampled_from(PAIRS))
    if output == "softmax":
        sizes[-1] = max(sizes[-1], 2)  # one softmax unit is constant: see the bad-input matrix
    activations = draw(st.lists(st.sampled_from(HIDDEN), min_size=depth - 1, max_size=depth - 1))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    bias = draw(st.booleans())
    slope = draw(st.sampled_from([0.0, 0.01, 0.3]))
    n = draw(st.integers(1, 9))
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        bound = float(np.float32(1.5 / np.sqrt(n_in)))  # Glorot-like scale: activations stay O(1)
        weights.append(draw(hnp.arrays(np.float64, (n_out, n_in), elements=_floats(-bound, bound, dtype))))
        biases.append(draw(hnp.arrays(np.float64, (n_out,), elements=_floats(-0.5, 0.5, dtype))))
    X = draw(hnp.arrays(np.float64, (n, sizes[0]), elements=_floats(low, high, dtype)))
    Y = draw(targets(loss, n, sizes[-1], dtype))
    weighted = draw(st.booleans())
    w = draw(hnp.arrays(np.float64, (n,), elements=_floats(0.125, 4.0, dtype))) if weighted else None
    net = fastbp.Network(sizes, activation=activations, output=output, loss=loss, dtype=dtype, bias=bias,
                         weights=weights, biases=biases if bias else None, leaky_slope=slope)
    return net, X, Y, w


@st.composite
def targets(draw, loss, n, n_out, dtype):
    if loss == "cross_entropy":
        if draw(st.booleans()):  # class labels
            return draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, n_out - 1)))
        # probability rows summing to 1 (one-hot is a special case)
        raw = draw(hnp.arrays(np.float64, (n, n_out), elements=st.floats(0.0, 1.0)))
        raw[:, 0] += 1e-3
        rows = raw / raw.sum(axis=1, keepdims=True)
        return rows.astype(dtype).astype(np.float64) if dtype == np.float32 else rows
    if loss == "binary_cross_entropy":
        return draw(hnp.arrays(np.float64, (n, n_out), elements=_floats(0.0, 1.0, dtype)))
    return draw(hnp.arrays(np.float64, (n, n_out), elements=_floats(-2.0, 2.0, dtype)))


def _reference(net, X, Y, w):
    """tests/naive.py on the network's parameters, in float64."""
    W = [v.astype(np.float64) for v in net.weights]
    b = [v.astype(np.float64) for v in net.biases] if net.bias else None
    X64 = np.asarray(X).astype(net.dtype).astype(np.float64)
    Y64 = net._check_data(X, Y)[1].astype(np.float64)
    _, As = naive.forward(W, b, net.activations, net.output, X64, net.leaky_slope)
    L, dWs, dbs, deltas = naive.backward(W, b, net.activations, net.output, net.loss_name, X64, Y64,
                                         net.leaky_slope, sample_weight=w)
    return As[-1], L, dWs, dbs, deltas


# ----------------------------------------------- kernels vs the reference
@PROFILE
@given(problem=problems())
def test_forward_loss_gradients_match_the_numpy_reference(problem):
    net, X, Y, w = problem
    out, L, dWs, dbs, deltas = _reference(net, X, Y, w)
    tol = TOL[net.dtype]
    np.testing.assert_allclose(net.forward(X), out, **tol)
    assert net.loss(X, Y, sample_weight=w) == pytest.approx(L, rel=tol["rtol"], abs=tol["atol"])
    grads, got_deltas = net.gradients(X, Y, return_deltas=True, sample_weight=w)
    for l, g in enumerate(grads):
        assert g.dW.dtype == net.dtype
        np.testing.assert_allclose(g.dW, dWs[l], **tol)
        np.testing.assert_allclose(got_deltas[l], deltas[l], **tol)
        if net.bias:
            np.testing.assert_allclose(g.db, dbs[l], **tol)
        else:
            assert g.db is None


@PROFILE
@given(problem=problems(), threads=st.sampled_from([1, None]))
def test_predict_is_consistent_with_forward_and_single_rows(problem, threads):
    net, X, Y, w = problem
    out = net.forward(X, n_threads=threads)
    np.testing.assert_array_equal(net.forward(X), out)  # thread count does not change a bit
    pred = net.predict(X)
    if net.loss_name == "cross_entropy":
        np.testing.assert_array_equal(pred, np.argmax(out, axis=1))
    elif net.loss_name == "binary_cross_entropy":
        expected = (out > 0.5).astype(np.int64)
        np.testing.assert_array_equal(pred, expected[:, 0] if net.n_outputs == 1 else expected)
    else:
        np.testing.assert_array_equal(pred, out)
    np.testing.assert_array_equal(net.forward(X[0]), net.forward(X[:1])[0])


# --------------------------------------------------- training stays finite
@st.composite
def optimizers(draw):
    lr = draw(st.floats(1e-4, 1e-2))
    kind = draw(st.sampled_from(["sgd", "momentum", "nesterov", "rmsprop", "centered", "adam", "adamw"]))
    if kind == "sgd":
        return fastbp.SGD(lr=lr, weight_decay=draw(st.sampled_from([0.0, 1e-3])))
    if kind in ("momentum", "nesterov"):
        return fastbp.SGD(lr=lr, momentum=draw(st.floats(0.1, 0.95)), nesterov=kind == "nesterov")
    if kind in ("rmsprop", "centered"):
        return fastbp.RMSProp(lr=lr, centered=kind == "centered", momentum=draw(st.sampled_from([0.0, 0.9])))
    if kind == "adam":
        return fastbp.Adam(lr=lr, weight_decay=draw(st.sampled_from([0.0, 1e-3])))
    return fastbp.AdamW(lr=lr)


@PROFILE
@given(problem=problems(low=-1.0, high=1.0), optimizer=optimizers(), data=st.data())
def test_fit_on_small_finite_data_with_a_small_lr_never_produces_nan(problem, optimizer, data):
    net, X, Y, w = problem
    n = X.shape[0]
    epochs = data.draw(st.integers(1, 3), label="epochs")
    batch_size = data.draw(st.one_of(st.none(), st.integers(1, n)), label="batch_size")
    shuffle = data.draw(st.booleans(), label="shuffle")
    history = net.fit(X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer, shuffle=shuffle,
                      sample_weight=w)
    assert history.epochs == epochs
    assert np.all(np.isfinite(history.loss))
    assert np.all(np.isfinite(net.parameters))
    assert np.all(np.isfinite(optimizer.state))
    net.partial_fit(X, Y, sample_weight=w)  # continues with the same optimizer
    assert np.all(np.isfinite(net.parameters))
    assert np.all(np.isfinite(net.forward(X)))
    assert np.isfinite(net.loss(X, Y, sample_weight=w))


# ----------------------------------------------------------------- garbage
def _elements(dtype):
    if dtype.kind == "O":
        return st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=3))
    return None  # hypothesis's defaults for the dtype: NaN, inf, huge values, ...


garbage_dtypes = st.one_of(
    hnp.scalar_dtypes(),  # bool, (u)int, float16/32/64, complex, datetime64, timedelta64
    hnp.unicode_string_dtypes(max_len=3),
    hnp.byte_string_dtypes(max_len=3),
    st.just(np.dtype(object)),
    hnp.floating_dtypes(endianness="?"),
)


@st.composite
def garbage_arrays(draw, n_features=3):
    dtype = draw(garbage_dtypes)
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5))
    if shape and draw(st.booleans()):  # often the right number of features, to get past the shape check
        shape = shape[:-1] + (n_features,)
    return draw(hnp.arrays(dtype, shape, elements=_elements(dtype)))


python_garbage = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=3),
              st.complex_numbers(max_magnitude=10)),
    lambda children: st.one_of(st.lists(children, max_size=4), st.tuples(children, children),
                               st.dictionaries(st.text(max_size=2), children, max_size=2)),
    max_leaves=12,
)

NETWORKS = {
    "cross_entropy": lambda dtype: fastbp.Network([3, 4, 2], output="softmax", loss="cross_entropy",
                                                  dtype=dtype, seed=0),
    "binary_cross_entropy": lambda dtype: fastbp.Network([3, 4, 1], output="sigmoid",
                                                         loss="binary_cross_entropy", dtype=dtype, seed=0),
    "mse": lambda dtype: fastbp.Network([3, 4, 2], output="identity", loss="mse", dtype=dtype, seed=0),
}
GOOD_Y = {"cross_entropy": np.array([0, 1, 1, 0, 1]), "binary_cross_entropy": np.array([0.0, 1.0, 1.0, 0.0, 1.0]),
          "mse": np.zeros((5, 2))}
DIVERGENCE_OK = ("gradients", "fit", "partial_fit")


def _call(entry, net, X, Y, w):
    if entry == "forward":
        return net.forward(X)
    if entry == "predict":
        return net.predict(X)
    if entry == "loss":
        return net.loss(X, Y, sample_weight=w)
    if entry == "gradients":
        return net.gradients(X, Y, sample_weight=w)
    if entry == "fit":
        return net.fit(X, Y, epochs=1, batch_size=2, sample_weight=w)
    if entry == "partial_fit":
        return net.partial_fit(X, Y, sample_weight=w)
    raise AssertionError(entry)


def _works_or_refuses(entry, net, X, Y, w):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # overflow on casting garbage is expected
            _call(entry, net, X, Y, w)
    except INTENDED:
        return
    except FloatingPointError:
        if entry not in DIVERGENCE_OK:
            raise
        return
    # If training accepted the garbage, the network must still be finite.
    assert np.all(np.isfinite(net.parameters)), (entry, X, Y, w)


ENTRIES = ["forward", "predict", "loss", "gradients", "fit", "partial_fit"]


@PROFILE
@given(entry=st.sampled_from(ENTRIES), loss=st.sampled_from(sorted(NETWORKS)),
       dtype=st.sampled_from([np.float32, np.float64]), X=garbage_arrays())
def test_garbage_X_works_or_raises_value_or_type_error(entry, loss, dtype, X):
    net = NETWORKS[loss](dtype)
    n = X.shape[0] if X.ndim == 2 else 1
    Y = GOOD_Y[loss][:n] if n <= 5 else np.resize(GOOD_Y[loss], (n,) + GOOD_Y[loss].shape[1:])
    _works_or_refuses(entry, net, X, Y, None)


@PROFILE
@given(entry=st.sampled_from(ENTRIES[2:]), loss=st.sampled_from(sorted(NETWORKS)),
       Y=garbage_arrays(n_features=2), w=st.one_of(st.none(), garbage_arrays(n_features=5)))
def test_garbage_targets_and_weights_work_or_raise_value_or_type_error(entry, loss, Y, w):
    net = NETWORKS[loss](np.float64)
    X = np.linspace(-1, 1, 15).reshape(5, 3)
    _works_or_refuses(entry, net, X, Y, w)


@PROFILE
@given(entry=st.sampled_from(ENTRIES), X=python_garbage, Y=python_garbage)
def test_python_object_garbage_works_or_raises_value_or_type_error(entry, X, Y):
    net = NETWORKS["cross_entropy"](np.float64)
    _works_or_refuses(entry, net, X, Y, None)


@PROFILE
@given(value=st.one_of(python_garbage, garbage_arrays()),
       name=st.sampled_from(["lr", "momentum", "weight_decay"]),
       cls=st.sampled_from([fastbp.SGD, fastbp.RMSProp, fastbp.Adam, fastbp.AdamW]))
def test_garbage_hyperparameters_work_or_raise_value_or_type_error(value, name, cls):
    if name == "momentum" and cls in (fastbp.Adam, fastbp.AdamW):
        name = "eps"
    try:
        optimizer = cls(**{name: value})
    except INTENDED:
        return
    # Accepted: then it is a usable optimizer.
    net = NETWORKS["mse"](np.float64)
    X = np.linspace(-1, 1, 15).reshape(5, 3)
    try:
        net.fit(X, GOOD_Y["mse"], optimizer=optimizer)
    except FloatingPointError:
        pass  # a huge but valid learning rate may diverge: that is reported, not hidden
    else:
        assert np.all(np.isfinite(net.parameters))
