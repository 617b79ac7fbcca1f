"""Issue 6: every public entry point against every kind of bad input.

The matrix is built programmatically: entry points (``Network(...)``,
``forward``, ``predict``, ``loss``, ``gradients``, ``fit``, ``partial_fit``,
``accuracy``, ``gradcheck``, optimizers, schedules, ``threads``, ``save`` /
``load``, the scikit-learn estimators and the command line) crossed with bad
inputs (wrong ndim, mismatched shapes, wrong feature count, empty arrays,
NaN/inf, bool/object/complex/str dtypes, labels out of range or of the wrong
kind, one-hot rows that do not sum to 1, bad learning rates, batch sizes and
epoch counts, unknown names, weights of the wrong shape or dtype ...).

Every case must raise ``ValueError`` or ``TypeError`` (file-system errors:
``OSError``; the CLI: exit status 2 with one line on stderr) whose message
names the argument and what was expected -- never a numba ``TypingError``,
another exception, a silent result, a crash or a hang.  Cases that might
crash the interpreter (huge allocations) run in a subprocess with a memory
limit and a timeout; every in-process case runs under a ``faulthandler``
watchdog, so a hang fails loudly instead of stalling CI.

Cases that still fail are known bugs, marked ``xfail(strict=True)`` with the
bug in the reason: an XPASS means the bug was fixed and the mark can go.

A second matrix checks what must simply work, bit for bit like the
canonical C-contiguous input of the network's dtype: Fortran-ordered,
non-contiguous and read-only arrays, Python lists, float32 / integer /
big-endian data, integer labels or one-hot rows, a single sample.

``python -m tests.test_bad_input_matrix`` prints the per-entry-point counts
and every case that does not (yet) raise the intended error.
"""
from __future__ import annotations

import atexit
import contextlib
import dataclasses
import faulthandler
import functools
import io as _stdio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pytest

import fastbp

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE_TIMEOUT = 180  # seconds; a first call may include a numba compile
ISOLATED_MEMORY = 3 << 30  # address-space limit of isolated cases (bytes)
INTENDED = (ValueError, TypeError)
NAN, INF = float("nan"), float("inf")


@dataclasses.dataclass
class Case:
    """One (entry point, bad input) pair.

    ``call`` runs it; it must raise one of ``expect`` with a message matching
    ``match`` (a case-insensitive regex naming the argument / the
    expectation).  ``bug`` marks a known failure (xfail, strict).
    """

    entry: str
    bad: str
    call: object
    match: str = ""
    expect: tuple = INTENDED
    bug: str | None = None
    isolate: bool = False

    @property
    def id(self):
        return f"{self.entry}: {self.bad}"


# ---------------------------------------------------------------- data
_rng = np.random.default_rng(6)
X = _rng.normal(size=(4, 3))
LABELS = np.array([0, 1, 1, 0])
ONEHOT = np.eye(2)[LABELS]
BCE_Y = np.array([0.0, 1.0, 1.0, 0.0])
MSE_Y = _rng.normal(size=(4, 2))
W = np.array([1.0, 2.0, 0.5, 1.0])


def with_value(array, index, value, dtype=float):
    out = np.array(array, dtype=dtype)
    out[index] = value
    return out


def ce_net(dtype=np.float64):
    return fastbp.Network([3, 4, 2], activation="tanh", output="softmax", loss="cross_entropy", dtype=dtype,
                          seed=0)


