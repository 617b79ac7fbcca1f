"""Saving and loading: exact resumption, atomic writes, refusal of bad files."""
import os
import pickle
import zipfile

import numpy as np
import pytest

import fastbp
from fastbp import io


def _data(n=40, n_in=5, n_classes=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, n_in)).astype(dtype)
    y = rng.integers(0, n_classes, size=n)
    return X, y


def _net(dtype=np.float32, **kw):
    options = dict(activation="tanh", output="softmax", loss="cross_entropy", seed=3, dtype=dtype)
    options.update(kw)
    return fastbp.Network([5, 7, 3], **options)


OPTIMIZERS = {
    "adam": lambda: fastbp.Adam(lr=0.01),
    "sgd-momentum": lambda: fastbp.SGD(lr=0.05, momentum=0.9),
    "sgd-nesterov-step": lambda: fastbp.SGD(lr=0.05, momentum=0.5, nesterov=True, weight_decay=1e-3,
                                            schedule=fastbp.StepDecay(2, 0.5)),
    "rmsprop-centered-cosine": lambda: fastbp.RMSProp(lr=0.01, momentum=0.3, centered=True,
                                                      schedule=fastbp.Cosine(4, 1e-4)),
    "adamw-exponential": lambda: fastbp.AdamW(lr=0.01, schedule=fastbp.Exponential(0.9)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_save_load_fit_equals_uninterrupted_fit(tmp_path, name):
    X, y = _data()
    a = _net()
    a.fit(X, y, epochs=3, batch_size=8, optimizer=OPTIMIZERS[name](), shuffle=True)
    path = tmp_path / "a.npz"
    a.save(path)
    resumed = fastbp.load(path)
    resumed.fit(X, y, epochs=3, batch_size=8, shuffle=True)

    b = _net()
    b.fit(X, y, epochs=6, batch_size=8, optimizer=OPTIMIZERS[name](), shuffle=True)
    assert np.array_equal(resumed.parameters, b.parameters)
    assert np.array_equal(resumed.optimizer.state, b.optimizer.state)
    assert resumed.optimizer.steps == b.optimizer.steps
    assert np.array_equal(resumed._counters, b._counters)
    assert np.array_equal(resumed._rng_state, b._rng_state)


def test_resume_float64_mse_no_bias(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(30, 4))
    Y = rng.normal(size=(30, 2))

    def make():
        return fastbp.Network([4, 6, 5, 2], activation=["leaky_relu", "sigmoid"], loss="mse", bias=False,
                              dtype=np.float64, seed=11, leaky_slope=0.2)

    a = make()
    a.fit(X, Y, epochs=2, batch_size=7, optimizer=fastbp.Adam(lr=0.01))
    a.save(tmp_path / "m.npz")
    resumed = fastbp.load(tmp_path / "m.npz")
    resumed.fit(X, Y, epochs=2, batch_size=7)
    b = make()
    b.fit(X, Y, epochs=4, batch_size=7, optimizer=fastbp.Adam(lr=0.01))
    assert np.array_equal(resumed.parameters, b.parameters)


def test_round_trip_keeps_everything(tmp_path):
    net = fastbp.Network([3, 4, 4, 1], activation=["relu", "leaky_relu"], output="sigmoid",
                         loss="binary_cross_entropy", dtype=np.float64, seed=None, bias=False, leaky_slope=0.3)
    path = tmp_path / "net.model"  # any name: no extension is added
    io.save(net, str(path))
    assert os.listdir(tmp_path) == ["net.model"]
    back = fastbp.load(path)
    assert back.sizes == net.sizes
    assert back.activations == net.activations
    assert (back.output, back.loss_name, back.dtype, back.bias) == ("sigmoid", "binary_cross_entropy",
                                                                     np.float64, False)
    assert back.leaky_slope == 0.3
    assert back.seed is None
    assert back.optimizer is None
    assert np.array_equal(back.parameters, net.parameters)
    assert back.parameters.dtype == np.float64
    X = np.random.default_rng(0).normal(size=(5, 3))
    assert np.array_equal(back.forward(X), net.forward(X))


def test_extra_arrays_round_trip(tmp_path):
    net = _net()
    classes = np.array(["cat", "dog", "emu"])
    io.save(net, tmp_path / "m.npz", extra={"classes": classes, "scale": np.arange(3.0)})
    back, extra = io.load(tmp_path / "m.npz", return_extra=True)
    assert np.array_equal(extra["classes"], classes)
    assert np.array_equal(extra["scale"], np.arange(3.0))
    with pytest.raises(TypeError, match="extra"):
        io.save(net, tmp_path / "x.npz", extra={"bad": np.array([object()])})
    with pytest.raises(ValueError, match="extra keys"):
        io.save(net, tmp_path / "x.npz", extra={"a/b": 1})


def test_layout_is_documented_and_readable_without_fastbp(tmp_path):
    net = fastbp.Network([2, 3, 1], seed=0, dtype=np.float64)
    net.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert int(data["fastbp_format"]) == io.FORMAT_VERSION
        P = data["parameters"]
        sizes = data["sizes"]
        keys = set(data.files)
    for key in keys - {"optimizer_names", "optimizer_values", "optimizer_schedule", "optimizer_state",
                       "optimizer_steps"}:
        assert f"``{key}``" in io.__doc__
    # Layer by layer: W (n_out * n_in, row-major), then b.
    offset = 0
    for l, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = P[offset:offset + n_in * n_out].reshape(n_out, n_in)
        offset += n_in * n_out
        b = P[offset:offset + n_out]
        offset += n_out
        assert np.array_equal(W, net.weights[l])
        assert np.array_equal(b, net.biases[l])
    assert offset == P.size


# ------------------------------------------------------------------ atomic writes
def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = _net(seed=1)
    old.save(path)
    before = path.read_bytes()

    def broken_writer(file, arrays):
        file.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(io, "_write_npz", broken_writer)
    with pytest.raises(OSError, match="simulated"):
        _net(seed=2).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    assert np.array_equal(fastbp.load(path).parameters, old.parameters)


def test_interrupt_during_rename_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    _net(seed=1).save(path)
    before = path.read_bytes()

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(io.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _net(seed=2).save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_replaces_existing_file(tmp_path):
    path = tmp_path / "model.npz"
    _net(seed=1).save(path)
    new = _net(seed=2)
    new.save(path)
    assert np.array_equal(fastbp.load(path).parameters, new.parameters)
    assert os.listdir(tmp_path) == ["model.npz"]


def test_save_into_missing_directory_is_an_oserror(tmp_path):
    with pytest.raises(FileNotFoundError):
        _net().save(tmp_path / "no" / "such" / "dir.npz")


# ------------------------------------------------------------------ bad files
@pytest.fixture(scope="module")
def saved_bytes(tmp_path_factory):
    net = _net()
    X, y = _data()
    net.fit(X, y, epochs=1, batch_size=16, optimizer=fastbp.Adam())
    path = tmp_path_factory.mktemp("good") / "good.npz"
    net.save(path)
    return path.read_bytes(), net


@pytest.mark.parametrize("tenth", range(10))
def test_truncated_file_is_a_clear_valueerror(tmp_path, saved_bytes, tenth):
    data, _ = saved_bytes
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:len(data) * tenth // 10])
    with pytest.raises(ValueError, match="cut.npz") as info:
        fastbp.load(path)
    assert "cannot load" in str(info.value)
    assert info.value.__context__ is None or info.value.__suppress_context__  # no chained traceback


def test_flipped_bytes_are_detected_or_harmless(tmp_path, saved_bytes):
    data, net = saved_bytes
    rng = np.random.default_rng(0)
    positions = sorted(set(rng.integers(0, len(data), size=60).tolist()) | {0, 5, len(data) - 1})
    path = tmp_path / "flipped.npz"
    detected = 0
    for pos in positions:
        corrupted = bytearray(data)
        corrupted[pos] ^= 0xFF
        path.write_bytes(bytes(corrupted))
        try:
            back = fastbp.load(path)
        except ValueError as exc:
            assert "flipped.npz" in str(exc)
            detected += 1
        else:  # a flip in zip metadata (a timestamp ...) may be harmless
            assert np.array_equal(back.parameters, net.parameters)
            assert np.array_equal(back.optimizer.state, net.optimizer.state)
    assert detected >= len(positions) // 2


def test_flip_inside_parameters_is_caught_by_checksum(tmp_path, saved_bytes):
    data, net = saved_bytes
    needle = net.parameters[3:6].tobytes()
    pos = data.index(needle)
    corrupted = bytearray(data)
    corrupted[pos] ^= 0x01
    path = tmp_path / "p.npz"
    path.write_bytes(bytes(corrupted))
    with pytest.raises(ValueError, match="p.npz.*(corrupted|CRC)"):
        fastbp.load(path)


def _rewrite(path, arrays):
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def test_foreign_files_are_refused(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, this is not a model\n")
    with pytest.raises(ValueError, match="notes.txt.*not a fastbp model"):
        fastbp.load(text)
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(ValueError, match="empty.npz"):
        fastbp.load(empty)
    npy = tmp_path / "array.npy"
    np.save(npy, np.arange(3))
    with pytest.raises(ValueError, match=r"array.npy.*\.npy array"):
        fastbp.load(npy)
    other = tmp_path / "other.npz"
    np.savez(other, a=np.arange(3), b=np.ones(2))
    with pytest.raises(ValueError, match="other.npz.*not a fastbp model"):
        fastbp.load(other)
    plain_zip = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain_zip, "w") as z:
        z.writestr("readme.txt", "hi")
    with pytest.raises(ValueError, match="plain.zip"):
        fastbp.load(plain_zip)


class _Boom:
    """Unpickling this would create a file: loading must never do it."""

    def __init__(self, flag):
        self.flag = flag

    def __reduce__(self):
        return (open, (self.flag, "w"))


def test_pickled_objects_are_never_executed(tmp_path, saved_bytes):
    flag = tmp_path / "pwned"
    arrays = io.to_arrays(saved_bytes[1])
    arrays["parameters"] = np.array([_Boom(str(flag))], dtype=object)
    path = tmp_path / "evil.npz"
    with open(path, "wb") as f:
        np.savez(f, allow_pickle=True, **arrays)
    with pytest.raises(ValueError, match="evil.npz"):
        fastbp.load(path)
    assert not flag.exists()
    assert pickle.loads(pickle.dumps(1)) == 1  # (pickle itself is fine; np.load just never uses it)


def test_newer_format_version_is_refused(tmp_path, saved_bytes):
    arrays = io.to_arrays(saved_bytes[1])
    arrays["fastbp_format"] = np.array(io.FORMAT_VERSION + 1, dtype=np.int64)
    path = tmp_path / "future.npz"
    _rewrite(path, arrays)
    with pytest.raises(ValueError, match=r"future.npz.*format version 2.*newer fastbp"):
        fastbp.load(path)


def _with_checksum(arrays):
    arrays = {k: v for k, v in arrays.items() if k != "checksum"}
    arrays["checksum"] = np.array(io._checksum(arrays))
    return arrays


@pytest.mark.parametrize("change, message", [
    (lambda a: a.pop("parameters"), "missing parameters"),
    (lambda a: a.__setitem__("parameters", a["parameters"][:-1]), "parameters"),
    (lambda a: a.__setitem__("parameters", a["parameters"].astype(np.float64)), "parameters"),
    (lambda a: a.__setitem__("sizes", np.array([5, 0, 3])), "invalid architecture"),
    (lambda a: a.__setitem__("loss", np.array("hinge")), "invalid architecture"),
    (lambda a: a.__setitem__("dtype", np.array("float16")), "dtype"),
    (lambda a: a.__setitem__("counters", np.zeros(2, np.int64)), "counters"),
    (lambda a: a.__setitem__("rng_state", np.zeros(1, np.int64)), "rng_state"),
    (lambda a: a.__setitem__("optimizer", np.array("Lion")), "unknown optimizer"),
    (lambda a: a.__setitem__("optimizer_state", a["optimizer_state"][:1]), "optimizer_state"),
    (lambda a: a.__setitem__("optimizer_values", a["optimizer_values"] * 0), "invalid optimizer"),
    (lambda a: a.__setitem__("output", np.array([1, 2])), "wrong type"),
    (lambda a: a.__setitem__("optimizer_schedule", np.array([np.nan, 0, 0])), "schedule"),
    (lambda a: a.__setitem__("optimizer_schedule", np.array([1.0, np.inf, 0.1])), "schedule"),
    (lambda a: a.__setitem__("optimizer_schedule", np.array([3.0, 2.5, 0.0])), "schedule"),
    (lambda a: a.__setitem__("optimizer_schedule", np.array([9.0, 0, 0])), "schedule"),
    (lambda a: a.__setitem__("optimizer_state", a["optimizer_state"] * np.nan), "optimizer_state"),
    (lambda a: a.__setitem__("parameters", a["parameters"] * np.nan), "NaN"),
    # Sizes are checked against the stored parameters before any allocation.
    (lambda a: a.__setitem__("sizes", np.array([2**40, 2**40, 2])), "need"),
    (lambda a: a.__setitem__("sizes", np.array([2**15, 2**15, 2])), "need"),
    (lambda a: a.__setitem__("sizes", np.array([5, -7, 3])), "invalid architecture"),
])
def test_inconsistent_entries_are_refused(tmp_path, saved_bytes, change, message):
    arrays = io.to_arrays(saved_bytes[1])
    change(arrays)
    path = tmp_path / "bad.npz"
    _rewrite(path, _with_checksum(arrays))
    with pytest.raises(ValueError, match=message):
        fastbp.load(path)


def test_edited_file_without_new_checksum_is_refused(tmp_path, saved_bytes):
    arrays = io.to_arrays(saved_bytes[1])
    arrays["parameters"] = arrays["parameters"] + 1
    path = tmp_path / "edited.npz"
    _rewrite(path, arrays)
    with pytest.raises(ValueError, match="edited.npz.*checksum"):
        fastbp.load(path)


@pytest.mark.parametrize("path", [3, None, b"model.npz", ["m.npz"]])
def test_bad_path_types_are_typeerrors(path):
    with pytest.raises(TypeError, match="path must be"):
        fastbp.load(path)
    with pytest.raises(TypeError, match="path must be"):
        _net().save(path)


def test_missing_file_is_filenotfound(tmp_path):
    with pytest.raises(FileNotFoundError):
        fastbp.load(tmp_path / "nope.npz")


def test_save_needs_a_network(tmp_path):
    with pytest.raises(TypeError, match="Network"):
        io.save("not a net", tmp_path / "m.npz")


def test_unknown_optimizer_class_cannot_be_saved(tmp_path):
    class MySGD(fastbp.SGD):
        pass

    net = _net()
    X, y = _data()
    net.fit(X, y, epochs=1, optimizer=MySGD())
    with pytest.raises(ValueError, match="MySGD"):
        net.save(tmp_path / "m.npz")
    assert not os.listdir(tmp_path)
