"""Saving and loading networks as ``.npz`` files, safely.

A model file is a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) holding
everything needed to continue training exactly where it stopped: a network
saved after 3 epochs, loaded, and trained 3 more epochs has bit for bit the
parameters of one trained 6 epochs without a break.

Safety
------
* Writing is atomic: the archive is written to a temporary file in the same
  directory, flushed and ``fsync``-ed, then renamed over ``path`` with
  :func:`os.replace`.  A crash or an error while saving leaves any previous
  file at ``path`` untouched (and removes the temporary file).
* Reading uses ``np.load(..., allow_pickle=False)``: every entry is a plain
  numeric or string array, so loading a model file can never execute code.
* A SHA-256 checksum over all entries detects corruption that the zip CRCs
  miss; truncated, corrupted or foreign files and files of a newer format
  raise :class:`ValueError` naming the file and the problem.

Layout (format version 1)
-------------------------
Every entry is a NumPy array; "str" means a 0-d unicode array.

=========================  ==================  ==========================================
key                        dtype, shape        meaning
=========================  ==================  ==========================================
``fastbp_format``          int64, ()           format version (1); a reader refuses newer
``fastbp_version``         str                 fastbp version that wrote the file
``sizes``                  int64, (L+1,)       layer widths, input first
``activations``            str, (L-1,)         hidden activations, one per hidden layer
``output``                 str                 output activation
``loss``                   str                 loss name
``dtype``                  str                 ``"float32"`` or ``"float64"``
``bias``                   bool, ()            whether layers have biases
``leaky_slope``            float64, ()         negative slope of ``leaky_relu``
``seed``                   str                 decimal seed, or ``""`` (None / not an int)
``parameters``             dtype, (n_params,)  the flat parameter vector (see layout.py)
``rng_state``              uint64, (1,)        state of the shuffling generator
``counters``               int64, (3,)         ``[step, epoch, status]``
``optimizer``              str                 class name (``SGD``, ``RMSProp``,
                                               ``Adam``, ``AdamW``) or ``""`` for none
``optimizer_names``        str, (k,)           hyperparameter names (constructor arguments)
``optimizer_values``       float64, (k,)       their values (bools as 0/1)
``optimizer_schedule``     float64, (3,)       ``Schedule.parameters()``: ``[code, p1, p2]``
``optimizer_state``        dtype, (s, n_params)  moments / momentum buffers (absent if None)
``optimizer_steps``        int64, ()           updates applied so far (Adam's ``t``)
``extra/<name>``           any plain dtype     optional caller data (see :func:`save`)
``checksum``               str                 SHA-256 (hex) of every other entry
=========================  ==================  ==========================================

The checksum hashes, for each key in sorted order, the key, the dtype string,
the shape and the C-order bytes of the array.

The weight ``W^l`` (shape ``(n_out, n_in)``) and bias ``b^l`` of layer ``l``
are slices of ``parameters``: to read them without fastbp, walk the layers in
order; each layer stores its ``n_out * n_in`` weights row by row, followed by
its ``n_out`` biases when ``bias`` is true.
"""
import hashlib
import os
import secrets

import numpy as np

from . import optimizers as _optimizers
from . import schedules as _schedules

FORMAT_VERSION = 1
_MAGIC_KEY = "fastbp_format"
_EXTRA = "extra/"
_OPTIMIZERS = {cls.__name__: cls for cls in (_optimizers.SGD, _optimizers.RMSProp, _optimizers.Adam,
                                              _optimizers.AdamW)}
_SCHEDULES = {
    _schedules.CONSTANT: lambda p1, p2: _schedules.Constant(),
    _schedules.STEP_DECAY: lambda p1, p2: _schedules.StepDecay(int(p1), p2),
    _schedules.EXPONENTIAL: lambda p1, p2: _schedules.Exponential(p1),
    _schedules.COSINE: lambda p1, p2: _schedules.Cosine(int(p1), p2),
}
_REQUIRED = ("sizes", "activations", "output", "loss", "dtype", "bias", "leaky_slope", "seed",
             "parameters", "rng_state", "counters", "optimizer", "checksum")


# ---------------------------------------------------------------- arrays
def _optimizer_hyperparameters(optimizer):
    """Constructor argument names (minus ``schedule``) and their values."""
    import inspect

    names = [name for name in inspect.signature(type(optimizer).__init__).parameters
             if name not in ("self", "schedule")]
    return names, [float(getattr(optimizer, name)) for name in names]