def bce_net():
    return fastbp.Network([3, 4, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy",
                          dtype=np.float64, seed=0)


def mse_net():
    return fastbp.Network([3, 4, 2], activation="tanh", output="identity", loss="mse", dtype=np.float32, seed=0)


def _fit(net, X, Y, **kw):
    kw.setdefault("epochs", 1)
    kw.setdefault("batch_size", 2)
    return net.fit(X, Y, **kw)


# Entry points taking (X, Y): name -> call(net, X, Y, **kw).
XY_ENTRIES = {
    "Network.loss": lambda net, X, Y, **kw: net.loss(X, Y, **kw),
    "Network.gradients": lambda net, X, Y, **kw: net.gradients(X, Y, **kw),
    "Network.fit": _fit,
    "Network.partial_fit": lambda net, X, Y, **kw: net.partial_fit(X, Y, **kw),
    "Network.accuracy": lambda net, X, Y, **kw: net.accuracy(X, Y, **kw),
    "gradcheck": lambda net, X, Y, **kw: fastbp.gradcheck(net, X, Y, **kw),
}
X_ENTRIES = {
    "Network.forward": lambda net, X, **kw: net.forward(X, **kw),
    "Network.predict": lambda net, X, **kw: net.predict(X, **kw),
}
WEIGHTED = ("Network.loss", "Network.gradients", "Network.fit", "Network.partial_fit")
THREADED = ("Network.forward", "Network.predict", "Network.loss", "Network.gradients", "Network.fit",
            "Network.partial_fit", "Network.accuracy")
NOT_FOR_MSE = ("Network.accuracy",)


def call_entry(entry, make_net, X, Y=None, **kw):
    net = make_net()
    if entry in X_ENTRIES:
        return X_ENTRIES[entry](net, X, **kw)
    return XY_ENTRIES[entry](net, X, Y, **kw)


# ------------------------------------------------------ bad X, Y, weights
BAD_X = [
    ("X 3-D", np.zeros((4, 3, 1)), r"\bX\b.*2-D"),
    ("X 0-D scalar", np.float64(1.0), r"\bX\b.*(2-D|expects 3)"),
    ("X wrong feature count", np.zeros((4, 5)), r"\bX\b.*5 features.*expects 3"),
    ("X single sample of wrong length", np.zeros(5), r"\bX\b.*5 features.*expects 3"),
    ("X empty (0, 3)", np.zeros((0, 3)), r"\bX\b.*empty"),
    ("X empty list", [], r"\bX\b.*0 features"),
    ("X NaN", with_value(X, (1, 2), NAN), r"\bX\b.*NaN or infinity"),
    ("X +inf", with_value(X, (0, 0), INF), r"\bX\b.*NaN or infinity"),
    ("X -inf", with_value(X, (3, 1), -INF), r"\bX\b.*NaN or infinity"),
    ("X bool", X > 0, r"\bX\b.*bool"),
    ("X complex", X.astype(complex), r"\bX\b.*complex"),
    ("X object (numbers)", X.astype(object), r"\bX\b.*object"),
    ("X object with None", with_value(X, (0, 0), None, object), r"\bX\b.*object"),
    ("X str", X.astype(str), r"\bX\b.*str"),
    ("X bytes", X.astype("S8"), r"\bX\b.*bytes"),
    ("X datetime64", np.zeros((4, 3), "datetime64[s]"), r"\bX\b.*datetime"),
    ("X ragged list", [[0.0, 1.0, 2.0], [0.0, 1.0]], r"\bX\b.*array-like"),
    ("X None", None, r"\bX\b.*real numbers"),
]

BAD_Y_CE = [
    ("Y wrong length", [0, 1, 0], r"\bY\b.*3 rows.*4 samples"),
    ("Y label out of range", [0, 1, 2, 0], r"\bY\b.*class labels must be in \[0, 1\]"),
    ("Y negative label", [0, -1, 1, 0], r"\bY\b.*class labels must be in \[0, 1\]"),
    ("Y huge label", [0, 1e20, 1, 0], r"\bY\b.*class labels"),
    ("Y fractional labels", [0, 0.5, 1, 0], r"\bY\b.*integer class labels"),
    ("Y NaN label", [0, NAN, 1, 0], r"\bY\b.*integer class labels"),
    ("Y one-hot rows not summing to 1", [[1, 1], [0, 1], [1, 0], [0, 0]], r"\bY\b.*summing to 1"),
    ("Y one-hot with negative entries", [[2, -1], [0, 1], [1, 0], [0, 1]], r"\bY\b.*summing to 1"),
    ("Y one-hot of the wrong width", np.eye(3)[LABELS], r"\bY\b.*2 columns"),
    ("Y one-hot NaN", with_value(ONEHOT, (1, 0), NAN), r"\bY\b.*NaN"),
    ("Y one-hot inf", with_value(ONEHOT, (1, 0), INF), r"\bY\b.*NaN or inf"),
    ("Y 3-D", ONEHOT[:, :, None], r"\bY\b.*1-D or 2-D"),
    ("Y scalar", 1, r"\bY\b.*1-D or 2-D"),
    ("Y bool labels", LABELS.astype(bool), r"\bY\b.*bool"),
    ("Y str labels", LABELS.astype(str), r"\bY\b.*real numbers"),
    ("Y complex labels", LABELS.astype(complex), r"\bY\b.*real numbers"),
    ("Y object labels", LABELS.astype(object), r"\bY\b.*real numbers"),
    ("Y None", None, r"\bY\b.*real numbers"),
    ("Y ragged list", [[1, 0], [0], [1, 0], [0, 1]], r"\bY\b.*array-like"),
]

BAD_Y_BCE = [
    ("Y above 1", [0, 2, 1, 0], r"\bY\b.*\[0, 1\]"),
    ("Y negative", [0, -1, 1, 0], r"\bY\b.*\[0, 1\]"),
    ("Y NaN", [0, NAN, 1, 0], r"\bY\b.*NaN"),
    ("Y two columns for one output", np.zeros((4, 2)), r"\bY\b.*1 column"),
    ("Y wrong length", [0, 1, 0], r"\bY\b.*3 rows.*4 samples"),
    ("Y bool", BCE_Y > 0, r"\bY\b.*bool"),
]

BAD_Y_MSE = [
    ("Y 1-D for two outputs", np.zeros(4), r"\bY\b.*shape \(4, 2\)"),
    ("Y wrong column count", np.zeros((4, 3)), r"\bY\b.*2 columns"),
    ("Y wrong length", np.zeros((3, 2)), r"\bY\b.*3 rows.*4 samples"),
    ("Y NaN", with_value(MSE_Y, (0, 1), NAN), r"\bY\b.*NaN"),
    ("Y -inf", with_value(MSE_Y, (2, 0), -INF), r"\bY\b.*NaN or inf"),
    ("Y complex", MSE_Y.astype(complex), r"\bY\b.*real numbers"),
]

BAD_W = [
    ("sample_weight wrong length", [1.0, 1.0, 1.0], r"sample_weight.*shape \(4,\)"),
    ("sample_weight empty", [], r"sample_weight.*shape \(4,\)"),
    ("sample_weight 2-D", np.ones((4, 1)), r"sample_weight.*shape \(4,\)"),
    ("sample_weight negative", [1.0, -1.0, 1.0, 1.0], r"sample_weight.*>= 0"),
    ("sample_weight NaN", [1.0, NAN, 1.0, 1.0], r"sample_weight.*NaN"),
    ("sample_weight inf", [1.0, INF, 1.0, 1.0], r"sample_weight.*NaN or inf"),
    ("sample_weight all zero", np.zeros(4), r"sample_weight.*zero for every sample"),
    ("sample_weight bool", np.ones(4, bool), r"sample_weight.*bool"),
    ("sample_weight str", ["1"] * 4, r"sample_weight.*str"),
    ("sample_weight complex", np.ones(4, complex), r"sample_weight.*complex"),
    ("sample_weight ragged", [[1.0], [1.0, 2.0], 1.0, 1.0], r"sample_weight.*array-like"),
    ("sample_weight scalar 0", 0.0, r"sample_weight.*zero for every sample"),
    ("sample_weight scalar negative", -1.0, r"sample_weight.*>= 0"),
    ("sample_weight scalar NaN", NAN, r"sample_weight.*NaN"),
]

BAD_THREADS = [
    ("n_threads=0", 0, r"n_threads.*between 1"),
    ("n_threads=-1", -1, r"n_threads.*between 1"),
    ("n_threads=10**6", 10**6, r"n_threads.*between 1"),
    ("n_threads=1.5", 1.5, r"n_threads.*int"),
    ("n_threads='2'", "2", r"n_threads.*int"),
    ("n_threads=True", True, r"n_threads.*int"),
]


def data_cases():
    cases = []
    every = {**X_ENTRIES, **XY_ENTRIES}
    for entry in every:
        for bad, value, match in BAD_X:
            cases.append(Case(entry, bad, functools.partial(call_entry, entry, ce_net, value, LABELS), match))
        if entry != "gradcheck":  # gradcheck works on a float64 copy, where 1e300 is finite
            make, target = ((functools.partial(ce_net, np.float32), LABELS) if entry in NOT_FOR_MSE
                            else (mse_net, MSE_Y))
            cases.append(Case(entry, "X overflows float32 (1e300 into a float32 network)",
                              functools.partial(call_entry, entry, make, np.full((4, 3), 1e300), target),
                              r"\bX\b.*(NaN|inf|overflow|range)"))
    for entry in XY_ENTRIES:
        for bad, value, match in BAD_Y_CE:
            cases.append(Case(entry, f"cross-entropy {bad}",
                              functools.partial(call_entry, entry, ce_net, X, value), match))
        for bad, value, match in BAD_Y_BCE:
            cases.append(Case(entry, f"binary cross-entropy {bad}",
                              functools.partial(call_entry, entry, bce_net, X, value), match))
        if entry not in NOT_FOR_MSE:
            for bad, value, match in BAD_Y_MSE:
                cases.append(Case(entry, f"mse {bad}", functools.partial(call_entry, entry, mse_net, X, value),
                                  match))
        # A single sample (1-D X) with a target that cannot be its target.
        cases.append(Case(entry, "single sample, two target rows", functools.partial(
            call_entry, entry, ce_net, X[0], ONEHOT[:2]), r"\bY\b"))
        cases.append(Case(entry, "single sample, ragged target", functools.partial(
            call_entry, entry, ce_net, X[0], [[1], [0, 1]]), r"\bY\b"))
    for entry in WEIGHTED:
        for bad, value, match in BAD_W:
            cases.append(Case(entry, bad, functools.partial(call_entry, entry, ce_net, X, LABELS,
                                                            sample_weight=value), match))
    for entry in THREADED:
        for bad, value, match in BAD_THREADS:
            cases.append(Case(entry, bad, functools.partial(call_entry, entry, ce_net, X, LABELS,
                                                            n_threads=value), match))
    return cases


# ------------------------------------------------------------- fit options
def _other_owner():
    net = ce_net()
    opt = fastbp.SGD(lr=0.1)
    net.fit(X, LABELS, optimizer=opt)
    _other_owner.keep = net  # keep the first owner alive
    return opt


def fit_option_cases():
    bad = [
        ("epochs=-1", dict(epochs=-1), r"epochs must be >= 0"),
        ("epochs=1.5", dict(epochs=1.5), r"epochs must be an int"),
        ("epochs=None", dict(epochs=None), r"epochs must be an int"),
        ("epochs='3'", dict(epochs="3"), r"epochs must be an int"),
        ("epochs=True", dict(epochs=True), r"epochs must be an int"),
        ("batch_size=0", dict(batch_size=0), r"batch_size must be >= 1"),
        ("batch_size=-3", dict(batch_size=-3), r"batch_size must be >= 1"),
        ("batch_size=1.5", dict(batch_size=1.5), r"batch_size must be an int"),
        ("batch_size='32'", dict(batch_size="32"), r"batch_size must be an int"),
        ("batch_size=True", dict(batch_size=True), r"batch_size must be an int"),
        ("optimizer='adam' (a name)", dict(optimizer="adam"), r"optimizer must be a fastbp optimizer"),
        ("optimizer=SGD (the class)", dict(optimizer=fastbp.SGD), r"optimizer must be a fastbp optimizer"),
        ("optimizer=5", dict(optimizer=5), r"optimizer must be a fastbp optimizer"),
        ("shuffle='yes'", dict(shuffle="yes"), r"shuffle must be a bool"),
        ("shuffle=None", dict(shuffle=None), r"shuffle must be a bool"),
        ("validation_data not a pair (array)", dict(validation_data=np.zeros(3)), r"validation_data.*pair"),
        ("validation_data a triple", dict(validation_data=(X, LABELS, LABELS)), r"validation_data.*pair"),
        ("validation_split=1.0", dict(validation_split=1.0), r"validation_split.*\[0, 1\)"),
        ("validation_split=-0.1", dict(validation_split=-0.1), r"validation_split.*\[0, 1\)"),
        ("validation_split=NaN", dict(validation_split=NAN), r"validation_split.*\[0, 1\)"),
        ("validation_split='0.1'", dict(validation_split="0.1"), r"validation_split.*float"),
        ("validation_split=True", dict(validation_split=True), r"validation_split.*float"),
        ("validation_split leaving no validation sample", dict(validation_split=0.01),
         r"validation_split.*no validation"),
        ("validation_data and validation_split", dict(validation_data=(X, LABELS), validation_split=0.5),
         r"validation_data or validation_split"),
        ("early_stopping=0", dict(early_stopping=0), r"early_stopping must be >= 1"),
        ("early_stopping=1.5", dict(early_stopping=1.5), r"early_stopping must be an int"),
        ("early_stopping=True", dict(early_stopping=True), r"early_stopping must be an int"),
        ("callbacks=[3]", dict(callbacks=[3]), r"callbacks must be callables"),
        ("verbose=-1", dict(verbose=-1), r"verbose must be >= 0"),
        ("verbose='yes'", dict(verbose="yes"), r"verbose must be an int"),
        ("sampling='hard'", dict(sampling="hard"), r"sampling must be one of"),
        ("sampling=None", dict(sampling=None), r"sampling must be one of"),
        ("sampling='misclassified' with batch_size=2", dict(sampling="misclassified", batch_size=2),
         r"misclassified.*batch_size must be 1"),
        ("sampling='misclassified' with sample_weight", dict(sampling="misclassified", batch_size=1,
                                                             sample_weight=W), r"sample_weight.*misclassified"),
        ("unknown keyword foo=1", dict(foo=1), r"foo"),
        ("unknown keyword lr=0.1", dict(lr=0.1), r"\blr\b"),
    ]
    cases = [Case("Network.fit", name, functools.partial(call_entry, "Network.fit", ce_net, X, LABELS, **kw), m)
             for name, kw, m in bad]
    cases += [
        Case("Network.fit", "optimizer already bound to another live network",
             lambda: _fit(ce_net(), X, LABELS, optimizer=_other_owner()), r"optimizer.*another network"),
        Case("Network.fit", "sampling='misclassified' with an mse network",
             lambda: mse_net().fit(X, MSE_Y, sampling="misclassified", batch_size=1),
             r"misclassified.*classification loss"),
        Case("Network.fit", "validation_data with the wrong feature count",
             lambda: _fit(ce_net(), X, LABELS, validation_data=(np.zeros((2, 5)), [0, 1])),
             r"validation_data|X_val"),
        Case("Network.fit", "validation_data with labels out of range",
             lambda: _fit(ce_net(), X, LABELS, validation_data=(X, [0, 1, 7, 0])),
             r"validation_data|Y_val"),
        Case("Network.fit", "validation_data with NaN",
             lambda: _fit(ce_net(), X, LABELS, validation_data=(with_value(X, (0, 0), NAN), LABELS)),
             r"validation_data|X_val"),
        Case("Network.fit", "callbacks=5 (not a sequence)", lambda: _fit(ce_net(), X, LABELS, callbacks=5),
             r"callbacks"),
    ]
    partial = [
        ("batch_size=0", dict(batch_size=0), r"batch_size must be >= 1"),
        ("batch_size='8'", dict(batch_size="8"), r"batch_size must be an int"),
        ("optimizer='sgd'", dict(optimizer="sgd"), r"optimizer must be a fastbp optimizer"),
        ("unknown keyword epochs=2", dict(epochs=2), r"epochs"),
    ]
    cases += [Case("Network.partial_fit", name,
                   functools.partial(call_entry, "Network.partial_fit", ce_net, X, LABELS, **kw), m)
              for name, kw, m in partial]
    cases += [
        Case("Network.gradients", "return_deltas='no' (not a bool)",
             functools.partial(call_entry, "Network.gradients", ce_net, X, LABELS, return_deltas="no"),
             r"return_deltas.*bool"),
        Case("Network.accuracy", "on an mse network", lambda: mse_net().accuracy(X, MSE_Y),
             r"accuracy needs a classification loss"),
        Case("Network.predict", "unknown keyword batch_size=2",
             lambda: ce_net().predict(X, batch_size=2), r"batch_size"),
    ]
    return cases


# ------------------------------------------------------------ constructor


def constructor_cases():
    def net(**kw):
        kw.setdefault("sizes", [3, 4, 2])
        return lambda: fastbp.Network(**kw)

    W0, W1 = np.zeros((4, 3)), np.zeros((2, 4))
    b0, b1 = np.zeros(4), np.zeros(2)
    bad = [
        ("sizes=[]", net(sizes=[]), r"sizes.*input and an output"),
        ("sizes=[3]", net(sizes=[3]), r"sizes.*input and an output"),
        ("sizes with a zero width", net(sizes=[3, 0, 2]), r"width must be >= 1"),
        ("sizes with a negative width", net(sizes=[3, -1, 2]), r"width must be >= 1"),
        ("sizes with a float width", net(sizes=[3, 2.5, 2]), r"sizes must hold ints"),
        ("sizes with a bool width", net(sizes=[3, True, 2]), r"sizes must hold ints"),
        ("sizes with a str width", net(sizes=[3, "4", 2]), r"sizes must hold ints"),
        ("sizes as a float array", net(sizes=np.array([3.0, 4.0, 2.0])), r"sizes must hold ints"),
        ("sizes=None", net(sizes=None), r"sizes must be a sequence"),
        ("sizes=3", net(sizes=3), r"sizes must be a sequence"),
        ("activation='swish'", net(activation="swish"), r"activation must be one of"),
        ("activation='softmax' (hidden)", net(activation="softmax"), r"activation must be one of"),
        ("activation=None", net(activation=None), r"activation must be a name or a list"),
        ("activation=5", net(activation=5), r"activation must be a name or a list"),
        ("activation list too short", net(sizes=[3, 4, 4, 2], activation=["relu"]), r"one name per hidden"),
        ("activation list with an unknown name", net(sizes=[3, 4, 4, 2], activation=["relu", "swish"]),
         r"activation must be one of"),
        ("activation list with None", net(activation=[None]), r"activation must be one of"),
        ("output='relu'", net(output="relu"), r"output must be one of"),
        ("output=None", net(output=None), r"output must be one of"),
        ("loss='hinge'", net(loss="hinge"), r"loss must be one of"),
        ("loss=None", net(loss=None), r"loss must be one of"),
        ("loss='cross_entropy' with output='sigmoid'", net(loss="cross_entropy", output="sigmoid"),
         r"softmax"),
        ("loss='binary_cross_entropy' with output='identity'", net(loss="binary_cross_entropy"), r"sigmoid"),
        ("dtype=np.int32", net(dtype=np.int32), r"dtype must be np.float32 or np.float64"),
        ("dtype=np.float16", net(dtype=np.float16), r"dtype must be np.float32 or np.float64"),
        ("dtype=complex", net(dtype=complex), r"dtype must be np.float32 or np.float64"),
        ("dtype='banana'", net(dtype="banana"), r"dtype"),
        ("bias='yes'", net(bias="yes"), r"bias must be a bool"),
        ("bias=1", net(bias=1), r"bias must be a bool"),
        ("bias=None", net(bias=None), r"bias must be a bool"),
        ("leaky_slope=-1", net(leaky_slope=-1), r"leaky_slope"),
        ("leaky_slope=NaN", net(leaky_slope=NAN), r"leaky_slope"),
        ("leaky_slope=inf", net(leaky_slope=INF), r"leaky_slope"),
        ("weights: one array for two layers", net(weights=[W0]), r"weights must hold 2 arrays"),
        ("weights transposed", net(weights=[W0.T, W1]), r"weights\[0\] must have shape \(4, 3\)"),
        ("weights[1] of the wrong shape", net(weights=[W0, np.zeros((2, 5))]), r"weights\[1\] must have shape"),
        ("weights 1-D", net(weights=[np.zeros(12), W1]), r"weights\[0\] must have shape"),
        ("weights bool", net(weights=[W0.astype(bool), W1]), r"weights\[0\].*bool"),
        ("weights complex", net(weights=[W0, W1.astype(complex)]), r"weights\[1\].*complex"),
        ("weights object", net(weights=[W0.astype(object), W1]), r"weights\[0\].*object"),
        ("weights str", net(weights=[W0.astype(str), W1]), r"weights\[0\].*str"),
        ("weights None entry", net(weights=[None, W1]), r"weights\[0\]"),
        ("weights NaN", net(weights=[with_value(W0, (0, 0), NAN), W1]), r"weights\[0\].*NaN"),
        ("weights inf", net(weights=[W0, with_value(W1, (1, 1), INF)]), r"weights\[1\].*NaN or inf"),
        ("weights ragged", net(weights=[[[0, 0, 0]] * 3 + [[0, 0]], W1]), r"weights\[0\].*array-like"),
        ("biases without weights", net(biases=[b0, b1]), r"biases.*without weights"),
        ("biases with bias=False", net(bias=False, weights=[W0, W1], biases=[b0, b1]), r"bias=False"),
        ("biases: one array for two layers", net(weights=[W0, W1], biases=[b0]), r"biases must hold 2"),
        ("biases[1] of the wrong shape", net(weights=[W0, W1], biases=[b0, np.zeros(3)]),
         r"biases\[1\] must have shape \(2,\)"),
        ("biases NaN", net(weights=[W0, W1], biases=[b0, [NAN, 0]]), r"biases\[1\].*NaN"),
        ("biases bool", net(weights=[W0, W1], biases=[b0.astype(bool), b1]), r"biases\[0\].*bool"),
    ]
    cases = [Case("Network()", name, call, m) for name, call, m in bad]
    cases += [
        Case("Network()", "seed='abc'", net(seed="abc"), r"\bseed\b"),
        Case("Network()", "seed=-1", net(seed=-1), r"\bseed\b"),
        Case("Network()", "seed=1.5", net(seed=1.5), r"\bseed\b"),
        Case("Network()", "leaky_slope='abc'", net(leaky_slope="abc"), r"leaky_slope"),
        Case("Network()", "leaky_slope=None", net(leaky_slope=None), r"leaky_slope"),
        Case("Network()", "leaky_slope='0.1' (a str)", net(leaky_slope="0.1"), r"leaky_slope"),
        Case("Network()", "weights=5", net(weights=5), r"weights"),
        Case("Network()", "biases=5", net(weights=[W0, W1], biases=5), r"biases"),
        Case("Network()", "sizes too large for int64 ([2**40, 2**40, 1])", net(sizes=[2**40, 2**40, 1]),
             r"sizes|too large|parameters"),
        Case("Network()", "softmax + cross_entropy with a single output",
             net(sizes=[3, 4, 1], output="softmax", loss="cross_entropy"), r"output|softmax|sigmoid"),
    ]
    # set_parameters: the same checks after construction.
    cases += [
        Case("Network.set_parameters", "one array for two layers", lambda: ce_net().set_parameters([W0]),
             r"weights must hold 2 arrays"),
        Case("Network.set_parameters", "weights transposed", lambda: ce_net().set_parameters([W0.T, W1]),
             r"weights\[0\] must have shape"),
        Case("Network.set_parameters", "weights NaN",
             lambda: ce_net().set_parameters([W0, with_value(W1, (0, 0), NAN)]), r"weights\[1\].*NaN"),
        Case("Network.set_parameters", "biases of the wrong shape",
             lambda: ce_net().set_parameters([W0, W1], [b0, np.zeros(5)]), r"biases\[1\] must have shape"),
    ]
    return cases


# ---------------------------------------------------- optimizers, schedules


def optimizer_cases():
    cases = []
    common = [
        ("lr=0", dict(lr=0), r"\blr must be > 0"),
        ("lr=-0.1", dict(lr=-0.1), r"\blr must be > 0"),
        ("lr=NaN", dict(lr=NAN), r"\blr must be finite"),
        ("lr=inf", dict(lr=INF), r"\blr must be finite"),
        ("lr='0.1'", dict(lr="0.1"), r"\blr must be a real number"),
        ("lr=None", dict(lr=None), r"\blr must be a real number"),
        ("lr=True", dict(lr=True), r"\blr must be a real number"),
        ("lr=[0.1]", dict(lr=[0.1]), r"\blr must be a real number"),
        ("weight_decay=-1", dict(weight_decay=-1), r"weight_decay must be >= 0"),
        ("weight_decay=NaN", dict(weight_decay=NAN), r"weight_decay must be finite"),
        ("schedule='step' (a name)", dict(schedule="step"), r"schedule must be a fastbp schedule"),
        ("schedule=5", dict(schedule=5), r"schedule must be a fastbp schedule"),
        ("schedule=an optimizer", dict(schedule=fastbp.SGD()), r"schedule must be a fastbp schedule"),
        ("unknown keyword learning_rate=0.1", dict(learning_rate=0.1), r"learning_rate"),
    ]
    specific = {
        fastbp.SGD: [
            ("momentum=-0.1", dict(momentum=-0.1), r"momentum must be >= 0"),
            ("momentum=1.0", dict(momentum=1.0), r"momentum must be < 1"),
            ("momentum=NaN", dict(momentum=NAN), r"momentum must be finite"),
            ("nesterov=1", dict(nesterov=1, momentum=0.9), r"nesterov must be a bool"),
            ("nesterov='yes'", dict(nesterov="yes", momentum=0.9), r"nesterov must be a bool"),
            ("nesterov=True without momentum", dict(nesterov=True), r"nesterov.*momentum"),
        ],
        fastbp.RMSProp: [
            ("rho=1.0", dict(rho=1.0), r"rho must be < 1"),
            ("rho=-0.1", dict(rho=-0.1), r"rho must be >= 0"),
            ("eps=0", dict(eps=0), r"eps must be > 0"),
            ("eps=-1e-8", dict(eps=-1e-8), r"eps must be > 0"),
            ("momentum=1.0", dict(momentum=1.0), r"momentum must be < 1"),
            ("centered='yes'", dict(centered="yes"), r"centered must be a bool"),
        ],
        fastbp.Adam: [
            ("beta1=1.0", dict(beta1=1.0), r"beta1 must be < 1"),
            ("beta1=-0.1", dict(beta1=-0.1), r"beta1 must be >= 0"),
            ("beta2=1.0", dict(beta2=1.0), r"beta2 must be < 1"),
            ("beta2=NaN", dict(beta2=NAN), r"beta2 must be finite"),
            ("eps=0", dict(eps=0), r"eps must be > 0"),
        ],
    }
    specific[fastbp.AdamW] = specific[fastbp.Adam]
    for cls in (fastbp.SGD, fastbp.RMSProp, fastbp.Adam, fastbp.AdamW):
        for name, kw, m in common + specific[cls]:
            cases.append(Case(f"{cls.__name__}()", name, functools.partial(cls, **kw), m))
    sched = [
        ("StepDecay()", "step_size=0", lambda: fastbp.StepDecay(0), r"step_size must be"),
        ("StepDecay()", "step_size=-1", lambda: fastbp.StepDecay(-1), r"step_size must be"),
        ("StepDecay()", "step_size=1.5", lambda: fastbp.StepDecay(1.5), r"step_size must be"),
        ("StepDecay()", "step_size=None", lambda: fastbp.StepDecay(None), r"step_size must be"),
        ("StepDecay()", "step_size='2'", lambda: fastbp.StepDecay("2"), r"step_size must be"),
        ("StepDecay()", "gamma=0", lambda: fastbp.StepDecay(2, gamma=0), r"gamma must be"),
        ("StepDecay()", "gamma=-1", lambda: fastbp.StepDecay(2, gamma=-1), r"gamma must be"),
        ("StepDecay()", "gamma=NaN", lambda: fastbp.StepDecay(2, gamma=NAN), r"gamma must be"),
        ("StepDecay()", "gamma=inf", lambda: fastbp.StepDecay(2, gamma=INF), r"gamma must be"),
        ("StepDecay()", "gamma='a'", lambda: fastbp.StepDecay(2, gamma="a"), r"gamma must be"),
        ("StepDecay()", "gamma=None", lambda: fastbp.StepDecay(2, gamma=None), r"gamma must be"),
        ("Exponential()", "gamma=0", lambda: fastbp.Exponential(0), r"gamma must be"),
        ("Exponential()", "gamma=-0.5", lambda: fastbp.Exponential(-0.5), r"gamma must be"),
        ("Exponential()", "gamma=NaN", lambda: fastbp.Exponential(NAN), r"gamma must be"),
        ("Exponential()", "gamma='a'", lambda: fastbp.Exponential("a"), r"gamma must be"),
        ("Cosine()", "t_max=0", lambda: fastbp.Cosine(0), r"t_max must be"),
        ("Cosine()", "t_max=-1", lambda: fastbp.Cosine(-1), r"t_max must be"),
        ("Cosine()", "t_max=1.5", lambda: fastbp.Cosine(1.5), r"t_max must be"),
        ("Cosine()", "t_max=None", lambda: fastbp.Cosine(None), r"t_max must be"),
        ("Cosine()", "lr_min=-1", lambda: fastbp.Cosine(10, lr_min=-1), r"lr_min must be"),
        ("Cosine()", "lr_min=NaN", lambda: fastbp.Cosine(10, lr_min=NAN), r"lr_min must be"),
        ("Cosine()", "lr_min=inf", lambda: fastbp.Cosine(10, lr_min=INF), r"lr_min must be"),
    ]
    cases += [Case(entry, name, call, m) for entry, name, call, m in sched]
    cases += [
        Case("Cosine()", "lr_min='a'", lambda: fastbp.Cosine(10, lr_min="a"), r"lr_min"),
        Case("Cosine()", "lr_min=None", lambda: fastbp.Cosine(10, lr_min=None), r"lr_min"),
        Case("StepDecay()", "step_size=True", lambda: fastbp.StepDecay(True), r"step_size"),
        Case("Cosine()", "t_max=True", lambda: fastbp.Cosine(True), r"t_max"),
        Case("Exponential()", "gamma=True", lambda: fastbp.Exponential(True), r"gamma"),
        Case("Schedule.__call__", "lr='a'", lambda: fastbp.StepDecay(2)("a", 1), r"\blr\b"),
        Case("Schedule.__call__", "lr=None", lambda: fastbp.Cosine(5)(None, 1), r"\blr\b"),
        Case("Schedule.__call__", "epoch=-1", lambda: fastbp.StepDecay(2)(0.1, -1), r"epoch"),
        Case("Schedule.__call__", "epoch='a'", lambda: fastbp.Exponential(0.5)(0.1, "a"), r"epoch"),
    ]
    return cases


# --------------------------------------------------- gradcheck, threads


def gradcheck_cases():
    g = functools.partial(fastbp.gradcheck)
    cases = [
        Case("gradcheck", "net='abc' (not a Network)", lambda: g("abc", X, LABELS), r"\bnet\b.*Network"),
        Case("gradcheck", "net=None", lambda: g(None, X, LABELS), r"\bnet\b.*Network"),
        Case("gradcheck", "epsilon=0", lambda: g(ce_net(), X, LABELS, epsilon=0), r"epsilon"),
        Case("gradcheck", "epsilon=NaN", lambda: g(ce_net(), X, LABELS, epsilon=NAN), r"epsilon"),
        Case("gradcheck", "epsilon='a'", lambda: g(ce_net(), X, LABELS, epsilon="a"), r"epsilon"),
        Case("gradcheck", "max_checks=-1", lambda: g(ce_net(), X, LABELS, max_checks=-1), r"max_checks"),
        Case("gradcheck", "max_checks=1.5", lambda: g(ce_net(), X, LABELS, max_checks=1.5), r"max_checks"),
        Case("gradcheck", "seed='a' (with max_checks)", lambda: g(ce_net(), X, LABELS, max_checks=2, seed="a"),
             r"\bseed\b"),
    ]

    def enter(n):
        with fastbp.threads(n):
            pass

    for name, value, m in BAD_THREADS:
        cases.append(Case("threads()", name, functools.partial(enter, value), m))
    return cases


# ----------------------------------------------------------- save / load
@functools.lru_cache(maxsize=None)
def _workdir():
    path = tempfile.mkdtemp(prefix="fastbp-badinput-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def _file(name, content):
    path = os.path.join(_workdir(), name)
    with open(path, "wb") as f:
        f.write(content)
    return path


@functools.lru_cache(maxsize=None)
def _saved_arrays():
    from fastbp import io

    net = ce_net()
    net.fit(X, LABELS, optimizer=fastbp.Adam(lr=0.01))
    return io.to_arrays(net)


def _crafted(**changes):
    """A model file with a *valid* checksum whose entries were changed."""
    from fastbp import io

    arrays = dict(_saved_arrays())
    del arrays["checksum"]
    arrays.update({k: np.asarray(v) for k, v in changes.items()})
    arrays["checksum"] = np.array(io._checksum(arrays))
    _crafted.count = getattr(_crafted, "count", 0) + 1
    path = os.path.join(_workdir(), f"crafted-{_crafted.count}.npz")
    np.savez(path, **arrays)
    return path


def _valid_bytes():
    path = os.path.join(_workdir(), "valid.npz")
    ce_net().save(path)
    with open(path, "rb") as f:
        return f.read()


def load_cases():
    load = fastbp.load
    cases = [
        Case("load", "path=123", lambda: load(123), r"path must be a str"),
        Case("load", "path=None", lambda: load(None), r"path must be a str"),
        Case("load", "path=b'bytes'", lambda: load(b"model.npz"), r"path must be a str"),
        Case("load", "path=''", lambda: load(""), r"path must be a non-empty"),
        Case("load", "missing file", lambda: load(os.path.join(_workdir(), "missing.npz")), r"No such file",
             expect=(OSError,)),
        Case("load", "a directory", lambda: load(_workdir()), r"directory", expect=(OSError,)),
        Case("load", "empty file", lambda: load(_file("empty.npz", b"")), r"cannot load.*empty"),
        Case("load", "text file", lambda: load(_file("text.npz", b"hello\n")), r"cannot load.*not a fastbp"),
        Case("load", ".npy file", lambda: load(_npy_file()), r"cannot load.*\.npy"),
        Case("load", "truncated file", lambda: load(_file("cut.npz", _valid_bytes()[:300])),
             r"cannot load.*(truncated|corrupted)"),
        Case("load", "an npz of other arrays", lambda: load(_other_npz()), r"cannot load.*not a fastbp"),
        Case("load", "an npz with a pickled object array", lambda: load(_object_npz()), r"cannot load"),
        Case("load", "a newer format version", lambda: load(_crafted(fastbp_format=np.int64(99))),
             r"cannot load.*newer"),
        Case("load", "bad checksum", lambda: load(_bad_checksum()), r"cannot load.*checksum"),
        Case("load", "crafted: zero width", lambda: load(_crafted(sizes=np.array([3, 0, 2]))),
             r"cannot load.*width"),
        Case("load", "crafted: unknown activation", lambda: load(_crafted(activations=np.array(["swish"]))),
             r"cannot load.*activation"),
        Case("load", "crafted: float sizes", lambda: load(_crafted(sizes=np.array([3.0, 4.0, 2.0]))),
             r"cannot load.*sizes"),
        Case("load", "crafted: dtype float16", lambda: load(_crafted(dtype=np.array("float16"))),
             r"cannot load.*dtype"),
        Case("load", "crafted: NaN parameters",
             lambda: load(_crafted(parameters=np.full_like(_saved_arrays()["parameters"], NAN))),
             r"cannot load.*NaN"),
        Case("load", "crafted: parameters of the wrong length",
             lambda: load(_crafted(parameters=np.zeros(5))), r"cannot load.*parameters"),
        Case("load", "crafted: negative counters", lambda: load(_crafted(counters=np.array([-1, 0, 0]))),
             r"cannot load.*counters"),
        Case("load", "crafted: unknown optimizer", lambda: load(_crafted(optimizer=np.array("Foo"))),
             r"cannot load.*optimizer"),
        Case("load", "crafted: negative learning rate", lambda: load(_crafted(optimizer_values=np.where(
            _saved_arrays()["optimizer_names"] == "lr", -1.0, _saved_arrays()["optimizer_values"]))),
            r"cannot load.*lr"),
        Case("load", "crafted: unknown schedule code", lambda: load(_crafted(optimizer_schedule=[9.0, 0, 0])),
             r"cannot load.*schedule"),
        Case("load", "crafted: NaN schedule code", lambda: load(_crafted(optimizer_schedule=[NAN, 0, 0])),
             r"cannot load.*schedule"),
        Case("load", "crafted: infinite step_size", lambda: load(_crafted(optimizer_schedule=[1.0, INF, 0.1])),
             r"cannot load.*schedule"),
        Case("load", "crafted: NaN optimizer state", lambda: load(_crafted(
            optimizer_state=np.full_like(_saved_arrays()["optimizer_state"], NAN))), r"cannot load.*state"),
        Case("load", "crafted: sizes overflowing int64", lambda: load(_crafted(sizes=np.array([2**40, 2**40, 2]))),
             r"cannot load", isolate=True),
        Case("load", "crafted: sizes of 8 TiB", lambda: load(_crafted(sizes=np.array([2**20, 2**20, 2]))),
             r"cannot load", isolate=True),
        Case("load", "crafted: sizes of 8 GiB", lambda: load(_crafted(sizes=np.array([2**15, 2**15, 2]))),
             r"cannot load", isolate=True),
        Case("Network.save", "path=123", lambda: ce_net().save(123), r"path must be a str"),
        Case("Network.save", "path=None", lambda: ce_net().save(None), r"path must be a str"),
        Case("Network.save", "path=''", lambda: ce_net().save(""), r"path must be a non-empty"),
        Case("Network.save", "into a missing directory",
             lambda: ce_net().save(os.path.join(_workdir(), "no", "such", "dir.npz")), r"No such file",
             expect=(OSError,)),
    ]
    return cases


def _npy_file():
    path = os.path.join(_workdir(), "array.npy")
    np.save(path, np.zeros(3))
    return path


def _other_npz():
    path = os.path.join(_workdir(), "other.npz")
    np.savez(path, a=np.zeros(3))
    return path


def _object_npz():
    path = os.path.join(_workdir(), "object.npz")
    arrays = dict(_saved_arrays())
    arrays["parameters"] = np.array([{"x": 1}], dtype=object)
    np.savez(path, **arrays)
    return path


def _bad_checksum():
    arrays = dict(_saved_arrays())
    arrays["parameters"] = arrays["parameters"] + 1.0
    path = os.path.join(_workdir(), "bad-checksum.npz")
    np.savez(path, **arrays)
    return path


# ------------------------------------------------------------- estimators
def _sk():
    from fastbp import sklearn

    return sklearn


SK = dict(hidden_layer_sizes=(4,), max_iter=2, random_state=0)
Y_CLASSES = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2])
X12 = np.random.default_rng(7).normal(size=(12, 3))
Y_REG = np.random.default_rng(8).normal(size=12)


