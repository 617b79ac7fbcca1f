"""The command line, run in-process through ``main([...])`` (plus one subprocess)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastbp
from fastbp import cli
from fastbp.__main__ import main


def _rows(n=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    score = X[:, 0] + 0.5 * X[:, 1]
    labels = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
    return X, labels, score


@pytest.fixture
def csv_file(tmp_path):
    X, labels, _ = _rows()
    path = tmp_path / "train.csv"
    lines = ["a,b,c,kind"] + [f"{x[0]:.6f},{x[1]:.6f},{x[2]:.6f},{k}" for x, k in zip(X, labels)]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def npy_file(tmp_path):
    X, _, score = _rows()
    path = tmp_path / "train.npy"
    np.save(path, np.column_stack([X, score]))
    return path


def _error_line(capsys):
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert lines[0].startswith("fastbp: error: ")
    assert "Traceback" not in captured.err
    return lines[0]


def test_console_entry_is_main_of_dunder_main():
    assert callable(main)
    import fastbp.__main__ as entry

    assert entry.main is main


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["predict", "--help"],
                                  ["evaluate", "--help"], ["demo", "--help"], ["info", "--help"]])
def test_help_for_every_command(argv, capsys):
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: fastbp")
    if argv[0] == "train":
        for option in ("--target", "--layers", "--activation", "--output", "--loss", "--task", "--optimizer",
                       "--lr", "--epochs", "--batch-size", "--threads", "--out"):
            assert option in out


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"fastbp {fastbp.__version__}"


def test_train_predict_evaluate_csv_with_text_labels(tmp_path, csv_file, capsys):
    model = tmp_path / "kind.npz"
    assert main(["train", str(csv_file), "--target", "kind", "--layers", "8,4", "--activation", "tanh",
                 "--epochs", "30", "--batch-size", "8", "--lr", "0.01", "--threads", "1", "--out", str(model),
                 "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "classify, 3 classes" in captured.out and captured.err == ""
    assert "30 epochs" in captured.out and f"saved {model}" in captured.out
    net, extra = fastbp.io.load(model, return_extra=True)
    assert net.sizes == [3, 8, 4, 3] and net.activations == ["tanh", "tanh"]
    assert (net.output, net.loss_name, net.dtype) == ("softmax", "cross_entropy", np.float32)
    assert list(extra["classes"]) == ["high", "low", "mid"]
    assert list(extra["feature_names"]) == ["a", "b", "c"]

    assert main(["predict", str(model), str(csv_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 61
    assert set(lines[1:]) <= {"high", "low", "mid"}
    truth = [line.rsplit(",", 1)[1] for line in csv_file.read_text().splitlines()[1:]]
    assert np.mean([p == t for p, t in zip(lines[1:], truth)]) > 0.7

    assert main(["predict", str(model), str(csv_file), "--proba", "--out", str(tmp_path / "p.csv")]) == 0
    proba = (tmp_path / "p.csv").read_text().splitlines()
    assert proba[0] == "p_high,p_low,p_mid"
    assert abs(sum(float(v) for v in proba[1].split(",")) - 1) < 1e-5

    assert main(["evaluate", str(model), str(csv_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["samples"] == 60 and result["accuracy"] > 0.7 and result["loss"] > 0
    assert main(["evaluate", str(model), str(csv_file)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["samples", "60"] and "accuracy" in out


def test_predict_selects_feature_columns_by_name(tmp_path, csv_file, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", str(csv_file), "--target", "kind", "--epochs", "1", "--out", str(model), "--quiet"]) == 0
    lines = csv_file.read_text().splitlines()
    reordered = tmp_path / "reordered.csv"  # extra column, different order, no target column
    reordered.write_text("\n".join(
        ["c,extra,b,a"] + [f"{r.split(',')[2]},9,{r.split(',')[1]},{r.split(',')[0]}" for r in lines[1:]]) + "\n")
    capsys.readouterr()
    assert main(["predict", str(model), str(csv_file)]) == 0
    direct = capsys.readouterr().out
    assert main(["predict", str(model), str(reordered)]) == 0
    assert capsys.readouterr().out == direct


def test_train_regression_from_npy_last_column(tmp_path, npy_file, capsys):
    model = tmp_path / "reg.npz"
    assert main(["train", str(npy_file), "--task", "regress", "--layers", "16", "--optimizer", "sgd",
                 "--momentum", "0.9", "--lr", "0.01", "--epochs", "40", "--batch-size", "10", "--dtype",
                 "float64", "--threads", "1", "--out", str(model)]) == 0
    net = fastbp.load(model)
    assert net.sizes == [3, 16, 1] and net.loss_name == "mse" and net.dtype == np.float64
    assert isinstance(net.optimizer, fastbp.SGD) and net.optimizer.momentum == 0.9
    capsys.readouterr()
    out_csv = tmp_path / "pred.csv"
    assert main(["predict", str(model), str(npy_file), "--target", "-1", "--out", str(out_csv)]) == 0
    pred = np.loadtxt(out_csv, delimiter=",", skiprows=1)
    data = np.load(npy_file)
    assert pred.shape == (60,)
    assert np.corrcoef(pred, data[:, -1])[0, 1] > 0.9
    assert main(["evaluate", str(model), str(npy_file), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert "accuracy" not in result and result["loss"] < 0.2


def test_binary_task_uses_sigmoid_and_bce(tmp_path, capsys):
    X, _, score = _rows()
    path = tmp_path / "bin.csv"
    path.write_text("\n".join(f"{x[0]},{x[1]},{x[2]},{int(s > 0)}" for x, s in zip(X, score)) + "\n")
    model = tmp_path / "bin.npz"
    assert main(["train", str(path), "--epochs", "20", "--lr", "0.01", "--batch-size", "8", "--out",
                 str(model), "--quiet"]) == 0
    net = fastbp.load(model)
    assert (net.output, net.loss_name, net.n_outputs) == ("sigmoid", "binary_cross_entropy", 1)
    capsys.readouterr()
    assert main(["predict", str(model), str(path), "--target", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "prediction" and set(lines[1:]) <= {"0", "1"}


def test_resume_continues_exactly(tmp_path, npy_file):
    common = ["--task", "regress", "--layers", "5", "--batch-size", "7", "--threads", "1", "--quiet"]
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", str(npy_file), *common, "--epochs", "2", "--out", str(a)]) == 0
    assert main(["train", str(npy_file), *common, "--epochs", "2", "--resume", str(a), "--out", str(a)]) == 0
    assert main(["train", str(npy_file), *common, "--epochs", "4", "--out", str(b)]) == 0
    assert np.array_equal(fastbp.load(a).parameters, fastbp.load(b).parameters)


def test_training_options_reach_fit(tmp_path, npy_file, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", str(npy_file), "--task", "regress", "--epochs", "50", "--validation-split", "0.2",
                 "--early-stopping", "2", "--lr", "0.05", "--optimizer", "adamw", "--weight-decay", "0.1",
                 "--out", str(model), "--verbose"]) == 0
    captured = capsys.readouterr()
    assert "epoch 1/50" in captured.err
    assert "val_loss" in captured.out
    net = fastbp.load(model)
    assert isinstance(net.optimizer, fastbp.AdamW) and net.optimizer.weight_decay == 0.1


def test_divergence_is_exit_status_1(tmp_path, npy_file, capsys):
    data = np.load(npy_file)
    data[:, -1] *= 1e30
    path = tmp_path / "huge.npy"
    np.save(path, data)
    status = main(["train", str(path), "--task", "regress", "--optimizer", "sgd", "--lr", "10", "--epochs", "5",
                   "--out", str(tmp_path / "m.npz"), "--quiet"])
    assert status == 1
    assert "diverged" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()


def test_interrupted_training_still_saves(tmp_path, npy_file, monkeypatch, capsys):
    def interrupted_fit(self, X, Y, **kwargs):
        history = fastbp.History()
        history.append({"loss": 1.0})
        history.interrupted = True
        return history

    monkeypatch.setattr(fastbp.Network, "fit", interrupted_fit)
    model = tmp_path / "m.npz"
    assert main(["train", str(npy_file), "--task", "regress", "--out", str(model), "--quiet"]) == cli.INTERRUPTED
    assert model.exists() and "(interrupted)" in capsys.readouterr().out


def test_demo_calls_fastbp_demo_run(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("fastbp.demo.run", lambda **kw: calls.append(kw))
    assert main(["demo", "--epochs", "3", "--batch-size", "16", "--threads", "1"]) == 0
    assert calls[0]["epochs"] == 3 and calls[0]["batch_size"] == 16 and calls[0]["n_threads"] == 1
    assert main(["demo"]) == 0
    assert calls[1]["epochs"] == 20 and calls[1]["batch_size"] == 32 and calls[1]["n_threads"] is None


def test_demo_runs_for_real(capsys):
    assert main(["demo", "--epochs", "1", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "fastbp demo:" in out and "epoch   1" in out and "test accuracy" in out


def test_info(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for label in ("fastbp", "numpy", "numba", "scipy", "python", "numba threading layer", "threads", "BLAS",
                  "numba cache"):
        assert label in out
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["fastbp"] == fastbp.__version__
    import numba

    assert info["threading_layer"] == numba.threading_layer()
    assert info["threads"] == numba.config.NUMBA_NUM_THREADS
    assert isinstance(info["blas"], list) and info["numba_cache_dir"]
    assert info["kernel_blas"].startswith("SciPy's OpenBLAS")


# ------------------------------------------------------------------ errors: one line, status 2
def test_bad_arguments_and_files(tmp_path, csv_file, npy_file, capsys):
    text = tmp_path / "model.txt"
    text.write_text("not a model")
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("1,2,3\n4,5\n")
    words = tmp_path / "words.csv"
    words.write_text("a,b,y\n1,2,0\n3,oops,1\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    wide = tmp_path / "wide.npy"
    np.save(wide, np.zeros((4, 5)))
    model = tmp_path / "m.npz"
    assert main(["train", str(csv_file), "--target", "kind", "--epochs", "1", "--out", str(model), "--quiet"]) == 0
    reg = tmp_path / "reg.npz"
    assert main(["train", str(npy_file), "--task", "regress", "--epochs", "1", "--out", str(reg), "--quiet"]) == 0
    capsys.readouterr()
    cases = [
        ([], "required: command"),
        (["fly"], "invalid choice"),
        (["train"], "required: data"),
        (["train", str(tmp_path / "missing.csv")], "No such file"),
        (["train", str(csv_file), "--layers", "8,x"], "--layers"),
        (["train", str(csv_file), "--layers", "0"], "--layers"),
        (["train", str(csv_file), "--epochs", "-1"], "--epochs"),
        (["train", str(csv_file), "--batch-size", "0"], "--batch-size"),
        (["train", str(csv_file), "--lr", "abc"], "--lr"),
        (["train", str(csv_file), "--optimizer", "lbfgs"], "--optimizer"),
        (["train", str(csv_file), "--activation", "softplus"], "softplus"),
        (["train", str(csv_file), "--target", "nope"], "no column 'nope'"),
        (["train", str(csv_file), "--target", "9"], "out of range"),
        (["train", str(csv_file), "--task", "regress", "--target", "kind"], "not numeric"),
        (["train", str(csv_file), "--loss", "binary_cross_entropy", "--target", "kind"], "2 classes"),
        (["train", str(csv_file), "--output", "identity", "--target", "kind"], "loss='cross_entropy' needs"),
        (["train", str(csv_file), "--activation", "relu,tanh", "--layers", "4"], "2 names for 1 hidden"),
        (["train", str(csv_file), "--optimizer", "adam", "--momentum", "0.5"], "--momentum applies"),
        (["train", str(csv_file), "--threads", "100000"], "--threads: at most"),
        (["train", str(ragged)], "line 2: 2 fields, expected 3"),
        (["train", str(words)], "line 3, column 'b': 'oops' is not a number"),
        (["train", str(empty)], "is empty"),
        (["train", str(csv_file), "--out", str(tmp_path / "no" / "dir.npz"), "--epochs", "1"], "cannot write"),
        (["predict", str(text), str(csv_file)], "not a fastbp model"),
        (["predict", str(tmp_path / "none.npz"), str(csv_file)], "No such file"),
        (["predict", str(reg), str(npy_file)], "pass --target"),
        (["predict", str(reg), str(npy_file), "--target", "-1", "--proba"], "--proba needs a classification"),
        (["evaluate", str(model), str(wide)], "4 feature columns"),
        (["evaluate", str(model), str(npy_file)], "labels the model does not know"),
        (["evaluate", str(model), str(csv_file), "--target", "a"], "labels the model does not know"),
        (["info", "--bogus"], "unrecognized arguments"),
    ]
    for argv, message in cases:
        assert main(argv) == 2, argv
        line = _error_line(capsys)
        assert message in line, (argv, line)


def test_subprocess_smoke(tmp_path, npy_file):
    env = dict(os.environ, NUMBA_NUM_THREADS="1")
    model = tmp_path / "m.npz"
    done = subprocess.run([sys.executable, "-m", "fastbp", "train", str(npy_file), "--task", "regress",
                           "--epochs", "2", "--out", str(model)], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert "saved" in done.stdout and model.exists()
    bad = subprocess.run([sys.executable, "-m", "fastbp", "predict", str(model), str(tmp_path / "nope.csv")],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("fastbp: error:") and len(bad.stderr.strip().splitlines()) == 1
