"""Small real datasets bundled with fastbp (no download needed)."""
from importlib import resources

import numpy as np


def load_digits(dtype=np.float32, test_fraction=0.25, seed=0):
    """The UCI handwritten digits (1797 8x8 images, 10 classes), split.

    Pixels (0..16) are scaled to [0, 1].  The split is stratified-free but
    seeded, so it is the same on every machine.

    Parameters
    ----------
    dtype : numpy float type
    test_fraction : float in (0, 1)
    seed : int

    Returns
    -------
    X_train : ndarray, shape (n_train, 64), dtype
    y_train : ndarray, shape (n_train,), int64
    X_test : ndarray, shape (n_test, 64), dtype
    y_test : ndarray, shape (n_test,), int64
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    with resources.files("fastbp").joinpath("data/digits.npz").open("rb") as f:
        data = np.load(f, allow_pickle=False)
        images, labels = data["images"], data["labels"]
    X = (images / 16.0).astype(dtype)
    y = labels.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    n_test = int(round(len(y) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return X[train], y[train], X[test], y[test]
