"""The scikit-learn estimators: scikit-learn's own checks, parity with its MLP, tools."""
import inspect
import pickle
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning, NotFittedError  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

import fastbp  # noqa: E402
from fastbp import training  # noqa: E402
from fastbp.datasets import load_digits  # noqa: E402
from fastbp.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

HAS_SAMPLE_WEIGHT = "sample_weight" in inspect.signature(training.fit).parameters
needs_sample_weight = pytest.mark.skipif(not HAS_SAMPLE_WEIGHT,
                                         reason="this fastbp core has no sample_weight in fit yet")

# Small, quick instances for scikit-learn's check suite (its datasets are tiny).
# One thread: results do not depend on it, and tiny problems only pay for
# parallel regions (badly so on a loaded machine).
CHECKED = [
    MLPClassifier(hidden_layer_sizes=(10,), max_iter=100, learning_rate_init=0.01, random_state=0, n_threads=1),
    MLPRegressor(hidden_layer_sizes=(10,), max_iter=100, learning_rate_init=0.01, random_state=0, n_threads=1),
    MLPClassifier(hidden_layer_sizes=(8, 8), activation="tanh", solver="sgd", max_iter=100,
                  learning_rate_init=0.01, dtype="float32", random_state=0, n_threads=1),
]

_SAMPLE_WEIGHT_CHECKS = ("check_sample_weights_pandas_series", "check_sample_weights_not_an_array",
                         "check_sample_weights_list", "check_sample_weights_shape",
                         "check_sample_weights_not_overwritten", "check_sample_weights_invariance",
                         "check_sample_weight_equivalence_on_dense_data", "check_classifiers_one_label_sample_weights")


def expected_failed_checks(estimator):
    failures = {}
    if np.dtype(estimator.dtype) == np.float32:
        failures["check_sample_weight_equivalence_on_dense_data"] = (
            "float32 training: weighted and repeated fits agree to float32 rounding (~1e-7 relative), "
            "the check asks rtol=1e-7 in float64; the float64 instances pass it")
    if not HAS_SAMPLE_WEIGHT:
        reason = "this fastbp core has no sample_weight in fit yet"
        failures.update({name: reason for name in _SAMPLE_WEIGHT_CHECKS})
    return failures


@parametrize_with_checks(CHECKED, expected_failed_checks=expected_failed_checks)
def test_scikit_learn_check_estimator(estimator, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


# ------------------------------------------------------------------ data
@pytest.fixture(scope="module")
def digits():
    return load_digits(np.float64, seed=0)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    return X, y


# ------------------------------------------------------------------ parity
def test_digits_accuracy_matches_scikit_learn(digits):
    from sklearn.neural_network import MLPClassifier as SkMLPClassifier

    X_train, y_train, X_test, y_test = digits
    settings = dict(hidden_layer_sizes=(64,), solver="adam", learning_rate_init=1e-3, batch_size=32,
                    alpha=1e-4, max_iter=30, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPClassifier(**settings, n_threads=1).fit(X_train, y_train).score(X_test, y_test)
        theirs = SkMLPClassifier(**settings).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= 0.94 and theirs >= 0.94
    assert abs(ours - theirs) <= 0.03


# ------------------------------------------------------------------ tools
def test_pipeline_grid_search_in_two_processes_and_cross_val_score(small):
    X, y = small
    pipe = make_pipeline(StandardScaler(), MLPClassifier(max_iter=40, learning_rate_init=0.01, random_state=0,
                                                       n_threads=1))
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (16,)],
                               "mlpclassifier__alpha": [1e-4, 1e-2]}, cv=2, n_jobs=2, error_score="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        grid.fit(X, y)
        scores = cross_val_score(pipe, X, y, cv=3)
    assert grid.best_score_ > 0.6
    assert grid.best_estimator_[-1].network_.sizes[1:-1] in ([4], [16])
    assert scores.shape == (3,) and scores.mean() > 0.6


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_pickle_round_trip_is_compact_and_resumes_exactly(small):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, random_state=1).fit(X, y)
    blob = pickle.dumps(clf)
    assert b"fastbp.network" not in blob  # the network travels as its save() arrays
    back = pickle.loads(blob)
    assert np.array_equal(back.predict_proba(X), clf.predict_proba(X))
    assert back.get_params() == clf.get_params()
    assert back.loss_curve_ == clf.loss_curve_
    # Training continues identically: optimizer and shuffling state came along.
    back.partial_fit(X, y)
    clf.partial_fit(X, y)
    assert np.array_equal(back.network_.parameters, clf.network_.parameters)


def test_unfitted_estimators_raise_notfitted():
    for est in (MLPClassifier(), MLPRegressor()):
        with pytest.raises(NotFittedError):
            est.predict(np.zeros((2, 3)))
        assert not hasattr(est, "coefs_")
    pickle.loads(pickle.dumps(MLPClassifier()))