def _estimator(kind, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return getattr(_sk(), kind)(**{**SK, **params})


@functools.lru_cache(maxsize=None)
def _fitted(kind):
    y = Y_CLASSES if kind == "MLPClassifier" else Y_REG
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _estimator(kind).fit(X12, y)


def estimator_cases():
    cases = []
    bad_X = [
        ("X 1-D", X12[:, 0], r"Expected 2D array"),
        ("X 3-D", X12[:, :, None], r"dim 3"),
        ("X empty", X12[:0], r"0 sample"),
        ("X NaN", with_value(X12, (0, 0), NAN), r"Input X contains NaN"),
        ("X inf", with_value(X12, (0, 0), INF), r"Input X contains infinity"),
        ("X complex", X12.astype(complex), r"Complex data not supported"),
        ("X non-numeric str", np.full((12, 3), "a"), r"could not convert string to float"),
        ("X object with None", with_value(X12, (0, 0), None, object), r"Input X contains NaN"),
        ("X ragged list", [[0.0, 1.0, 2.0]] * 11 + [[0.0]], r"inhomogeneous|sequence"),
    ]
    for kind in ("MLPClassifier", "MLPRegressor"):
        y = Y_CLASSES if kind == "MLPClassifier" else Y_REG

        def fit(kind=kind, y=y, X=X12, sample_weight=None, **params):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return _estimator(kind, **params).fit(X, y, sample_weight=sample_weight)

        def pfit(Xa, ya, kind=kind):
            est = _estimator(kind)
            extra = {"classes": [0, 1, 2]} if kind == "MLPClassifier" else {}
            return est.partial_fit(Xa, ya, **extra)

        for name, value, m in bad_X:
            cases.append(Case(f"{kind}.fit", name, functools.partial(fit, X=value), m))
            if name not in ("X ragged list",):
                cases.append(Case(f"{kind}.partial_fit", name, functools.partial(pfit, value, y), m))
            cases.append(Case(f"{kind}.predict", name, lambda v=value, k=kind: _fitted(k).predict(v), m))
            cases.append(Case(f"{kind}.score", name, lambda v=value, k=kind, y=y: _fitted(k).score(v, y), m))
        wrong_features = X12[:, :2]
        cases += [
            Case(f"{kind}.predict", "X wrong feature count", lambda k=kind: _fitted(k).predict(wrong_features),
                 r"X has 2 features.*expecting 3"),
            Case(f"{kind}.score", "X wrong feature count", lambda k=kind, y=y: _fitted(k).score(wrong_features, y),
                 r"X has 2 features.*expecting 3"),
            Case(f"{kind}.partial_fit", "X wrong feature count on a second call",
                 lambda k=kind, y=y: pfit(X12, y, k).partial_fit(wrong_features, y),
                 r"X has 2 features.*expecting 3"),
            Case(f"{kind}.predict", "not fitted", lambda k=kind: _estimator(k).predict(X12), r"not fitted"),
            Case(f"{kind}.score", "not fitted", lambda k=kind, y=y: _estimator(k).score(X12, y), r"not fitted"),
            Case(f"{kind}.score", "y of the wrong length", lambda k=kind, y=y: _fitted(k).score(X12, y[:5]),
                 r"inconsistent numbers of samples"),
            Case(f"{kind}.fit", "y of the wrong length", functools.partial(fit, y=y[:5]),
                 r"inconsistent numbers of samples"),
            Case(f"{kind}.fit", "y NaN", functools.partial(fit, y=with_value(y, 0, NAN)), r"Input y contains NaN"),
            Case(f"{kind}.fit", "y complex", functools.partial(fit, y=y.astype(complex)), r"Complex data"),
            Case(f"{kind}.fit", "y 3-D", functools.partial(fit, y=y[:, None, None]), r"dim 3|multioutput|shape"),
            Case(f"{kind}.fit", "dtype='banana'", functools.partial(fit, dtype="banana"),
                 r"dtype must be 'float32' or 'float64'"),
        ]
        for name, w, m in [
            ("sample_weight negative", -np.ones(12), r"sample_weight.*>= 0"),
            ("sample_weight wrong length", np.ones(5), r"sample_weight.*5"),
            ("sample_weight NaN", with_value(np.ones(12), 0, NAN), r"sample_weight.*finite"),
            ("sample_weight str", ["a"] * 12, r"sample_weight.*real numbers"),
            ("sample_weight all zero", np.zeros(12), r"sample_weight.*zero"),
            ("sample_weight 2-D", np.ones((12, 1)), r"sample_weight.*1-D"),
        ]:
            cases.append(Case(f"{kind}.fit", name, functools.partial(fit, sample_weight=w), m))
        for name, params, m in [
            ("learning_rate_init=0", dict(learning_rate_init=0), r"learning_rate_init must be > 0"),
            ("learning_rate_init=-1", dict(learning_rate_init=-1), r"learning_rate_init must be > 0"),
            ("learning_rate_init=NaN", dict(learning_rate_init=NAN), r"learning_rate_init"),
            ("learning_rate_init='fast'", dict(learning_rate_init="fast"), r"learning_rate_init.*real number"),
            ("batch_size=0", dict(batch_size=0), r"batch_size must be >= 1"),
            ("batch_size=-1", dict(batch_size=-1), r"batch_size must be >= 1"),
            ("batch_size='big'", dict(batch_size="big"), r"batch_size must be an int"),
            ("batch_size=1.5", dict(batch_size=1.5), r"batch_size must be an int"),
            ("max_iter=0", dict(max_iter=0), r"max_iter must be >= 1"),
            ("max_iter=-1", dict(max_iter=-1), r"max_iter must be >= 1"),
            ("max_iter=1.5", dict(max_iter=1.5), r"max_iter must be an int"),
            ("hidden_layer_sizes=(0,)", dict(hidden_layer_sizes=(0,)), r"hidden_layer_sizes"),
            ("hidden_layer_sizes=(-1,)", dict(hidden_layer_sizes=(-1,)), r"hidden_layer_sizes"),
            ("hidden_layer_sizes='abc'", dict(hidden_layer_sizes="abc"), r"hidden_layer_sizes"),
            ("hidden_layer_sizes=(2.5,)", dict(hidden_layer_sizes=(2.5,)), r"hidden_layer_sizes"),
            ("hidden_layer_sizes=None", dict(hidden_layer_sizes=None), r"hidden_layer_sizes"),
            ("activation='softmax'", dict(activation="softmax"), r"activation must be one of"),
            ("activation='swish'", dict(activation="swish"), r"activation must be one of"),
            ("solver='lbfgs'", dict(solver="lbfgs"), r"solver must be one of"),
            ("solver='foo'", dict(solver="foo"), r"solver must be one of"),
            ("alpha=-1", dict(alpha=-1), r"alpha must be >= 0"),
            ("alpha=NaN", dict(alpha=NAN), r"alpha"),
            ("tol=-1", dict(tol=-1), r"tol must be >= 0"),
            ("momentum=1.5", dict(momentum=1.5, solver="sgd"), r"momentum"),
            ("beta_1=1.0", dict(beta_1=1.0), r"beta_1"),
            ("beta_2=-0.1", dict(beta_2=-0.1), r"beta_2"),
            ("epsilon=0", dict(epsilon=0), r"epsilon must be > 0"),
            ("validation_fraction=0", dict(validation_fraction=0, early_stopping=True), r"validation_fraction"),
            ("validation_fraction=1", dict(validation_fraction=1.0, early_stopping=True), r"validation_fraction"),
            ("n_iter_no_change=0", dict(n_iter_no_change=0), r"n_iter_no_change must be >= 1"),
            ("dtype='int32'", dict(dtype="int32"), r"dtype must be 'float32' or 'float64'"),
            ("dtype='float16'", dict(dtype="float16"), r"dtype must be 'float32' or 'float64'"),
            ("n_threads=0", dict(n_threads=0), r"n_threads must be >= 1"),
            ("n_threads=10**6", dict(n_threads=10**6), r"n_threads must be between 1"),
            ("n_threads='2'", dict(n_threads="2"), r"n_threads must be an int"),
            ("shuffle='yes'", dict(shuffle="yes"), r"shuffle must be a bool"),
            ("early_stopping='yes'", dict(early_stopping="yes"), r"early_stopping must be a bool"),
            ("warm_start='yes'", dict(warm_start="yes"), r"warm_start must be a bool"),
            ("verbose='yes'", dict(verbose="yes"), r"verbose must be a bool or an int"),
            ("random_state='abc'", dict(random_state="abc"), r"abc.*seed"),
        ]:
            cases.append(Case(f"{kind}.fit", name, functools.partial(fit, **params), m))
        cases.append(Case(f"{kind}.partial_fit", "early_stopping=True",
                          lambda k=kind, y=y: _estimator(k, early_stopping=True).partial_fit(
                              X12, y, **({"classes": [0, 1, 2]} if k == "MLPClassifier" else {})),
                          r"partial_fit does not support early_stopping"))
    clf = "MLPClassifier"
    cases += [
        Case(f"{clf}.fit", "y continuous", lambda: _estimator(clf).fit(X12, Y_REG), r"Unknown label type"),
        Case(f"{clf}.fit", "y a single class", lambda: _estimator(clf).fit(X12, np.zeros(12)), r"2 classes"),
        Case(f"{clf}.fit", "y object with None", lambda: _estimator(clf).fit(X12, with_value(Y_CLASSES, 0, None,
                                                                                            object)),
             r"Unknown label type"),
        Case(f"{clf}.fit", "sample_weight leaving one class", lambda: _estimator(clf).fit(
            X12[:4], [0, 1, 0, 1], sample_weight=[1, 0, 1, 0]), r"one class"),
        Case(f"{clf}.partial_fit", "first call without classes", lambda: _estimator(clf).partial_fit(X12, Y_CLASSES),
             r"classes must be passed"),
        Case(f"{clf}.partial_fit", "y label not in classes",
             lambda: _estimator(clf).partial_fit(X12, Y_CLASSES, classes=[0, 1]), r"not in classes"),
        Case(f"{clf}.partial_fit", "new label on a second call",
             lambda: _estimator(clf).partial_fit(X12, Y_CLASSES, classes=[0, 1, 2]).partial_fit(X12, Y_CLASSES + 1),
             r"labels not seen"),
        Case(f"{clf}.predict_proba", "X wrong feature count",
             lambda: _fitted(clf).predict_proba(X12[:, :2]), r"X has 2 features"),
        Case(f"{clf}.predict_proba", "X NaN", lambda: _fitted(clf).predict_proba(with_value(X12, (0, 0), NAN)),
             r"Input X contains NaN"),
        Case("MLPRegressor.fit", "huge finite X (1e200)", lambda: _estimator("MLPRegressor").fit(X12 * 1e200, Y_REG),
             r"non-finite|diverg|large"),
        Case("MLPRegressor.fit", "y non-numeric str", lambda: _estimator("MLPRegressor").fit(
            X12, np.full(12, "a")), r"could not convert|numeric"),
        Case("MLPRegressor.partial_fit", "y with more columns on a second call", lambda: _estimator(
            "MLPRegressor").partial_fit(X12, Y_REG).partial_fit(X12, np.c_[Y_REG, Y_REG]), r"y has 2 outputs"),
    ]
    return cases


# --------------------------------------------------------------------- CLI
class CLIRejected(ValueError):
    """The CLI answered as intended: exit status 2 and one stderr line."""


def cli(argv):
    """Run ``fastbp.cli.main(argv)``; translate the outcome for the matrix."""
    from fastbp import cli as _cli

    out, err = _stdio.StringIO(), _stdio.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = _cli.main(list(argv), out=out, err=err)
        except SystemExit as exc:
            status = exc.code
    lines = [line for line in err.getvalue().splitlines() if line.strip()]
    if status == 2 and len(lines) == 1:
        raise CLIRejected(lines[0])
    raise AssertionError(f"exit status {status!r} with {len(lines)} stderr line(s): {err.getvalue()[-500:]!r}")


def _csv(name, text):
    return _file(name, text.encode())


def _model_file():
    path = os.path.join(_workdir(), "cli-model.npz")
    ce_net().save(path)
    return path


def cli_cases():
    data = lambda: _csv("data.csv", "a,b,c,y\n" + "".join(f"{i % 3},{i % 2},{i},{i % 2}\n" for i in range(8)))
    c = []
    for name, argv, m in [
        ("no command", [], r"command"),
        ("unknown command", ["bogus"], r"bogus"),
        ("unknown option", ["--no-such-option"], r"no-such-option|command"),
        ("demo --epochs abc", ["demo", "--epochs", "abc"], r"--epochs"),
        ("demo --epochs -1", ["demo", "--epochs", "-1"], r"--epochs"),
        ("demo --batch-size 0", ["demo", "--batch-size", "0"], r"--batch-size"),
        ("demo --threads 0", ["demo", "--threads", "0"], r"--threads"),
        ("demo --threads 100000", ["demo", "--threads", "100000"], r"--threads|n_threads|threads"),
        ("demo --bogus", ["demo", "--bogus"], r"--bogus"),
        ("info --bogus", ["info", "--bogus"], r"--bogus"),
    ]:
        c.append(Case("cli", name, functools.partial(cli, argv), m, expect=(CLIRejected,)))
    # train / predict / evaluate: file and argument errors.
    for name, argv, m in [
        ("train: missing data file", lambda: ["train", os.path.join(_workdir(), "nope.csv")], r"nope\.csv"),
        ("train: empty data file", lambda: ["train", _csv("empty.csv", "")], r"empty|no data|rows"),
        ("train: non-numeric feature", lambda: ["train", _csv("text.csv", "a,y\nx,1\ny,0\n")], r"numeric|'x'|text"),
        ("train: ragged rows", lambda: ["train", _csv("ragged.csv", "a,b,y\n1,2,0\n1,1\n")],
         r"row|line|columns|fields"),
        ("train: NaN feature", lambda: ["train", _csv("nan.csv", "a,y\nnan,1\n1,0\n2,1\n")], r"NaN|nan|finite"),
        ("train: --epochs -1", lambda: ["train", data(), "--epochs", "-1"], r"--epochs"),
        ("train: --batch-size 0", lambda: ["train", data(), "--batch-size", "0"], r"--batch-size"),
        ("train: --lr 0", lambda: ["train", data(), "--lr", "0"], r"--lr"),
        ("train: --lr -1", lambda: ["train", data(), "--lr", "-1"], r"--lr"),
        ("train: --lr nan", lambda: ["train", data(), "--lr", "nan"], r"--lr"),
        ("train: --momentum 1.5", lambda: ["train", data(), "--momentum", "1.5"], r"--momentum"),
        ("train: --layers 0", lambda: ["train", data(), "--layers", "0"], r"--layers"),
        ("train: --layers abc", lambda: ["train", data(), "--layers", "abc"], r"--layers"),
        ("train: --activation swish", lambda: ["train", data(), "--activation", "swish"], r"--activation|swish"),
        ("train: --optimizer foo", lambda: ["train", data(), "--optimizer", "foo"], r"--optimizer"),
        ("train: --dtype int32", lambda: ["train", data(), "--dtype", "int32"], r"--dtype"),
        ("train: --validation-split 1.5", lambda: ["train", data(), "--validation-split", "1.5"],
         r"--validation-split"),
        ("train: --target of a missing column", lambda: ["train", data(), "--target", "zz"], r"zz"),
        ("train: --resume of a missing model", lambda: ["train", data(), "--resume",
                                                        os.path.join(_workdir(), "none.npz")], r"none\.npz"),
        ("train: --out into a missing directory", lambda: ["train", data(), "--epochs", "1", "--out",
                                                           os.path.join(_workdir(), "no", "dir", "m.npz")],
         r"m\.npz|no/dir|directory"),
        ("predict: missing model", lambda: ["predict", os.path.join(_workdir(), "none.npz"), data()],
         r"none\.npz"),
        ("predict: model is a text file", lambda: ["predict", _csv("fake.npz", "hello"), data()], r"fake\.npz"),
        ("predict: data with the wrong feature count", lambda: ["predict", _model_file(), _csv(
            "two.csv", "a,b\n1,2\n3,4\n")], r"feature|column|expects"),
        ("predict: --threads 0", lambda: ["predict", _model_file(), data(), "--threads", "0"], r"--threads"),
        ("evaluate: missing data", lambda: ["evaluate", _model_file(), os.path.join(_workdir(), "no.csv")],
         r"no\.csv"),
        ("evaluate: labels the model does not know", lambda: ["evaluate", _model_file(), _csv(
            "labels.csv", "a,b,c,y\n1,2,3,7\n1,2,3,0\n")], r"label|class|7"),
    ]:
        c.append(Case("cli", name, lambda argv=argv: cli(argv()), m, expect=(CLIRejected,)))
    c.append(Case("python -m fastbp", "unknown command (a real process)", _cli_process, r"fastbp: error",
                  expect=(CLIRejected,)))
    return c


def _cli_process():
    proc = subprocess.run([sys.executable, "-m", "fastbp", "bogus"], capture_output=True, text=True,
                          timeout=CASE_TIMEOUT, cwd=ROOT)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    if proc.returncode == 2 and len(lines) == 1:
        raise CLIRejected(lines[0])
    raise AssertionError(f"exit status {proc.returncode} with stderr {proc.stderr[-500:]!r}")


# ------------------------------------------------------------------ runner
def build_cases():
    cases = (data_cases() + fit_option_cases() + constructor_cases() + optimizer_cases() + gradcheck_cases()
             + load_cases() + estimator_cases() + cli_cases())
    return cases


def run_case(case):
    """Run one case in this process; return ``(status, detail)``.

    status: ``ok`` (intended error, message matches), ``wrong message``,
    ``wrong error`` (another exception type), ``no error``.
    """
    faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)  # a hang kills the run loudly
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = case.call()
    except case.expect as exc:
        message = str(exc)
        if case.match and not re.search(case.match, message, re.I | re.S):
            return "wrong message", f"{type(exc).__name__}: {message[:400]}"
        return "ok", f"{type(exc).__name__}: {message[:400]}"
    except Exception as exc:  # noqa: BLE001 - classifying what escaped is the point
        return "wrong error", f"{type(exc).__module__}.{type(exc).__name__}: {str(exc)[:400]}"
    finally:
        faulthandler.cancel_dump_traceback_later()
    return "no error", f"returned {type(result).__name__}"


