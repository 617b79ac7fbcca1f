"""The demo: train a 64-128-10 network on the bundled digits and report.

Run it with ``python -m fastbp demo`` (or ``python -m fastbp.demo``).
"""
import time

import numpy as np

from .datasets import load_digits
from .network import Network
from .optimizers import Adam


def run(epochs=20, batch_size=32, hidden=128, n_threads=None, seed=0, out=print):
    """Train on digits; print loss per epoch, accuracy and samples/s.

    Returns
    -------
    dict
        ``accuracy`` (test), ``history`` (History), ``samples_per_s``.
    """
    X_train, y_train, X_test, y_test = load_digits(np.float32, seed=seed)
    net = Network([64, hidden, 10], activation="relu", output="softmax", loss="cross_entropy",
                  dtype=np.float32, seed=seed)
    out(f"fastbp demo: {net!r}")
    out(f"data: UCI digits, {len(y_train)} training and {len(y_test)} test samples")
    start = time.perf_counter()
    optimizer = Adam(lr=1e-3)
    history = None
    per_epoch = []
    for epoch in range(1, epochs + 1):
        t0 = time.perf_counter()
        history = net.fit(X_train, y_train, epochs=1, batch_size=batch_size, optimizer=optimizer,
                          n_threads=n_threads)
        dt = time.perf_counter() - t0
        per_epoch.append(dt)
        out(f"epoch {epoch:3d}  loss {history.loss[-1]:.4f}  {len(y_train) / dt:12,.0f} samples/s")
    total = time.perf_counter() - start
    accuracy = net.accuracy(X_test, y_test)
    steady = len(y_train) / float(np.median(per_epoch[1:] or per_epoch))
    out(f"test accuracy {accuracy:.4f}   median {steady:,.0f} samples/s "
        f"(first epoch, compile included: {per_epoch[0]:.2f} s; total {total:.2f} s)")
    return {"accuracy": accuracy, "samples_per_s": steady, "net": net}


if __name__ == "__main__":
    run()