# ------------------------------------------------------------------ attributes
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_coefs_are_transposed_views_in_scikit_learn_convention(small):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(5, 4), max_iter=3, random_state=0).fit(X, y)
    assert [c.shape for c in clf.coefs_] == [(6, 5), (5, 4), (4, 3)]
    assert [b.shape for b in clf.intercepts_] == [(5,), (4,), (3,)]
    for coef, W in zip(clf.coefs_, clf.network_.weights):
        assert np.array_equal(coef, W.T)
    assert clf.n_layers_ == 4 and clf.n_outputs_ == 3 and clf.out_activation_ == "softmax"
    assert clf.n_features_in_ == 6 and clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.loss_ == clf.loss_curve_[-1]
    # Same forward pass as scikit-learn's formula with these coefficients.
    h = np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)
    h = np.maximum(h @ clf.coefs_[1] + clf.intercepts_[1], 0)
    z = h @ clf.coefs_[2] + clf.intercepts_[2]
    p = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(clf.predict_proba(X), p / p.sum(axis=1, keepdims=True), rtol=1e-10)
    clf.coefs_[2][...] = 0  # views: writing changes the model
    clf.intercepts_[2][...] = [0, 0, 5]
    assert (clf.predict(X) == clf.classes_[2]).all()


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_binary_uses_one_sigmoid_output_and_keeps_labels(small):
    X, y = small
    labels = np.where(y > 0, "yes", "no")
    clf = MLPClassifier(hidden_layer_sizes=(6,), activation="logistic", max_iter=20, random_state=0)
    clf.fit(X, labels)
    net = clf.network_
    assert (net.output, net.loss_name, net.n_outputs) == ("sigmoid", "binary_cross_entropy", 1)
    assert net.activations == ["sigmoid"]
    assert list(clf.classes_) == ["no", "yes"] and clf.out_activation_ == "logistic"
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1)
    assert set(clf.predict(X)) <= {"no", "yes"}
    assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    np.testing.assert_allclose(clf.predict_log_proba(X), np.log(proba))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_multilabel_targets(small):
    X, _ = small
    Y = np.column_stack([X[:, 0] > 0, X[:, 1] > 0, X[:, 0] + X[:, 1] > 0]).astype(int)
    clf = MLPClassifier(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0)
    clf.fit(X, Y)
    assert clf.network_.n_outputs == 3 and clf.network_.loss_name == "binary_cross_entropy"
    pred = clf.predict(X)
    assert pred.shape == Y.shape and set(np.unique(pred)) <= {0, 1}
    assert clf.score(X, Y) > 0.8
    assert clf.predict_proba(X).shape == Y.shape


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_regressor_outputs_and_shapes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 3))
    y = X @ [1.0, -2.0, 0.5]
    reg = MLPRegressor(hidden_layer_sizes=(16,), max_iter=200, learning_rate_init=0.01, random_state=0)
    reg.fit(X, y)
    assert reg.predict(X).shape == (80,) and reg.predict(X).dtype == np.float64
    assert reg.score(X, y) > 0.9
    assert reg.network_.loss_name == "mse" and reg.out_activation_ == "identity"
    Y2 = np.column_stack([y, -y])
    assert reg.fit(X, Y2).predict(X).shape == (80, 2)
    assert reg.fit(X, y[:, None]).predict(X).shape == (80,)  # scikit-learn's convention


# ------------------------------------------------------------------ training behaviour
def test_convergence_warning_only_when_max_iter_is_reached(small):
    X, y = small
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(3\\)"):
        MLPClassifier(hidden_layer_sizes=(4,), max_iter=3, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=500, tol=0.5, n_iter_no_change=2,
                            random_state=0).fit(X, y)
    # scikit-learn's rule: the first epoch improves on inf, then stop after more
    # than n_iter_no_change epochs that improve by less than tol.
    assert clf.n_iter_ == 4


def test_early_stopping_keeps_best_validation_weights(small):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(8,), early_stopping=True, validation_fraction=0.25,
                        n_iter_no_change=3, max_iter=200, learning_rate_init=0.05, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert clf.best_validation_score_ == max(clf.validation_scores_)
    assert clf.best_loss_ is None
    with pytest.raises(ValueError, match="early_stopping"):
        clf.partial_fit(X, y)
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(early_stopping=True, validation_fraction=0.1).fit(X[:10], y[:10].astype(float))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_warm_start_continues_training(small):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, warm_start=True, random_state=0).fit(X, y)
    first = clf.network_
    before = first.parameters.copy()
    clf.fit(X, y)
    assert clf.network_ is first and clf.n_iter_ == 8 and len(clf.loss_curve_) == 8
    assert not np.array_equal(before, first.parameters)
    cold = MLPClassifier(hidden_layer_sizes=(8,), max_iter=4, random_state=0).fit(X, y)
    assert cold.n_iter_ == 4


