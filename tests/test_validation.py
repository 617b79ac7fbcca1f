"""Bad input gets a clear ValueError/TypeError naming the problem."""
import numpy as np
import pytest

import fastbp


@pytest.fixture(scope="module")
def net():
    return fastbp.Network([3, 4, 2], output="softmax", loss="cross_entropy", dtype=np.float64, seed=0)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(sizes=[3]), ValueError, "at least an input and an output"),
    (dict(sizes=[3, 0, 2]), ValueError, ">= 1"),
    (dict(sizes=[3, 2.5, 2]), TypeError, "ints"),
    (dict(sizes=3), TypeError, "sequence of ints"),
    (dict(sizes=[3, 4, 2], activation="swish"), ValueError, "activation must be one of"),
    (dict(sizes=[3, 4, 2], activation="softmax"), ValueError, "activation must be one of"),
    (dict(sizes=[3, 4, 4, 2], activation=["relu"]), ValueError, "one name per hidden layer"),
    (dict(sizes=[3, 4, 2], output="relu"), ValueError, "output must be one of"),
    (dict(sizes=[3, 4, 2], loss="hinge"), ValueError, "loss must be one of"),
    (dict(sizes=[3, 4, 2], loss="cross_entropy", output="sigmoid"), ValueError, "needs output='softmax'"),
    (dict(sizes=[3, 4, 2], loss="binary_cross_entropy"), ValueError, "needs output='sigmoid'"),
    (dict(sizes=[3, 4, 2], dtype=np.int32), ValueError, "float32 or np.float64"),
    (dict(sizes=[3, 4, 2], dtype="banana"), TypeError, "dtype"),
    (dict(sizes=[3, 4, 2], bias="yes"), TypeError, "bias must be a bool"),
    (dict(sizes=[3, 4, 2], weights=[np.zeros((4, 3))]), ValueError, "2 arrays"),
    (dict(sizes=[3, 4, 2], weights=[np.zeros((3, 4)), np.zeros((2, 4))]), ValueError, r"weights\[0\] must have shape \(4, 3\)"),
    (dict(sizes=[3, 4, 2], weights=[np.zeros((4, 3)), np.full((2, 4), np.nan)]), ValueError, "NaN"),
    (dict(sizes=[3, 4, 2], weights=[np.zeros((4, 3), complex), np.zeros((2, 4))]), TypeError, "complex"),
    (dict(sizes=[3, 4, 2], weights=[np.zeros((4, 3)), np.zeros((2, 4))], biases=[np.zeros(4), np.zeros(3)]),
     ValueError, r"biases\[1\] must have shape \(2,\)"),
    (dict(sizes=[3, 4, 2], bias=False, weights=[np.zeros((4, 3)), np.zeros((2, 4))], biases=[np.zeros(4), np.zeros(2)]),
     ValueError, "bias=False"),
    (dict(sizes=[3, 4, 2], biases=[np.zeros(4), np.zeros(2)]), ValueError, "without weights"),
    (dict(sizes=[3, 4, 2], leaky_slope=-1), ValueError, "leaky_slope"),
])
def test_constructor_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastbp.Network(**kwargs)


@pytest.mark.parametrize("X,error,match", [
    (np.zeros((2, 5)), ValueError, "5 features per sample, the network expects 3"),
    (np.zeros((0, 3)), ValueError, "empty"),
    (np.zeros((2, 3, 1)), ValueError, "2-D"),
    (np.array([[1.0, np.nan, 0.0]]), ValueError, "NaN or infinity"),
    (np.array([[1.0, np.inf, 0.0]]), ValueError, "NaN or infinity"),
    (np.zeros((2, 3), dtype=bool), TypeError, "bool"),
    (np.zeros((2, 3), dtype=complex), TypeError, "complex"),
    (np.array([["a", "b", "c"]]), TypeError, "str"),
    (np.array([[1, None, 2]], dtype=object), TypeError, "object"),
    ([[1.0, 2.0], [1.0]], TypeError, "array-like"),
])
def test_forward_input_errors(net, X, error, match):
    with pytest.raises(error, match=match):
        net.forward(X)


@pytest.mark.parametrize("Y,error,match", [
    (np.array([0, 1]), ValueError, "2 rows but X has 3 samples"),
    (np.array([0, 1, 2]), ValueError, r"class labels must be in \[0, 1\]"),
    (np.array([0, -1, 1]), ValueError, "class labels"),
    (np.array([0.5, 1, 0]), ValueError, "integer class labels"),
    (np.array([[1.0, 0.0], [0.5, 0.0], [0.0, 1.0]]), ValueError, "summing to 1"),
    (np.array([[1.0, 0.0, 0.0]] * 3), ValueError, "2 columns"),
    (np.array([[np.nan, 1.0]] * 3), ValueError, "NaN"),
    (np.array([True, False, True]), TypeError, "bool"),
    (np.array(["a", "b", "c"]), TypeError, "real numbers"),
])
def test_target_errors(net, Y, error, match):
    X = np.zeros((3, 3))
    for call in (net.loss, net.gradients, lambda X, Y: net.fit(X, Y, epochs=1)):
        with pytest.raises(error, match=match):
            call(X, Y)