def to_arrays(net, extra=None):
    """The arrays that describe ``net`` completely (the file's entries).

    Parameters
    ----------
    net : Network
    extra : dict of str -> array-like, optional
        Caller data stored under ``extra/<name>``; values must be numeric,
        bool or string arrays (no objects).

    Returns
    -------
    dict of str -> ndarray
        Including ``checksum``.
    """
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp Network, got {type(net).__name__}")
    seed = net.seed
    seed_text = str(int(seed)) if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool) else ""
    arrays = {
        _MAGIC_KEY: np.array(FORMAT_VERSION, dtype=np.int64),
        "fastbp_version": np.array(_fastbp_version()),
        "sizes": np.array(net.sizes, dtype=np.int64),
        "activations": np.array(list(net.activations), dtype=str).reshape(-1),
        "output": np.array(net.output),
        "loss": np.array(net.loss_name),
        "dtype": np.array(np.dtype(net.dtype).name),
        "bias": np.array(bool(net.bias)),
        "leaky_slope": np.array(float(net.leaky_slope), dtype=np.float64),
        "seed": np.array(seed_text),
        "parameters": np.array(net._P, copy=True),
        "rng_state": np.array(net._rng_state, dtype=np.uint64, copy=True).reshape(1),
        "counters": np.array(net._counters, dtype=np.int64, copy=True).reshape(3),
    }
    opt = net.optimizer
    if opt is None:
        arrays["optimizer"] = np.array("")
    else:
        name = type(opt).__name__
        if _OPTIMIZERS.get(name) is not type(opt):
            raise ValueError(f"cannot save an optimizer of type {type(opt).__name__}: only fastbp's "
                             f"{', '.join(_OPTIMIZERS)} can be saved")
        names, values = _optimizer_hyperparameters(opt)
        arrays["optimizer"] = np.array(name)
        arrays["optimizer_names"] = np.array(names, dtype=str).reshape(-1)
        arrays["optimizer_values"] = np.array(values, dtype=np.float64).reshape(-1)
        arrays["optimizer_schedule"] = np.asarray(opt.schedule.parameters(), dtype=np.float64).copy()
        if opt.state is not None:
            arrays["optimizer_state"] = np.array(opt.state, copy=True)
        arrays["optimizer_steps"] = np.array(int(opt.steps), dtype=np.int64)
    for key, value in (extra or {}).items():
        if not isinstance(key, str) or not key or "/" in key:
            raise ValueError(f"extra keys must be non-empty strings without '/', got {key!r}")
        array = np.asarray(value)
        if array.dtype.kind not in "biufcUS":
            raise TypeError(f"extra[{key!r}] must be a numeric, bool or string array, got dtype {array.dtype}")
        arrays[_EXTRA + key] = array
    arrays["checksum"] = np.array(_checksum(arrays))
    return arrays


def from_arrays(arrays, source="<arrays>"):
    """Rebuild a Network (with its optimizer) from :func:`to_arrays` output.

    Parameters
    ----------
    arrays : mapping of str -> ndarray
    source : str
        Named in error messages (the file name when loading).

    Returns
    -------
    net : Network
    extra : dict of str -> ndarray

    Raises
    ------
    ValueError
        If an entry is missing, malformed or inconsistent, or the checksum
        does not match.
    """
    from .network import Network

    def fail(problem):
        return ValueError(f"cannot load {source}: {problem}")

    if _MAGIC_KEY not in arrays:
        raise fail("not a fastbp model file (no 'fastbp_format' entry)")
    version = _scalar(arrays, _MAGIC_KEY, "i", fail)
    if version > FORMAT_VERSION:
        raise fail(f"it was written in format version {version} by a newer fastbp; this fastbp "
                   f"reads versions up to {FORMAT_VERSION} (upgrade fastbp)")
    if version < 1:
        raise fail(f"invalid format version {version}")
    missing = [key for key in _REQUIRED if key not in arrays]
    if missing:
        raise fail(f"the file is incomplete: missing {', '.join(missing)}")
    stored = _text(arrays, "checksum", fail)
    if stored != _checksum({k: v for k, v in arrays.items() if k != "checksum"}):
        raise fail("checksum mismatch: the file is corrupted")

    sizes = _array(arrays, "sizes", "i", 1, fail)
    activations = _array(arrays, "activations", "U", 1, fail)
    dtype_name = _text(arrays, "dtype", fail)
    if dtype_name not in ("float32", "float64"):
        raise fail(f"unsupported dtype {dtype_name!r}")
    seed_text = _text(arrays, "seed", fail)
    params = _array(arrays, "parameters", "f", 1, fail)
    bias = bool(_scalar(arrays, "bias", "b", fail))
    # Check the sizes against the stored parameters before anything is
    # allocated from them (a crafted file could ask for terabytes).
    widths = [int(s) for s in sizes]
    if len(widths) < 2 or min(widths) < 1:
        raise fail(f"invalid architecture: sizes must be >= 2 widths >= 1, got {widths}")
    expected = sum(n_in * n_out + (n_out if bias else 0) for n_in, n_out in zip(widths[:-1], widths[1:]))
    if expected != params.size:
        raise fail(f"'parameters' holds {params.size} values but sizes {widths} (bias={bias}) need {expected}")
    try:
        seed = int(seed_text) if seed_text else None
        net = Network(widths, activation=[str(a) for a in activations],
                      output=_text(arrays, "output", fail), loss=_text(arrays, "loss", fail),
                      dtype=np.dtype(dtype_name).type, seed=seed,
                      bias=bias,
                      leaky_slope=float(_scalar(arrays, "leaky_slope", "f", fail)))
    except (TypeError, ValueError) as exc:
        raise fail(f"invalid architecture: {exc}") from None

    if params.dtype != net.dtype or params.shape != net._P.shape:
        raise fail(f"'parameters' must be {dtype_name} of shape {net._P.shape} for sizes {net.sizes}, "
                   f"got {params.dtype} of shape {params.shape}")
    if not np.isfinite(params).all():
        raise fail("'parameters' contains NaN or infinity")
    rng_state = _array(arrays, "rng_state", "u", 1, fail)
    counters = _array(arrays, "counters", "i", 1, fail)
    if rng_state.shape != (1,) or rng_state.dtype != np.uint64:
        raise fail(f"'rng_state' must be uint64 of shape (1,), got {rng_state.dtype} {rng_state.shape}")
    if counters.shape != (3,) or counters.dtype != np.int64 or (counters < 0).any():
        raise fail(f"'counters' must be 3 non-negative int64, got {counters.dtype} {counters.shape}")
    net._P[...] = params
    net._rng_state[...] = rng_state
    net._counters[...] = counters

    name = _text(arrays, "optimizer", fail)
    if name:
        net.optimizer = _load_optimizer(arrays, name, net, fail)
    extra = {key[len(_EXTRA):]: value for key, value in arrays.items() if key.startswith(_EXTRA)}
    return net, extra


