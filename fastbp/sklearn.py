"""scikit-learn estimators backed by fastbp: :class:`MLPClassifier`, :class:`MLPRegressor`.

They take scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` parameters
(``hidden_layer_sizes``, ``activation``, ``solver``, ``alpha``,
``learning_rate_init``, ``batch_size``, ``max_iter``, ``tol``,
``n_iter_no_change``, ``early_stopping`` ...) and fitted attributes
(``coefs_``, ``intercepts_``, ``loss_curve_``, ``n_iter_``, ``classes_`` ...),
follow its stopping rule and warnings, and pass scikit-learn's
``check_estimator`` suite, so they work in ``Pipeline``, ``GridSearchCV`` and
``cross_val_score``.  Training runs in fastbp's compiled epochs.

scikit-learn is an optional extra (``pip install 'fastbp[sklearn]'``); the rest
of fastbp never imports it.

Differences from scikit-learn's MLP
-----------------------------------
* ``solver`` is ``"sgd"``, ``"adam"``, ``"rmsprop"`` or ``"adamw"`` (no
  ``"lbfgs"``); there is no ``learning_rate`` / ``power_t`` schedule.
* ``alpha`` is applied as fastbp's ``weight_decay`` (to weights *and*
  biases): ``alpha / (batch_size · mean sample weight)``, which is
  scikit-learn's penalty ``alpha/2 · ‖W‖²`` on the summed batch loss; with
  ``solver="adamw"`` it is AdamW's decoupled decay coefficient itself.
* ``loss_curve_`` holds the data loss (without the L2 term), each epoch's
  mean of the losses measured before each step's update.
* ``dtype`` (default float64) and ``n_threads`` are fastbp's: pass
  ``dtype="float32"`` for about twice the speed.
* The fitted :class:`fastbp.Network` is ``network_`` (save it with
  ``est.network_.save(path)``, inspect it with ``est.network_.summary()``).
"""
import numbers
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets, type_of_target
    from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
except ImportError as exc:  # pragma: no cover - exercised only without scikit-learn
    raise ImportError(
        "fastbp.sklearn needs scikit-learn >= 1.6: pip install 'fastbp[sklearn]' "
        f"({exc})"
    ) from None

from . import io as _io
from .network import Network
from .optimizers import SGD, Adam, AdamW, RMSProp

ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "leaky_relu": "leaky_relu"}
SOLVERS = ("sgd", "adam", "rmsprop", "adamw")
_OUT_ACTIVATION_NAMES = {"identity": "identity", "sigmoid": "logistic", "softmax": "softmax"}


