"""fit: convergence, the three regimes of tutorial 000, and what users expect of it."""
import numpy as np
import pytest

import fastbp
from fastbp.datasets import load_digits

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
XOR_Y = np.array([0.0, 1.0, 1.0, 0.0])


def test_xor_converges_with_sigmoid():
    net = fastbp.Network([2, 4, 1], activation="sigmoid", output="sigmoid", loss="binary_cross_entropy",
                         dtype=np.float64, seed=1)
    history = net.fit(XOR_X, XOR_Y, epochs=2000, batch_size=None, optimizer=fastbp.SGD(lr=2.0))
    assert history.loss[-1] < 0.05
    np.testing.assert_array_equal(net.predict(XOR_X), XOR_Y.astype(int))


def test_xor_per_sample_sgd():
    net = fastbp.Network([2, 4, 1], activation="sigmoid", output="sigmoid", loss="binary_cross_entropy",
                         dtype=np.float64, seed=1)
    net.fit(XOR_X, XOR_Y, epochs=1500, batch_size=1, optimizer=fastbp.SGD(lr=1.0))
    np.testing.assert_array_equal(net.predict(XOR_X), XOR_Y.astype(int))


def test_digits_reaches_95_percent():
    X_train, y_train, X_test, y_test = load_digits()
    net = fastbp.Network([64, 64, 10], activation="relu", output="softmax", loss="cross_entropy",
                         dtype=np.float32, seed=0)
    history = net.fit(X_train, y_train, epochs=15, batch_size=32, optimizer=fastbp.Adam(lr=2e-3))
    assert history.loss[-1] < history.loss[0]
    assert net.accuracy(X_test, y_test) >= 0.95


def test_misclassified_sampling_stops_when_nothing_is_wrong():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 2))
    y = (X[:, 0] - 0.5 * X[:, 1] > 0).astype(float)
    net = fastbp.Network([2, 3, 1], activation="tanh", output="sigmoid", loss="binary_cross_entropy",
                         dtype=np.float64, seed=0)
    history = net.fit(X, y, epochs=500, batch_size=1, optimizer=fastbp.SGD(lr=0.5), sampling="misclassified")
    assert history.converged and history.epochs < 500
    assert net.accuracy(X, y) == 1.0
    steps = net.optimizer.steps
    again = net.fit(X, y, epochs=3, batch_size=1, sampling="misclassified")
    assert again.converged and again.epochs == 0 and net.optimizer.steps == steps