def run_isolated(case):
    """Run ``case`` in a fresh interpreter with a memory limit and a timeout."""
    code = ("import sys; sys.path.insert(0, {root!r}); "
            "from tests.test_bad_input_matrix import _child; _child({id!r})").format(root=ROOT, id=case.id)
    try:
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=CASE_TIMEOUT, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return "hang", f"no answer within {CASE_TIMEOUT} s"
    if proc.returncode != 0:
        return "crash", f"exit status {proc.returncode}: {proc.stderr[-400:]}"
    status, detail = json.loads(proc.stdout.strip().splitlines()[-1])
    return status, detail


def _child(case_id):
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (ISOLATED_MEMORY, ISOLATED_MEMORY))
    case = next(c for c in build_cases() if c.id == case_id)
    print(json.dumps(run_case(case)))


def outcome(case):
    return run_isolated(case) if case.isolate else run_case(case)


CASES = build_cases()


def _param(case):
    marks = [pytest.mark.xfail(strict=True, reason=case.bug)] if case.bug else []
    return pytest.param(case, id=case.id, marks=marks)


def test_case_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_bad_input(case):
    status, detail = outcome(case)
    assert status == "ok", f"{case.id}: {status}: {detail}"


# ======================================================== what must work
def _readonly(a):
    a = np.array(a, copy=True)
    a.setflags(write=False)
    return a


