"""Gradient checking: backprop gradients against float64 central differences."""
import numpy as np

from .layout import B_OFF, W_OFF

# Relative error of an entry = |analytic − numeric| / max(|analytic|, |numeric|,
# floor), floor = max(RELATIVE_FLOOR · largest |gradient| of the layer,
# ABSOLUTE_FLOOR): central differences carry ~1e-10 of absolute round-off, which
# would otherwise read as a large relative error on entries that are (nearly)
# zero next to the rest of the layer.
RELATIVE_FLOOR = 1e-3
ABSOLUTE_FLOOR = 1e-8


class GradientCheck:
    """Result of :func:`gradcheck`.

    Attributes
    ----------
    layers : list of dict
        Per layer: ``weights`` and ``bias`` (None without bias), each the
        largest relative error over the checked entries, and ``checked``
        (how many parameters were perturbed).
    max_error : float
        The largest relative error over all layers.
    """

    def __init__(self, layers):
        self.layers = layers
        errors = [v for layer in layers for v in (layer["weights"], layer["bias"]) if v is not None]
        self.max_error = max(errors) if errors else 0.0

    def __repr__(self):
        lines = ["layer  max rel. error dW  max rel. error db  checked"]
        for l, layer in enumerate(self.layers, 1):
            db = "-" if layer["bias"] is None else f"{layer['bias']:.3e}"
            lines.append(f"{l:>5}  {layer['weights']:>17.3e}  {db:>17}  {layer['checked']:>7}")
        lines.append(f"max relative error: {self.max_error:.3e}")
        return "\n".join(lines)


def gradcheck(net, X, Y, epsilon=1e-6, max_checks=None, seed=0):
    """Compare every backprop gradient with float64 central differences.

    The network is copied to float64 (``net`` itself is not changed); for each
    parameter ``θ`` the numeric gradient is
    ``(L(θ + ε) − L(θ − ε)) / 2ε`` of the batch-mean loss.

    Parameters
    ----------
    net : Network
    X, Y : array-like
        A (small) batch.
    epsilon : float
        Perturbation.
    max_checks : int, optional
        Check at most this many randomly chosen entries per weight matrix
        (all entries by default; every bias entry is always checked).
    seed : int
        Seeds the choice of entries when ``max_checks`` is set.

    Returns
    -------
    GradientCheck
        Largest relative error per layer; ``print`` it for a table.  The
        relative error of an entry is ``|a − n| / max(|a|, |n|, floor)`` with
        ``floor = max(1e-3 · (largest |gradient| of the layer), 1e-8)``, so
        that round-off on negligible entries does not read as an error.
    """
    from ._validation import check_int, check_real
    from .network import Network

    if not isinstance(net, Network):
        raise TypeError(f"net must be a fastbp Network, got {type(net).__name__}")
    epsilon = check_real(epsilon, "epsilon", low=0.0, low_open=True)
    max_checks = check_int(max_checks, "max_checks", 1, allow_none=True)
    seed = check_int(seed, "seed", 0)
    twin = Network(net.sizes, activation=net.activations, output=net.output, loss=net.loss_name,
                   dtype=np.float64, bias=net.bias, weights=net.weights,
                   biases=net.biases if net.bias else None, leaky_slope=net.leaky_slope)
    X2, Y2 = twin._check_data(X, Y)
    analytic = twin.gradients(X2, Y2)
    rng = np.random.default_rng(seed)
    P = twin.parameters

    def numeric(index):
        saved = P[index]
        P[index] = saved + epsilon
        up = twin._forward_pass(X2, Y2)[1]
        P[index] = saved - epsilon
        down = twin._forward_pass(X2, Y2)[1]
        P[index] = saved
        return (up - down) / (2 * epsilon)

    layers = []
    for l, grad in enumerate(analytic):
        offset = int(twin._layers[l, W_OFF])
        dW = grad.dW.ravel()
        idx = np.arange(dW.size)
        if max_checks is not None and dW.size > max_checks:
            idx = rng.choice(dW.size, size=max_checks, replace=False)
        scale = np.abs(dW).max() if grad.db is None else max(np.abs(dW).max(), np.abs(grad.db).max())
        floor = max(RELATIVE_FLOOR * scale, ABSOLUTE_FLOOR)
        w_err = max((_relative(dW[i], numeric(offset + i), floor) for i in idx), default=0.0)
        b_err = None
        if grad.db is not None:
            b_offset = int(twin._layers[l, B_OFF])
            b_err = max((_relative(grad.db[j], numeric(b_offset + j), floor) for j in range(grad.db.size)),
                        default=0.0)
        layers.append({"weights": w_err, "bias": b_err, "checked": int(idx.size + (0 if grad.db is None else grad.db.size))})
    return GradientCheck(layers)


def _relative(exact, approx, floor):
    return abs(exact - approx) / max(abs(exact), abs(approx), floor)
