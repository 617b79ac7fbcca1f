"""The ``fastbp`` command line: train, predict, evaluate, demo, info.

``python -m fastbp <command> --help`` (or the ``fastbp`` console script)
describes each command; ``docs/cli.md`` has examples.  Every user error (bad
argument, unreadable or malformed file, a model that does not fit the data)
ends with one line ``fastbp: error: ...`` on stderr and exit status 2, never a
traceback.  Exit status 1 means training diverged; 130 that it was
interrupted with Ctrl-C (the model reached so far is still saved).
"""
import argparse
import csv
import io as _stringio
import json
import os
import platform
import sys

import numpy as np

PROG = "fastbp"
USAGE_ERROR = 2
DIVERGED = 1
INTERRUPTED = 130
OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
TASKS = ("auto", "classify", "regress")
# At most this many distinct integer values make an integer target a class label (task auto).
MAX_AUTO_CLASSES = 50


class CLIError(Exception):
    """A user error: reported as one ``fastbp: error:`` line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but errors are one line and raise instead of exiting."""

    def error(self, message):
        raise CLIError(f"{message} (see '{self.prog} --help')")


# ------------------------------------------------------------------ data files
class Table:
    """Numeric features and an optional target column read from a data file.

    Attributes
    ----------
    X : ndarray, shape (n_samples, n_features), float64
    target : ndarray, shape (n_samples,) or None
        float64, or str when the column is not numeric.
    feature_names : list of str
    target_name : str or None
    has_header : bool
        Whether the names came from a header row (else they are indices).
    """

    def __init__(self, X, target, feature_names, target_name, has_header=False):
        self.X = X
        self.target = target
        self.feature_names = feature_names
        self.target_name = target_name
        self.has_header = has_header


def _parse_float(text):
    try:
        return float(text)
    except ValueError:
        return None