def test_bce_and_mse_target_errors():
    bce = fastbp.Network([2, 1], output="sigmoid", loss="binary_cross_entropy", seed=0)
    with pytest.raises(ValueError, match=r"lie in \[0, 1\]"):
        bce.loss(np.zeros((2, 2)), [0.0, 2.0])
    mse = fastbp.Network([2, 3], seed=0)
    with pytest.raises(ValueError, match=r"shape \(2, 3\)"):
        mse.loss(np.zeros((2, 2)), [0.0, 2.0])


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(epochs=-1), ValueError, "epochs must be >= 0"),
    (dict(epochs=1.5), TypeError, "epochs must be an int"),
    (dict(batch_size=0), ValueError, "batch_size must be >= 1"),
    (dict(batch_size=-3), ValueError, "batch_size must be >= 1"),
    (dict(batch_size="32"), TypeError, "batch_size must be an int"),
    (dict(optimizer="adam"), TypeError, "optimizer must be a fastbp optimizer"),
    (dict(n_threads=0), ValueError, "n_threads must be between 1"),
    (dict(n_threads=10_000), ValueError, "n_threads must be between 1"),
    (dict(shuffle="yes"), TypeError, "shuffle must be a bool"),
    (dict(sampling="hard"), ValueError, "sampling must be one of"),
    (dict(validation_split=1.0), ValueError, "validation_split"),
    (dict(validation_data=np.zeros(3)), TypeError, "pair"),
    (dict(callbacks=[3]), TypeError, "callbacks"),
    (dict(early_stopping=0), ValueError, "early_stopping"),
    (dict(sample_weight=[1.0, -1.0, 1.0]), ValueError, ">= 0"),
    (dict(sample_weight=[1.0, 1.0]), ValueError, r"shape \(3,\)"),
    (dict(sample_weight=[0.0, 0.0, 0.0]), ValueError, "zero for every sample"),
])
def test_fit_argument_errors(net, kwargs, error, match):
    before = net.parameters.copy()
    with pytest.raises(error, match=match):
        net.fit(np.zeros((3, 3)), [0, 1, 0], **kwargs)
    np.testing.assert_array_equal(net.parameters, before)


def test_no_numba_error_escapes_for_odd_but_valid_input(net):
    # Python lists, float32 data in a float64 network, integer data: converted.
    out = net.forward([[1, 2, 3]])
    assert out.dtype == np.float64
    np.testing.assert_array_equal(net.forward(np.array([[1, 2, 3]], np.float32)), out)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", [0, 12_345, -1])
def test_large_inputs_with_one_non_finite_value_are_refused(dtype, bad, where):
    """Large inputs go through the compiled check (_validation._all_finite), small ones through NumPy."""
    from fastbp._validation import COMPILED_CHECK_MIN

    n_in = 64
    n = COMPILED_CHECK_MIN // n_in + 3
    X = np.random.default_rng(0).normal(size=(n, n_in)).astype(dtype)
    net = fastbp.Network([n_in, 2], output="identity", loss="mse", dtype=dtype)
    assert net.predict(X).shape == (n, 2)  # all finite: accepted
    flat = X.reshape(-1)
    flat[where] = bad
    row, col = divmod(where % flat.size, n_in)
    with pytest.raises(ValueError, match=rf"X contains NaN or infinity \(first at index \({row}, {col}\)\)"):
        net.predict(X)
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.fit(X, np.zeros((n, 2)), epochs=1)
    with pytest.raises(ValueError, match="NaN or infinity"):
        net.predict(np.asfortranarray(X))


def test_finiteness_check_takes_numpy_s_path_for_other_arrays():
    from fastbp._validation import COMPILED_CHECK_MIN, _all_finite

    X = np.ones((COMPILED_CHECK_MIN // 8, 16))
    X[5, 7] = np.nan
    read_only = X.copy()
    read_only.flags.writeable = False
    for array in (X, np.asfortranarray(X), X[:, 1::2], read_only, X.astype(np.float16), X[4:7]):
        assert not _all_finite(array)
    assert _all_finite(np.ones((COMPILED_CHECK_MIN, 2), np.float32))
