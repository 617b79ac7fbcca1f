"""repr, summary table and computation graph of a Network."""
import numpy as np
import pytest

import fastbp
from fastbp import summary as summary_module
from fastbp.summary import graph, network_repr, summary

TUTORIAL_003 = dict(activation="relu", output="identity", loss="mse", bias=False,
                    weights=[[[0.5, 0.2], [0.3, 0.7]], [[0.6, 0.8]]], dtype=np.float64)


def test_repr_is_one_constructor_like_line():
    net = fastbp.Network([64, 128, 10], activation="relu", output="softmax", loss="cross_entropy")
    text = repr(net)
    assert "\n" not in text
    assert text == ("Network([64, 128, 10], activation='relu', output='softmax', "
                    "loss='cross_entropy', dtype=np.float32)")


@pytest.mark.parametrize("kwargs", [
    dict(sizes=[3, 1]),
    dict(sizes=[4, 5, 6, 2], activation=["tanh", "leaky_relu"], output="sigmoid",
         loss="binary_cross_entropy", dtype=np.float64, bias=False, leaky_slope=0.25),
    dict(sizes=[2, 3, 3], activation="sigmoid", output="softmax", loss="cross_entropy"),
])
def test_repr_evaluates_to_the_same_architecture(kwargs):
    net = fastbp.Network(**kwargs)
    rebuilt = eval(repr(net), {"Network": fastbp.Network, "np": np})
    for attr in ("sizes", "activations", "output", "loss_name", "dtype", "bias", "leaky_slope"):
        assert getattr(rebuilt, attr) == getattr(net, attr)
    assert repr(rebuilt) == repr(net)


def test_summary_table_of_tutorial_003():
    net = fastbp.Network([2, 2, 1], **TUTORIAL_003)
    text = net.summary()
    assert text == summary(net)
    lines = text.splitlines()
    assert lines[0] == repr(net)
    assert lines[1].split() == ["layer", "weights", "(n_out,", "n_in)", "bias", "activation", "parameters"]
    assert lines[4].split() == ["1", "(2,", "2)", "-", "relu", "4"]
    assert lines[5].split() == ["2", "(1,", "2)", "-", "identity", "2"]
    assert "total parameters: 6 (weights 6, biases 0)" in text
    assert "dtype: float64 (48 B of parameters)" in text
    assert "loss: mse" in text and "½‖y − t‖²" in text
    assert "optimizer: none yet" in text


def test_summary_counts_biases_and_shows_optimizer():
    net = fastbp.Network([64, 128, 32, 10], activation=["relu", "tanh"], output="softmax",
                         loss="cross_entropy", seed=0)
    X = np.random.default_rng(0).random((8, 64)).astype(np.float32)
    net.fit(X, np.arange(8) % 10, epochs=1, batch_size=4, optimizer=fastbp.Adam(lr=0.01))
    text = net.summary()
    rows = {line.split()[0]: line.split() for line in text.splitlines()[3:7]}
    assert rows["input"] == ["input", "(64,)"]
    assert rows["1"] == ["1", "(128,", "64)", "(128,)", "relu", "8,320"]
    assert rows["2"] == ["2", "(32,", "128)", "(32,)", "tanh", "4,128"]
    assert rows["3"] == ["3", "(10,", "32)", "(10,)", "softmax", "330"]
    assert f"total parameters: {net.n_parameters:,}" in text
    assert net.n_parameters == 8320 + 4128 + 330
    assert "(weights 12,608, biases 170)" in text
    assert "dtype: float32 (49.9 KiB" in text
    assert "optimizer: Adam(lr=0.01" in text and "2 steps taken" in text


def test_graph_of_tutorial_003_line_form():
    net = fastbp.Network([2, 2, 1], **TUTORIAL_003)
    assert graph(net, style="line") == (
        "x (2,) -> [W1 (2, 2)] -> h1 (2,) -> [relu] -> a1 (2,) -> [W2 (1, 2)] -> y (1,) "
        "-> [mse loss ½‖y − t‖²] -> L ()")


def test_graph_vertical_form_follows_the_tutorial_drawing():
    net = fastbp.Network([2, 2, 1], **TUTORIAL_003)
    text = net.graph()
    assert text == graph(net)
    nodes = [line.split("    ")[0].strip() for line in text.splitlines() if line.strip() not in ("|", "v")]
    assert nodes == ["x (2,)", "[W1 (2, 2)]", "h1 (2,)", "[relu]", "a1 (2,)", "[W2 (1, 2)]", "y (1,)",
                     "[mse loss]", "L ()"]
    arrows = [line.strip() for line in text.splitlines() if line.strip() in ("|", "v")]
    assert arrows == ["|", "v"] * (len(nodes) - 1)
    assert "h1 = W1 x" in text and "a1 = relu(h1)" in text and "y = W2 a1" in text
    assert "L = ½‖y − t‖²" in text


def test_graph_with_bias_softmax_and_depth():
    net = fastbp.Network([4, 5, 3, 2], activation=["tanh", "sigmoid"], output="softmax",
                         loss="cross_entropy")
    line = graph(net, style="line")
    assert line.startswith("x (4,) -> [W1 (5, 4) + b1 (5,)] -> h1 (5,) -> [tanh] -> a1 (5,) -> "
                           "[W2 (3, 5) + b2 (3,)] -> h2 (3,) -> [sigmoid] -> a2 (3,) -> "
                           "[W3 (2, 3) + b3 (2,)] -> h3 (2,) -> [softmax] -> y (2,) -> [cross_entropy loss")
    assert line.endswith("-> L ()")
    text = net.graph()
    assert "h3 = W3 a2 + b3" in text and "y = softmax(h3)" in text
    assert "target t (2,)" in text


def test_graph_without_hidden_layer_and_bce():
    net = fastbp.Network([3, 1], output="sigmoid", loss="binary_cross_entropy")
    assert graph(net, style="line") == (
        "x (3,) -> [W1 (1, 3) + b1 (1,)] -> h1 (1,) -> [sigmoid] -> y (1,) -> "
        f"[binary_cross_entropy loss {summary_module.LOSS_FORMULAS['binary_cross_entropy']}] -> L ()")


def test_bad_arguments():
    net = fastbp.Network([2, 1])
    with pytest.raises(ValueError, match="style"):
        graph(net, style="dot")
    for function in (network_repr, summary, graph):
        with pytest.raises(TypeError, match="Network"):
            function("not a network")