def _strided(a):
    """A non-contiguous view holding the values of ``a``."""
    a = np.asarray(a)
    big = np.zeros(tuple(2 * n for n in a.shape), dtype=a.dtype)
    view = big[tuple(slice(None, None, 2) for _ in a.shape)]
    view[...] = a
    return view


def _entry_result(entry, make_net, X, Y, w):
    """What ``entry`` returns (or leaves in the network), as an array."""
    net = make_net()
    kw = {} if w is None else {"sample_weight": w}
    if entry == "Network.forward":
        return net.forward(X)
    if entry == "Network.predict":
        return net.predict(X)
    if entry == "Network.loss":
        return np.float64(net.loss(X, Y, **kw))
    if entry == "Network.gradients":
        grads = net.gradients(X, Y, **kw)
        return np.concatenate([np.ravel(a) for g in grads for a in g if a is not None])
    if entry == "Network.fit":
        history = net.fit(X, Y, epochs=2, batch_size=3, optimizer=fastbp.Adam(lr=0.01), **kw)
        return np.concatenate([net.parameters, history.loss])
    if entry == "Network.partial_fit":
        net.partial_fit(X, Y, batch_size=3, optimizer=fastbp.SGD(lr=0.1, momentum=0.9), **kw)
        return net.parameters.copy()
    if entry == "Network.accuracy":
        return np.float64(net.accuracy(X, Y))
    if entry == "gradcheck":
        return np.float64(fastbp.gradcheck(net, X, Y).max_error)
    raise AssertionError(entry)