def _load_optimizer(arrays, name, net, fail):
    cls = _OPTIMIZERS.get(name)
    if cls is None:
        raise fail(f"unknown optimizer {name!r} (expected one of {', '.join(_OPTIMIZERS)})")
    for key in ("optimizer_names", "optimizer_values", "optimizer_schedule", "optimizer_steps"):
        if key not in arrays:
            raise fail(f"the file is incomplete: missing {key}")
    names = [str(n) for n in _array(arrays, "optimizer_names", "U", 1, fail)]
    values = _array(arrays, "optimizer_values", "f", 1, fail)
    if len(names) != len(values):
        raise fail("'optimizer_names' and 'optimizer_values' differ in length")
    schedule = _array(arrays, "optimizer_schedule", "f", 1, fail)
    if (schedule.shape != (3,) or not np.isfinite(schedule).all() or schedule[0] not in _SCHEDULES
            or (schedule[0] in (_schedules.STEP_DECAY, _schedules.COSINE)
                and (schedule[1] != np.round(schedule[1]) or not 1 <= schedule[1] <= 2**53))):
        raise fail(f"invalid learning-rate schedule {schedule.tolist()} (expected [code, p1, p2], finite, "
                   f"code in {sorted(_SCHEDULES)})")
    import inspect

    signature = inspect.signature(cls.__init__).parameters
    kwargs = {}
    for key, value in zip(names, values):
        if key not in signature or key in ("self", "schedule"):
            raise fail(f"unknown {name} hyperparameter {key!r}")
        default = signature[key].default
        kwargs[key] = bool(value) if isinstance(default, bool) else float(value)
    try:
        kwargs["schedule"] = _SCHEDULES[int(schedule[0])](float(schedule[1]), float(schedule[2]))
        optimizer = cls(**kwargs)
    except (TypeError, ValueError, OverflowError) as exc:
        raise fail(f"invalid optimizer settings: {exc}") from None
    optimizer.bind(net.n_parameters, net.dtype, net)
    if "optimizer_state" in arrays:
        state = _array(arrays, "optimizer_state", "f", 2, fail)
        if state.dtype != net.dtype or state.shape != optimizer.state.shape:
            raise fail(f"'optimizer_state' must be {np.dtype(net.dtype).name} of shape "
                       f"{optimizer.state.shape}, got {state.dtype} of shape {state.shape}")
        if not np.isfinite(state).all():
            raise fail("'optimizer_state' contains NaN or infinity")
        optimizer.state[...] = state
    steps = int(_scalar(arrays, "optimizer_steps", "i", fail))
    if steps < 0:
        raise fail(f"'optimizer_steps' must be >= 0, got {steps}")
    optimizer.steps = steps
    return optimizer