def test_misclassified_sampling_only_trains_on_wrong_samples():
    """Samples the network already gets right never move the weights."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 3))
    y = rng.integers(0, 3, size=30)
    net = fastbp.Network([3, 5, 3], activation="relu", output="softmax", loss="cross_entropy",
                         dtype=np.float64, seed=2)
    right = net.predict(X) == y
    assert right.any() and (~right).any()
    before = net.parameters.copy()
    net.fit(X[right], y[right], epochs=2, batch_size=1, sampling="misclassified")
    np.testing.assert_array_equal(net.parameters, before)


@pytest.mark.parametrize("kwargs,message", [
    (dict(batch_size=4), "batch_size must be 1"),
    (dict(batch_size=1, sample_weight=np.ones(4)), "sample_weight"),
])
def test_misclassified_sampling_rejects_bad_settings(kwargs, message):
    net = fastbp.Network([2, 2, 1], output="sigmoid", loss="binary_cross_entropy", seed=0)
    with pytest.raises(ValueError, match=message):
        net.fit(XOR_X, XOR_Y, epochs=1, sampling="misclassified", **kwargs)
    mse = fastbp.Network([2, 2, 1], seed=0)
    with pytest.raises(ValueError, match="classification loss"):
        mse.fit(XOR_X, XOR_Y, epochs=1, batch_size=1, sampling="misclassified")


def test_history_and_validation():
    X_train, y_train, X_test, y_test = load_digits(test_fraction=0.5)
    net = fastbp.Network([64, 32, 10], output="softmax", loss="cross_entropy", seed=0)
    h = net.fit(X_train, y_train, epochs=3, batch_size=64, optimizer=fastbp.Adam(1e-3),
                validation_data=(X_test, y_test))
    assert h.epochs == 3 and set(h.history) == {"loss", "val_loss", "val_accuracy"}
    assert h["val_loss"][-1] == pytest.approx(net.loss(X_test, y_test), rel=1e-5)
    h2 = net.fit(X_train, y_train, epochs=2, validation_split=0.25)
    assert len(h2["val_loss"]) == 2
    with pytest.raises(ValueError, match="not both"):
        net.fit(X_train, y_train, validation_data=(X_test, y_test), validation_split=0.1)


def test_warm_start_continues_training():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    a = fastbp.Network([3, 8, 2], dtype=np.float64, seed=4)
    b = fastbp.Network([3, 8, 2], dtype=np.float64, seed=4)
    a.fit(X, Y, epochs=4, batch_size=8, optimizer=fastbp.Adam(lr=0.01))
    b.fit(X, Y, epochs=2, batch_size=8, optimizer=fastbp.Adam(lr=0.01))
    b.fit(X, Y, epochs=2, batch_size=8)  # same optimizer, same state, same shuffling stream
    np.testing.assert_array_equal(a.parameters, b.parameters)
    assert b.optimizer.steps == 20


def test_partial_fit_is_one_ordered_pass():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
    a = fastbp.Network([3, 4, 1], dtype=np.float64, seed=0)
    b = fastbp.Network([3, 4, 1], dtype=np.float64, seed=0)
    a.partial_fit(X[:5], Y[:5], optimizer=fastbp.SGD(0.1))
    a.partial_fit(X[5:], Y[5:])
    b.fit(X, Y, epochs=1, batch_size=5, shuffle=False, optimizer=fastbp.SGD(0.1))
    np.testing.assert_array_equal(a.parameters, b.parameters)


def test_diverging_fit_raises_and_keeps_the_last_good_epoch():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(32, 4)), 100 * rng.normal(size=(32, 1))
    net = fastbp.Network([4, 16, 1], activation="relu", dtype=np.float32, seed=0)
    finished = [net.parameters.copy()]  # the state after every finished epoch
    record = lambda net, epoch, logs: finished.append(net.parameters.copy())  # noqa: E731
    with pytest.raises(FloatingPointError, match="restored"):
        net.fit(X, Y, epochs=50, optimizer=fastbp.SGD(lr=1e6), callbacks=[record])
    np.testing.assert_array_equal(net.parameters, finished[-1])
    assert np.isfinite(net.parameters).all()
    assert net.optimizer.steps == (len(finished) - 1) * 1  # one full batch (32 samples) per epoch
    net.forward(X)  # the restored network is usable


def test_ctrl_c_returns_history_and_consistent_state(monkeypatch):
    import fastbp.training as training

    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(64, 3)), rng.normal(size=(64, 1))
    net = fastbp.Network([3, 4, 1], dtype=np.float64, seed=0)
    calls = {"n": 0}
    real = training.train_batches

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(training, "train_batches", interrupted)
    history = net.fit(X, Y, epochs=10, batch_size=8, optimizer=fastbp.SGD(0.01))
    assert history.interrupted and history.epochs == 2
    assert net.optimizer.steps == 16 and np.isfinite(net.parameters).all()


def test_early_stopping_restores_best():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(50, 3)), rng.normal(size=(50, 1))  # noise: validation loss soon rises
    net = fastbp.Network([3, 64, 1], dtype=np.float64, seed=0)
    h = net.fit(X, Y, epochs=200, batch_size=5, optimizer=fastbp.Adam(0.01), validation_split=0.3,
                early_stopping=3)
    assert h.stopped_early and h.epochs < 200
    best = min(h["val_loss"])
    assert net.loss(X[-15:], Y[-15:]) == pytest.approx(best, rel=1e-9)


def test_callbacks_can_stop_and_see_logs():
    seen = []

    def callback(net, epoch, logs):
        seen.append((epoch, logs["loss"]))
        return epoch == 2

    net = fastbp.Network([2, 2, 1], seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=5, callbacks=[callback])
    assert [e for e, _ in seen] == [1, 2] and h.stopped_early and h.epochs == 2


def test_exception_in_callback_leaves_a_usable_network():
    net = fastbp.Network([2, 2, 1], dtype=np.float64, seed=0)

    def boom(net, epoch, logs):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        net.fit(XOR_X, XOR_Y, epochs=3, callbacks=[boom])
    assert net.optimizer.steps == 1  # one epoch of one full batch (4 samples < 32) happened
    net.fit(XOR_X, XOR_Y, epochs=1)
    assert net.optimizer.steps == 2


def test_epochs_zero():
    net = fastbp.Network([2, 2, 1], seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=0)
    assert h.epochs == 0 and "History" in repr(h)


def test_history_plot():
    net = fastbp.Network([2, 2, 1], seed=0)
    h = net.fit(XOR_X, XOR_Y, epochs=3, validation_data=(XOR_X, XOR_Y))
    try:
        import matplotlib
    except ImportError:
        with pytest.raises(ImportError, match="matplotlib"):
            h.plot()
        return
    matplotlib.use("Agg")
    ax = h.plot()
    assert [line.get_label() for line in ax.get_lines()] == ["loss", "val_loss"]


def test_progress_bar_only_on_a_terminal(monkeypatch, capsys):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    net = fastbp.Network([2, 2, 1], seed=0)
    net.fit(XOR_X, XOR_Y, epochs=2, verbose=1)  # captured stderr is not a terminal: no bar
    assert capsys.readouterr().err == ""
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    net.fit(XOR_X, XOR_Y, epochs=2, verbose=1)
    assert "2/2" in terminal.getvalue() and "#" in terminal.getvalue()


def test_verbose_prints_epoch_lines(capsys):
    net = fastbp.Network([2, 2, 1], seed=0)
    net.fit(XOR_X, XOR_Y, epochs=2, verbose=2)
    err = capsys.readouterr().err
    assert "epoch 1/2" in err and "epoch 2/2" in err
    net.fit(XOR_X, XOR_Y, epochs=2, verbose=0)
    assert capsys.readouterr().err == ""
