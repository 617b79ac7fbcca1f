"""Seeing a network: its repr, a summary table, and its computation graph.

* :func:`network_repr` is ``repr(net)``: one line, in the form of the
  constructor call that builds the same architecture.
* :func:`summary` is ``net.summary()``: a table of the layers (weight shape
  ``(n_out, n_in)``, bias, activation, parameter count) with totals, dtype,
  loss and optimizer.
* :func:`graph` is ``net.graph()``: the forward computation graph drawn as
  text the way tutorial 003 draws it (input → W1 → h → ReLU → z → W2 → y →
  loss), one node per line, with the shape of every value.
"""
import numpy as np

from .network import Network

# The per-sample loss each loss name computes, written in the graph's symbols.
LOSS_FORMULAS = {
    "mse": "½‖y − t‖²",
    "binary_cross_entropy": "−Σ [t log y + (1 − t) log(1 − y)]",
    "cross_entropy": "−Σ t log y",
}


def _check(net):
    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp Network, got {type(net).__name__}")


def network_repr(net):
    """One-line, constructor-like description of ``net`` (its ``repr``).

    Arguments equal to the constructor's defaults (``bias=True``,
    ``leaky_slope=0.01``) are left out; the activation is omitted when there
    is no hidden layer and given as a list when the hidden layers differ.

    Parameters
    ----------
    net : Network

    Returns
    -------
    str
        For example ``Network([64, 128, 10], activation='relu',
        output='softmax', loss='cross_entropy', dtype=np.float32)``.
    """
    _check(net)
    parts = [repr(list(net.sizes))]
    if net.activations:
        same = len(set(net.activations)) == 1
        parts.append(f"activation={net.activations[0] if same else list(net.activations)!r}")
    parts += [f"output={net.output!r}", f"loss={net.loss_name!r}", f"dtype=np.{np.dtype(net.dtype).name}"]
    if not net.bias:
        parts.append("bias=False")
    if net.leaky_slope != 0.01:
        parts.append(f"leaky_slope={net.leaky_slope!r}")
    return f"Network({', '.join(parts)})"


def _layer_rows(net):
    """(index, weight shape, bias shape or None, activation, parameter count) per layer."""
    rows = []
    n_layers = len(net.sizes) - 1
    for l in range(n_layers):
        n_in, n_out = net.sizes[l], net.sizes[l + 1]
        activation = net.activations[l] if l < n_layers - 1 else net.output
        count = n_in * n_out + (n_out if net.bias else 0)
        rows.append((l + 1, (n_out, n_in), (n_out,) if net.bias else None, activation, count))
    return rows


def _table(header, rows, align):
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells):
        text = "  ".join(str(c).rjust(w) if a == ">" else str(c).ljust(w)
                         for c, w, a in zip(cells, widths, align))
        return text.rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [line(header), rule] + [line(r) for r in rows] + [rule]


def summary(net):
    """A text table of the layers of ``net``, with totals.

    One row per layer: its index, the weight shape ``(n_out, n_in)`` (the
    tutorials' convention), the bias shape, the activation and the number of
    parameters; then the totals, the dtype (with the memory the parameters
    take), the loss and the optimizer.

    Parameters
    ----------
    net : Network

    Returns
    -------
    str

    Examples
    --------
    >>> print(Network([2, 2, 1], bias=False).summary())   # doctest: +SKIP
    Network([2, 2, 1], activation='relu', output='identity', loss='mse', ...)
    layer  weights (n_out, n_in)  bias  activation  parameters
    -----  ---------------------  ----  ----------  ----------
    input                    (2,)
        1                  (2, 2)     -        relu           4
        2                  (1, 2)     -    identity           2
    ...
    """
    _check(net)
    rows = [("input", f"({net.sizes[0]},)", "", "", "")]
    n_weights = 0
    for index, w_shape, b_shape, activation, count in _layer_rows(net):
        n_weights += w_shape[0] * w_shape[1]
        rows.append((str(index), str(w_shape), str(b_shape) if b_shape else "-", activation, f"{count:,}"))
    total = net.n_parameters
    lines = [network_repr(net)]
    lines += _table(("layer", "weights (n_out, n_in)", "bias", "activation", "parameters"), rows,
                    ("<", ">", ">", "<", ">"))
    itemsize = np.dtype(net.dtype).itemsize
    lines.append(f"total parameters: {total:,} (weights {n_weights:,}, biases {total - n_weights:,})")
    lines.append(f"dtype: {np.dtype(net.dtype).name} ({_bytes(total * itemsize)} of parameters)")
    lines.append(f"loss: {net.loss_name} (per sample {LOSS_FORMULAS[net.loss_name]}, averaged over a batch)")
    opt = net.optimizer
    if opt is None:
        lines.append("optimizer: none yet (fit uses SGD(lr=0.01) unless given one)")
    else:
        lines.append(f"optimizer: {opt!r}, {opt.steps:,} steps taken")
    return "\n".join(lines)