ALL = tuple(X_ENTRIES) + tuple(XY_ENTRIES)
Y_TAKERS = tuple(XY_ENTRIES)


@dataclasses.dataclass
class Valid:
    """Odd but valid input: ``make()`` gives (X, Y, w) as the user passes them
    and as canonical C-contiguous arrays; both must give identical results."""

    name: str
    make: object
    entries: tuple = ALL
    net: object = ce_net
    bug: str | None = None


def _xyw(Xv, Yv=ONEHOT, wv=W, Xc=X, Yc=ONEHOT, wc=W):
    return (Xv, Yv, wv), (Xc, Yc, wc)


_Xf32 = X.astype(np.float32)
_Xint = np.round(X * 3).astype(np.int64)
VALID = [
    Valid("X Fortran-ordered", lambda: _xyw(np.asfortranarray(X))),
    Valid("X non-contiguous view", lambda: _xyw(_strided(X))),
    Valid("X negative strides", lambda: _xyw(X[::-1].copy()[::-1])),
    Valid("X, Y and sample_weight read-only", lambda: _xyw(_readonly(X), _readonly(ONEHOT), _readonly(W)),
          entries=tuple(e for e in ALL if e != "gradcheck")),
    Valid("X Python list", lambda: _xyw(X.tolist())),
    Valid("X float32 into a float64 network", lambda: _xyw(_Xf32, Xc=_Xf32.astype(np.float64))),
    Valid("X float16 into a float64 network", lambda: _xyw(X.astype(np.float16),
                                                           Xc=X.astype(np.float16).astype(np.float64))),
    Valid("X int64 into a float64 network", lambda: _xyw(_Xint, Xc=_Xint.astype(np.float64))),
    Valid("X uint8 into a float64 network", lambda: _xyw(_Xint.astype(np.uint8) % 7,
                                                         Xc=(_Xint.astype(np.uint8) % 7).astype(np.float64))),
    Valid("X big-endian float64", lambda: _xyw(X.astype(">f8"))),
    Valid("X float64 into a float32 network",
          lambda: _xyw(X, MSE_Y, W, X.astype(np.float32), MSE_Y.astype(np.float32), W.astype(np.float32)),
          # (gradcheck copies the network to float64, so there float64 data stay float64)
          entries=tuple(e for e in ALL if e not in NOT_FOR_MSE + ("gradcheck",)), net=mse_net),
    Valid("Y integer labels (list)", lambda: _xyw(X, LABELS.tolist()), entries=Y_TAKERS),
    Valid("Y int32 labels", lambda: _xyw(X, LABELS.astype(np.int32)), entries=Y_TAKERS),
    Valid("Y uint8 labels", lambda: _xyw(X, LABELS.astype(np.uint8)), entries=Y_TAKERS),
    Valid("Y integral float labels", lambda: _xyw(X, LABELS.astype(float)), entries=Y_TAKERS),
    Valid("Y one-hot list", lambda: _xyw(X, ONEHOT.tolist()), entries=Y_TAKERS),
    Valid("Y one-hot int", lambda: _xyw(X, ONEHOT.astype(int)), entries=Y_TAKERS),
    Valid("Y one-hot float32", lambda: _xyw(X, ONEHOT.astype(np.float32)), entries=Y_TAKERS),
    Valid("Y one-hot Fortran-ordered", lambda: _xyw(X, np.asfortranarray(ONEHOT)), entries=Y_TAKERS),
    Valid("Y one-hot non-contiguous view", lambda: _xyw(X, _strided(ONEHOT)), entries=Y_TAKERS),
    Valid("Y 1-D for one sigmoid output", lambda: _xyw(X, BCE_Y, W, X, BCE_Y.reshape(-1, 1)),
          entries=Y_TAKERS, net=bce_net),
    Valid("Y int for mse", lambda: _xyw(X, np.round(MSE_Y).astype(int), W, X.astype(np.float32),
                                        np.round(MSE_Y).astype(np.float32), W.astype(np.float32)),
          entries=tuple(e for e in Y_TAKERS if e not in NOT_FOR_MSE + ("gradcheck",)), net=mse_net),
    Valid("sample_weight list", lambda: _xyw(X, ONEHOT, W.tolist()), entries=WEIGHTED),
    Valid("sample_weight int", lambda: _xyw(X, ONEHOT, [1, 2, 1, 3], wc=np.array([1.0, 2.0, 1.0, 3.0])),
          entries=WEIGHTED),
    Valid("sample_weight non-contiguous view", lambda: _xyw(X, ONEHOT, _strided(W)), entries=WEIGHTED),
    Valid("sample_weight float32", lambda: _xyw(X, ONEHOT, W.astype(np.float32)), entries=WEIGHTED),
    Valid("sample_weight scalar", lambda: _xyw(X, ONEHOT, 2.0, wc=np.full(4, 2.0)), entries=WEIGHTED),
    Valid("single sample (1-D X, int label)", lambda: _xyw(X[0], LABELS[0], None, X[:1], ONEHOT[:1], None)),
    Valid("single sample (1-D X, one-hot row)", lambda: _xyw(X[0], ONEHOT[0], None, X[:1], ONEHOT[:1], None),
          entries=Y_TAKERS),
    Valid("single sample as a list", lambda: _xyw(X[0].tolist(), int(LABELS[0]), None, X[:1], ONEHOT[:1], None)),
    Valid("single sample, 2-D (1, 3)", lambda: _xyw(X[:1], LABELS[:1], None, X[:1], ONEHOT[:1], None)),
]


