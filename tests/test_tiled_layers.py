"""Big leading layers computed layer by layer in 2-D tiles (parallel.tiled_layers).

The tiled step only runs with ``TILE_MIN_THREADS`` threads or more; these
tests lower the thresholds so that it runs on a 2-core machine, on small
shapes.  The bit-identity over thread counts and processes with the real
thresholds (``NUMBA_NUM_THREADS=4``) is in test_reproducibility.
"""
import numba
import numpy as np
import pytest

import fastbp
from fastbp import parallel
from fastbp.epoch import tile_bounds, tile_rows
from fastbp.layout import build_layer_table

SIZES = [24, 40, 36, 5]  # layers 0 and 1 tiled (960 and 1440 weights), never the output layer


def lower_tile_thresholds(monkeypatch, capacity=40):
    """Plan tiles from 2 threads on and for SIZES' two hidden layers (networks made from now on)."""
    if parallel.max_threads() < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    monkeypatch.setattr(parallel, "TILE_MIN_THREADS", 2)
    monkeypatch.setattr(parallel, "TILE_MIN_WEIGHTS", 900)
    monkeypatch.setattr(parallel, "TILE_MIN_ROWS", 16)
    layers, _ = build_layer_table(SIZES, [3, 3, 5], True)
    assert parallel.row_plan(layers, capacity)[5] == 2


@pytest.fixture
def tiles_on_two_threads(monkeypatch):
    lower_tile_thresholds(monkeypatch)


@numba.njit
def _grid(rows, columns, tiles, b, n, bounds):
    """tile_rows and tile_bounds are in-kernel functions (no Python wrapper): call them from here."""
    tr = tile_rows(rows, columns, tiles)
    for t in range(tiles):
        bounds[t, 0], bounds[t, 1], bounds[t, 2], bounds[t, 3] = tile_bounds(t, tr, tiles, b, n)
    return tr


def grid(rows, columns, tiles, b=None, n=None):
    bounds = np.zeros((tiles, 4), np.int64)
    tr = _grid(rows, columns, tiles, rows if b is None else b, columns if n is None else n, bounds)
    return tr, bounds


@pytest.mark.parametrize("b,n,tiles", [(256, 1024, 16), (50, 7, 4), (16, 40, 2), (3, 1000, 8), (5, 3, 8),
                                       (0, 10, 4), (1, 1, 1)])
def test_tiles_cover_the_product_once(b, n, tiles):
    count = np.zeros((b, n), np.int64)
    tr, bounds = grid(b, n, tiles)
    assert tiles % tr == 0
    for r0, r1, j0, j1 in bounds:
        assert 0 <= r0 <= r1 <= b and 0 <= j0 <= j1 <= n
        count[r0:r1, j0:j1] += 1
    assert (count == 1).all()


@pytest.mark.parametrize("rows,columns,tiles,expected", [
    (256, 1024, 16, 2),   # 2 × 8 tiles read 128 + 128 rows; 1 × 16: 256 + 64; 4 × 4: 64 + 256
    (256, 1024, 8, 1),    # 1 × 8 and 2 × 4 tie at 384: the fewer tile rows
    (4, 1024, 16, 1),     # a short batch: split W only
    (1000, 10, 16, 16),   # a narrow layer: split the batch only
    (256, 1024, 1, 1),
])
def test_tile_grid_reads_the_fewest_operand_rows(rows, columns, tiles, expected):
    assert grid(rows, columns, tiles)[0] == expected


def test_only_big_leading_hidden_layers_are_tiled(monkeypatch):
    monkeypatch.setattr(parallel, "max_threads", lambda: 8)
    big, _ = build_layer_table([784, 1024, 1024, 10], [3, 3, 5], True)
    assert parallel.tiled_layers(big, 256) == 2  # never the output layer
    assert parallel.row_plan(big, 256)[5] == 2
    assert parallel.tiled_layers(big, parallel.TILE_MIN_ROWS - 1) == 0  # too few rows
    mnist, _ = build_layer_table([784, 128, 10], [3, 5], True)
    assert parallel.tiled_layers(mnist, 256) == 0  # 100k weights: row chunks
    funnel, _ = build_layer_table([784, 1024, 64, 1024, 10], [3, 3, 3, 5], True)
    assert parallel.tiled_layers(funnel, 256) == 1  # a leading prefix only
    monkeypatch.setattr(parallel, "max_threads", lambda: parallel.TILE_MIN_THREADS - 1)
    assert parallel.tiled_layers(big, 256) == 0  # not on few threads: the 2-core machine is unchanged


def _train(sizes, activation, dtype, optimizer, n_threads=None, seed=5):
    rng = np.random.default_rng(11)
    X = rng.normal(size=(150, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], size=150)
    net = fastbp.Network(sizes, activation=activation, output="softmax", loss="cross_entropy", dtype=dtype,
                         seed=seed)
    # batch 40: three full batches and a last one of 30 rows, tiles of unequal rows
    history = net.fit(X, y, epochs=2, batch_size=40, optimizer=optimizer, n_threads=n_threads, shuffle=True)
    return net.parameters.copy(), np.array(history.loss)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "leaky_relu"])
def test_tiled_step_trains_like_row_chunks(dtype, activation, monkeypatch):
    make = (lambda: fastbp.Adam(lr=1e-2)) if activation in ("relu", "tanh") else \
        (lambda: fastbp.SGD(lr=0.1, momentum=0.9))
    rows_params, rows_loss = _train(SIZES, activation, dtype, make())
    lower_tile_thresholds(monkeypatch)
    tiled_params, tiled_loss = _train(SIZES, activation, dtype, make())
    # Each element is the same dot product either way (BLAS sums k in the same
    # order); allow rounding all the same, it is not promised.
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(tiled_params, rows_params, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(tiled_loss, rows_loss, rtol=rtol)


def test_tiled_step_gives_the_same_bits_on_1_and_2_threads(tiles_on_two_threads):
    first, _ = _train(SIZES, "tanh", np.float32, fastbp.Adam(lr=1e-2), n_threads=1)
    second, _ = _train(SIZES, "tanh", np.float32, fastbp.Adam(lr=1e-2), n_threads=2)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "identity"])
def test_tiled_gradients_match_central_differences(activation, monkeypatch):
    rng = np.random.default_rng(3)
    net = fastbp.Network(SIZES, activation=activation, output="softmax", loss="cross_entropy",
                         dtype=np.float64, seed=2)
    X = 0.3 * rng.normal(size=(20, SIZES[0]))  # 20 rows: a batch of TILE_MIN_ROWS or more
    y = rng.integers(0, SIZES[-1], size=20)
    by_rows = net.gradients(X, y)
    lower_tile_thresholds(monkeypatch, capacity=20)
    net = fastbp.Network(SIZES, activation=activation, output="softmax", loss="cross_entropy",
                         dtype=np.float64, seed=2)  # a new workspace, planned with the lowered thresholds
    for tiled, rows in zip(net.gradients(X, y), by_rows):
        for g_tiled, g_rows in zip(tiled, rows):
            np.testing.assert_allclose(g_tiled, g_rows, rtol=1e-10, atol=1e-14)
    result = fastbp.gradcheck(net, X, y, max_checks=300)
    # Central differences at ε = 1e-6 on this 3-layer net: the row chunks read
    # the same errors, up to 2.7e-5 (sigmoid: small gradients of layer 1).
    assert result.max_error < 1e-4, result