def _bytes(n):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024.0


def _graph_nodes(net):
    """The graph as a list of (kind, text, note): kind is 'value' or 'op'."""
    nodes = [("value", f"x ({net.sizes[0]},)", "input")]
    n_layers = len(net.sizes) - 1
    previous = "x"
    for index, (n_out, n_in), b_shape, activation, _ in _layer_rows(net):
        last = index == n_layers
        weight = f"W{index} ({n_out}, {n_in})"
        affine = f"W{index} {previous}"
        if b_shape:
            weight += f" + b{index} ({n_out},)"
            affine += f" + b{index}"
        h = "y" if last and activation == "identity" else f"h{index}"
        nodes.append(("op", weight, f"{h} = {affine}"))
        nodes.append(("value", f"{h} ({n_out},)", "output" if h == "y" else "pre-activation"))
        if h != "y":
            a = "y" if last else f"a{index}"
            nodes.append(("op", activation, f"{a} = {activation}({h})"))
            nodes.append(("value", f"{a} ({n_out},)", "output" if last else "activation"))
            previous = a
    nodes.append(("op", f"{net.loss_name} loss", f"L = {LOSS_FORMULAS[net.loss_name]}, target t ({net.sizes[-1]},)"))
    nodes.append(("value", "L ()", "scalar loss"))
    return nodes


def graph(net, style="vertical"):
    """The forward computation graph of ``net`` as text (tutorial 003's form).

    Values (``x``, ``h1`` pre-activations, ``a1`` activations, the output
    ``y``, the loss ``L``) alternate with the operations that make them
    (``[W1 (n_out, n_in) + b1 (n_out,)]``, ``[relu]``, ``[mse loss]``), each
    with its shape.  With an identity output the last affine map produces
    ``y`` directly, as in the tutorial (``y = W2 z``).

    Parameters
    ----------
    net : Network
    style : {"vertical", "line"}
        ``"vertical"``: one node per line, joined by ``|`` and ``v`` arrows,
        each line annotated with its formula.  ``"line"``: the whole graph on
        one line joined by ``->``.

    Returns
    -------
    str

    Examples
    --------
    Tutorial 003's network (``h = W1 x``, ``z = ReLU(h)``, ``y = W2 z``):

    >>> net = Network([2, 2, 1], activation="relu", bias=False)
    >>> print(graph(net, style="line"))
    x (2,) -> [W1 (2, 2)] -> h1 (2,) -> [relu] -> a1 (2,) -> [W2 (1, 2)] -> y (1,) -> [mse loss ½‖y − t‖²] -> L ()
    """
    _check(net)
    if style not in ("vertical", "line"):
        raise ValueError(f"style must be 'vertical' or 'line', got {style!r}")
    nodes = _graph_nodes(net)
    if style == "line":
        parts = []
        for kind, text, _ in nodes:
            if kind == "op" and text.endswith(" loss"):
                text = f"{text} {LOSS_FORMULAS[net.loss_name]}"
            parts.append(f"[{text}]" if kind == "op" else text)
        return " -> ".join(parts)
    labels = [f"[{text}]" if kind == "op" else text for kind, text, _ in nodes]
    width = max(len(label) for label in labels) + 4
    lines = []
    for i, (label, (_, _, note)) in enumerate(zip(labels, nodes)):
        if i:
            lines += ["    |", "    v"]
        lines.append(f"{label.ljust(width)}{note}".rstrip())
    return "\n".join(lines)


__all__ = ["network_repr", "summary", "graph", "LOSS_FORMULAS"]