def valid_params():
    for v in VALID:
        for entry in v.entries:
            marks = [pytest.mark.xfail(strict=True, reason=v.bug)] if v.bug else []
            yield pytest.param(v, entry, id=f"{entry}: {v.name}", marks=marks)


def _guarded(function, *args):
    faulthandler.dump_traceback_later(CASE_TIMEOUT, exit=True)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return function(*args)
    finally:
        faulthandler.cancel_dump_traceback_later()


@pytest.mark.parametrize("valid,entry", list(valid_params()))
def test_odd_but_valid_input_works_like_canonical(valid, entry):
    (Xv, Yv, wv), (Xc, Yc, wc) = valid.make()
    takes_w = entry in WEIGHTED
    got = _guarded(_entry_result, entry, valid.net, Xv, Yv, wv if takes_w else None)
    want = _guarded(_entry_result, entry, valid.net, Xc, Yc, wc if takes_w else None)
    assert np.all(np.isfinite(want))
    np.testing.assert_array_equal(np.ravel(got), np.ravel(want))  # bit for bit


NUMPY_SCALARS = [
    ("Network(seed=np.int64)", lambda: fastbp.Network([3, 2], seed=np.int64(3))),
    ("Network(sizes=np.int32 array)", lambda: fastbp.Network(np.array([3, 4, 2], np.int32))),
    ("Network(sizes=tuple)", lambda: fastbp.Network((3, 4, 2))),
    ("Network(activation=tuple)", lambda: fastbp.Network([3, 4, 4, 2], activation=("relu", "tanh"))),
    ("Network(leaky_slope=np.float32)", lambda: fastbp.Network([3, 4, 2], leaky_slope=np.float32(0.1))),
    ("Network(dtype='float32')", lambda: fastbp.Network([3, 2], dtype="float32")),
    ("Network(dtype=np.dtype)", lambda: fastbp.Network([3, 2], dtype=np.dtype("float64"))),
    ("Network(bias=np.bool_)", lambda: fastbp.Network([3, 2], bias=np.True_)),
    ("fit(epochs=np.int64, batch_size=np.int32)",
     lambda: _fit(ce_net(), X, LABELS, epochs=np.int64(1), batch_size=np.int32(2))),
    ("fit(n_threads=np.int64)", lambda: _fit(ce_net(), X, LABELS, n_threads=np.int64(1))),
    ("fit(shuffle=np.bool_)", lambda: _fit(ce_net(), X, LABELS, shuffle=np.False_)),
    ("fit(validation_split=np.float32)", lambda: _fit(ce_net(), X, LABELS, validation_split=np.float32(0.5))),
    ("fit(early_stopping=np.int64)", lambda: _fit(ce_net(), X, LABELS, epochs=2, early_stopping=np.int64(1))),
    ("fit(verbose=np.int64)", lambda: _fit(ce_net(), X, LABELS, verbose=np.int64(0))),
    ("fit(validation_data=list pair)", lambda: _fit(ce_net(), X, LABELS, validation_data=[X.tolist(), LABELS])),
    ("fit(callbacks=tuple)", lambda: _fit(ce_net(), X, LABELS, callbacks=(lambda *a: None,))),
    ("SGD(lr=np.float32, momentum=np.float64, nesterov=np.bool_)",
     lambda: fastbp.SGD(lr=np.float32(0.1), momentum=np.float64(0.9), nesterov=np.True_)),
    ("SGD(lr=1) (an int)", lambda: fastbp.SGD(lr=1)),
    ("Adam(beta1=np.float32)", lambda: fastbp.Adam(beta1=np.float32(0.8))),
    ("StepDecay(np.int64, gamma=np.float32)", lambda: fastbp.StepDecay(np.int64(2), gamma=np.float32(0.5))),
    ("Cosine(np.int32, lr_min=np.float64)", lambda: fastbp.Cosine(np.int32(5), lr_min=np.float64(0.0))),
    ("Exponential(gamma=1) (an int)", lambda: fastbp.Exponential(1)),
    ("Schedule(np.float32 lr, np.int64 epoch)", lambda: fastbp.StepDecay(2)(np.float32(0.1), np.int64(3))),
    ("gradcheck(epsilon=np.float64, max_checks=np.int64, seed=np.int64)",
     lambda: fastbp.gradcheck(ce_net(), X, LABELS, epsilon=np.float64(1e-6), max_checks=np.int64(2),
                              seed=np.int64(1))),
    ("threads(np.int64)", lambda: _enter_threads(np.int64(1))),
]