def test_partial_fit_classes_and_streaming(small):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(8,), random_state=0)
    with pytest.raises(ValueError, match="classes must be passed"):
        clf.partial_fit(X[:20], y[:20])
    clf.partial_fit(X[:20][y[:20] < 2], y[:20][y[:20] < 2], classes=[0, 1, 2])
    assert list(clf.classes_) == [0, 1, 2] and clf.network_.n_outputs == 3
    for start in range(20, 120, 20):
        clf.partial_fit(X[start:start + 20], y[start:start + 20])
    assert clf.n_iter_ == 6 and len(clf.loss_curve_) == 6
    with pytest.raises(ValueError, match="not seen"):
        clf.partial_fit(X[:5], np.full(5, 7))
    with pytest.raises(ValueError, match="features"):
        clf.partial_fit(X[:5, :3], y[:5])
    reg = MLPRegressor(hidden_layer_sizes=(4,), random_state=0)
    reg.partial_fit(X, y.astype(float)).partial_fit(X, y.astype(float))
    assert reg.n_iter_ == 2


@pytest.mark.parametrize("solver, optimizer", [("sgd", fastbp.SGD), ("adam", fastbp.Adam),
                                               ("rmsprop", fastbp.RMSProp), ("adamw", fastbp.AdamW)])
def test_solvers_map_to_fastbp_optimizers(small, solver, optimizer):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(4,), solver=solver, alpha=0.5, batch_size=20, max_iter=1,
                        momentum=0.8, learning_rate_init=0.003, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y)
    opt = clf.network_.optimizer
    assert type(opt) is optimizer and opt.lr == 0.003
    assert opt.weight_decay == pytest.approx(0.5 if solver == "adamw" else 0.5 / 20)
    if solver == "sgd":
        assert opt.momentum == 0.8 and opt.nesterov


@needs_sample_weight
@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_zero_sample_weight_equals_dropping_samples(small):
    X, y = small
    w = (np.arange(len(y)) % 3 != 0).astype(float)
    kw = dict(hidden_layer_sizes=(6,), batch_size=len(y), max_iter=5, shuffle=False, random_state=0)
    weighted = MLPClassifier(**kw).fit(X, y, sample_weight=w)
    kw["batch_size"] = int(w.sum())
    dropped = MLPClassifier(**kw).fit(X[w > 0], y[w > 0])
    np.testing.assert_allclose(weighted.predict_proba(X), dropped.predict_proba(X), rtol=1e-9)


@needs_sample_weight
def test_bad_sample_weight(small):
    X, y = small
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(max_iter=1).fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(max_iter=1).fit(X, y, sample_weight=-np.ones(len(y)))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_dtype_threads_and_verbose(small, capsys):
    X, y = small
    clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=2, dtype="float32", n_threads=1, verbose=True,
                        random_state=0).fit(X, y)
    assert clf.network_.dtype == np.float32
    assert clf.predict_proba(X).dtype == np.float64
    out = capsys.readouterr().out
    assert "Iteration 1, loss = " in out and "Iteration 2, loss = " in out


@pytest.mark.parametrize("params, error, message", [
    (dict(hidden_layer_sizes=(0,)), ValueError, "hidden_layer_sizes"),
    (dict(hidden_layer_sizes="big"), ValueError, "hidden_layer_sizes"),
    (dict(activation="softplus"), ValueError, "activation must be one of"),
    (dict(solver="lbfgs"), ValueError, "stochastic solvers"),
    (dict(alpha=-1.0), ValueError, "alpha"),
    (dict(learning_rate_init=0), ValueError, "learning_rate_init"),
    (dict(max_iter=0), ValueError, "max_iter"),
    (dict(max_iter=2.5), TypeError, "max_iter"),
    (dict(batch_size="big"), TypeError, "batch_size"),
    (dict(momentum=1.0), ValueError, "momentum"),
    (dict(validation_fraction=1.0), ValueError, "validation_fraction"),
    (dict(shuffle="yes"), TypeError, "shuffle"),
    (dict(dtype="float16"), ValueError, "dtype"),
    (dict(dtype="banana"), ValueError, "dtype"),
    (dict(dtype=None), ValueError, "dtype"),
    (dict(n_threads=0), ValueError, "n_threads"),
])
def test_bad_hyperparameters_name_the_parameter(small, params, error, message):
    X, y = small
    with pytest.raises(error, match=message):
        MLPClassifier(**params).fit(X, y)


def test_divergence_is_a_valueerror_like_scikit_learn(small):
    X, y = small
    with pytest.raises(ValueError, match="non-finite") as info:
        MLPRegressor(max_iter=5).fit(X * 1e200, y.astype(float))
    assert isinstance(info.value.__cause__, FloatingPointError)


def test_single_class_and_continuous_targets_are_refused(small):
    X, _ = small
    with pytest.raises(ValueError, match="class"):
        MLPClassifier().fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        MLPClassifier().fit(X, np.linspace(0, 1, len(X)))