def read_columns(path, delimiter=None):
    """Read a CSV (or TSV) or ``.npy`` file into named columns.

    Parameters
    ----------
    path : str
        ``.npy``: a 2-D numeric array.  Anything else is read as delimited
        text (``,`` by default, tab for ``.tsv``); a first row with a
        non-numeric cell is a header.
    delimiter : str, optional

    Returns
    -------
    names : list of str
        Column names (``"0"``, ``"1"``, ... without a header).
    columns : list of list of str, or ndarray, shape (n_samples, n_columns)
        Text cells (CSV) or the numeric array (``.npy``).
    has_header : bool
    lines : list of int or None
        The file line of each data row (CSV), for error messages.

    Raises
    ------
    CLIError
        Unreadable, empty or ragged files.
    """
    if path.lower().endswith(".npy"):
        try:
            array = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise CLIError(f"cannot read {path!r}: {_reason(exc)}") from None
        if array.ndim != 2 or array.dtype.kind not in "iuf":
            raise CLIError(f"{path!r} must hold a 2-D numeric array (samples x columns), "
                           f"got {array.dtype} of shape {array.shape}")
        if array.shape[0] == 0:
            raise CLIError(f"{path!r} has no rows")
        return [str(i) for i in range(array.shape[1])], np.asarray(array, dtype=np.float64), False, None
    if delimiter is None:
        delimiter = "\t" if path.lower().endswith(".tsv") else ","
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(n, row) for n, row in enumerate(csv.reader(f, delimiter=delimiter), start=1)
                    if row and any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"cannot read {path!r}: {_reason(exc)}") from None
    if not rows:
        raise CLIError(f"{path!r} is empty")
    has_header = any(_parse_float(cell) is None for cell in rows[0][1])
    width = len(rows[0][1])
    if has_header:
        names = [cell.strip() for cell in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise CLIError(f"{path!r} has a header but no data rows")
    else:
        names = [str(i) for i in range(width)]
    for line, row in rows:
        if len(row) != width:
            raise CLIError(f"{path!r} line {line}: {len(row)} fields, expected {width}")
    return names, [[cell.strip() for cell in row] for _, row in rows], has_header, [n for n, _ in rows]


def _column_index(spec, names, has_header, path):
    """Index of the column ``spec`` (a name, or an int; negative counts from the end)."""
    if spec in names and has_header:
        return names.index(spec)
    try:
        index = int(spec)
    except ValueError:
        if has_header:
            known = ", ".join(repr(n) for n in names[:12]) + (f", ... ({len(names)} columns)" if len(names) > 12 else "")
        else:
            known = "none by name: the file has no header; give an index"
        raise CLIError(f"{path!r} has no column {spec!r} (columns: {known})") from None
    if not -len(names) <= index < len(names):
        raise CLIError(f"column index {index} is out of range: {path!r} has {len(names)} columns")
    return index % len(names)


def read_table(path, target="last", features=None, delimiter=None, parsed=None):
    """Read features (and a target column) from a CSV or ``.npy`` file.

    Parameters
    ----------
    path : str
    target : str, int, "last" or None
        The target column: a header name or an index (``-1`` is the last
        column); ``"last"`` the last column; ``None`` for none.
    features : list of str, optional
        Use exactly these columns (by header name) as features, in order;
        default: every column except the target.
    delimiter : str, optional
    parsed : tuple, optional
        The result of :func:`read_columns` for ``path``, if already read.

    Returns
    -------
    Table
    """
    names, cells, has_header, lines = parsed or read_columns(path, delimiter)
    t = None
    if target is not None:
        t = len(names) - 1 if target == "last" else _column_index(str(target), names, has_header, path)
    if features is not None and has_header:
        missing = [f for f in features if f not in names]
        if missing:
            raise CLIError(f"{path!r} lacks the model's feature column(s) {', '.join(map(repr, missing))}")
        feature_idx = [names.index(f) for f in features]
    else:
        feature_idx = [i for i in range(len(names)) if i != t]
    if not feature_idx:
        raise CLIError(f"{path!r} has no feature columns besides the target")
    if isinstance(cells, np.ndarray):
        X = np.ascontiguousarray(cells[:, feature_idx])
        y = None if t is None else cells[:, t].copy()
    else:
        X = np.empty((len(cells), len(feature_idx)), dtype=np.float64)
        for r, row in enumerate(cells):
            for c, i in enumerate(feature_idx):
                value = _parse_float(row[i])
                if value is None:
                    raise CLIError(f"{path!r} line {lines[r]}, column {names[i]!r}: {row[i]!r} is not a number")
                X[r, c] = value
        y = None
        if t is not None:
            raw = [row[t] for row in cells]
            numbers = [_parse_float(v) for v in raw]
            y = np.array(raw) if any(v is None for v in numbers) else np.array(numbers, dtype=np.float64)
    if not np.isfinite(X).all():
        r, c = np.argwhere(~np.isfinite(X))[0]
        raise CLIError(f"{path!r}: feature column {names[feature_idx[c]]!r} holds NaN or infinity "
                       f"(data row {r + 1})")
    if y is not None and y.dtype.kind == "f" and not np.isfinite(y).all():
        raise CLIError(f"{path!r}: target column {names[t]!r} holds NaN or infinity")
    return Table(X, y, [names[i] for i in feature_idx], None if t is None else names[t], has_header)


# ------------------------------------------------------------------ commands
def _number(convert, accept, expected):
    """An argparse ``type``: ``convert(text)``, finite, and ``accept(value)``, else "expected ..."."""

    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not np.isfinite(value) or not accept(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a whole number >= 1")
_non_negative_int = _number(int, lambda v: v >= 0, "a whole number >= 0")
_non_negative_float = _number(float, lambda v: v >= 0, "a finite number >= 0")
_positive_float = _number(float, lambda v: v > 0, "a finite number > 0")
_fraction = _number(float, lambda v: 0.0 <= v < 1.0, "a number in [0, 1)")


def _threads(text):
    from .parallel import max_threads

    value = _positive_int(text)
    if value > max_threads():
        raise argparse.ArgumentTypeError(f"at most {max_threads()} threads on this machine "
                                         f"(NUMBA_NUM_THREADS), got {value}")
    return value


def _layers(text):
    if text.strip() in ("", "none"):
        return []
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated widths like 64,32, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer widths must be >= 1, got {text!r}")
    return sizes


def _activations(text):
    names = [part.strip() for part in text.split(",")]
    from .activations import HIDDEN_ACTIVATIONS

    for name in names:
        if name not in HIDDEN_ACTIVATIONS:
            raise argparse.ArgumentTypeError(f"unknown activation {name!r} (choose from "
                                             f"{', '.join(sorted(HIDDEN_ACTIVATIONS))})")
    return names[0] if len(names) == 1 else names


def build_parser():
    """The argument parser of the ``fastbp`` command (all subcommands)."""
    parser = _Parser(prog=PROG, description="fastbp: fast backpropagation training of fully-connected "
                                            "networks on multi-core CPUs.",
                     epilog="Run 'fastbp <command> --help' for the options of a command.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"fastbp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="command", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser("train", help="train a network on a CSV or .npy file and save it",
                       description="Train a network on the rows of a CSV (header optional) or .npy file "
                                   "and save it as a .npz model (see fastbp.load).")
    p.add_argument("data", help="training data: .csv/.tsv (first row may be a header) or .npy (2-D)")
    p.add_argument("--target", default="last",
                   help="target column: header name or index, negative from the end (default: the last column)")
    p.add_argument("--task", choices=TASKS, default="auto",
                   help="classify (softmax + cross-entropy, or sigmoid + binary cross-entropy for 2 classes) "
                        "or regress (identity + mse); auto: classify when the target is text or has few "
                        f"integer values (<= {MAX_AUTO_CLASSES})")
    p.add_argument("--layers", type=_layers, default=[64], metavar="W1,W2,...",
                   help="hidden layer widths (default: 64; 'none' for no hidden layer)")
    p.add_argument("--activation", type=_activations, default="relu", metavar="NAME[,NAME...]",
                   help="hidden activation, one for all or one per layer: relu, tanh, sigmoid, leaky_relu, "
                        "identity (default: relu)")
    p.add_argument("--output", choices=("identity", "sigmoid", "softmax"), help="output activation "
                   "(default: from the task/loss)")
    p.add_argument("--loss", choices=("mse", "binary_cross_entropy", "cross_entropy"),
                   help="loss (default: from the task)")
    p.add_argument("--optimizer", choices=OPTIMIZERS, help="default: adam (with --resume: the saved one, "
                                                          "its state kept)")
    p.add_argument("--lr", type=_positive_float, help="learning rate (default: the optimizer's: sgd 0.01, "
                                                      "others 0.001)")
    p.add_argument("--momentum", type=_fraction, help="momentum in [0, 1) for sgd and rmsprop (default 0)")
    p.add_argument("--weight-decay", type=_non_negative_float,
                   help="L2 weight decay (default: adamw 0.01, others 0)")
    p.add_argument("--epochs", type=_non_negative_int, default=10, help="default: 10")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="default: 32")
    p.add_argument("--threads", type=_threads, default=None, help="kernel threads (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seeds initial weights and shuffling (default: 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default="float32", help="default: float32")
    p.add_argument("--validation-split", type=_fraction, default=0.0, metavar="FRACTION",
                   help="hold out this fraction (the last rows) to report val_loss")
    p.add_argument("--early-stopping", type=_positive_int, default=None, metavar="PATIENCE",
                   help="stop after PATIENCE epochs without improvement and keep the best weights")
    p.add_argument("--resume", metavar="MODEL", help="continue training this saved model (the architecture "
                                                     "options are then ignored)")
    p.add_argument("--out", default="model.npz", help="where to save the model (default: model.npz)")
    p.add_argument("--delimiter", help="CSV field separator (default: ',' or tab for .tsv)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--verbose", action="store_true", help="a line per epoch (loss, samples/s) instead of the "
                                                          "progress bar (which shows only on a terminal)")

    p = sub.add_parser("predict", help="predict with a saved model, write CSV",
                       description="Predict the rows of a data file with a saved model and write the "
                                   "predictions as CSV (class labels, probabilities or values).")
    p.add_argument("model", help="a .npz model saved by 'fastbp train' or Network.save")
    p.add_argument("data", help="input rows: .csv/.tsv or .npy")
    p.add_argument("--target", help="drop this column (name or index) from the data first; by default a "
                                    "column named like the model's target is dropped")
    p.add_argument("--proba", action="store_true", help="write class probabilities instead of labels")
    p.add_argument("--out", help="output CSV file (default: standard output)")
    p.add_argument("--threads", type=_threads, default=None)
    p.add_argument("--delimiter", help="CSV field separator of the data")

    p = sub.add_parser("evaluate", help="loss and accuracy of a saved model on labelled data",
                       description="Report the mean loss (and accuracy, for classifiers) of a saved model "
                                   "on labelled data.")
    p.add_argument("model")
    p.add_argument("data")
    p.add_argument("--target", help="target column (default: the model's target column name if the data "
                                    "has it, else the last column)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--threads", type=_threads, default=None)
    p.add_argument("--delimiter", help="CSV field separator of the data")

    p = sub.add_parser("demo", help="train a network on the bundled digits data and report",
                       description="Train a 64-128-10 network on the bundled UCI digits and print the loss "
                                   "and samples/s per epoch and the test accuracy.")
    p.add_argument("--epochs", type=_positive_int, default=20, help="default: 20")
    p.add_argument("--batch-size", type=_positive_int, default=32, help="default: 32")
    p.add_argument("--threads", type=_threads, default=None, help="default: all")

    p = sub.add_parser("info", help="versions, threading layer, threads, BLAS, numba cache",
                       description="Report the versions and the parallel set-up fastbp runs with.")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _reason(exc):
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def _load_model(path):
    from . import io

    try:
        return io.load(path, return_extra=True)
    except (OSError, ValueError, TypeError) as exc:
        if isinstance(exc, OSError):
            raise CLIError(f"cannot read model {path!r}: {_reason(exc)}") from None
        raise CLIError(str(exc)) from None


def _text_list(array):
    return [str(v) for v in np.asarray(array).tolist()]


def _encode_classes(y, classes, path, column):
    """Class indices of the labels ``y`` given the model's class labels."""
    lookup = {label: i for i, label in enumerate(_text_list(classes))}
    keys = _label_texts(y)
    unknown = sorted(set(keys) - set(lookup))
    if unknown:
        raise CLIError(f"{path!r}: target column {column!r} holds labels the model does not know: "
                       f"{', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}")
    return np.array([lookup[k] for k in keys], dtype=np.int64)


def _label_texts(y):
    """Labels as text; integral floats print as integers (``3.0`` -> ``"3"``)."""
    if y.dtype.kind == "f" and np.all(y == np.round(y)):
        return [str(int(v)) for v in y]
    return [str(v) for v in y.tolist()]


def _choose_task(args, table):
    y = table.target
    if args.loss is not None:
        return "regress" if args.loss == "mse" else "classify"
    if args.task != "auto":
        return args.task
    if y.dtype.kind != "f":
        return "classify"
    if np.all(y == np.round(y)) and len(np.unique(y)) <= MAX_AUTO_CLASSES:
        return "classify"
    return "regress"


def cmd_train(args, out, err):
    """``fastbp train``: read data, build or resume a network, fit, save."""
    from . import io, optimizers
    from .network import Network

    table = read_table(args.data, target=args.target, delimiter=args.delimiter)
    y = table.target
    extra = {}
    if args.resume:
        net, extra = _load_model(args.resume)
        task = "regress" if net.loss_name == "mse" else "classify"
        if table.X.shape[1] != net.n_inputs:
            raise CLIError(f"{args.data!r} has {table.X.shape[1]} feature columns, the model {args.resume!r} "
                           f"expects {net.n_inputs}")
    else:
        task = _choose_task(args, table)
    if task == "classify":
        if "classes" in extra:
            classes = extra["classes"]
        elif args.resume:  # a model saved from Python: labels are class indices
            classes = np.arange(2 if net.loss_name == "binary_cross_entropy" else net.n_outputs).astype(str)
        else:
            texts = _label_texts(y)
            unique = sorted(set(texts), key=lambda s: (_parse_float(s) is None, _parse_float(s) or 0.0, s))
            classes = np.array(unique)
        Y = _encode_classes(y, classes, args.data, table.target_name)
        n_classes = len(classes)
        if n_classes < 2 and not args.resume:
            raise CLIError(f"target column {table.target_name!r} has a single class ({classes[0]}): "
                           "nothing to classify (use --task regress for values)")
        if args.resume:
            loss = net.loss_name
        else:
            loss = args.loss or ("binary_cross_entropy" if n_classes == 2 else "cross_entropy")
        if loss == "binary_cross_entropy" and n_classes > 2:
            raise CLIError(f"binary_cross_entropy needs 2 classes, target column {table.target_name!r} has "
                           f"{n_classes}; use --loss cross_entropy")
        output = args.output or ("sigmoid" if loss == "binary_cross_entropy" else "softmax")
        n_out = 1 if loss == "binary_cross_entropy" else n_classes
        if loss == "binary_cross_entropy":
            Y = Y.astype(np.float64)
        described = f"classify, {n_classes} classes"
    else:
        if y.dtype.kind != "f":
            raise CLIError(f"target column {table.target_name!r} is not numeric: cannot regress on it "
                           "(use --task classify)")
        Y = y
        classes = None
        loss = net.loss_name if args.resume else args.loss or "mse"
        output = args.output or "identity"
        n_out = 1
        described = "regress"
    if not args.resume:
        sizes = [table.X.shape[1], *args.layers, n_out]
        activation = args.activation
        if isinstance(activation, list) and len(activation) != len(args.layers):
            raise CLIError(f"--activation lists {len(activation)} names for {len(args.layers)} hidden layers")
        try:
            net = Network(sizes, activation=activation, output=output, loss=loss,
                          dtype=np.float32 if args.dtype == "float32" else np.float64, seed=args.seed)
        except (TypeError, ValueError) as exc:
            raise CLIError(str(exc)) from None
    optimizer = None
    if not args.resume or any(v is not None for v in (args.optimizer, args.lr, args.weight_decay, args.momentum)):
        optimizer = _make_optimizer(args, optimizers)
    try:
        history = net.fit(table.X, Y, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                          n_threads=args.threads, validation_split=args.validation_split,
                          early_stopping=args.early_stopping, verbose=0 if args.quiet else 2 if args.verbose else 1)
    except FloatingPointError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return DIVERGED
    except (TypeError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    save_extra = {"task": np.array(task)}
    if table.has_header:
        save_extra["feature_names"] = np.array(table.feature_names)
        save_extra["target_name"] = np.array(table.target_name)
    if classes is not None:
        save_extra["classes"] = np.asarray(classes).astype(str)
    try:
        io.save(net, args.out, extra=save_extra)
    except OSError as exc:
        raise CLIError(f"cannot write {args.out!r}: {_reason(exc)}") from None
    logs = {key: values[-1] for key, values in history.history.items() if values}
    text = ", ".join(f"{key} {value:.4f}" for key, value in logs.items())
    if task == "classify":
        text += f", training accuracy {net.accuracy(table.X, Y, n_threads=args.threads):.4f}"
    state = " (interrupted)" if history.interrupted else " (stopped early)" if history.stopped_early else ""
    print(f"trained {net!r} on {table.X.shape[0]} samples of {args.data} ({described}, target "
          f"{table.target_name!r})", file=out)
    print(f"{history.epochs} epochs{state}: {text}", file=out)
    print(f"saved {args.out}", file=out)
    return INTERRUPTED if history.interrupted else 0


def _make_optimizer(args, optimizers):
    name = args.optimizer or "adam"
    kwargs = {}
    if args.lr is not None:
        kwargs["lr"] = args.lr
    if args.weight_decay is not None:
        kwargs["weight_decay"] = args.weight_decay
    if args.momentum is not None:
        if name not in ("sgd", "rmsprop"):
            raise CLIError(f"--momentum applies to sgd and rmsprop, not {name}")
        kwargs["momentum"] = args.momentum
    cls = {"sgd": optimizers.SGD, "rmsprop": optimizers.RMSProp, "adam": optimizers.Adam,
           "adamw": optimizers.AdamW}[name]
    return cls(**kwargs)


def _model_inputs(args, net, extra):
    """Read the data of ``predict``/``evaluate`` and select the model's feature columns."""
    names = _text_list(extra["feature_names"]) if "feature_names" in extra else None
    target_name = str(extra["target_name"]) if "target_name" in extra else None
    parsed = read_columns(args.data, args.delimiter)
    parsed_names, has_header = parsed[0], parsed[2]
    want_target = args.command == "evaluate"
    target = args.target
    if target is None:
        if target_name is not None and has_header and target_name in parsed_names:
            target = target_name
        elif want_target:
            target = "last"
    features = names if (names is not None and has_header and all(n in parsed_names for n in names)) else None
    table = read_table(args.data, target=target, features=features, parsed=parsed)
    if table.X.shape[1] != net.n_inputs:
        hint = "; pass --target to drop the target column" if table.X.shape[1] == net.n_inputs + 1 else ""
        raise CLIError(f"{args.data!r} has {table.X.shape[1]} feature columns, the model expects "
                       f"{net.n_inputs}{hint}")
    return table


def cmd_predict(args, out, err):
    """``fastbp predict``: write predictions of a saved model as CSV."""
    net, extra = _load_model(args.model)
    table = _model_inputs(args, net, extra)
    outputs = net.forward(table.X, n_threads=args.threads).astype(np.float64)
    classes = _text_list(extra["classes"]) if "classes" in extra else None
    if net.loss_name == "cross_entropy":
        labels = classes or [str(i) for i in range(net.n_outputs)]
        if args.proba:
            header, rows = [f"p_{c}" for c in labels], outputs
        else:
            header, rows = ["prediction"], [[labels[i]] for i in outputs.argmax(axis=1)]
    elif net.loss_name == "binary_cross_entropy":
        labels = classes if classes and net.n_outputs == 1 else ["0", "1"]
        if net.n_outputs == 1:
            if args.proba:
                header, rows = [f"p_{labels[0]}", f"p_{labels[1]}"], np.column_stack([1 - outputs[:, 0],
                                                                                     outputs[:, 0]])
            else:
                header, rows = ["prediction"], [[labels[int(p > 0.5)]] for p in outputs[:, 0]]
        else:
            header = [f"{'p' if args.proba else 'label'}_{j}" for j in range(net.n_outputs)]
            rows = outputs if args.proba else (outputs > 0.5).astype(int)
    else:
        if args.proba:
            raise CLIError("--proba needs a classification model; this one is a regression (mse) model")
        name = str(extra["target_name"]) if "target_name" in extra else "prediction"
        header = [name] if net.n_outputs == 1 else [f"{name}_{j}" for j in range(net.n_outputs)]
        rows = outputs
    buffer = _stringio.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([repr(float(v)) if isinstance(v, (float, np.floating)) else v for v in row])
    if args.out:
        try:
            with open(args.out, "w", newline="", encoding="utf-8") as f:
                f.write(buffer.getvalue())
        except OSError as exc:
            raise CLIError(f"cannot write {args.out!r}: {_reason(exc)}") from None
        print(f"wrote {len(table.X)} predictions to {args.out}", file=err)
    else:
        out.write(buffer.getvalue())
    return 0


def cmd_evaluate(args, out, err):
    """``fastbp evaluate``: mean loss (and accuracy) of a saved model on labelled data."""
    net, extra = _load_model(args.model)
    table = _model_inputs(args, net, extra)
    y = table.target
    if net.loss_name == "mse":
        if y.dtype.kind != "f":
            raise CLIError(f"target column {table.target_name!r} is not numeric")
        Y = y
    elif "classes" in extra:
        Y = _encode_classes(y, extra["classes"], args.data, table.target_name)
    else:
        if y.dtype.kind != "f" or not np.all(y == np.round(y)):
            raise CLIError(f"target column {table.target_name!r} must hold class indices 0..{net.n_outputs - 1}")
        Y = y.astype(np.int64)
    if net.loss_name == "binary_cross_entropy":
        Y = Y.astype(np.float64)
    try:
        result = {"samples": int(table.X.shape[0]), "loss": net.loss(table.X, Y, n_threads=args.threads)}
        if net.loss_name != "mse":
            result["accuracy"] = net.accuracy(table.X, Y, n_threads=args.threads)
    except (TypeError, ValueError) as exc:
        raise CLIError(f"{args.data!r} does not fit the model: {exc}") from None
    if args.json:
        print(json.dumps(result), file=out)
    else:
        for key, value in result.items():
            print(f"{key:<9}{value:.6g}" if isinstance(value, float) else f"{key:<9}{value}", file=out)
    return 0


def cmd_demo(args, out, err):
    """``fastbp demo``: :func:`fastbp.demo.run`."""
    from .demo import run

    run(epochs=args.epochs, batch_size=args.batch_size, n_threads=args.threads,
        out=lambda text: print(text, file=out, flush=True))
    return 0


def system_info():
    """Versions and parallel set-up, as a dict (what ``fastbp info`` prints).

    A tiny network is run first, so numba's threading layer is initialised.

    Returns
    -------
    dict
    """
    import numba
    import scipy

    from . import __version__, epoch, parallel
    from .network import Network

    net = Network([4, 3, 2], seed=0)
    net.forward(np.zeros((8, 4), dtype=np.float32), n_threads=parallel.max_threads())
    info = {
        "fastbp": __version__,
        "python": f"{platform.python_version()} ({platform.python_implementation()}, "
                  f"{platform.system()} {platform.machine()})",
        "numpy": np.__version__,
        "numba": numba.__version__,
        "scipy": scipy.__version__,
    }
    for name, module in (("threadpoolctl", "threadpoolctl"), ("scikit-learn", "sklearn")):
        try:
            info[name] = __import__(module).__version__
        except ImportError:
            info[name] = "not installed"
    try:
        info["threading_layer"] = numba.threading_layer()
    except ValueError:
        info["threading_layer"] = "not initialised"
    info["threads"] = parallel.max_threads()
    info["cpu_count"] = os.cpu_count()
    try:
        from threadpoolctl import threadpool_info

        blas = [f"{p.get('internal_api')} {p.get('version')} [{_blas_owner(p.get('filepath') or '')}] "
                f"({p.get('num_threads')} threads, {p.get('threading_layer', '?')}, {p.get('architecture', '?')}): "
                f"{p.get('filepath')}"
                for p in threadpool_info() if p.get("user_api") == "blas"]
    except Exception as exc:  # pragma: no cover - threadpoolctl is a dependency
        blas = [f"unknown ({exc})"]
    info["blas"] = blas
    info["kernel_blas"] = _kernel_blas()
    cache = getattr(getattr(epoch.forward_batches, "_cache", None), "_cache_path", None)
    info["numba_cache_dir"] = cache or (numba.config.CACHE_DIR or "unknown")
    return info


def _kernel_blas():
    from . import blas

    if blas.current() == "openblas":
        return "SciPy's OpenBLAS (fastbp.blas.use(\"mkl\") or FASTBP_BLAS=mkl: Intel MKL, with fastbp[mkl])"
    return f"Intel MKL for products of >= {blas.min_macs()} multiply-adds, SciPy's OpenBLAS below"


def _blas_owner(path):
    parts = path.replace("\\", "/").split("/")
    if any(part in ("scipy", "scipy.libs") for part in parts):
        return "SciPy's, used by fastbp's kernels"
    if "mkl" in parts[-1]:
        return "Intel MKL"
    if any(part in ("numpy", "numpy.libs") for part in parts):
        return "NumPy's"
    return "shared"


def cmd_info(args, out, err):
    """``fastbp info``: versions, threading layer, threads, BLAS, numba cache."""
    info = system_info()
    if args.json:
        print(json.dumps(info, indent=2), file=out)
        return 0
    labels = {"blas": "BLAS", "kernel_blas": "kernels' BLAS", "threading_layer": "numba threading layer",
              "threads": "threads (NUMBA_NUM_THREADS)", "cpu_count": "CPUs", "numba_cache_dir": "numba cache"}
    width = max(len(labels.get(k, k)) for k in info) + 2
    for key, value in info.items():
        label = labels.get(key, key)
        if isinstance(value, list):
            for i, item in enumerate(value):
                print(f"{label if i == 0 else '':<{width}}{item}", file=out)
        else:
            print(f"{label:<{width}}{value}", file=out)
    return 0


COMMANDS = {"train": cmd_train, "predict": cmd_predict, "evaluate": cmd_evaluate, "demo": cmd_demo,
            "info": cmd_info}


def main(argv=None, out=None, err=None):
    """Run the ``fastbp`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).
    out, err : text streams, optional
        Where results and messages go (default: ``sys.stdout`` and
        ``sys.stderr`` at call time).

    Returns
    -------
    int
        Exit status: 0 success, 1 training diverged, 2 a usage or input
        error (reported as one ``fastbp: error: ...`` line on ``err``), 130
        interrupted.
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    parser = build_parser()
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        return COMMANDS[args.command](args, out, err)
    except CLIError as exc:
        print(f"{PROG}: error: {exc}", file=err)
        return USAGE_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=err)
        return INTERRUPTED


__all__ = ["main", "build_parser", "read_table", "read_columns", "system_info", "CLIError", "Table"]