def _checksum(arrays):
    digest = hashlib.sha256()
    for key in sorted(arrays):
        array = np.ascontiguousarray(arrays[key])
        digest.update(key.encode("utf-8") + b"\0")
        digest.update(array.dtype.str.encode("ascii") + b"\0")
        digest.update(repr(array.shape).encode("ascii") + b"\0")
        digest.update(array.tobytes())
    return digest.hexdigest()


def _array(arrays, key, kinds, ndim, fail):
    value = arrays[key]
    if not isinstance(value, np.ndarray) or value.dtype.kind not in kinds or value.ndim != ndim:
        what = f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray) else type(value)
        raise fail(f"entry {key!r} has the wrong type ({what})")
    return value


def _scalar(arrays, key, kinds, fail):
    return _array(arrays, key, kinds, 0, fail)[()]


def _text(arrays, key, fail):
    return str(_scalar(arrays, key, "U", fail))


def _fastbp_version():
    from . import __version__

    return __version__


# ---------------------------------------------------------------- files
def _check_path(path):
    if isinstance(path, (str, os.PathLike)) and not isinstance(path, bytes):
        text = os.fspath(path)
        if isinstance(text, str):
            if not text:
                raise ValueError("path must be a non-empty file name")
            return text
    raise TypeError(f"path must be a str or os.PathLike file name, got {type(path).__name__} {path!r}")


def _write_npz(file, arrays):
    """Write ``arrays`` as an (uncompressed) ``.npz`` archive to an open binary file."""
    np.savez(file, **arrays)


def save(net, path, extra=None):
    """Save ``net`` (architecture, parameters, optimizer and RNG state) to ``path``.

    The file is a NumPy ``.npz`` archive (layout in this module's docstring),
    written atomically: the data go to a temporary file in the same
    directory, which is flushed, ``fsync``-ed and then renamed over
    ``path``.  If anything fails, an existing file at ``path`` is left as it
    was and the temporary file is removed.  ``path`` is used exactly as given
    (no ``.npz`` is appended).

    Parameters
    ----------
    net : Network
    path : str or os.PathLike
        Destination file name.
    extra : dict of str -> array-like, optional
        Extra arrays to store with the model (numeric, bool or string;
        never objects), returned by ``load(path, return_extra=True)``.

    Raises
    ------
    TypeError
        If ``path`` is not a file name or ``net`` not a Network.
    ValueError
        If the optimizer is not one fastbp can save.
    OSError
        If the file cannot be written.

    Examples
    --------
    >>> net.save("model.npz")                                   # doctest: +SKIP
    >>> net2 = fastbp.load("model.npz")                         # doctest: +SKIP
    """
    target = _check_path(path)
    arrays = to_arrays(net, extra)
    directory = os.path.dirname(os.path.abspath(target))
    base = os.path.basename(target)
    while True:
        temp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        break
    try:
        with os.fdopen(fd, "wb") as file:
            _write_npz(file, arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, target)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    _fsync_directory(directory)


def _fsync_directory(directory):
    """Make the rename durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def load(path, return_extra=False):
    """Load a network saved with :meth:`Network.save` / :func:`save`.

    Loading never executes code from the file (``allow_pickle=False``).  The
    network comes back with its optimizer, optimizer state, shuffling RNG
    state and counters, so ``fit`` continues exactly as if never saved.

    Parameters
    ----------
    path : str or os.PathLike
    return_extra : bool
        Also return the ``extra`` arrays given to :func:`save`.

    Returns
    -------
    net : Network
    extra : dict of str -> ndarray
        Only with ``return_extra``.

    Raises
    ------
    TypeError
        If ``path`` is not a file name.
    FileNotFoundError, IsADirectoryError, PermissionError
        If the file cannot be opened.
    ValueError
        If the file is not a fastbp model (foreign, truncated or corrupted)
        or was written by a newer fastbp; the message names the file.
    """
    target = _check_path(path)
    source = repr(target)
    with open(target, "rb") as probe:  # OSErrors (missing file ...) surface as they are
        head = probe.read(4)
    if not head:
        raise ValueError(f"cannot load {source}: the file is empty")
    if head[:2] != b"PK":
        what = "a .npy array" if head == b"\x93NUM" else "not a zip/.npz archive"
        raise ValueError(f"cannot load {source}: not a fastbp model file ({what})")
    try:
        with np.load(target, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
    except Exception as exc:  # zipfile.BadZipFile, zlib.error, EOFError, ValueError ...
        raise ValueError(f"cannot load {source}: the file is truncated or corrupted "
                         f"({type(exc).__name__}: {exc})") from None
    net, extra = from_arrays(arrays, source)
    return (net, extra) if return_extra else net


__all__ = ["save", "load", "to_arrays", "from_arrays", "FORMAT_VERSION"]