def _supports_sample_weight():
    """Whether this fastbp's ``fit`` takes ``sample_weight``."""
    import inspect

    from . import training

    return "sample_weight" in inspect.signature(training.fit).parameters


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and training loop of the estimators."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=0.0001,
                 batch_size="auto", learning_rate_init=0.001, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, dtype="float64", n_threads=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.dtype = dtype
        self.n_threads = n_threads

    # ------------------------------------------------------------ parameters
    def _check_params(self):
        """Validate the hyperparameters; return the derived settings."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise TypeError("hidden_layer_sizes must be an int or a sequence of ints, "
                            f"got {self.hidden_layer_sizes!r}") from None
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
                raise ValueError(f"hidden_layer_sizes must hold ints >= 1, got {self.hidden_layer_sizes!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {self.activation!r}")
        if self.solver not in SOLVERS:
            hint = " (fastbp trains by backpropagation with stochastic solvers only)" if self.solver == "lbfgs" else ""
            raise ValueError(f"solver must be one of {list(SOLVERS)}, got {self.solver!r}{hint}")
        _real(self, "alpha", low=0.0)
        _real(self, "learning_rate_init", low=0.0, low_open=True)
        _real(self, "tol", low=0.0)
        _real(self, "momentum", low=0.0, high=1.0)
        _real(self, "validation_fraction", low=0.0, low_open=True, high=1.0)
        _real(self, "beta_1", low=0.0, high=1.0)
        _real(self, "beta_2", low=0.0, high=1.0)
        _real(self, "epsilon", low=0.0, low_open=True)
        _integer(self, "max_iter", 1)
        _integer(self, "n_iter_no_change", 1)
        if self.batch_size != "auto":
            _integer(self, "batch_size", 1)
        for name in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise TypeError(f"{name} must be a bool, got {getattr(self, name)!r}")
        if not isinstance(self.verbose, (bool, np.bool_, numbers.Integral)):
            raise TypeError(f"verbose must be a bool or an int, got {self.verbose!r}")
        try:
            dtype = None if self.dtype is None else np.dtype(self.dtype)
        except TypeError:
            dtype = None
        if dtype is None or dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        if self.n_threads is not None:
            _integer(self, "n_threads", 1)
        return [int(s) for s in sizes], dtype.type

    def _make_optimizer(self, batch_size, mean_weight):
        lr = float(self.learning_rate_init)
        if self.solver == "adamw":
            return AdamW(lr=lr, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=self.alpha)
        decay = float(self.alpha) / (batch_size * mean_weight)
        if self.solver == "sgd":
            return SGD(lr=lr, momentum=self.momentum, nesterov=bool(self.nesterovs_momentum and self.momentum > 0),
                       weight_decay=decay)
        if self.solver == "rmsprop":
            return RMSProp(lr=lr, eps=self.epsilon, weight_decay=decay)
        return Adam(lr=lr, beta1=self.beta_1, beta2=self.beta_2, eps=self.epsilon, weight_decay=decay)

    # ------------------------------------------------------------ fitted state
    @property
    def coefs_(self):
        """Weight matrices in scikit-learn's ``(n_in, n_out)`` convention.

        Transposed views of the network's ``(n_out, n_in)`` weights: writing
        into them changes the model.
        """
        return [W.T for W in self._fitted_network().weights]

    @property
    def intercepts_(self):
        """Bias vectors, one ``(n_out,)`` array per layer (views)."""
        return list(self._fitted_network().biases)

    @property
    def n_layers_(self):
        """Number of layers, input and output included (scikit-learn's count)."""
        return len(self._fitted_network().sizes)

    @property
    def n_outputs_(self):
        """Number of network outputs."""
        return self._fitted_network().n_outputs

    @property
    def out_activation_(self):
        """Output activation in scikit-learn's names: 'identity', 'logistic' or 'softmax'."""
        return _OUT_ACTIVATION_NAMES[self._fitted_network().output]

    def _fitted_network(self):
        net = self.__dict__.get("network_")
        if net is None:
            raise AttributeError(f"This {type(self).__name__} instance is not fitted yet")
        return net

    def __getstate__(self):
        # Store the network as its save() arrays: compact (no workspaces),
        # versioned and checked on the way back.
        state = dict(super().__getstate__())
        net = state.pop("network_", None)
        if net is not None:
            state["_network_arrays"] = _io.to_arrays(net)
        return state

    def __setstate__(self, state):
        state = dict(state)
        arrays = state.pop("_network_arrays", None)
        super().__setstate__(state)
        if arrays is not None:
            self.network_, _ = _io.from_arrays(arrays, f"a pickled {type(self).__name__}")

    # ------------------------------------------------------------ training
    def _validate_sample_weight(self, sample_weight, n_samples):
        if sample_weight is None:
            return None
        if not _supports_sample_weight():
            raise NotImplementedError("this fastbp version does not support sample_weight")
        w = np.asarray(sample_weight)
        if w.ndim == 0:
            w = np.full(n_samples, w)
        if w.dtype.kind not in "iuf":
            raise ValueError(f"sample_weight must hold real numbers, got dtype {w.dtype}")
        w = w.astype(np.float64)
        if w.ndim != 1:
            raise ValueError(f"sample_weight must be 1-D (n_samples,), got shape {w.shape}")
        if w.shape[0] != n_samples:
            raise ValueError(f"sample_weight has {w.shape[0]} weights but X has {n_samples} samples")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must be finite and >= 0")
        if not w.any():
            raise ValueError("sample_weight is zero for every sample: nothing to learn from")
        return w

    def _initialize(self, X, Y, hidden, dtype, rng):
        output, loss = self._output_and_loss()
        seed = int(rng.randint(np.iinfo(np.int32).max))
        n_out = len(self.classes_) if getattr(self, "_mode", None) == "multiclass" else Y.shape[1]
        self.network_ = Network([X.shape[1], *hidden, n_out],
                                activation=ACTIVATIONS[self.activation], output=output, loss=loss,
                                dtype=dtype, seed=seed)
        self.n_iter_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf

    def _fit(self, X, y, sample_weight, incremental, classes=None):
        hidden, dtype = self._check_params()
        first = incremental and not hasattr(self, "network_")
        reset = first or not (incremental or (self.warm_start and hasattr(self, "network_")))
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        X, y = validate_data(self, X, y, reset=reset, dtype=(np.float64, np.float32), multi_output=True,
                             y_numeric=not isinstance(self, ClassifierMixin))
        w = self._validate_sample_weight(sample_weight, X.shape[0])
        Y = self._encode_targets(y, reset, w, classes)
        rng = check_random_state(self.random_state)
        if reset:
            self._initialize(X, Y, hidden, dtype, rng)
        net = self.network_
        if net.dtype != dtype or net.sizes[1:-1] != hidden:
            raise ValueError("dtype and hidden_layer_sizes cannot change between warm-started or partial fits "
                             f"(fitted: {np.dtype(net.dtype).name}, {net.sizes[1:-1]})")
        if Y.shape[-1] != net.n_outputs and Y.ndim == 2:
            raise ValueError(f"y has {Y.shape[1]} outputs, the fitted network has {net.n_outputs}")
        X = np.require(X, dtype=net.dtype, requirements=("C", "W", "A"))
        Y = np.require(Y, dtype=net.dtype if Y.dtype.kind == "f" else None, requirements=("C", "W", "A"))

        validation = None
        if self.early_stopping:
            X, Y, w, validation = self._split_validation(X, Y, w, rng)
        n = X.shape[0]
        batch_size = min(200, n) if self.batch_size == "auto" else min(int(self.batch_size), n)
        mean_weight = 1.0 if w is None else float(np.mean(w))
        if incremental and net.optimizer is not None:
            optimizer = None  # continue with the state of earlier partial_fit calls
        else:
            optimizer = self._make_optimizer(batch_size, mean_weight)
        epochs = 1 if incremental else int(self.max_iter)
        stopped = []

        def after_epoch(net, epoch, logs):
            if self._record_epoch(logs["loss"], validation, incremental):
                stopped.append(epoch)
                return True
            return False

        options = {} if w is None else {"sample_weight": w.astype(net.dtype)}
        try:
            history = net.fit(X, Y, epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                              shuffle=bool(self.shuffle), n_threads=self.n_threads, callbacks=[after_epoch],
                              **options)
        except FloatingPointError as exc:
            # scikit-learn's MLP raises ValueError here; keep fastbp's explanation.
            raise ValueError("Solver produced non-finite parameter weights or loss: the input data may "
                             f"contain large values and need to be preprocessed ({exc})") from exc
        if history.interrupted:
            raise KeyboardInterrupt
        if self.early_stopping and self._best_parameters is not None:
            net.parameters[...] = self._best_parameters
        self._best_parameters = None
        if not incremental and not stopped:
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached and the "
                          "optimization hasn't converged yet.", ConvergenceWarning)
        return self

    def _split_validation(self, X, Y, w, rng):
        mode = getattr(self, "_mode", None)
        stratify = Y if mode == "multiclass" else Y[:, 0] if mode == "binary" else None
        parts = train_test_split(X, Y, *([] if w is None else [w]), random_state=rng,
                                 test_size=self.validation_fraction, stratify=stratify)
        X_train, X_val, Y_train, Y_val = parts[:4]
        w_train, w_val = (parts[4], parts[5]) if w is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size "
                             "of your dataset.")
        return X_train, Y_train, w_train, (X_val, Y_val, w_val)

    def _record_epoch(self, loss, validation, incremental):
        """scikit-learn's bookkeeping and stopping rule after one epoch; True to stop."""
        self.n_iter_ += 1
        self.loss_curve_.append(float(loss))
        self.loss_ = float(loss)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {loss:.8f}")
        if self.early_stopping:
            X_val, Y_val, w_val = validation
            score = self._validation_score(X_val, Y_val, w_val)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            if score < self.best_validation_score_ + self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_parameters = self.network_.parameters.copy()
        else:
            if loss > self.best_loss_ - self.tol:
                self._no_improvement_count += 1
            else:
                self._no_improvement_count = 0
            if loss < self.best_loss_:
                self.best_loss_ = float(loss)
        if incremental or self._no_improvement_count <= self.n_iter_no_change:
            return False
        if self.verbose:
            what = "Validation score" if self.early_stopping else "Training loss"
            print(f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                  "consecutive epochs. Stopping.")
        self._no_improvement_count = 0
        return True

    _best_parameters = None

    def _forward(self, X):
        check_is_fitted(self, "network_")
        X = validate_data(self, X, reset=False, dtype=(np.float64, np.float32))
        X = np.require(X, dtype=self.network_.dtype, requirements=("C", "W", "A"))
        return self.network_.forward(X, n_threads=self.n_threads).astype(np.float64, copy=False)

    def fit(self, X, y, sample_weight=None):
        """Train the network on ``(X, y)`` (``max_iter`` epochs at most).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each batch loss becomes ``Σ w·loss / Σ w``.

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=False)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by fastbp.

    Binary targets use one sigmoid output and binary cross-entropy;
    multiclass targets a softmax output and cross-entropy; a 2-D 0/1
    indicator ``y`` is multilabel (one sigmoid output per label).

    Parameters
    ----------
    hidden_layer_sizes : int or sequence of int, default=(100,)
        Widths of the hidden layers.
    activation : {'relu', 'tanh', 'logistic', 'identity', 'leaky_relu'}, default='relu'
        Hidden-layer activation.
    solver : {'adam', 'sgd', 'rmsprop', 'adamw'}, default='adam'
    alpha : float >= 0, default=0.0001
        L2 penalty, scikit-learn's scale (see the module notes).
    batch_size : int or 'auto', default='auto'
        Samples per step; 'auto' is ``min(200, n_samples)``.
    learning_rate_init : float > 0, default=0.001
    max_iter : int >= 1, default=200
        Most epochs per ``fit``.
    shuffle : bool, default=True
        Reshuffle the samples every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial weights, the shuffling and the validation split.
    tol : float >= 0, default=1e-4
        Improvement below which an epoch counts as no improvement.
    verbose : bool or int, default=False
        Print the loss of every epoch.
    warm_start : bool, default=False
        ``fit`` continues from the previous weights (with a new optimizer).
    momentum : float in [0, 1], default=0.9
        SGD momentum.
    nesterovs_momentum : bool, default=True
        Nesterov momentum for SGD.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the data (stratified), stop when
        its accuracy stops improving, and keep the best weights.
    validation_fraction : float in (0, 1), default=0.1
    beta_1, beta_2 : float in [0, 1), default=0.9, 0.999
        Adam's moment decay rates.
    epsilon : float > 0, default=1e-8
        Adam's / RMSProp's epsilon.
    n_iter_no_change : int >= 1, default=10
        Stop after more than this many epochs without improvement.
    dtype : {'float64', 'float32'}, default='float64'
        Floating type of the network ('float32' is about twice as fast).
    n_threads : int or None, default=None
        Threads for fastbp's kernels (None: all).

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels (column indices for multilabel targets).
    network_ : fastbp.Network
        The trained network.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Weights in scikit-learn's convention (views of ``network_``'s).
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
        Loss of the last epoch.
    loss_curve_ : list of float
        Loss of every epoch.
    best_loss_ : float or None
        Lowest training loss (None with early stopping).
    validation_scores_ : list of float or None
        Validation accuracy of every epoch (early stopping only).
    best_validation_score_ : float or None
    n_iter_ : int
        Epochs trained.
    n_layers_ : int
    n_outputs_ : int
    out_activation_ : str
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Only when ``X`` had string column names.

    Examples
    --------
    >>> from fastbp.sklearn import MLPClassifier
    >>> clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0)
    >>> clf.fit(X_train, y_train).score(X_test, y_test)            # doctest: +SKIP
    0.97
    """

    def _output_and_loss(self):
        if self._mode == "multiclass":
            return "softmax", "cross_entropy"
        return "sigmoid", "binary_cross_entropy"

    def _encode_targets(self, y, reset, w, classes=None):
        check_classification_targets(y)
        if reset:
            kind = type_of_target(y)
            if kind == "multilabel-indicator":
                self._mode = "multilabel"
                self.classes_ = np.arange(y.shape[1])
            else:
                if kind.endswith("multioutput"):
                    raise ValueError(f"multiclass-multioutput targets are not supported (y has shape {y.shape})")
                y = column_or_1d(y, warn=True)
                labels = np.unique(y) if classes is None else np.unique(np.asarray(classes))
                if classes is not None and not np.isin(np.unique(y), labels).all():
                    raise ValueError(f"y contains labels not in classes={list(labels)}")
                if labels.shape[0] < 2:
                    raise ValueError(f"{type(self).__name__} needs samples of at least 2 classes in the data, "
                                     f"but the data contains only one class: {labels[0]!r}")
                self.classes_ = labels
                self._mode = "binary" if labels.shape[0] == 2 else "multiclass"
        elif self._mode != "multilabel":
            y = column_or_1d(y, warn=True)
            unknown = np.setdiff1d(np.unique(y), self.classes_)
            if unknown.size:
                raise ValueError(f"y contains labels not seen in the first fit: {list(unknown)} "
                                 f"(classes_ = {list(self.classes_)})")
        if self._mode == "multilabel":
            if y.ndim != 2 or y.shape[1] != self.classes_.shape[0]:
                raise ValueError(f"y must be a (n_samples, {self.classes_.shape[0]}) label indicator")
            return np.asarray(y, dtype=np.float64)
        index = np.searchsorted(self.classes_, y)
        if w is not None and np.unique(index[w > 0]).shape[0] < 2 and reset:
            raise ValueError("sample_weight leaves samples of only one class with a non-zero weight; "
                             "a classifier needs at least 2 classes")
        if self._mode == "binary":
            return index.astype(np.float64).reshape(-1, 1)
        return index.astype(np.int64)

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
        classes : array-like of shape (n_classes,), default=None
            All the classes that will ever appear; required on the first
            call (not for multilabel targets), ignored afterwards.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        if not hasattr(self, "network_"):
            if classes is None and type_of_target(np.asarray(y)) != "multilabel-indicator":
                raise ValueError("classes must be passed on the first call to partial_fit.")
        else:
            classes = None
        return self._fit(X, y, sample_weight, incremental=True, classes=classes)

    def predict_proba(self, X):
        """Class probabilities.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            Rows sum to 1 (binary, multiclass); for multilabel targets the
            probability of each label.
        """
        out = self._forward(X)
        if self._mode == "binary":
            p = out[:, 0]
            return np.column_stack([1.0 - p, p])
        if self._mode == "multiclass":
            return out / out.sum(axis=1, keepdims=True)
        return out

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X):
        """Predicted class labels (a 0/1 matrix for multilabel targets).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_labels)
        """
        out = self._forward(X)
        if self._mode == "multilabel":
            return (out > 0.5).astype(np.int64)
        if self._mode == "binary":
            return self.classes_[(out[:, 0] > 0.5).astype(np.int64)]
        return self.classes_[np.argmax(out, axis=1)]

    def _validation_score(self, X, Y, w):
        out = self.network_.forward(X, n_threads=self.n_threads)
        if self._mode == "multiclass":
            return accuracy_score(Y, np.argmax(out, axis=1), sample_weight=w)
        return accuracy_score(Y > 0.5, out > 0.5, sample_weight=w)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by fastbp (identity output, squared error).

    The loss is fastbp's ``mse``, ``½‖y − t‖²`` per sample.  Parameters and
    attributes are those of :class:`MLPClassifier` except that there is no
    ``classes_`` and early stopping monitors the validation R².

    Parameters
    ----------
    hidden_layer_sizes, activation, solver, alpha, batch_size, learning_rate_init, max_iter, \