def _enter_threads(n):
    with fastbp.threads(n):
        pass


@pytest.mark.parametrize("name,call", NUMPY_SCALARS, ids=[n for n, _ in NUMPY_SCALARS])
def test_numpy_scalars_and_sequences_are_accepted_where_python_ones_are(name, call):
    _guarded(call)


def _fit_estimator(kind, Xa, ya, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _estimator(kind, **params).fit(Xa, ya)


SK_VALID = [
    ("X Python list", lambda: X12.tolist()),
    ("X Fortran-ordered", lambda: np.asfortranarray(X12)),
    ("X non-contiguous view", lambda: _strided(X12)),
    ("X read-only", lambda: _readonly(X12)),
    ("X float32", lambda: X12.astype(np.float32)),
    ("X int", lambda: np.round(X12 * 3).astype(int)),
]


@pytest.mark.parametrize("kind", ["MLPClassifier", "MLPRegressor"])
@pytest.mark.parametrize("name,make", SK_VALID, ids=[n for n, _ in SK_VALID])
def test_estimators_take_odd_but_valid_X(kind, name, make):
    y = Y_CLASSES if kind == "MLPClassifier" else Y_REG
    Xv = make()
    Xc = np.array(Xv, dtype=np.float64)
    got = _guarded(_fit_estimator, kind, Xv, y)
    want = _guarded(_fit_estimator, kind, Xc, y)
    np.testing.assert_array_equal(got.network_.parameters, want.network_.parameters)
    np.testing.assert_array_equal(got.predict(Xv), want.predict(Xc))
    assert got.score(Xv, y) == want.score(Xc, y)
    # One sample, as a (1, n_features) row, predicts what it does in a batch (up to
    # rounding: BLAS sums a single row in another order than a block of rows).
    np.testing.assert_allclose(want.predict(Xc[:1]), want.predict(Xc)[:1], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name,y", [
    ("list", Y_CLASSES.tolist()),
    ("str labels", np.array(["a", "b", "c"])[Y_CLASSES]),
    ("integral floats", Y_CLASSES.astype(float)),
    ("int32", Y_CLASSES.astype(np.int32)),
])
def test_classifier_takes_labels_of_any_kind(name, y):
    got = _guarded(_fit_estimator, "MLPClassifier", X12, y)
    want = _guarded(_fit_estimator, "MLPClassifier", X12, Y_CLASSES)
    np.testing.assert_array_equal(got.network_.parameters, want.network_.parameters)
    assert list(got.predict(X12)) == [np.asarray(y)[list(Y_CLASSES).index(c)] if False else got.classes_[c]
                                      for c in want.predict(X12)]


def test_estimator_partial_fit_takes_lists():
    got = _estimator("MLPRegressor").partial_fit(X12.tolist(), Y_REG.tolist())
    want = _estimator("MLPRegressor").partial_fit(X12, Y_REG)
    np.testing.assert_array_equal(got.network_.parameters, want.network_.parameters)


def test_load_takes_pathlib_and_str(tmp_path):
    import pathlib

    net = ce_net()
    net.save(tmp_path / "m.npz")
    a = fastbp.load(pathlib.Path(tmp_path / "m.npz"))
    b = fastbp.load(str(tmp_path / "m.npz"))
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.parameters, net.parameters)


def summary(cases=None):
    """Run every case; return the text table of the outcomes."""
    cases = CASES if cases is None else cases
    rows = {}
    failures = []
    for case in cases:
        status, detail = outcome(case)
        counts = rows.setdefault(case.entry, {"cases": 0, "ok": 0, "known bug": 0, "other": 0})
        counts["cases"] += 1
        if status == "ok":
            counts["ok"] += 1
        else:
            counts["known bug" if case.bug else "other"] += 1
            failures.append((case, status, detail))
    lines = [f"{'entry point':<28}{'cases':>7}{'ok':>6}{'bug':>6}{'other':>7}"]
    for entry, c in rows.items():
        lines.append(f"{entry:<28}{c['cases']:>7}{c['ok']:>6}{c['known bug']:>6}{c['other']:>7}")
    total = {k: sum(c[k] for c in rows.values()) for k in ("cases", "ok", "known bug", "other")}
    lines.append(f"{'total':<28}{total['cases']:>7}{total['ok']:>6}{total['known bug']:>6}{total['other']:>7}")
    lines.append("")
    for case, status, detail in failures:
        lines.append(f"[{'known bug' if case.bug else 'NEW'}] {case.id}: {status}: {detail}")
    return "\n".join(lines)


if __name__ == "__main__":
    print(summary())