shuffle, random_state, tol, verbose, warm_start, momentum, nesterovs_momentum, early_stopping, \
validation_fraction, beta_1, beta_2, epsilon, n_iter_no_change, dtype, n_threads
        See :class:`MLPClassifier`.

    Attributes
    ----------
    network_, coefs_, intercepts_, loss_, loss_curve_, best_loss_, validation_scores_, \
best_validation_score_, n_iter_, n_layers_, n_outputs_, out_activation_, n_features_in_
        See :class:`MLPClassifier`.

    Examples
    --------
    >>> from fastbp.sklearn import MLPRegressor
    >>> reg = MLPRegressor(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    >>> reg.fit(X, y).predict(X[:2])                                # doctest: +SKIP
    """

    def _output_and_loss(self):
        return "identity", "mse"

    def _encode_targets(self, y, reset, w, classes=None):
        y = np.asarray(y)
        if not reset and y.ndim == 1 and self.network_.n_outputs != 1:
            raise ValueError(f"y must have {self.network_.n_outputs} columns, got a 1-D y")
        return np.asarray(y, dtype=np.float64).reshape(y.shape[0], -1)

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over ``(X, y)``, continuing from the current state.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self
        """
        return self._fit(X, y, sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) for a single output, else (n_samples, n_outputs)
        """
        out = self._forward(X)
        return out[:, 0] if out.shape[1] == 1 else out

    def _validation_score(self, X, Y, w):
        out = self.network_.forward(X, n_threads=self.n_threads)
        return r2_score(Y, out, sample_weight=w)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


def _real(est, name, low=None, low_open=False, high=None):
    """Validate a real hyperparameter in [low, high] (``high`` excluded)."""
    value = getattr(est, name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    if not np.isfinite(value) or (low is not None and (value < low or (low_open and value == low))) \
            or (high is not None and value >= high):
        if high is None:
            expected = f"{'>' if low_open else '>='} {low}"
        else:
            expected = f"in {'(' if low_open else '['}{low}, {high})"
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _integer(est, name, low):
    value = getattr(est, name)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    if value < low:
        raise ValueError(f"{name} must be >= {low}, got {value!r}")


__all__ = ["MLPClassifier", "MLPRegressor"]
